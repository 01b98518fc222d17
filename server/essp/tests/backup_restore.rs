//! The backup drill (runbook §13) on both engines: create data, back up,
//! destroy, restore, verify counts, the audit hash chain and a new epoch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, run_cli};
use serde_json::{Value, json};

fn cli_json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn backup_destroy_restore(backend: Backend) {
    let mut s = Server::start(backend).await;
    for i in 0..3 {
        let r = s
            .create_incident(json!({"deviceId": format!("dev-{i}"), "title": "Broken hinge", "category": "hardware"}))
            .await;
        assert_eq!(r.status(), 201);
    }
    s.wait_audit_sealed().await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("essp.backup");
    let file = file.to_str().unwrap();
    // Online: the server keeps running while SQLite copies with VACUUM INTO.
    let backup = cli_json(&run_cli(s.db(), &["backup", file], &[]));
    assert!(backup["bytes"].as_u64().unwrap() > 0, "{backup}");
    let first_epoch = backup["epoch"].as_str().unwrap().to_owned();
    let again = run_cli(s.db(), &["backup", file], &[]);
    assert!(!again.status.success(), "a backup never overwrites");

    if backend == Backend::Sqlite {
        let refused = run_cli(s.db(), &["restore", file], &[]);
        assert!(!refused.status.success());
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("is running"),
            "{refused:?}"
        );
    }
    s.terminate();
    s.wait_exit();

    // Destroy everything.
    match backend {
        Backend::Sqlite => std::fs::remove_file(&s.db().url).unwrap(),
        Backend::Postgres => s
            .db()
            .db
            .execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            .await
            .unwrap(),
    }
    let garbage = dir.path().join("not-a-backup");
    std::fs::write(&garbage, b"hello").unwrap();
    assert!(
        !run_cli(s.db(), &["restore", garbage.to_str().unwrap()], &[])
            .status
            .success()
    );

    let restored = cli_json(&run_cli(s.db(), &["restore", file], &[]));
    assert_eq!(restored["previousEpoch"], first_epoch.as_str());
    assert_ne!(
        restored["epoch"],
        first_epoch.as_str(),
        "a restore mints a new epoch: {restored}"
    );

    let s = s.restart().await;
    assert_eq!(s.list_all().await.len(), 3);
    let verify = run_cli(s.db(), &["audit", "verify"], &[]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    let report = s.wait_audit_sealed().await;
    assert_eq!(
        (report["valid"].as_bool(), report["entries"].as_i64()),
        (Some(true), Some(3)),
        "{report}"
    );
}

on_both_engines!(backup_destroy_restore);
