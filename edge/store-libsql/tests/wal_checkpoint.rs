//! SQLite's automatic checkpoint is off (it ran inside COMMITs, holding the
//! one writer); a checkpointer beside the writer copies the WAL back into
//! the database file instead. Without it the WAL would grow for ever and
//! the database file would never hold the edge's data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use essp_store::{Database, Executor};
use essp_store_libsql::LibsqlDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_pages_reach_the_database_file_without_a_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("essp.db");
    let db = LibsqlDatabase::open(&path).await.unwrap();
    db.execute_script("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .await
        .unwrap();
    let file_size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let empty = file_size();
    // About 2 MB in many small commits, as a day of a school's writes.
    let body = "x".repeat(4000);
    for i in 0..500_i64 {
        let tx = db.begin().await.unwrap();
        tx.execute(
            "INSERT INTO blobs (id, body) VALUES ($1, $2)",
            &[i.into(), body.as_str().into()],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    // The database stays open: only the checkpointer can move the pages.
    let deadline = Instant::now() + Duration::from_secs(20);
    while file_size() < empty + 2_000_000 {
        assert!(
            Instant::now() < deadline,
            "the database file holds {} bytes after 20 s: the WAL was never checkpointed",
            file_size()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = db.count("SELECT COUNT(*) AS n FROM blobs", &[]).await.unwrap();
    assert_eq!(rows, 500);
}
