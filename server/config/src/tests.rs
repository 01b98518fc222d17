#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::source::KNOWN_VARS;
use crate::*;

const DSN: &str = "postgres://essp_admin:hunter2-pg@db.example.com:5432/ssp_ims_prod?sslmode=require";
const REDACTED_DSN: &str = "postgres://essp_admin:***@db.example.com:5432/ssp_ims_prod?sslmode=require";
const JWT: &str = "jwt-secret-0123456789-abcdefghijklmnop";

fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Settings::from_source(&|name: &str| map.get(name).cloned())
}

fn invalid_var(pairs: &[(&str, &str)]) -> (String, String) {
    match load(pairs) {
        Err(ConfigError::Invalid { var, reason }) => (var, reason),
        other => panic!("expected Invalid for {pairs:?}, got {other:?}"),
    }
}

fn joined(settings: &Settings) -> String {
    settings.effective().iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// The ConfigMap of runbook §7.1 plus the values it keeps in Secrets.
fn runbook() -> Vec<(&'static str, &'static str)> {
    vec![
        ("APP_ENV", "production"),
        ("HTTP_ADDR", ":8080"),
        ("LOG_LEVEL", "warn"),
        ("REDIS_ADDR", "redis-master.essp-prod.svc.cluster.local:6379"),
        ("REDIS_DB", "0"),
        ("NATS_URL", "nats://nats.essp-prod.svc.cluster.local:4222"),
        ("MINIO_ENDPOINT", "minio.essp-prod.svc.cluster.local:9000"),
        ("MINIO_USE_SSL", "true"),
        ("MINIO_REGION", "us-east-1"),
        ("MINIO_PRESIGN_EXPIRY_SECONDS", "3600"),
        ("ATTACHMENTS_BUCKET", "essp-attachments-prod"),
        ("ATTACHMENTS_PUBLIC_BASE_URL", "https://attachments.essp.example.com"),
        (
            "SCHOOL_SSOT_BASE_URL",
            "http://ssot-school.essp-prod.svc.cluster.local:8081",
        ),
        (
            "DEVICE_SSOT_BASE_URL",
            "http://ssot-devices.essp-prod.svc.cluster.local:8082",
        ),
        (
            "PARTS_SSOT_BASE_URL",
            "http://ssot-parts.essp-prod.svc.cluster.local:8083",
        ),
        ("SSOT_SYNC_PAGE_SIZE", "100"),
        ("AUTH_ENABLED", "true"),
        ("AUTH_AUDIENCE", "essp-api"),
        ("AUTH_ISSUER", "https://auth.essp.example.com/realms/essp"),
        (
            "AUTH_JWKS_URL",
            "https://auth.essp.example.com/realms/essp/protocol/openid-connect/certs",
        ),
        ("TENANT_HEADER", "X-Tenant-ID"),
        ("SCHOOL_HEADER", "X-School-ID"),
        (
            "CORS_ALLOWED_ORIGINS",
            "https://app.essp.example.com,https://admin.essp.example.com",
        ),
        ("AUTO_ROUTE_WORK_ORDERS", "true"),
        ("DEFAULT_REPAIR_LOCATION", "central-depot"),
        ("RATE_LIMIT_ENABLED", "true"),
        ("RATE_LIMIT_READ_RPM", "1000"),
        ("RATE_LIMIT_WRITE_RPM", "100"),
        ("RATE_LIMIT_BURST", "50"),
        // §7.3 feature flags
        ("CORS_ENABLED", "true"),
        ("ENABLE_WORK_ORDER_SCHEDULING", "true"),
        ("ENABLE_SSOT_SYNC", "true"),
        ("SSOT_SYNC_INTERVAL", "5m"),
        // Secrets
        ("PG_DSN", DSN),
        ("REDIS_PASSWORD", "hunter2-redis"),
        ("MINIO_ACCESS_KEY", "hunter2-access"),
        ("MINIO_SECRET_KEY", "hunter2-minio"),
        ("JWT_SECRET", JWT),
        ("NATS_PASSWORD", "hunter2-nats"),
    ]
}

#[test]
fn empty_source_gives_embedded_defaults() {
    let s = load(&[]).unwrap();
    assert_eq!(s.app_env, AppEnv::Development);
    assert_eq!(s.mode, Mode::Central);
    assert_eq!(s.http_addr, "0.0.0.0:8080".parse::<SocketAddr>().unwrap());
    assert_eq!(s.log_level, "info");
    assert_eq!(s.housekeeping_interval, std::time::Duration::from_secs(15 * 60));
    assert_eq!(s.sync_checkpoint_interval, std::time::Duration::from_secs(60));
    assert_eq!(s.data_dir, Path::new("./essp-data"));
    match &s.database {
        DatabaseSettings::Sqlite { path } => assert_eq!(path, Path::new("./essp-data/essp.db")),
        other => panic!("expected sqlite, got {other:?}"),
    }
    match &s.attachments {
        AttachmentSettings::LocalFs { dir } => {
            assert_eq!(dir, Path::new("./essp-data/attachments"))
        }
        other => panic!("expected local attachments, got {other:?}"),
    }
    assert!(s.migrate_on_start);
    assert!(s.redis.is_none());
    assert!(s.nats.is_none());
    assert!(!s.auth.enabled);
    assert_eq!(s.auth.audience, "essp-api");
    assert!(s.auth.jwt_secret.is_none());
    assert_eq!(s.tenancy.tenant_header, "X-Tenant-ID");
    assert_eq!(s.tenancy.school_header, "X-School-ID");
    assert_eq!(
        s.cors,
        CorsSettings {
            enabled: true,
            allowed_origins: vec![]
        }
    );
    assert_eq!(
        s.work_orders,
        WorkOrderSettings {
            auto_route: true,
            default_repair_location: "service_shop".into(),
            scheduling_enabled: true,
            max_rework: 5,
            telemetry_dedupe_window: Duration::from_secs(3600),
        }
    );
    assert_eq!(
        s.rate_limit,
        RateLimitSettings {
            enabled: true,
            read_rpm: 300,
            write_rpm: 100,
            burst: 50,
            trusted_proxies: vec![]
        }
    );
    assert!(!s.ssot.enable_sync);
    assert_eq!(s.ssot.sync_interval, Duration::from_secs(300));
    assert_eq!(s.ssot.page_size, 100);
    let hours = |h: u64| Duration::from_secs(h * 3600);
    assert_eq!(
        s.sla,
        SlaSettings {
            critical: hours(4),
            high: hours(24),
            medium: hours(48),
            low: hours(72),
            sweep_interval: Duration::from_secs(60),
        }
    );
    assert_eq!(s.body_limit_bytes, 10_485_760);
    assert_eq!(s.shutdown_grace, Duration::from_secs(15));
    assert_eq!((&s.school_id, &s.tenant_id), (&None, &None));
    assert!(!s.is_production());
}

#[test]
fn empty_strings_count_as_unset() {
    let s = load(&[
        ("HTTP_ADDR", ""),
        ("PG_DSN", "  "),
        ("NATS_URL", ""),
        ("AUTH_ENABLED", ""),
    ])
    .unwrap();
    assert_eq!(s.http_addr.port(), 8080);
    assert!(matches!(s.database, DatabaseSettings::Sqlite { .. }));
    assert!(s.nats.is_none());
}

#[test]
fn runbook_configmap_parses() {
    let s = load(&runbook()).unwrap();
    assert!(s.is_production());
    assert_eq!(s.http_addr, "0.0.0.0:8080".parse::<SocketAddr>().unwrap());
    assert_eq!(s.log_level, "warn");
    match &s.database {
        DatabaseSettings::Postgres { dsn, max_connections } => {
            assert_eq!(dsn.expose(), DSN);
            assert_eq!(*max_connections, 20);
        }
        other => panic!("expected postgres, got {other:?}"),
    }
    let redis = s.redis.as_ref().unwrap();
    assert_eq!(redis.addr, "redis-master.essp-prod.svc.cluster.local:6379");
    assert_eq!(redis.password.as_ref().unwrap().expose(), "hunter2-redis");
    assert_eq!(
        s.nats.as_ref().unwrap().url,
        "nats://nats.essp-prod.svc.cluster.local:4222"
    );
    match &s.attachments {
        AttachmentSettings::S3 {
            endpoint,
            use_ssl,
            region,
            bucket,
            presign_expiry,
            public_base_url,
            ..
        } => {
            assert_eq!(endpoint, "minio.essp-prod.svc.cluster.local:9000");
            assert!(*use_ssl);
            assert_eq!(region, "us-east-1");
            assert_eq!(bucket, "essp-attachments-prod");
            assert_eq!(*presign_expiry, Duration::from_secs(3600));
            assert_eq!(public_base_url.as_deref(), Some("https://attachments.essp.example.com"));
        }
        other => panic!("expected S3, got {other:?}"),
    }
    assert!(s.auth.enabled);
    assert_eq!(
        s.auth.issuer.as_deref(),
        Some("https://auth.essp.example.com/realms/essp")
    );
    assert_eq!(
        s.cors.allowed_origins,
        ["https://app.essp.example.com", "https://admin.essp.example.com"]
    );
    assert_eq!(s.work_orders.default_repair_location, "central-depot");
    assert_eq!(s.rate_limit.read_rpm, 1000);
    assert!(s.ssot.enable_sync);
    assert_eq!(s.ssot.sync_interval, Duration::from_secs(300));
    assert_eq!(
        s.ssot.device_base_url.as_deref(),
        Some("http://ssot-devices.essp-prod.svc.cluster.local:8082")
    );
}

#[test]
fn invalid_values_name_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("RATE_LIMIT_READ_RPM", "abc")], "RATE_LIMIT_READ_RPM"),
        (&[("RATE_LIMIT_BURST", "0")], "RATE_LIMIT_BURST"),
        (&[("HTTP_ADDR", "nonsense")], "HTTP_ADDR"),
        (&[("HTTP_ADDR", ":99999")], "HTTP_ADDR"),
        (&[("HTTP_ADDR", ":abc")], "HTTP_ADDR"),
        (&[("HTTP_ADDR", "example.com:80")], "HTTP_ADDR"),
        (&[("AUTH_ENABLED", "maybe")], "AUTH_ENABLED"),
        (&[("AUTH_ENABLED", "true")], "AUTH_JWKS_URL"),
        (&[("AUTH_JWKS_URL", "https://idp.example/certs")], "AUTH_ISSUER"),
        (
            &[("NATS_URL", "nats://n:4222"), ("NATS_NKEY", "not-a-seed")],
            "NATS_NKEY",
        ),
        (&[("ESSP_METRICS_ADDR", "nowhere")], "ESSP_METRICS_ADDR"),
        (&[("ESSP_JWKS_REFRESH", "often")], "ESSP_JWKS_REFRESH"),
        (&[("MINIO_USE_SSL", "maybe")], "MINIO_USE_SSL"),
        (&[("SSOT_SYNC_INTERVAL", "soon")], "SSOT_SYNC_INTERVAL"),
        (&[("SYNC_INTERVAL", "soon")], "SYNC_INTERVAL"),
        (&[("SSOT_SYNC_INTERVAL", "0s")], "SSOT_SYNC_INTERVAL"),
        (
            &[("ESSP_HOUSEKEEPING_INTERVAL", "weekly")],
            "ESSP_HOUSEKEEPING_INTERVAL",
        ),
        (&[("ESSP_HOUSEKEEPING_INTERVAL", "0s")], "ESSP_HOUSEKEEPING_INTERVAL"),
        (
            &[("ESSP_SYNC_CHECKPOINT_INTERVAL", "0s")],
            "ESSP_SYNC_CHECKPOINT_INTERVAL",
        ),
        (&[("ESSP_MODE", "edge"), ("ESSP_SCHOOL_ID", "s")], "ESSP_TENANT_ID"),
        (&[("ESSP_MODE", "edge"), ("ESSP_TENANT_ID", "t")], "ESSP_SCHOOL_ID"),
        (&[("PG_DSN", "mysql://x")], "PG_DSN"),
        (&[("DATABASE_URL", "not a url")], "DATABASE_URL"),
        (&[("JWT_SECRET", "short")], "JWT_SECRET"),
        (&[("MINIO_ENDPOINT", "minio:9000")], "MINIO_ACCESS_KEY"),
        (
            &[("MINIO_ENDPOINT", "minio:9000"), ("MINIO_ACCESS_KEY", "a")],
            "MINIO_SECRET_KEY",
        ),
        (&[("MINIO_ENDPOINT", "http://minio:9000")], "MINIO_ENDPOINT"),
        (&[("TENANT_HEADER", "bad header")], "TENANT_HEADER"),
        (&[("SCHOOL_HEADER", "X-School:")], "SCHOOL_HEADER"),
        (&[("ATTACHMENTS_BUCKET", "A")], "ATTACHMENTS_BUCKET"),
        (&[("ATTACHMENTS_BUCKET", "-bucket")], "ATTACHMENTS_BUCKET"),
        (
            &[("MINIO_PRESIGN_EXPIRY_SECONDS", "604801")],
            "MINIO_PRESIGN_EXPIRY_SECONDS",
        ),
        (
            &[("ATTACHMENTS_PUBLIC_BASE_URL", "ftp://x")],
            "ATTACHMENTS_PUBLIC_BASE_URL",
        ),
        (&[("APP_ENV", "qa")], "APP_ENV"),
        (&[("ESSP_MODE", "cloud")], "ESSP_MODE"),
        (&[("LOG_LEVEL", "loud")], "LOG_LEVEL"),
        (&[("ESSP_DB_MAX_CONNECTIONS", "0")], "ESSP_DB_MAX_CONNECTIONS"),
        (&[("REDIS_ADDR", "redis")], "REDIS_ADDR"),
        (&[("REDIS_URL", "http://cache:6379")], "REDIS_URL"),
        (&[("REDIS_URL", "redis://cache:6379/x")], "REDIS_URL"),
        (&[("REDIS_DB", "-1")], "REDIS_DB"),
        (&[("NATS_URL", "localhost:4222")], "NATS_URL"),
        (&[("NATS_URL", "nats://a:4222,http://b")], "NATS_URL"),
        (&[("AUTH_JWKS_URL", "certs")], "AUTH_JWKS_URL"),
        (&[("CORS_ENABLED", "2")], "CORS_ENABLED"),
        (
            &[("CORS_ALLOWED_ORIGINS", "*,https://a.example.com")],
            "CORS_ALLOWED_ORIGINS",
        ),
        (
            &[("CORS_ALLOWED_ORIGINS", "https://a.example.com/")],
            "CORS_ALLOWED_ORIGINS",
        ),
        (
            &[("DEFAULT_REPAIR_LOCATION", "Central Depot")],
            "DEFAULT_REPAIR_LOCATION",
        ),
        (&[("ESSP_TRUSTED_PROXIES", "10.0.0.0/33")], "ESSP_TRUSTED_PROXIES"),
        (&[("ESSP_TRUSTED_PROXIES", "proxy.local")], "ESSP_TRUSTED_PROXIES"),
        (&[("SSOT_SYNC_PAGE_SIZE", "1001")], "SSOT_SYNC_PAGE_SIZE"),
        (&[("SCHOOL_SSOT_BASE_URL", "ssot-school:8081")], "SCHOOL_SSOT_BASE_URL"),
        (&[("ESSP_SLA_HIGH", "0")], "ESSP_SLA_HIGH"),
        (&[("ESSP_SLA_LOW", "later")], "ESSP_SLA_LOW"),
        (&[("ESSP_BODY_LIMIT_BYTES", "10")], "ESSP_BODY_LIMIT_BYTES"),
        (&[("ESSP_SHUTDOWN_GRACE", "-5s")], "ESSP_SHUTDOWN_GRACE"),
        (&[("ESSP_MIGRATE_ON_START", "sure")], "ESSP_MIGRATE_ON_START"),
    ];
    for (pairs, expected) in cases {
        let (var, _) = invalid_var(pairs);
        assert_eq!(&var, expected, "for {pairs:?}");
    }
}

