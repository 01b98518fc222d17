//! Per-table digests of one school's replicated rows (SYNC.md guarantee 3):
//! a row count and an order-independent hash, equal on both sides exactly
//! when they hold the same rows; and per-row hashes to name the rows that
//! differ.

use std::collections::{BTreeMap, BTreeSet};

use essp_sync_proto::{DIGEST_BUCKETS, TableDigest};
use sha2::{Digest, Sha256};

use super::catalog::{self, Table};
use super::row;
use crate::error::Result;
use crate::executor::Executor;

/// A row's hash: each field's name and its value as compact JSON text with
/// object keys sorted at every depth, both length-prefixed. serde_json's
/// maps are ordered by key (its `preserve_order` feature is off, which the
/// tests below check), so its compact text is that canonical form; written
/// into one reused buffer, not built up from a string per value (that was
/// a third of a digest's time).
fn row_hash(image: &essp_sync_proto::envelope::Fields) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut text = Vec::with_capacity(256);
    for (k, v) in image {
        text.clear();
        // Writing a `Value` into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut text, v);
        h.update((k.len() as u64).to_be_bytes());
        h.update(k.as_bytes());
        h.update((text.len() as u64).to_be_bytes());
        h.update(&text);
    }
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rows read per page while hashing: a digest of a big school never holds
/// more than this many rows in memory.
const PAGE: i64 = 1000;

/// A run of one school's rows of a table: those whose id comes after
/// `after` (`""`: from the first), at most `max` of them.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub table: &'a Table,
    pub tenant: &'a str,
    pub school: &'a str,
    pub after: &'a str,
    pub max: i64,
}

impl<'a> Rows<'a> {
    /// Every row of the table in the school.
    pub fn all(table: &'a Table, tenant: &'a str, school: &'a str) -> Self {
        Rows {
            table,
            tenant,
            school,
            after: "",
            max: i64::MAX,
        }
    }

    /// Calls `each` with the run's rows, page by page. Returns the id to
    /// continue after, or `None` once the table's end was reached.
    async fn for_each(
        &self,
        ex: &dyn Executor,
        mut each: impl FnMut(&essp_sync_proto::envelope::Fields),
    ) -> Result<Option<String>> {
        let mut after = self.after.to_owned();
        let mut left = self.max.max(1);
        loop {
            let limit = PAGE.min(left);
            let page = row::Page {
                table: self.table,
                tenant: self.tenant,
                school: self.school,
                after: &after,
                limit,
            }
            .rows(ex)
            .await?;
            for img in &page {
                each(img);
            }
            left -= page.len() as i64;
            match page.last().map(row::id_of).filter(|id| !id.is_empty()) {
                Some(id) if page.len() as i64 == limit => {
                    after = id.to_owned();
                    if left == 0 {
                        return Ok(Some(after));
                    }
                }
                _ => return Ok(None),
            }
        }
    }

    /// The run's bucket sums, and the id to continue after (`None` at the
    /// table's end).
    pub async fn bucket_sums(&self, ex: &dyn Executor) -> Result<(BucketSums, Option<String>)> {
        let mut buckets = BucketSums::new();
        let next = self
            .for_each(ex, |img| {
                buckets
                    .entry(bucket_of(row::id_of(img)))
                    .or_default()
                    .add_row(&row_hash(img));
            })
            .await?;
        Ok((buckets, next))
    }

    /// The hashes, by id, of the run's rows in `buckets`, and the id to
    /// continue after (`None` at the table's end).
    pub async fn hashes_in(
        &self,
        ex: &dyn Executor,
        buckets: &BTreeSet<u16>,
    ) -> Result<(BTreeMap<String, String>, Option<String>)> {
        let mut out = BTreeMap::new();
        let next = self
            .for_each(ex, |img| {
                let id = row::id_of(img);
                if buckets.contains(&bucket_of(id)) {
                    out.insert(id.to_owned(), hex(&row_hash(img)));
                }
            })
            .await?;
        Ok((out, next))
    }
}

/// A digest being summed up: the row count and the wrapping sum of each
/// row hash's first 16 bytes, so the order rows are read in does not
/// matter and the sums of disjoint parts add up to the sum of the whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sum {
    rows: i64,
    sum: u128,
}

impl Sum {
    fn add_row(&mut self, hash: &[u8; 32]) {
        let mut first = [0u8; 16];
        first.copy_from_slice(&hash[..16]);
        self.sum = self.sum.wrapping_add(u128::from_be_bytes(first));
        self.rows += 1;
    }

    pub fn add(&mut self, other: Sum) {
        self.sum = self.sum.wrapping_add(other.sum);
        self.rows += other.rows;
    }

