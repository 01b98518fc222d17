//! `/v1/schools/{school_id}/contacts`: who to call at a school.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use essp_domain::Id;
use essp_domain::contact::{ContactRole, SchoolContact, parse_email};
use essp_domain::error::{Validator, optional_text, required_text};
use essp_domain::shop::parse_phone;
use essp_store::contacts;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::Schema;

use crate::auth::TenantAuthorized;
use crate::auth::permissions::{ContactRead, ContactUpdate};
use crate::extract::ApiJson;
use crate::openapi;
use crate::openapi::{BLANK, Items, id_of, phone_schema, schema_type, string_matching, variant};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::shops::Code;
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, set_primary, update, delete),
    tags((name = "school-contacts", description = "The people to call at a school."))
)]
pub struct Doc;

/// What `parse_email` accepts: empty, or one `@` with something before it
/// and a dotted domain after it, no white space inside.
fn email_schema() -> Schema {
    let part = format!("[^@{BLANK}]");
    let edge = format!("[^@.{BLANK}]");
    let mut schema = string_matching(format!(
        "^[{BLANK}]*({part}+@{edge}{part}*\\.{part}*{edge})?[{BLANK}]*$"
    ));
    if let Schema::Object(o) = &mut schema {
        o.max_length = Some(254);
    }
    schema
}

fn contact_id() -> Schema {
    id_of("contact")
}

/// A contact's fields. A create needs `name`; an update changes the fields
/// given and keeps the others (the primary contact is changed with `PATCH
/// …/contacts/primary`). `null` is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactBody {
    /// Login of the contact at the identity provider, if they have one.
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::edit_text::<255>)]
    user_id: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::required_text::<200>)]
    name: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = phone_schema)]
    phone: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = email_schema)]
    email: Option<String>,
    /// Defaults to `point_of_contact`.
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(value_type = ContactRole)]
    role: Option<String>,
    /// Make the new contact the school's primary one (create only).
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(value_type = bool)]
    is_primary: Option<bool>,
    /// New contacts are active.
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(value_type = bool)]
    active: Option<bool>,
}

schema_type!(
    /// A new contact.
    NewSchoolContact from ContactBody = variant::<ContactBody>(&["name"], &[])
);
schema_type!(
    /// The fields of a contact to change.
    SchoolContactPatch from ContactBody = variant::<ContactBody>(&[], &["isPrimary"])
);

fn apply(c: &mut SchoolContact, b: &ContactBody, creating: bool) -> ApiResult<()> {
    let mut v = Validator::new();
    if creating || b.name.is_some() {
        c.name = v
            .check("name", required_text(b.name.as_deref(), 200))
            .unwrap_or_default();
    }
    if let Some(u) = &b.user_id {
        c.user_id = v.check("userId", optional_text(Some(u), 255)).unwrap_or_default();
    }
    if let Some(p) = &b.phone {
        c.phone = v.check("phone", parse_phone(p)).unwrap_or_default();
    }
    if let Some(e) = &b.email {
        c.email = v.check("email", parse_email(e)).unwrap_or_default();
    }
    if let Some(r) = &b.role
        && let Some(role) = v.check("role", r.parse::<ContactRole>())
    {
        c.role = role;
    }
    if let Some(a) = b.active {
        c.active = a;
    }
    if !creating && b.is_primary.is_some() {
        v.push("isPrimary", "change the primary contact with PATCH …/contacts/primary");
    }
    v.finish()?;
    Ok(())
}

/// `GET /v1/schools/{id}/contacts`: the primary contact first, then active before inactive, newest first.
#[utoipa::path(get, path = "/v1/schools/{id}/contacts", tag = "school-contacts",
    params(SchoolPath),
    responses((status = 200, description = "The school's contacts", body = Items<SchoolContact>)))]
pub async fn list(
    State(state): State<AppState>,
    auth: TenantAuthorized<ContactRead>,
    Path(school): Path<String>,
) -> ApiResult<Json<Items<SchoolContact>>> {
    let scope = auth.school(&school)?;
    Ok(Json(Items {
        items: contacts::list(state.db.as_ref(), &scope).await?,
    }))
}

/// `POST /v1/schools/{id}/contacts`: adds a contact (optionally as the
/// primary one, replacing the current primary).
#[utoipa::path(post, path = "/v1/schools/{id}/contacts", tag = "school-contacts",
    params(SchoolPath),
    request_body = NewSchoolContact,
    responses((status = 201, description = "Added", body = SchoolContact)))]