#[test]
fn error_messages_quote_plain_values() {
    let err = load(&[("RATE_LIMIT_READ_RPM", "abc")]).unwrap_err();
    assert_eq!(err.to_string(), r#"RATE_LIMIT_READ_RPM: "abc" is not a whole number"#);
    let err = load(&[("RATE_LIMIT_READ_RPM", "0")]).unwrap_err();
    assert!(err.to_string().contains("must be at least 1"), "{err}");
}

#[test]
fn error_messages_never_contain_secrets() {
    let cases: &[(&str, &str)] = &[
        ("PG_DSN", "mysql://root:hunter2@db:3306/ims"),
        ("PG_DSN", "postgres//root:hunter2@db"),
        ("JWT_SECRET", "hunter2"),
        ("REDIS_URL", "redis://:hunter2@cache:6379/nope"),
        ("REDIS_URL", "redis://admin:hunter2@cache:6379"),
        ("NATS_URL", "http://user:hunter2@nats:4222"),
        ("SCHOOL_SSOT_BASE_URL", "ftp://user:hunter2@ssot"),
    ];
    for (var, value) in cases {
        let err = load(&[(var, value)]).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{var}: {err}");
    }
}

#[test]
fn listen_addresses() {
    let cases = [
        (":8080", "0.0.0.0:8080"),
        ("0.0.0.0:8080", "0.0.0.0:8080"),
        ("127.0.0.1:0", "127.0.0.1:0"),
        ("[::1]:8080", "[::1]:8080"),
        ("localhost:8080", "127.0.0.1:8080"),
        ("LocalHost:9", "127.0.0.1:9"),
    ];
    for (raw, expected) in cases {
        let s = load(&[("HTTP_ADDR", raw)]).unwrap();
        assert_eq!(s.http_addr, expected.parse::<SocketAddr>().unwrap(), "{raw}");
    }
}

#[test]
fn log_levels() {
    let cases = [
        ("INFO", "info"),
        ("Warning", "warn"),
        ("warn", "warn"),
        ("trace", "trace"),
        ("error", "error"),
        ("info,essp_http=debug", "info,essp_http=debug"),
    ];
    for (raw, expected) in cases {
        assert_eq!(load(&[("LOG_LEVEL", raw)]).unwrap().log_level, expected, "{raw}");
    }
}

#[test]
fn booleans() {
    let cases = [
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("yes", true),
        ("On", true),
        ("false", false),
        ("0", false),
        ("No", false),
        ("off", false),
    ];
    for (raw, expected) in cases {
        assert_eq!(load(&[("CORS_ENABLED", raw)]).unwrap().cors.enabled, expected, "{raw}");
    }
}

#[test]
fn durations() {
    let cases = [("5m", 300), ("1h 30m", 5400), ("90s", 90), ("120", 120), ("2h", 7200)];
    for (raw, secs) in cases {
        let s = load(&[("SSOT_SYNC_INTERVAL", raw), ("ESSP_SHUTDOWN_GRACE", raw)]).unwrap();
        assert_eq!(s.ssot.sync_interval, Duration::from_secs(secs), "{raw}");
        assert_eq!(s.shutdown_grace, Duration::from_secs(secs), "{raw}");
    }
    let alias = load(&[("SYNC_INTERVAL", "10m")]).unwrap();
    assert_eq!(alias.ssot.sync_interval, Duration::from_secs(600));
    let both = load(&[("SYNC_INTERVAL", "10m"), ("SSOT_SYNC_INTERVAL", "1m")]).unwrap();
    assert_eq!(both.ssot.sync_interval, Duration::from_secs(60));
}

#[test]
fn app_env_aliases_and_display() {
    let cases = [
        ("dev", AppEnv::Development),
        ("local", AppEnv::Development),
        ("test", AppEnv::Development),
        ("Stage", AppEnv::Staging),
        ("staging", AppEnv::Staging),
        ("prod", AppEnv::Production),
        ("PRODUCTION", AppEnv::Production),
    ];
    for (raw, expected) in cases {
        assert_eq!(load(&[("APP_ENV", raw)]).unwrap().app_env, expected, "{raw}");
    }
    assert_eq!(AppEnv::Development.to_string(), "development");
    assert_eq!(AppEnv::Staging.to_string(), "staging");
    assert_eq!(AppEnv::Production.to_string(), "production");
    let edge = [("ESSP_MODE", "Edge"), ("ESSP_TENANT_ID", "t"), ("ESSP_SCHOOL_ID", "s")];
    assert_eq!(load(&edge).unwrap().mode, Mode::Edge);
}

#[test]
fn database_selection() {
    let pg = load(&[("DATABASE_URL", "postgresql://u@h/db")]).unwrap();
    assert!(matches!(&pg.database, DatabaseSettings::Postgres { dsn, .. } if dsn.expose() == "postgresql://u@h/db"));
    let both = load(&[("DATABASE_URL", "postgres://a@h/x"), ("PG_DSN", "postgres://b@h/y")]).unwrap();
    assert!(matches!(&both.database, DatabaseSettings::Postgres { dsn, .. } if dsn.expose() == "postgres://b@h/y"));
    let sized = load(&[("PG_DSN", DSN), ("ESSP_DB_MAX_CONNECTIONS", "25")]).unwrap();
    assert!(matches!(
        sized.database,
        DatabaseSettings::Postgres {
            max_connections: 25,
            ..
        }
    ));
    let moved = load(&[("ESSP_DATA_DIR", "/var/lib/essp")]).unwrap();
    assert!(matches!(&moved.database, DatabaseSettings::Sqlite { path } if path == Path::new("/var/lib/essp/essp.db")));
    assert!(
        matches!(&moved.attachments, AttachmentSettings::LocalFs { dir } if dir == Path::new("/var/lib/essp/attachments"))
    );
    let own_dir = load(&[("ATTACHMENTS_DIR", "/srv/files")]).unwrap();
    assert!(matches!(&own_dir.attachments, AttachmentSettings::LocalFs { dir } if dir == Path::new("/srv/files")));
}

#[test]
fn s3_defaults() {
    let s = load(&[
        ("MINIO_ENDPOINT", "localhost:9000"),
        ("MINIO_ACCESS_KEY", "ak"),
        ("MINIO_SECRET_KEY", "sk"),
    ])
    .unwrap();
    match s.attachments {
        AttachmentSettings::S3 {
            endpoint,
            access_key,
            secret_key,
            use_ssl,
            region,
            bucket,
            presign_expiry,
            public_base_url,
        } => {
            assert_eq!(endpoint, "localhost:9000");
            assert_eq!((access_key.expose(), secret_key.expose()), ("ak", "sk"));
            assert!(!use_ssl);
            assert_eq!(region, "us-east-1");
            assert_eq!(bucket, "essp-attachments");
            assert_eq!(presign_expiry, Duration::from_secs(900));
            assert_eq!(public_base_url, None);
        }
        other => panic!("expected S3, got {other:?}"),
    }
}

#[test]
fn redis_addr_and_url() {
    let from_url = load(&[("REDIS_URL", "redis://:p%40ss@cache:6380/2")]).unwrap();
    let r = from_url.redis.unwrap();
    assert_eq!((r.addr.as_str(), r.db), ("cache:6380", 2));
    assert_eq!(r.password.unwrap().expose(), "p@ss");

    let defaults = load(&[("REDIS_URL", "redis://cache")]).unwrap().redis.unwrap();
    assert_eq!((defaults.addr.as_str(), defaults.db), ("cache:6379", 0));
    assert!(defaults.password.is_none());

    let overridden = load(&[
        ("REDIS_URL", "redis://:a@cache:6380/2"),
        ("REDIS_PASSWORD", "b"),
        ("REDIS_DB", "5"),
    ])
    .unwrap()
    .redis
    .unwrap();
    assert_eq!((overridden.password.unwrap().expose(), overridden.db), ("b", 5));

    let addr_wins = load(&[("REDIS_ADDR", "r1:6379"), ("REDIS_URL", "redis://r2:6379")])
        .unwrap()
        .redis
        .unwrap();
    assert_eq!(addr_wins.addr, "r1:6379");
}

#[test]
fn nats_settings() {
    let s = load(&[
        ("NATS_URL", " nats://a:4222 , tls://b:4222 "),
        ("NATS_USER", "edge"),
        ("NATS_PASSWORD", "pw"),
        ("NATS_CREDS_FILE", "/etc/nats/edge.creds"),
    ])
    .unwrap();
    let n = s.nats.unwrap();
    assert_eq!(n.url, "nats://a:4222,tls://b:4222");
    assert_eq!(n.user.as_deref(), Some("edge"));
    assert_eq!(n.password.unwrap().expose(), "pw");
    assert_eq!(n.creds_file, Some(PathBuf::from("/etc/nats/edge.creds")));
}

#[test]
fn lists_are_trimmed_and_normalised() {
    let s = load(&[
        (
            "CORS_ALLOWED_ORIGINS",
            " https://a.example.com , ,HTTPS://B.example.com:8443,http://c.example.com:80",
        ),
        ("ESSP_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1 ,::1,fd00::/8"),
    ])
    .unwrap();
    assert_eq!(
        s.cors.allowed_origins,
        [
            "https://a.example.com",
            "https://b.example.com:8443",
            "http://c.example.com"
        ]
    );
    assert_eq!(
        s.rate_limit.trusted_proxies,
        ["10.0.0.0/8", "192.168.1.1", "::1", "fd00::/8"]
    );
    let any = load(&[("CORS_ALLOWED_ORIGINS", "*")]).unwrap();
    assert_eq!(any.cors.allowed_origins, ["*"]);
}

#[test]
fn secrets_are_hidden_in_debug_and_display() {
    let secret = Secret::from("hunter2".to_owned());
    assert_eq!(format!("{secret:?}"), "***");
    assert_eq!(secret.to_string(), "***");
    assert_eq!(secret.clone().expose(), "hunter2");
    let s = load(&runbook()).unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!debug.contains(JWT), "{debug}");
}

