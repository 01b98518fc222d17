//! IMS's per-row copies of SSOT data (`<kind>_snapshot`) and the sync
//! checkpoints (`ssot_sync_state`). Rows only move forward: a copy is
//! replaced only by a higher revision, so a duplicate or late event can
//! never regress it, and two sync workers never double-apply.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use essp_domain::ssot::{Kind, SsotRow};

use crate::error::Result;
use crate::executor::Executor;
use crate::query::{Query, like_contains};
use crate::ssot::{self, CHUNK, column_list, columns, from_row, push_values, row_values, rows_per_statement};
use crate::sync::capture::BulkCapture;

/// Applies rows (any order, duplicates allowed); returns how many changed.
/// Rows an enrolled edge holds are captured for it in the same
/// transaction (central-owned: they go down to the edges).
pub async fn apply(ex: &dyn Executor, kind: &Kind, rows: &[SsotRow]) -> Result<u64> {
    let cols = columns(kind);
    let set: Vec<String> = cols
        .iter()
        .filter(|c| !matches!(**c, "id" | "tenant_id"))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let mut captures = captures(ex, kind, rows).await?;
    let mut changed = 0;
    let mut to_capture: HashMap<&str, Vec<String>> = HashMap::new();
    for chunk in rows.chunks(rows_per_statement(kind)) {
        let mut q = Query::new(&format!("INSERT INTO {} ({}) VALUES ", kind.snapshot, cols.join(", ")));
        push_values(&mut q, chunk.iter().map(|r| row_values(kind, r)).collect());
        q.push(&format!(
            " ON CONFLICT (tenant_id, id) DO UPDATE SET {} WHERE {t}.revision < excluded.revision",
            set.join(", "),
            t = kind.snapshot
        ));
        if !chunk.iter().any(|r| captures.contains_key(r.meta.tenant_id.as_str())) {
            changed += ex.execute(q.sql(), q.params()).await?;
            continue;
        }
        for (tenant, capture) in &mut captures {
            let ids: Vec<&str> = chunk
                .iter()
                .filter(|r| r.meta.tenant_id == *tenant)
                .map(|r| r.meta.id.as_str())
                .collect();
            capture.before(ex, &ids).await?;
        }
        // Only the rows this write changed (a stale revision changes none).
        q.push(" RETURNING tenant_id, id");
        for r in ex.fetch_all(q.sql(), q.params()).await? {
            changed += 1;
            let tenant = r.text("tenant_id")?;
            if let Some((t, _)) = captures.get_key_value(tenant.as_str()) {
                to_capture.entry(t).or_default().push(r.text("id")?);
            }
        }
    }
    for (tenant, ids) in &to_capture {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        captures[tenant].changed(ex, &ids).await?;
    }
    Ok(changed)
}

/// The tenants among `rows` whose snapshot writes central captures for
/// their edges: one indexed lookup per tenant in the batch, and nothing
/// more for a tenant (or a snapshot) no edge receives.
async fn captures<'a>(ex: &dyn Executor, kind: &Kind, rows: &'a [SsotRow]) -> Result<HashMap<&'a str, BulkCapture>> {
    let mut out = HashMap::new();
    if crate::sync::catalog::table(kind.snapshot).is_none() {
        return Ok(out);
    }
    let mut seen = std::collections::HashSet::new();
    for r in rows {
        let tenant = r.meta.tenant_id.as_str();
        if seen.insert(tenant)
            && let Some(capture) = BulkCapture::begin(ex, kind.snapshot, tenant).await?
        {
            out.insert(tenant, capture);
        }
    }
    Ok(out)
}

/// A live row by id.
pub async fn get(ex: &dyn Executor, tenant: &str, kind: &Kind, id: &str) -> Result<Option<SsotRow>> {
    Ok(ssot::get_in(ex, kind.snapshot, tenant, kind, id)
        .await?
        .filter(|r| r.meta.deleted_at.is_none()))
}

/// Live rows whose `column` equals `value`.
pub async fn find_by(ex: &dyn Executor, tenant: &str, kind: &Kind, column: &str, value: &str) -> Result<Vec<SsotRow>> {
    ssot::find_in(ex, kind.snapshot, tenant, kind, column, value).await
}

