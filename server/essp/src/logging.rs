//! JSON logs on stdout, filtered by `LOG_LEVEL`.

use tracing_subscriber::EnvFilter;

/// Where log lines go: a server logs to stdout (the container convention);
/// a CLI command logs to stderr so its stdout is only its result.
#[derive(Debug, Clone, Copy)]
pub enum Sink {
    Stdout,
    Stderr,
}

pub fn init(level: &str, sink: Sink) {
    // Postgres NOTICEs ("relation already exists, skipping") are noise.
    let directives = format!("{level},sqlx::postgres::notice=warn");
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    // Ignore a second init (only possible in tests).
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(move || -> Box<dyn std::io::Write> {
            match sink {
                Sink::Stdout => Box::new(std::io::stdout()),
                Sink::Stderr => Box::new(std::io::stderr()),
            }
        })
        .try_init();
}
