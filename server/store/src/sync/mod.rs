//! Edge ↔ central sync, storage side (SYNC.md): which tables replicate,
//! capturing a write into the outbox in the writer's transaction, merging
//! a remote change field by field, and the bookkeeping both sides keep
//! (edges, conflicts, rejections, digests).

pub mod batch;
pub mod blobs;
pub mod capture;
pub mod catalog;
pub mod commands;
pub mod digest;
pub mod edges;
pub mod journal;
pub mod merge;
pub mod outbox;
pub mod row;

pub use capture::{capture, capture_delete, capture_saved, now_ms};
