//! A replicated row as canonical JSON, the same on both engines: what
//! capture diffs, envelopes carry, merges compare and digests hash.

use essp_sync_proto::RowChange;
use essp_sync_proto::envelope::{Clocks, Fields};

use super::catalog::{Column, Table};
use crate::error::{Result, StoreError};
use crate::executor::Executor;
use crate::value::{SqlType, Value, parse_timestamp, sqlite_timestamp};

/// One column's stored value as canonical JSON: timestamps as fixed-width
/// RFC 3339 UTC text, booleans as booleans (SQLite stores 0/1), JSON
/// documents as documents (SQLite stores text).
pub fn to_json(col: &Column, v: &Value) -> Result<serde_json::Value> {
    use serde_json::Value as J;
    let bad = || StoreError::decode(col.name, format!("unexpected {v:?} for a {:?} column", col.ty));
    Ok(match (col.ty, v) {
        (_, Value::Null(_)) => J::Null,
        (SqlType::Text, Value::Text(s)) => J::String(s.clone()),
        (SqlType::I64, Value::I64(n)) => J::from(*n),
        (SqlType::F64, Value::F64(n)) => J::from(*n),
        (SqlType::F64, Value::I64(n)) => J::from(*n as f64),
        (SqlType::Bool, Value::Bool(b)) => J::Bool(*b),
        (SqlType::Bool, Value::I64(n)) => J::Bool(*n != 0),
        (SqlType::Timestamp, Value::Timestamp(t)) => J::String(sqlite_timestamp(t)),
        (SqlType::Timestamp, Value::Text(s)) => J::String(sqlite_timestamp(&parse_timestamp(col.name, s)?)),
        (SqlType::Json, Value::Json(j)) => j.clone(),
        (SqlType::Json, Value::Text(s)) => {
            serde_json::from_str(s).map_err(|e| StoreError::decode(col.name, e.to_string()))?
        }
        _ => return Err(bad()),
    })
}

/// A canonical JSON value back to a bind parameter of its column's type.
pub fn to_param(col: &Column, v: &serde_json::Value) -> Result<Value> {
    use serde_json::Value as J;
    let bad = || StoreError::InvalidValue(format!("field {} is not a valid {:?}: {v}", col.name, col.ty));
    Ok(match (col.ty, v) {
        (ty, J::Null) => Value::Null(ty),
        (SqlType::Text, J::String(s)) => Value::Text(s.clone()),
        (SqlType::I64, J::Number(n)) => Value::I64(n.as_i64().ok_or_else(bad)?),
        (SqlType::F64, J::Number(n)) => Value::F64(n.as_f64().ok_or_else(bad)?),
        (SqlType::Bool, J::Bool(b)) => Value::Bool(*b),
        (SqlType::Timestamp, J::String(s)) => Value::Timestamp(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| bad())?
                .with_timezone(&chrono::Utc),
        ),
        (SqlType::Json, j) => Value::Json(j.clone()),
        _ => return Err(bad()),
    })
}

fn select_list(table: &Table) -> String {
    table.columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// The row's replicated columns as they are now; `None` when it does not exist.
pub async fn read(ex: &dyn Executor, table: &Table, tenant: &str, id: &str) -> Result<Option<Fields>> {
    read_one(ex, table, "tenant_id = $1 AND id = $2", &[tenant.into(), id.into()]).await
}

/// [`read`] by id alone, for a table whose ids are unique on their own
/// (the writer of such a row need not name its tenant).
pub async fn read_by_id(ex: &dyn Executor, table: &Table, id: &str) -> Result<Option<Fields>> {
    if table.tenant_keyed {
        return Err(StoreError::Other(format!(
            "{} rows are unique only within a tenant: name the tenant",
            table.name
        )));
    }
    read_one(ex, table, "id = $1", &[id.into()]).await
}

async fn read_one(ex: &dyn Executor, table: &Table, cond: &str, params: &[Value]) -> Result<Option<Fields>> {
    let sql = format!("SELECT {} FROM {} WHERE {cond}", select_list(table), table.name);
    let Some(row) = ex.fetch_optional(&sql, params).await? else {
        return Ok(None);
    };
    image_of(table, &row).map(Some)
}

/// The rows of one tenant among `ids` that also satisfy `also` (SQL over
/// the table aliased `r`; `$1` is the tenant, the ids follow `extra`).
pub async fn read_ids(
    ex: &dyn Executor,
    table: &Table,
    tenant: &str,
    ids: &[&str],
    also: &str,
    extra: &[Value],
) -> Result<Vec<Fields>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut params: Vec<Value> = vec![tenant.into()];
    params.extend_from_slice(extra);
    let marks = id_marks(params.len() + 1, ids.len());
    params.extend(ids.iter().map(|id| Value::from(*id)));
    let sql = format!(
        "SELECT {} FROM {} r WHERE r.tenant_id = $1 AND r.id IN ({marks}) AND ({also})",
        select_list(table),
        table.name
    );
    ex.fetch_all(&sql, &params)
        .await?
        .iter()
        .map(|r| image_of(table, r))
        .collect()
}

