DROP TABLE IF EXISTS telemetry_dedupe;
