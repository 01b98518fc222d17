//! Capture: a replicated write appends its change to the outbox in the
//! writer's own transaction (SYNC.md guarantee 1), stamped with a hybrid
//! logical clock per changed field.
//!
//! Which nodes capture: an edge captures every replicated write (it all
//! goes up); central captures only the rows of schools that have an
//! enrolled edge (they go down to it). A node that syncs with nobody pays
//! one indexed lookup per write and keeps no bookkeeping.

use essp_sync_proto::{Hlc, HlcClock, RowChange};

use super::catalog::{self, Table};
use super::row::{self, Tracked};
use super::{blobs, edges, outbox};
use crate::error::{Result, StoreError};
use crate::executor::Executor;

/// The name central stamps its clocks with. Edges use their school id.
pub const CENTRAL_NODE: &str = "central";

/// Records the current state of row `id` of a replicated table: call it in
/// the transaction that wrote the row, after the write. (Rows of tables
/// keyed by tenant, the SSOT snapshots, are captured by [`capture_rows`].)
pub async fn capture(ex: &dyn Executor, table: &str, id: &str) -> Result<()> {
    let t = named(table)?;
    let Some(node) = capturing_node(ex, t).await? else {
        return Ok(());
    };
    let Some(image) = row::read_by_id(ex, t, id).await? else {
        return Ok(());
    };
    record(ex, t, &node, image, None).await
}

/// [`capture`] of a row of tenant `tenant`, with the new stamp also
/// sorting after `not_before` (a clock of another node this write answers).
pub(crate) async fn capture_after(
    ex: &dyn Executor,
    table: &str,
    tenant: &str,
    id: &str,
    not_before: Option<&Hlc>,
) -> Result<()> {
    let t = named(table)?;
    let Some(node) = capturing_node(ex, t).await? else {
        return Ok(());
    };
    let Some(image) = row::read(ex, t, tenant, id).await? else {
        return Ok(());
    };
    record(ex, t, &node, image, not_before).await
}

/// Central's capture of bulk writes to a central-owned table by one
/// tenant (the SSOT snapshots, written in multi-row statements): a tenant
/// no edge syncs with costs one indexed lookup ([`BulkCapture::begin`]);
/// otherwise the rows an edge holds or should hold are found with a query
/// per batch, and only they cost the per-row work of [`capture`].
pub struct BulkCapture {
    table: &'static Table,
    tenant: String,
    node: Node,
    /// Each written row's school before its first write (rows can change
    /// school: an SSOT device handed to another school).
    before: std::collections::HashMap<String, String>,
}

impl BulkCapture {
    /// `None` when nothing this node writes to `table` for `tenant` is
    /// captured (no edge of the tenant; or this node is an edge, which
    /// never captures central-owned rows).
    pub async fn begin(ex: &dyn Executor, table: &str, tenant: &str) -> Result<Option<BulkCapture>> {
        let t = named(table)?;
        if !edges::tenant_has_edges(ex, tenant).await? {
            return Ok(None);
        }
        let Some(node) = capturing_node(ex, t).await? else {
            return Ok(None);
        };
        Ok(Some(BulkCapture {
            table: t,
            tenant: tenant.to_owned(),
            node,
            before: Default::default(),
        }))
    }

    /// Call before writing rows `ids` (in the same transaction).
    pub async fn before(&mut self, ex: &dyn Executor, ids: &[&str]) -> Result<()> {
        for (id, school) in self.schools(ex, ids).await? {
            self.before.entry(id).or_insert(school);
        }
        Ok(())
    }

    /// Call after the write with the rows it changed (in the same
    /// transaction): a row that left a school with an edge is deleted
    /// there; every row an edge holds is captured.
    pub async fn changed(&self, ex: &dyn Executor, ids: &[&str]) -> Result<()> {
        let (t, tenant) = (self.table, self.tenant.as_str());
        for chunk in ids.chunks(BULK_CHUNK) {
            for (id, school) in self.schools(ex, chunk).await? {
                if let Some(old) = self.before.get(&id).filter(|old| **old != school) {
                    self.left(ex, &id, old).await?;
                }
            }
            let with_edge = match t.school_column {
                None => "1 = 1".to_owned(),
                Some(column) => format!(
                    "EXISTS (SELECT 1 FROM sync_edges e WHERE e.tenant_id = r.tenant_id AND e.school_id = r.{column})"
                ),
            };
            for image in row::read_ids(ex, t, tenant, chunk, &with_edge, &[]).await? {
                record(ex, t, &self.node, image, None).await?;
            }
        }
        Ok(())
    }

