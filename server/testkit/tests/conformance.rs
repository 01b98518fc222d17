//! The storage conformance suite: every repository method and executor
//! guarantee, run against real SQLite (libsql) and real Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, TimeZone, Utc};
use essp_domain::incident::{Incident, IncidentStatus, Severity, plan_transition};
use essp_domain::{Id, Scope};
use essp_store::cursor::Cursor;
use essp_store::idempotency::{self, StoredResponse};
use essp_store::incidents::{self, IncidentFilter};
use essp_store::{Engine, SqlType, StoreError, Value};
use essp_testkit::{Backend, TestDb, on_both_engines};

fn scope() -> Scope {
    Scope::new("t1".into(), "s1".into())
}

fn incident(scope: &Scope, title: &str, created_at: chrono::DateTime<Utc>) -> Incident {
    Incident {
        id: Id::new("inc"),
        tenant_id: scope.tenant().into(),
        school_id: scope.school().into(),
        device_id: "dev_1".into(),
        category: "hardware".into(),
        severity: Severity::High,
        status: IncidentStatus::New,
        title: title.into(),
        description: format!("{title} description"),
        reported_by: "user-1".into(),
        sla_due_at: created_at + Duration::hours(24),
        sla_breached: false,
        breached_at: None,
        acknowledged_at: None,
        resolved_at: None,
        closed_at: None,
        status_reason: String::new(),
        created_at,
        updated_at: created_at,
        version: 1,
        context: Default::default(),
    }
}

async fn values_round_trip(backend: Backend) {
    let t = TestDb::empty(backend).await;
    let ddl = match t.db.engine() {
        Engine::Postgres => {
            "CREATE TABLE vals (k TEXT PRIMARY KEY, t TEXT, i BIGINT, f DOUBLE PRECISION, b BOOLEAN, ts TIMESTAMPTZ, j JSONB)"
        }
        Engine::Sqlite => {
            "CREATE TABLE vals (k TEXT PRIMARY KEY, t TEXT, i INTEGER, f REAL, b INTEGER, ts TEXT, j TEXT)"
        }
    };
    t.db.execute_script(ddl).await.unwrap();
    let ts = Utc.with_ymd_and_hms(2026, 11, 27, 10, 30, 0).unwrap() + Duration::microseconds(123_456);
    let json = serde_json::json!({"a": [1, 2], "b": "x"});
    let insert = "INSERT INTO vals (k, t, i, f, b, ts, j) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    t.db.execute(
        insert,
        &[
            "full".into(),
            "héllo 'quoted' $1".into(),
            (-42i64).into(),
            2.5f64.into(),
            true.into(),
            ts.into(),
            json.clone().into(),
        ],
    )
    .await
    .unwrap();
    let nulls = [
        SqlType::Text,
        SqlType::I64,
        SqlType::F64,
        SqlType::Bool,
        SqlType::Timestamp,
        SqlType::Json,
    ]
    .map(Value::Null);
    let mut params = vec![Value::from("nulls")];
    params.extend(nulls);
    t.db.execute(insert, &params).await.unwrap();

    let row =
        t.db.fetch_optional("SELECT * FROM vals WHERE k = $1", &["full".into()])
            .await
            .unwrap()
            .unwrap();
    assert_eq!(row.text("t").unwrap(), "héllo 'quoted' $1");
    assert_eq!(row.i64("i").unwrap(), -42);
    assert_eq!(row.f64("f").unwrap(), 2.5);
    assert!(row.bool("b").unwrap());
    assert_eq!(row.timestamp("ts").unwrap(), ts);
    assert_eq!(row.json("j").unwrap(), json);

    let row =
        t.db.fetch_optional("SELECT * FROM vals WHERE k = $1", &["nulls".into()])
            .await
            .unwrap()
            .unwrap();
    assert_eq!(row.opt_text("t").unwrap(), None);
    assert_eq!(row.opt_i64("i").unwrap(), None);
    assert_eq!(row.opt_timestamp("ts").unwrap(), None);
    assert!(row.text("t").is_err(), "NULL is not a required text");
}

