//! `/v1/attachments`: photo and document evidence. Content streams through
//! the API into object storage (local files on an edge, S3/MinIO centrally)
//! with its size and SHA-256 measured on the way; storage keys come only
//! from server-generated ids, so no client string can reach outside the
//! tenant's prefix.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use essp_blobs::BlobError;
use essp_domain::attachment::{
    ALLOWED_CONTENT_TYPES, AttachedTo, Attachment, AttachmentStatus, parse_content_type, parse_file_name,
};
use essp_domain::error::Validator;
use essp_domain::{Id, Scope};
use essp_store::{attachments, incidents, work_orders};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Content, OpenApi, RefOr, Required, request_body::RequestBodyBuilder};
use utoipa::{IntoParams, Modify, ToSchema};

use crate::auth::Authorized;
use crate::auth::permissions::{AttachmentCreate, AttachmentRead};
use crate::extract::ApiQuery;
use crate::openapi::Items;
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(upload, get, list, content, download_url),
    modifiers(&FileBodies),
    tags((name = "attachments", description = "Photo and document evidence for incidents, work orders and surveys."))
)]
pub struct Doc;

/// What an attachment is for, and (on upload) the file's name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    pub(crate) entity_type: Option<String>,
    pub(crate) entity_id: Option<String>,
    pub(crate) file_name: Option<String>,
}

/// The query of an upload: [`Owner`] and `fileName`.
impl IntoParams for Target {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let file_name = ParameterBuilder::new()
            .name("fileName")
            .parameter_in(ParameterIn::Query)
            .required(Required::True)
            .description(Some("The name to show and download the file as."))
            .schema(Some(file_name_schema()))
            .build();
        vec![owner_param(), file_name]
    }
}

/// The query naming what attachments belong to: `entityType` and
/// `entityId`, documented as one exploded object so the schema can say
/// which id goes with which type.
pub struct Owner;

impl IntoParams for Owner {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![owner_param()]
    }
}

fn owner_param() -> Parameter {
    let mut kinds = OneOfBuilder::new().schema_type(Type::Object);
    for kind in AttachedTo::ALL {
        kinds = kinds.item(
            ObjectBuilder::new()
                .property(
                    "entityType",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([kind.as_str()])),
                )
                .required("entityType")
                .property("entityId", crate::openapi::id_of(id_prefix(*kind)))
                .required("entityId")
                .additional_properties(Some(AdditionalProperties::FreeForm(false))),
        );
    }
    ParameterBuilder::new()
        .name("owner")
        .parameter_in(ParameterIn::Query)
        .required(Required::True)
        .style(Some(ParameterStyle::Form))
        .explode(Some(true))
        .description(Some(
            "`entityType=…&entityId=…`: the incident (`inc_…`), work order (`wo_…`) or survey (`survey_…`); on upload it must exist in the caller's school.",
        ))
        .schema(Some(Schema::OneOf(kinds.build())))
        .build()
}

/// The id prefix of what an attachment belongs to.
fn id_prefix(kind: AttachedTo) -> &'static str {
    match kind {
        AttachedTo::Incident => essp_domain::id::prefix::INCIDENT,
        AttachedTo::WorkOrder => "wo",
        AttachedTo::Survey => "survey",
    }
}

/// What `parse_file_name` accepts: 1–200 characters once trimmed, without
/// slashes or control characters.
fn file_name_schema() -> Schema {
    let blank = crate::openapi::BLANK;
    let inner = r"[^/\\\u0000-\u001F\u007F-\u009F]";
    let edge = format!(r"[^/\\\u0000-\u001F\u007F-\u009F{blank}]");
    crate::openapi::string_matching(format!("^[{blank}]*{edge}({inner}{{0,198}}{edge})?[{blank}]*$"))
}

/// The upload body and the content download are the file itself, in one
/// of the accepted types; the attributes cannot list those from the
/// constant, so they are filled in here.
struct FileBodies;

