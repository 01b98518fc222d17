//! Simulated edges for bench/sync.sh's freshness measurement: K schools
//! that speak the sync protocol to central over NATS, without an essp
//! process (or a SQLite file) each. Two shared cores cannot run a hundred
//! real edges; a hundred of these cost central what a hundred edges would.
//!
//!   sync-sim --nats URL --central URL --tenant T [--edges K] [--writes W]
//!            [--think-ms MS] [--poll-ms MS] [--seed N]
//!
//! Each simulated edge enrolls its school (`sim-001` …) under a fresh
//! epoch, like `essp edge enroll`. Once all are enrolled it says so on
//! stderr ("sync-sim: K edges enrolled"), and then each edge, until SIGTERM
//! (or W writes, when given): publishes one envelope to
//! its `up` subject holding what a real edge's `POST /v1/incidents` would
//! (the incident and its audit row, every field stamped with the edge's
//! clock), waits for JetStream's ack, and polls central's
//! `GET /v1/incidents/{id}` until it answers 200; then pauses a random
//! 0..MS ms (seeded per school). The latency runs from just before the
//! publish to that 200. It excludes a real edge's own write and publish
//! loop, which the real edge measured alongside covers.
//!
//! On SIGTERM the writes in flight finish and no new ones start. Prints one
//! JSON line: {"edges","samples","seconds","envelopes_per_s","p50_ms",
//! "p90_ms","p99_ms","max_ms"}.
//! Exits non-zero if central refuses an enrollment, an envelope is not
//! acknowledged, or a write does not become visible within 30 s: a lost
//! write is never part of a number.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use async_nats::HeaderMap;
use clap::Parser;
use essp_store::SqlType;
use essp_store::sync::catalog;
use essp_sync_proto::envelope::{Clocks, Fields};
use essp_sync_proto::{
    CtlRequest, EnrollReply, EnrollRequest, Envelope, HlcClock, PROTOCOL_VERSION, RowChange, subjects,
};
use futures::StreamExt;
use serde_json::{Value, json};

/// How long a write may take to become visible centrally before the run fails.
const VISIBLE_WITHIN: Duration = Duration::from_secs(30);

