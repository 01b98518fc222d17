//! One small parser per kind of value.
//!
//! Every parser has the shape `fn(var, raw) -> Result<T, ConfigError>` (or
//! returns a closure of that shape) so [`crate::source::Source`] can apply it
//! uniformly. `raw` is already trimmed and non-empty. Parsers of non-secret
//! values quote the offending value in the error; values that may carry
//! credentials are never echoed.

use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::{Bound, RangeBounds};
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::ConfigError;

pub(crate) type Result<T> = std::result::Result<T, ConfigError>;

pub(crate) fn invalid(var: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_owned(),
        reason: reason.into(),
    }
}

/// Quotes a value for an error message unless it looks like it carries
/// credentials (`user:pass@host`).
fn shown(raw: &str) -> String {
    if raw.contains('@') {
        "value (hidden, it contains credentials)".to_owned()
    } else {
        format!("{raw:?}")
    }
}

pub(crate) fn boolean(var: &str, raw: &str) -> Result<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            var,
            format!("{raw:?} is not a boolean (use true/false, 1/0, yes/no or on/off)"),
        )),
    }
}

/// A whole number within `range` (`1..=1000`, or open-ended `1..`).
pub(crate) fn int_in<T>(range: impl RangeBounds<T>) -> impl Fn(&str, &str) -> Result<T>
where
    T: TryFrom<i128> + PartialOrd + Display,
{
    move |var, raw| {
        let wide: i128 = raw
            .parse()
            .map_err(|_| invalid(var, format!("{raw:?} is not a whole number")))?;
        T::try_from(wide)
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| invalid(var, format!("{raw:?} {}", describe(&range))))
    }
}

fn describe<T: Display>(range: &impl RangeBounds<T>) -> String {
    match (range.start_bound(), range.end_bound()) {
        (Bound::Included(lo), Bound::Included(hi)) => format!("must be between {lo} and {hi}"),
        (Bound::Included(lo), _) => format!("must be at least {lo}"),
        _ => "is out of range".to_owned(),
    }
}

/// A humantime duration ("90s", "5m", "1h 30m") or a bare number of seconds.
pub(crate) fn duration(var: &str, raw: &str) -> Result<Duration> {
    if let Ok(secs) = raw.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(raw).map_err(|e| {
        invalid(
            var,
            format!("{raw:?} is not a duration ({e}); use e.g. 90s, 5m, 1h 30m or a number of seconds"),
        )
    })
}

/// A duration greater than zero.
pub(crate) fn positive_duration(var: &str, raw: &str) -> Result<Duration> {
    let value = duration(var, raw)?;
    if value.is_zero() {
        return Err(invalid(var, format!("{raw:?} must be greater than zero")));
    }
    Ok(value)
}

/// Parses `raw` as a URL whose scheme is one of `schemes`; the error reason
/// never contains the value.
pub(crate) fn url_quiet(raw: &str, schemes: &[&str]) -> std::result::Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if !schemes.contains(&url.scheme()) {
        return Err(format!(
            "has scheme {:?}, expected {}",
            url.scheme(),
            schemes.join(" or ")
        ));
    }
    Ok(url)
}

/// A URL with one of `schemes` and a host; returns the value as given.
pub(crate) fn url_with(schemes: &'static [&'static str]) -> impl Fn(&str, &str) -> Result<String> {
    move |var, raw| {
        let url = url_quiet(raw, schemes).map_err(|why| invalid(var, format!("{} {why}", shown(raw))))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid(var, format!("{} has no host", shown(raw))));
        }
        Ok(raw.to_owned())
    }
}

pub(crate) fn http_url(var: &str, raw: &str) -> Result<String> {
    url_with(&["http", "https"])(var, raw)
}

/// A comma separated list of NATS server URLs, normalised to `a,b,c`.
pub(crate) fn nats_urls(var: &str, raw: &str) -> Result<String> {
    let servers = list(raw)
        .iter()
        .map(|server| url_with(&["nats", "tls", "ws", "wss"])(var, server))
        .collect::<Result<Vec<_>>>()?;
    Ok(servers.join(","))
}

/// `host:port` (or just `host` when the port is optional), without a scheme.
pub(crate) fn host_port(port_required: bool) -> impl Fn(&str, &str) -> Result<String> {
    move |var, raw| {
        let bad = |why: &str| invalid(var, format!("{} {why}", shown(raw)));
        if raw.contains("://") {
            return Err(bad("must be host:port without a scheme"));
        }
        let url = Url::parse(&format!("tcp://{raw}")).map_err(|_| bad("is not host:port"))?;
        let plain = url.username().is_empty()
            && url.password().is_none()
            && url.path().is_empty()
            && url.query().is_none()
            && url.fragment().is_none();
        if !plain || url.host_str().is_none_or(str::is_empty) {
            return Err(bad("is not host:port"));
        }
        if port_required && url.port().is_none() {
            return Err(bad("has no port"));
        }
        Ok(raw.to_owned())
    }
}

