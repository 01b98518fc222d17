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

/// A text filter (`q`, `deviceId`…): trimmed, checked like any text
/// field; empty means no filter.
pub fn text_filter(v: &mut Validator, field: &str, raw: Option<&str>, max_chars: usize) -> Option<String> {
    v.check(field, essp_domain::error::optional_text(raw, max_chars))
        .filter(|t| !t.is_empty())
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
    // An entity tag is quoted (RFC 9110 §8.8.3); the bare version number is
    // accepted too, as people type it by hand. Half-quoted is neither.
    let tag = text.strip_prefix("W/").unwrap_or(text);
    let version = match tag.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"'),
        None => Some(tag),
    };
    version
        .filter(|v| !v.is_empty() && v.len() <= 18 && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("invalid-if-match", "If-Match must be an ETag returned by this API"))
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

/// `201 Created` with the new resource as JSON and its `Location`.
pub fn created<T: Serialize>(value: &T, location: &str) -> Response {
    let mut resp = (axum::http::StatusCode::CREATED, Json(value)).into_response();
    if let Ok(loc) = axum::http::HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
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

/// For fields of a partial update (PATCH): absent means "leave as is", and
/// an explicit `null` is refused rather than read as absent or as "clear".
/// Use with `#[serde(default, deserialize_with = "params::no_null")]`.
pub fn no_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize as _;
    use serde::de::Error as _;
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(D::Error::custom(
            "null is not a value here; leave the field out to keep it",
        )),
    }
}

/// For integer body fields: a whole number as JSON Schema's `integer`
/// reads it, so `5.0` is `5`; a fraction or a string is refused.
/// Use with `#[serde(default, deserialize_with = "params::whole_number")]`.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::Deserialize as _;
    use serde::de::Error as _;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    essp_domain::error::whole_number(&n)
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("{n} is not a whole number within 64 bits")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Qty {
        #[serde(default, deserialize_with = "super::whole_number")]
        qty: Option<i64>,
    }

    fn qty(json: &str) -> Result<Option<i64>, serde_json::Error> {
        serde_json::from_str::<Qty>(json).map(|q| q.qty)
    }

    #[test]
    fn whole_numbers_as_json_schema_counts_them() {
        assert_eq!(qty(r#"{"qty": 5}"#).unwrap(), Some(5));
        assert_eq!(qty(r#"{"qty": 5.0}"#).unwrap(), Some(5));
        assert_eq!(qty(r#"{"qty": -2}"#).unwrap(), Some(-2));
        assert_eq!(qty(r#"{"qty": null}"#).unwrap(), None);
        assert_eq!(qty("{}").unwrap(), None);
        for bad in [
            r#"{"qty": 5.5}"#,
            r#"{"qty": 1e30}"#,
            r#"{"qty": 18446744073709551615}"#,
            r#"{"qty": "5"}"#,
        ] {
            assert!(qty(bad).is_err(), "{bad}");
        }
    }
}
