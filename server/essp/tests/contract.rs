//! API contract fuzzing: schemathesis (`--checks all`, fixed seed) against a
//! live `essp` with tokens required, on both engines, through
//! `.ci/schemathesis.sh`. Zero server errors, zero schema violations.
//! Needs `.venv-contract` (Python ≥ 3.12 with schemathesis; `.ci/run`
//! makes it): a missing one fails the test, it never skips.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{Backend, TestDb};

async fn schemathesis_finds_nothing(backend: Backend) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        root.join(".venv-contract/bin/schemathesis").exists(),
        "schemathesis is missing: run .ci/run (it creates .venv-contract)"
    );
    let db = TestDb::migrated(backend).await;
    let mut cmd = Command::new("bash");
    cmd.arg(root.join(".ci/schemathesis.sh"))
        .current_dir(&root)
        .env("ESSP_BIN", common::BIN)
        .env_remove("CONTRACT_PG_DSN");
    if backend == Backend::Postgres {
        cmd.env("CONTRACT_PG_DSN", &db.url);
    }
    let out = cmd.output().expect("run .ci/schemathesis.sh");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found problems:\n{report}");
}

on_both_engines!(schemathesis_finds_nothing);