#[test]
fn effective_redacts_secrets() {
    let s = load(&runbook()).unwrap();
    let out = joined(&s);
    assert!(!out.contains("hunter2"), "{out}");
    assert!(!out.contains(JWT), "{out}");
    assert!(out.contains(&format!("PG_DSN={REDACTED_DSN}\n")), "{out}");
    for name in [
        "REDIS_PASSWORD",
        "MINIO_ACCESS_KEY",
        "MINIO_SECRET_KEY",
        "JWT_SECRET",
        "NATS_PASSWORD",
    ] {
        assert!(out.contains(&format!("{name}=***\n")), "{name} in {out}");
    }
    assert!(out.contains("ESSP_SLA_LOW=72h\n"), "{out}");
    assert!(out.contains("SSOT_SYNC_INTERVAL=5m\n"), "{out}");
    assert!(out.contains("MINIO_PRESIGN_EXPIRY_SECONDS=3600\n"), "{out}");
}

#[test]
fn effective_redacts_credentials_in_urls() {
    let s = load(&[
        (
            "PG_DSN",
            "postgres://u:pw1-secret@h:5432/db?password=pw2-secret&sslmode=disable",
        ),
        ("NATS_URL", "nats://u:pw3-secret@n1:4222,nats://n2:4222"),
        ("SCHOOL_SSOT_BASE_URL", "https://u:pw4-secret@ssot.example.com"),
    ])
    .unwrap();
    let out = joined(&s);
    assert!(!out.contains("-secret"), "{out}");
    assert!(
        out.contains("PG_DSN=postgres://u:***@h:5432/db?password=***&sslmode=disable\n"),
        "{out}"
    );
    assert!(out.contains("NATS_URL=nats://u:***@n1:4222,nats://n2:4222\n"), "{out}");
}

