//! The storage-level sync guarantees (SYNC.md 2–8), with no transport in
//! sight: two databases stand for central and one school's edge, changes
//! move by reading one side's outbox and applying it on the other with
//! `edge_apply::apply_up` (edge → central) or `apply_down` (central → edge,
//! with made-up increasing stream sequences).
//!
//! Every scenario runs on SQLite pairs, on Postgres pairs, and on the
//! realistic pair: the edge on SQLite, central on Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use chrono::Duration;
use essp_domain::incident::{Incident, IncidentStatus, Severity, plan_transition};
use essp_domain::project::{Phase, Project};
use essp_domain::ssot::{self, SsotRow};
use essp_domain::{Id, Scope};
use essp_store::audit::{self, AuditContext};
use essp_store::sync::{blobs, digest, edges, journal, outbox, row};
use essp_store::{Database, incidents, projects, ssot_snapshot, surveys};
use essp_sync_engine::blob_transfer;
use essp_sync_engine::edge_apply::{self, DownResult, UpResult};
use essp_sync_proto::{Checkpoint, EnrollRequest, Envelope, Hlc, PROTOCOL_VERSION, RowChange, TableDigest};
use essp_testkit::{Backend, TestDb};
use serde_json::json;

const TENANT: &str = "tenant-sync";
const SCHOOL: &str = "school-a";
const OTHER_SCHOOL: &str = "school-b";
const HOST: &str = "box-1";

/// Runs each scenario `async fn name(central: Backend, edge: Backend)` on
/// an all-SQLite pair, an all-Postgres pair and the production pair.
macro_rules! scenarios {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            use essp_testkit::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name(Backend::Sqlite, Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name(Backend::Postgres, Backend::Postgres).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn edge_sqlite_central_postgres() { super::$name(Backend::Postgres, Backend::Sqlite).await }
        }
    )+};
}

scenarios!(
    edge_writes_apply_centrally_exactly_once,
    reordered_and_split_envelopes,
    stale_epoch_is_refused,
    foreign_scope_is_refused,
    concurrent_edits_merge_per_field_and_log_conflicts,
    closed_incident_is_never_reopened_by_a_stale_write,
    closing_reaches_an_edge_that_escalated_meanwhile,
    future_clocks_are_quarantined,
    edge_clock_two_hours_ahead_still_converges,
    rejected_change_does_not_wedge,
    a_bad_row_among_interleaved_tables_is_rejected_alone,
    an_audit_row_without_json_state_is_refused_and_sealing_goes_on,
    append_only_id_collision_is_not_silently_dropped,
    down_apply_keeps_cursor_with_rows,
    a_write_in_flight_as_an_edge_enrolls_is_in_its_copy,
    central_audit_rows_join_the_edge_chain_as_they_arrive,
    an_edge_a_release_apart_keeps_syncing,
    digests_read_every_row_page_by_page,
    ssot_snapshots_follow_central_school_by_school,
    snapshot_rows_from_an_edge_are_refused,
    projects_come_down_to_their_school_only,
    project_rows_from_an_edge_are_refused,
    a_centrally_uploaded_blob_is_fetched_by_its_edge_only,
    unknown_fields_survive_a_round_trip,
);

// ---------------------------------------------------------------- helpers

fn scope() -> Scope {
    Scope::new(TENANT.into(), SCHOOL.into())
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap()
}

/// Lets the wall clock move on, so the next write on the other node has a
/// later HLC (clocks are in milliseconds).
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}

/// An envelope as a sender builds it (through JSON, as it travels).
fn envelope(tenant: &str, school: &str, node: &str, epoch: &str, changes: &[RowChange]) -> Envelope {
    serde_json::from_value(json!({
        "version": PROTOCOL_VERSION,
        "tenantId": tenant,
        "schoolId": school,
        "node": node,
        "epoch": epoch,
        "host": HOST,
        "firstSeq": changes.first().map_or(0, |c| c.seq),
        "lastSeq": changes.last().map_or(0, |c| c.seq),
        "changes": changes,
    }))
    .unwrap()
}

fn checkpoint(epoch: &str, confirmed_seq: i64) -> Checkpoint {
    let mut cp = serde_json::to_value(Checkpoint::default()).unwrap();
    let obj = cp.as_object_mut().unwrap();
    obj.insert("version".into(), json!(PROTOCOL_VERSION));
    obj.insert("tenantId".into(), json!(TENANT));
    obj.insert("schoolId".into(), json!(SCHOOL));
    obj.insert("epoch".into(), json!(epoch));
    obj.insert("host".into(), json!(HOST));
    obj.insert("confirmedSeq".into(), json!(confirmed_seq));
    serde_json::from_value(cp).unwrap()
}

fn new_incident(school: &str, title: &str) -> Incident {
    let now = essp_domain::now();
    Incident {
        id: Id::new("inc"),
        tenant_id: TENANT.into(),
        school_id: school.into(),
        device_id: "dev_1".into(),
        category: "hardware".into(),
        severity: Severity::High,
        status: IncidentStatus::New,
        title: title.into(),
        description: format!("{title} description"),
        reported_by: "head-teacher".into(),
        sla_due_at: now + Duration::hours(24),
        sla_breached: false,
        breached_at: None,
        acknowledged_at: None,
        resolved_at: None,
        closed_at: None,
        status_reason: String::new(),
        created_at: now,
        updated_at: now,
        version: 1,
        context: Default::default(),
    }
}

/// Reports an incident at SCHOOL on `db`.
async fn create(db: &dyn Database, title: &str) -> Id {
    let i = new_incident(SCHOOL, title);
    incidents::insert(db, &i).await.unwrap();
    i.id
}

async fn get(db: &dyn Database, id: &Id) -> Incident {
    incidents::get(db, &scope(), id)
        .await
        .unwrap()
        .expect("incident exists")
}

/// Whether any row with this id exists, in any school.
async fn exists(db: &dyn Database, id: &Id) -> bool {
    db.count(
        "SELECT COUNT(*) AS n FROM incidents WHERE id = $1",
        &[id.as_str().into()],
    )
    .await
    .unwrap()
        > 0
}

/// Edits an incident's details as the API does (compare-and-set).
async fn edit(db: &dyn Database, id: &Id, f: impl FnOnce(&mut Incident)) {
    let cur = get(db, id).await;
    let mut next = cur.clone();
    f(&mut next);
    next.updated_at = essp_domain::now();
    incidents::update_details(db, &scope(), cur.version, &next)
        .await
        .unwrap()
        .expect("edit saved");
}

/// One status move through the state machine, as the API does.
async fn move_to(db: &dyn Database, id: &Id, to: IncidentStatus) {
    let cur = get(db, id).await;
    let now = essp_domain::now();
    let change = plan_transition(&cur, to, "", now).unwrap();
    incidents::apply_status(db, &scope(), id, cur.version, &change, now)
        .await
        .unwrap()
        .expect("status saved");
}

async fn conflicts(db: &dyn Database) -> Vec<journal::Conflict> {
    journal::conflicts(db, TENANT, Some(SCHOOL), 1000).await.unwrap()
}

async fn digests(db: &dyn Database) -> BTreeMap<String, TableDigest> {
    digest::digests(db, TENANT, SCHOOL).await.unwrap()
}

async fn field_clock(db: &dyn Database, table: &str, id: &str, field: &str) -> Hlc {
    let t = row::tracked(db, table, TENANT, id)
        .await
        .unwrap()
        .expect("row is tracked");
    t.clocks.get(field).expect("field has a clock").parse().unwrap()
}

/// A fresh edge database for `school` of TENANT, enrolled at `central`
/// under its epoch.
async fn enrolled_edge(central: &dyn Database, backend: Backend, school: &str) -> (TestDb, edges::ThisEdge, String) {
    let edge = TestDb::migrated(backend).await;
    edges::set_this_edge(edge.db.as_ref(), TENANT, school).await.unwrap();
    let epoch = essp_store::node_state::epoch(edge.db.as_ref()).await.unwrap();
    let req = EnrollRequest {
        tenant_id: TENANT.into(),
        school_id: school.into(),
        epoch: epoch.clone(),
        host: HOST.into(),
        confirmed_seq: 0,
        replace: false,
    };
    edge_apply::enroll(central, &req).await.unwrap().unwrap();
    let this = edges::ThisEdge {
        tenant_id: TENANT.into(),
        school_id: school.into(),
    };
    (edge, this, epoch)
}

/// Ships central's changes after outbox position `after` for `this` edge's
/// school (and, with `tenant_wide`, the tenant-wide ones central's
/// publisher fans out to every school) as one envelope, on stream sequence
/// = its last outbox position.
async fn ship_down(
    central: &dyn Database,
    edge: &dyn Database,
    this: &edges::ThisEdge,
    after: i64,
    tenant_wide: bool,
) -> Option<DownResult> {
    let changes: Vec<RowChange> = outbox::pending(central, after, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| {
            p.tenant_id == this.tenant_id && (p.school_id == this.school_id || tenant_wide && p.school_id.is_empty())
        })
        .map(|p| p.change)
        .collect();
    let last = changes.last()?.seq;
    let env = envelope(&this.tenant_id, &this.school_id, "central", "", &changes);
    let r = edge_apply::apply_down(edge, this, &[(u64::try_from(last).unwrap(), env)])
        .await
        .unwrap();
    assert_eq!(r.cursor, last, "down: {r:?}");
    Some(r)
}

/// Central and one school's edge, the edge enrolled under its epoch.
struct Pair {
    central: TestDb,
    edge: TestDb,
    this: edges::ThisEdge,
    epoch: String,
    /// Central's outbox position already shipped down; doubles as the
    /// made-up stream sequence of the envelope that carried it.
    down_sent: i64,
}

impl Pair {
    async fn new(central: Backend, edge: Backend) -> Pair {
        let central = TestDb::migrated(central).await;
        let (edge, this, epoch) = enrolled_edge(central.db.as_ref(), edge, SCHOOL).await;
        Pair {
            central,
            edge,
            this,
            epoch,
            down_sent: 0,
        }
    }

    fn c(&self) -> &dyn Database {
        self.central.db.as_ref()
    }

    fn e(&self) -> &dyn Database {
        self.edge.db.as_ref()
    }

    /// The edge's outbox after position `after`.
    async fn edge_changes(&self, after: i64) -> Vec<RowChange> {
        outbox::pending(self.e(), after, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.change)
            .collect()
    }

    fn up_envelope(&self, changes: &[RowChange]) -> Envelope {
        envelope(TENANT, SCHOOL, SCHOOL, &self.epoch, changes)
    }

    async fn apply_up(&self, env: &Envelope) -> UpResult {
        edge_apply::apply_up(self.c(), TENANT, SCHOOL, env).await.unwrap()
    }