pub async fn create(
    State(state): State<AppState>,
    auth: TenantAuthorized<ContactUpdate>,
    Path(school): Path<String>,
    body: ApiJson<ContactBody>,
) -> ApiResult<Response> {
    let scope = auth.school(&school)?;
    let now = essp_domain::now();
    let mut c = SchoolContact {
        id: Id::new("contact"),
        tenant_id: scope.tenant().to_owned(),
        school_id: scope.school().to_owned(),
        user_id: String::new(),
        name: String::new(),
        phone: String::new(),
        email: String::new(),
        role: ContactRole::PointOfContact,
        is_primary: false,
        active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    apply(&mut c, &body.value, true)?;
    let make_primary = body.value.is_primary.unwrap_or(false);
    let actor = auth.actor.clone();
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            contacts::insert(tx, &c).await?;
            let saved = if make_primary {
                contacts::set_primary(tx, &scope, c.id.as_str(), now)
                    .await?
                    .unwrap_or(c)
            } else {
                c
            };
            let subj = Subject::in_scope(&scope, "school_contact", saved.id.as_str());
            recording::record(tx, &actor, subj, "create", None, Some(&saved), now).await?;
            Ok(saved)
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

async fn load(state: &AppState, scope: &essp_domain::Scope, raw: &str) -> ApiResult<SchoolContact> {
    let id = params::id("contact", "contact", raw)?;
    contacts::get(state.db.as_ref(), scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("contact"))
}

/// `PATCH /v1/schools/{id}/contacts/{contact_id}`: changes the fields given.
#[utoipa::path(patch, path = "/v1/schools/{id}/contacts/{contact_id}", tag = "school-contacts",
    params(SchoolPath, ("contact_id" = String, Path, pattern = "^contact_[0-9A-HJKMNP-TV-Z]{26}$"), openapi::IfMatch),
    request_body = SchoolContactPatch,
    responses((status = 200, description = "Changed", body = SchoolContact, headers(("ETag" = String)))))]
pub async fn update(
    State(state): State<AppState>,
    auth: TenantAuthorized<ContactUpdate>,
    Path((school, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: ApiJson<ContactBody>,
) -> ApiResult<Response> {
    let scope = auth.school(&school)?;
    let expected = params::if_match(&headers)?;
    let current = load(&state, &scope, &id).await?;
    params::check_version(expected, current.version, "contact")?;
    let mut next = current.clone();
    apply(&mut next, &body.value, false)?;
    next.updated_at = essp_domain::now();
    let saved = recording::save_audited(&state, &auth.actor, "update", current, next, |tx, cur, next| {
        Box::pin(async move {
            let scope = essp_domain::Scope::new(cur.tenant_id.clone(), cur.school_id.clone());
            contacts::save(tx, &scope, cur.version, next).await
        })
    })
    .await?;
    Ok(params::with_etag(&saved, saved.version))
}

/// The contact to make the school's primary one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = PrimaryContact)]
pub struct PrimaryBody {
    /// An active contact of this school.
    #[schema(schema_with = contact_id, required = true)]
    contact_id: Option<String>,
}

/// Makes one contact the school's primary, in one transaction (the
/// original did two separate updates and could leave two or none).
#[utoipa::path(patch, path = "/v1/schools/{id}/contacts/primary", tag = "school-contacts",
    params(SchoolPath),
    request_body = PrimaryBody,
    responses((status = 200, description = "The new primary contact", body = SchoolContact)))]
pub async fn set_primary(
    State(state): State<AppState>,
    auth: TenantAuthorized<ContactUpdate>,
    Path(school): Path<String>,
    body: ApiJson<PrimaryBody>,
) -> ApiResult<Json<SchoolContact>> {
    let scope = auth.school(&school)?;
    let raw = body
        .value
        .contact_id
        .as_deref()
        .ok_or_else(|| ApiError::field("contactId", "is required"))?;
    // The contact is named in the body, not the URL: one that is not this
    // school's is a mistake in the request (422), not a missing resource.
    let current = load(&state, &scope, raw).await.map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::unknown_reference(
            "unknown-contact",
            "contactId",
            "names no contact of this school",
            format!("{raw} is not a contact of school {school}"),
        ),
        e => e,
    })?;
    if !current.active {
        return Err(ApiError::conflict(
            "inactive-contact",
            "an inactive contact cannot be the primary one",
        ));
    }
    let actor = auth.actor.clone();
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            let now = essp_domain::now();
            let saved = contacts::set_primary(tx, &scope, current.id.as_str(), now)
                .await?
                .ok_or(ApiError::NotFound("contact"))?;
            let subj = Subject::in_scope(&scope, "school_contact", saved.id.as_str());
            recording::record(tx, &actor, subj, "set_primary", Some(&current), Some(&saved), now).await?;
            Ok(saved)
        })
    })
    .await?;
    Ok(Json(saved))
}

#[utoipa::path(delete, path = "/v1/schools/{id}/contacts/{contact_id}", tag = "school-contacts",
    params(SchoolPath, ("contact_id" = String, Path, pattern = "^contact_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(state): State<AppState>,
    auth: TenantAuthorized<ContactUpdate>,
    Path((school, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let scope = auth.school(&school)?;
    let current = load(&state, &scope, &id).await?;
    recording::delete_audited(&state, &auth.actor, current, |tx, c| {
        Box::pin(async move {
            let scope = essp_domain::Scope::new(c.tenant_id.clone(), c.school_id.clone());
            contacts::delete(tx, &scope, c.id.as_str()).await
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The school in the path (`TenantAuthorized::school`).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct SchoolPath {
    /// A school the caller may act for.
    #[param(value_type = Code, inline)]
    id: String,
}
