//! The embedded admin UI (`web-admin/`: plain HTML, CSS and ES modules),
//! compiled into the binary and served by every process that serves the
//! IMS API.
//!
//! `GET /` answers `index.html`, never cached, with this deployment's UI
//! settings in a `<meta>` tag. Everything else lives under
//! `/ui/<version>/…`, where the version is a digest of all embedded files:
//! those answers are immutable and cached for a year, and a new build gets
//! new URLs. Relative module imports inherit the versioned prefix, so only
//! `index.html` names it. The UI talks to the public `/v1` API with the
//! same tokens as any client; nothing here is a back door.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "../../web-admin/"]
#[exclude = "tests/*"]
#[exclude = "node_modules/*"]
#[exclude = "*.md"]
#[exclude = "package*.json"]
struct Assets;

/// What the UI needs to know about this deployment before it can call the
/// API: how to sign in and which headers carry the tenancy. Public by
/// nature (it is in every page); never a secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UiSettings {
    /// `central` or `edge`.
    pub mode: &'static str,
    /// False in development mode: requests go without a token.
    pub auth_enabled: bool,
    /// OpenID Connect issuer for the PKCE sign-in; `None` where tokens are
    /// only pasted (an edge box that cannot reach the identity provider).
    pub oidc_issuer: Option<String>,
    /// The public client the UI signs in as.
    pub oidc_client_id: String,
    pub tenant_header: String,
    pub school_header: String,
    /// On an edge, the tenant and school it serves (`ESSP_TENANT_ID`,
    /// `ESSP_SCHOOL_ID`): the UI's fixed scope, with nothing to pick.
    /// `None` on central, where the caller chooses.
    pub tenant_id: Option<String>,
    pub school_id: Option<String>,
    pub version: &'static str,
}

/// The UI's routes.
pub fn routes(settings: &UiSettings) -> Router<AppState> {
    let index = render_index(settings);
    let csp = content_security_policy(settings.oidc_issuer.as_deref());
    let index_csp = csp.clone();
    Router::new()
        .route(
            "/",
            get(move || {
                let (body, csp) = (index.clone(), index_csp.clone());
                async move {
                    (
                        [
                            (
                                header::CONTENT_TYPE,
                                HeaderValue::from_static("text/html; charset=utf-8"),
                            ),
                            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                            (header::CONTENT_SECURITY_POLICY, csp),
                        ],
                        body,
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/ui/{version}/{*path}",
            get(move |Path((version, path)): Path<(String, String)>| {
                let csp = csp.clone();
                async move { asset(&version, &path, csp) }
            }),
        )
}

/// A digest of every embedded file: changes whenever any of them does.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut names: Vec<_> = Assets::iter().collect();
        names.sort();
        let mut h = Sha256::new();
        for name in names {
            if let Some(file) = Assets::get(&name) {
                h.update(name.as_bytes());
                h.update(file.metadata.sha256_hash());
            }
        }
        format!("{:x}", h.finalize())[..12].to_owned()
    })
}

fn asset(version: &str, path: &str, csp: HeaderValue) -> Response {
    let found = (version == self::version())
        .then(|| content_type(path).zip(Assets::get(path)))
        .flatten();
    let Some((content_type, file)) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (header::CONTENT_SECURITY_POLICY, csp),
        ],
        file.data,
    )
        .into_response()
}

/// Only these kinds of file are served; anything else is not part of the UI.
fn content_type(path: &str) -> Option<&'static str> {
    Some(match path.rsplit_once('.')?.1 {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        _ => return None,
    })
}

/// `index.html` with its placeholders filled: `{{base}}` (the versioned
/// asset prefix) and `{{settings}}` (the settings as HTML-escaped JSON).
fn render_index(settings: &UiSettings) -> String {
    let template = Assets::get("index.html")
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
        .unwrap_or_else(|| "<!doctype html><title>ESSP</title><p>The admin UI is not built into this binary.".into());
    let json = serde_json::to_string(settings).unwrap_or_default();
    template
        .replace("{{base}}", &format!("/ui/{}/", settings.version))
        .replace("{{settings}}", &html_escape(&json))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}

/// Scripts, styles and everything else from this origin only; no inline
/// code. Images may also be `blob:` (attachments fetched with a token) or
/// `data:`; the identity provider is reachable for sign-in.
fn content_security_policy(issuer: Option<&str>) -> HeaderValue {
    let connect = match issuer.and_then(origin_of) {
        Some(o) => format!("'self' {o}"),
        None => "'self'".into(),
    };
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         connect-src {connect}; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

/// `https://host[:port]` of a URL; `None` for anything that is not one.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    let safe = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    safe.then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host_only() {
        assert_eq!(
            origin_of("https://id.example.org:8443/realms/essp").as_deref(),
            Some("https://id.example.org:8443")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://evil.example; script-src *"), None);
    }

    #[test]
    fn settings_cannot_break_out_of_the_attribute() {
        let s = html_escape(r#"{"x":"\"><script>"}"#);
        assert!(!s.contains('"') && !s.contains('<'), "{s}");
    }
}