/// `$from, $from+1, …` for `n` parameters.
pub(crate) fn id_marks(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Every replicated column of one fetched row.
pub fn image_of(table: &Table, row: &crate::value::Row) -> Result<Fields> {
    table
        .columns
        .iter()
        .zip(row.values())
        .map(|(c, v)| Ok((c.name.to_owned(), to_json(c, v)?)))
        .collect()
}

/// A row image's id ("" when it has none).
pub fn id_of(image: &Fields) -> &str {
    image.get("id").and_then(|v| v.as_str()).unwrap_or_default()
}

/// A page of a table's rows in one school: up to `limit` rows with ids
/// after `after`, ordered by id (a snapshot page, a digest's page).
pub struct Page<'a> {
    pub table: &'a Table,
    pub tenant: &'a str,
    pub school: &'a str,
    pub after: &'a str,
    pub limit: i64,
}

impl Page<'_> {
    /// The page's rows, every replicated column.
    pub async fn rows(&self, ex: &dyn Executor) -> Result<Vec<Fields>> {
        self.fetch(ex, &select_list(self.table))
            .await?
            .iter()
            .map(|r| image_of(self.table, r))
            .collect()
    }

    /// The page's ids.
    pub async fn ids(&self, ex: &dyn Executor) -> Result<Vec<String>> {
        self.fetch(ex, "id").await?.iter().map(|r| r.text("id")).collect()
    }

    /// The rows among `ids` that are (still) in the page's school, by id.
    pub async fn rows_among(&self, ex: &dyn Executor, ids: &[&str]) -> Result<Vec<Fields>> {
        let (also, extra) = match self.table.school_column {
            None => ("1 = 1".to_owned(), Vec::new()),
            Some(column) => (format!("r.{column} = $2"), vec![Value::from(self.school)]),
        };
        let mut rows = read_ids(ex, self.table, self.tenant, ids, &also, &extra).await?;
        rows.sort_by(|a, b| id_of(a).cmp(id_of(b)));
        Ok(rows)
    }

    /// `SELECT {what}` of the page's rows.
    async fn fetch(&self, ex: &dyn Executor, what: &str) -> Result<Vec<crate::value::Row>> {
        // Pages walk the primary key, so reading a whole school is linear:
        // an index led by the tenant or the school would sort the school's
        // rows again for every page.
        let not_indexed = ex.dialect().not_indexed;
        let tenant_cond = if self.table.tenant_keyed {
            "tenant_id = $1".to_owned()
        } else {
            format!("{not_indexed}tenant_id = $1")
        };
        let school_cond = match self.table.school_column {
            // Tenant-wide: every row, still naming $2 so both engines are
            // handed the same parameters.
            None => "$2 = $2".to_owned(),
            Some(column) => format!("{not_indexed}{column} = $2"),
        };
        let sql = format!(
            "SELECT {what} FROM {} WHERE {tenant_cond} AND {school_cond} AND id > $3 ORDER BY id LIMIT $4",
            self.table.name,
        );
        let params = [
            self.tenant.into(),
            self.school.into(),
            self.after.into(),
            self.limit.into(),
        ];
        ex.fetch_all(&sql, &params).await
    }
}

/// Inserts a whole row (every replicated column the image holds).
pub async fn insert(ex: &dyn Executor, table: &Table, image: &Fields) -> Result<()> {
    let mut names = Vec::new();
    let mut params = Vec::new();
    for col in table.columns {
        if let Some(v) = image.get(col.name) {
            names.push(col.name);
            params.push(to_param(col, v)?);
        }
    }
    let marks: Vec<String> = (1..=params.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO NOTHING",
        table.name,
        names.join(", "),
        marks.join(", "),
        table.key_columns()
    );
    ex.execute(&sql, &params).await?;
    Ok(())
}

/// A whole row's values (its image holds every replicated column), in
/// the order [`insert_rows`] binds them.
pub fn values(table: &Table, image: &Fields) -> Result<Vec<Value>> {
    table
        .columns
        .iter()
        .map(|col| to_param(col, image.get(col.name).unwrap_or(&serde_json::Value::Null)))
        .collect()
}

