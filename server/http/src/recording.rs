//! Writing the audit row for a change, in the change's transaction.

use chrono::{DateTime, Utc};
use essp_store::Executor;
use essp_store::audit::{self, Change};
use serde::Serialize;

use crate::auth::Actor;
use crate::params;
use crate::problem::ApiResult;

/// What was changed: (tenant, school or "", entity type, entity id).
pub struct Subject<'a> {
    pub tenant: &'a str,
    pub school: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
}

pub async fn record<T: Serialize>(
    tx: &dyn Executor,
    actor: &Actor,
    subject: Subject<'_>,
    action: &str,
    before: Option<&T>,
    after: Option<&T>,
    at: DateTime<Utc>,
) -> ApiResult<()> {
    let change = Change {
        tenant: subject.tenant,
        school: subject.school,
        action,
        entity_type: subject.entity_type,
        entity_id: subject.entity_id,
        before: before.map(params::to_json).transpose()?,
        after: after.map(params::to_json).transpose()?,
    };
    audit::append(tx, &actor.audit(), change, at).await?;
    Ok(())
}
