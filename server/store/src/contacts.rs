//! School contacts.

use essp_domain::contact::SchoolContact;
use essp_domain::{Id, Scope};

use crate::error::Result;
use crate::executor::Executor;
use crate::value::{Row, Value};

const COLUMNS: &str = "id, tenant_id, school_id, user_id, name, phone, email, role, is_primary, active, created_at, \
     updated_at, version";

fn from_row(r: &Row) -> Result<SchoolContact> {
    Ok(SchoolContact {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        user_id: r.text("user_id")?,
        name: r.text("name")?,
        phone: r.text("phone")?,
        email: r.text("email")?,
        role: r.parse("role")?,
        is_primary: r.bool("is_primary")?,
        active: r.bool("active")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        version: r.i64("version")?,
    })
}

pub async fn insert(ex: &dyn Executor, c: &SchoolContact) -> Result<()> {
    let sql = format!(
        "INSERT INTO school_contacts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    let params: Vec<Value> = vec![
        c.id.as_str().into(),
        (&c.tenant_id).into(),
        (&c.school_id).into(),
        (&c.user_id).into(),
        (&c.name).into(),
        (&c.phone).into(),
        (&c.email).into(),
        c.role.as_str().into(),
        c.is_primary.into(),
        c.active.into(),
        c.created_at.into(),
        c.updated_at.into(),
        c.version.into(),
    ];
    ex.execute(&sql, &params).await?;
    Ok(())
}

pub async fn get(ex: &dyn Executor, scope: &Scope, id: &str) -> Result<Option<SchoolContact>> {
    let sql = format!("SELECT {COLUMNS} FROM school_contacts WHERE tenant_id = $1 AND school_id = $2 AND id = $3");
    ex.fetch_optional(&sql, &[scope.tenant().into(), scope.school().into(), id.into()])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Writes edited details (not the primary flag) if still at `expected_version`.
pub async fn save(
    ex: &dyn Executor,
    scope: &Scope,
    expected_version: i64,
    c: &SchoolContact,
) -> Result<Option<SchoolContact>> {
    let sql = format!(
        "UPDATE school_contacts SET user_id = $1, name = $2, phone = $3, email = $4, role = $5, active = $6, \
         updated_at = $7, version = version + 1 \
         WHERE tenant_id = $8 AND school_id = $9 AND id = $10 AND version = $11 RETURNING {COLUMNS}"
    );
    let params: Vec<Value> = vec![
        (&c.user_id).into(),
        (&c.name).into(),
        (&c.phone).into(),
        (&c.email).into(),
        c.role.as_str().into(),
        c.active.into(),
        c.updated_at.into(),
        scope.tenant().into(),
        scope.school().into(),
        c.id.as_str().into(),
        expected_version.into(),
    ];
    ex.fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Makes `id` the school's one primary contact (call inside a transaction:
/// the old primary is cleared first, so the unique index never sees two).
pub async fn set_primary(
    ex: &dyn Executor,
    scope: &Scope,
    id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<SchoolContact>> {
    ex.execute(
        "UPDATE school_contacts SET is_primary = $1, updated_at = $2, version = version + 1 \
         WHERE tenant_id = $3 AND school_id = $4 AND is_primary = $5 AND id <> $6",
        &[
            false.into(),
            now.into(),
            scope.tenant().into(),
            scope.school().into(),
            true.into(),
            id.into(),
        ],
    )
    .await?;
    let sql = format!(
        "UPDATE school_contacts SET is_primary = $1, updated_at = $2, version = version + 1 \
         WHERE tenant_id = $3 AND school_id = $4 AND id = $5 RETURNING {COLUMNS}"
    );
    ex.fetch_optional(
        &sql,
        &[
            true.into(),
            now.into(),
            scope.tenant().into(),
            scope.school().into(),
            id.into(),
        ],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub async fn delete(ex: &dyn Executor, scope: &Scope, id: &str) -> Result<bool> {
    Ok(ex
        .execute(
            "DELETE FROM school_contacts WHERE tenant_id = $1 AND school_id = $2 AND id = $3",
            &[scope.tenant().into(), scope.school().into(), id.into()],
        )
        .await?
        > 0)
}

/// Primary first, then active, then newest.
pub async fn list(ex: &dyn Executor, scope: &Scope) -> Result<Vec<SchoolContact>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM school_contacts WHERE tenant_id = $1 AND school_id = $2 \
         ORDER BY is_primary DESC, active DESC, created_at DESC, id DESC"
    );
    let rows = ex
        .fetch_all(&sql, &[scope.tenant().into(), scope.school().into()])
        .await?;
    rows.iter().map(from_row).collect()
}