/// A listen address: `:8080`, `0.0.0.0:8080`, `[::1]:8080`, `localhost:8080`.
pub(crate) fn listen_addr(var: &str, raw: &str) -> Result<SocketAddr> {
    let bad = |why: &str| {
        invalid(
            var,
            format!("{raw:?} {why}; use e.g. :8080, 0.0.0.0:8080, [::1]:8080 or localhost:8080"),
        )
    };
    if let Ok(addr) = raw.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = raw.rsplit_once(':').ok_or_else(|| bad("is not host:port"))?;
    let port: u16 = port.parse().map_err(|_| bad("has an invalid port"))?;
    let ip = match host {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        h if h.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h if h.contains(':') => return Err(bad("needs brackets around the IPv6 address")),
        h => h
            .parse()
            .map_err(|_| bad("has a host that is neither an IP address nor localhost"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// A level name (normalised to lowercase, `warning` -> `warn`) or a
/// tracing filter directive containing `=`, kept as is.
pub(crate) fn log_level(var: &str, raw: &str) -> Result<String> {
    if raw.contains('=') {
        return Ok(raw.to_owned());
    }
    match raw.to_ascii_lowercase().as_str() {
        level @ ("trace" | "debug" | "info" | "warn" | "error") => Ok(level.to_owned()),
        "warning" => Ok("warn".to_owned()),
        _ => Err(invalid(
            var,
            format!(
                "{raw:?} is not a log level (use trace, debug, info, warn or error, \
                 or a filter such as info,essp_http=debug)"
            ),
        )),
    }
}

/// An HTTP header name (RFC 9110 token characters).
pub(crate) fn header_name(var: &str, raw: &str) -> Result<String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if raw.chars().all(token) {
        Ok(raw.to_owned())
    } else {
        Err(invalid(var, format!("{raw:?} is not a valid HTTP header name")))
    }
}

/// An identifier of 1..=64 characters from `[a-z0-9_-]`.
pub(crate) fn slug(var: &str, raw: &str) -> Result<String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    if raw.len() <= 64 && raw.chars().all(allowed) {
        Ok(raw.to_owned())
    } else {
        Err(invalid(
            var,
            format!("{raw:?} must be at most 64 characters of a-z, 0-9, _ and -"),
        ))
    }
}

/// An S3 bucket name: 3-63 characters of `[a-z0-9.-]`, starting and ending
/// with a letter or digit.
pub(crate) fn bucket_name(var: &str, raw: &str) -> Result<String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if (3..=63).contains(&raw.len()) && raw.chars().all(allowed) && edge(raw.chars().next()) && edge(raw.chars().last())
    {
        Ok(raw.to_owned())
    } else {
        Err(invalid(
            var,
            format!(
                "{raw:?} is not a valid bucket name (3-63 characters of a-z, 0-9, - and ., \
                 starting and ending with a letter or digit)"
            ),
        ))
    }
}

/// An IP address or CIDR block, normalised (`10.0.0.0/8`, `::1`).
pub(crate) fn ip_or_cidr(var: &str, raw: &str) -> Result<String> {
    let bad = || invalid(var, format!("{raw:?} is not an IP address or CIDR block"));
    let (ip, prefix) = match raw.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (raw, None),
    };
    let ip = IpAddr::from_str(ip).map_err(|_| bad())?;
    let Some(prefix) = prefix else {
        return Ok(ip.to_string());
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix.parse::<u8>() {
        Ok(len) if len <= max => Ok(format!("{ip}/{len}")),
        _ => Err(bad()),
    }
}

/// A browser origin (`https://app.example.com[:port]`), or `*`.
pub(crate) fn origin(var: &str, raw: &str) -> Result<String> {
    if raw == "*" {
        return Ok(raw.to_owned());
    }
    let bad = || invalid(var, format!("{raw:?} is not an origin such as https://app.example.com"));
    let url = url_quiet(raw, &["http", "https"]).map_err(|_| bad())?;
    let bare = url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && !raw.ends_with('/')
        && url.query().is_none()
        && url.fragment().is_none();
    if bare {
        Ok(url.origin().ascii_serialization())
    } else {
        Err(bad())
    }
}

/// Splits a comma separated list, trimming entries and dropping empty ones.
pub(crate) fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A comma separated list whose entries each pass `item`.
pub(crate) fn list_of<T>(item: impl Fn(&str, &str) -> Result<T>) -> impl Fn(&str, &str) -> Result<Vec<T>> {
    move |var, raw| list(raw).iter().map(|entry| item(var, entry)).collect()
}