/// Filters for browsing a snapshot.
#[derive(Debug, Clone, Default)]
pub struct Browse {
    /// Column = value.
    pub equals: Vec<(&'static str, String)>,
    /// Case-insensitive substring over these columns.
    pub search: Option<(Vec<&'static str>, String)>,
    pub limit: u32,
    pub offset: u64,
    /// Column to sort by (then id).
    pub order_by: &'static str,
}

/// One page of live rows and the total matching.
pub async fn browse(ex: &dyn Executor, tenant: &str, kind: &Kind, b: &Browse) -> Result<(Vec<SsotRow>, i64)> {
    let mut q = Query::new(" WHERE tenant_id = ");
    let t = q.bind(tenant);
    q.push(&t).push(" AND deleted_at IS NULL");
    for (column, value) in &b.equals {
        q.and(&format!("{column} = {{}}"), value.as_str());
    }
    if let Some((cols, needle)) = &b.search {
        let p = q.bind(like_contains(needle));
        let ors: Vec<String> = cols
            .iter()
            .map(|c| format!("{c} {} {p} ESCAPE '\\'", ex.dialect().ilike))
            .collect();
        q.push(&format!(" AND ({})", ors.join(" OR ")));
    }
    let count_sql = format!("SELECT COUNT(*) AS n FROM {}{}", kind.snapshot, q.sql());
    let total = ex.count(&count_sql, q.params()).await?;
    let limit = q.bind(i64::from(b.limit));
    let offset = q.bind(i64::try_from(b.offset).unwrap_or(i64::MAX));
    let sql = format!(
        "SELECT {} FROM {}{} ORDER BY {}, id LIMIT {limit} OFFSET {offset}",
        column_list(kind),
        kind.snapshot,
        q.sql(),
        b.order_by
    );
    let rows = ex
        .fetch_all(&sql, q.params())
        .await?
        .iter()
        .map(|r| from_row(kind, r))
        .collect::<Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// Distinct non-empty values of a column among live rows (e.g. makes).
pub async fn distinct(ex: &dyn Executor, tenant: &str, kind: &Kind, column: &str) -> Result<Vec<String>> {
    if kind.field_by_column(column).is_none() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT {column} AS v FROM {} WHERE tenant_id = $1 AND deleted_at IS NULL AND {column} <> '' ORDER BY v",
        kind.snapshot
    );
    ex.fetch_all(&sql, &[tenant.into()])
        .await?
        .iter()
        .map(|r| r.text("v"))
        .collect()
}

/// Live rows of `kind` by id, for the ids given (resolving names of
/// referenced rows for a page of results).
pub async fn by_ids(ex: &dyn Executor, tenant: &str, kind: &Kind, ids: &[&str]) -> Result<HashMap<String, SsotRow>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        if chunk.is_empty() {
            continue;
        }
        let mut q = Query::new(&format!(
            "SELECT {} FROM {} WHERE tenant_id = ",
            column_list(kind),
            kind.snapshot
        ));
        let t = q.bind(tenant);
        q.push(&t).push(" AND deleted_at IS NULL AND id IN (");
        let ps: Vec<String> = chunk.iter().map(|id| q.bind(*id)).collect();
        q.push(&ps.join(", ")).push(")");
        for r in ex.fetch_all(q.sql(), q.params()).await? {
            let row = from_row(kind, &r)?;
            out.insert(row.meta.id.clone(), row);
        }
    }
    Ok(out)
}

/// Live rows of a kind (for `/v1/ssot/status`).
pub async fn count(ex: &dyn Executor, tenant: &str, kind: &Kind) -> Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM {} WHERE tenant_id = $1 AND deleted_at IS NULL",
        kind.snapshot
    );
    ex.count(&sql, &[tenant.into()]).await
}

/// A checkpoint: the snapshot of `resource` is complete up to `last_revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    pub tenant_id: String,
    pub resource: String,
    pub last_revision: i64,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: String,
    pub rows_applied: i64,
}

fn state_from_row(r: &crate::Row) -> Result<SyncState> {
    Ok(SyncState {
        tenant_id: r.text("tenant_id")?,
        resource: r.text("resource")?,
        last_revision: r.i64("last_revision")?,
        last_sync_at: r.opt_timestamp("last_sync_at")?,
        last_error: r.text("last_error")?,
        rows_applied: r.i64("rows_applied")?,
    })
}

const STATE_COLUMNS: &str = "tenant_id, resource, last_revision, last_sync_at, last_error, rows_applied";

pub async fn state(ex: &dyn Executor, tenant: &str, resource: &str) -> Result<Option<SyncState>> {
    let sql = format!("SELECT {STATE_COLUMNS} FROM ssot_sync_state WHERE tenant_id = $1 AND resource = $2");
    ex.fetch_optional(&sql, &[tenant.into(), resource.into()])
        .await?
        .as_ref()
        .map(state_from_row)
        .transpose()
}

