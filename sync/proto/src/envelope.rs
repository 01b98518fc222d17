//! What travels between an edge and central: envelopes of row changes,
//! checkpoints, and the control replies. Every message carries a schema
//! version; readers ignore fields they do not know (serde's default), so
//! an edge one release behind keeps syncing (SYNC.md guarantee 10).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The version of the envelope format this build writes.
pub const PROTOCOL_VERSION: u32 = 1;

/// Field name → value, for one row. Values are the canonical JSON of the
/// column (timestamps as RFC 3339 text, booleans as booleans, JSON
/// documents as documents).
pub type Fields = BTreeMap<String, serde_json::Value>;

/// Field name → HLC text of the write that set it.
pub type Clocks = BTreeMap<String, String>;

/// One replicated row as one node last wrote it: the whole row with every
/// field's clock, plus, for the fields this change set, the clock each had
/// before (`base`). A receiver whose clock for a field is neither the
/// incoming one nor its base holds a write the sender never saw: that is a
/// conflict, settled by the clocks and logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowChange {
    /// The sender's outbox position of this change.
    pub seq: i64,
    pub table: String,
    pub row_id: String,
    pub fields: Fields,
    pub clocks: Clocks,
    #[serde(default)]
    pub base: Clocks,
    /// A clock correction: the receiver adopts these clocks for fields
    /// whose value it already holds (sent back after a sender's clock from
    /// the future was quarantined, so both sides order later writes alike).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub correction: bool,
    /// The row was deleted (central-owned rows only); `fields` holds its
    /// last state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// A batch of consecutive changes of one node (`first_seq..=last_seq`,
/// no holes), sent on `essp.sync.up.<tenant>.<school>` by an edge or on
/// `essp.sync.down.<tenant>.<school|all>` by central.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub version: u32,
    pub tenant_id: String,
    /// The school whose rows these are; `""` for tenant-wide rows.
    pub school_id: String,
    /// The sending node (`central`, or the edge's school id).
    pub node: String,
    /// The sender's epoch: a new one after each enrollment or restore.
    pub epoch: String,
    /// The box that sent it (machine id); a second box with the same
    /// epoch is a clone.
    #[serde(default)]
    pub host: String,
    pub first_seq: i64,
    pub last_seq: i64,
    pub changes: Vec<RowChange>,
}

impl Envelope {
    /// JetStream's de-duplication id (`<school>:<epoch>:<last seq>`); an
    /// optimisation only, correctness never depends on it.
    pub fn msg_id(&self) -> String {
        format!("{}:{}:{}:{}", self.school_id, self.epoch, self.first_seq, self.last_seq)
    }
}

/// Row count and order-independent hash of one table's rows in a scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableDigest {
    pub rows: i64,
    /// Hex of the wrapping sum of every row's SHA-256 prefix.
    pub hash: String,
}

/// What an edge reports about itself, every minute and after a catch-up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub version: u32,
    pub tenant_id: String,
    pub school_id: String,
    pub epoch: String,
    #[serde(default)]
    pub host: String,
    pub app_version: String,
    pub schema_version: i64,
    /// The edge's wall clock (RFC 3339) when it wrote this checkpoint.
    pub clock: String,
    pub outbox_depth: i64,
    /// Age in seconds of the oldest unconfirmed change; 0 when none.
    pub outbox_age_seconds: i64,
    /// The last outbox position the edge wrote.
    pub last_seq: i64,
    /// The highest position central has confirmed to this edge.
    #[serde(default)]
    pub confirmed_seq: i64,
    /// The edge's down-stream cursor (JetStream stream sequence).
    pub down_cursor: u64,
    pub digests: BTreeMap<String, TableDigest>,
    /// Asks central to answer with its own digests of the whole school
    /// (`essp sync verify` of earlier releases; current ones page with
    /// [`CtlRequest::DigestPage`]).
    #[serde(default)]
    pub verify: bool,
}

/// A request an edge sends on its `ctl` subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum CtlRequest {
    /// "Here is where I am": answered with a [`CheckpointReply`].
    Checkpoint(Checkpoint),
    /// "Hash every row of this table in my school": answered with a map
    /// of row id to hash. Kept for edges of earlier releases; its answer
    /// grows with the table, so current edges page with
    /// [`CtlRequest::DigestPage`] and [`CtlRequest::BucketRowHashes`].
    #[serde(rename_all = "camelCase")]
    RowHashes {
        tenant_id: String,
        school_id: String,
        table: String,
    },
    /// "Digest the next `limit` rows of this table in my school, after
    /// `after_id` in your order, bucket by bucket": answered with a
    /// [`DigestPage`]. Bucket sums add up whatever order each side reads
    /// its rows in, so the edge compares its whole table with the sum of
    /// central's pages.
    #[serde(rename_all = "camelCase")]
    DigestPage {
        tenant_id: String,
        school_id: String,
        table: String,
        after_id: String,
        limit: u32,
    },
    /// "Hash the rows among the next `limit` after `after_id` that fall in
    /// these buckets": answered with a [`RowHashesPage`], to name the rows
    /// of the buckets whose digests differ.
    #[serde(rename_all = "camelCase")]
    BucketRowHashes {
        tenant_id: String,
        school_id: String,
        table: String,
        buckets: Vec<u16>,
        after_id: String,
        limit: u32,
    },
    /// "Enroll me under this new epoch": answered with an [`EnrollReply`].
    Enroll(EnrollRequest),
    /// "Send me a page of my school's rows of this table, after this id":
    /// answered with a [`SnapshotPage`].
    #[serde(rename_all = "camelCase")]
    SnapshotPage {
        tenant_id: String,
        school_id: String,
        table: String,
        after_id: String,
        limit: u32,
    },
    /// "How much of this blob do you hold?": answered with a [`BlobReply`].
    #[serde(rename_all = "camelCase")]
    BlobOffset {
        tenant_id: String,
        school_id: String,
        object_key: String,
    },
    /// "Here are the bytes of this blob from `offset`" (base64, one fixed
    /// size chunk): answered with a [`BlobReply`].
    #[serde(rename_all = "camelCase")]
    BlobPart {
        tenant_id: String,
        school_id: String,
        object_key: String,
        offset: u64,
        data: String,
    },
    /// "Send me the bytes of this blob from `offset`" (an attachment
    /// uploaded centrally, which the edge fetches): answered with a
    /// [`BlobReply`] carrying one chunk in `data`.
    #[serde(rename_all = "camelCase")]
    BlobFetch {
        tenant_id: String,
        school_id: String,
        object_key: String,
        offset: u64,
    },
}

