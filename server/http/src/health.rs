//! Liveness and readiness, exactly as the runbook's probes expect.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::{AppState, Readiness};

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health` (and `/healthz`): the process is alive.
pub async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: every required dependency answers. Checks run
/// concurrently, each bounded by a timeout, so a hung dependency cannot hang
/// the probe.
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.db.clone();
    let database = async move {
        match tokio::time::timeout(CHECK_TIMEOUT, db.ping()).await {
            Ok(Ok(())) => ("database", Ok(true)),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: database failed");
                ("database", Err("unreachable".to_owned()))
            }
            Err(_) => ("database", Err("timeout".to_owned())),
        }
    };
    let others = state.readiness.iter().map(|(name, r)| async move {
        let outcome = match r {
            Readiness::Disabled => return (*name, Ok(false), false),
            Readiness::Required(c) | Readiness::Optional(c) => {
                match tokio::time::timeout(CHECK_TIMEOUT, c.check()).await {
                    Ok(res) => res,
                    Err(_) => Err("timeout".to_owned()),
                }
            }
        };
        (*name, outcome.map(|()| true), matches!(r, Readiness::Required(_)))
    });
    let (db_result, other_results) = tokio::join!(database, futures::future::join_all(others));

    let mut checks = BTreeMap::new();
    let mut ready = true;
    let (name, result) = db_result;
    match result {
        Ok(_) => checks.insert(name, "ok".to_owned()),
        Err(reason) => {
            ready = false;
            checks.insert(name, format!("failed: {reason}"))
        }
    };
    for (name, result, required) in other_results {
        let text = match result {
            Ok(true) => "ok".to_owned(),
            Ok(false) => "disabled".to_owned(),
            Err(reason) if required => {
                ready = false;
                format!("failed: {reason}")
            }
            Err(reason) => format!("degraded: {reason}"),
        };
        checks.insert(name, text);
    }
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    (status, Json(json!({"status": word, "checks": checks})))
}
