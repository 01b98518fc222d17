//! Browser-facing protections: CORS from configuration and security headers
//! on every response.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::client::ClientContext;

/// CORS for the configured origins; `None` (no CORS headers at all, i.e.
/// same-origin only) when disabled or empty. `*` never goes with credentials.
pub fn cors(origins: &[String], tenant_header: &str, school_header: &str) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let mut allow_headers = vec![
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::IF_MATCH,
        HeaderName::from_static("idempotency-key"),
        HeaderName::from_static("x-request-id"),
    ];
    allow_headers.extend(
        [tenant_header, school_header]
            .iter()
            .filter_map(|h| HeaderName::try_from(*h).ok()),
    );
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(allow_headers)
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-after"),
        ])
        .max_age(std::time::Duration::from_secs(300));
    if origins.iter().any(|o| o == "*") {
        return Some(layer.allow_origin(AllowOrigin::any()));
    }
    let list: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    Some(layer.allow_origin(list).allow_credentials(true))
}

/// nosniff, no framing, no referrer, a locked-down CSP for API responses,
/// and HSTS when the client reached us over TLS.
pub async fn headers(req: Request, next: Next) -> Response {
    let https = req.extensions().get::<ClientContext>().is_some_and(|c| c.https);
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}