    /// The school of each of `ids` now (none for tenant-wide rows).
    async fn schools(&self, ex: &dyn Executor, ids: &[&str]) -> Result<Vec<(String, String)>> {
        let Some(column) = self.table.school_column else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BULK_CHUNK) {
            let mut params = vec![self.tenant.as_str().into()];
            params.extend(chunk.iter().map(|id| crate::value::Value::from(*id)));
            let sql = format!(
                "SELECT id, {column} AS school FROM {} WHERE tenant_id = $1 AND id IN ({})",
                self.table.name,
                row::id_marks(2, chunk.len())
            );
            for r in ex.fetch_all(&sql, &params).await? {
                out.push((r.text("id")?, r.text("school")?));
            }
        }
        Ok(out)
    }

    /// Row `id` moved away from school `old`: that school's edge (if it has
    /// one) drops its copy, and the row is tracked afresh for its new one.
    async fn left(&self, ex: &dyn Executor, id: &str, old: &str) -> Result<()> {
        let (t, tenant) = (self.table, self.tenant.as_str());
        row::untrack(ex, t.name, tenant, id).await?;
        if !edges::is_enrolled(ex, tenant, old).await? {
            return Ok(());
        }
        let Some(mut image) = row::read(ex, t, tenant, id).await? else {
            return Ok(());
        };
        // The deletion names the school it is for (the receiver checks it).
        if let Some(column) = t.school_column {
            image.insert(column.to_owned(), old.into());
        }
        let gone = deletion(t, id, &self.node, image)?;
        outbox::append(ex, tenant, old, &gone).await
    }
}

/// Rows per statement of a bulk capture's reads.
const BULK_CHUNK: usize = 500;

fn named(table: &str) -> Result<&'static Table> {
    catalog::table(table).ok_or_else(|| StoreError::Other(format!("{table} is not a replicated table")))
}

/// Captures a row's new state `image` as written by `node` (see [`capture`]).
async fn record(
    ex: &dyn Executor,
    t: &Table,
    node: &Node,
    image: essp_sync_proto::envelope::Fields,
    not_before: Option<&Hlc>,
) -> Result<()> {
    let (tenant, school) = scope(t, &image);
    let id = row::id_of(&image).to_owned();
    if node.name == CENTRAL_NODE && !central_captures(ex, t, &tenant, &school).await? {
        return Ok(());
    }
    if let Some(key_column) = t.blob_key {
        // A row naming a blob replicates once the blob is here; an edge
        // then queues the blob itself for upload.
        if !blobs::available(ex, t, &id).await? {
            return Ok(());
        }
        if node.name != CENTRAL_NODE {
            blobs::enqueue(ex, key_column, &image, blobs::Direction::Up).await?;
        }
    }
    let prev = row::tracked(ex, t.name, &tenant, &id).await?.unwrap_or_default();
    // Fields a newer release sent that this schema lacks travel on with
    // the row, unchanged (their clocks are the sender's).
    let mut image = image;
    image.extend(row::unknown_of(t, &prev.image).map(|(k, v)| (k.clone(), v.clone())));
    let Some(change) = stamp(t, &id, &prev, image, &node.name, node.now_ms(), not_before)? else {
        return Ok(());
    };
    row::track(
        ex,
        t,
        &id,
        &Tracked {
            image: change.fields.clone(),
            clocks: change.clocks.clone(),
        },
    )
    .await?;
    outbox::append(ex, &tenant, &school, &change).await
}

/// Records that row `id` of a central-owned table is about to be deleted:
/// call it in the deleting transaction, before the delete.
pub async fn capture_delete(ex: &dyn Executor, table: &str, id: &str) -> Result<()> {
    let t = named(table)?;
    let Some(node) = capturing_node(ex, t).await? else {
        return Ok(());
    };
    let Some(image) = row::read_by_id(ex, t, id).await? else {
        return Ok(());
    };
    let (tenant, school) = scope(t, &image);
    row::untrack(ex, t.name, &tenant, id).await?;
    if !central_captures(ex, t, &tenant, &school).await? {
        return Ok(());
    }
    let change = deletion(t, id, &node, image)?;
    outbox::append(ex, &tenant, &school, &change).await
}

