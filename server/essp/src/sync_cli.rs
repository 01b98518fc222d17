//! `essp sync …` and `essp edge …`: operating edge sync from a shell, on
//! either side, alongside a running server.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use essp_config::{Mode, Settings};
use essp_store::Database;
use essp_store::sync::{catalog, digest, edges};
use essp_sync_engine::edge_link::EdgeLink;
use essp_sync_engine::status::SharedStatus;
use essp_sync_engine::verify;

use crate::bootstrap;

#[derive(Debug, Subcommand)]
pub enum SyncAction {
    /// Where sync stands: on an edge its outbox, positions and epoch; on
    /// central every enrolled edge.
    Status,
    /// Compare this edge's rows with central's (per-table digests, then
    /// the differing rows by id); exits non-zero when they differ.
    Verify {
        /// Rows central reads per request (smaller: shorter requests,
        /// more of them).
        #[arg(long, default_value_t = verify::PAGE_ROWS, value_parser = clap::value_parser!(u32).range(1..))]
        page_rows: u32,
    },
    /// Report a checkpoint now (edge) or publish pending changes (central).
    Now,
}

#[derive(Debug, Subcommand)]
pub enum EdgeAction {
    /// Enroll this box with central: copy the school's rows and start
    /// streaming. Resumes an interrupted enrollment. `--renew` re-enrolls
    /// a box already enrolled (a replaced box, a lost stream position).
    Enroll {
        #[arg(long)]
        renew: bool,
    },
    /// On central: enroll a school's edge and write its snapshot to a file
    /// (to carry on a USB stick to a box that has no link yet).
    ExportSnapshot {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        school: String,
        /// Where to write it (must not exist).
        file: std::path::PathBuf,
    },
    /// On the edge: load a snapshot written by `export-snapshot`; the box
    /// then syncs from where the snapshot left off once its link is up.
    ImportSnapshot { file: std::path::PathBuf },
}

/// The first line of a snapshot file; one [`essp_sync_proto::SnapshotPage`]
/// per line follows.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotHeader {
    format: String,
    tenant_id: String,
    school_id: String,
    epoch: String,
    down_seq: u64,
}

const SNAPSHOT_FORMAT: &str = "essp-edge-snapshot/1";

async fn open(settings: &Settings) -> Result<Arc<dyn Database>> {
    bootstrap::open_database(settings).await
}

/// The edge link of this box, for one-off requests.
async fn edge_link(settings: &Settings, db: &Arc<dyn Database>) -> Result<EdgeLink> {
    if settings.mode != Mode::Edge {
        bail!("this is not an edge (ESSP_MODE=edge)");
    }
    let client = bootstrap::nats_client(settings)
        .await?
        .context("NATS_URL is not set: this edge cannot reach central")?;
    Ok(EdgeLink {
        db: db.clone(),
        client,
        this: edges::ThisEdge {
            tenant_id: settings.tenant_id.clone().context("ESSP_TENANT_ID")?,
            school_id: settings.school_id.clone().context("ESSP_SCHOOL_ID")?,
        },
        host: crate::edge_sync::host_id(settings),
        status: SharedStatus::default(),
        app_version: env!("CARGO_PKG_VERSION").into(),
        checkpoint_every: settings.sync_checkpoint_interval,
        blobs: None,
    })
}