    pub fn rows(&self) -> i64 {
        self.rows
    }

    pub fn to_digest(self) -> TableDigest {
        TableDigest {
            rows: self.rows,
            hash: format!("{:032x}", self.sum),
        }
    }

    /// The sum a digest was written from; `None` if it is not one.
    pub fn of_digest(d: &TableDigest) -> Option<Sum> {
        Some(Sum {
            rows: d.rows,
            sum: u128::from_str_radix(&d.hash, 16).ok()?,
        })
    }
}

/// Bucket → the digest of its rows.
pub type BucketSums = BTreeMap<u16, Sum>;

/// The digest bucket of a row, from its id alone, so a row that differs
/// between two sides is in the same bucket on both.
pub fn bucket_of(id: &str) -> u16 {
    let h = Sha256::digest(id.as_bytes());
    u16::from_be_bytes([h[0], h[1]]) % DIGEST_BUCKETS
}

/// The whole table of a set of bucket sums.
pub fn total(buckets: &BucketSums) -> Sum {
    let mut all = Sum::default();
    for s in buckets.values() {
        all.add(*s);
    }
    all
}

/// Each row's hash, by id.
pub async fn row_hashes(ex: &dyn Executor, t: &Table, tenant: &str, school: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    Rows::all(t, tenant, school)
        .for_each(ex, |img| {
            out.insert(row::id_of(img).to_owned(), hex(&row_hash(img)));
        })
        .await?;
    Ok(out)
}

/// One table's digest.
pub async fn table_digest(ex: &dyn Executor, t: &Table, tenant: &str, school: &str) -> Result<TableDigest> {
    let mut sum = Sum::default();
    Rows::all(t, tenant, school)
        .for_each(ex, |img| sum.add_row(&row_hash(img)))
        .await?;
    Ok(sum.to_digest())
}

/// Every replicated table's digest for one school.
pub async fn digests(ex: &dyn Executor, tenant: &str, school: &str) -> Result<BTreeMap<String, TableDigest>> {
    let mut out = BTreeMap::new();
    for t in catalog::TABLES.iter() {
        out.insert(t.name.to_owned(), table_digest(ex, t, tenant, school).await?);
    }
    Ok(out)
}

/// The ids whose rows differ between two sets of row hashes (missing on
/// either side counts as differing).
pub fn differing(ours: &BTreeMap<String, String>, theirs: &BTreeMap<String, String>) -> Vec<String> {
    let mut ids: Vec<String> = ours
        .iter()
        .filter(|(id, h)| theirs.get(*id) != Some(*h))
        .map(|(id, _)| id.clone())
        .chain(theirs.keys().filter(|id| !ours.contains_key(*id)).cloned())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The canonical form row hashes were defined with: keys sorted at
    /// every depth, compact. Digests are compared across releases, so the
    /// bytes hashed must never change.
    fn canonical(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let body: Vec<String> = keys
                    .into_iter()
                    .map(|k| format!("{}:{}", serde_json::Value::String(k.clone()), canonical(&m[k])))
                    .collect();
                format!("{{{}}}", body.join(","))
            }
            serde_json::Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
            other => other.to_string(),
        }
    }

    fn reference_hash(image: &essp_sync_proto::envelope::Fields) -> [u8; 32] {
        let mut h = Sha256::new();
        for (k, v) in image {
            let v = canonical(v);
            h.update((k.len() as u64).to_be_bytes());
            h.update(k.as_bytes());
            h.update((v.len() as u64).to_be_bytes());
            h.update(v.as_bytes());
        }
        h.finalize().into()
    }

    #[test]
    fn row_hashes_are_those_of_the_canonical_form() {
        // Keys inserted out of order, at every depth.
        let mut inner = serde_json::Map::new();
        inner.insert("zeta".into(), json!([3, {"y": 1, "x": [true, null]}]));
        inner.insert("alpha".into(), json!("quote \" and é and \u{1}"));
        let mut image = essp_sync_proto::envelope::Fields::new();
        image.insert("title".into(), json!("Screen \"cracked\"\n"));
        image.insert("context".into(), serde_json::Value::Object(inner));
        image.insert("count".into(), json!(-12));
        image.insert("ratio".into(), json!(0.25));
        image.insert("gone".into(), serde_json::Value::Null);
        image.insert("flag".into(), json!(false));

        assert_eq!(row_hash(&image), reference_hash(&image));
        let text = serde_json::to_string(&image["context"]).unwrap();
        assert!(text.starts_with("{\"alpha\""), "keys come out sorted: {text}");
        assert_eq!(text, canonical(&image["context"]));
    }
}
