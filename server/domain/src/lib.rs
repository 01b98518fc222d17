//! ESSP domain: pure types and rules, no I/O.
//!
//! Everything here is deterministic and cheap to test: ids, scopes, the
//! incident state machine, SLA windows and input validation. Storage and HTTP
//! layers parse into these types at the edge of the system and trust them
//! inside.

#[macro_use]
mod enums;
pub mod attachment;
pub mod contact;
pub mod context;
pub mod error;
pub mod id;
pub mod incident;
pub mod inventory;
pub mod project;
pub mod scope;
pub mod shop;
pub mod sla;
pub mod ssot;
pub mod work_order;
pub mod workflow;

pub use error::{FieldError, ValidationError};
pub use id::{Id, IdError};
pub use scope::{Scope, ScopeError};

/// The current time at the precision both databases store (microseconds), so
/// a value written and read back compares equal.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}