impl Modify for FileBodies {
    fn modify(&self, doc: &mut OpenApi) {
        let files = || {
            ALLOWED_CONTENT_TYPES.iter().map(|ct| {
                let schema = ObjectBuilder::new().schema_type(Type::String).content_media_type(*ct);
                ((*ct).to_owned(), RefOr::T(Content::new(Some(schema))))
            })
        };
        if let Some(op) = doc.paths.paths.get_mut("/v1/attachments").and_then(|p| p.post.as_mut()) {
            let mut body = RequestBodyBuilder::new()
                .description(Some("The file's bytes, with its type as `Content-Type`."))
                .required(Some(Required::True))
                .build();
            body.content.extend(files());
            op.request_body = Some(RefOr::T(body));
        }
        if let Some(RefOr::T(ok)) = doc
            .paths
            .paths
            .get_mut("/v1/attachments/{id}/content")
            .and_then(|p| p.get.as_mut())
            .and_then(|op| op.responses.responses.get_mut("200"))
        {
            ok.content.extend(files());
        }
    }
}

pub(crate) fn target(v: &mut Validator, t: &Target) -> Option<(AttachedTo, Id)> {
    let kind = v.check(
        "entityType",
        t.entity_type
            .as_deref()
            .ok_or_else(|| "is required".to_owned())
            .and_then(|k| k.parse::<AttachedTo>()),
    );
    let prefix = kind.map_or(essp_domain::id::prefix::INCIDENT, id_prefix);
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
pub(crate) async fn require_entity(state: &AppState, scope: &Scope, kind: AttachedTo, id: &Id) -> ApiResult<()> {
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

pub(crate) fn blob_error(e: BlobError) -> ApiError {
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
#[utoipa::path(post, path = "/v1/attachments", tag = "attachments",
    params(Target),
    responses((status = 201, description = "Stored", body = Attachment, headers(("Location" = String)))))]
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
        status: AttachmentStatus::Available,
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
    Ok(params::created(&saved, &format!("/v1/attachments/{}", saved.id)))
}

async fn load(state: &AppState, scope: &Scope, raw: &str) -> ApiResult<Attachment> {
    let id = params::id("att", "attachment", raw)?;
    attachments::get(state.db.as_ref(), scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("attachment"))
}

#[utoipa::path(get, path = "/v1/attachments/{id}", tag = "attachments",
    params(("id" = String, Path, pattern = "^att_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The attachment's details", body = Attachment)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Authorized<AttachmentRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Attachment>> {
    Ok(Json(load(&state, &auth.scope, &id).await?))
}

/// `GET /v1/attachments?entityType=…&entityId=…`: newest first.
#[utoipa::path(get, path = "/v1/attachments", tag = "attachments",
    params(Owner),
    responses((status = 200, description = "The attachments", body = Items<Attachment>)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Authorized<AttachmentRead>,
    ApiQuery(t): ApiQuery<Target>,
) -> ApiResult<Json<Items<Attachment>>> {
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
#[utoipa::path(get, path = "/v1/attachments/{id}/content", tag = "attachments",
    params(("id" = String, Path, pattern = "^att_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The file, as uploaded and with its type",
        headers(
            ("Content-Disposition" = String, description = "`attachment; filename*=UTF-8''<the file name, percent-encoded>`"),
            ("ETag" = String, description = "The SHA-256 of the content, quoted")
        ))))]
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

/// Where to fetch an attachment's content.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AttachmentDownloadUrl)]
pub struct DownloadUrl {
    /// A presigned object-storage URL, or the API's own `…/content` path.
    url: String,
    /// Seconds the presigned URL stays valid; 0 for the API path (which
    /// needs the usual credentials).
    expires_in_s: u64,
}

/// A link to fetch the content: presigned straight to S3/MinIO when
/// configured, otherwise the API's own content route.
#[utoipa::path(get, path = "/v1/attachments/{id}/download-url", tag = "attachments",
    params(("id" = String, Path, pattern = "^att_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The link", body = DownloadUrl)))]
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
