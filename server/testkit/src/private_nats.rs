//! A private nats-server (JetStream on) for tests that need NATS, or must
//! kill and restart it. The machine's shared server is never touched.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PrivateNats {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    extra: Vec<String>,
}

fn binary() -> String {
    std::env::var("ESSP_TEST_NATS_SERVER").unwrap_or_else(|_| {
        [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "/usr/local/bin/nats-server",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nats-server")
        .to_owned()
    })
}

impl PrivateNats {
    /// Starts on a random loopback port with JetStream; `extra` are more
    /// server flags (e.g. `--auth <token>`).
    pub fn start(extra: &[&str]) -> Self {
        let mut nats = PrivateNats {
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
            port: 0,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        nats.spawn();
        nats
    }

    fn spawn(&mut self) {
        let port = if self.port == 0 {
            "-1".to_owned()
        } else {
            self.port.to_string()
        };
        let mut child = Command::new(binary())
            .args(["-a", "127.0.0.1", "-p", &port, "-js", "-sd"])
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nats-server is required for these tests (apt-get install nats-server)");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut listening = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("nats-server did not become ready"));
            if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                listening = rest.rsplit(':').next().and_then(|p| p.trim().parse::<u16>().ok());
            }
            if line.contains("Server is ready") {
                break;
            }
        }
        self.port = listening.expect("nats-server printed no client port");
        self.child = Some(child);
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Restarts on the same port with the same JetStream store.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}
