//! Turning configuration into a running process: open the store, migrate,
//! build the HTTP state, serve, and shut down gracefully.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use essp_blobs::{BlobStore, S3Config};
use essp_config::{AttachmentSettings, DatabaseSettings, Settings};
use essp_domain::sla::SlaPolicy;
use essp_http::{AppState, HttpConfig, Readiness};
use essp_store::Database;
use essp_store::migrate::Migrator;
use essp_store_libsql::LibsqlDatabase;
use essp_store_postgres::PgDatabase;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::cli::Role;
use crate::readiness;

/// Opens the configured database: Postgres when `PG_DSN` is set, otherwise
/// SQLite under the data directory.
pub async fn open_database(settings: &Settings) -> Result<Arc<dyn Database>> {
    Ok(match &settings.database {
        DatabaseSettings::Postgres { dsn, max_connections } => Arc::new(
            PgDatabase::connect(dsn.expose(), *max_connections)
                .await
                .context("cannot connect to Postgres (PG_DSN)")?,
        ),
        DatabaseSettings::Sqlite { path } => Arc::new(
            LibsqlDatabase::open(path)
                .await
                .with_context(|| format!("cannot open SQLite database {}", path.display()))?,
        ),
    })
}

/// Settings that must never run: production without authentication unless
/// explicitly overridden.
pub fn refuse_unsafe(settings: &Settings) -> Result<(), String> {
    if settings.is_production() && !settings.auth.enabled && !settings.auth.allow_insecure {
        return Err(
            "APP_ENV=production with AUTH_ENABLED=false: refusing to serve unauthenticated; \
                    set ESSP_ALLOW_INSECURE=true to override deliberately"
                .into(),
        );
    }
    Ok(())
}

pub fn blob_store(settings: &Settings) -> Result<BlobStore> {
    Ok(match &settings.attachments {
        AttachmentSettings::LocalFs { dir } => BlobStore::local(dir)?,
        AttachmentSettings::S3 {
            endpoint,
            access_key,
            secret_key,
            use_ssl,
            region,
            bucket,
            ..
        } => BlobStore::s3(&S3Config {
            endpoint: endpoint.clone(),
            use_ssl: *use_ssl,
            region: region.clone(),
            bucket: bucket.clone(),
            access_key: access_key.expose().to_owned(),
            secret_key: secret_key.expose().to_owned(),
        })?,
    })
}

pub async fn nats_client(settings: &Settings) -> Result<Option<async_nats::Client>> {
    let Some(nats) = &settings.nats else { return Ok(None) };
    let mut opts = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .name("essp");
    if let (Some(user), Some(password)) = (&nats.user, &nats.password) {
        opts = opts.user_and_password(user.clone(), password.expose().to_owned());
    }
    if let Some(token) = &nats.token {
        opts = opts.token(token.expose().to_owned());
    }
    if let Some(seed) = &nats.nkey {
        opts = opts.nkey(seed.expose().to_owned());
    }
    if let Some(creds) = &nats.creds_file {
        opts = opts.credentials_file(creds).await.context("NATS_CREDS_FILE")?;
    }
    if let Some(ca) = &nats.ca_file {
        opts = opts.add_root_certificates(ca.clone());
    }
    // An edge's credentials may only receive replies under its own inbox
    // prefix (docs/nats-edge-permissions.conf); central answers only there.
    if let (essp_config::Mode::Edge, Some(tenant), Some(school)) =
        (settings.mode, &settings.tenant_id, &settings.school_id)
    {
        opts = opts.custom_inbox_prefix(essp_sync_proto::subjects::edge_inbox(tenant, school));
    }
    // `tls://` URLs make async-nats require TLS; say so explicitly.
    if nats.url.split(',').any(|u| u.trim_start().starts_with("tls://")) {
        opts = opts.require_tls(true);
    }
    // With retry_on_initial_connect this returns at once and connects in the
    // background; readiness reports the state.
    Ok(Some(opts.connect(nats.url.as_str()).await.context("NATS_URL")?))
}