/// The UI's public client defaults to the API's client (whose
/// `resource_access` roles count), which defaults to the audience; each can
/// be set on its own, and `config check` shows both.
#[test]
fn ui_client_id_defaults_to_the_api_client() {
    let s = load(&[]).unwrap();
    assert_eq!(
        (s.auth.client_id.as_str(), s.auth.ui_client_id.as_str()),
        ("essp-api", "essp-api")
    );
    let s = load(&[("AUTH_AUDIENCE", "api"), ("ESSP_AUTH_CLIENT_ID", "essp-backend")]).unwrap();
    assert_eq!(
        (s.auth.client_id.as_str(), s.auth.ui_client_id.as_str()),
        ("essp-backend", "essp-backend")
    );
    let s = load(&[
        ("ESSP_AUTH_CLIENT_ID", "essp-backend"),
        ("ESSP_AUTH_UI_CLIENT_ID", "essp-admin-ui"),
    ])
    .unwrap();
    assert_eq!(
        (s.auth.client_id.as_str(), s.auth.ui_client_id.as_str()),
        ("essp-backend", "essp-admin-ui")
    );
    let shown = joined(&s);
    assert!(shown.contains("ESSP_AUTH_CLIENT_ID=essp-backend\n"), "{shown}");
    assert!(shown.contains("ESSP_AUTH_UI_CLIENT_ID=essp-admin-ui\n"), "{shown}");
}

