//! The SSOT's own tables (`ssot_<kind>`), written once for every kind from
//! its description in [`essp_domain::ssot`].
//!
//! Every write reserves revisions for its rows first (which also serialises
//! writers of one tenant and kind until commit, so revisions become visible
//! in order) and appends an outbox entry in the same transaction, so each
//! committed change is published exactly as it was committed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use essp_domain::FieldError;
use essp_domain::Id;
use essp_domain::ssot::{FieldType, FieldValue, Kind, Record, RowMeta, SsotRow};

use crate::error::Result;
use crate::executor::Executor;
use crate::query::Query;
use crate::value::{Row, Value};

/// Rows per batch (ids and keys per lookup statement).
pub const CHUNK: usize = 500;

/// Rows per multi-row INSERT: about 2,400 values, far below both engines'
/// parameter limits and small enough that one statement's bind message
/// stays a few tens of KiB.
pub(crate) fn rows_per_statement(kind: &Kind) -> usize {
    (2400 / columns(kind).len()).clamp(20, CHUNK)
}

pub(crate) fn columns(kind: &Kind) -> Vec<&'static str> {
    let mut c = vec!["id", "tenant_id"];
    c.extend(kind.fields.iter().map(|f| f.column));
    c.extend(["revision", "created_at", "updated_at", "deleted_at"]);
    c
}

pub(crate) fn column_list(kind: &Kind) -> String {
    columns(kind).join(", ")
}

pub(crate) fn field_value(v: &FieldValue) -> Value {
    match v {
        FieldValue::Text(s) => Value::Text(s.clone()),
        FieldValue::Int(n) => Value::I64(*n),
        FieldValue::Float(f) => (*f).into(),
        FieldValue::Bool(b) => Value::Bool(*b),
    }
}

pub(crate) fn from_row(kind: &Kind, r: &Row) -> Result<SsotRow> {
    let mut record = Record::new();
    for f in kind.fields {
        let v = match f.ty {
            FieldType::Bool => FieldValue::Bool(r.bool(f.column)?),
            FieldType::Int(..) => FieldValue::Int(r.i64(f.column)?),
            FieldType::Float(..) => FieldValue::Float(match r.opt_i64(f.column) {
                Ok(Some(n)) => Some(n as f64),
                _ => r.f64(f.column).ok(),
            }),
            _ => FieldValue::Text(r.text(f.column)?),
        };
        record.insert(f.column, v);
    }
    Ok(SsotRow {
        meta: RowMeta {
            id: r.text("id")?,
            tenant_id: r.text("tenant_id")?,
            revision: r.i64("revision")?,
            created_at: r.timestamp("created_at")?,
            updated_at: r.timestamp("updated_at")?,
            deleted_at: r.opt_timestamp("deleted_at")?,
        },
        record,
    })
}

/// The values of one row in [`columns`] order.
pub(crate) fn row_values(kind: &Kind, row: &SsotRow) -> Vec<Value> {
    let mut v: Vec<Value> = vec![(&row.meta.id).into(), (&row.meta.tenant_id).into()];
    for f in kind.fields {
        v.push(
            row.record
                .get(f.column)
                .map_or(Value::Null(crate::SqlType::Text), field_value),
        );
    }
    v.push(row.meta.revision.into());
    v.push(row.meta.created_at.into());
    v.push(row.meta.updated_at.into());
    v.push(row.meta.deleted_at.into());
    v
}

/// `(…), (…)` placeholders for `rows` rows of `width` values, appended to `q`.
pub(crate) fn push_values(q: &mut Query, rows: Vec<Vec<Value>>) {
    let mut groups = Vec::with_capacity(rows.len());
    for values in rows {
        let ps: Vec<String> = values.into_iter().map(|v| q.bind(v)).collect();
        groups.push(format!("({})", ps.join(", ")));
    }
    q.push(&groups.join(", "));
}

/// Reserves `n` consecutive revisions of `kind` for `tenant`; returns the first.
pub async fn reserve_revisions(ex: &dyn Executor, tenant: &str, kind: &Kind, n: usize) -> Result<i64> {
    let n = n as i64;
    let row = ex
        .fetch_optional(
            "INSERT INTO ssot_revisions (tenant_id, kind, revision) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, kind) DO UPDATE SET revision = ssot_revisions.revision + $3 \
             RETURNING revision",
            &[tenant.into(), kind.name.into(), n.into()],
        )
        .await?;
    let top = match row {
        Some(r) => r.i64("revision")?,
        None => n,
    };
    Ok(top - n + 1)
}

