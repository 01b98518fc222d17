//! `Idempotency-Key` on POST: the first response is stored in the same
//! transaction as the write it describes, and a retry with the same key and
//! the same request gets that response back. The same key with a different
//! request is refused (422), never answered with the wrong result.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use essp_store::idempotency::{self, StoredResponse};
use essp_store::{Executor, StoreError};
use sha2::{Digest, Sha256};

use crate::problem::ApiError;
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";

/// The client's idempotency key, when it sent one.
pub struct IdempotencyKey(pub Option<String>);

impl FromRequestParts<AppState> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let Some(v) = parts.headers.get(HEADER) else {
            return Ok(IdempotencyKey(None));
        };
        let key = v.to_str().unwrap_or_default().trim();
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::bad_request(
                "invalid-idempotency-key",
                "Idempotency-Key must be 1-255 visible ASCII characters",
            ));
        }
        Ok(IdempotencyKey(Some(key.to_owned())))
    }
}

/// A fingerprint of what was asked: route plus exact body bytes.
pub fn request_hash(route: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update([0]);
    h.update(body);
    format!("{:x}", h.finalize())
}

/// A created resource, ready to be answered (and remembered).
pub struct Created {
    pub location: String,
    pub body: String,
    pub etag: Option<String>,
}

impl Created {
    /// The entity as the JSON body, with its `Location` and version ETag.
    pub fn json<T: serde::Serialize>(entity: &T, location: String, version: i64) -> Result<Created, ApiError> {
        let body = serde_json::to_string(entity).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Created {
            location,
            body,
            etag: Some(crate::params::etag(version)),
        })
    }

    pub fn into_stored(self, request_hash: String) -> StoredResponse {
        StoredResponse {
            request_hash,
            status: 201,
            location: Some(self.location),
            body: self.body,
        }
    }
}

pub fn replay(stored: StoredResponse, hash: &str) -> Result<Response, ApiError> {
    if stored.request_hash != hash {
        return Err(ApiError::Unprocessable {
            code: "idempotency-key-reused",
            detail: "this Idempotency-Key was already used for a different request".into(),
        });
    }
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, [(header::CONTENT_TYPE, "application/json")], stored.body).into_response();
    if let Some(loc) = stored.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(resp)
}

pub fn respond(created: &Created) -> Response {
    let mut resp = (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        created.body.clone(),
    )
        .into_response();
    if let Ok(loc) = HeaderValue::from_str(&created.location) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    if let Some(etag) = created.etag.as_deref().and_then(|e| HeaderValue::from_str(e).ok()) {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    resp
}

/// Runs a create: replays a known key, otherwise calls `write` inside a
/// transaction and stores the response with it. Two racing requests with
/// one key: the loser's transaction rolls back and it replays the winner's.
/// `metric` counts real creations, never replays.
pub async fn create<W>(
    state: &AppState,
    tenant: &str,
    key: &IdempotencyKey,
    hash: String,
    metric: &'static str,
    write: W,
) -> Result<Response, ApiError>
where
    W: for<'a> FnOnce(&'a dyn Executor) -> futures::future::BoxFuture<'a, Result<Created, ApiError>>,
{
    if let Some(k) = &key.0
        && let Some(stored) = idempotency::find(state.db.as_ref(), tenant, k).await?
    {
        return replay(stored, &hash);
    }
    let (stored_hash, owner, stored_key) = (hash.clone(), tenant.to_owned(), key.0.clone());
    let outcome = state
        .writes
        .run(move |tx| {
            let written = write(tx);
            Box::pin(async move {
                let created = written.await.map_err(CreateError::Api)?;
                let response = respond(&created);
                if let Some(k) = &stored_key {
                    let stored = created.into_stored(stored_hash);
                    match idempotency::insert(tx, &owner, k, &stored, essp_domain::now()).await {
                        Ok(()) => {}
                        Err(StoreError::UniqueViolation { .. }) => return Err(CreateError::KeyTaken),
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(response)
            })
        })
        .await;
    match outcome {
        Ok(response) => {
            metrics::counter!(metric).increment(1);
            Ok(response)
        }
        Err(CreateError::Api(e)) => Err(e),
        // Two racing requests with one key: this one's writes were undone;
        // it answers with the winner's response.
        Err(CreateError::KeyTaken) => {
            let k = key.0.as_deref().unwrap_or_default();
            match idempotency::find(state.db.as_ref(), tenant, k).await? {
                Some(stored) => replay(stored, &hash),
                None => Err(ApiError::conflict(
                    "busy",
                    "a request with this Idempotency-Key is in progress",
                )),
            }
        }
    }
}

/// Why a create's transaction did not commit.
enum CreateError {
    Api(ApiError),
    /// Another request stored a response under the same key first.
    KeyTaken,
}

impl From<StoreError> for CreateError {
    fn from(e: StoreError) -> Self {
        CreateError::Api(e.into())
    }
}
