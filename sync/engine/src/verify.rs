//! `essp sync verify` on an edge: this edge's rows of a table against
//! central's, in requests of bounded size and time whatever the school's
//! size.
//!
//! Both sides sum their rows' hashes into buckets chosen by row id. The
//! edge reads its own table while it asks central for its sums page by page
//! (each side in its own order: sums do not depend on it). Buckets whose
//! sums differ hold the differing rows; the row hashes of just those
//! buckets name them.

use std::collections::{BTreeMap, BTreeSet};

use essp_store::sync::catalog::Table;
use essp_store::sync::digest::{self, BucketSums, Rows, Sum};
use essp_sync_proto::{CtlRequest, DigestPage, RowHashesPage, TableDigest};

use crate::SyncError;
use crate::edge_link::EdgeLink;

/// Rows central reads per request by default (~1 s of its time for
/// digests). Central reads fewer when it caps a request (row hashes: so
/// the answer stays inside NATS's 1 MiB payload).
pub const PAGE_ROWS: u32 = 20_000;
/// Differing buckets whose rows are named. Past this many the table differs
/// almost everywhere, and naming its every row would hold the whole table
/// in memory twice.
const MAX_NAMED_BUCKETS: usize = 32;

/// One table compared.
#[derive(Debug, Clone, PartialEq)]
pub struct TableComparison {
    pub here: TableDigest,
    pub central: TableDigest,
    /// The ids of rows that differ (held by one side only, or different),
    /// sorted; from the first [`MAX_NAMED_BUCKETS`] differing buckets.
    pub differing_rows: Vec<String>,
    /// How many buckets differ, and how many of them were named.
    pub differing_buckets: usize,
    pub named_buckets: usize,
}

impl TableComparison {
    pub fn same(&self) -> bool {
        self.differing_buckets == 0
    }
}

/// Compares this edge's rows of `t` with central's, asking central for
/// `page_rows` rows a request.
pub async fn compare_table(link: &EdgeLink, t: &Table, page_rows: u32) -> Result<TableComparison, SyncError> {
    let (tenant, school) = (&link.this.tenant_id, &link.this.school_id);
    let db = link.db.as_ref();
    let (here, central) = tokio::try_join!(
        async {
            let (sums, _) = Rows::all(t, tenant, school).bucket_sums(db).await?;
            Ok::<_, SyncError>(sums)
        },
        central_sums(link, t, page_rows),
    )?;
    let differing: Vec<u16> = here
        .keys()
        .chain(central.keys())
        .copied()
        .collect::<BTreeSet<u16>>()
        .into_iter()
        .filter(|b| here.get(b) != central.get(b))
        .collect();
    let named: BTreeSet<u16> = differing.iter().copied().take(MAX_NAMED_BUCKETS).collect();
    let differing_rows = if named.is_empty() {
        Vec::new()
    } else {
        let (ours, theirs) = tokio::try_join!(
            async {
                let (hashes, _) = Rows::all(t, tenant, school).hashes_in(db, &named).await?;
                Ok::<_, SyncError>(hashes)
            },
            central_row_hashes(link, t, &named, page_rows),
        )?;
        digest::differing(&ours, &theirs)
    };
    Ok(TableComparison {
        here: digest::total(&here).to_digest(),
        central: digest::total(&central).to_digest(),
        differing_rows,
        differing_buckets: differing.len(),
        named_buckets: named.len(),
    })
}

/// Central's bucket sums of its whole table, page by page.
async fn central_sums(link: &EdgeLink, t: &Table, limit: u32) -> Result<BucketSums, SyncError> {
    let mut all = BucketSums::new();
    let mut after = String::new();
    loop {
        let page: DigestPage = link
            .request(&CtlRequest::DigestPage {
                tenant_id: link.this.tenant_id.clone(),
                school_id: link.this.school_id.clone(),
                table: t.name.into(),
                after_id: after,
                limit,
            })
            .await?;
        for (bucket, d) in &page.buckets {
            let sum = Sum::of_digest(d)
                .ok_or_else(|| SyncError::Other(format!("central sent an unreadable digest: {}", d.hash)))?;
            all.entry(*bucket).or_default().add(sum);
        }
        match page.next_after {
            Some(next) => after = next,
            None => return Ok(all),
        }
    }
}

/// Central's hashes of its rows in `buckets`, page by page.
async fn central_row_hashes(
    link: &EdgeLink,
    t: &Table,
    buckets: &BTreeSet<u16>,
    limit: u32,
) -> Result<BTreeMap<String, String>, SyncError> {
    let mut all = BTreeMap::new();
    let mut after = String::new();
    loop {
        let page: RowHashesPage = link
            .request(&CtlRequest::BucketRowHashes {
                tenant_id: link.this.tenant_id.clone(),
                school_id: link.this.school_id.clone(),
                table: t.name.into(),
                buckets: buckets.iter().copied().collect(),
                after_id: after,
                limit,
            })
            .await?;
        all.extend(page.hashes);
        match page.next_after {
            Some(next) => after = next,
            None => return Ok(all),
        }
    }
}