pub async fn states(ex: &dyn Executor, tenant: &str) -> Result<Vec<SyncState>> {
    let sql = format!("SELECT {STATE_COLUMNS} FROM ssot_sync_state WHERE tenant_id = $1 ORDER BY resource");
    ex.fetch_all(&sql, &[tenant.into()])
        .await?
        .iter()
        .map(state_from_row)
        .collect()
}

/// Tenants IMS has seen SSOT data for (events or a sync), to reconcile.
pub async fn known_tenants(ex: &dyn Executor) -> Result<Vec<String>> {
    ex.fetch_all("SELECT DISTINCT tenant_id FROM ssot_sync_state ORDER BY tenant_id", &[])
        .await?
        .iter()
        .map(|r| r.text("tenant_id"))
        .collect()
}

/// Makes a tenant known without moving its checkpoint.
pub async fn touch(ex: &dyn Executor, tenant: &str, resource: &str, now: DateTime<Utc>) -> Result<()> {
    ex.execute(
        "INSERT INTO ssot_sync_state (tenant_id, resource, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, resource) DO NOTHING",
        &[tenant.into(), resource.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// Moves the checkpoint forward (never back) after a reconcile page, in the
/// same transaction as the rows it applied.
pub async fn advance(
    ex: &dyn Executor,
    tenant: &str,
    resource: &str,
    last_revision: i64,
    applied: u64,
    now: DateTime<Utc>,
) -> Result<()> {
    let applied = i64::try_from(applied).unwrap_or(i64::MAX);
    ex.execute(
        "INSERT INTO ssot_sync_state (tenant_id, resource, last_revision, last_sync_at, last_error, rows_applied, updated_at) \
         VALUES ($1, $2, $3, $4, '', $5, $4) \
         ON CONFLICT (tenant_id, resource) DO UPDATE SET \
           last_revision = CASE WHEN ssot_sync_state.last_revision > excluded.last_revision \
                                THEN ssot_sync_state.last_revision ELSE excluded.last_revision END, \
           last_sync_at = excluded.last_sync_at, last_error = '', \
           rows_applied = ssot_sync_state.rows_applied + excluded.rows_applied, updated_at = excluded.updated_at",
        &[tenant.into(), resource.into(), last_revision.into(), now.into(), applied.into()],
    )
    .await?;
    Ok(())
}

/// Records why a sync failed (shown by `/v1/ssot/status`).
pub async fn failed(ex: &dyn Executor, tenant: &str, resource: &str, error: &str, now: DateTime<Utc>) -> Result<()> {
    ex.execute(
        "INSERT INTO ssot_sync_state (tenant_id, resource, last_error, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, resource) DO UPDATE SET last_error = excluded.last_error, updated_at = excluded.updated_at",
        &[tenant.into(), resource.into(), error.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// What IMS knows about a school and a device from its snapshots, for
/// point-in-time copies on new records and for routing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub names: essp_domain::context::SsotContext,
    pub county_code: String,
    pub sub_county_code: String,
    pub device_found: bool,
    /// Whether the tenant has any devices at all (a device missing from a
    /// populated SSOT is a client mistake; from an empty one, not yet known).
    pub tenant_has_devices: bool,
}

/// Looks up a school (with county, sub-county and primary contact) and a
/// device (with its model) in the snapshots, in one round trip: this runs
/// on every incident and work order created.
pub async fn context(ex: &dyn Executor, tenant: &str, school: &str, device: &str) -> Result<Context> {
    let contact = |col: &str| {
        format!(
            "(SELECT {col} FROM school_contacts_snapshot \
              WHERE tenant_id = $1 AND school_id = $2 AND active = $4 AND deleted_at IS NULL \
              ORDER BY is_primary DESC, created_at, id LIMIT 1) AS contact_{col}"
        )
    };
    let sql = format!(
        "SELECT COALESCE(s.name, '') AS school_name, \
                COALESCE(s.county_id, '') AS county_id, COALESCE(s.sub_county_id, '') AS sub_county_id, \
                COALESCE(c.code, '') AS county_code, COALESCE(c.name, '') AS county_name, \
                COALESCE(sc.code, '') AS sub_county_code, COALESCE(sc.name, '') AS sub_county_name, \
                {}, {}, {}, \
                d.id AS device_id, COALESCE(d.serial, '') AS serial, COALESCE(d.asset_tag, '') AS asset_tag, \
                COALESCE(d.device_model_id, '') AS device_model_id, COALESCE(m.make, '') AS make, \
                COALESCE(m.model, '') AS model, COALESCE(m.category, '') AS category, \
                (SELECT MIN(id) FROM devices_snapshot WHERE tenant_id = $1 AND deleted_at IS NULL) AS any_device \
         FROM (SELECT 1 AS one) AS o \
         LEFT JOIN schools_snapshot s ON s.tenant_id = $1 AND s.id = $2 AND s.deleted_at IS NULL \
         LEFT JOIN counties_snapshot c \
                ON c.tenant_id = s.tenant_id AND c.id = s.county_id AND c.deleted_at IS NULL \
         LEFT JOIN sub_counties_snapshot sc \
                ON sc.tenant_id = s.tenant_id AND sc.id = s.sub_county_id AND sc.deleted_at IS NULL \
         LEFT JOIN devices_snapshot d ON d.tenant_id = $1 AND d.id = $3 AND d.deleted_at IS NULL \
         LEFT JOIN device_models_snapshot m \
                ON m.tenant_id = d.tenant_id AND m.id = d.device_model_id AND m.deleted_at IS NULL",
        contact("name"),
        contact("phone"),
        contact("email"),
    );
    let Some(r) = ex
        .fetch_optional(&sql, &[tenant.into(), school.into(), device.into(), true.into()])
        .await?
    else {
        return Ok(Context::default());
    };
    let opt = |col: &str| r.opt_text(col).map(Option::unwrap_or_default);
    let mut c = Context {
        device_found: r.opt_text("device_id")?.is_some(),
        tenant_has_devices: r.opt_text("any_device")?.is_some(),
        county_code: r.text("county_code")?,
        sub_county_code: r.text("sub_county_code")?,
        ..Context::default()
    };
    let n = &mut c.names;
    n.school_name = r.text("school_name")?;
    n.county_id = r.text("county_id")?;
    n.county_name = r.text("county_name")?;
    n.sub_county_id = r.text("sub_county_id")?;
    n.sub_county_name = r.text("sub_county_name")?;
    n.contact_name = opt("contact_name")?;
    n.contact_phone = opt("contact_phone")?;
    n.contact_email = opt("contact_email")?;
    n.device_serial = r.text("serial")?;
    n.device_asset_tag = r.text("asset_tag")?;
    n.device_model_id = r.text("device_model_id")?;
    n.device_make = r.text("make")?;
    n.device_model = r.text("model")?;
    n.device_category = r.text("category")?;
    Ok(c)
}

/// Whether the SSOT lists `part` as fitting `model`; `None` when it has
/// no compatibility data for the part at all.
pub async fn compatible(ex: &dyn Executor, tenant: &str, part: &str, model: &str) -> Result<Option<bool>> {
    let models = ex
        .fetch_all(
            "SELECT device_model_id FROM part_compatibility_snapshot \
             WHERE tenant_id = $1 AND part_id = $2 AND deleted_at IS NULL",
            &[tenant.into(), part.into()],
        )
        .await?;
    if models.is_empty() {
        return Ok(None);
    }
    for r in &models {
        if r.text("device_model_id")? == model {
            return Ok(Some(true));
        }
    }
    Ok(Some(false))
}

/// Live rows per value of `column` (optionally only where `filter` holds).
pub async fn count_by(
    ex: &dyn Executor,
    tenant: &str,
    kind: &Kind,
    column: &str,
    filter: Option<(&str, &str)>,
) -> Result<Vec<(String, i64)>> {
    if kind.field_by_column(column).is_none() {
        return Ok(Vec::new());
    }
    let mut q = Query::new(&format!(
        "SELECT {column} AS v, COUNT(*) AS n FROM {} WHERE tenant_id = ",
        kind.snapshot
    ));
    let t = q.bind(tenant);
    q.push(&t).push(" AND deleted_at IS NULL");
    if let Some((col, value)) = filter.filter(|(c, _)| kind.field_by_column(c).is_some()) {
        q.and(&format!("{col} = {{}}"), value);
    }
    q.push(&format!(" GROUP BY {column} ORDER BY {column}"));
    ex.fetch_all(q.sql(), q.params())
        .await?
        .iter()
        .map(|r| Ok((r.text("v")?, r.i64("n")?)))
        .collect()
}