async fn append_outbox(
    ex: &dyn Executor,
    tenant: &str,
    kind: &Kind,
    from: i64,
    to: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    ex.execute(
        "INSERT INTO ssot_outbox (tenant_id, kind, from_revision, to_revision, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[tenant.into(), kind.name.into(), from.into(), to.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// Tracks a bulk load of one kind and refreshes the table's statistics
/// each time it has doubled (where the engine needs it), so every batch's
/// lookups keep using the indexes: O(log n) refreshes for n rows.
#[derive(Debug, Default)]
pub struct BulkLoad {
    written: u64,
    analyzed_at: u64,
}

impl BulkLoad {
    pub async fn wrote(&mut self, ex: &dyn Executor, kind: &Kind, rows: u64) -> Result<()> {
        self.written += rows;
        if ex.dialect().analyze_during_bulk && self.written >= (2 * self.analyzed_at).max(1000) {
            ex.execute(&format!("ANALYZE {}", kind.table), &[]).await?;
            self.analyzed_at = self.written;
        }
        Ok(())
    }
}

/// A row to create or update.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Given by the client (import) or known (update); `None` = match the
    /// natural key, else mint a new id.
    pub id: Option<String>,
    pub record: Record,
    /// For updates through the API: the revision the client last saw.
    pub expected_revision: Option<i64>,
}

/// What to do when a row without an id matches a live row's natural key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnKeyMatch {
    /// Update that row (imports: re-importing a file changes nothing).
    Update,
    /// Refuse (creating through the API).
    Conflict,
}

/// What kind of problem refused a row (how a caller answers it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Input that cannot be applied: a reference to nothing, a repeated key.
    Invalid,
    /// A clash with existing data: a natural key or id already taken.
    Conflict,
    /// The client's `expected_revision` is no longer current.
    Stale,
}

/// Why one row of a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Position in the batch.
    pub index: usize,
    pub error: FieldError,
    pub refusal: Refusal,
}

/// The effect of a batch.
#[derive(Debug, Default, Clone)]
pub struct BatchOutcome {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// The id each row was written under, in batch order.
    pub ids: Vec<String>,
    /// Non-empty = nothing was written.
    pub errors: Vec<RowError>,
}

fn key_of(kind: &Kind, record: &Record) -> Option<Vec<String>> {
    if kind.natural_key.is_empty() {
        return None;
    }
    let parts: Vec<String> = kind
        .natural_key
        .iter()
        .map(|c| {
            record
                .get(c)
                .and_then(FieldValue::as_text)
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    parts.iter().all(|p| !p.is_empty()).then_some(parts)
}

fn key_field(kind: &Kind) -> String {
    kind.natural_key
        .first()
        .and_then(|c| kind.field_by_column(c))
        .map_or("id", |f| f.json)
        .to_owned()
}

/// Live rows of `kind` by natural key, for the keys given.
pub async fn ids_by_key(
    ex: &dyn Executor,
    tenant: &str,
    kind: &Kind,
    keys: &[Vec<String>],
) -> Result<HashMap<Vec<String>, String>> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(CHUNK) {
        let cols = kind.natural_key.join(", ");
        let mut q = Query::new(&format!("SELECT id, {cols} FROM {} WHERE tenant_id = ", kind.table));
        let t = q.bind(tenant);
        // Spelled like the partial unique index's predicate, so it is used.
        let non_empty: String = kind.natural_key.iter().map(|c| format!(" AND {c} <> ''")).collect();
        q.push(&t)
            .push(&format!(" AND deleted_at IS NULL{non_empty} AND ({cols}) IN ("));
        let groups: Vec<String> = chunk
            .iter()
            .map(|key| {
                let ps: Vec<String> = key.iter().map(|v| q.bind(v.as_str())).collect();
                format!("({})", ps.join(", "))
            })
            .collect();
        q.push(&groups.join(", ")).push(")");
        for r in ex.fetch_all(q.sql(), q.params()).await? {
            let key = kind.natural_key.iter().map(|c| r.text(c)).collect::<Result<Vec<_>>>()?;
            out.insert(key, r.text("id")?);
        }
    }
    Ok(out)
}

/// `SELECT <what> FROM <table> WHERE id IN (…)` over `ids`, chunked.
async fn rows_by_ids(
    ex: &dyn Executor,
    table: &str,
    what: &str,
    extra: &str,
    tenant: Option<&str>,
    ids: &[&str],
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut q = Query::new(&format!("SELECT {what} FROM {table} WHERE id IN ("));
        let ps: Vec<String> = chunk.iter().map(|id| q.bind(*id)).collect();
        q.push(&ps.join(", ")).push(")").push(extra);
        if let Some(t) = tenant {
            q.and("tenant_id = {}", t);
        }
        out.extend(ex.fetch_all(q.sql(), q.params()).await?);
    }
    Ok(out)
}