#[test]
fn effective_lists_every_setting_once_in_stable_order() {
    let names: Vec<String> = load(&[]).unwrap().effective().into_iter().map(|(k, _)| k).collect();
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "duplicates in {names:?}");
    for name in &names {
        assert!(KNOWN_VARS.contains(&name.as_str()), "{name} is not a known var");
    }
    let runbook_names: Vec<String> = load(&runbook())
        .unwrap()
        .effective()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(names, runbook_names);
    assert_eq!(names.first().map(String::as_str), Some("APP_ENV"));
}

#[test]
fn effective_output_reads_back_to_itself() {
    for pairs in [
        vec![],
        vec![
            ("HTTP_ADDR", "localhost:9000"),
            ("SSOT_SYNC_INTERVAL", "1h 30m"),
            ("ESSP_SLA_CRITICAL", "90s"),
            ("CORS_ALLOWED_ORIGINS", "https://a.example.com"),
            ("ESSP_TRUSTED_PROXIES", "10.0.0.0/8"),
            ("REDIS_ADDR", "cache:6379"),
            ("NATS_URL", "nats://n:4222"),
            ("ESSP_SCHOOL_ID", "sch-1"),
        ],
    ] {
        let first = load(&pairs).unwrap().effective();
        let again: Vec<(&str, &str)> = first.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(load(&again).unwrap().effective(), first);
    }
}

