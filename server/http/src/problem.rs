//! One error type for every handler, rendered as RFC 9457 problem details.
//! Status codes are chosen here, once, never ad hoc in handlers.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use essp_domain::{FieldError, ValidationError};
use essp_store::StoreError;
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: a header, query parameter, path or body
    /// the server cannot use. `code` is a stable machine-readable slug.
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// One or more fields failed validation.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// No valid credentials (missing, malformed, expired, forged token).
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials that do not allow this action or scope.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state (illegal transition,
    /// lost compare-and-set race, duplicate).
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// `If-Match` did not match the current version.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    /// Well-formed input that cannot be applied to the current data (a
    /// reference to nothing, a clash), with every offending field.
    #[error("{detail}")]
    Rejected {
        code: &'static str,
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A service we depend on (an SSOT) failed or answered nonsense.
    #[error("upstream service failed: {0}")]
    Upstream(String),
    /// A dependency (the database) is down; safe to retry.
    #[error("service temporarily unavailable")]
    Unavailable,
    /// A bug or an unexpected dependency failure. The cause is logged with
    /// the request id and never sent to the client.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(ValidationError::single(field, message))
    }

    /// The body names something that does not exist (a 422: the request is
    /// well-formed, but one of its references does not resolve).
    pub fn unknown_reference(code: &'static str, field: &str, message: &str, detail: String) -> Self {
        ApiError::Rejected {
            code,
            detail,
            errors: vec![essp_domain::FieldError {
                field: field.into(),
                message: message.into(),
            }],
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Unprocessable { .. } | ApiError::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::Rejected { code, .. } => code,
            ApiError::Validation(_) => "validation-failed",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::PreconditionFailed(_) => "version-mismatch",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Upstream(_) => "upstream-failed",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// Storage errors reaching a handler: conflicts are the client's, outages
/// are retryable, the rest are ours.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UniqueViolation { .. } => {
                ApiError::conflict("duplicate", "a record with this identity already exists")
            }
            StoreError::Busy(_) => ApiError::conflict("busy", "the record is being changed by another request; retry"),
            StoreError::InvalidValue(_) => {
                ApiError::bad_request("invalid-text", "text must not contain NUL characters")
            }
            StoreError::Unavailable(msg) => {
                tracing::error!(error = %msg, "database unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// An RFC 9457 problem document; every error has this shape.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'a str,
    pub status: u16,
    pub detail: String,
    /// A stable machine-readable slug (`validation-failed`, `invalid-transition` …).
    pub code: &'a str,
    /// Every offending field, for validation failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<&'a [FieldError]>,
}

/// Renders a problem document with the given status and details.
pub fn problem_response(status: StatusCode, code: &str, detail: String, errors: Option<&[FieldError]>) -> Response {
    let body = Problem {
        kind: format!("https://essp.dev/problems/{code}"),
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail,
        code,
        errors,
    };
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                "the server failed to handle this request; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        let errors = match &self {
            ApiError::Validation(v) => Some(v.0.as_slice()),
            ApiError::Rejected { errors, .. } => Some(errors.as_slice()),
            _ => None,
        };
        problem_response(status, self.code(), detail, errors)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
