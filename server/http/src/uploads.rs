//! Presigned uploads (S3/MinIO only): a phone on a slow link sends a large
//! photo straight to object storage instead of through the API.
//!
//! 1. `POST /v1/attachments/uploads?entityType=…&entityId=…&fileName=…`
//!    with the declared `contentType`, `sizeBytes` and `sha256` records a
//!    `pending` attachment and answers a time-limited PUT URL for a key
//!    built from server ids only.
//! 2. The client PUTs the bytes there.
//! 3. `POST /v1/attachments/{id}/confirm`: the server looks at the object
//!    (HEAD for the size, then reads it back for the SHA-256) and only then
//!    makes the attachment `available`. A missing object is 409; content
//!    that does not match what was declared is 422 and is deleted.
//!
//! Until confirmed, an attachment is never listed or served.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use essp_blobs::BlobError;
use essp_domain::attachment::{
    ALLOWED_CONTENT_TYPES, Attachment, AttachmentStatus, parse_content_type, parse_file_name,
};
use essp_domain::error::Validator;
use essp_domain::{Id, Scope};
use essp_store::attachments;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::attachments::{Target, blob_error, require_entity, target};
use crate::auth::permissions::AttachmentCreate;
use crate::auth::{Actor, Authorized};
use crate::extract::{ApiJson, ApiQuery};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, confirm))]
pub struct Doc;

/// What the client is about to upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadRequest {
    /// One of the accepted evidence types (photos, PDF, plain text).
    #[schema(schema_with = content_type_schema, required = true)]
    content_type: Option<String>,
    #[serde(default, deserialize_with = "params::whole_number")]
    #[schema(value_type = i64, required = true, minimum = 1)]
    size_bytes: Option<i64>,
    /// Hex SHA-256 of the content, checked before the attachment counts.
    #[schema(value_type = String, required = true, pattern = "^[0-9a-fA-F]{64}$")]
    sha256: Option<String>,
}

fn content_type_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ALLOWED_CONTENT_TYPES.iter().copied()))
        .into()
}

/// Where and how to upload, and the pending attachment.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    attachment: Attachment,
    /// PUT the content here, as is, before `expiresInS` seconds pass.
    upload_url: String,
    method: &'static str,
    expires_in_s: u64,
    /// Confirm here once uploaded.
    confirm_url: String,
}

struct Declared {
    content_type: String,
    size: u64,
    sha256: String,
}

fn declared(v: &mut Validator, body: &UploadRequest, max: u64) -> Option<Declared> {
    let content_type = v.check(
        "contentType",
        body.content_type
            .as_deref()
            .ok_or_else(|| "is required".to_owned())
            .and_then(parse_content_type),
    );
    let size = v.check(
        "sizeBytes",
        match body.size_bytes {
            None => Err("is required".to_owned()),
            Some(n) if n < 1 => Err("must be at least 1".to_owned()),
            Some(n) if n as u64 > max => Err(format!("must be at most {max} (ESSP_ATTACHMENT_MAX_BYTES)")),
            Some(n) => Ok(n as u64),
        },
    );
    let sha256 = v.check(
        "sha256",
        match body.sha256.as_deref() {
            Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(h.to_ascii_lowercase()),
            Some(_) => Err("must be 64 hexadecimal characters".to_owned()),
            None => Err("is required".to_owned()),
        },
    );
    Some(Declared {
        content_type: content_type?,
        size: size?,
        sha256: sha256?,
    })
}

/// `POST /v1/attachments/uploads`: a presigned upload URL for new evidence.
#[utoipa::path(post, path = "/v1/attachments/uploads", tag = "attachments",
    params(Target),
    request_body = UploadRequest,
    responses((status = 201, description = "Pending until confirmed", body = UploadTicket, headers(("Location" = String)))))]