/// Creates or updates a batch of rows of one kind in the caller's
/// transaction: natural keys matched, references checked, tenants kept
/// apart (an id of another tenant is refused, never overwritten), then one
/// multi-row upsert per chunk that leaves identical rows untouched.
pub async fn upsert_batch(
    ex: &dyn Executor,
    tenant: &str,
    kind: &Kind,
    rows: &[Incoming],
    on_key_match: OnKeyMatch,
    now: DateTime<Utc>,
) -> Result<BatchOutcome> {
    let mut out = BatchOutcome::default();
    if rows.is_empty() {
        return Ok(out);
    }
    // Taken first: from here on no other writer of this tenant's `kind` runs.
    let first_revision = reserve_revisions(ex, tenant, kind, rows.len()).await?;
    let mut fail = |index: usize, field: String, message: String, refusal: Refusal| {
        out.errors.push(RowError {
            index,
            error: FieldError { field, message },
            refusal,
        });
    };

    // 1. Natural keys: within the batch and against live rows.
    let keys: Vec<Option<Vec<String>>> = rows.iter().map(|r| key_of(kind, &r.record)).collect();
    let distinct: Vec<Vec<String>> = keys
        .iter()
        .flatten()
        .cloned()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let by_key = ids_by_key(ex, tenant, kind, &distinct).await?;
    let mut seen_keys: HashMap<&Vec<String>, usize> = HashMap::new();
    let mut ids = Vec::with_capacity(rows.len());
    for (i, (row, key)) in rows.iter().zip(&keys).enumerate() {
        let matched = key.as_ref().and_then(|k| by_key.get(k));
        if let Some(k) = key
            && let Some(first) = seen_keys.insert(k, i)
        {
            fail(
                i,
                key_field(kind),
                format!("repeats row {} of this batch ({})", first + 1, k.join(" / ")),
                Refusal::Invalid,
            );
        }
        let id = match (&row.id, matched) {
            (Some(id), Some(other)) if id != other => {
                fail(
                    i,
                    key_field(kind),
                    format!("is already used by {other}"),
                    Refusal::Conflict,
                );
                id.clone()
            }
            (Some(id), _) => id.clone(),
            (None, Some(_)) if on_key_match == OnKeyMatch::Conflict => {
                let k = key.as_ref().map(|k| k.join(" / ")).unwrap_or_default();
                fail(
                    i,
                    key_field(kind),
                    format!("{k} is already used by {}", matched.cloned().unwrap_or_default()),
                    Refusal::Conflict,
                );
                String::new()
            }
            (None, Some(existing)) => existing.clone(),
            (None, None) => Id::new(kind.id_prefix).into_string(),
        };
        ids.push(id);
    }

    // 2. Ids: existing rows of this tenant are updates; another tenant's id is refused.
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
    let mut existing: HashMap<String, i64> = HashMap::new();
    for r in rows_by_ids(ex, kind.table, "id, tenant_id, revision", "", None, &id_refs).await? {
        let id = r.text("id")?;
        if r.text("tenant_id")? == tenant {
            existing.insert(id, r.i64("revision")?);
        } else if let Some(i) = ids.iter().position(|x| *x == id) {
            fail(i, "id".into(), "is already taken".into(), Refusal::Conflict);
        }
    }
    for (i, row) in rows.iter().enumerate() {
        if let Some(expected) = row.expected_revision {
            match existing.get(&ids[i]) {
                Some(rev) if *rev == expected => {}
                Some(rev) => fail(
                    i,
                    "revision".into(),
                    format!("is {rev} now, not {expected}; reload and retry"),
                    Refusal::Stale,
                ),
                None => fail(i, "id".into(), "does not exist".into(), Refusal::Invalid),
            }
        }
    }

    // 3. References to kinds in this domain must name live rows of this tenant.
    for (field, target) in kind.local_refs() {
        let wanted: HashSet<&str> = rows
            .iter()
            .filter_map(|r| r.record.get(field.column).and_then(FieldValue::as_text))
            .filter(|s| !s.is_empty())
            .collect();
        let wanted: Vec<&str> = wanted.into_iter().collect();
        let found: HashSet<String> =
            rows_by_ids(ex, target.table, "id", " AND deleted_at IS NULL", Some(tenant), &wanted)
                .await?
                .iter()
                .map(|r| r.text("id"))
                .collect::<Result<_>>()?;
        for (i, r) in rows.iter().enumerate() {
            if let Some(v) = r.record.get(field.column).and_then(FieldValue::as_text)
                && !v.is_empty()
                && !found.contains(v)
            {
                fail(
                    i,
                    field.json.into(),
                    format!("names no existing {} ({v})", target.name),
                    Refusal::Invalid,
                );
            }
        }
    }
    if !out.errors.is_empty() {
        out.errors.sort_by_key(|e| e.index);
        return Ok(out);
    }

    // 4. Write, chunk by chunk; identical rows are left alone.
    let cols = columns(kind);
    let dialect = ex.dialect();
    let set: Vec<String> = kind
        .fields
        .iter()
        .map(|f| format!("{c} = excluded.{c}", c = f.column))
        .chain(
            [
                "revision = excluded.revision",
                "updated_at = excluded.updated_at",
                "deleted_at = NULL",
            ]
            .map(String::from),
        )
        .collect();
    let changed: Vec<String> = kind
        .fields
        .iter()
        .map(|f| {
            format!(
                "{t}.{c} {d} excluded.{c}",
                t = kind.table,
                c = f.column,
                d = dialect.distinct_from
            )
        })
        .chain([format!("{}.deleted_at IS NOT NULL", kind.table)])
        .collect();
    let mut written: HashSet<String> = HashSet::new();
    let per_statement = rows_per_statement(kind);
    for (chunk_no, chunk) in rows.chunks(per_statement).enumerate() {
        let base = chunk_no * per_statement;
        let values: Vec<Vec<Value>> = chunk
            .iter()
            .enumerate()
            .map(|(j, r)| {
                let i = base + j;
                row_values(
                    kind,
                    &SsotRow {
                        meta: RowMeta {
                            id: ids[i].clone(),
                            tenant_id: tenant.to_owned(),
                            revision: first_revision + i as i64,
                            created_at: now,
                            updated_at: now,
                            deleted_at: None,
                        },
                        record: r.record.clone(),
                    },
                )
            })
            .collect();
        let mut q = Query::new(&format!("INSERT INTO {} ({}) VALUES ", kind.table, cols.join(", ")));
        push_values(&mut q, values);
        q.push(&format!(
            " ON CONFLICT (id) DO UPDATE SET {} WHERE {t}.tenant_id = excluded.tenant_id AND ({}) RETURNING id",
            set.join(", "),
            changed.join(" OR "),
            t = kind.table
        ));
        for r in ex.fetch_all(q.sql(), q.params()).await? {
            written.insert(r.text("id")?);
        }
    }
    for id in &ids {
        match (written.contains(id), existing.contains_key(id)) {
            (true, false) => out.created += 1,
            (true, true) => out.updated += 1,
            (false, _) => out.unchanged += 1,
        }
    }
    if !written.is_empty() {
        let last = first_revision + rows.len() as i64 - 1;
        append_outbox(ex, tenant, kind, first_revision, last, now).await?;
    }
    out.ids = ids;
    Ok(out)
}

