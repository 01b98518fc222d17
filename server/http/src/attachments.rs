//! `/v1/attachments`: photo and document evidence. Content streams through
//! the API into object storage (local files on an edge, S3/MinIO centrally)
//! with its size and SHA-256 measured on the way; storage keys come only
//! from server-generated ids, so no client string can reach outside the
//! tenant's prefix.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use essp_blobs::BlobError;
use essp_domain::attachment::{AttachedTo, Attachment, parse_content_type, parse_file_name};
use essp_domain::error::Validator;
use essp_domain::{Id, Scope};
use essp_store::{attachments, incidents, work_orders};
use serde::{Deserialize, Serialize};

use crate::auth::Authorized;
use crate::auth::permissions::{AttachmentCreate, AttachmentRead};
use crate::extract::ApiQuery;
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    entity_type: Option<String>,
    entity_id: Option<String>,
    file_name: Option<String>,
}

fn target(v: &mut Validator, t: &Target) -> Option<(AttachedTo, Id)> {
    let kind = v.check(
        "entityType",
        t.entity_type
            .as_deref()
            .ok_or_else(|| "is required".to_owned())
            .and_then(|k| k.parse::<AttachedTo>()),
    );
    let prefix = match kind {
        Some(AttachedTo::WorkOrder) => "wo",
        Some(AttachedTo::Survey) => "survey",
        _ => essp_domain::id::prefix::INCIDENT,
    };
    let id = v.check(
        "entityId",
        t.entity_id
            .as_deref()
            .ok_or_else(|| "is required".to_owned())
            .and_then(|i| Id::parse(prefix, i).map_err(|e| e.to_string())),
    );
    Some((kind?, id?))
}

/// The attachment's owner must exist in the caller's school.
async fn require_entity(state: &AppState, scope: &Scope, kind: AttachedTo, id: &Id) -> ApiResult<()> {
    let exists = match kind {
        AttachedTo::Incident => incidents::get(state.db.as_ref(), scope, id).await?.is_some(),
        AttachedTo::WorkOrder => work_orders::get(state.db.as_ref(), scope, id).await?.is_some(),
        AttachedTo::Survey => essp_store::surveys::get_survey(state.db.as_ref(), scope, id.as_str())
            .await?
            .is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(ApiError::Unprocessable {
            code: "unknown-entity",
            detail: format!("{kind} {id} does not exist in this school"),
        })
    }
}

fn blob_error(e: BlobError) -> ApiError {
    match e {
        BlobError::TooLarge { limit } => ApiError::PayloadTooLarge { limit: limit as usize },
        BlobError::Interrupted(m) => ApiError::bad_request("upload-interrupted", m),
        BlobError::NotFound => ApiError::NotFound("attachment content"),
        other => {
            tracing::error!(error = %other, "blob store failed");
            ApiError::Unavailable
        }
    }
}

/// `POST /v1/attachments?entityType=…&entityId=…&fileName=…` with the file
/// as the body and its type as `Content-Type`.
pub async fn upload(
    State(state): State<AppState>,
    auth: Authorized<AttachmentCreate>,
    ApiQuery(t): ApiQuery<Target>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let mut v = Validator::new();
    let owner = target(&mut v, &t);
    let file_name = v.check("fileName", parse_file_name(t.file_name.as_deref().unwrap_or("")));
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("");
    let content_type = match parse_content_type(content_type) {
        Ok(ct) => ct,
        Err(e) => return Err(ApiError::UnsupportedMediaType(format!("Content-Type {e}"))),
    };
    v.finish()?;
    let (Some((kind, entity_id)), Some(file_name)) = (owner, file_name) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let scope = auth.scope.clone();
    require_entity(&state, &scope, kind, &entity_id).await?;

    let id = Id::new("att");
    let key = Attachment::object_key(scope.tenant(), scope.school(), &id);
    let stored = state
        .blobs
        .put_stream(&key, body.into_data_stream(), state.config.attachment_max_bytes)
        .await
        .map_err(blob_error)?;
    let now = essp_domain::now();
    let attachment = Attachment {
        id,
        tenant_id: scope.tenant().to_owned(),
        school_id: scope.school().to_owned(),
        entity_type: kind,
        entity_id: entity_id.into_string(),
        file_name,
        content_type,
        size_bytes: stored.size as i64,
        sha256: stored.sha256,
        object_key: key,
        uploaded_by: auth.actor.subject.clone(),
        created_at: now,
    };
    let actor = auth.actor.clone();
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            attachments::insert(tx, &attachment).await?;
            let subj = Subject::in_scope(&scope, "attachment", attachment.id.as_str());
            recording::record(tx, &actor, subj, "upload", None, Some(&attachment), now).await?;
            Ok(attachment)
        })
    })
    .await?;
    metrics::counter!("attachments_uploaded_total").increment(1);
    let mut resp = (StatusCode::CREATED, Json(&saved)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/v1/attachments/{}", saved.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

async fn load(state: &AppState, scope: &Scope, raw: &str) -> ApiResult<Attachment> {
    let id = params::id("att", "attachment", raw)?;
    attachments::get(state.db.as_ref(), scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("attachment"))
}

pub async fn get(
    State(state): State<AppState>,
    auth: Authorized<AttachmentRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Attachment>> {
    Ok(Json(load(&state, &auth.scope, &id).await?))
}

#[derive(Serialize)]
pub struct Items {
    items: Vec<Attachment>,
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authorized<AttachmentRead>,
    ApiQuery(t): ApiQuery<Target>,
) -> ApiResult<Json<Items>> {
    let mut v = Validator::new();
    let owner = target(&mut v, &t);
    if t.file_name.is_some() {
        v.push("fileName", "is not a filter");
    }
    v.finish()?;
    let (kind, id) = owner.ok_or_else(|| ApiError::Internal("validated target missing".into()))?;
    Ok(Json(Items {
        items: attachments::list_for(state.db.as_ref(), &auth.scope, kind, id.as_str()).await?,
    }))
}

/// The content, streamed from object storage, always as a download.
pub async fn content(
    State(state): State<AppState>,
    auth: Authorized<AttachmentRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let a = load(&state, &auth.scope, &id).await?;
    let stream = state.blobs.get_stream(&a.object_key).await.map_err(blob_error)?;
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    if let Ok(ct) = HeaderValue::from_str(&a.content_type) {
        h.insert(header::CONTENT_TYPE, ct);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(a.size_bytes as u64));
    // The user-supplied name is percent-encoded (RFC 6266), never raw.
    let encoded: String = a
        .file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if let Ok(cd) = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{encoded}")) {
        h.insert(header::CONTENT_DISPOSITION, cd);
    }
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", a.sha256)) {
        h.insert(header::ETAG, etag);
    }
    Ok(resp)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadUrl {
    url: String,
    expires_in_s: u64,
}

/// A link to fetch the content: presigned straight to S3/MinIO when
/// configured, otherwise the API's own content route.
pub async fn download_url(
    State(state): State<AppState>,
    auth: Authorized<AttachmentRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<DownloadUrl>> {
    let a = load(&state, &auth.scope, &id).await?;
    let expiry = state.config.presign_expiry;
    match state
        .blobs
        .presigned_get(&a.object_key, expiry)
        .await
        .map_err(blob_error)?
    {
        Some(url) => Ok(Json(DownloadUrl {
            url,
            expires_in_s: expiry.as_secs(),
        })),
        None => Ok(Json(DownloadUrl {
            url: format!("/v1/attachments/{}/content", a.id),
            expires_in_s: 0,
        })),
    }
}