/// Inserts `rows` whole rows with one statement, `params` being their
/// [`values`] one after the other; rows whose key is already there are
/// left alone. Returns the ids of the rows it inserted.
pub async fn insert_rows(ex: &dyn Executor, table: &Table, rows: usize, params: Vec<Value>) -> Result<Vec<String>> {
    if rows == 0 {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) DO NOTHING RETURNING id",
        table.name,
        names.join(", "),
        tuples(rows, names.len()),
        table.key_columns()
    );
    ex.fetch_all_owned(&sql, params)
        .await?
        .iter()
        .map(|r| r.text("id"))
        .collect()
}

/// `($1, …, $width), ($width+1, …), …` for `rows` tuples.
pub(crate) fn tuples(rows: usize, width: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(rows * width * 6);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            let sep = if c == 0 { "" } else { ", " };
            let _ = write!(out, "{sep}${}", r * width + c + 1);
        }
        out.push(')');
    }
    out
}

/// Sets some columns of an existing row.
pub async fn update(ex: &dyn Executor, table: &Table, tenant: &str, id: &str, set: &Fields) -> Result<()> {
    if set.is_empty() {
        return Ok(());
    }
    let mut assigns = Vec::new();
    let mut params = Vec::new();
    for (name, v) in set {
        let col = table
            .column(name)
            .ok_or_else(|| StoreError::InvalidValue(format!("{} has no replicated column {name}", table.name)))?;
        params.push(to_param(col, v)?);
        assigns.push(format!("{name} = ${}", params.len()));
    }
    if table.local_only.contains(&"version") {
        assigns.push("version = version + 1".into());
    }
    params.push(tenant.into());
    params.push(id.into());
    let sql = format!(
        "UPDATE {} SET {} WHERE tenant_id = ${} AND id = ${}",
        table.name,
        assigns.join(", "),
        params.len() - 1,
        params.len()
    );
    ex.execute(&sql, &params).await?;
    Ok(())
}

/// The sync bookkeeping of one row: its last image and field clocks (with
/// any fields a newer release sent that this schema lacks: [`is_unknown`]).
#[derive(Debug, Clone, Default)]
pub struct Tracked {
    pub image: Fields,
    pub clocks: Clocks,
}

pub async fn tracked(ex: &dyn Executor, table: &str, tenant: &str, id: &str) -> Result<Option<Tracked>> {
    ex.fetch_optional(
        "SELECT image, clocks FROM sync_rows WHERE table_name = $1 AND tenant_id = $2 AND row_id = $3",
        &[table.into(), tenant.into(), id.into()],
    )
    .await?
    .as_ref()
    .map(tracked_of)
    .transpose()
}

/// Deletes a row (central-owned tables follow central's deletions) and
/// forgets its bookkeeping.
pub async fn delete(ex: &dyn Executor, table: &Table, tenant: &str, id: &str) -> Result<()> {
    ex.execute(
        &format!("DELETE FROM {} WHERE tenant_id = $1 AND id = $2", table.name),
        &[tenant.into(), id.into()],
    )
    .await?;
    untrack(ex, table.name, tenant, id).await
}

pub async fn untrack(ex: &dyn Executor, table: &str, tenant: &str, id: &str) -> Result<()> {
    ex.execute(
        "DELETE FROM sync_rows WHERE table_name = $1 AND tenant_id = $2 AND row_id = $3",
        &[table.into(), tenant.into(), id.into()],
    )
    .await?;
    Ok(())
}

/// The bookkeeping of a row that arrived whole (see [`arrived`]), written
/// straight from the change, no row copied, as [`track_rows`] binds it;
/// `None` for a table that keeps none.
pub fn arrival(table: &Table, c: &RowChange) -> Result<Option<Vec<Value>>> {
    if !tracks(table) {
        return Ok(None);
    }
    let kept = |k: &String| arrived_keeps(table, &c.clocks, k);
    Ok(Some(vec![
        table.name.into(),
        c.row_id.as_str().into(),
        c.fields
            .get("tenant_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .into(),
        table.school_of(&c.fields).into(),
        json_text(&Filtered(&c.fields, &kept))?.into(),
        json_text(&Filtered(&c.clocks, &kept))?.into(),
    ]))
}

/// Writes the bookkeeping of `rows` rows with one statement, `params`
/// being their [`arrival`]s one after the other.
pub async fn track_rows(ex: &dyn Executor, rows: usize, params: Vec<Value>) -> Result<()> {
    if rows == 0 {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO sync_rows (table_name, row_id, tenant_id, school_id, image, clocks) VALUES {} \
         ON CONFLICT (table_name, tenant_id, row_id) DO UPDATE SET image = excluded.image, clocks = excluded.clocks",
        tuples(rows, 6)
    );
    ex.execute_owned(&sql, params).await?;
    Ok(())
}

/// The entries of a map whose keys pass a test, serialised as a map.
struct Filtered<'a, V>(&'a std::collections::BTreeMap<String, V>, &'a dyn Fn(&String) -> bool);

impl<V: serde::Serialize> serde::Serialize for Filtered<'_, V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().filter(|(k, _)| (self.1)(k)))
    }
}

