//! `essp`: the one ESSP binary. Central or edge, Postgres or SQLite, is
//! configuration; this file only dispatches the command line.

mod audit_sealer;
mod backup;
mod bootstrap;
mod cli;
mod demo;
mod edge_sync;
mod logging;
mod maintenance;
mod readiness;
mod role;
mod security;
mod sla_sweep;
mod ssot_sync;
mod sync_cli;

use std::process::ExitCode;

use clap::Parser;

/// A memory allocator built for many small, short-lived allocations: a
/// sync apply or an API request makes thousands (rows as JSON maps, bind
/// values), and glibc's malloc/free were ~20 % of an edge's down apply.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("essp: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("essp: {e:#}");
            ExitCode::FAILURE
        }
    }
}
