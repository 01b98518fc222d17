//! A real OpenID Connect provider (npm `oidc-provider`, run by Node) standing
//! in for Keycloak: client-credentials JWT access tokens with Keycloak-shaped
//! claims, discovery, JWKS and key rotation across restarts. The private
//! keys are readable so tests can forge hostile tokens with the real keys.
//!
//! For browser tests it also signs users in: a public client registered with
//! [`OidcProvider::register_public_client`] gets the authorization-code flow
//! with PKCE (the provider's development login form, any password), JWT
//! access tokens with the claims given by [`OidcProvider::set_users`], and
//! refresh tokens rotated on every use.
//!
//! The Node side lives in `server/testkit/oidc/` (`provider.mjs`, with
//! `package-lock.json` pinning its dependencies); its `node_modules` is
//! installed by `npm ci` on first use. Node and npm must be on `PATH`.
//!
//! Default identities (client id = `sub`, secret = `"secret-" + id`):
//! `admin`, `tech`, `viewer`, `other-tenant`, `support`, `noroles`,
//! `notenant`, and `es-tech` (like `tech`, but ES256-signed). See
//! `provider.mjs` for their claims, or pass your own to
//! [`OidcProvider::start_with_clients`].

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// The `aud` of every access token (Keycloak's API client id).
pub const AUDIENCE: &str = "essp-api";
/// The resource indicator requested at the token endpoint. oidc-provider
/// only accepts absolute URIs there; it maps to [`AUDIENCE`].
pub const RESOURCE: &str = "urn:essp:api";

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(300);

/// How to start a provider, beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct ProviderOptions {
    /// The confidential clients (see [`OidcProvider::start_with_clients`]);
    /// `None` for the default identities.
    pub clients: Option<serde_json::Value>,
    /// Lifetime of every access token (default 5 minutes); whole seconds.
    pub access_token_ttl: Option<Duration>,
}

fn oidc_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/oidc"))
}

/// Installs `oidc/node_modules` with `npm ci` unless it already matches
/// `package-lock.json`. Safe under concurrent test processes (file lock).
fn ensure_node_modules() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let dir = oidc_dir();
        let lock_json = fs::read(dir.join("package-lock.json")).expect("read oidc/package-lock.json");
        let marker = dir.join("node_modules").join(".essp-installed-package-lock.json");
        let installed = || fs::read(&marker).is_ok_and(|m| m == lock_json);
        if installed() {
            return;
        }
        let lock_path = std::env::temp_dir().join("essp-testkit-oidc-npm-ci.lock");
        let lock = File::create(&lock_path).expect("create npm ci lock file");
        lock.lock().expect("lock npm ci lock file");
        if installed() {
            return;
        }
        let out = Command::new("npm")
            .args(["ci", "--silent", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("running `npm ci` in {} (is npm installed?): {e}", dir.display()));
        assert!(
            out.status.success(),
            "`npm ci` in {} failed ({}):\n{}{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        fs::write(&marker, &lock_json).expect("write node_modules install marker");
    });
}

/// A running `oidc-provider` on `127.0.0.1`.
pub struct OidcProvider {
    pub issuer: String,
    pub jwks_uri: String,
    pub token_endpoint: String,
    pub port: u16,
    /// Dynamic client registration, guarded by `registration_token`.
    registration_endpoint: String,
    registration_token: String,
    access_token_ttl: Duration,
    keys_dir: tempfile::TempDir,
    child: Option<Running>,
    http: reqwest::Client,
}

struct Running {
    child: Child,
    /// Held open: the provider exits when it reaches EOF (`--watch-stdin`),
    /// so it dies with the test process even if `Drop` never runs.
    _stdin: Option<ChildStdin>,
}

struct Ready {
    port: u16,
    issuer: String,
    jwks_uri: String,
    token_endpoint: String,
    registration_endpoint: String,
    registration_token: String,
}

impl OidcProvider {
    /// Starts a provider with the default identities on a free port with
    /// fresh keys (≈0.3 s once `node_modules` is installed).
    pub fn start() -> Self {
        Self::start_with(ProviderOptions::default())
    }

    /// Starts a provider whose identities are `clients`, a JSON array of
    /// `{"client_id", "client_secret"?, "alg"?: "RS256"|"ES256", "claims": {..}}`
    /// (`client_secret` defaults to `"secret-" + client_id`).
    pub fn start_with_clients(clients: &serde_json::Value) -> Self {
        Self::start_with(ProviderOptions {
            clients: Some(clients.clone()),
            ..ProviderOptions::default()
        })
    }