fn install_metrics() -> Result<PrometheusHandle> {
    let buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
    let handle = PrometheusBuilder::new()
        .set_buckets(&buckets)
        .context("metric buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    // Describe the runbook's metrics so they appear from the first scrape.
    metrics::describe_counter!(
        "http_requests_total",
        "HTTP requests by method, route template and status"
    );
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        "HTTP request latency by route template"
    );
    metrics::describe_gauge!("http_requests_in_flight", "HTTP requests being served");
    metrics::describe_gauge!("db_connections_active", "Database connections in use");
    metrics::describe_histogram!("db_query_duration_seconds", "Database statement latency");
    metrics::describe_histogram!(
        "db_group_commit_writes",
        "Handler writes committed together in one shared SQLite transaction"
    );
    metrics::describe_counter!("incidents_created_total", "Incidents created");
    metrics::describe_counter!("work_orders_created_total", "Work orders created");
    metrics::describe_counter!(
        "work_orders_auto_routed_total",
        "Work orders opened by auto-routing at the shop covering the school"
    );
    metrics::describe_counter!(
        "essp_ssot_events_published_total",
        "SSOT change messages acknowledged by JetStream"
    );
    metrics::describe_gauge!("essp_ssot_outbox_depth", "SSOT changes waiting to be published");
    metrics::describe_gauge!("essp_nats_connected", "1 while the NATS connection is up");
    metrics::describe_counter!(
        "essp_ssot_rows_applied_total",
        "SSOT rows applied to IMS snapshots, by source (event, reconcile)"
    );
    metrics::describe_counter!(
        "essp_ssot_reconcile_errors_total",
        "SSOT reconcile passes that failed for a kind"
    );
    metrics::describe_counter!(
        "audit_rows_sealed_total",
        "Audit rows linked into their tenant's hash chain"
    );
    metrics::describe_counter!(
        "telemetry_events_deduplicated_total",
        "Telemetry events folded into an open incident"
    );
    metrics::describe_counter!("attachments_uploaded_total", "Attachments uploaded");
    metrics::describe_counter!("bom_reservations_total", "BOM lines reserved");
    metrics::describe_counter!("approvals_requested_total", "Work order approvals requested");
    metrics::describe_counter!("deliverables_created_total", "Work order deliverables created");
    metrics::describe_counter!("work_order_schedules_created_total", "Work order visits scheduled");
    metrics::describe_counter!("service_shops_created_total", "Service shops created");
    metrics::describe_counter!("service_staff_created_total", "Service staff created");
    metrics::counter!("work_orders_created_total").absolute(0);
    metrics::describe_counter!(
        "incidents_sla_breached_total",
        "Incidents whose SLA deadline passed while open"
    );
    metrics::counter!("incidents_created_total").absolute(0);
    metrics::gauge!("http_requests_in_flight").set(0.0);
    // Edge sync (docs/sync.md). The per-edge gauges exist once an edge is
    // enrolled (central's sync-worker sets them for every edge it knows): a
    // placeholder without tenant/school would be a phantom edge, so they are
    // only described. The counters start at 0 so rates and alerts have a
    // series before the first change.
    metrics::describe_gauge!(
        "essp_sync_edge_lag_changes",
        "Changes of an edge central has not applied yet, from the edge's last checkpoint (tenant, school)"
    );
    metrics::describe_gauge!(
        "essp_sync_edge_lag_seconds",
        "Age in seconds of an edge's oldest change central has not confirmed, from its last checkpoint (tenant, school)"
    );
    metrics::describe_gauge!(
        "essp_sync_edge_outbox_depth",
        "Changes waiting in an edge's outbox, from its last checkpoint (tenant, school)"
    );
    metrics::describe_gauge!(
        "essp_sync_edge_last_seen_seconds",
        "Seconds since an edge's last contact with central, +Inf if never (tenant, school)"
    );
    metrics::describe_gauge!(
        "essp_sync_edge_applied_seq",
        "Last outbox sequence of an edge applied by central (tenant, school)"
    );
    metrics::describe_gauge!(
        "essp_sync_edge_conflicts",
        "Sync conflicts recorded for an edge's school (tenant, school)"
    );
    metrics::describe_gauge!(
        "essp_sync_edge_rejected",
        "Changes of an edge's school central rejected (tenant, school)"
    );
    metrics::describe_gauge!(
        "essp_sync_edge_refused",
        "1 while central refuses an edge's changes until it is re-enrolled (tenant, school)"
    );
    metrics::describe_gauge!(
        "essp_sync_outbox_depth",
        "Changes waiting in this edge's outbox for central"
    );
    metrics::describe_counter!(
        "essp_sync_changes_applied_total",
        "Sync changes applied, by direction (up: edges' at central, down: central's at an edge)"
    );
    metrics::describe_counter!(
        "essp_sync_changes_published_total",
        "Sync changes published, by direction (up: by an edge, down: by central)"
    );
    metrics::describe_counter!(
        "essp_sync_conflicts_total",
        "Field conflicts found applying edges' changes at central"
    );
    metrics::describe_counter!(
        "essp_sync_changes_rejected_total",
        "Edges' changes central could not apply"
    );
    metrics::describe_counter!(
        "essp_sync_envelopes_refused_total",
        "Envelopes central refused (restored or cloned edge, needs re-enrollment)"
    );
    for direction in ["up", "down"] {
        metrics::counter!("essp_sync_changes_applied_total", "direction" => direction).absolute(0);
        metrics::counter!("essp_sync_changes_published_total", "direction" => direction).absolute(0);
    }
    metrics::counter!("essp_sync_conflicts_total").absolute(0);
    metrics::counter!("essp_sync_changes_rejected_total").absolute(0);
    metrics::counter!("essp_sync_envelopes_refused_total").absolute(0);
    Ok(handle)
}

