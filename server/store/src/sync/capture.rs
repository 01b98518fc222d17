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
/// the transaction that wrote the row, after the write.
pub async fn capture(ex: &dyn Executor, table: &str, id: &str) -> Result<()> {
    capture_after(ex, table, id, None).await
}

/// [`capture`], with the new stamp also sorting after `not_before` (a
/// clock of another node this write answers).
pub(crate) async fn capture_after(ex: &dyn Executor, table: &str, id: &str, not_before: Option<&Hlc>) -> Result<()> {
    let t = catalog::table(table).ok_or_else(|| StoreError::Other(format!("{table} is not a replicated table")))?;
    let Some((node, offset_ms)) = capturing_node(ex, t).await? else {
        return Ok(());
    };
    let Some(image) = row::read(ex, t, id).await? else {
        return Ok(());
    };
    let (tenant, school) = scope(t, &image);
    if node == CENTRAL_NODE && !central_captures(ex, t, &tenant, &school).await? {
        return Ok(());
    }
    if let Some(key_column) = t.blob_key {
        // A row naming a blob replicates once the blob is here; an edge
        // then queues the blob itself for upload.
        if !blobs::available(ex, t, id).await? {
            return Ok(());
        }
        if node != CENTRAL_NODE {
            blobs::enqueue(ex, key_column, &image).await?;
        }
    }
    let prev = row::tracked(ex, t.name, id).await?.unwrap_or_default();
    let Some(change) = stamp(
        t,
        id,
        &prev,
        image,
        &node,
        now_ms().saturating_sub(offset_ms),
        not_before,
    )?
    else {
        return Ok(());
    };
    row::track(
        ex,
        t,
        id,
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
    let t = catalog::table(table).ok_or_else(|| StoreError::Other(format!("{table} is not a replicated table")))?;
    let Some((node, offset_ms)) = capturing_node(ex, t).await? else {
        return Ok(());
    };
    let Some(image) = row::read(ex, t, id).await? else {
        return Ok(());
    };
    let (tenant, school) = scope(t, &image);
    row::untrack(ex, t.name, id).await?;
    if !central_captures(ex, t, &tenant, &school).await? {
        return Ok(());
    }
    let hlc = HlcClock::new(node, u64::MAX)
        .now(now_ms().saturating_sub(offset_ms))
        .map_err(|e| StoreError::Other(e.to_string()))?
        .to_string();
    let change = RowChange {
        seq: 0,
        table: t.name.to_owned(),
        row_id: id.to_owned(),
        clocks: image.keys().map(|k| (k.clone(), hlc.clone())).collect(),
        fields: image,
        base: Default::default(),
        correction: false,
        deleted: true,
    };
    outbox::append(ex, &tenant, &school, &change).await
}

fn scope(t: &Table, image: &essp_sync_proto::envelope::Fields) -> (String, String) {
    let tenant = image.get("tenant_id").and_then(|v| v.as_str()).unwrap_or_default();
    (tenant.to_owned(), t.school_of(image).to_owned())
}

/// The clock name (and clock offset) this node stamps writes of table `t`
/// with, when it captures them at all: an edge captures every table but
/// central-owned ones (it never writes those; what it holds came from
/// central); central may capture any.
async fn capturing_node(ex: &dyn Executor, t: &Table) -> Result<Option<(String, u64)>> {
    let (role, offset_ms) = edges::role(ex).await?;
    Ok(match role {
        edges::Role::Standalone => None,
        edges::Role::Edge(_) if t.class == catalog::Class::CentralOwned => None,
        edges::Role::Edge(school) => Some((school, offset_ms)),
        edges::Role::Central => Some((CENTRAL_NODE.to_owned(), offset_ms)),
    })
}

/// Central captures a school's rows when the school has an edge, and
/// tenant-wide rows when any school of the tenant has one.
async fn central_captures(ex: &dyn Executor, t: &Table, tenant: &str, school: &str) -> Result<bool> {
    if t.tenant_wide {
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