    /// Starts a provider as `options` say, on a free port with fresh keys.
    pub fn start_with(options: ProviderOptions) -> Self {
        let keys_dir = tempfile::tempdir().expect("tempdir for oidc keys");
        if let Some(clients) = &options.clients {
            let text = serde_json::to_vec_pretty(clients).expect("serialize clients");
            fs::write(keys_dir.path().join("clients.json"), text).expect("write clients.json");
        }
        let access_token_ttl = options.access_token_ttl.unwrap_or(DEFAULT_ACCESS_TOKEN_TTL);
        assert!(
            access_token_ttl.as_secs() >= 1 && access_token_ttl.subsec_nanos() == 0,
            "access_token_ttl must be whole seconds, at least one: {access_token_ttl:?}"
        );
        ensure_node_modules();
        let (running, ready) = spawn(keys_dir.path(), 0, false, access_token_ttl);
        OidcProvider {
            issuer: ready.issuer,
            jwks_uri: ready.jwks_uri,
            token_endpoint: ready.token_endpoint,
            port: ready.port,
            registration_endpoint: ready.registration_endpoint,
            registration_token: ready.registration_token,
            access_token_ttl,
            keys_dir,
            child: Some(running),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("reqwest client"),
        }
    }

    /// Stops the provider and starts it again on the same port and keys
    /// directory; with `rotate`, both signing keys are replaced by new ones
    /// (new kids; the old keys disappear from the JWKS). Issued tokens are
    /// forgotten (in-memory store), but they are stateless JWTs anyway;
    /// sessions, refresh tokens and registered public clients are gone.
    pub fn restart(&mut self, rotate: bool) {
        self.stop();
        // The old listener is closed once the process is reaped; retry
        // briefly in case the kernel still reports the port busy.
        let mut attempt = 0;
        let (running, ready) = loop {
            attempt += 1;
            match try_spawn(self.keys_dir.path(), self.port, rotate, self.access_token_ttl) {
                Ok(ok) => break ok,
                Err(e) if e.contains("EADDRINUSE") && attempt < 50 => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("restarting oidc provider on port {}: {e}", self.port),
            }
        };
        assert_eq!(ready.port, self.port, "oidc provider restarted on another port");
        assert_eq!(ready.issuer, self.issuer, "oidc provider issuer changed on restart");
        self.registration_token = ready.registration_token;
        self.child = Some(running);
    }

