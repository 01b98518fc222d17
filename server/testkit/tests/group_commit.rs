//! Group commit (`essp_store::GroupCommit`) on both engines: concurrent
//! writes share commits on SQLite, a failing or cancelled write is undone
//! alone, and nothing half-done is ever committed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use essp_store::{Database, GroupCommit, StoreError};
use essp_testkit::{Backend, TestDb, on_both_engines};

async fn table(backend: Backend) -> TestDb {
    let t = TestDb::empty(backend).await;
    t.db.execute_script("CREATE TABLE gc (k TEXT PRIMARY KEY, v BIGINT NOT NULL)")
        .await
        .unwrap();
    t
}

async fn insert(ex: &dyn essp_store::Executor, k: &str) -> Result<(), StoreError> {
    ex.execute("INSERT INTO gc (k, v) VALUES ($1, $2)", &[k.into(), 1i64.into()])
        .await?;
    Ok(())
}

async fn keys(db: &Arc<dyn Database>) -> Vec<String> {
    let rows = db.fetch_all("SELECT k FROM gc ORDER BY k", &[]).await.unwrap();
    rows.iter().map(|r| r.text("k").unwrap()).collect()
}

/// Why a test write failed on purpose.
#[derive(Debug)]
enum Failure {
    Refused,
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

async fn concurrent_writes_share_commits_and_fail_alone(backend: Backend) {
    let t = table(backend).await;
    let gc = Arc::new(GroupCommit::new(t.db.clone()));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let gc = gc.clone();
        tasks.push(tokio::spawn(async move {
            gc.run(move |tx| {
                Box::pin(async move {
                    insert(tx, &format!("k{i:02}")).await?;
                    // Slow enough that the others pile up behind the first.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    match i % 10 {
                        // Writes, then refuses: its row must not survive.
                        3 => Err(Failure::Refused),
                        // A constraint error after its own insert (both "dup"
                        // writers run; the second is refused by the key).
                        7 => insert(tx, "dup").await.map_err(Failure::from),
                        _ => Ok(()),
                    }
                })
            })
            .await
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let refused = outcomes.iter().filter(|o| matches!(o, Err(Failure::Refused))).count();
    let duplicate = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Failure::Store(StoreError::UniqueViolation { .. }))))
        .count();
    assert_eq!((refused, duplicate), (4, 3), "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 33);

    let mut expected: Vec<String> = (0..40).filter(|i| i % 10 != 3).map(|i| format!("k{i:02}")).collect();
    // Exactly one of the "dup" writers committed, with its own row.
    let committed_dup = outcomes.iter().enumerate().find(|(i, o)| i % 10 == 7 && o.is_ok());
    let (winner, _) = committed_dup.expect("one dup writer committed");
    expected.retain(|k| !(k.ends_with('7') && *k != format!("k{winner:02}")));
    expected.push("dup".into());
    expected.sort();
    assert_eq!(keys(&t.db).await, expected);
    if backend == Backend::Sqlite {
        assert!(
            gc.commits() < 33,
            "{} commits for 33 writes: concurrent writes were not grouped",
            gc.commits()
        );
    }
}

async fn a_cancelled_write_is_undone_and_its_neighbour_commits(backend: Backend) {
    let t = table(backend).await;
    let gc = Arc::new(GroupCommit::new(t.db.clone()));
    let (inside_tx, inside) = tokio::sync::oneshot::channel();
    let stuck = {
        let gc = gc.clone();
        tokio::spawn(async move {
            let result = tokio::time::timeout(
                Duration::from_millis(300),
                gc.run(move |tx| {
                    Box::pin(async move {
                        insert(tx, "half").await?;
                        inside_tx.send(()).unwrap();
                        // Never finishes on its own: the timeout drops it.
                        std::future::pending::<Result<(), StoreError>>().await
                    })
                }),
            )
            .await;
            assert!(result.is_err(), "the stuck write must time out");
        })
    };
    inside.await.unwrap();
    // Joins the batch the stuck write holds open, and waits its turn.
    let neighbour = gc.run(|tx| Box::pin(async move { insert(tx, "whole").await }));
    neighbour.await.unwrap();
    stuck.await.unwrap();
    assert_eq!(keys(&t.db).await, vec!["whole".to_owned()]);
}

async fn a_nested_write_is_refused_not_deadlocked(backend: Backend) {
    let t = table(backend).await;
    let gc = Arc::new(GroupCommit::new(t.db.clone()));
    let inner = gc.clone();
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        gc.run(move |tx| {
            Box::pin(async move {
                insert(tx, "outer").await?;
                inner.run(|tx| Box::pin(async move { insert(tx, "inner").await })).await
            })
        }),
    )
    .await
    .expect("a nested write must not wait for its own batch");
    assert!(
        matches!(outcome, Err(StoreError::Other(ref m)) if m.contains("inside another")),
        "{outcome:?}"
    );
    assert!(
        keys(&t.db).await.is_empty(),
        "the outer write failed, so nothing commits"
    );
}

