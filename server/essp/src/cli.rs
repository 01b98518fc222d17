//! The command line: `serve`, `migrate`, `config check`, `version`.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use essp_config::Settings;
use essp_store::migrate::Migrator;

use crate::bootstrap;
pub use crate::role::Role;

#[derive(Debug, Parser)]
#[command(
    name = "essp",
    version,
    about = "ESSP: school device incidents and repairs, central and edge, in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (API, health, metrics).
    Serve {
        /// Which part of the platform this process runs.
        #[arg(long, value_enum, env = "ESSP_ROLE", default_value_t = Role::All)]
        role: Role,
    },
    /// Apply or revert schema migrations (golang-migrate compatible; reads PG_DSN).
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Inspect configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print the version and the schema version this binary carries.
    Version,
    /// Print the path templates of the API a role serves, one per line.
    Routes {
        #[arg(long, value_enum, env = "ESSP_ROLE", default_value_t = Role::All)]
        role: Role,
    },
    /// Print the OpenAPI 3.1 document of a role (what it serves at /openapi.json).
    Openapi {
        #[arg(long, value_enum, env = "ESSP_ROLE", default_value_t = Role::All)]
        role: Role,
    },
    /// Back up the database: SQLite online with VACUUM INTO, Postgres with
    /// pg_dump (custom format). Prints what it wrote as JSON.
    Backup {
        /// Where to write the backup (must not exist).
        file: std::path::PathBuf,
        /// Also copy it to object storage under backups/ (MINIO_* / ATTACHMENTS_*).
        #[arg(long)]
        upload: bool,
    },
    /// Replace the database with a backup (SQLite: with the server stopped;
    /// the replaced file is kept) and mint a new sync epoch.
    Restore {
        /// A file written by `essp backup`.
        file: std::path::PathBuf,
    },
    /// Bulk-load SSOT data from a CSV file: one transaction, every row
    /// checked, a report with line numbers; re-importing changes nothing.
    Import {
        /// What the file holds: schools, devices, parts (or any SSOT kind).
        kind: String,
        /// The CSV file; its header names the columns (camelCase fields).
        file: std::path::PathBuf,
        #[arg(long)]
        tenant: String,
        /// Check everything and report, but write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Edge sync: status, verification, a checkpoint now.
    Sync {
        #[command(subcommand)]
        action: crate::sync_cli::SyncAction,
    },
    /// Edge box set-up: enrollment with central.
    Edge {
        #[command(subcommand)]
        action: crate::sync_cli::EdgeAction,
    },
    /// Demo data.
    Demo {
        #[command(subcommand)]
        action: DemoAction,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Mint a short-lived token signed with JWT_SECRET (scripts, service
    /// calls, or a school's admin when central is unreachable).
    Token {
        /// Subject: who the token acts as (recorded in the audit trail).
        #[arg(long)]
        sub: String,
        #[arg(long)]
        tenant: String,
        /// A school the token may act in (repeat), or `*` for all (needs a role with school:all).
        #[arg(long = "school", required = true)]
        schools: Vec<String>,
        /// A role (repeat), e.g. essp-admin, essp-technician, essp-viewer.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Lifetime, e.g. 15m, 8h (at most 7 days).
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: std::time::Duration,
    },
}

fn parse_ttl(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() || d > std::time::Duration::from_secs(7 * 24 * 3600) {
        return Err("must be between 1s and 7 days".into());
    }
    Ok(d)
}

/// Process roles. More join as their parts of the platform land.

#[derive(Debug, Subcommand)]
enum MigrateAction {
    /// Apply all pending migrations, or the next N.
    Up { n: Option<usize> },
    /// Revert the last N migrations (or all with --all).
    Down {
        n: Option<usize>,
        #[arg(long, conflicts_with = "n")]
        all: bool,
    },
    /// Migrate up or down to version V.
    Goto { version: i64 },
    /// Print the current version (and whether it is dirty).
    Version,
    /// Set the version without running migrations (repairs a dirty database; -1 clears it).
    Force {
        #[arg(allow_negative_numbers = true)]
        version: i64,
    },
}

#[derive(Debug, Subcommand)]
enum DemoAction {
    /// Fill the empty `demo-tenant` with a realistic, deterministic tenant:
    /// the SSOT (47 counties, ~300 sub-counties, schools, devices, ~500
    /// parts) by CSV import, IMS's snapshots by reconcile, and repair shops,
    /// stock, incidents and work orders through the API.
    Seed {
        /// Schools, spread over the 47 counties by population.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        schools: u64,
        /// Devices per school.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000))]
        devices_per_school: u64,
        /// Incidents per school (default: 10-15 % of its devices).
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=1_000))]
        incidents_per_school: Option<u64>,
        /// Random seed: the same seed gives the same data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Re-compute every tenant's hash chain (or one tenant's) and report
    /// modified, deleted or truncated entries; exits non-zero on any.
    Verify {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Seal pending rows into their chains now (normally done every
    /// ESSP_AUDIT_SEAL_INTERVAL by the server).
    Seal,
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Validate the configuration and print the effective values, secrets redacted.
    Check,
}

fn settings() -> Result<Settings> {
    Settings::from_env().context("invalid configuration")
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve { role } => {
            let settings = settings()?;
            crate::logging::init(&settings.log_level, crate::logging::Sink::Stdout);
            bootstrap::serve(settings, role).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { action } => migrate(action).await,
        Command::Sync { action } => {
            let settings = settings()?;
            crate::logging::init(&settings.log_level, crate::logging::Sink::Stderr);
            crate::sync_cli::sync(settings, action).await
        }
        Command::Edge { action } => {
            let settings = settings()?;
            crate::logging::init(&settings.log_level, crate::logging::Sink::Stderr);
            crate::sync_cli::edge(settings, action).await
        }
        Command::Config {
            action: ConfigAction::Check,
        } => {
            let settings = settings()?;
            for (name, value) in settings.effective() {
                println!("{name}={value}");
            }
            if let Err(problem) = bootstrap::refuse_unsafe(&settings) {
                bail!(problem);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Routes { role } => {
            let config = bootstrap::http_config(&settings()?, role)?;
            for path in essp_http::served_paths(&config) {
                println!("{path}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Openapi { role } => {
            let config = bootstrap::http_config(&settings()?, role)?;
            println!("{}", essp_http::openapi::document(&config).to_pretty_json()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            sub,
            tenant,
            schools,
            roles,
            ttl,
        } => {
            let settings = settings()?;
            println!("{}", mint_token(&settings, &sub, &tenant, &schools, &roles, ttl)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            action: AuditAction::Verify { tenant },
        } => audit_verify(tenant).await,
        Command::Audit {
            action: AuditAction::Seal,
        } => {
            let settings = settings()?;
            crate::logging::init(&settings.log_level, crate::logging::Sink::Stderr);
            let db = bootstrap::open_database(&settings).await?;
            let n = crate::audit_sealer::seal_all(db.as_ref()).await?;
            db.close().await;
            println!("sealed {n}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { file, upload } => {
            let settings = settings()?;
            crate::logging::init(&settings.log_level, crate::logging::Sink::Stderr);
            let out = crate::backup::backup(&settings, &file, upload).await?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file } => {
            let settings = settings()?;
            crate::logging::init(&settings.log_level, crate::logging::Sink::Stderr);
            let out = crate::backup::restore(&settings, &file).await?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            kind,
            file,
            tenant,
            dry_run,
        } => import(&kind, &file, &tenant, dry_run).await,
        Command::Demo {
            action:
                DemoAction::Seed {
                    schools,
                    devices_per_school,
                    incidents_per_school,
                    seed,
                },
        } => {
            let settings = settings()?;
            crate::logging::init(&settings.log_level, crate::logging::Sink::Stderr);
            let params = crate::demo::Params {
                schools,
                devices_per_school,
                incidents_per_school,
                seed,
            };
            let s = crate::demo::seed(&settings, &params).await?;
            for line in s.lines() {
                println!("{line}");
            }
            let took: Vec<String> = s.timings.iter().map(|(k, t)| format!("{k} {t:.1} s")).collect();
            eprintln!("took: {}", took.join(", "));
            Ok(ExitCode::SUCCESS)
        }
        Command::Version => {
            let latest = essp_store::migrate::MigrationSet::embedded(essp_store::Engine::Postgres)
                .ok()
                .and_then(|s| s.latest())
                .unwrap_or(0);
            println!("essp {} (schema {latest})", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn migrate(action: MigrateAction) -> Result<ExitCode> {
    let settings = settings()?;
    crate::logging::init(&settings.log_level, crate::logging::Sink::Stderr);
    let db = bootstrap::open_database(&settings).await?;
    let migrator = Migrator::embedded(db.as_ref())?;
    let result = match action {
        MigrateAction::Up { n } => migrator.up(n).await.map(|v| report("applied", &v)),
        MigrateAction::Down { n, all } => {
            if n.is_none() && !all {
                bail!("say how many migrations to revert (`essp migrate down 1`) or `--all`");
            }
            migrator.down(n).await.map(|v| report("reverted", &v))
        }
        MigrateAction::Goto { version } => migrator.goto(version).await.map(|v| report("migrated through", &v)),
        MigrateAction::Force { version } => migrator
            .force(version)
            .await
            .map(|()| println!("forced version {version}")),
        MigrateAction::Version => migrator.version().await.map(|v| match v {
            None => println!("no migrations applied"),
            Some(v) if v.dirty => println!("{} (dirty)", v.version),
            Some(v) => println!("{}", v.version),
        }),
    };
    db.close().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

fn report(verb: &str, versions: &[i64]) {
    if versions.is_empty() {
        println!("no change");
    } else {
        let list: Vec<String> = versions.iter().map(i64::to_string).collect();
        println!("{verb} {}", list.join(", "));
    }
}

fn mint_token(
    settings: &Settings,
    sub: &str,
    tenant: &str,
    schools: &[String],
    roles: &[String],
    ttl: std::time::Duration,
) -> Result<String> {
    let auth = &settings.auth;
    let Some(secret) = &auth.jwt_secret else {
        bail!("JWT_SECRET (or JWT_SECRET_FILE) must be set to mint tokens");
    };
    let table = crate::security::roles(settings)?;
    if let Some(unknown) = roles
        .iter()
        .find(|r| table.grants_for([r.as_str()]) == Default::default())
    {
        bail!("role {unknown:?} grants nothing in the role table");
    }
    for id in std::iter::once(tenant).chain(schools.iter().map(String::as_str).filter(|s| *s != "*")) {
        essp_domain::scope::parse_scope_part(Some(id)).map_err(|e| anyhow::anyhow!("{id:?} {e}"))?;
    }
    let issuer = essp_http::auth::local::LocalIssuer {
        secret: secret.expose().as_bytes(),
        issuer: &auth.local_issuer,
        audience: &auth.audience,
        tenant_claim: &auth.tenant_claim,
        schools_claim: &auth.schools_claim,
    };
    let token = essp_http::auth::local::LocalToken {
        subject: sub,
        tenant,
        schools,
        roles,
        ttl,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(issuer.mint(&token, now)?)
}

async fn audit_verify(tenant: Option<String>) -> Result<ExitCode> {
    let settings = settings()?;
    crate::logging::init(&settings.log_level, crate::logging::Sink::Stderr);
    let db = bootstrap::open_database(&settings).await?;
    let tenants = match tenant {
        Some(t) => vec![t],
        None => essp_store::audit::tenants(db.as_ref()).await?,
    };
    let mut ok = true;
    for t in tenants {
        let r = essp_store::audit::verify(db.as_ref(), &t).await?;
        match &r.problem {
            None if r.unsealed > 0 => println!("{t}: ok ({} entries, {} not yet sealed)", r.entries, r.unsealed),
            None if r.unsealed > 0 => println!("{t}: ok ({} entries, {} not yet sealed)", r.entries, r.unsealed),
            None => println!("{t}: ok ({} entries)", r.entries),
            Some(p) => {
                ok = false;
                println!("{t}: TAMPERED: {p} ({} entries verified before it)", r.entries);
            }
        }
    }
    db.close().await;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn import(kind: &str, file: &std::path::Path, tenant: &str, dry_run: bool) -> Result<ExitCode> {
    let settings = settings()?;
    crate::logging::init(&settings.log_level, crate::logging::Sink::Stderr);
    let kind = essp_domain::ssot::kind(kind).with_context(|| {
        let known: Vec<&str> = essp_domain::ssot::KINDS.iter().map(|k| k.name).collect();
        format!("{kind:?} is not an SSOT kind; use one of {}", known.join(", "))
    })?;
    let tenant = essp_domain::scope::parse_scope_part(Some(tenant)).context("--tenant")?;
    let reader = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let db = bootstrap::open_database(&settings).await?;
    Migrator::embedded(db.as_ref())?.check().await?;
    let actor = essp_http::auth::Actor {
        subject: format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into())),
        request_id: String::new(),
        ip: String::new(),
        user_agent: format!("essp/{} import", env!("CARGO_PKG_VERSION")),
    };
    let result = essp_http::ssot::csv_import::import_csv(
        db.as_ref(),
        &tenant,
        kind,
        std::io::BufReader::new(reader),
        dry_run,
        &actor,
    )
    .await;
    db.close().await;
    let report = result.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if report.error_count == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