    async fn edge_record(&self) -> edges::Edge {
        edges::get(self.c(), TENANT, SCHOOL)
            .await
            .unwrap()
            .expect("edge enrolled")
    }

    /// Ships what central has not applied of the edge's outbox.
    async fn up(&self) -> Option<UpResult> {
        let changes = self.edge_changes(self.edge_record().await.applied_seq).await;
        if changes.is_empty() {
            return None;
        }
        let r = self.apply_up(&self.up_envelope(&changes)).await;
        assert!(matches!(r, UpResult::Applied { .. }), "up: {r:?}");
        Some(r)
    }

    /// Ships what the edge has not received of central's outbox, as one
    /// envelope on stream sequence = its last outbox position.
    async fn down(&mut self) -> Option<DownResult> {
        let r = ship_down(self.c(), self.e(), &self.this, self.down_sent, false).await?;
        self.down_sent = r.cursor;
        Some(r)
    }

    /// Exchanges both ways until nothing moves (a restamp on one side
    /// queues a change for the other).
    async fn exchange(&mut self, edge_first: bool) {
        for _ in 0..6 {
            let moved = if edge_first {
                let u = self.up().await.is_some();
                let d = self.down().await.is_some();
                u || d
            } else {
                let d = self.down().await.is_some();
                let u = self.up().await.is_some();
                u || d
            };
            if !moved {
                return;
            }
        }
        panic!("the two sides never stopped sending each other changes");
    }

    /// Both sides hold the same rows of the school; returns the digests.
    async fn assert_converged(&self) -> BTreeMap<String, TableDigest> {
        let (c, e) = (digests(self.c()).await, digests(self.e()).await);
        assert_eq!(c, e, "central and edge digests differ");
        c
    }
}

// -------------------------------------------------------------- scenarios

/// Guarantee 2: an envelope applies once however often it is delivered.
async fn edge_writes_apply_centrally_exactly_once(central: Backend, edge: Backend) {
    let p = Pair::new(central, edge).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(create(p.e(), &format!("Broken laptop {n}")).await);
    }
    let ctx = AuditContext {
        actor: "head-teacher".into(),
        ..Default::default()
    };
    let change = audit::Change {
        tenant: TENANT,
        school: SCHOOL,
        action: "incident.create",
        entity_type: "incident",
        entity_id: ids[0].as_str(),
        before: None,
        after: Some(json!({"title": "Broken laptop 0"})),
    };
    audit::append(p.e(), &ctx, change, essp_domain::now()).await.unwrap();

    let changes = p.edge_changes(0).await;
    assert_eq!(changes.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    let env = p.up_envelope(&changes);
    assert_eq!(
        p.apply_up(&env).await,
        UpResult::Applied {
            applied_seq: 4,
            rejected: 0,
            conflicts: 0
        }
    );
    // Redelivered (JetStream redelivery, an edge resend after a lost ack).
    assert_eq!(p.apply_up(&env).await, UpResult::Duplicate { applied_seq: 4 });
    assert_eq!(p.apply_up(&env).await, UpResult::Duplicate { applied_seq: 4 });

    let edge_rec = p.edge_record().await;
    assert_eq!(edge_rec.applied_seq, 4);
    assert_eq!(edge_rec.status, "active");
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(get(p.c(), id).await.title, format!("Broken laptop {n}"));
    }
    let d = p.assert_converged().await;
    assert_eq!(d["incidents"].rows, 3);
    assert_eq!(d["audit_logs"].rows, 1);
    assert_eq!(
        p.c()
            .count(
                "SELECT COUNT(*) AS n FROM audit_logs WHERE tenant_id = $1",
                &[TENANT.into()]
            )
            .await
            .unwrap(),
        1
    );
    // Central does not echo the edge's own changes back down.
    assert_eq!(outbox::depth(p.c()).await.unwrap().count, 0);
    assert!(conflicts(p.c()).await.is_empty());
}

/// Guarantee 2: strictly in sequence, whatever the delivery order.
async fn reordered_and_split_envelopes(central: Backend, edge: Backend) {
    let p = Pair::new(central, edge).await;
    let mut ids = Vec::new();
    for n in 1..=9 {
        ids.push(create(p.e(), &format!("Incident {n}")).await);
    }
    let changes = p.edge_changes(0).await;
    assert_eq!(
        changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
        (1..=9).collect::<Vec<_>>()
    );
    let (e1, e2, e3) = (
        p.up_envelope(&changes[0..3]),
        p.up_envelope(&changes[3..6]),
        p.up_envelope(&changes[6..9]),
    );
    let count = || async { digests(p.c()).await["incidents"].rows };

    // The second arrives first: a gap, nothing applied.
    assert_eq!(p.apply_up(&e2).await, UpResult::Gap { applied_seq: 0 });
    assert_eq!(count().await, 0);
    let rec = p.edge_record().await;
    assert_eq!((rec.applied_seq, rec.status.as_str()), (0, "gap"));

    let applied = |n| UpResult::Applied {
        applied_seq: n,
        rejected: 0,
        conflicts: 0,
    };
    assert_eq!(p.apply_up(&e1).await, applied(3));
    assert_eq!(p.edge_record().await.status, "active");
    assert_eq!(p.apply_up(&e2).await, applied(6));
    assert_eq!(p.apply_up(&e2).await, UpResult::Duplicate { applied_seq: 6 });
    assert_eq!(count().await, 6);
    assert!(!exists(p.c(), &ids[6]).await);

    // A resend overlapping what is applied: only 7..8 take effect.
    let overlap = p.up_envelope(&changes[4..8]);
    assert_eq!(overlap.first_seq, 5);
    assert_eq!(p.apply_up(&overlap).await, applied(8));
    assert_eq!(count().await, 8);
    assert!(exists(p.c(), &ids[7]).await);
    assert!(!exists(p.c(), &ids[8]).await);

    assert_eq!(p.apply_up(&e3).await, applied(9));
    assert_eq!(p.apply_up(&e1).await, UpResult::Duplicate { applied_seq: 9 });
    assert_eq!(p.edge_record().await.applied_seq, 9);
    let d = p.assert_converged().await;
    assert_eq!(d["incidents"].rows, 9);
}

/// Guarantee 8: a restored backup or cloned box is refused, not replayed.
async fn stale_epoch_is_refused(central: Backend, edge: Backend) {
    let p = Pair::new(central, edge).await;
    create(p.e(), "Before the backup").await;
    create(p.e(), "Also before").await;
    assert!(matches!(p.up().await, Some(UpResult::Applied { applied_seq: 2, .. })));

    // The box is restored from a backup that minted another epoch and
    // replays its history from 1.
    let late = create(p.e(), "After the backup").await;
    let all = p.edge_changes(0).await;
    let stale = envelope(TENANT, SCHOOL, SCHOOL, "epoch_restored_backup", &all);
    let UpResult::Refused(msg) = p.apply_up(&stale).await else {
        panic!("a stale epoch must be refused");
    };
    assert!(msg.to_lowercase().contains("re-enroll"), "{msg}");
    assert!(!exists(p.c(), &late).await, "nothing of a refused envelope is applied");
    let rec = p.edge_record().await;
    assert_eq!(rec.applied_seq, 2);
    assert_eq!(rec.status, "refused");
    assert_eq!(rec.epoch, p.epoch);
    assert_eq!(rec.status_message, msg);

    let reply = edge_apply::answer_checkpoint(p.c(), TENANT, SCHOOL, &checkpoint("epoch_restored_backup", 0))
        .await
        .unwrap();
    assert_eq!(reply.status, "reenroll");
    assert!(reply.message.to_lowercase().contains("re-enroll"), "{}", reply.message);

    // The genuine edge, under the enrolled epoch, goes on.
    let reply = edge_apply::answer_checkpoint(p.c(), TENANT, SCHOOL, &checkpoint(&p.epoch, 2))
        .await
        .unwrap();
    assert_eq!((reply.status.as_str(), reply.applied_seq), ("ok", 2));
    assert!(matches!(p.up().await, Some(UpResult::Applied { applied_seq: 3, .. })));
    assert!(exists(p.c(), &late).await);
    p.assert_converged().await;
}

/// Guarantee 6: an edge writes only its own school, even with a modified
/// binary; a bad row is rejected without wedging the rest.
async fn foreign_scope_is_refused(central: Backend, edge: Backend) {
    let p = Pair::new(central, edge).await;
    let ids = [
        create(p.e(), "Ours 1").await,
        create(p.e(), "Will be moved to another school").await,
        create(p.e(), "Ours 3").await,
    ];
    let changes = p.edge_changes(0).await;

    // Envelopes naming another scope than the subject they arrived on.
    for (tenant, school) in [(TENANT, OTHER_SCHOOL), ("other-tenant", SCHOOL)] {
        let env = envelope(tenant, school, school, &p.epoch, &changes);
        let r = p.apply_up(&env).await;
        assert!(matches!(r, UpResult::Refused(_)), "{tenant}/{school}: {r:?}");
    }
    assert_eq!(p.edge_record().await.applied_seq, 0);
    for id in &ids {
        assert!(!exists(p.c(), id).await);
    }

    // The right subject, but change 2 is a row of another school.
    let mut tampered = changes.clone();
    tampered[1].fields.insert("school_id".into(), json!(OTHER_SCHOOL));
    assert_eq!(
        p.apply_up(&p.up_envelope(&tampered)).await,
        UpResult::Applied {
            applied_seq: 3,
            rejected: 1,
            conflicts: 0
        }
    );
    assert!(exists(p.c(), &ids[0]).await);
    assert!(!exists(p.c(), &ids[1]).await, "another school's row was written");
    assert!(
        exists(p.c(), &ids[2]).await,
        "the change after the rejected one applies"
    );
    let rejections = journal::rejections(p.c(), TENANT, SCHOOL, &p.epoch, 0, 100)
        .await
        .unwrap();
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert_eq!(
        (
            rejections[0].seq,
            rejections[0].table.as_str(),
            rejections[0].row_id.as_str()
        ),
        (2, "incidents", ids[1].as_str())
    );
    assert!(rejections[0].reason.contains(OTHER_SCHOOL), "{}", rejections[0].reason);
    // The edge learns of it in the checkpoint reply.
    let reply = edge_apply::answer_checkpoint(p.c(), TENANT, SCHOOL, &checkpoint(&p.epoch, 0))
        .await
        .unwrap();
    assert_eq!(reply.applied_seq, 3);
    assert_eq!(reply.rejections, rejections);
    assert_eq!(
        digest::digests(p.c(), TENANT, OTHER_SCHOOL).await.unwrap()["incidents"].rows,
        0
    );
}