/// Why a delete was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteRefused {
    NotFound,
    /// The client's revision is stale.
    Stale {
        current: i64,
    },
    /// Live rows still point at it.
    InUse {
        kind: &'static str,
        count: i64,
    },
}

/// Turns a live row into a tombstone (a new revision, `deleted_at` set), so
/// the deletion reaches every copy. Refused while rows of the same domain
/// still refer to it.
pub async fn tombstone(
    ex: &dyn Executor,
    tenant: &str,
    kind: &Kind,
    id: &str,
    expected_revision: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Result<SsotRow, DeleteRefused>> {
    let revision = reserve_revisions(ex, tenant, kind, 1).await?;
    let Some(current) = get(ex, tenant, kind, id).await?.filter(|r| r.meta.deleted_at.is_none()) else {
        return Ok(Err(DeleteRefused::NotFound));
    };
    if let Some(expected) = expected_revision
        && expected != current.meta.revision
    {
        return Ok(Err(DeleteRefused::Stale {
            current: current.meta.revision,
        }));
    }
    for child in essp_domain::ssot::KINDS {
        for (field, target) in child.local_refs() {
            if target.name != kind.name {
                continue;
            }
            let sql = format!(
                "SELECT COUNT(*) AS n FROM {} WHERE tenant_id = $1 AND {} = $2 AND deleted_at IS NULL",
                child.table, field.column
            );
            let n = ex.count(&sql, &[tenant.into(), id.into()]).await?;
            if n > 0 {
                return Ok(Err(DeleteRefused::InUse {
                    kind: child.name,
                    count: n,
                }));
            }
        }
    }
    let sql = format!(
        "UPDATE {} SET deleted_at = $1, updated_at = $1, revision = $2 WHERE tenant_id = $3 AND id = $4 RETURNING {}",
        kind.table,
        column_list(kind)
    );
    let row = ex
        .fetch_optional(&sql, &[now.into(), revision.into(), tenant.into(), id.into()])
        .await?;
    append_outbox(ex, tenant, kind, revision, revision, now).await?;
    match row {
        Some(r) => Ok(Ok(from_row(kind, &r)?)),
        None => Ok(Err(DeleteRefused::NotFound)),
    }
}

/// One row by id, tombstones included.
pub async fn get(ex: &dyn Executor, tenant: &str, kind: &Kind, id: &str) -> Result<Option<SsotRow>> {
    get_in(ex, kind.table, tenant, kind, id).await
}

pub(crate) async fn get_in(
    ex: &dyn Executor,
    table: &str,
    tenant: &str,
    kind: &Kind,
    id: &str,
) -> Result<Option<SsotRow>> {
    let sql = format!(
        "SELECT {} FROM {table} WHERE tenant_id = $1 AND id = $2",
        column_list(kind)
    );
    ex.fetch_optional(&sql, &[tenant.into(), id.into()])
        .await?
        .map(|r| from_row(kind, &r))
        .transpose()
}

/// Live rows whose `column` equals `value` (lookups by serial, MAC, PUK…).
pub async fn find_by(ex: &dyn Executor, tenant: &str, kind: &Kind, column: &str, value: &str) -> Result<Vec<SsotRow>> {
    find_in(ex, kind.table, tenant, kind, column, value).await
}

pub(crate) async fn find_in(
    ex: &dyn Executor,
    table: &str,
    tenant: &str,
    kind: &Kind,
    column: &str,
    value: &str,
) -> Result<Vec<SsotRow>> {
    if kind.field_by_column(column).is_none() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {} FROM {table} WHERE tenant_id = $1 AND {column} = $2 AND deleted_at IS NULL ORDER BY id LIMIT 50",
        column_list(kind)
    );
    ex.fetch_all(&sql, &[tenant.into(), value.into()])
        .await?
        .iter()
        .map(|r| from_row(kind, r))
        .collect()
}

