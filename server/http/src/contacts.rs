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
use serde::{Deserialize, Serialize};

use crate::auth::TenantAuthorized;
use crate::auth::permissions::{ContactRead, ContactUpdate};
use crate::extract::ApiJson;
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactBody {
    user_id: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    role: Option<String>,
    is_primary: Option<bool>,
    active: Option<bool>,
}

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

#[derive(Serialize)]
pub struct Items {
    items: Vec<SchoolContact>,
}

pub async fn list(
    State(state): State<AppState>,
    auth: TenantAuthorized<ContactRead>,
    Path(school): Path<String>,
) -> ApiResult<Json<Items>> {
    let scope = auth.school(&school)?;
    Ok(Json(Items {
        items: contacts::list(state.db.as_ref(), &scope).await?,
    }))
}

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrimaryBody {
    contact_id: Option<String>,
}

/// Makes one contact the school's primary, in one transaction (the
/// original did two separate updates and could leave two or none).
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
    let current = load(&state, &scope, raw).await?;
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
