//! A read whose caller stops waiting (a client that hung up mid-request)
//! must not cost the pool its connection: before the fix, four such reads
//! left every later read failing with "reader pool empty" until restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use essp_store::Executor;
use essp_store_libsql::LibsqlDatabase;

/// Counting to a million in a recursive CTE keeps a reader busy for a
/// noticeable while (a statement starting with SELECT goes to a reader).
const SLOW: &str = "SELECT (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) \
                    SELECT count(*) FROM c) AS n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_reads_give_their_connection_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = LibsqlDatabase::open(&dir.path().join("essp.db")).await.unwrap();
    // More abandoned reads than the pool has connections.
    for _ in 0..8 {
        let abandoned = tokio::time::timeout(Duration::from_millis(5), db.fetch_all(SLOW, &[])).await;
        if let Ok(done) = abandoned {
            // Either far too fast, or (the bug) no connection left.
            panic!(
                "a read that should still be running returned: {:?}",
                done.map(|rows| rows.len())
            );
        }
    }
    // Every later read still gets a connection (waiting for the abandoned
    // queries to finish, at worst).
    for i in 0..12 {
        let rows = tokio::time::timeout(Duration::from_secs(60), db.fetch_all("SELECT 1 AS n", &[]))
            .await
            .expect("a read waited a minute for a connection")
            .unwrap_or_else(|e| panic!("read {i} failed: {e}"));
        assert_eq!(rows.len(), 1);
    }
}