#[test]
fn file_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    };
    let jwt = write("jwt", &format!("  {JWT}\n"));
    let dsn = write("dsn", &format!("{DSN}\n"));
    let ak = write("ak", "access\n");
    let sk = write("sk", "secret\n");
    let empty = write("empty", " \n");
    let s = load(&[
        ("JWT_SECRET_FILE", &jwt),
        ("PG_DSN_FILE", &dsn),
        ("MINIO_ENDPOINT", "minio:9000"),
        ("MINIO_ACCESS_KEY_FILE", &ak),
        ("MINIO_SECRET_KEY_FILE", &sk),
        ("REDIS_ADDR", "cache:6379"),
        ("REDIS_PASSWORD_FILE", &sk),
        ("NATS_URL", "nats://n:4222"),
        ("NATS_PASSWORD_FILE", &ak),
    ])
    .unwrap();
    assert_eq!(s.auth.jwt_secret.as_ref().unwrap().expose(), JWT);
    assert!(matches!(&s.database, DatabaseSettings::Postgres { dsn, .. } if dsn.expose() == DSN));
    assert!(
        matches!(&s.attachments, AttachmentSettings::S3 { access_key, secret_key, .. }
        if access_key.expose() == "access" && secret_key.expose() == "secret")
    );
    assert_eq!(s.redis.unwrap().password.unwrap().expose(), "secret");
    assert_eq!(s.nats.unwrap().password.unwrap().expose(), "access");

    let plain_wins = load(&[("JWT_SECRET", "p".repeat(40).as_str()), ("JWT_SECRET_FILE", &jwt)]).unwrap();
    assert_eq!(plain_wins.auth.jwt_secret.unwrap().expose(), "p".repeat(40));

    let missing = dir.path().join("missing").display().to_string();
    assert_eq!(invalid_var(&[("JWT_SECRET_FILE", &missing)]).0, "JWT_SECRET_FILE");
    assert_eq!(invalid_var(&[("PG_DSN_FILE", &empty)]).0, "PG_DSN_FILE");
    let short = write("short", "hunter2\n");
    let (var, reason) = invalid_var(&[("JWT_SECRET_FILE", &short)]);
    assert_eq!(var, "JWT_SECRET");
    assert!(!reason.contains("hunter2"));
}