/// Guarantee 4: per-field merge; the same field settles by HLC and the
/// loser is logged.
async fn concurrent_edits_merge_per_field_and_log_conflicts(central: Backend, edge: Backend) {
    let mut p = Pair::new(central, edge).await;
    let id = create(p.e(), "Screen cracked").await;
    p.exchange(true).await;
    assert_eq!(get(p.c(), &id).await.title, "Screen cracked");

    // Offline: different fields on each side.
    edit(p.e(), &id, |i| i.title = "Screen cracked (edge)".into()).await;
    tick().await;
    edit(p.c(), &id, |i| i.description = "Shop says: replace panel".into()).await;
    p.exchange(true).await;
    for db in [p.c(), p.e()] {
        let i = get(db, &id).await;
        assert_eq!(i.title, "Screen cracked (edge)");
        assert_eq!(i.description, "Shop says: replace panel");
    }
    p.assert_converged().await;
    // Checked after the second round so that round runs even if this fails.
    let different_fields = [conflicts(p.c()).await, conflicts(p.e()).await];

    // Offline again: the same field on both sides; the edge writes later.
    edit(p.c(), &id, |i| i.title = "Central title".into()).await;
    tick().await;
    edit(p.e(), &id, |i| i.title = "Edge title".into()).await;
    let (cc, ec) = (
        field_clock(p.c(), "incidents", id.as_str(), "title").await,
        field_clock(p.e(), "incidents", id.as_str(), "title").await,
    );
    assert!(ec > cc, "the edge's edit has the later HLC: {ec} vs {cc}");
    p.exchange(true).await;
    for db in [p.c(), p.e()] {
        assert_eq!(get(db, &id).await.title, "Edge title");
        assert_eq!(get(db, &id).await.description, "Shop says: replace panel");
        let title_conflicts: Vec<_> = conflicts(db).await.into_iter().filter(|c| c.field == "title").collect();
        assert_eq!(title_conflicts.len(), 1, "{title_conflicts:#?}");
        let c = &title_conflicts[0];
        assert_eq!(
            (c.table_name.as_str(), c.row_id.as_str(), c.reason.as_str()),
            ("incidents", id.as_str(), "lww")
        );
        assert_eq!(c.kept_value, json!("Edge title"));
        assert_eq!(c.kept_clock, ec.to_string());
        assert_eq!(c.lost_value, json!("Central title"));
        assert_eq!(c.lost_clock, cc.to_string());
    }
    p.assert_converged().await;

    let [on_central, on_edge] = different_fields;
    assert!(
        on_central.is_empty() && on_edge.is_empty(),
        "edits of different fields (title on the edge, description centrally) logged conflicts:\n\
         central: {on_central:#?}\nedge: {on_edge:#?}"
    );
}

/// Guarantee 4 (state machine): a closed incident stays closed.
async fn closed_incident_is_never_reopened_by_a_stale_write(central: Backend, edge: Backend) {
    let mut p = Pair::new(central, edge).await;
    for edge_first in [true, false] {
        let id = create(p.e(), "Charger missing").await;
        p.exchange(true).await;
        assert_eq!(get(p.c(), &id).await.status, IncidentStatus::New);

        for to in [
            IncidentStatus::Acknowledged,
            IncidentStatus::InProgress,
            IncidentStatus::Resolved,
            IncidentStatus::Closed,
        ] {
            move_to(p.c(), &id, to).await;
        }
        tick().await;
        // The edge, unaware, escalates it (later by the clock).
        move_to(p.e(), &id, IncidentStatus::Escalated).await;

        p.exchange(edge_first).await;
        let (c, e) = (get(p.c(), &id).await, get(p.e(), &id).await);
        assert_eq!(c.status, IncidentStatus::Closed, "central, edge_first={edge_first}");
        assert_eq!(e.status, IncidentStatus::Closed, "edge, edge_first={edge_first}");
        assert_eq!(e.closed_at, c.closed_at);
        assert!(c.closed_at.is_some());
        let sm: Vec<_> = conflicts(p.c())
            .await
            .into_iter()
            .filter(|c| c.row_id == id.as_str() && c.reason == "state_machine")
            .collect();
        assert_eq!(sm.len(), 1, "edge_first={edge_first}: {sm:#?}");
        assert_eq!(sm[0].field, "status");
        assert_eq!(sm[0].kept_value, json!("closed"));
        assert_eq!(sm[0].lost_value, json!("escalated"));
        p.assert_converged().await;
    }
}

/// Guarantee 4 (state machine), seen from the edge: central closed an
/// incident while the edge, unaware, escalated it (later by the clock).
/// When central's changes reach the edge before the edge's own change has
/// gone up, the edge must show the incident closed, not a row that is
/// `escalated` with `resolved_at`/`closed_at` set (a state the state
/// machine can never produce).
async fn closing_reaches_an_edge_that_escalated_meanwhile(central: Backend, edge: Backend) {
    let mut p = Pair::new(central, edge).await;
    let id = create(p.e(), "Battery swollen").await;
    p.exchange(true).await;
    for to in [
        IncidentStatus::Acknowledged,
        IncidentStatus::InProgress,
        IncidentStatus::Resolved,
        IncidentStatus::Closed,
    ] {
        move_to(p.c(), &id, to).await;
    }
    tick().await;
    move_to(p.e(), &id, IncidentStatus::Escalated).await;

    assert!(p.down().await.is_some());
    let e = get(p.e(), &id).await;
    assert!(e.closed_at.is_some(), "central's closing fields arrived");
    assert_eq!(
        e.status,
        IncidentStatus::Closed,
        "the edge shows a closed incident as {:?} (closed_at {:?}, resolved_at {:?})",
        e.status,
        e.closed_at,
        e.resolved_at
    );

    p.exchange(true).await;
    assert_eq!(get(p.c(), &id).await.status, IncidentStatus::Closed);
    assert_eq!(get(p.e(), &id).await.status, IncidentStatus::Closed);
    p.assert_converged().await;
}

/// Guarantee 4 (clocks): a clock far in the future is clamped and logged.
async fn future_clocks_are_quarantined(central: Backend, edge: Backend) {
    let mut p = Pair::new(central, edge).await;
    let id = create(p.e(), "Keyboard sticky").await;
    p.exchange(true).await;

    edit(p.e(), &id, |i| i.title = "From the future".into()).await;
    let mut changes = p.edge_changes(p.edge_record().await.applied_seq).await;
    assert_eq!(changes.len(), 1);
    let future = Hlc {
        wall_ms: now_ms() + 2 * 3600 * 1000,
        counter: 0,
        node: SCHOOL.into(),
    }
    .to_string();
    changes[0].clocks.insert("title".into(), future.clone());
    let r = p.apply_up(&p.up_envelope(&changes)).await;
    assert!(
        matches!(r, UpResult::Applied { rejected: 0, conflicts, .. } if conflicts >= 1),
        "{r:?}"
    );
    let after_apply = now_ms();
    assert_eq!(get(p.c(), &id).await.title, "From the future", "the value is applied");
    let stored = field_clock(p.c(), "incidents", id.as_str(), "title").await;
    assert!(stored.wall_ms <= after_apply, "stored clock {stored} is in the future");
    assert_eq!(stored.node, SCHOOL);
    let ahead: Vec<_> = conflicts(p.c())
        .await
        .into_iter()
        .filter(|c| c.reason == "clock_ahead")
        .collect();
    assert_eq!(ahead.len(), 1, "{ahead:#?}");
    assert_eq!(
        (ahead[0].field.as_str(), ahead[0].row_id.as_str()),
        ("title", id.as_str())
    );
    assert_eq!(ahead[0].lost_clock, future);
    assert_eq!(ahead[0].kept_clock, stored.to_string());

    // A normal central edit afterwards: stamped in the present (an adopted
    // future clock would have dragged it two hours ahead) and it wins on
    // both sides.
    tick().await;
    edit(p.c(), &id, |i| i.title = "Central fix".into()).await;
    let fix = field_clock(p.c(), "incidents", id.as_str(), "title").await;
    assert!(
        fix.wall_ms <= now_ms(),
        "central's own stamp {fix} was dragged into the future"
    );
    assert!(fix > stored);
    p.exchange(true).await;
    assert_eq!(get(p.c(), &id).await.title, "Central fix");
    assert_eq!(get(p.e(), &id).await.title, "Central fix");
    // Central's edit followed the edge's write (it saw it): not a conflict.
    let at_edge: Vec<_> = conflicts(p.e())
        .await
        .into_iter()
        .filter(|c| c.field == "title")
        .collect();
    assert!(at_edge.is_empty(), "{at_edge:#?}");
    p.assert_converged().await;
}

/// SYNC.md's failure test "edge clock 2 h ahead": the edge really stamps
/// its writes two hours ahead (its own bookkeeping holds the future
/// clocks, not only the envelope). Central quarantines them; a later
/// central edit of the same field must still reach the edge, and the two
/// sides must converge.
async fn edge_clock_two_hours_ahead_still_converges(central: Backend, edge: Backend) {
    let mut p = Pair::new(central, edge).await;
    let id = create(p.e(), "Projector dead").await;
    // The edge's clock runs two hours ahead: rewrite what capture stamped,
    // in its outbox and in its row bookkeeping, as if stamped that way.
    let ahead = 2 * 3600 * 1000;
    let shift = |c: &mut std::collections::BTreeMap<String, String>| {
        for v in c.values_mut() {
            let mut h: Hlc = v.parse().unwrap();
            h.wall_ms += ahead;
            *v = h.to_string();
        }
    };
    for mut ch in p.edge_changes(0).await {
        shift(&mut ch.clocks);
        p.e()
            .execute(
                "UPDATE sync_outbox SET change = $1 WHERE seq = $2",
                &[serde_json::to_string(&ch).unwrap().into(), ch.seq.into()],
            )
            .await
            .unwrap();
    }
    let mut tracked = row::tracked(p.e(), "incidents", TENANT, id.as_str())
        .await
        .unwrap()
        .unwrap();
    shift(&mut tracked.clocks);
    p.e()
        .execute(
            "UPDATE sync_rows SET clocks = $1 WHERE table_name = 'incidents' AND row_id = $2",
            &[
                serde_json::to_string(&tracked.clocks).unwrap().into(),
                id.as_str().into(),
            ],
        )
        .await
        .unwrap();
    // Later edge writes stamp after the row's newest clock: also ahead.
    edit(p.e(), &id, |i| i.title = "Projector dead (edge)".into()).await;
    assert!(field_clock(p.e(), "incidents", id.as_str(), "title").await.wall_ms > now_ms() + ahead / 2);

    p.exchange(true).await;
    assert_eq!(get(p.c(), &id).await.title, "Projector dead (edge)");
    assert!(field_clock(p.c(), "incidents", id.as_str(), "title").await.wall_ms <= now_ms());
    assert!(
        conflicts(p.c())
            .await
            .iter()
            .any(|c| c.reason == "clock_ahead" && c.field == "title"),
        "the future clocks are logged"
    );

    tick().await;
    edit(p.c(), &id, |i| i.title = "Central fix".into()).await;
    p.exchange(true).await;
    assert_eq!(get(p.c(), &id).await.title, "Central fix");
    assert_eq!(
        get(p.e(), &id).await.title,
        "Central fix",
        "central's later edit (made after it saw the edge's) must reach the edge"
    );
    p.assert_converged().await;
}

