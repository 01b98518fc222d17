//! Storage for ESSP: the narrow executor trait both engines implement, the
//! migrator, and every repository — all SQL is written here, once.
//!
//! Shared SQL uses `$1…$n` placeholders; the libsql adapter rewrites them.
//! The few dialect differences live in [`Dialect`].

pub mod attachments;
pub mod audit;
pub mod contacts;
pub mod cursor;
pub mod error;
pub mod executor;
pub mod group_commit;
pub mod idempotency;
pub mod incidents;
pub mod inventory;
pub mod migrate;
pub mod node_state;
pub mod projects;
pub mod query;
pub mod shops;
pub mod ssot;
pub mod ssot_snapshot;
pub mod sync;
pub mod value;
pub mod work_orders;
pub mod workflow;

pub use error::StoreError;
pub use executor::{Database, Dialect, Engine, Executor, LockGuard, Transaction};
pub use group_commit::GroupCommit;
pub use value::{Row, SqlType, Value};
pub mod surveys;
pub mod telemetry;
pub mod telemetry_dedupe;