#[derive(Parser, Debug)]
#[command(about = "Simulated ESSP edges: protocol-level load and edge-to-central freshness")]
struct Args {
    #[arg(long)]
    nats: String,
    /// Central's HTTP base URL.
    #[arg(long)]
    central: String,
    #[arg(long)]
    tenant: String,
    #[arg(long, default_value_t = 100)]
    edges: usize,
    /// Writes per simulated edge (0: until SIGTERM).
    #[arg(long, default_value_t = 0)]
    writes: usize,
    /// Each edge pauses a random 0..think_ms ms after each write is visible.
    #[arg(long, default_value_t = 10_000)]
    think_ms: u64,
    #[arg(long, default_value_t = 10)]
    poll_ms: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let nats = async_nats::connect(&args.nats).await.context("connecting to NATS")?;
    let http = reqwest::Client::new();
    let mut edges = Vec::with_capacity(args.edges);
    for k in 1..=args.edges {
        edges.push(SimEdge::enroll(&nats, &args.tenant, k).await?);
    }
    eprintln!("sync-sim: {} edges enrolled", edges.len());
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        term.recv().await;
        let _ = stop_tx.send(true);
    });
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for edge in edges {
        let mut stop = stop.clone();
        let (nats, http) = (nats.clone(), http.clone());
        let (central, writes, think, poll) = (
            args.central.clone(),
            args.writes,
            args.think_ms,
            Duration::from_millis(args.poll_ms),
        );
        let mut rng = XorShift::new(args.seed.wrapping_mul(1_000_003).wrapping_add(edge.index as u64));
        tasks.spawn(async move {
            let js = async_nats::jetstream::new(nats);
            let mut latencies = Vec::new();
            let mut edge = edge;
            // Edges start spread over one think time, not all at once.
            let mut pause = Duration::from_millis(rng.below(think + 1));
            while (writes == 0 || latencies.len() < writes) && !*stop.borrow() {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => break,
                }
                latencies.push(edge.write(&js, &http, &central, poll).await?);
                pause = Duration::from_millis(rng.below(think + 1));
            }
            Ok::<_, anyhow::Error>(latencies)
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done??);
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    if all.is_empty() {
        bail!("no writes measured");
    }
    let pct = |p: f64| all[((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1];
    println!(
        "{}",
        json!({
            "edges": args.edges,
            "samples": all.len(),
            "seconds": (seconds * 10.0).round() / 10.0,
            "envelopes_per_s": (all.len() as f64 / seconds * 10.0).round() / 10.0,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": all[all.len() - 1],
        })
    );
    Ok(())
}

/// One simulated school's edge: its enrollment and its change sequence.
struct SimEdge {
    index: usize,
    tenant: String,
    school: String,
    epoch: String,
    host: String,
    clock: HlcClock,
    last_seq: i64,
}

impl SimEdge {
    async fn enroll(nats: &async_nats::Client, tenant: &str, index: usize) -> Result<SimEdge> {
        let school = format!("sim-{index:03}");
        let edge = SimEdge {
            index,
            tenant: tenant.to_owned(),
            clock: HlcClock::new(school.clone(), u64::MAX),
            epoch: ulid::Ulid::new().to_string(),
            host: format!("sim-host-{index:03}"),
            school,
            last_seq: 0,
        };
        let req = CtlRequest::Enroll(EnrollRequest {
            tenant_id: edge.tenant.clone(),
            school_id: edge.school.clone(),
            epoch: edge.epoch.clone(),
            host: edge.host.clone(),
            confirmed_seq: 0,
            replace: true,
        });
        // Central answers only into the school's own inbox (as it does for
        // a real edge, whose credentials allow no other).
        let inbox = format!("{}.enroll", subjects::edge_inbox(tenant, &edge.school));
        let mut answers = nats.subscribe(inbox.clone()).await?;
        nats.publish_with_reply(
            subjects::ctl(tenant, &edge.school),
            inbox,
            serde_json::to_vec(&req)?.into(),
        )
        .await?;
        let msg = tokio::time::timeout(Duration::from_secs(10), answers.next())
            .await
            .with_context(|| format!("central did not answer {}'s enrollment", edge.school))?
            .ok_or_else(|| anyhow!("NATS subscription ended"))?;
        let reply: EnrollReply = serde_json::from_slice(&msg.payload)?;
        if reply.status != "ok" {
            bail!("central refused to enroll {}: {}", edge.school, reply.message);
        }
        Ok(edge)
    }

    /// Publishes one incident (and its audit row) and returns the ms until
    /// central serves it.
    async fn write(
        &mut self,
        js: &async_nats::jetstream::Context,
        http: &reqwest::Client,
        central: &str,
        poll: Duration,
    ) -> Result<f64> {
        let now = chrono::Utc::now();
        let ts = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        // Due tomorrow, so central's SLA sweep has nothing to send back down.
        let due = (now + chrono::Duration::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let incident = format!("inc_{}", ulid::Ulid::new());
        let audit = format!("audit_{}", ulid::Ulid::new());
        let incident_fields = self.row(
            "incidents",
            &[
                ("id", json!(incident)),
                ("device_id", json!(format!("dev_{}_{}", self.school, self.last_seq))),
                ("category", json!("hardware")),
                ("severity", json!("medium")),
                ("status", json!("new")),
                ("title", json!("Simulated edge incident")),
                ("reported_by", json!("sync-sim")),
                ("sla_due_at", json!(due)),
                ("created_at", json!(ts)),
                ("updated_at", json!(ts)),
            ],
        )?;
        let audit_fields = self.row(
            "audit_logs",
            &[
                ("id", json!(audit)),
                ("actor", json!("sync-sim")),
                ("action", json!("create")),
                ("entity_type", json!("incident")),
                ("entity_id", json!(incident)),
                ("before_state", Value::Null),
                ("after_state", json!(serde_json::to_string(&incident_fields)?)),
                ("created_at", json!(ts)),
            ],
        )?;
        let wall_ms = u64::try_from(now.timestamp_millis()).unwrap_or_default();
        let changes = vec![
            self.change("incidents", &incident, incident_fields, wall_ms)?,
            self.change("audit_logs", &audit, audit_fields, wall_ms)?,
        ];
        let env = Envelope {
            version: PROTOCOL_VERSION,
            tenant_id: self.tenant.clone(),
            school_id: self.school.clone(),
            node: self.school.clone(),
            epoch: self.epoch.clone(),
            host: self.host.clone(),
            first_seq: changes[0].seq,
            last_seq: changes[changes.len() - 1].seq,
            changes,
        };
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", env.msg_id().as_str());
        let started = Instant::now();
        js.publish_with_headers(
            subjects::up(&self.tenant, &self.school),
            headers,
            serde_json::to_vec(&env)?.into(),
        )
        .await?
        .await
        .with_context(|| format!("JetStream did not acknowledge {}'s envelope", self.school))?;
        let url = format!("{central}/v1/incidents/{incident}");
        loop {
            let resp = http
                .get(&url)
                .header("X-Tenant-ID", &self.tenant)
                .header("X-School-ID", &self.school)
                .send()
                .await?;
            match resp.status().as_u16() {
                200 => return Ok(started.elapsed().as_secs_f64() * 1000.0),
                404 if started.elapsed() < VISIBLE_WITHIN => tokio::time::sleep(poll).await,
                404 => bail!(
                    "{} of {} not visible centrally after {VISIBLE_WITHIN:?}",
                    incident,
                    self.school
                ),
                s => bail!(
                    "central answered {s} for {url}: {}",
                    resp.text().await.unwrap_or_default()
                ),
            }
        }
    }

    /// A whole row of `table` in this edge's scope: every replicated column
    /// (from the sync catalog, so the row takes the path a real edge's row
    /// takes), `set` where given, otherwise empty or null.
    fn row(&self, table: &str, set: &[(&str, Value)]) -> Result<Fields> {
        let t = catalog::table(table).ok_or_else(|| anyhow!("{table} is not a replicated table"))?;
        let mut fields = Fields::new();
        for col in t.columns {
            let given = set.iter().find(|(name, _)| *name == col.name).map(|(_, v)| v.clone());
            let v = match (col.name, given) {
                (_, Some(v)) => v,
                ("tenant_id", None) => json!(self.tenant),
                ("school_id", None) => json!(self.school),
                (_, None) => match col.ty {
                    SqlType::Text => json!(""),
                    SqlType::I64 | SqlType::F64 => json!(0),
                    SqlType::Bool => json!(false),
                    SqlType::Json => json!({}),
                    SqlType::Timestamp => Value::Null,
                },
            };
            fields.insert(col.name.to_owned(), v);
        }
        Ok(fields)
    }

    /// The change that creates row `id`, stamped with this edge's next
    /// sequence number and clock.
    fn change(&mut self, table: &str, id: &str, fields: Fields, wall_ms: u64) -> Result<RowChange> {
        let hlc = self.clock.now(wall_ms).map_err(|e| anyhow!("{e}"))?.to_string();
        self.last_seq += 1;
        let clocks: Clocks = fields.keys().map(|k| (k.clone(), hlc.clone())).collect();
        Ok(RowChange {
            seq: self.last_seq,
            table: table.to_owned(),
            row_id: id.to_owned(),
            fields,
            clocks,
            base: Clocks::new(),
            correction: false,
            deleted: false,
        })
    }
}

/// A small seeded generator for think times (reproducible per school).
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}
