//! Rendering of the effective configuration for `essp config check`.

use std::fmt::Display;
use std::path::Path;
use std::time::Duration;

use url::Url;

use crate::Secret;

const REDACTED: &str = "***";

/// Collects `(NAME, value)` pairs in push order. Secrets render as `***`,
/// URLs with their password replaced by `***`, absent values as `""`.
#[derive(Default)]
pub(crate) struct Effective(Vec<(String, String)>);

impl Effective {
    pub(crate) fn into_vec(self) -> Vec<(String, String)> {
        self.0
    }

    pub(crate) fn set(&mut self, name: &str, value: impl Display) {
        self.0.push((name.to_owned(), value.to_string()));
    }

    pub(crate) fn opt(&mut self, name: &str, value: Option<&str>) {
        self.set(name, value.unwrap_or_default());
    }

    pub(crate) fn path(&mut self, name: &str, value: Option<&Path>) {
        self.set(
            name,
            value.map(Path::display).map(|p| p.to_string()).unwrap_or_default(),
        );
    }

    pub(crate) fn secret(&mut self, name: &str, value: Option<&Secret>) {
        self.set(name, if value.is_some() { REDACTED } else { "" });
    }

    /// A URL, or a comma separated list of URLs, with passwords redacted.
    pub(crate) fn url(&mut self, name: &str, value: Option<&str>) {
        let redacted = value
            .map(|urls| urls.split(',').map(redact_url).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        self.set(name, redacted);
    }

    /// Whole hours, minutes or seconds when exact (`72h`, `5m`, `90s`),
    /// else humantime's form.
    pub(crate) fn duration(&mut self, name: &str, value: Duration) {
        let secs = value.as_secs();
        let text = match (value.subsec_nanos(), secs) {
            (0, 0) => "0s".to_owned(),
            (0, s) if s % 3600 == 0 => format!("{}h", s / 3600),
            (0, s) if s % 60 == 0 => format!("{}m", s / 60),
            (0, s) => format!("{s}s"),
            _ => humantime::format_duration(value).to_string(),
        };
        self.set(name, text);
    }

    pub(crate) fn seconds(&mut self, name: &str, value: Duration) {
        self.set(name, value.as_secs());
    }

    pub(crate) fn list(&mut self, name: &str, values: &[String]) {
        self.set(name, values.join(","));
    }
}

/// `scheme://user:***@host:port/path?params`, also masking a `password`
/// query parameter. Anything unparsable is hidden entirely.
pub(crate) fn redact_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw.trim()) else {
        return REDACTED.to_owned();
    };
    let has_password_param = url.query_pairs().any(|(key, _)| key == "password");
    if url.password().is_none() && !has_password_param {
        return raw.trim().to_owned();
    }
    if url.password().is_some() && url.set_password(Some(REDACTED)).is_err() {
        return REDACTED.to_owned();
    }
    if has_password_param {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if key == "password" { REDACTED.into() } else { value };
                (key.into_owned(), value.into_owned())
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}
