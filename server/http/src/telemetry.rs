//! Request ids and Prometheus metrics, labelled by route template (never the
//! raw URL, which would make cardinality unbounded).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, available to handlers and logs.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Accepts a sane client `X-Request-ID` (so a school's proxy can correlate)
/// or mints one, and echoes it on the response.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| ulid::Ulid::new().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut resp = tracing::Instrument::instrument(next.run(req), span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    resp
}

/// Counts and times every routed request (`route_layer`, so the matched
/// template is known).
pub async fn track(req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = req.method().as_str().to_owned();
    let in_flight = metrics::gauge!("http_requests_in_flight");
    in_flight.increment(1.0);
    let started = Instant::now();
    let resp = next.run(req).await;
    in_flight.decrement(1.0);
    record(&method, &path, resp.status().as_u16(), started);
    resp
}

pub fn record(method: &str, path: &str, status: u16, started: Instant) {
    let (method, path) = (method.to_owned(), path.to_owned());
    metrics::histogram!("http_request_duration_seconds", "method" => method.clone(), "path" => path.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("http_requests_total", "method" => method, "path" => path, "status" => status.to_string())
        .increment(1);
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics_endpoint(State(state): State<AppState>) -> Response {
    metrics::gauge!("db_connections_active").set(state.db.connections_active() as f64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