/// Lifetime of presigned links (`MINIO_PRESIGN_EXPIRY_SECONDS`); local
/// storage hands none out.
fn presign_expiry(settings: &Settings) -> std::time::Duration {
    match &settings.attachments {
        AttachmentSettings::S3 { presign_expiry, .. } => *presign_expiry,
        AttachmentSettings::LocalFs { .. } => std::time::Duration::from_secs(900),
    }
}

/// The HTTP layer's settings, from the process configuration.
pub fn http_config(settings: &Settings, role: Role) -> Result<HttpConfig> {
    // An edge's tenant and school are the UI's fixed scope; central has none.
    let edge_scope = |id: &Option<String>| id.clone().filter(|_| settings.mode == essp_config::Mode::Edge);
    Ok(HttpConfig {
        tenant_header: settings.tenancy.tenant_header.clone(),
        school_header: settings.tenancy.school_header.clone(),
        body_limit_bytes: settings.body_limit_bytes,
        sla: SlaPolicy {
            critical: settings.sla.critical,
            high: settings.sla.high,
            medium: settings.sla.medium,
            low: settings.sla.low,
        },
        default_repair_location: settings.work_orders.default_repair_location.clone(),
        auto_route: settings.work_orders.auto_route,
        max_rework: i64::from(settings.work_orders.max_rework),
        scheduling_enabled: settings.work_orders.scheduling_enabled,
        telemetry_dedupe_window: settings.work_orders.telemetry_dedupe_window,
        attachment_max_bytes: settings.attachment_max_bytes,
        presign_expiry: presign_expiry(settings),
        trusted_proxies: crate::security::trusted_proxies(settings)?,
        rate_limits: settings.rate_limit.enabled.then_some(essp_http::ratelimit::RateLimits {
            read_per_minute: settings.rate_limit.read_rpm,
            write_per_minute: settings.rate_limit.write_rpm,
            burst: settings.rate_limit.burst,
        }),
        cors_origins: if settings.cors.enabled {
            settings.cors.allowed_origins.clone()
        } else {
            Vec::new()
        },
        metrics_on_api: settings.metrics_addr.is_none(),
        serve_ims: role.serves_ims(),
        ssot_domains: role.ssot_domains(),
        ui: essp_http::web_admin::UiSettings {
            mode: match settings.mode {
                essp_config::Mode::Central => "central",
                essp_config::Mode::Edge => "edge",
            },
            auth_enabled: settings.auth.enabled,
            oidc_issuer: settings.auth.issuer.clone(),
            oidc_client_id: settings.auth.ui_client_id.clone(),
            tenant_header: settings.tenancy.tenant_header.clone(),
            school_header: settings.tenancy.school_header.clone(),
            tenant_id: edge_scope(&settings.tenant_id),
            school_id: edge_scope(&settings.school_id),
            version: essp_http::web_admin::version(),
        },
        edge_node: settings.mode == essp_config::Mode::Edge,
    })
}

