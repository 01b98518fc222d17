//! The sync protocol's vocabulary, shared by edge and central: no I/O here.
//!
//! The hybrid logical clock that orders replicated writes causally rather
//! than by arrival (SYNC.md guarantee 4), the subjects, and the envelope,
//! checkpoint and digest types.

pub mod envelope;
pub mod hlc;
pub mod subjects;

pub use envelope::{
    BLOB_CHUNK, BlobReply, Checkpoint, CheckpointReply, CtlRequest, DIGEST_BUCKETS, DigestPage, EnrollReply,
    EnrollRequest, Envelope, PROTOCOL_VERSION, Rejection, RowChange, RowHashesPage, SnapshotPage, TableDigest,
};
pub use hlc::{ClockError, Hlc, HlcClock};