/// The change deleting a row whose last state was `image` (the receiver
/// checks the scope it names), every field stamped now.
fn deletion(t: &Table, id: &str, node: &Node, image: essp_sync_proto::envelope::Fields) -> Result<RowChange> {
    let hlc = HlcClock::new(node.name.clone(), u64::MAX)
        .now(node.now_ms())
        .map_err(|e| StoreError::Other(e.to_string()))?
        .to_string();
    Ok(RowChange {
        seq: 0,
        table: t.name.to_owned(),
        row_id: id.to_owned(),
        clocks: image.keys().map(|k| (k.clone(), hlc.clone())).collect(),
        fields: image,
        base: Default::default(),
        correction: false,
        deleted: true,
    })
}

fn scope(t: &Table, image: &essp_sync_proto::envelope::Fields) -> (String, String) {
    let tenant = image.get("tenant_id").and_then(|v| v.as_str()).unwrap_or_default();
    (tenant.to_owned(), t.school_of(image).to_owned())
}

/// The node a write is captured as: its clock name, and how far its own
/// clock runs ahead of central's.
struct Node {
    name: String,
    offset_ms: u64,
}

impl Node {
    fn now_ms(&self) -> u64 {
        now_ms().saturating_sub(self.offset_ms)
    }
}

/// The clock name (and clock offset) this node stamps writes of table `t`
/// with, when it captures them at all: an edge captures every table but
/// central-owned ones (it never writes those; what it holds came from
/// central); central may capture any.
async fn capturing_node(ex: &dyn Executor, t: &Table) -> Result<Option<Node>> {
    let (role, offset_ms) = edges::role(ex).await?;
    let name = match role {
        edges::Role::Standalone => return Ok(None),
        edges::Role::Edge(_) if t.class == catalog::Class::CentralOwned => return Ok(None),
        edges::Role::Edge(school) => school,
        edges::Role::Central => CENTRAL_NODE.to_owned(),
    };
    Ok(Some(Node { name, offset_ms }))
}

/// Central captures a school's rows when the school has an edge, and
/// tenant-wide rows when any school of the tenant has one.
async fn central_captures(ex: &dyn Executor, t: &Table, tenant: &str, school: &str) -> Result<bool> {
    if t.tenant_wide() {
        edges::tenant_has_edges(ex, tenant).await
    } else {
        edges::is_enrolled(ex, tenant, school).await
    }
}

/// [`capture`] after a compare-and-set: only when it saved `saved`.
pub async fn capture_saved<T>(ex: &dyn Executor, table: &str, id: &str, saved: Option<T>) -> Result<Option<T>> {
    if saved.is_some() {
        capture(ex, table, id).await?;
    }
    Ok(saved)
}

/// This node's wall clock in Unix milliseconds (the physical part of HLCs).
pub fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default()
}

/// The change that takes a row from its tracked state to `image`: every
/// field, with fresh clocks (and their previous ones as `base`) on the
/// fields that differ. `None` when nothing changed.
fn stamp(
    t: &Table,
    id: &str,
    prev: &Tracked,
    image: essp_sync_proto::envelope::Fields,
    node: &str,
    now: u64,
    not_before: Option<&Hlc>,
) -> Result<Option<RowChange>> {
    let changed: Vec<&String> = image
        .iter()
        .filter(|(k, v)| prev.image.get(*k) != Some(*v) || !prev.clocks.contains_key(*k))
        .map(|(k, _)| k)
        .collect();
    if changed.is_empty() {
        return Ok(None);
    }
    // The row's own newest clock bounds the new stamp from below, so a
    // local edit of a row always sorts after the remote write it follows.
    let newest = prev
        .clocks
        .values()
        .filter_map(|c| c.parse::<Hlc>().ok())
        .chain(not_before.cloned())
        .max();
    let mut clock = match &newest {
        Some(h) => HlcClock::resume(node, u64::MAX, h),
        None => HlcClock::new(node, u64::MAX),
    };
    let hlc = clock
        .now(now)
        .map_err(|e| StoreError::Other(e.to_string()))?
        .to_string();
    let mut clocks = prev.clocks.clone();
    let mut base = essp_sync_proto::envelope::Clocks::new();
    for k in changed {
        base.insert(k.clone(), prev.clocks.get(k).cloned().unwrap_or_default());
        clocks.insert(k.clone(), hlc.clone());
    }
    Ok(Some(RowChange {
        seq: 0,
        table: t.name.to_owned(),
        row_id: id.to_owned(),
        fields: image,
        clocks,
        base,
        correction: false,
        deleted: false,
    }))
}
