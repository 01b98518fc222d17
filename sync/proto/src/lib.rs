//! The sync protocol's vocabulary, shared by edge and central: no I/O here.
//!
//! So far: the hybrid logical clock that orders replicated writes causally
//! rather than by arrival (SYNC.md guarantee 4).

pub mod hlc;
pub mod subjects;

pub use hlc::{ClockError, Hlc, HlcClock};