async fn parameters_bind_by_number_not_position(backend: Backend) {
    let t = TestDb::empty(backend).await;
    t.db.execute_script("CREATE TABLE pairs (a TEXT NOT NULL, b TEXT NOT NULL)")
        .await
        .unwrap();
    // $2 appears before $1, and $1 is used twice.
    t.db.execute("INSERT INTO pairs (b, a) VALUES ($2, $1)", &["A".into(), "B".into()])
        .await
        .unwrap();
    let rows =
        t.db.fetch_all(
            "SELECT a, b FROM pairs WHERE b = $2 AND a = $1 AND a <> $3 AND $1 = a",
            &["A".into(), "B".into(), "zzz".into()],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].text("a").unwrap(), "A");
    assert_eq!(rows[0].text("b").unwrap(), "B");
}

async fn transactions_commit_rollback_and_drop(backend: Backend) {
    let t = TestDb::empty(backend).await;
    t.db.execute_script("CREATE TABLE n (v BIGINT NOT NULL)").await.unwrap();
    let count = || async { t.db.fetch_one_i64("SELECT COUNT(*) AS c FROM n").await };

    let tx = t.db.begin().await.unwrap();
    tx.execute("INSERT INTO n (v) VALUES ($1)", &[1i64.into()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count().await, 1);

    let tx = t.db.begin().await.unwrap();
    tx.execute("INSERT INTO n (v) VALUES ($1)", &[2i64.into()])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count().await, 1);

    {
        let tx = t.db.begin().await.unwrap();
        tx.execute("INSERT INTO n (v) VALUES ($1)", &[3i64.into()])
            .await
            .unwrap();
        // Dropped without commit: must not leak into later statements.
    }
    t.db.execute("INSERT INTO n (v) VALUES ($1)", &[4i64.into()])
        .await
        .unwrap();
    let vals: Vec<i64> =
        t.db.fetch_all("SELECT v FROM n ORDER BY v", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.i64("v").unwrap())
            .collect();
    assert_eq!(vals, vec![1, 4]);
}

/// A transaction whose caller gives up while it is starting (a client that
/// hung up, a timeout) leaves nothing open behind: every later write
/// through the shared handle commits on its own. (sqlx 0.8 returned such a
/// connection to the pool inside the server's transaction, and the next
/// auto-commit write on it was acknowledged but never committed.)
async fn abandoned_begins_leave_no_transaction_open(backend: Backend) {
    let t = TestDb::empty(backend).await;
    t.db.execute_script("CREATE TABLE n (v BIGINT NOT NULL)").await.unwrap();
    for i in 0..40i64 {
        {
            // Polled a few times, then dropped: somewhere mid-start.
            let mut begin = std::pin::pin!(t.db.begin());
            for _ in 0..i % 8 {
                if futures::poll!(begin.as_mut()).is_ready() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_micros(20)).await;
            }
        }
        t.db.execute("INSERT INTO n (v) VALUES ($1)", &[i.into()])
            .await
            .unwrap();
    }
    // Another handle sees only what was committed.
    let other = t.reopen().await;
    let n = other.fetch_one_i64("SELECT COUNT(*) AS c FROM n").await;
    assert_eq!(n, 40, "every acknowledged write is committed");
}