/// Whether rows of `table` keep sync bookkeeping. Append-only rows never
/// merge field by field (they are inserted once, if absent), so their image
/// and clocks would only double the storage of the audit trail.
fn tracks(table: &Table) -> bool {
    table.class != super::catalog::Class::AppendOnly
}

/// The bookkeeping of many rows of one table, by id (rows without
/// bookkeeping are absent).
pub async fn tracked_many(
    ex: &dyn Executor,
    table: &str,
    tenant: &str,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, Tracked>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let mut params: Vec<Value> = vec![table.into(), tenant.into()];
    params.extend(ids.iter().map(|id| Value::from(*id)));
    ex.fetch_all(
        &format!(
            "SELECT row_id, image, clocks FROM sync_rows WHERE table_name = $1 AND tenant_id = $2 AND row_id IN ({})",
            id_marks(3, ids.len())
        ),
        &params,
    )
    .await?
    .iter()
    .map(|r| Ok((r.text("row_id")?, tracked_of(r)?)))
    .collect()
}

fn tracked_of(r: &crate::value::Row) -> Result<Tracked> {
    let parse = |col: &str| -> Result<serde_json::Value> { r.json(col) };
    Ok(Tracked {
        image: serde_json::from_value(parse("image")?).map_err(|e| StoreError::decode("image", e.to_string()))?,
        clocks: serde_json::from_value(parse("clocks")?).map_err(|e| StoreError::decode("clocks", e.to_string()))?,
    })
}

/// A field a sender's row holds that this schema has no column for (a
/// newer release added it), as opposed to one of our local-only columns.
/// Such fields are kept in the row's bookkeeping and sent on with the row
/// (SYNC.md guarantee 10): a newer node downstream still gets them.
pub fn is_unknown(table: &Table, field: &str) -> bool {
    table.column(field).is_none() && !table.local_only.contains(&field)
}

/// The unknown fields (see [`is_unknown`]) of `fields`.
pub fn unknown_of<'a>(
    table: &'a Table,
    fields: &'a Fields,
) -> impl Iterator<Item = (&'a String, &'a serde_json::Value)> + 'a {
    fields.iter().filter(|(k, _)| is_unknown(table, k))
}

/// The bookkeeping a row that arrived whole starts with: its replicated
/// columns and its unknown fields, each with its clock (a field without a
/// clock is not kept: nothing could order a later write of it).
pub fn arrived(table: &Table, fields: &Fields, clocks: &Clocks) -> Tracked {
    let kept = |k: &String| arrived_keeps(table, clocks, k);
    Tracked {
        image: fields
            .iter()
            .filter(|(k, _)| kept(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        clocks: clocks
            .iter()
            .filter(|(k, _)| kept(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// Whether the bookkeeping of a row that arrived keeps field `k`: a
/// replicated column or an unknown field (anything but our local-only
/// columns), with a clock.
fn arrived_keeps(table: &Table, clocks: &Clocks, k: &str) -> bool {
    !table.local_only.contains(&k) && clocks.contains_key(k)
}

pub async fn track(ex: &dyn Executor, table: &Table, id: &str, t: &Tracked) -> Result<()> {
    if !tracks(table) {
        return Ok(());
    }
    let tenant = t.image.get("tenant_id").and_then(|v| v.as_str()).unwrap_or_default();
    ex.execute(
        "INSERT INTO sync_rows (table_name, row_id, tenant_id, school_id, image, clocks) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (table_name, tenant_id, row_id) DO UPDATE SET image = excluded.image, clocks = excluded.clocks",
        &[
            table.name.into(),
            id.into(),
            tenant.into(),
            table.school_of(&t.image).into(),
            json_text(&t.image)?.into(),
            json_text(&t.clocks)?.into(),
        ],
    )
    .await?;
    Ok(())
}

/// A value as JSON text.
pub fn json_text<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(format!("cannot encode JSON: {e}")))
}
