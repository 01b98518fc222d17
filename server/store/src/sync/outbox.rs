//! The sync outbox: changes waiting to leave this node, in capture order.

use chrono::{DateTime, Utc};
use essp_sync_proto::RowChange;

use super::row::json_text;
use crate::error::{Result, StoreError};
use crate::executor::Executor;

/// One pending change with the scope it belongs to.
#[derive(Debug, Clone)]
pub struct Pending {
    pub tenant_id: String,
    pub school_id: String,
    pub created_at: DateTime<Utc>,
    pub change: RowChange,
}

pub(crate) async fn append(ex: &dyn Executor, tenant: &str, school: &str, change: &RowChange) -> Result<()> {
    ex.execute(
        "INSERT INTO sync_outbox (tenant_id, school_id, table_name, row_id, change, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            tenant.into(),
            school.into(),
            change.table.as_str().into(),
            change.row_id.as_str().into(),
            json_text(change)?.into(),
            essp_domain::now().into(),
        ],
    )
    .await?;
    Ok(())
}

/// Up to `limit` changes after position `after`, oldest first.
pub async fn pending(ex: &dyn Executor, after: i64, limit: i64) -> Result<Vec<Pending>> {
    ex.fetch_all(
        "SELECT seq, tenant_id, school_id, change, created_at FROM sync_outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
        &[after.into(), limit.into()],
    )
    .await?
    .iter()
    .map(|r| {
        let mut change: RowChange =
            serde_json::from_str(&r.text("change")?).map_err(|e| StoreError::decode("change", e.to_string()))?;
        change.seq = r.i64("seq")?;
        Ok(Pending {
            tenant_id: r.text("tenant_id")?,
            school_id: r.text("school_id")?,
            created_at: r.timestamp("created_at")?,
            change,
        })
    })
    .collect()
}

/// Forgets every change up to and including `seq` (the peer has it).
pub async fn trim(ex: &dyn Executor, seq: i64) -> Result<u64> {
    ex.execute("DELETE FROM sync_outbox WHERE seq <= $1", &[seq.into()])
        .await
}

/// Forgets the listed changes (central, once JetStream has them).
pub async fn remove(ex: &dyn Executor, seqs: &[i64]) -> Result<u64> {
    let mut removed = 0;
    for chunk in seqs.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let params: Vec<_> = chunk.iter().map(|s| (*s).into()).collect();
        removed += ex
            .execute(
                &format!("DELETE FROM sync_outbox WHERE seq IN ({})", marks.join(", ")),
                &params,
            )
            .await?;
    }
    Ok(removed)
}

/// How many changes wait (on an edge; central's outbox has holes), and
/// since when.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Depth {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
    /// The highest position ever written (0 for none), kept by the engine
    /// even after trimming.
    pub last_seq: i64,
}

pub async fn depth(ex: &dyn Executor) -> Result<Depth> {
    // Through the primary key only (a checkpoint asks often, and a big
    // backlog made COUNT/MIN over the table show): an edge's outbox holds
    // one contiguous run of positions, so its size is last - first + 1.
    // One subquery per end: SQLite reads MIN or MAX off the key only when
    // it is the query's sole aggregate, and scanned the whole outbox (all
    // of its change JSON) for both in one SELECT.
    let ends = ex
        .fetch_optional(
            "SELECT (SELECT MIN(seq) FROM sync_outbox) AS first_seq, (SELECT MAX(seq) FROM sync_outbox) AS last_seq",
            &[],
        )
        .await?;
    let (first, last) = match ends {
        Some(r) => (r.opt_i64("first_seq")?, r.opt_i64("last_seq")?),
        None => (None, None),
    };
    let oldest = match first {
        Some(seq) => ex
            .fetch_optional("SELECT created_at FROM sync_outbox WHERE seq = $1", &[seq.into()])
            .await?
            .map(|r| r.timestamp("created_at"))
            .transpose()?,
        None => None,
    };
    Ok(Depth {
        count: match (first, last) {
            (Some(f), Some(l)) => l - f + 1,
            _ => 0,
        },
        oldest,
        last_seq: last.unwrap_or(0),
    })
}