async fn insert_child(ex: &dyn essp_store::Executor, k: &str, parent: Option<&str>) -> Result<(), StoreError> {
    let parent = parent.map_or(essp_store::Value::Null(essp_store::SqlType::Text), Into::into);
    ex.execute("INSERT INTO child (k, parent) VALUES ($1, $2)", &[k.into(), parent])
        .await?;
    Ok(())
}

async fn a_failed_commit_acknowledges_nobody(backend: Backend) {
    let t = TestDb::empty(backend).await;
    // A deferred foreign key is checked only at COMMIT: the orphan's own
    // statements succeed, and the shared COMMIT fails.
    t.db.execute_script(
        "CREATE TABLE parent (k TEXT PRIMARY KEY); \
         CREATE TABLE child (k TEXT PRIMARY KEY, parent TEXT REFERENCES parent (k) DEFERRABLE INITIALLY DEFERRED)",
    )
    .await
    .unwrap();
    let gc = Arc::new(GroupCommit::new(t.db.clone()));
    let (inside_tx, inside) = tokio::sync::oneshot::channel();
    let (go_tx, go) = tokio::sync::oneshot::channel::<()>();
    let orphan = {
        let gc = gc.clone();
        tokio::spawn(async move {
            gc.run(move |tx| {
                Box::pin(async move {
                    insert_child(tx, "orphan", Some("missing")).await?;
                    inside_tx.send(()).unwrap();
                    go.await.unwrap();
                    Ok::<_, StoreError>(())
                })
            })
            .await
        })
    };
    inside.await.unwrap();
    // The neighbour joins the orphan's batch on its first poll, then the
    // orphan is let go.
    let (neighbour, ()) = tokio::join!(gc.run(|tx| Box::pin(insert_child(tx, "fine", None))), async {
        tokio::task::yield_now().await;
        go_tx.send(()).unwrap();
    });
    let orphan = orphan.await.unwrap();
    assert!(orphan.is_err(), "{orphan:?}");
    let survivors: Vec<String> =
        t.db.fetch_all("SELECT k FROM child", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.text("k").unwrap())
            .collect();
    match backend {
        // Grouped with the orphan: told nothing committed, and nothing did.
        Backend::Sqlite => {
            assert!(
                neighbour.is_err(),
                "told committed, but its COMMIT failed: {neighbour:?}"
            );
            assert!(survivors.is_empty(), "{survivors:?} survived a failed commit");
        }
        // Postgres gives every write its own transaction.
        Backend::Postgres => {
            neighbour.unwrap();
            assert_eq!(survivors, vec!["fine".to_owned()]);
        }
    }
    // The database is usable afterwards.
    gc.run(|tx| Box::pin(insert_child(tx, "after", None))).await.unwrap();
}

on_both_engines!(
    concurrent_writes_share_commits_and_fail_alone,
    a_cancelled_write_is_undone_and_its_neighbour_commits,
    a_nested_write_is_refused_not_deadlocked,
    a_failed_commit_acknowledges_nobody,
);
