//! Runs the real `essp` binary as a child process against a real database,
//! and talks to it over HTTP, as an operator or a client would.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub use essp_testkit::{Backend, TestDb};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_essp");
pub const TENANT: &str = "tenant-a";
pub const SCHOOL: &str = "school-1";

/// Environment for an `essp` child: a private data dir, the test database,
/// nothing inherited that could change behaviour.
pub fn base_command(db: &TestDb, data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ESSP_DATA_DIR", data_dir)
        .env("LOG_LEVEL", "info")
        .env("HTTP_ADDR", "127.0.0.1:0")
        // Scenarios make many quick requests; the rate-limit tests turn it on.
        .env("RATE_LIMIT_ENABLED", "false")
        // Seal audit rows into their chain quickly so tests need not wait.
        .env("ESSP_AUDIT_SEAL_INTERVAL", "50ms");
    if db.db.engine() == essp_store::Engine::Postgres {
        cmd.env("PG_DSN", &db.url);
    } else {
        // The SQLite file lives in the TestDb's own directory.
        cmd.env("ESSP_DATA_DIR", std::path::Path::new(&db.url).parent().unwrap());
    }
    cmd
}

/// A running `essp serve`.
pub struct Server {
    pub addr: SocketAddr,
    pub base: String,
    pub child: Child,
    pub http: reqwest::Client,
    logs: mpsc::Receiver<Value>,
    db: Option<TestDb>,
    env: Vec<(String, String)>,
    _data: tempfile::TempDir,
}

impl Server {
    pub async fn start(backend: Backend) -> Server {
        Self::start_with(backend, &[]).await
    }

    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Server {
        let db = TestDb::empty(backend).await;
        Self::start_on(db, env).await
    }

    pub async fn start_on(db: TestDb, env: &[(&str, &str)]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut cmd = base_command(&db, data.path());
        cmd.arg("serve").stdout(Stdio::piped()).stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn essp");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            addr: "0.0.0.0:0".parse().unwrap(),
            base: String::new(),
            child,
            http: reqwest::Client::new(),
            logs: rx,
            db: Some(db),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            _data: data,
        };
        let listening = server.wait_for_log("listening");
        server.addr = listening["addr"].as_str().unwrap().parse().unwrap();
        server.base = format!("http://{}", server.addr);
        server
    }

    /// Blocks until a log line with this message appears (or the process
    /// exits, or 30 s pass).
    pub fn wait_for_log(&mut self, message: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.logs.recv_timeout(left) {
                Ok(v) if v["message"] == message => return v,
                Ok(_) => continue,
                Err(_) => panic!(
                    "essp never logged {message:?} (exit status: {:?})",
                    self.child.try_wait()
                ),
            }
        }
    }

    /// The database this server runs on.
    pub fn db(&self) -> &TestDb {
        self.db.as_ref().unwrap()
    }

    /// Kills the process (as a crash would) and starts a new one on the
    /// same database and environment.
    pub async fn restart(mut self) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let db = self.db.take().unwrap();
        let env: Vec<(String, String)> = std::mem::take(&mut self.env);
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Server::start_on(db, &pairs).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the tenant and school headers set.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("X-Tenant-ID", TENANT)
            .header("X-School-ID", SCHOOL)
    }

    pub async fn create_incident(&self, body: Value) -> reqwest::Response {
        self.req(reqwest::Method::POST, "/v1/incidents")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A new incident on `dev_1` (asserting it was created), as answered.
    pub async fn new_incident(&self) -> Value {
        let r = self
            .create_incident(json!({"deviceId": "dev_1", "title": "Cracked screen"}))
            .await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// The id of a [`Server::new_incident`].
    pub async fn new_incident_id(&self) -> String {
        self.new_incident().await["id"].as_str().unwrap().to_owned()
    }

    pub async fn list_all(&self) -> Vec<Value> {
        let resp = self
            .req(reqwest::Method::GET, "/v1/incidents?limit=200")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        body["items"].as_array().unwrap().clone()
    }

    /// Waits until every audit row written so far is sealed into its chain.
    pub async fn wait_audit_sealed(&self) -> serde_json::Value {
        for _ in 0..200 {
            let report: Value = self
                .req(reqwest::Method::GET, "/v1/audit-logs/verify")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if report["unsealed"] == 0 {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("audit rows were never sealed");
    }

    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "essp did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what its servers logged after starting (the
        // lines no `wait_for_log` consumed): the cause of a timeout is
        // usually there and nowhere else. `ESSP_TEST_LOGS=1` shows them
        // for passing tests too.
        if std::thread::panicking() || std::env::var_os("ESSP_TEST_LOGS").is_some() {
            let mode = self
                .env
                .iter()
                .find(|(k, _)| k == "ESSP_MODE")
                .map_or("central", |(_, v)| v.as_str());
            eprintln!("--- logs of the {mode} server at {} ---", self.base);
            // The reader thread ends at the killed process's end of output.
            while let Ok(line) = self.logs.recv_timeout(Duration::from_secs(2)) {
                eprintln!("{line}");
            }
        }
    }
}

/// Sends a request as the test school, with an optional JSON body.
pub async fn call(s: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut r = s.req(method, path);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

/// Like [`call`], asserting the status; returns the JSON body (or null).
pub async fn expect(s: &Server, method: reqwest::Method, path: &str, body: Option<Value>, want: u16) -> Value {
    let r = call(s, method, path, body).await;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(status, want, "{path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts a problem+json response with the given status and code.
pub async fn assert_problem(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status for expected problem {code}");
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(ct.starts_with("application/problem+json"), "content-type {ct}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

/// Polls `check` every 100 ms until it holds; fails after 20 s naming `what`
/// (for effects that arrive asynchronously: snapshots, sealed audit rows).
pub async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `essp <args>` to completion with the test's database.
pub fn run_cli(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = base_command(db, data.path());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run essp")
}

/// Generates one test per engine for `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::common::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name($crate::common::Backend::Postgres).await }
        }
    )+};
}