pub async fn serve(settings: Settings, role: Role) -> Result<()> {
    refuse_unsafe(&settings).map_err(anyhow::Error::msg)?;
    let started = std::time::Instant::now();
    let db = open_database(&settings).await?;
    // One server per SQLite file; `essp restore` checks the same lock.
    let _serving = match db.engine() {
        essp_store::Engine::Sqlite => Some(
            db.try_lock(crate::backup::SERVE_LOCK)
                .await?
                .context("another essp serve is running on this database")?,
        ),
        essp_store::Engine::Postgres => None,
    };
    let migrator = Migrator::embedded(db.as_ref())?;
    if settings.migrate_on_start {
        // Checks for a dirty schema first: `up` refuses to run on one.
        let applied = migrator.up(None).await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied migrations");
        }
    } else {
        let pending = migrator.check().await?;
        if pending > 0 {
            bail!("{pending} migration(s) pending and ESSP_MIGRATE_ON_START=false; run `essp migrate up` first");
        }
    }
    migrator.check().await?;
    let epoch = essp_store::node_state::epoch(db.as_ref()).await?;

    let blobs = blob_store(&settings)?;
    let nats = nats_client(&settings).await?;
    let central = matches!(settings.mode, essp_config::Mode::Central);
    let readiness: Vec<(&'static str, Readiness)> = vec![
        // ESSP keeps no state in Redis; the runbook's check is reported as such.
        ("redis", Readiness::Disabled),
        (
            "nats",
            match nats.clone() {
                None => Readiness::Disabled,
                Some(c) if central => Readiness::Required(readiness::nats(c)),
                // An edge keeps working offline: its link is "degraded", not failed.
                Some(c) => Readiness::Optional(readiness::nats(c)),
            },
        ),
        (
            "minio",
            match blobs.kind() {
                essp_blobs::BlobKind::S3 => Readiness::Required(readiness::blob(blobs.clone())),
                essp_blobs::BlobKind::LocalFs => Readiness::Disabled,
            },
        ),
        (
            "attachments",
            match blobs.kind() {
                essp_blobs::BlobKind::LocalFs => Readiness::Required(readiness::blob(blobs.clone())),
                essp_blobs::BlobKind::S3 => Readiness::Disabled,
            },
        ),
    ];

    let sync = crate::edge_sync::prepare(&settings, role, &db, nats.clone(), &blobs).await?;
    let keeps_snapshots = !sync.ssot_from_central();
    let readiness = {
        let mut r = readiness;
        r.push(("ssot", crate::ssot_sync::readiness(&settings, role)));
        r.push(("sync", sync.readiness(&settings)));
        r
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let reconciler = Arc::new(essp_sync_engine::ssot_reconcile::Reconciler::new(
        db.clone(),
        crate::ssot_sync::feed(&settings, db.clone())?,
        settings.ssot.page_size,
        settings.ssot.tenants.clone(),
    ));
    let auth = crate::security::auth_mode(&settings, stop_rx.clone()).await?;
    let state = AppState {
        db: db.clone(),
        writes: Arc::new(essp_store::GroupCommit::new(db.clone())),
        auth: Arc::new(auth),
        blobs: blobs.clone(),
        config: Arc::new(http_config(&settings, role)?),
        metrics: install_metrics()?,
        readiness: Arc::new(readiness),
        ssot_sync: keeps_snapshots.then(|| Arc::new(crate::ssot_sync::Trigger(reconciler.clone())) as _),
        edge_sync: sync.http_handle(),
    };
    let metrics_app = essp_http::metrics_router(state.clone());
    let app = essp_http::router(state);

    let http_addr = if settings.http_addr_explicit {
        settings.http_addr
    } else {
        std::net::SocketAddr::new(settings.http_addr.ip(), role.default_port())
    };
    let listener = TcpListener::bind(http_addr)
        .await
        .with_context(|| format!("cannot listen on {http_addr} (HTTP_ADDR)"))?;
    let addr = listener.local_addr().context("listener address")?;
    tracing::info!(
        %addr,
        role = ?role,
        engine = db.engine().as_str(),
        mode = %settings.mode,
        epoch = %epoch,
        startup_ms = started.elapsed().as_millis() as u64,
        "listening"
    );

    if let Some(metrics_addr) = settings.metrics_addr {
        let listener = TcpListener::bind(metrics_addr)
            .await
            .with_context(|| format!("cannot listen on {metrics_addr} (ESSP_METRICS_ADDR)"))?;
        tracing::info!(addr = %listener.local_addr().context("metrics address")?, "metrics listening");
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, metrics_app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
    }
    let ssot_tasks = crate::ssot_sync::spawn(
        crate::ssot_sync::Work { role, keeps_snapshots },
        &settings,
        db.clone(),
        nats.clone(),
        &reconciler,
        stop_rx.clone(),
    );
    let sync_tasks = sync.spawn(db.clone(), stop_rx.clone());
    let nats_gauge = nats.clone().map(report_nats_connection);
    let housekeeping = crate::maintenance::spawn(
        crate::maintenance::Housekeeping {
            db: db.clone(),
            blobs: blobs.clone(),
            every: settings.housekeeping_interval,
            upload_expiry: presign_expiry(&settings),
        },
        stop_rx.clone(),
    );
    let sweeper = crate::sla_sweep::spawn(db.clone(), settings.sla.sweep_interval, stop_rx.clone());
    let sealer = crate::audit_sealer::spawn(db.clone(), settings.audit_seal_interval, stop_rx.clone());
    let grace = settings.shutdown_grace;
    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let server = tokio::spawn(async move { server.await });
    // After the signal, in-flight requests get `grace` to finish.
    let deadline = async move {
        let mut rx = stop_rx;
        let _ = rx.wait_for(|stopped| *stopped).await;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: no new connections, finishing in-flight requests"
        );
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        joined = server => { joined.context("server task")?.context("server")?; }
        () = deadline => { tracing::warn!("grace period over; abandoning unfinished requests"); }
    }
    housekeeping.abort();
    sweeper.abort();
    if let Some(t) = nats_gauge {
        t.abort();
    }
    for t in ssot_tasks.into_iter().chain(sync_tasks) {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), t).await;
    }
    // The sealer finishes its last pass on the stop signal.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), sealer).await;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// `essp_nats_connected`: 1 while the NATS connection is up (only exported
/// when NATS is configured).
fn report_nats_connection(client: async_nats::Client) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let up = matches!(client.connection_state(), async_nats::connection::State::Connected);
            metrics::gauge!("essp_nats_connected").set(if up { 1.0 } else { 0.0 });
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
