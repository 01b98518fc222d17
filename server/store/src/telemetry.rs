//! Query timing shared by both adapters (`db_query_duration_seconds`).

use std::time::Instant;

use crate::executor::Engine;

/// Records one statement's duration. Labels stay low-cardinality: the
/// engine, never the SQL text.
pub fn observe_query(engine: Engine, started: Instant) {
    metrics::histogram!("db_query_duration_seconds", "engine" => engine.as_str())
        .record(started.elapsed().as_secs_f64());
}
