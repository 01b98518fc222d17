//! Rate limits with `tower_governor`: a read budget for GET/HEAD and a
//! separate write budget for everything else, each request counted once,
//! keyed by token subject (or client IP when anonymous).

use std::sync::Arc;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, governor::GovernorConfig};

use crate::problem::problem_response;

/// The key a request's budget is counted against, set by authentication.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateKey(pub String);

#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub read_per_minute: u32,
    pub write_per_minute: u32,
    pub burst: u32,
}

#[derive(Clone)]
pub struct ByRateKey;

impl KeyExtractor for ByRateKey {
    type Key = String;

    fn extract<T>(&self, req: &axum::http::Request<T>) -> Result<String, GovernorError> {
        req.extensions()
            .get::<RateKey>()
            .map(|k| k.0.clone())
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

type Config = GovernorConfig<ByRateKey, governor::middleware::StateInformationMiddleware>;

fn config(per_minute: u32, burst: u32, methods: Vec<Method>) -> Option<Arc<Config>> {
    // One token every 60 s / rpm, up to `burst` at once.
    let period_ms = (60_000 / u64::from(per_minute.max(1))).max(1);
    GovernorConfigBuilder::default()
        .per_millisecond(period_ms)
        .burst_size(burst.max(1))
        .methods(methods)
        .key_extractor(ByRateKey)
        .use_headers()
        .finish()
        .map(Arc::new)
}

fn too_many(e: GovernorError) -> Response {
    match e {
        GovernorError::TooManyRequests { wait_time, headers } => {
            let mut resp = problem_response(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                format!("too many requests; retry in {} s", wait_time.max(1)),
                None,
            );
            if let Some(h) = headers {
                resp.headers_mut().extend(h);
            }
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait_time.max(1)));
            resp
        }
        other => {
            tracing::error!(error = %other, "rate limiter failed");
            problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "rate limiter failed".into(),
                None,
            )
        }
    }
    .into_response()
}

pub type Layer = GovernorLayer<ByRateKey, governor::middleware::StateInformationMiddleware, axum::body::Body>;

/// The read and write layers (in that order), or nothing when disabled.
pub fn layers(limits: &RateLimits) -> Option<(Layer, Layer, [Arc<Config>; 2])> {
    let read = config(limits.read_per_minute, limits.burst, vec![Method::GET, Method::HEAD])?;
    let write = config(
        limits.write_per_minute,
        limits.burst.div_ceil(2),
        vec![Method::POST, Method::PUT, Method::PATCH, Method::DELETE],
    )?;
    let layer = |c: &Arc<Config>| GovernorLayer::new(c.clone()).error_handler(too_many);
    Some((layer(&read), layer(&write), [read, write]))
}

/// The stricter tier for bulk and import routes: a tenth of the write
/// budget (at least 1 a minute), burst 2.
pub fn bulk_layer(limits: &RateLimits) -> Option<(Layer, Arc<Config>)> {
    let c = config(
        (limits.write_per_minute / 10).max(1),
        2,
        vec![Method::POST, Method::PUT, Method::PATCH],
    )?;
    Some((GovernorLayer::new(c.clone()).error_handler(too_many), c))
}

/// Forgets idle keys now and then so the limiter's memory stays bounded.
pub fn spawn_cleanup(configs: Vec<Arc<Config>>) {
    let weak: Vec<_> = configs.iter().map(Arc::downgrade).collect();
    drop(configs);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            let mut alive = false;
            for w in &weak {
                if let Some(c) = w.upgrade() {
                    c.limiter().retain_recent();
                    alive = true;
                }
            }
            if !alive {
                return;
            }
        }
    });
}