fn print(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub async fn sync(settings: Settings, action: SyncAction) -> Result<ExitCode> {
    let db = open(&settings).await?;
    let result = match (settings.mode, action) {
        (Mode::Edge, SyncAction::Status) => edge_status(&settings, &db).await,
        (Mode::Central, SyncAction::Status) => {
            print(&edges::list_all(db.as_ref()).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        (Mode::Edge, SyncAction::Now) => {
            let link = edge_link(&settings, &db).await?;
            let reply = link.checkpoint(true).await?;
            print(&reply)?;
            Ok(if reply.status == "ok" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        (Mode::Central, SyncAction::Now) => {
            let client = bootstrap::nats_client(&settings)
                .await?
                .context("NATS_URL is not set: nothing to publish to")?;
            let js = async_nats::jetstream::new(client);
            essp_sync_engine::central_link::ensure_streams(&js).await?;
            let mut sent = 0;
            loop {
                let n = essp_sync_engine::central_link::publish_down_once(db.as_ref(), &js).await?;
                if n == 0 {
                    break;
                }
                sent += n;
            }
            println!("published {sent} change(s)");
            Ok(ExitCode::SUCCESS)
        }
        (Mode::Edge, SyncAction::Verify { page_rows }) => verify(&settings, &db, page_rows).await,
        (Mode::Central, SyncAction::Verify { .. }) => verify_central(&db).await,
    };
    db.close().await;
    result
}

async fn edge_status(settings: &Settings, db: &Arc<dyn Database>) -> Result<ExitCode> {
    let d = db.as_ref();
    let mut local = essp_sync_engine::status::EdgeStatus::default();
    local.refresh(d).await?;
    let tenant = settings.tenant_id.clone().unwrap_or_default();
    let school = settings.school_id.clone().unwrap_or_default();
    let counts = essp_store::sync::journal::counts(d, &tenant).await?;
    let (conflicts, rejected) = counts.get(&school).copied().unwrap_or_default();
    print(&serde_json::json!({
        "tenantId": tenant,
        "schoolId": school,
        "epoch": essp_store::node_state::epoch(d).await?,
        "enrolledEpoch": essp_store::node_state::get(d, edges::ENROLLED_EPOCH).await?.unwrap_or_default(),
        "outboxDepth": local.outbox_depth,
        "oldestPending": essp_store::sync::outbox::depth(d).await?.oldest,
        "lastSeq": local.last_seq,
        "confirmedSeq": local.confirmed_seq,
        "downCursor": local.down_cursor,
        "conflicts": conflicts,
        "rejected": rejected,
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// Rows named per differing table; the rest are counted.
const NAMED_ROWS: usize = 100;

/// Edge: every table's rows against central's (see
/// [`essp_sync_engine::verify`]), naming the rows that differ.
async fn verify(settings: &Settings, db: &Arc<dyn Database>, page_rows: u32) -> Result<ExitCode> {
    let link = edge_link(settings, db).await?;
    // Central must still accept this edge: a refused epoch is the answer.
    let reply = link.checkpoint(false).await?;
    if reply.status != "ok" {
        bail!("central refused: {}", reply.message);
    }
    let mut differing = 0;
    for t in catalog::TABLES.iter() {
        let c = verify::compare_table(&link, t, page_rows).await?;
        if c.same() {
            println!("{}: same ({} rows)", t.name, c.here.rows);
            continue;
        }
        differing += 1;
        let shown = c.differing_rows.iter().take(NAMED_ROWS).cloned().collect::<Vec<_>>();
        let mut rows = shown.join(", ");
        if c.differing_rows.len() > shown.len() {
            rows.push_str(&format!(" and {} more", c.differing_rows.len() - shown.len()));
        }
        if c.named_buckets < c.differing_buckets {
            rows.push_str(&format!(
                " (from {} of the {} differing hash buckets)",
                c.named_buckets, c.differing_buckets
            ));
        }
        println!(
            "{}: DIFFERENT ({} rows here, {} at central); rows: {rows}",
            t.name, c.here.rows, c.central.rows
        );
    }
    Ok(if differing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Central: each edge's last reported digests against central's rows.
async fn verify_central(db: &Arc<dyn Database>) -> Result<ExitCode> {
    let mut ok = true;
    for e in edges::list_all(db.as_ref()).await? {
        let reported: std::collections::BTreeMap<String, essp_sync_proto::TableDigest> = e
            .checkpoint
            .as_ref()
            .and_then(|c| c.get("digests").cloned())
            .and_then(|d| serde_json::from_value(d).ok())
            .unwrap_or_default();
        if reported.is_empty() {
            println!("{}/{}: no digests reported yet", e.tenant_id, e.school_id);
            continue;
        }
        let ours = digest::digests(db.as_ref(), &e.tenant_id, &e.school_id).await?;
        let differ: Vec<&str> = catalog::TABLES
            .iter()
            .map(|t| t.name)
            .filter(|t| ours.get(*t) != reported.get(*t))
            .collect();
        if differ.is_empty() {
            println!("{}/{}: same as its last checkpoint", e.tenant_id, e.school_id);
        } else {
            ok = false;
            println!(
                "{}/{}: DIFFERENT from its last checkpoint in {} (run essp sync verify on the edge to name rows)",
                e.tenant_id,
                e.school_id,
                differ.join(", ")
            );
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub async fn edge(settings: Settings, action: EdgeAction) -> Result<ExitCode> {
    let db = open(&settings).await?;
    let result = async {
        match action {
            EdgeAction::Enroll { renew } => {
                let link = edge_link(&settings, &db).await?;
                let d = db.as_ref();
                edges::set_this_edge(d, &link.this.tenant_id, &link.this.school_id).await?;
                let epoch = essp_store::node_state::epoch(d).await?;
                let enrolled = essp_store::node_state::get(d, edges::ENROLLED_EPOCH).await?;
                if enrolled.as_deref() == Some(epoch.as_str()) && !renew {
                    bail!("this box is already enrolled (epoch {epoch}); use --renew to enroll it again");
                }
                // A restore already minted a fresh epoch; only a box enrolled
                // under its current one needs another.
                let fresh = enrolled.as_deref() == Some(epoch.as_str());
                let progress = link.enroll(fresh, true).await?;
                print(&progress)?;
                Ok(ExitCode::SUCCESS)
            }
            EdgeAction::ExportSnapshot { tenant, school, file } => {
                export_snapshot(&settings, &db, &tenant, &school, &file).await
            }
            EdgeAction::ImportSnapshot { file } => import_snapshot(&settings, &db, &file).await,
        }
    }
    .await;
    db.close().await;
    result
}

async fn export_snapshot(
    settings: &Settings,
    db: &Arc<dyn Database>,
    tenant: &str,
    school: &str,
    file: &std::path::Path,
) -> Result<ExitCode> {
    use std::io::Write;
    if settings.mode != Mode::Central {
        bail!("export-snapshot runs on central");
    }
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .with_context(|| format!("cannot create {}", file.display()))?;
    let mut out = std::io::BufWriter::new(out);
    // Enroll first: from now on the school's changes are captured for the
    // edge, so nothing falls between the snapshot and the stream. Where the
    // box's own changes start is unknown until it reports (-1).
    let epoch = essp_domain::Id::new("epoch").into_string();
    edges::enroll(db.as_ref(), tenant, school, &epoch, "", -1).await?;
    let down_seq = match bootstrap::nats_client(settings).await? {
        Some(client) => {
            let js = async_nats::jetstream::new(client);
            essp_sync_engine::central_link::ensure_streams(&js).await?;
            let mut stream = js.get_stream(essp_sync_proto::subjects::DOWN_STREAM).await?;
            stream.info().await?.state.last_sequence
        }
        None => 0,
    };
    let header = SnapshotHeader {
        format: SNAPSHOT_FORMAT.into(),
        tenant_id: tenant.into(),
        school_id: school.into(),
        epoch: epoch.clone(),
        down_seq,
    };
    writeln!(out, "{}", serde_json::to_string(&header)?)?;
    let mut rows = 0;
    for t in catalog::TABLES.iter() {
        let mut after = String::new();
        loop {
            let page =
                essp_sync_engine::edge_apply::snapshot_page(db.as_ref(), tenant, school, t.name, &after, 1000).await?;
            rows += page.rows.len();
            writeln!(out, "{}", serde_json::to_string(&page)?)?;
            match page.next_after {
                Some(a) => after = a,
                None => break,
            }
        }
    }
    out.flush()?;
    print(
        &serde_json::json!({ "file": file, "tenantId": tenant, "schoolId": school, "epoch": epoch, "downSeq": down_seq, "rows": rows }),
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn import_snapshot(settings: &Settings, db: &Arc<dyn Database>, file: &std::path::Path) -> Result<ExitCode> {
    use std::io::BufRead;
    if settings.mode != Mode::Edge {
        bail!("import-snapshot runs on an edge (ESSP_MODE=edge)");
    }
    let this = edges::ThisEdge {
        tenant_id: settings.tenant_id.clone().context("ESSP_TENANT_ID")?,
        school_id: settings.school_id.clone().context("ESSP_SCHOOL_ID")?,
    };
    let input = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut lines = std::io::BufReader::new(input).lines();
    // Whatever is wrong with the first line (binary, not JSON, another
    // JSON), the operator learns the one thing that matters.
    let first = lines.next().context("the snapshot file is empty")?;
    let header: SnapshotHeader = first
        .map_err(anyhow::Error::from)
        .and_then(|line| serde_json::from_str(&line).map_err(anyhow::Error::from))
        .with_context(|| format!("{} is not an ESSP edge snapshot", file.display()))?;
    if header.format != SNAPSHOT_FORMAT {
        bail!(
            "unsupported snapshot format {:?} (this build reads {SNAPSHOT_FORMAT})",
            header.format
        );
    }
    if header.tenant_id != this.tenant_id || header.school_id != this.school_id {
        bail!(
            "this snapshot is for {}/{}, but this box serves {}/{}",
            header.tenant_id,
            header.school_id,
            this.tenant_id,
            this.school_id
        );
    }
    let d = db.as_ref();
    edges::set_this_edge(d, &this.tenant_id, &this.school_id).await?;
    let mut rows = 0;
    for line in lines {
        let page: essp_sync_proto::SnapshotPage = serde_json::from_str(&line?).context("a damaged snapshot line")?;
        rows += page.rows.len();
        essp_sync_engine::edge_apply::apply_snapshot_page(d, &this, &page, "").await?;
    }
    // The box takes the epoch central enrolled it under.
    essp_store::node_state::set(d, essp_store::node_state::SYNC_EPOCH, &header.epoch, essp_domain::now()).await?;
    essp_sync_engine::edge_apply::finish_enrollment(d, &header.epoch, header.down_seq).await?;
    print(&serde_json::json!({ "epoch": header.epoch, "downSeq": header.down_seq, "rows": rows }))?;
    Ok(ExitCode::SUCCESS)
}
