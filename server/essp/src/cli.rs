//! The command line: `serve`, `migrate`, `config check`, `version`.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use essp_config::Settings;
use essp_store::migrate::Migrator;

use crate::bootstrap;

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
        #[arg(long, value_enum, default_value_t = Role::All)]
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
}

/// Process roles. More join as their parts of the platform land.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Everything in one process (the default; edge boxes and laptops).
    All,
    /// The IMS API (the runbook's `ims-api` deployment).
    ImsApi,
}

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