fn config_file(content: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(content.as_bytes()).unwrap();
    file
}

fn from_env_with(file: &Path, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let mut map: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    map.insert("ESSP_CONFIG".into(), file.display().to_string());
    Settings::from_env_with(&|name: &str| map.get(name).cloned())
}

#[test]
fn toml_file_is_layered_under_env() {
    let file = config_file(
        r#"
HTTP_ADDR = ":9090"
LOG_LEVEL = "debug"
RATE_LIMIT_BURST = 7
CORS_ENABLED = false
ESSP_MODE = "edge"
"#,
    );
    let s = from_env_with(
        file.path(),
        &[("LOG_LEVEL", "error"), ("HTTP_ADDR", ""), ("ESSP_MODE", "central")],
    )
    .unwrap();
    assert_eq!(s.http_addr.port(), 9090, "empty env falls through to the file");
    assert_eq!(s.log_level, "error", "env wins over the file");
    assert_eq!(s.mode, Mode::Central);
    assert_eq!(s.rate_limit.burst, 7);
    assert!(!s.cors.enabled);
}

#[test]
fn toml_file_errors() {
    let unknown = config_file("HTTP_ADR = \":9090\"\n");
    match from_env_with(unknown.path(), &[]) {
        Err(ConfigError::File { path, reason }) => {
            assert_eq!(path, unknown.path().display().to_string());
            assert!(reason.contains("HTTP_ADR"), "{reason}");
        }
        other => panic!("expected File error, got {other:?}"),
    }

    let nested = config_file("CORS_ALLOWED_ORIGINS = [\"https://a\"]\n");
    let err = from_env_with(nested.path(), &[]).unwrap_err();
    assert!(matches!(&err, ConfigError::File { reason, .. } if reason.contains("CORS_ALLOWED_ORIGINS")));

    let broken = config_file("LOG_LEVEL = \"info\"\nJWT_SECRET = \"hunter2\n");
    let err = from_env_with(broken.path(), &[]).unwrap_err();
    assert!(matches!(err, ConfigError::File { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(err.to_string().contains("line 2"), "{err}");

    let missing = Path::new("/nonexistent/essp.toml");
    assert!(matches!(from_env_with(missing, &[]), Err(ConfigError::File { .. })));

    let bad_value = config_file("RATE_LIMIT_READ_RPM = \"abc\"\n");
    let err = from_env_with(bad_value.path(), &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { var, .. } if var == "RATE_LIMIT_READ_RPM"));
}

/// `KNOWN_VARS` (the keys the TOML file accepts) is exactly the set of
/// names the settings look up.
#[test]
fn known_vars_match_the_names_read() {
    let seen = RefCell::new(BTreeSet::new());
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds");
    std::fs::write(&creds, "x".repeat(40)).unwrap();
    let creds = creds.display().to_string();
    let configs: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![
            ("MINIO_ENDPOINT", "minio:9000"),
            ("MINIO_ACCESS_KEY_FILE", &creds),
            ("MINIO_SECRET_KEY_FILE", &creds),
        ],
        vec![("NATS_URL", "nats://n:4222"), ("REDIS_URL", "redis://r")],
    ];
    for pairs in &configs {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        Settings::from_source(&|name: &str| {
            seen.borrow_mut().insert(name.to_owned());
            map.get(name).map(|v| (*v).to_owned())
        })
        .unwrap();
    }
    let known: BTreeSet<String> = KNOWN_VARS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(seen.into_inner(), known);
}