/// A COMMIT whose caller gives up half-way (a client that hung up) still
/// ends that transaction before the next one starts: it never commits
/// the next transaction's first statements early, so a transaction that
/// rolls back leaves nothing behind.
async fn abandoned_commits_never_end_the_next_transaction(backend: Backend) {
    let t = TestDb::empty(backend).await;
    t.db.execute_script("CREATE TABLE n (v BIGINT NOT NULL)").await.unwrap();
    for i in 0..40i64 {
        let tx = t.db.begin().await.unwrap();
        tx.execute("INSERT INTO n (v) VALUES ($1)", &[i.into()]).await.unwrap();
        {
            // Polled a few times, then dropped: somewhere mid-commit.
            let mut commit = std::pin::pin!(tx.commit());
            for _ in 0..i % 4 {
                if futures::poll!(commit.as_mut()).is_ready() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        let next = t.db.begin().await.unwrap();
        next.execute("INSERT INTO n (v) VALUES ($1)", &[(-1i64).into()])
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        next.rollback().await.unwrap();
    }
    let kept = t.db.fetch_one_i64("SELECT COUNT(*) AS c FROM n WHERE v < 0").await;
    assert_eq!(kept, 0, "a rolled-back transaction left rows behind");
}

async fn constraint_errors_are_interpreted(backend: Backend) {
    let t = TestDb::migrated(backend).await;
    let s = scope();
    let i = incident(&s, "dup", essp_domain::now());
    incidents::insert(t.db.as_ref(), &i).await.unwrap();
    let err = incidents::insert(t.db.as_ref(), &i).await.unwrap_err();
    assert!(matches!(err, StoreError::UniqueViolation { .. }), "{err:?}");
    let bad =
        t.db.execute("INSERT INTO incidents (id) VALUES ($1)", &["inc_x".into()])
            .await
            .unwrap_err();
    assert!(matches!(bad, StoreError::ConstraintViolation { .. }), "{bad:?}");
}

async fn incident_insert_get_and_scope(backend: Backend) {
    let t = TestDb::migrated(backend).await;
    let s = scope();
    let i = incident(&s, "Cracked screen", essp_domain::now());
    incidents::insert(t.db.as_ref(), &i).await.unwrap();
    assert_eq!(incidents::get(t.db.as_ref(), &s, &i.id).await.unwrap(), Some(i.clone()));
    // Another school or tenant cannot see it.
    for other in [
        Scope::new("t1".into(), "s2".into()),
        Scope::new("t2".into(), "s1".into()),
    ] {
        assert_eq!(incidents::get(t.db.as_ref(), &other, &i.id).await.unwrap(), None);
    }
    assert_eq!(incidents::get(t.db.as_ref(), &s, &Id::new("inc")).await.unwrap(), None);
}

async fn incident_list_filters_and_pages(backend: Backend) {
    let t = TestDb::migrated(backend).await;
    let s = scope();
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut all = Vec::new();
    for n in 0..7 {
        let mut i = incident(&s, &format!("Laptop {n}"), base + Duration::minutes(n));
        if n % 2 == 0 {
            i.severity = Severity::Critical;
        }
        if n == 3 {
            i.title = "100% broken_keyboard".into();
            i.device_id = "dev_kb".into();
            i.sla_breached = true;
        }
        incidents::insert(t.db.as_ref(), &i).await.unwrap();
        all.push(i);
    }
    // Same created_at for two rows: the id breaks the tie.
    let mut twin = incident(&s, "Twin", base + Duration::minutes(6));
    twin.id = Id::new("inc");
    incidents::insert(t.db.as_ref(), &twin).await.unwrap();
    incidents::insert(
        t.db.as_ref(),
        &incident(&Scope::new("t1".into(), "other".into()), "Elsewhere", base),
    )
    .await
    .unwrap();

    // Page through everything, 3 at a time: newest first, no gaps, no repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let f = IncidentFilter {
            limit: 3,
            cursor: cursor.clone(),
            ..Default::default()
        };
        let page = incidents::list(t.db.as_ref(), &s, &f).await.unwrap();
        seen.extend(page.items.iter().map(|i| i.id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(Cursor::decode(&c.encode()).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    let mut expected: Vec<(chrono::DateTime<Utc>, Id)> = all
        .iter()
        .chain([&twin])
        .map(|i| (i.created_at, i.id.clone()))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected.into_iter().map(|(_, id)| id).collect::<Vec<_>>());

    let count = |f: IncidentFilter| {
        let db = t.db.clone();
        let s = s.clone();
        async move {
            incidents::list(db.as_ref(), &s, &IncidentFilter { limit: 50, ..f })
                .await
                .unwrap()
                .items
                .len()
        }
    };
    assert_eq!(
        count(IncidentFilter {
            severity: Some(Severity::Critical),
            ..Default::default()
        })
        .await,
        4
    );
    assert_eq!(
        count(IncidentFilter {
            status: Some(IncidentStatus::New),
            ..Default::default()
        })
        .await,
        8
    );
    assert_eq!(
        count(IncidentFilter {
            status: Some(IncidentStatus::Closed),
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(
        count(IncidentFilter {
            device_id: Some("dev_kb".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(IncidentFilter {
            sla_breached: Some(true),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(IncidentFilter {
            sla_breached: Some(false),
            ..Default::default()
        })
        .await,
        7
    );
    assert_eq!(
        count(IncidentFilter {
            updated_since: Some(base + Duration::minutes(5)),
            ..Default::default()
        })
        .await,
        3
    );
    // q: case-insensitive substring of title or description; % and _ are literal.
    // Six titles plus the renamed one whose description still says "Laptop 3".
    assert_eq!(
        count(IncidentFilter {
            q: Some("LAPTOP".into()),
            ..Default::default()
        })
        .await,
        7
    );
    assert_eq!(
        count(IncidentFilter {
            q: Some("100%".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(IncidentFilter {
            q: Some("n_k".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(IncidentFilter {
            q: Some("%".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(IncidentFilter {
            q: Some("4 desc".into()),
            ..Default::default()
        })
        .await,
        1
    );
}

async fn incident_status_is_compare_and_set(backend: Backend) {
    let t = TestDb::migrated(backend).await;
    let s = scope();
    let i = incident(&s, "CAS", essp_domain::now());
    incidents::insert(t.db.as_ref(), &i).await.unwrap();

    let now = essp_domain::now();
    let ack = plan_transition(&i, IncidentStatus::Acknowledged, "", now).unwrap();
    let updated = incidents::apply_status(t.db.as_ref(), &s, &i.id, i.version, &ack, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.status, IncidentStatus::Acknowledged);
    assert_eq!(updated.acknowledged_at, Some(now));
    assert_eq!(updated.version, 2);

    // A writer that planned from the old row loses.
    let stale = plan_transition(&i, IncidentStatus::Escalated, "", now).unwrap();
    assert_eq!(
        incidents::apply_status(t.db.as_ref(), &s, &i.id, i.version, &stale, now)
            .await
            .unwrap(),
        None
    );
    // Wrong scope never matches.
    let other = Scope::new("t1".into(), "s2".into());
    let next = plan_transition(&updated, IncidentStatus::InProgress, "", now).unwrap();
    assert_eq!(
        incidents::apply_status(t.db.as_ref(), &other, &i.id, 2, &next, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        incidents::get(t.db.as_ref(), &s, &i.id).await.unwrap().unwrap().status,
        IncidentStatus::Acknowledged
    );

    // Two concurrent writers from the same version: exactly one wins.
    let (a, b) = (t.db.clone(), t.db.clone());
    let (s1, s2) = (s.clone(), s.clone());
    let (id1, id2) = (i.id.clone(), i.id.clone());
    let p1 = plan_transition(&updated, IncidentStatus::InProgress, "", now).unwrap();
    let p2 = plan_transition(&updated, IncidentStatus::Escalated, "", now).unwrap();
    let (r1, r2) = tokio::join!(
        tokio::spawn(async move {
            incidents::apply_status(a.as_ref(), &s1, &id1, 2, &p1, now)
                .await
                .unwrap()
        }),
        tokio::spawn(async move {
            incidents::apply_status(b.as_ref(), &s2, &id2, 2, &p2, now)
                .await
                .unwrap()
        }),
    );
    assert_eq!(r1.unwrap().is_some() as u8 + r2.unwrap().is_some() as u8, 1);
}

async fn idempotency_keys_store_once(backend: Backend) {
    let t = TestDb::migrated(backend).await;
    let resp = StoredResponse {
        request_hash: "h1".into(),
        status: 201,
        location: Some("/v1/incidents/inc_1".into()),
        body: "{\"id\":1}".into(),
    };
    let now = essp_domain::now();
    assert_eq!(idempotency::find(t.db.as_ref(), "t1", "k1").await.unwrap(), None);
    idempotency::insert(t.db.as_ref(), "t1", "k1", &resp, now)
        .await
        .unwrap();
    assert_eq!(
        idempotency::find(t.db.as_ref(), "t1", "k1").await.unwrap(),
        Some(resp.clone())
    );
    // Keys are per tenant.
    assert_eq!(idempotency::find(t.db.as_ref(), "t2", "k1").await.unwrap(), None);
    let dup = idempotency::insert(t.db.as_ref(), "t1", "k1", &resp, now)
        .await
        .unwrap_err();
    assert!(matches!(dup, StoreError::UniqueViolation { .. }));
    assert_eq!(
        idempotency::purge_before(t.db.as_ref(), now + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(idempotency::find(t.db.as_ref(), "t1", "k1").await.unwrap(), None);
}

/// The dialect's statistics refresh runs as a script on a live database and
/// leaves the planner statistics behind (SQLite); Postgres needs none.
async fn statistics_refresh_collects_statistics(backend: Backend) {
    let t = TestDb::migrated(backend).await;
    let s = scope();
    for n in 0..50 {
        let i = incident(&s, &format!("Incident {n}"), essp_domain::now());
        incidents::insert(t.db.as_ref(), &i).await.unwrap();
    }
    match (backend, t.db.dialect().refresh_statistics) {
        (Backend::Postgres, script) => assert_eq!(script, None, "autovacuum analyzes Postgres"),
        (Backend::Sqlite, Some(script)) => {
            t.db.execute_script(script).await.unwrap();
            let analyzed =
                t.db.fetch_one_i64("SELECT COUNT(*) AS c FROM sqlite_stat1 WHERE tbl = 'incidents'")
                    .await;
            assert!(analyzed > 0, "incidents has statistics after the refresh");
            // Running it again is cheap and harmless.
            t.db.execute_script(script).await.unwrap();
        }
        (Backend::Sqlite, None) => panic!("SQLite needs its statistics refreshed"),
    }
}

/// The breach sweep runs every minute over every incident: its query must
/// be answerable from its partial index on both engines (SQLite ignores a
/// partial index whose predicate is spelled differently from the query).
async fn overdue_incidents_are_found_through_their_index(backend: Backend) {
    let t = TestDb::migrated(backend).await;
    let params = [Value::from(essp_domain::now()), Value::from(500_i64)];
    let plan: Vec<String> = match backend {
        Backend::Sqlite => {
            t.db.fetch_all(&format!("EXPLAIN QUERY PLAN {}", incidents::OVERDUE), &params)
                .await
                .unwrap()
                .iter()
                .map(|r| r.text("detail").unwrap())
                .collect()
        }
        Backend::Postgres => {
            // An empty table is cheapest to scan; forbid that to see
            // whether the index can serve the query at all.
            let tx = t.db.begin().await.unwrap();
            tx.execute("SET LOCAL enable_seqscan = off", &[]).await.unwrap();
            let rows = tx
                .fetch_all(&format!("EXPLAIN {}", incidents::OVERDUE), &params)
                .await
                .unwrap();
            rows.iter().map(|r| r.text("QUERY PLAN").unwrap()).collect()
        }
    };
    assert!(
        plan.iter().any(|line| line.contains("incidents_sla_sweep_idx")),
        "{}",
        plan.join("\n")
    );
}

on_both_engines!(
    overdue_incidents_are_found_through_their_index,
    statistics_refresh_collects_statistics,
    values_round_trip,
    parameters_bind_by_number_not_position,
    transactions_commit_rollback_and_drop,
    abandoned_begins_leave_no_transaction_open,
    abandoned_commits_never_end_the_next_transaction,
    constraint_errors_are_interpreted,
    incident_insert_get_and_scope,
    incident_list_filters_and_pages,
    incident_status_is_compare_and_set,
    idempotency_keys_store_once,
);

/// Small helper used above.
trait FetchOne {
    async fn fetch_one_i64(&self, sql: &str) -> i64;
}

impl FetchOne for std::sync::Arc<dyn essp_store::Database> {
    async fn fetch_one_i64(&self, sql: &str) -> i64 {
        self.fetch_optional(sql, &[]).await.unwrap().unwrap().i64("c").unwrap()
    }
}