/// A page of the change feed: rows changed after `after` (a revision), in
/// revision order, optionally only those updated since a time.
#[derive(Debug, Clone, Default)]
pub struct FeedQuery {
    pub after: i64,
    pub updated_since: Option<DateTime<Utc>>,
    pub include_deleted: bool,
    /// Column = value filters (only columns of the kind).
    pub equals: Vec<(&'static str, String)>,
    pub limit: u32,
}

/// The change feed itself; `Some(next_after)` when another page follows.
pub async fn changes(
    ex: &dyn Executor,
    tenant: &str,
    kind: &Kind,
    f: &FeedQuery,
) -> Result<(Vec<SsotRow>, Option<i64>)> {
    let mut q = Query::new(&format!(
        "SELECT {} FROM {} WHERE tenant_id = ",
        column_list(kind),
        kind.table
    ));
    let t = q.bind(tenant);
    q.push(&t);
    q.and("revision > {}", f.after);
    if let Some(since) = f.updated_since {
        q.and("updated_at >= {}", since);
    }
    if !f.include_deleted {
        q.push(" AND deleted_at IS NULL");
    }
    for (column, value) in &f.equals {
        q.and(&format!("{column} = {{}}"), value.as_str());
    }
    let n = q.bind(i64::from(f.limit) + 1);
    q.push(&format!(" ORDER BY revision LIMIT {n}"));
    let mut rows = ex
        .fetch_all(q.sql(), q.params())
        .await?
        .iter()
        .map(|r| from_row(kind, r))
        .collect::<Result<Vec<_>>>()?;
    let next = if rows.len() > f.limit as usize {
        rows.truncate(f.limit as usize);
        rows.last().map(|r| r.meta.revision)
    } else {
        None
    };
    Ok((rows, next))
}

/// Rows of `kind` whose revision lies in `from..=to` (what one outbox
/// entry announces), in pages after `after`.
pub async fn revisions(
    ex: &dyn Executor,
    tenant: &str,
    kind: &Kind,
    after: i64,
    to: i64,
    limit: u32,
) -> Result<Vec<SsotRow>> {
    let sql = format!(
        "SELECT {} FROM {} WHERE tenant_id = $1 AND revision > $2 AND revision <= $3 ORDER BY revision LIMIT $4",
        column_list(kind),
        kind.table
    );
    ex.fetch_all(&sql, &[tenant.into(), after.into(), to.into(), i64::from(limit).into()])
        .await?
        .iter()
        .map(|r| from_row(kind, r))
        .collect()
}

/// Tenants that have SSOT data (for reconciling every tenant).
pub async fn tenants(ex: &dyn Executor) -> Result<Vec<String>> {
    ex.fetch_all("SELECT DISTINCT tenant_id FROM ssot_revisions ORDER BY tenant_id", &[])
        .await?
        .iter()
        .map(|r| r.text("tenant_id"))
        .collect()
}

/// One outbox entry: revisions `from..=to` of a tenant's kind to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub tenant_id: String,
    pub kind: String,
    pub from_revision: i64,
    pub to_revision: i64,
    pub created_at: DateTime<Utc>,
}