pub async fn create(
    State(state): State<AppState>,
    auth: Authorized<AttachmentCreate>,
    ApiQuery(t): ApiQuery<Target>,
    body: ApiJson<UploadRequest>,
) -> ApiResult<Response> {
    let mut v = Validator::new();
    let owner = target(&mut v, &t);
    let file_name = v.check("fileName", parse_file_name(t.file_name.as_deref().unwrap_or("")));
    let declared = declared(&mut v, &body.value, state.config.attachment_max_bytes);
    v.finish()?;
    let (Some((kind, entity_id)), Some(file_name), Some(declared)) = (owner, file_name, declared) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let scope = auth.scope.clone();
    require_entity(&state, &scope, kind, &entity_id).await?;

    let id = Id::new("att");
    let key = Attachment::object_key(scope.tenant(), scope.school(), &id);
    let expiry = state.config.presign_expiry;
    let upload_url = state
        .blobs
        .presigned_put(&key, expiry)
        .await
        .map_err(blob_error)?
        .ok_or_else(|| {
            ApiError::conflict(
                "presign-unavailable",
                "this node keeps attachments on its own disk; upload through POST /v1/attachments instead",
            )
        })?;
    let attachment = Attachment {
        id,
        tenant_id: scope.tenant().to_owned(),
        school_id: scope.school().to_owned(),
        entity_type: kind,
        entity_id: entity_id.into_string(),
        file_name,
        content_type: declared.content_type,
        size_bytes: declared.size as i64,
        sha256: declared.sha256,
        status: AttachmentStatus::Pending,
        object_key: key,
        uploaded_by: auth.actor.subject.clone(),
        created_at: essp_domain::now(),
    };
    let saved = attachment.clone();
    crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            attachments::insert(tx, &saved).await?;
            Ok(())
        })
    })
    .await?;
    let location = format!("/v1/attachments/{}", attachment.id);
    let ticket = UploadTicket {
        confirm_url: format!("{location}/confirm"),
        attachment,
        upload_url,
        method: "PUT",
        expires_in_s: expiry.as_secs(),
    };
    Ok(params::created(&ticket, &location))
}

/// `POST /v1/attachments/{id}/confirm`: checks the uploaded object and
/// makes the attachment available. Confirming twice answers the same.
#[utoipa::path(post, path = "/v1/attachments/{id}/confirm", tag = "attachments",
    params(("id" = String, Path, pattern = "^att_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "Available", body = Attachment)))]
pub async fn confirm(
    State(state): State<AppState>,
    auth: Authorized<AttachmentCreate>,
    Path(id): Path<String>,
) -> ApiResult<Json<Attachment>> {
    let id = params::id("att", "attachment", &id)?;
    let scope = auth.scope.clone();
    let pending = attachments::get_any(state.db.as_ref(), &scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("attachment"))?;
    if pending.status == AttachmentStatus::Available {
        return Ok(Json(pending));
    }
    let found = inspect(&state, &pending).await?;
    let available = Attachment {
        status: AttachmentStatus::Available,
        size_bytes: found.size as i64,
        sha256: found.sha256,
        ..pending
    };
    let confirmed = make_available(&state, &scope, &auth.actor, available).await?;
    metrics::counter!("attachments_uploaded_total").increment(1);
    Ok(Json(confirmed))
}

/// What is really stored for a pending attachment, if it is what was
/// declared; content that is not is deleted so it can never be served.
async fn inspect(state: &AppState, pending: &Attachment) -> ApiResult<essp_blobs::Stored> {
    let key = &pending.object_key;
    let declared = pending.size_bytes as u64;
    let size = match state.blobs.size(key).await {
        Ok(size) => size,
        Err(BlobError::NotFound) => {
            return Err(ApiError::conflict(
                "upload-missing",
                "nothing has been uploaded to this attachment's URL yet",
            ));
        }
        Err(e) => return Err(blob_error(e)),
    };
    let refuse = |detail: String| async {
        state.blobs.delete(key).await.map_err(blob_error)?;
        Err(ApiError::Unprocessable {
            code: "upload-mismatch",
            detail,
        })
    };
    if size != declared {
        return refuse(format!(
            "the upload has {size} bytes, not the {declared} declared; upload again"
        ))
        .await;
    }
    let found = state.blobs.digest(key, declared).await.map_err(blob_error)?;
    if found.sha256 != pending.sha256 {
        return refuse("the upload's SHA-256 differs from the one declared; upload again".to_owned()).await;
    }
    Ok(found)
}

async fn make_available(state: &AppState, scope: &Scope, actor: &Actor, a: Attachment) -> ApiResult<Attachment> {
    let (scope, actor) = (scope.clone(), actor.clone());
    crate::tx::run(state, move |tx| {
        Box::pin(async move {
            if attachments::mark_available(tx, &a).await? {
                let subj = Subject::in_scope(&scope, "attachment", a.id.as_str());
                recording::record(tx, &actor, subj, "upload", None, Some(&a), essp_domain::now()).await?;
            }
            Ok(a)
        })
    })
    .await
}

/// The largest declared size is configuration (`ESSP_ATTACHMENT_MAX_BYTES`),
/// so the document built for this process states it.
pub(crate) fn document_limits(doc: &mut utoipa::openapi::OpenApi, max_bytes: u64) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut("UploadRequest")
        && let Some(RefOr::T(Schema::Object(size))) = body.properties.get_mut("sizeBytes")
    {
        size.maximum = Some(utoipa::Number::UInt(max_bytes as usize));
    }
}
