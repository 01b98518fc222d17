//! Request pieces every resource parses the same way: ids, list paging,
//! timestamps, `If-Match` and ETags.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use essp_domain::Id;
use essp_domain::error::Validator;
use essp_store::cursor::Cursor;
use serde::Serialize;

use crate::problem::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// A path id with the expected prefix (`inc_…`, `wo_…`).
pub fn id(prefix: &'static str, what: &str, raw: &str) -> ApiResult<Id> {
    Id::parse(prefix, raw).map_err(|e| ApiError::bad_request("invalid-id", format!("{what} id {e}")))
}

/// `limit`: 1–200, default 50.
pub fn limit(v: &mut Validator, raw: Option<&str>) -> u32 {
    limit_within(v, raw, DEFAULT_LIMIT, MAX_LIMIT)
}

/// `limit` for lists with their own page sizes (change feeds page larger).
pub fn limit_within(v: &mut Validator, raw: Option<&str>, default: u32, max: u32) -> u32 {
    match raw {
        None | Some("") => default,
        Some(s) => v
            .check(
                "limit",
                s.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or(format!("must be a whole number from 1 to {max}")),
            )
            .unwrap_or(default),
    }
}

pub fn cursor(v: &mut Validator, raw: Option<&str>) -> Option<Cursor> {
    raw.filter(|c| !c.is_empty())
        .and_then(|c| v.check("cursor", Cursor::decode(c)))
}

pub fn timestamp(v: &mut Validator, field: &str, raw: Option<&str>) -> Option<DateTime<Utc>> {
    raw.and_then(|s| {
        v.check(
            field,
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| "must be an RFC 3339 timestamp"),
        )
    })
}

/// A non-empty, trimmed filter value.
pub fn filter_text(raw: &Option<String>) -> Option<String> {
    raw.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `If-Match: "<version>"` (or `*`). Absent means "whatever is current".
pub fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = raw.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::bad_request("invalid-if-match", "If-Match must be an ETag returned by this API"))
}

/// 412 when the client edited a version that is no longer current.
pub fn check_version(expected: Option<i64>, current: i64, what: &str) -> ApiResult<()> {
    match expected {
        Some(want) if want != current => Err(ApiError::PreconditionFailed(format!(
            "{what} is at version {current}, not {want}; reload and retry"
        ))),
        _ => Ok(()),
    }
}

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// A JSON body with the entity's version as its ETag.
pub fn with_etag<T: Serialize>(value: &T, version: i64) -> Response {
    let mut resp = Json(value).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

pub fn to_json<T: Serialize>(value: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.to_string()))
}
