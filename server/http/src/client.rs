//! Who is on the other end of the connection: the client IP (believing
//! `X-Forwarded-For` only from configured trusted proxies) and whether the
//! request reached the edge of our network over TLS.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct ClientContext {
    pub ip: IpAddr,
    /// TLS terminated by a trusted proxy (`X-Forwarded-Proto: https`).
    pub https: bool,
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|n| n.contains(&ip))
}

/// The client address: the peer, unless the peer is a trusted proxy, in
/// which case the right-most `X-Forwarded-For` hop that is not itself a
/// trusted proxy. A forged header from anyone else is ignored.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    if !trusted(peer, proxies) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map_while(|s| s.parse::<IpAddr>().ok())
        .collect();
    hops.iter()
        .rev()
        .copied()
        .find(|ip| !trusted(*ip, proxies))
        .or(hops.first().copied())
        .unwrap_or(peer)
}

pub async fn context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let proxies = &state.config.trusted_proxies;
    let ip = client_ip(peer, req.headers(), proxies);
    let https = trusted(peer, proxies)
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    req.extensions_mut().insert(ClientContext { ip, https });
    next.run(req).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.1.2.3"),
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // From the trusted ingress: the right-most untrusted hop.
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &proxies), ip("203.0.113.9"));
        // From anyone else: the header is ignored.
        assert_eq!(client_ip(ip("198.51.100.7"), &h, &proxies), ip("198.51.100.7"));
        // No header from a proxy: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.5"), &HeaderMap::new(), &proxies), ip("10.0.0.5"));
        // Garbage stops the walk.
        let mut g = HeaderMap::new();
        g.insert("x-forwarded-for", HeaderValue::from_static("not-an-ip"));
        assert_eq!(client_ip(ip("10.0.0.5"), &g, &proxies), ip("10.0.0.5"));
    }
}
