//! Extractors that turn every client mistake into a problem response.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;
use crate::state::AppState;

/// A JSON body, plus the raw bytes (for idempotency hashing).
pub struct ApiJson<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected Content-Type: application/json, got {:?}",
                if content_type.is_empty() { "none" } else { content_type }
            )));
        }
        let raw = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_) => ApiError::PayloadTooLarge {
                limit: state.config.body_limit_bytes,
            },
            other => ApiError::bad_request("unreadable-body", other.body_text()),
        })?;
        // Every body of this API is a JSON object; serde would also read a
        // struct from an array (`[null, null]`), which no client means.
        let starts_like_object = raw.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if !starts_like_object {
            return Err(ApiError::bad_request(
                "invalid-body",
                "request body must be a JSON object",
            ));
        }
        let value = serde_json::from_slice(&raw).map_err(|e| {
            let code = if e.is_data() { "invalid-body" } else { "malformed-json" };
            ApiError::bad_request(code, format!("request body: {e}"))
        })?;
        Ok(ApiJson { value, raw })
    }
}

/// Query parameters; unknown or malformed ones are a 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // A NUL is never text: Postgres cannot store it and SQLite would,
        // so refuse it here and both engines answer alike.
        let query = parts.uri.query().unwrap_or_default();
        if query.contains("%00") {
            return Err(ApiError::bad_request(
                "invalid-text",
                "query text must not contain NUL characters",
            ));
        }
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::bad_request("invalid-query", e.body_text()))
    }
}
