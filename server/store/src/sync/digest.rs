//! Per-table digests of one school's replicated rows (SYNC.md guarantee 3):
//! a row count and an order-independent hash, equal on both sides exactly
//! when they hold the same rows; and per-row hashes to name the rows that
//! differ.

use std::collections::BTreeMap;

use essp_sync_proto::TableDigest;
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

/// Calls `each` with every row of a table in one school, page by page.
async fn for_each_row(
    ex: &dyn Executor,
    t: &Table,
    tenant: &str,
    school: &str,
    mut each: impl FnMut(&essp_sync_proto::envelope::Fields),
) -> Result<()> {
    let mut after = String::new();
    loop {
        let page = row::Page {
            table: t,
            tenant,
            school,
            after: &after,
            limit: PAGE,
        }
        .rows(ex)
        .await?;
        for img in &page {
            each(img);
        }
        match page.last().map(row::id_of).filter(|id| !id.is_empty()) {
            Some(id) if page.len() as i64 == PAGE => after = id.to_owned(),
            _ => return Ok(()),
        }
    }
}

/// Each row's hash, by id.
pub async fn row_hashes(ex: &dyn Executor, t: &Table, tenant: &str, school: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for_each_row(ex, t, tenant, school, |img| {
        let id = row::id_of(img).to_owned();
        out.insert(id, hex(&row_hash(img)));
    })
    .await?;
    Ok(out)
}

/// One table's digest: the wrapping sum of every row hash's first 16
/// bytes, so the order rows are read in does not matter.
pub async fn table_digest(ex: &dyn Executor, t: &Table, tenant: &str, school: &str) -> Result<TableDigest> {
    let (mut rows, mut sum) = (0i64, 0u128);
    for_each_row(ex, t, tenant, school, |img| {
        let h = row_hash(img);
        let mut first = [0u8; 16];
        first.copy_from_slice(&h[..16]);
        sum = sum.wrapping_add(u128::from_be_bytes(first));
        rows += 1;
    })
    .await?;
    Ok(TableDigest {
        rows,
        hash: format!("{sum:032x}"),
    })
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