/// Guarantee 5: a change central rejects does not hold up the rest.
async fn rejected_change_does_not_wedge(central: Backend, edge: Backend) {
    let p = Pair::new(central, edge).await;
    let ids = [
        create(p.e(), "First").await,
        create(p.e(), "Malformed").await,
        create(p.e(), "Third").await,
    ];
    let mut changes = p.edge_changes(0).await;
    changes[1].fields.insert("sla_breached".into(), json!("yes"));
    assert_eq!(
        p.apply_up(&p.up_envelope(&changes)).await,
        UpResult::Applied {
            applied_seq: 3,
            rejected: 1,
            conflicts: 0
        }
    );
    assert!(exists(p.c(), &ids[0]).await);
    assert!(!exists(p.c(), &ids[1]).await, "nothing of a rejected change is written");
    assert!(exists(p.c(), &ids[2]).await);
    assert!(
        row::tracked(p.c(), "incidents", TENANT, ids[1].as_str())
            .await
            .unwrap()
            .is_none()
    );
    let rejections = journal::rejections(p.c(), TENANT, SCHOOL, &p.epoch, 0, 100)
        .await
        .unwrap();
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert_eq!((rejections[0].seq, rejections[0].row_id.as_str()), (2, ids[1].as_str()));
    assert!(
        rejections[0].reason.contains("sla_breached"),
        "{}",
        rejections[0].reason
    );
    // Redelivered: still recorded once.
    assert_eq!(
        p.apply_up(&p.up_envelope(&changes)).await,
        UpResult::Duplicate { applied_seq: 3 }
    );
    assert_eq!(
        journal::rejections(p.c(), TENANT, SCHOOL, &p.epoch, 0, 100)
            .await
            .unwrap()
            .len(),
        1
    );

    // Later changes keep flowing.
    let later = create(p.e(), "Later").await;
    assert_eq!(
        p.up().await,
        Some(UpResult::Applied {
            applied_seq: 4,
            rejected: 0,
            conflicts: 0
        })
    );
    assert!(exists(p.c(), &later).await);
    assert_eq!(p.edge_record().await.applied_seq, 4);
}

/// `n` incidents written at the edge, each followed by its audit row (as
/// one local transaction would interleave them).
async fn incidents_with_audit_rows(p: &Pair, n: usize) -> Vec<Id> {
    let ctx = AuditContext {
        actor: "head-teacher".into(),
        ..Default::default()
    };
    let mut ids = Vec::new();
    for i in 0..n {
        let id = create(p.e(), &format!("Incident {i}")).await;
        let change = audit::Change {
            tenant: TENANT,
            school: SCHOOL,
            action: "incident.create",
            entity_type: "incident",
            entity_id: id.as_str(),
            before: None,
            after: Some(json!({"n": i})),
        };
        audit::append(p.e(), &ctx, change, essp_domain::now()).await.unwrap();
        ids.push(id);
    }
    ids
}

/// The bulk path takes a window of several tables at once (a local
/// transaction interleaves an incident and its audit row); a bad row in the
/// middle of it sends the window one by one, in order, and only that row is
/// refused.
async fn a_bad_row_among_interleaved_tables_is_rejected_alone(central: Backend, edge: Backend) {
    let p = Pair::new(central, edge).await;
    let ids = incidents_with_audit_rows(&p, 3).await;
    let mut changes = p.edge_changes(0).await;
    let tables: Vec<&str> = changes.iter().map(|c| c.table.as_str()).collect();
    assert_eq!(
        tables,
        [
            "incidents",
            "audit_logs",
            "incidents",
            "audit_logs",
            "incidents",
            "audit_logs"
        ]
    );
    changes[2].fields.insert("sla_breached".into(), json!("yes"));
    assert_eq!(
        p.apply_up(&p.up_envelope(&changes)).await,
        UpResult::Applied {
            applied_seq: 6,
            rejected: 1,
            conflicts: 0
        }
    );
    assert!(exists(p.c(), &ids[0]).await);
    assert!(!exists(p.c(), &ids[1]).await, "nothing of a rejected change is written");
    assert!(exists(p.c(), &ids[2]).await);
    let audit_rows = p
        .c()
        .count(
            "SELECT COUNT(*) AS n FROM audit_logs WHERE tenant_id = $1",
            &[TENANT.into()],
        )
        .await
        .unwrap();
    assert_eq!(audit_rows, 3);
    let rejections = journal::rejections(p.c(), TENANT, SCHOOL, &p.epoch, 0, 100)
        .await
        .unwrap();
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert_eq!((rejections[0].seq, rejections[0].row_id.as_str()), (3, ids[1].as_str()));
}

/// The audit trail keeps its before/after state as exact JSON text. An edge
/// row holding anything else there is refused: stored, it would fail every
/// read of the row, and sealing of the tenant's whole chain would stall.
async fn an_audit_row_without_json_state_is_refused_and_sealing_goes_on(central: Backend, edge: Backend) {
    let p = Pair::new(central, edge).await;
    incidents_with_audit_rows(&p, 3).await;
    let mut changes = p.edge_changes(0).await;
    assert_eq!(changes[1].table, "audit_logs");
    changes[1].fields.insert("after_state".into(), json!("not json"));
    changes[3].fields.insert("before_state".into(), json!(""));
    let refused = [changes[1].row_id.clone(), changes[3].row_id.clone()];
    assert_eq!(
        p.apply_up(&p.up_envelope(&changes)).await,
        UpResult::Applied {
            applied_seq: 6,
            rejected: 2,
            conflicts: 0
        }
    );
    let rejections = journal::rejections(p.c(), TENANT, SCHOOL, &p.epoch, 0, 100)
        .await
        .unwrap();
    let rejected: Vec<&str> = rejections.iter().map(|r| r.row_id.as_str()).collect();
    assert_eq!(rejected, [refused[0].as_str(), refused[1].as_str()]);
    assert!(rejections[0].reason.contains("after_state"), "{rejections:?}");
    // The accepted audit row is sealed and listed like any other.
    assert_eq!(audit::seal(p.c(), TENANT, 100).await.unwrap(), 1);
    let all = audit::AuditFilter {
        limit: 10,
        ..Default::default()
    };
    let page = audit::list(p.c(), TENANT, &all).await.unwrap();
    assert_eq!(page.items.len(), 1);
}

/// Appends an audit row about incident `inc_x` of the school.
async fn audit_of_inc_x(db: &dyn Database, action: &str) -> audit::AuditEntry {
    let ctx = AuditContext {
        actor: "county-officer".into(),
        ..Default::default()
    };
    let change = audit::Change {
        tenant: TENANT,
        school: SCHOOL,
        action,
        entity_type: "incident",
        entity_id: "inc_x",
        before: None,
        after: Some(json!({"status": "open"})),
    };
    audit::append(db, &ctx, change, essp_domain::now()).await.unwrap()
}

/// Guarantees 4/5 for append-only rows: an edge row whose id collides with
/// a different row central already holds must not vanish silently (it is
/// rejected and recorded, or at least logged as a conflict).
async fn append_only_id_collision_is_not_silently_dropped(central: Backend, edge: Backend) {
    let p = Pair::new(central, edge).await;
    let theirs = audit_of_inc_x(p.c(), "incident.close").await;
    let ours = audit_of_inc_x(p.e(), "incident.escalate").await;
    create(p.e(), "After the collision").await;
    let mut changes = p.edge_changes(0).await;
    assert_eq!(changes[0].row_id, ours.id);
    changes[0].row_id = theirs.id.clone();
    changes[0].fields.insert("id".into(), json!(theirs.id));

    let r = p.apply_up(&p.up_envelope(&changes)).await;
    assert!(matches!(r, UpResult::Applied { applied_seq: 2, .. }), "{r:?}");
    let action = p
        .c()
        .fetch_optional(
            "SELECT action FROM audit_logs WHERE id = $1",
            &[theirs.id.as_str().into()],
        )
        .await
        .unwrap()
        .unwrap()
        .text("action")
        .unwrap();
    assert_eq!(action, "incident.close", "central's row is kept");
    let rejected = journal::rejections(p.c(), TENANT, SCHOOL, &p.epoch, 0, 100)
        .await
        .unwrap();
    let logged = conflicts(p.c()).await;
    assert!(
        rejected.iter().any(|r| r.row_id == theirs.id) || logged.iter().any(|c| c.row_id == theirs.id),
        "the edge's audit row ({:?}) collided with a different central row and was dropped silently: \
         result {r:?}, no rejection, no conflict",
        changes[0].fields.get("action")
    );
}

/// An edge seals central's audit rows in the transaction that applies
/// them, after its own unsealed rows: no row waits for the sealer, and the
/// chain verifies.
async fn central_audit_rows_join_the_edge_chain_as_they_arrive(central: Backend, edge: Backend) {
    let mut p = Pair::new(central, edge).await;
    let ours = audit_of_inc_x(p.e(), "incident.note").await;
    let mut theirs = Vec::new();
    for action in ["incident.create", "incident.escalate", "incident.close"] {
        theirs.push(audit_of_inc_x(p.c(), action).await.id);
    }
    let r = p.down().await.unwrap();
    assert_eq!(r.applied, 3, "{r:?}");

    let report = audit::verify(p.e(), TENANT).await.unwrap();
    assert!(report.valid, "{report:?}");
    assert_eq!((report.entries, report.unsealed), (4, 0), "{report:?}");
    let edge = p.e();
    let seq = |id: String| async move {
        edge.fetch_optional("SELECT seq FROM audit_logs WHERE id = $1", &[id.into()])
            .await
            .unwrap()
            .unwrap()
            .i64("seq")
            .unwrap()
    };
    assert_eq!(seq(ours.id.clone()).await, 1, "the edge's own older row comes first");
    for (n, id) in (2..).zip(theirs) {
        assert_eq!(seq(id).await, n, "central's rows follow in order");
    }
}