    /// Kills the provider and waits for it: discovery, JWKS and token
    /// endpoints become unreachable. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut running) = self.child.take() {
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }

    /// Whether the provider process is (supposed to be) running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// An access token for `client` (client-credentials grant,
    /// `client_secret_basic`, secret `"secret-" + client`). Panics with the
    /// provider's error body on failure.
    pub async fn token(&self, client: &str) -> String {
        self.token_with_secret(client, &format!("secret-{client}")).await
    }

    /// Like [`token`](Self::token) with an explicit client secret.
    pub async fn token_with_secret(&self, client: &str, secret: &str) -> String {
        let body = format!("grant_type=client_credentials&resource={}", form_encode(RESOURCE));
        let resp = self
            .http
            .post(&self.token_endpoint)
            // RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
            .basic_auth(form_encode(client), Some(form_encode(secret)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("token request to {} failed: {e}", self.token_endpoint));
        let status = resp.status();
        let text = resp.text().await.expect("token response body");
        assert!(
            status.is_success(),
            "token request for client {client:?} failed with {status}: {text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("token response is not JSON ({e}): {text}"));
        json["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("token response without access_token: {text}"))
            .to_owned()
    }

    /// Registers a public browser client (no secret): authorization code
    /// with PKCE S256 and refresh tokens, redirecting only to
    /// `redirect_uri`; the provider answers CORS requests from that URI's
    /// origin. Panics with the provider's answer if it refuses.
    pub async fn register_public_client(&self, client_id: &str, redirect_uri: &str) {
        let body = serde_json::json!({
            "client_id": client_id,
            "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        });
        let resp = self
            .http
            .post(&self.registration_endpoint)
            .bearer_auth(&self.registration_token)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("client registration at {} failed: {e}", self.registration_endpoint));
        let status = resp.status();
        let text = resp.text().await.expect("registration response body");
        assert!(
            status.is_success(),
            "registering {client_id:?} failed with {status}: {text}"
        );
        let json: serde_json::Value = serde_json::from_str(&text).expect("registration response is JSON");
        assert_eq!(json["client_id"], client_id, "the provider kept the client id: {text}");
    }

    /// The people who may sign in through the browser and the claims of
    /// their access tokens: a JSON array of `{"login", "claims": {..}}`.
    /// Takes effect for the next token issued (the provider reads the file
    /// per token), so a test may call it once it knows the ids to put in.
    pub fn set_users(&self, users: &serde_json::Value) {
        assert!(users.is_array(), "users must be a JSON array: {users}");
        let path = self.keys_dir.path().join("users.json");
        let tmp = self.keys_dir.path().join("users.json.tmp");
        fs::write(&tmp, serde_json::to_vec_pretty(users).expect("serialize users")).expect("write users.json");
        fs::rename(&tmp, &path).expect("replace users.json");
    }

    /// The lifetime of the access tokens this provider issues.
    pub fn access_token_ttl(&self) -> Duration {
        self.access_token_ttl
    }

    /// The directory holding the keys (`rsa.pem`, `ec.pem`, `rsa.pub.pem`,
    /// `ec.pub.pem`, `jwks.json`) and, if given, `clients.json`.
    pub fn keys_dir(&self) -> &Path {
        self.keys_dir.path()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        let path = self.keys_dir.path().join(name);
        fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// The RSA-2048 private key (PKCS#8 PEM) behind the RS256 tokens.
    pub fn rsa_pem(&self) -> Vec<u8> {
        self.read("rsa.pem")
    }

    /// The P-256 private key (PKCS#8 PEM) behind the ES256 tokens.
    pub fn ec_pem(&self) -> Vec<u8> {
        self.read("ec.pem")
    }

    /// The RSA public key (SPKI PEM), e.g. as the HMAC secret of an
    /// algorithm-confusion HS256 token.
    pub fn rsa_public_pem(&self) -> Vec<u8> {
        self.read("rsa.pub.pem")
    }

    /// The EC public key (SPKI PEM).
    pub fn ec_public_pem(&self) -> Vec<u8> {
        self.read("ec.pub.pem")
    }

    /// The private JWK set the provider signs with (`{"keys": [..]}`).
    pub fn private_jwks(&self) -> serde_json::Value {
        serde_json::from_slice(&self.read("jwks.json")).expect("jwks.json is JSON")
    }

    fn kid(&self, alg: &str) -> String {
        let jwks = self.private_jwks();
        jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|k| k["alg"] == alg)
            .and_then(|k| k["kid"].as_str())
            .unwrap_or_else(|| panic!("no {alg} key in jwks.json"))
            .to_owned()
    }

    /// The `kid` of the current RSA (RS256) key.
    pub fn rsa_kid(&self) -> String {
        self.kid("RS256")
    }

    /// The `kid` of the current EC (ES256) key.
    pub fn ec_kid(&self) -> String {
        self.kid("ES256")
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(keys_dir: &Path, port: u16, rotate: bool, access_token_ttl: Duration) -> (Running, Ready) {
    try_spawn(keys_dir, port, rotate, access_token_ttl).unwrap_or_else(|e| panic!("starting oidc provider: {e}"))
}

/// Starts `node provider.mjs` and waits for its readiness line. On failure
/// the process is reaped and its stderr returned.
fn try_spawn(keys_dir: &Path, port: u16, rotate: bool, access_token_ttl: Duration) -> Result<(Running, Ready), String> {
    let dir = oidc_dir();
    let log_path = keys_dir.join("provider.stderr.log");
    let log = File::create(&log_path).map_err(|e| format!("create {}: {e}", log_path.display()))?;
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("provider.mjs"))
        .arg("--port")
        .arg(port.to_string())
        .arg("--keys")
        .arg(keys_dir)
        .arg("--watch-stdin")
        .arg("--access-ttl")
        .arg(access_token_ttl.as_secs().to_string())
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    if rotate {
        cmd.arg("--rotate");
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("spawning `node` (is Node.js installed?): {e}"))?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().ok_or("child has no stdout")?;

    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if line.starts_with('{') {
                let _ = tx.send(line);
                break;
            }
        }
        // Keep draining so the provider never blocks on a full pipe.
        for _ in lines {}
    });

    let fail = |child: &mut Child, why: String| -> String {
        let _ = child.kill();
        let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
        let stderr = fs::read_to_string(&log_path).unwrap_or_default();
        format!("{why} (node {status}); stderr:\n{stderr}")
    };

    let line = match rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) => line,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            return Err(fail(&mut child, format!("no ready line within {READY_TIMEOUT:?}")));
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            return Err(fail(&mut child, "provider exited before it was ready".into()));
        }
    };
    let parsed = serde_json::from_str::<serde_json::Value>(&line)
        .ok()
        .filter(|v| v["ready"] == true)
        .and_then(|v| {
            Some(Ready {
                port: u16::try_from(v["port"].as_u64()?).ok()?,
                issuer: v["issuer"].as_str()?.to_owned(),
                jwks_uri: v["jwks_uri"].as_str()?.to_owned(),
                token_endpoint: v["token_endpoint"].as_str()?.to_owned(),
                registration_endpoint: v["registration_endpoint"].as_str()?.to_owned(),
                registration_token: v["registration_token"].as_str()?.to_owned(),
            })
        });
    match parsed {
        Some(ready) => Ok((Running { child, _stdin: stdin }, ready)),
        None => Err(fail(&mut child, format!("unexpected ready line {line:?}"))),
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
