//! A private S3-compatible server (moto) for attachment tests.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PrivateMoto {
    child: Child,
    pub port: u16,
}

/// The workspace's venv (created by `.ci/run`), or `ESSP_TEST_MOTO_VENV`.
fn venv_bin(tool: &str) -> String {
    let venv = std::env::var("ESSP_TEST_MOTO_VENV")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv").to_owned());
    format!("{venv}/bin/{tool}")
}

impl PrivateMoto {
    /// Starts moto on a free loopback port with `bucket` created.
    pub fn start(bucket: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let child = Command::new(venv_bin("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is required (pip install 'moto[s3]' flask flask-cors into .venv; .ci/run does)");
        let moto = PrivateMoto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up {
                break;
            }
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let script = format!(
            "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{port}', aws_access_key_id='test', \
             aws_secret_access_key='test', region_name='us-east-1').create_bucket(Bucket='{bucket}')"
        );
        let ok = Command::new(venv_bin("python")).args(["-c", &script]).status();
        assert!(ok.is_ok_and(|s| s.success()), "creating the test bucket failed");
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