/// Guarantee 7: the edge's down cursor moves with the rows it applied.
async fn down_apply_keeps_cursor_with_rows(central: Backend, edge: Backend) {
    let p = Pair::new(central, edge).await;
    let a = create(p.c(), "From the county").await;
    let b = create(p.c(), "Also from the county").await;
    let changes: Vec<RowChange> = outbox::pending(p.c(), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.change)
        .collect();
    assert_eq!(changes.len(), 2, "central captures the enrolled school's writes");
    let env = |c: &RowChange| envelope(TENANT, SCHOOL, "central", "", std::slice::from_ref(c));
    let batch = [(10, env(&changes[0])), (11, env(&changes[1]))];

    // Preparations that do not pair up with the envelopes: refused, nothing
    // applied (an envelope left out would be acknowledged unapplied).
    let one = vec![edge_apply::prepare_down(&p.this, &batch[0].1)];
    let refused = edge_apply::apply_down_prepared(p.e(), &p.this, &batch, one).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(edges::position(p.e(), edges::DOWN_CURSOR).await.unwrap(), 0);

    assert_eq!(
        edge_apply::apply_down(p.e(), &p.this, &batch).await.unwrap(),
        DownResult {
            cursor: 11,
            applied: 2,
            rejected: 0,
            conflicts: 0
        }
    );
    assert_eq!(edges::position(p.e(), edges::DOWN_CURSOR).await.unwrap(), 11);
    assert_eq!(get(p.e(), &a).await.title, "From the county");
    assert_eq!(get(p.e(), &b).await.title, "Also from the county");
    // Applying central's changes queues nothing to send back up.
    assert_eq!(outbox::depth(p.e()).await.unwrap().count, 0);

    // Redelivered: skipped.
    assert_eq!(
        edge_apply::apply_down(p.e(), &p.this, &batch).await.unwrap(),
        DownResult {
            cursor: 11,
            applied: 0,
            rejected: 0,
            conflicts: 0
        }
    );
    assert_eq!(
        edge_apply::apply_down(p.e(), &p.this, &batch[1..]).await.unwrap(),
        DownResult {
            cursor: 11,
            applied: 0,
            rejected: 0,
            conflicts: 0
        }
    );
    assert_eq!(edges::position(p.e(), edges::DOWN_CURSOR).await.unwrap(), 11);

    // A batch overlapping the cursor applies only what is new.
    edit(p.c(), &a, |i| i.title = "From the county (edited)".into()).await;
    let edited = outbox::pending(p.c(), changes[1].seq, 100).await.unwrap();
    assert_eq!(edited.len(), 1);
    let mut overlap = batch.to_vec();
    overlap.push((12, env(&edited[0].change)));
    assert_eq!(
        edge_apply::apply_down(p.e(), &p.this, &overlap).await.unwrap(),
        DownResult {
            cursor: 12,
            applied: 1,
            rejected: 0,
            conflicts: 0
        }
    );
    assert_eq!(edges::position(p.e(), edges::DOWN_CURSOR).await.unwrap(), 12);
    assert_eq!(get(p.e(), &a).await.title, "From the county (edited)");
    let d = p.assert_converged().await;
    assert_eq!(d["incidents"].rows, 2);
}

/// Guarantee 10: an edge one release behind (a column it does not know yet)
/// or ahead (a column central does not know yet) keeps syncing: unknown
/// fields are ignored, missing ones leave the receiver's value alone.
async fn an_edge_a_release_apart_keeps_syncing(central: Backend, edge: Backend) {
    let mut p = Pair::new(central, edge).await;
    let id = create(p.e(), "Keyboard dead").await;
    p.exchange(true).await;
    edit(p.e(), &id, |i| i.title = "Keyboard dead, two keys".into()).await;
    let mut changes = p.edge_changes(p.edge_record().await.applied_seq).await;
    assert!(!changes.is_empty());
    for c in changes.iter_mut().filter(|c| c.table == "incidents") {
        // A newer edge sends a column central lacks…
        c.fields.insert("warranty_ref".into(), json!("W-1"));
        c.clocks.insert("warranty_ref".into(), c.clocks["title"].clone());
        // …and an older one lacks a column central has.
        c.fields.remove("context");
        c.clocks.remove("context");
    }
    let mut env = p.up_envelope(&changes);
    env.version = essp_sync_proto::PROTOCOL_VERSION + 1;
    let env: Envelope = serde_json::from_value({
        let mut v = serde_json::to_value(&env).unwrap();
        v["someFutureEnvelopeField"] = json!({"x": 1});
        v
    })
    .unwrap();
    let r = p.apply_up(&env).await;
    assert!(matches!(r, UpResult::Applied { rejected: 0, .. }), "{r:?}");
    let at_central = get(p.c(), &id).await;
    assert_eq!(at_central.title, "Keyboard dead, two keys");
    assert_eq!(
        at_central.context,
        get(p.e(), &id).await.context,
        "a missing field keeps its value"
    );
    p.exchange(false).await;
    p.assert_converged().await;
}

/// Guarantee 3's digests page through a table (bounded memory on a big
/// school): every row counts once across page boundaries, and the row
/// hashes name each row.
async fn digests_read_every_row_page_by_page(central: Backend, edge: Backend) {
    let p = Pair::new(central, edge).await;
    let n = 2_345;
    for i in 0..n {
        create(p.e(), &format!("Row {i}")).await;
    }
    let t = essp_store::sync::catalog::table("incidents").unwrap();
    let d = essp_store::sync::digest::table_digest(p.e(), t, TENANT, SCHOOL)
        .await
        .unwrap();
    assert_eq!(d.rows, n);
    let hashes = essp_store::sync::digest::row_hashes(p.e(), t, TENANT, SCHOOL)
        .await
        .unwrap();
    assert_eq!(hashes.len() as i64, n);

    // `essp sync verify` reads central's side in bounded pages of bucket
    // sums: pages of any size add up to the table's digest.
    let mut pages = 0;
    let (mut whole, mut after) = (digest::BucketSums::new(), String::new());
    loop {
        let rows = digest::Rows {
            after: &after,
            max: 700,
            ..digest::Rows::all(t, TENANT, SCHOOL)
        };
        let (sums, next) = rows.bucket_sums(p.e()).await.unwrap();
        assert!(digest::total(&sums).rows() <= 700);
        for (b, s) in sums {
            whole.entry(b).or_default().add(s);
        }
        pages += 1;
        match next {
            Some(id) => after = id,
            None => break,
        }
    }
    assert_eq!(pages, 4, "2,345 rows in pages of 700");
    assert_eq!(digest::total(&whole).to_digest(), d);
    assert!(whole.len() > 200, "rows spread over the buckets: {}", whole.len());

    // The rows of chosen buckets, paged the same way, are exactly the rows
    // whose id falls in them.
    let chosen: std::collections::BTreeSet<u16> = whole.keys().copied().take(3).collect();
    let (mut named, mut after) = (BTreeMap::new(), String::new());
    loop {
        let rows = digest::Rows {
            after: &after,
            max: 500,
            ..digest::Rows::all(t, TENANT, SCHOOL)
        };
        let (page, next) = rows.hashes_in(p.e(), &chosen).await.unwrap();
        named.extend(page);
        match next {
            Some(id) => after = id,
            None => break,
        }
    }
    let expected: BTreeMap<String, String> = hashes
        .into_iter()
        .filter(|(id, _)| chosen.contains(&digest::bucket_of(id)))
        .collect();
    assert_eq!(named, expected);
    let in_chosen: i64 = chosen.iter().map(|b| whole[b].rows()).sum();
    assert_eq!(named.len() as i64, in_chosen);
}

// ------------------------------------------------- SSOT snapshots (down only)

/// An SSOT row of `kind` as the SSOT services publish it (camelCase JSON).
fn ssot_row(kind: &str, tenant: &str, id: &str, revision: i64, fields: serde_json::Value) -> SsotRow {
    let now = essp_domain::now();
    let mut v = json!({
        "id": id, "tenantId": tenant, "revision": revision, "createdAt": now, "updatedAt": now,
    });
    v.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    SsotRow::from_json(ssot::kind(kind).unwrap(), &v).unwrap()
}