/// The bytes of one blob chunk (the last may be shorter). Fixed, so a part's
/// offset names it and an upload resumes at the first missing one.
pub const BLOB_CHUNK: u64 = 256 * 1024;

/// The answer about one blob on its way: the receiver's (central's for an
/// upload, the edge's own for a download) or, to a [`CtlRequest::BlobFetch`],
/// central's with the chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobReply {
    /// `ok`; `wait` (central does not have the attachment's row yet: try
    /// later); `restart` (the assembled blob did not match its hash: send
    /// it again from 0); `refused` with a message.
    pub status: String,
    #[serde(default)]
    pub message: String,
    /// Bytes central holds of it, from the start: send from here.
    pub offset: u64,
    /// Central stores the verified blob; the attachment is visible.
    /// (To a fetch: this chunk is the blob's last.)
    pub complete: bool,
    /// To a fetch: the chunk at `offset`, base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data: String,
}

/// An edge asking to be (re-)enrolled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollRequest {
    pub tenant_id: String,
    pub school_id: String,
    /// The epoch the edge minted for this enrollment.
    pub epoch: String,
    pub host: String,
    /// Every outbox position up to here is already central's (or was never
    /// central's to apply); the edge's next change is `confirmed_seq + 1`.
    pub confirmed_seq: i64,
    /// Replace the school's existing enrollment (an operator's `essp edge
    /// enroll`); a box enrolling itself never replaces one.
    #[serde(default)]
    pub replace: bool,
}

/// Central's answer to an enrollment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollReply {
    /// `ok`, or `refused` with a message.
    pub status: String,
    #[serde(default)]
    pub message: String,
    /// The `down` stream position the snapshot is consistent with: the
    /// edge streams from the next one.
    pub down_seq: u64,
    /// The replicated tables, in the order to copy them.
    pub tables: Vec<String>,
}

/// One page of a school's rows, as changes carrying central's clocks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotPage {
    pub table: String,
    pub rows: Vec<RowChange>,
    /// The id to ask after for the next page; `None` on the last one.
    pub next_after: Option<String>,
}

/// Rows are spread over this many digest buckets by their id
/// (`essp_store::sync::digest::bucket_of`); both sides must agree on it.
pub const DIGEST_BUCKETS: u16 = 256;

/// Central's digest of one page of a table's rows, per bucket (empty
/// buckets are left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestPage {
    pub buckets: BTreeMap<u16, TableDigest>,
    /// The id to ask after for the next page; `None` on the last one.
    pub next_after: Option<String>,
}

/// Row id → row hash for one page's rows in the asked buckets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowHashesPage {
    pub hashes: BTreeMap<String, String>,
    /// The id to ask after for the next page; `None` on the last one.
    pub next_after: Option<String>,
}

/// A change central refused; sent back so the edge records and shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    pub seq: i64,
    pub table: String,
    pub row_id: String,
    pub reason: String,
}

/// Central's answer to a checkpoint (on the `ctl` subject).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointReply {
    pub version: u32,
    /// `ok`, or `reenroll` when central refuses this edge's epoch.
    pub status: String,
    /// Human-readable reason when the status is not `ok`.
    #[serde(default)]
    pub message: String,
    /// Everything up to here is applied centrally: the edge may trim it,
    /// and resends from the next position.
    pub applied_seq: i64,
    /// Changes central refused since the edge's last confirmed position.
    #[serde(default)]
    pub rejections: Vec<Rejection>,
    /// Central's digests for the same scope, for `essp sync verify`.
    #[serde(default)]
    pub digests: BTreeMap<String, TableDigest>,
    /// Central's wall clock (Unix ms) when it answered: an edge whose own
    /// clock runs ahead stamps its writes with central's time instead.
    #[serde(default)]
    pub clock_ms: u64,
    /// The first position the `down` stream still holds: an edge whose
    /// cursor is before it has lost changes and must re-bootstrap.
    #[serde(default)]
    pub down_first_seq: u64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_ignored_and_missing_optional_ones_default() {
        let json = serde_json::json!({
            "version": 2, "status": "ok", "appliedSeq": 7, "somethingNew": [1, 2]
        });
        let r: CheckpointReply = serde_json::from_value(json).unwrap();
        assert_eq!(r.applied_seq, 7);
        assert!(r.rejections.is_empty());
    }

    #[test]
    fn msg_id_names_school_epoch_and_range() {
        let e = Envelope {
            version: PROTOCOL_VERSION,
            tenant_id: "t".into(),
            school_id: "s".into(),
            node: "s".into(),
            epoch: "epoch_1".into(),
            host: String::new(),
            first_seq: 3,
            last_seq: 9,
            changes: vec![],
        };
        assert_eq!(e.msg_id(), "s:epoch_1:3:9");
    }
}
