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

impl<'a> Subject<'a> {
    /// An entity of one school.
    pub fn in_scope(scope: &'a essp_domain::Scope, entity_type: &'a str, entity_id: &'a str) -> Self {
        Subject {
            tenant: scope.tenant(),
            school: scope.school(),
            entity_type,
            entity_id,
        }
    }
}

/// Records a change made now, with the state after it.
pub async fn record_now<T: Serialize>(
    tx: &dyn Executor,
    actor: &Actor,
    subject: Subject<'_>,
    action: &str,
    before: Option<&T>,
    after: &T,
) -> ApiResult<()> {
    record(tx, actor, subject, action, before, Some(after), essp_domain::now()).await
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

/// An entity the audit trail can name by itself.
pub trait Audited: Serialize + Send + Sync + 'static {
    const ENTITY: &'static str;
    fn tenant(&self) -> &str;
    /// `""` for tenant-wide entities.
    fn school(&self) -> &str;
    fn entity_id(&self) -> &str;
}

fn subject_of<T: Audited>(e: &T) -> Subject<'_> {
    Subject {
        tenant: e.tenant(),
        school: e.school(),
        entity_type: T::ENTITY,
        entity_id: e.entity_id(),
    }
}

/// A compare-and-set save: writes `next` if the row is still as `current`.
pub type SaveFn<T> =
    for<'a> fn(&'a dyn Executor, &'a T, &'a T) -> futures::future::BoxFuture<'a, essp_store::error::Result<Option<T>>>;

/// Saves an edit and its audit row in one transaction; a row changed
/// meanwhile is a 409.
pub async fn save_audited<T: Audited>(
    state: &crate::state::AppState,
    actor: &Actor,
    action: &'static str,
    current: T,
    next: T,
    save: SaveFn<T>,
) -> ApiResult<T> {
    let actor = actor.clone();
    crate::tx::run(state, move |tx| {
        Box::pin(async move {
            let saved = save(tx, &current, &next).await?.ok_or_else(|| {
                crate::problem::ApiError::conflict("concurrent-update", "changed by another request; reload and retry")
            })?;
            record(
                tx,
                &actor,
                subject_of(&saved),
                action,
                Some(&current),
                Some(&saved),
                essp_domain::now(),
            )
            .await?;
            Ok(saved)
        })
    })
    .await
}

/// A delete by the entity's own identity; `false` when it was already gone.
pub type DeleteFn<T> =
    for<'a> fn(&'a dyn Executor, &'a T) -> futures::future::BoxFuture<'a, essp_store::error::Result<bool>>;

/// Deletes `current` and audits it (before = the deleted row).
pub async fn delete_audited<T: Audited>(
    state: &crate::state::AppState,
    actor: &Actor,
    current: T,
    remove: DeleteFn<T>,
) -> ApiResult<()> {
    let actor = actor.clone();
    crate::tx::run(state, move |tx| {
        Box::pin(async move {
            if !remove(tx, &current).await? {
                return Err(crate::problem::ApiError::NotFound("record"));
            }
            record(
                tx,
                &actor,
                subject_of(&current),
                "delete",
                Some(&current),
                None,
                essp_domain::now(),
            )
            .await
        })
    })
    .await
}

macro_rules! audited {
    ($($t:ty => $name:literal, school: $school:expr);+ $(;)?) => {$(
        impl Audited for $t {
            const ENTITY: &'static str = $name;
            fn tenant(&self) -> &str {
                &self.tenant_id
            }
            fn school(&self) -> &str {
                let f: fn(&$t) -> &str = $school;
                f(self)
            }
            fn entity_id(&self) -> &str {
                self.id.as_str()
            }
        }
    )+};
}

audited! {
    essp_domain::shop::ServiceShop => "service_shop", school: |_| "";
    essp_domain::shop::ServiceStaff => "service_staff", school: |_| "";
    essp_domain::contact::SchoolContact => "school_contact", school: |c| &c.school_id;
}