/// Writes SSOT rows into central's snapshots as the event consumer and the
/// reconcile do: one transaction per batch.
async fn ssot_write(db: &dyn Database, kind: &str, rows: &[SsotRow]) {
    let tx = db.begin().await.unwrap();
    ssot_snapshot::apply(tx.as_ref(), ssot::kind(kind).unwrap(), rows)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// [`ssot_write`] of one row of TENANT at revision 1.
async fn ssot_put(db: &dyn Database, kind: &str, id: &str, fields: serde_json::Value) {
    ssot_write(db, kind, &[ssot_row(kind, TENANT, id, 1, fields)]).await;
}

/// The ids of a snapshot's rows in one tenant (tombstones included).
async fn snapshot_ids(db: &dyn Database, table: &str, tenant: &str) -> Vec<String> {
    db.fetch_all(
        &format!("SELECT id FROM {table} WHERE tenant_id = $1 ORDER BY id"),
        &[tenant.into()],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.text("id").unwrap())
    .collect()
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// A central write that began before an edge enrolled found no edge to
/// capture its change for. The enrollment waits for it to end, so the
/// copy the edge takes next holds it: it never falls between the copy
/// and the stream.
async fn a_write_in_flight_as_an_edge_enrolls_is_in_its_copy(central: Backend, edge: Backend) {
    let central = TestDb::migrated(central).await;
    let c = central.db.clone();
    let write = c.begin().await.unwrap();
    let incident = new_incident(SCHOOL, "reported as the school enrolls");
    incidents::insert(write.as_ref(), &incident).await.unwrap();

    let edge = TestDb::migrated(edge).await;
    edges::set_this_edge(edge.db.as_ref(), TENANT, SCHOOL).await.unwrap();
    let this = edges::ThisEdge {
        tenant_id: TENANT.into(),
        school_id: SCHOOL.into(),
    };
    let req = EnrollRequest {
        tenant_id: TENANT.into(),
        school_id: SCHOOL.into(),
        epoch: essp_store::node_state::epoch(edge.db.as_ref()).await.unwrap(),
        host: HOST.into(),
        confirmed_seq: 0,
        replace: false,
    };
    let enrolled = tokio::spawn({
        let (c, e, this) = (c.clone(), edge.db.clone(), this.clone());
        async move {
            edge_apply::enroll(c.as_ref(), &req).await.unwrap().unwrap();
            copy_snapshot(c.as_ref(), e.as_ref(), &this).await;
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!enrolled.is_finished(), "the enrollment waits for the write in flight");
    write.commit().await.unwrap();
    enrolled.await.unwrap();

    assert!(
        outbox::pending(c.as_ref(), 0, 10).await.unwrap().is_empty(),
        "the write began before any edge, and captured nothing"
    );
    assert!(exists(edge.db.as_ref(), &incident.id).await, "the copy holds the write");
    assert_same_school(c.as_ref(), edge.db.as_ref(), SCHOOL).await;
}

/// An edge's enrollment copy, as `essp edge enroll` takes it: every
/// replicated table, page by page.
async fn copy_snapshot(central: &dyn Database, edge: &dyn Database, this: &edges::ThisEdge) {
    for t in essp_store::sync::catalog::TABLES.iter() {
        let mut after = String::new();
        loop {
            let page = edge_apply::snapshot_page(central, &this.tenant_id, &this.school_id, t.name, &after, 2)
                .await
                .unwrap();
            edge_apply::apply_snapshot_page(edge, this, &page, "test")
                .await
                .unwrap();
            match page.next_after {
                Some(next) => after = next,
                None => break,
            }
        }
    }
}

async fn assert_same_school(central: &dyn Database, edge: &dyn Database, school: &str) {
    let (c, e) = (
        digest::digests(central, TENANT, school).await.unwrap(),
        digest::digests(edge, TENANT, school).await.unwrap(),
    );
    assert_eq!(c, e, "central and the edge of {school} differ");
}

/// SSOT snapshots are central-owned and go down only: each edge gets its
/// own school's row, contacts and devices plus the tenant's catalogues,
/// first in its enrollment copy, then as central's snapshots change — a
/// device moved to another school leaves the first school's edge and
/// arrives at the other's, a tombstone travels as a row. Central captures
/// nothing for schools without an edge, nothing for a stale revision, and
/// keeps two tenants' rows with the same id apart.
async fn ssot_snapshots_follow_central_school_by_school(central: Backend, edge: Backend) {
    let c = TestDb::migrated(central).await;
    let c = c.db.as_ref();
    let id = |prefix: &'static str| Id::new(prefix).into_string();
    let (school_a, school_b, school_x) = (id("school"), id("school"), id("school"));
    let county = id("county");
    let model = id("dmodel");
    let device = |n: i64, school: &str, serial: &str, id: &str| {
        ssot_row(
            "devices",
            TENANT,
            id,
            n,
            json!({"serial": serial, "deviceModelId": model, "schoolId": school}),
        )
    };
    let school = |id: &str, name: &str| ssot_row("schools", TENANT, id, 1, json!({"name": name, "countyId": county}));

    // No edge anywhere: the snapshots are written as before, nothing captured.
    ssot_put(c, "counties", &county, json!({"name": "Nairobi", "code": "047"})).await;
    ssot_write(
        c,
        "schools",
        &[
            school(&school_a, "School A"),
            school(&school_b, "School B"),
            school(&school_x, "School X"),
        ],
    )
    .await;
    let (d0, d1, d2, d3, dm, dx) = (id("dev"), id("dev"), id("dev"), id("dev"), id("dev"), id("dev"));
    ssot_write(
        c,
        "devices",
        &[
            device(1, &school_a, "SN-0", &d0),
            device(2, &school_x, "SN-X", &dx),
            device(3, &school_a, "SN-M", &dm),
        ],
    )
    .await;
    assert_eq!(outbox::depth(c).await.unwrap().count, 0);

    // Two schools enroll and copy their rows.
    let (ea, this_a, _) = enrolled_edge(c, edge, &school_a).await;
    let (eb, this_b, _) = enrolled_edge(c, edge, &school_b).await;
    let (ea, eb) = (ea.db.as_ref(), eb.db.as_ref());
    copy_snapshot(c, ea, &this_a).await;
    copy_snapshot(c, eb, &this_b).await;
    for (db, school) in [(ea, &school_a), (eb, &school_b)] {
        // Its own school's row only; the catalogues whole.
        assert_eq!(snapshot_ids(db, "schools_snapshot", TENANT).await, vec![school.clone()]);
        assert_eq!(
            snapshot_ids(db, "counties_snapshot", TENANT).await,
            vec![county.clone()]
        );
    }
    assert_eq!(snapshot_ids(ea, "devices_snapshot", TENANT).await, sorted(&[&d0, &dm]));
    assert!(snapshot_ids(eb, "devices_snapshot", TENANT).await.is_empty());
    assert_same_school(c, ea, &school_a).await;
    assert_same_school(c, eb, &school_b).await;

    // Central's snapshots change: catalogues, devices of both schools and
    // of a school with no edge, a contact, a MAC address.
    ssot_put(c, "device_models", &model, json!({"make": "Lenovo", "model": "100e"})).await;
    let part = id("part");
    ssot_put(c, "parts", &part, json!({"puk": "PUK-1", "name": "Screen"})).await;
    ssot_write(
        c,
        "devices",
        &[
            device(3, &school_a, "SN-1", &d1),
            device(4, &school_b, "SN-2", &d2),
            device(5, &school_a, "SN-3", &d3),
            device(6, &school_x, "SN-X2", &dx),
        ],
    )
    .await;
    let contact = id("contact");
    ssot_put(
        c,
        "school_contacts",
        &contact,
        json!({"schoolId": school_a, "name": "Head", "active": true}),
    )
    .await;
    ssot_put(
        c,
        "network_identities",
        &id("mac"),
        json!({"deviceId": d1, "macAddress": "aa:bb:cc:dd:ee:ff"}),
    )
    .await;
    let pending = outbox::pending(c, 0, 1000).await.unwrap();
    let scopes: Vec<(&str, &str, &str)> = pending
        .iter()
        .map(|p| (p.change.table.as_str(), p.school_id.as_str(), p.change.row_id.as_str()))
        .collect();
    assert!(
        scopes.iter().all(|(_, s, _)| *s != school_x),
        "a school with no edge: {scopes:?}"
    );
    assert!(
        scopes.iter().all(|(t, _, _)| *t != "network_identities_snapshot"),
        "{scopes:?}"
    );
    assert!(
        scopes.contains(&("devices_snapshot", school_a.as_str(), d1.as_str())),
        "{scopes:?}"
    );
    assert!(scopes.contains(&("parts_snapshot", "", part.as_str())), "{scopes:?}");

    let (mut sent_a, mut sent_b) = (0, 0);
    let down = async |sent_a: &mut i64, sent_b: &mut i64| {
        for (edge, this, sent) in [(ea, &this_a, sent_a), (eb, &this_b, sent_b)] {
            if let Some(r) = ship_down(c, edge, this, *sent, true).await {
                assert_eq!(r.rejected, 0, "{r:?}");
                *sent = r.cursor;
            }
        }
    };
    down(&mut sent_a, &mut sent_b).await;
    assert_eq!(
        snapshot_ids(ea, "devices_snapshot", TENANT).await,
        sorted(&[&d0, &d1, &d3, &dm])
    );
    assert_eq!(snapshot_ids(eb, "devices_snapshot", TENANT).await, vec![d2.clone()]);
    for e in [ea, eb] {
        assert_eq!(snapshot_ids(e, "parts_snapshot", TENANT).await, vec![part.clone()]);
        assert_eq!(
            snapshot_ids(e, "device_models_snapshot", TENANT).await,
            vec![model.clone()]
        );
        assert!(snapshot_ids(e, "network_identities_snapshot", TENANT).await.is_empty());
    }
    assert_eq!(
        snapshot_ids(ea, "school_contacts_snapshot", TENANT).await,
        vec![contact.clone()]
    );
    assert!(snapshot_ids(eb, "school_contacts_snapshot", TENANT).await.is_empty());
    // What an incident at school A reads, offline.
    let ctx = ssot_snapshot::context(ea, TENANT, &school_a, &d1).await.unwrap();
    assert!(ctx.device_found);
    assert_eq!(
        (
            ctx.names.school_name.as_str(),
            ctx.names.county_name.as_str(),
            ctx.names.device_make.as_str()
        ),
        ("School A", "Nairobi", "Lenovo")
    );
    assert_eq!(ctx.names.contact_name, "Head");
    assert_same_school(c, ea, &school_a).await;
    assert_same_school(c, eb, &school_b).await;

    // A device changes, two move from A to B (one A got in its enrollment
    // copy, which central never sent in the stream), one is tombstoned; a
    // stale revision arriving late changes (and captures) nothing.
    let before = outbox::pending(c, 0, 1000).await.unwrap().len();
    ssot_write(c, "devices", &[device(2, &school_a, "SN-1-stale", &d1)]).await;
    assert_eq!(outbox::pending(c, 0, 1000).await.unwrap().len(), before);
    let mut gone = ssot_row(
        "devices",
        TENANT,
        &d0,
        10,
        json!({"serial": "SN-0", "deviceModelId": model, "schoolId": school_a}),
    );
    gone.meta.deleted_at = Some(essp_domain::now());
    ssot_write(
        c,
        "devices",
        &[
            device(7, &school_a, "SN-1-new", &d1),
            device(8, &school_b, "SN-3", &d3),
            device(9, &school_b, "SN-M", &dm),
            gone,
        ],
    )
    .await;
    down(&mut sent_a, &mut sent_b).await;
    assert_eq!(snapshot_ids(ea, "devices_snapshot", TENANT).await, sorted(&[&d0, &d1]));
    assert_eq!(
        snapshot_ids(eb, "devices_snapshot", TENANT).await,
        sorted(&[&d2, &d3, &dm])
    );
    let serial = |db, id: String| async move {
        ssot_snapshot::get(db, TENANT, ssot::kind("devices").unwrap(), &id)
            .await
            .unwrap()
            .map(|r| r.record["serial"].clone())
    };
    assert_eq!(
        serial(ea, d1.clone()).await,
        Some(ssot::FieldValue::Text("SN-1-new".into()))
    );
    assert_eq!(serial(ea, d0.clone()).await, None, "the tombstone arrived");
    assert!(
        !ssot_snapshot::context(ea, TENANT, &school_a, &d3)
            .await
            .unwrap()
            .device_found
    );
    assert!(
        ssot_snapshot::context(eb, TENANT, &school_b, &d3)
            .await
            .unwrap()
            .device_found
    );
    assert_same_school(c, ea, &school_a).await;
    assert_same_school(c, eb, &school_b).await;

    // And back to A.
    ssot_write(c, "devices", &[device(11, &school_a, "SN-3", &d3)]).await;
    down(&mut sent_a, &mut sent_b).await;
    assert_eq!(
        snapshot_ids(ea, "devices_snapshot", TENANT).await,
        sorted(&[&d0, &d1, &d3])
    );
    assert_eq!(snapshot_ids(eb, "devices_snapshot", TENANT).await, sorted(&[&d2, &dm]));
    assert_same_school(c, ea, &school_a).await;
    assert_same_school(c, eb, &school_b).await;
    // Applying central's rows queued nothing to send back up.
    assert_eq!(outbox::depth(ea).await.unwrap().count, 0);

    // Another tenant's row with the same id is tracked apart.
    let other = "tenant-other";
    edges::enroll(c, other, &school_a, "epoch-other", HOST, 0)
        .await
        .unwrap();
    let twin = ssot_row(
        "devices",
        other,
        &d1,
        1,
        json!({"serial": "OTHER", "deviceModelId": model, "schoolId": school_a}),
    );
    ssot_write(c, "devices", &[twin]).await;
    let tracked_serial = |tenant: &'static str| {
        let d1 = d1.clone();
        async move {
            row::tracked(c, "devices_snapshot", tenant, &d1)
                .await
                .unwrap()
                .unwrap()
                .image["serial"]
                .clone()
        }
    };
    assert_eq!(tracked_serial(TENANT).await, json!("SN-1-new"));
    assert_eq!(tracked_serial(other).await, json!("OTHER"));
    assert_eq!(
        serial(c, d1.clone()).await,
        Some(ssot::FieldValue::Text("SN-1-new".into()))
    );
}

/// Sends the edge's own changes up with `forged` changes of central-owned
/// rows (a modified binary) after the first, each stamped like the first
/// change's title: every forged one is rejected and recorded as managed
/// centrally, every other one applies.
async fn send_forged(p: &Pair, forged: Vec<RowChange>) {
    let mut changes = p.edge_changes(0).await;
    let clock = changes[0].clocks["title"].clone();
    let tables: Vec<(i64, String)> = forged.iter().zip(2..).map(|(f, seq)| (seq, f.table.clone())).collect();
    for (at, mut f) in forged.into_iter().enumerate() {
        f.clocks = f.fields.keys().map(|k| (k.clone(), clock.clone())).collect();
        changes.insert(1 + at, f);
    }
    for (n, c) in changes.iter_mut().enumerate() {
        c.seq = n as i64 + 1;
    }
    assert_eq!(
        p.apply_up(&p.up_envelope(&changes)).await,
        UpResult::Applied {
            applied_seq: changes.len() as i64,
            rejected: tables.len() as u32,
            conflicts: 0
        }
    );
    let rejections = journal::rejections(p.c(), TENANT, SCHOOL, &p.epoch, 0, 100)
        .await
        .unwrap();
    let got: Vec<(i64, String)> = rejections.iter().map(|r| (r.seq, r.table.clone())).collect();
    assert_eq!(got, tables);
    for r in &rejections {
        assert!(r.reason.contains("managed centrally"), "{}", r.reason);
    }
}

/// A change of row `id` of `table` holding `fields`, as a modified edge
/// would send it (clocks and sequence set by [`send_forged`]).
fn forged(table: &str, id: &str, fields: serde_json::Value, deleted: bool) -> RowChange {
    RowChange {
        seq: 0,
        table: table.into(),
        row_id: id.into(),
        fields: serde_json::from_value(fields).unwrap(),
        clocks: Default::default(),
        base: Default::default(),
        correction: false,
        deleted,
    }
}

/// SSOT snapshots are central-owned: an edge's change of one (a modified
/// binary) is rejected and recorded, changes nothing centrally, and the
/// changes after it still apply.
async fn snapshot_rows_from_an_edge_are_refused(central: Backend, edge: Backend) {
    let p = Pair::new(central, edge).await;
    let county = Id::new("county").into_string();
    ssot_put(
        p.c(),
        "schools",
        SCHOOL,
        json!({"name": "School A", "countyId": county}),
    )
    .await;
    let before = digests(p.c()).await;
    let ids = [create(p.e(), "Ours 1").await, create(p.e(), "Ours 2").await];
    let fields = json!({"id": SCHOOL, "tenant_id": TENANT, "name": "Renamed by the edge", "revision": 99});
    send_forged(
        &p,
        vec![
            forged("schools_snapshot", SCHOOL, fields.clone(), false),
            forged("schools_snapshot", SCHOOL, fields, true),
        ],
    )
    .await;
    let after = digests(p.c()).await;
    assert_eq!(
        before["schools_snapshot"], after["schools_snapshot"],
        "central's row changed"
    );
    assert_eq!(after["schools_snapshot"].rows, 1);
    for id in &ids {
        assert!(exists(p.c(), id).await);
    }
}

// ------------------------------------------------------------- projects

/// A project of `school` with one phase, a checklist item, a survey with a
/// room and a photo, and a BOQ line, written on `db` as central's API
/// writes them. Returns the project and phase.
async fn project_at(db: &dyn Database, school: &str) -> (Project, Phase) {
    use essp_domain::project::*;
    let now = essp_domain::now();
    let project = Project {
        id: Id::new("proj"),
        tenant_id: TENANT.into(),
        school_id: school.into(),
        project_type: ProjectType::FullInstallation,
        status: "active".into(),
        current_phase: PhaseType::Survey,
        notes: String::new(),
        created_by: "pm".into(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    projects::insert_project(db, &project).await.unwrap();
    let phase = Phase {
        id: Id::new("phase"),
        tenant_id: TENANT.into(),
        school_id: school.into(),
        project_id: project.id.as_str().into(),
        phase_type: PhaseType::Survey,
        status: PhaseStatus::Pending,
        owner_role: OwnerRole::Engineer,
        notes: String::new(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    projects::insert_phase(db, &phase).await.unwrap();
    let item = ChecklistItem {
        id: Id::new("cki"),
        tenant_id: TENANT.into(),
        phase_id: phase.id.as_str().into(),
        title: "Walk every room".into(),
        required: true,
        done: false,
        done_by: String::new(),
        done_at: None,
        created_at: now,
    };
    projects::insert_item(db, &item).await.unwrap();
    let survey = Survey {
        id: Id::new("survey"),
        tenant_id: TENANT.into(),
        school_id: school.into(),
        project_id: project.id.as_str().into(),
        status: SurveyStatus::Draft,
        conducted_by: "engineer".into(),
        summary: String::new(),
        risks: String::new(),
        rooms: Vec::new(),
        photos: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    surveys::insert_survey(db, &survey).await.unwrap();
    let room = SurveyRoom {
        id: Id::new("room"),
        survey_id: survey.id.as_str().into(),
        name: "Lab 1".into(),
        room_type: RoomType::Lab,
        floor: String::new(),
        power_notes: String::new(),
        network_notes: String::new(),
        created_at: now,
    };
    surveys::insert_room(db, &room).await.unwrap();
    let att = Id::new("att");
    let attachment = essp_domain::attachment::Attachment {
        object_key: essp_domain::attachment::Attachment::object_key(TENANT, school, &att),
        id: att,
        tenant_id: TENANT.into(),
        school_id: school.into(),
        entity_type: essp_domain::attachment::AttachedTo::Survey,
        entity_id: survey.id.as_str().into(),
        file_name: "rack.jpg".into(),
        content_type: "image/jpeg".into(),
        size_bytes: 3,
        sha256: "0".repeat(64),
        status: essp_domain::attachment::AttachmentStatus::Available,
        uploaded_by: "engineer".into(),
        created_at: now,
    };
    essp_store::attachments::insert(db, &attachment).await.unwrap();
    let photo = SurveyPhoto {
        id: Id::new("photo"),
        survey_id: survey.id.as_str().into(),
        room_id: room.id.as_str().into(),
        attachment_id: attachment.id.as_str().into(),
        caption: "the rack".into(),
        created_at: now,
    };
    surveys::insert_photo(db, &photo).await.unwrap();
    let boq = BoqItem {
        id: Id::new("boq"),
        tenant_id: TENANT.into(),
        school_id: school.into(),
        project_id: project.id.as_str().into(),
        category: BoqCategory::Cabling,
        description: "Cat6, 300 m".into(),
        part_id: String::new(),
        qty: 1,
        unit: "each".into(),
        estimated_cost_cents: 100,
        approved: false,
        created_at: now,
        updated_at: now,
    };
    surveys::insert_boq(db, &boq).await.unwrap();
    (project, phase)
}

/// Rows of `table` at `school` on `db`.
async fn school_rows(db: &dyn Database, table: &str, school: &str) -> i64 {
    let t = essp_store::sync::catalog::table(table).unwrap();
    digest::table_digest(db, t, TENANT, school).await.unwrap().rows
}

/// Projects and what hangs off them are central-owned: central's writes
/// reach the school's edge (a later phase change too), templates reach
/// every edge of the tenant, and another school's project never does.
async fn projects_come_down_to_their_school_only(central: Backend, edge: Backend) {
    use essp_domain::project::{ChecklistTemplate, PhaseStatus, PhaseType};
    let mut p = Pair::new(central, edge).await;
    let template = ChecklistTemplate {
        id: Id::new("ckt"),
        tenant_id: TENANT.into(),
        phase_type: PhaseType::Survey,
        title: "Photograph the rack".into(),
        required: true,
        created_at: essp_domain::now(),
    };
    projects::insert_template(p.c(), &template).await.unwrap();
    let (_, phase) = project_at(p.c(), SCHOOL).await;
    project_at(p.c(), OTHER_SCHOOL).await;
    let r = ship_down(p.c(), p.e(), &p.this, 0, true).await.unwrap();
    assert_eq!(r.rejected, 0, "{r:?}");
    p.down_sent = r.cursor;
    // Every central-owned table of a school's own rows but the SSOT's.
    let of_school = essp_store::sync::catalog::TABLES
        .iter()
        .filter(|t| t.class == essp_store::sync::catalog::Class::CentralOwned && !t.tenant_wide() && !t.tenant_keyed)
        .map(|t| t.name);
    for table in of_school.chain(["attachments"]) {
        assert_eq!(school_rows(p.e(), table, SCHOOL).await, 1, "{table}");
        assert_eq!(school_rows(p.e(), table, OTHER_SCHOOL).await, 0, "{table}");
    }
    assert_eq!(school_rows(p.e(), "checklist_templates", SCHOOL).await, 1);
    let moved = projects::set_phase_status(p.c(), &scope(), &phase, PhaseStatus::InProgress, essp_domain::now())
        .await
        .unwrap();
    assert!(moved.is_some());
    p.down().await.unwrap();
    let at_edge = projects::get_phase(p.e(), &scope(), phase.id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at_edge.status, PhaseStatus::InProgress);
    // The edge captured nothing of them: nothing of central's goes back up.
    assert!(p.edge_changes(0).await.is_empty());
    p.assert_converged().await;
}

/// An edge's change of a project row (a modified binary) is rejected and
/// recorded, changes nothing centrally, and the changes after it apply.
async fn project_rows_from_an_edge_are_refused(central: Backend, edge: Backend) {
    let mut p = Pair::new(central, edge).await;
    let (project, _) = project_at(p.c(), SCHOOL).await;
    p.down().await.unwrap();
    let before = digests(p.c()).await;
    let ids = [create(p.e(), "Ours 1").await, create(p.e(), "Ours 2").await];
    let mut image = row::read(
        p.e(),
        essp_store::sync::catalog::table("projects").unwrap(),
        TENANT,
        project.id.as_str(),
    )
    .await
    .unwrap()
    .unwrap();
    image.insert("status".into(), json!("completed"));
    let fields = serde_json::to_value(image).unwrap();
    send_forged(&p, vec![forged("projects", project.id.as_str(), fields, false)]).await;
    let after = digests(p.c()).await;
    assert_eq!(before["projects"], after["projects"], "central's project changed");
    let at_central = projects::get_project(p.c(), &scope(), project.id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at_central.status, "active");
    for id in &ids {
        assert!(exists(p.c(), id).await);
    }
}

// ---------------------------------------------------------------- blobs

/// Object storage in memory.
#[derive(Default)]
struct MemStore(std::sync::Mutex<std::collections::HashMap<String, bytes::Bytes>>);

#[async_trait::async_trait]
impl blob_transfer::BlobAccess for MemStore {
    async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, String> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
    async fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<Option<bytes::Bytes>, String> {
        let held = self.0.lock().unwrap().get(key).cloned();
        Ok(held.map(|b| b.slice(range.start as usize..range.end as usize)))
    }
    async fn put(&self, key: &str, bytes: bytes::Bytes) -> Result<(), String> {
        self.0.lock().unwrap().insert(key.into(), bytes);
        Ok(())
    }
    async fn exists(&self, key: &str) -> Result<bool, String> {
        Ok(self.0.lock().unwrap().contains_key(key))
    }
    async fn delete(&self, key: &str) -> Result<(), String> {
        self.0.lock().unwrap().remove(key);
        Ok(())
    }
}

/// Central answering an edge's fetches as its ctl responder does; the
/// link breaks after `chunks_before_break` chunks.
struct CentralSide<'a> {
    db: &'a dyn Database,
    store: &'a MemStore,
    school: &'a str,
    key: &'a str,
    chunks_before_break: std::sync::atomic::AtomicI64,
}

#[async_trait::async_trait]
impl blob_transfer::BlobSource for CentralSide<'_> {
    async fn chunk(&self, at: u64) -> Result<Option<String>, essp_sync_engine::SyncError> {
        if self
            .chunks_before_break
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 0
        {
            return Err(essp_sync_engine::SyncError::Nats("link down".into()));
        }
        let r = blob_transfer::serve(self.db, self.store, TENANT, self.school, self.key, at).await?;
        assert_eq!(r.status, "ok", "{r:?}");
        Ok(Some(r.data))
    }
}

/// An attachment uploaded centrally at `school`, its content in `store`.
async fn central_attachment(db: &dyn Database, store: &MemStore, school: &str, bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let id = Id::new("att");
    let a = essp_domain::attachment::Attachment {
        object_key: essp_domain::attachment::Attachment::object_key(TENANT, school, &id),
        id,
        tenant_id: TENANT.into(),
        school_id: school.into(),
        entity_type: essp_domain::attachment::AttachedTo::Incident,
        entity_id: "inc_1".into(),
        file_name: "photo.jpg".into(),
        content_type: "image/jpeg".into(),
        size_bytes: bytes.len() as i64,
        sha256: format!("{:x}", sha2::Sha256::digest(bytes)),
        status: essp_domain::attachment::AttachmentStatus::Available,
        uploaded_by: "county-officer".into(),
        created_at: essp_domain::now(),
    };
    blob_transfer::BlobAccess::put(store, &a.object_key, bytes.to_vec().into())
        .await
        .unwrap();
    essp_store::attachments::insert(db, &a).await.unwrap();
    a.object_key
}

/// An attachment uploaded centrally reaches its school's edge hidden, its
/// content is fetched in chunks (resuming after a broken link), checked and
/// only then shown; another school's blob is never served to this edge.
async fn a_centrally_uploaded_blob_is_fetched_by_its_edge_only(central: Backend, edge: Backend) {
    let mut p = Pair::new(central, edge).await;
    let (central_store, edge_store) = (MemStore::default(), MemStore::default());
    let photo: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let key = central_attachment(p.c(), &central_store, SCHOOL, &photo).await;
    let other = central_attachment(p.c(), &central_store, OTHER_SCHOOL, b"not yours").await;
    p.down().await.unwrap();
    assert_eq!(
        attachment_status(p.e(), &key).await.as_deref(),
        Some("pending"),
        "hidden until its blob is here"
    );
    let queued = blobs::queued(p.e(), 10).await.unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(
        (queued[0].direction, queued[0].object_key.as_str()),
        (blobs::Direction::Down, key.as_str())
    );
    let sink = blob_transfer::Local::new(p.e(), &edge_store, &queued[0]);
    let source = |chunks| CentralSide {
        db: p.c(),
        store: &central_store,
        school: SCHOOL,
        key: &key,
        chunks_before_break: std::sync::atomic::AtomicI64::new(chunks),
    };
    // The link breaks after the first chunk; the next try resumes after it.
    assert!(blob_transfer::transfer(&sink, &source(1)).await.is_err());
    let held = blob_transfer::BlobSink::held(&sink).await.unwrap();
    assert_eq!((held.offset, held.complete), (essp_sync_proto::BLOB_CHUNK, false));
    assert_eq!(attachment_status(p.e(), &key).await.as_deref(), Some("pending"));
    assert!(blob_transfer::transfer(&sink, &source(100)).await.unwrap());
    assert_eq!(attachment_status(p.e(), &key).await.as_deref(), Some("available"));
    let stored = blob_transfer::BlobAccess::get(&edge_store, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.to_vec(), photo, "byte for byte");
    // Another school's blob is refused, whatever the edge asks for.
    let r = blob_transfer::serve(p.c(), &central_store, TENANT, SCHOOL, &other, 0)
        .await
        .unwrap();
    assert_eq!(r.status, "refused", "{r:?}");
    assert!(r.data.is_empty());
    // Nothing of this goes back up, and both sides hold the same rows.
    assert!(p.edge_changes(0).await.is_empty());
    p.assert_converged().await;
}

/// The local `status` of the attachment whose blob is `key`.
async fn attachment_status(db: &dyn Database, key: &str) -> Option<String> {
    db.fetch_optional("SELECT status FROM attachments WHERE object_key = $1", &[key.into()])
        .await
        .unwrap()
        .map(|r| r.text("status").unwrap())
}

// ------------------------------------------------------- mixed versions

/// Adds a field this schema lacks (a newer release's column) to every
/// incident change, stamped like the change's title.
fn with_unknown_field(changes: &mut [RowChange], value: &str) {
    for c in changes.iter_mut().filter(|c| c.table == "incidents") {
        c.fields.insert("warranty_ref".into(), json!(value));
        let clock = c.clocks["title"].clone();
        c.clocks.insert("warranty_ref".into(), clock);
    }
}

/// The unknown field as the next change of incident `id` in `db`'s outbox
/// after `after` carries it.
async fn sent_on(db: &dyn Database, after: i64, id: &Id) -> Option<serde_json::Value> {
    let change = outbox::pending(db, after, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.change)
        .find(|c| c.row_id == id.as_str())
        .expect("the row was sent on");
    assert_eq!(
        change.fields.contains_key("warranty_ref"),
        change.clocks.contains_key("warranty_ref"),
        "{change:?}"
    );
    change.fields.get("warranty_ref").cloned()
}

/// Guarantee 10: a field the receiver's schema lacks (a newer release
/// added the column) is applied without failing, kept with the row, and
/// sent on whenever the row is: from a newer edge through central and
/// back down, from a newer central through an edge and back up, and in an
/// enrollment copy; a later write of it wins by its clock.
async fn unknown_fields_survive_a_round_trip(central: Backend, edge: Backend) {
    let mut p = Pair::new(central, edge).await;
    // Up: a newer edge's incident reaches central with the extra field.
    let id = create(p.e(), "Projector flickers").await;
    let mut changes = p.edge_changes(0).await;
    with_unknown_field(&mut changes, "W-1");
    let r = p.apply_up(&p.up_envelope(&changes)).await;
    assert!(matches!(r, UpResult::Applied { rejected: 0, .. }), "{r:?}");
    let kept = row::tracked(p.c(), "incidents", TENANT, id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.image.get("warranty_ref"), Some(&json!("W-1")));
    // Central edits the row: the field goes back down with it, unchanged.
    let before = outbox::depth(p.c()).await.unwrap().last_seq;
    edit(p.c(), &id, |i| i.title = "Projector flickers, lamp".into()).await;
    assert_eq!(sent_on(p.c(), before, &id).await, Some(json!("W-1")));
    let r = p.down().await.unwrap();
    assert_eq!(r.rejected, 0, "{r:?}");
    p.assert_converged().await;

    // Down: a newer central's write of the field (a later clock) reaches
    // an edge that lacks the column; the edge keeps it and sends it up
    // again with its own next edit of the row.
    let mut newer = outbox::pending(p.c(), 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.change)
        .collect::<Vec<_>>();
    tick().await;
    let clock = Hlc {
        wall_ms: now_ms(),
        counter: 0,
        node: "central".into(),
    }
    .to_string();
    for c in &mut newer {
        c.fields.insert("warranty_ref".into(), json!("W-2"));
        c.clocks.insert("warranty_ref".into(), clock.clone());
    }
    let env = envelope(TENANT, SCHOOL, "central", "", &newer);
    p.down_sent += 1;
    let r = edge_apply::apply_down(p.e(), &p.this, &[(u64::try_from(p.down_sent).unwrap(), env)])
        .await
        .unwrap();
    assert_eq!(r.rejected, 0, "{r:?}");
    let kept = row::tracked(p.e(), "incidents", TENANT, id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        kept.image.get("warranty_ref"),
        Some(&json!("W-2")),
        "the later clock wins"
    );
    let sent = p.edge_record().await.applied_seq;
    edit(p.e(), &id, |i| i.description = "Lamp at 90% life".into()).await;
    assert_eq!(sent_on(p.e(), sent, &id).await, Some(json!("W-2")));
    p.up().await.unwrap();
    let kept = row::tracked(p.c(), "incidents", TENANT, id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.image.get("warranty_ref"), Some(&json!("W-2")));
    // A stale write of it (an older clock) does not win.
    for c in &mut newer {
        c.fields.insert("warranty_ref".into(), json!("W-0"));
        c.clocks
            .insert("warranty_ref".into(), changes[0].clocks["title"].clone());
    }
    let env = envelope(TENANT, SCHOOL, "central", "", &newer);
    p.down_sent += 1;
    edge_apply::apply_down(p.e(), &p.this, &[(u64::try_from(p.down_sent).unwrap(), env)])
        .await
        .unwrap();
    let kept = row::tracked(p.e(), "incidents", TENANT, id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.image.get("warranty_ref"), Some(&json!("W-2")));

    // An enrollment copy of the row carries it too.
    let page = edge_apply::snapshot_page(p.c(), TENANT, SCHOOL, "incidents", "", 100)
        .await
        .unwrap();
    let row = page.rows.iter().find(|r| r.row_id == id.as_str()).unwrap();
    assert_eq!(row.fields.get("warranty_ref"), Some(&json!("W-2")));
    assert!(row.clocks.contains_key("warranty_ref"));
    // (Made-up stream positions above: no further `down` here.)
    p.assert_converged().await;
}
