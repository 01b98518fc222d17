//! `GET /v1/me`: who the caller is and what they may do, so a client (the
//! admin UI) can offer only the actions the server would allow. It grants
//! nothing: every route still checks its own permission.

use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::identity::{Identity, Schools};
use crate::auth::roles::KNOWN_PERMISSIONS;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(me), tags((name = "session", description = "The caller's identity and permissions.")))]
pub struct Doc;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// The token's subject: the actor recorded in the audit trail.
    pub subject: String,
    /// The token's tenant; `null` in development mode (the tenant header is trusted).
    pub tenant_id: Option<String>,
    /// The schools the caller may act in; `null` for every school of the tenant.
    pub schools: Option<Vec<String>>,
    pub roles: Vec<String>,
    /// Every permission the caller holds, spelled as routes require them.
    pub permissions: Vec<&'static str>,
}

#[utoipa::path(get, path = "/v1/me", tag = "session",
    responses((status = 200, description = "The caller", body = Me)))]
pub async fn me(Extension(identity): Extension<Identity>) -> Json<Me> {
    Json(Me {
        subject: identity.subject.clone(),
        tenant_id: identity.tenant.clone(),
        schools: match &identity.schools {
            Schools::All => None,
            Schools::Only(set) => Some(set.iter().cloned().collect()),
        },
        roles: identity.roles.clone(),
        permissions: KNOWN_PERMISSIONS
            .iter()
            .copied()
            .filter(|p| identity.grants.allows(p))
            .collect(),
    })
}