/// The oldest unpublished entries.
pub async fn outbox_pending(ex: &dyn Executor, limit: u32) -> Result<Vec<OutboxEntry>> {
    ex.fetch_all(
        "SELECT id, tenant_id, kind, from_revision, to_revision, created_at FROM ssot_outbox ORDER BY id LIMIT $1",
        &[i64::from(limit).into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(OutboxEntry {
            id: r.i64("id")?,
            tenant_id: r.text("tenant_id")?,
            kind: r.text("kind")?,
            from_revision: r.i64("from_revision")?,
            to_revision: r.i64("to_revision")?,
            created_at: r.timestamp("created_at")?,
        })
    })
    .collect()
}

/// Removes an entry once every message it produced was acknowledged.
pub async fn outbox_done(ex: &dyn Executor, id: i64) -> Result<()> {
    ex.execute("DELETE FROM ssot_outbox WHERE id = $1", &[id.into()])
        .await?;
    Ok(())
}

/// Records a failed publish attempt (shown by status, retried later).
pub async fn outbox_failed(ex: &dyn Executor, id: i64, error: &str) -> Result<()> {
    ex.execute(
        "UPDATE ssot_outbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2",
        &[error.into(), id.into()],
    )
    .await?;
    Ok(())
}

/// Entries waiting to be published (for the outbox-depth metric).
pub async fn outbox_depth(ex: &dyn Executor) -> Result<i64> {
    ex.count("SELECT COUNT(*) AS n FROM ssot_outbox", &[]).await
}
