//! The client's address, for rate limits, allowed-IP checks and the audit log:
//! the socket's peer, unless that peer is a configured trusted proxy, in which
//! case the `X-Forwarded-For` entry it appended names the client. Entries are
//! read from the right, skipping further trusted proxies, so a client cannot
//! choose its address by sending its own `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use super::{ApiError, AppState};

/// The address of the client that made the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // `keygate serve` always provides ConnectInfo; in-process tests insert it.
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| ApiError::internal("request without connection info"))?;
        Ok(Self(resolve(peer.ip(), &parts.headers, &state.config.trusted_proxies)))
    }
}

/// Picks the client address from the peer and the `X-Forwarded-For` headers.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        if !is_trusted(&client) {
            break;
        }
        match parse_entry(entry) {
            Some(ip) => client = ip,
            // A trusted proxy wrote something unreadable: the proxy is all we know.
            None => break,
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, possibly with a port.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(resolve(ip("192.0.2.7"), &headers(&["203.0.113.9"]), &trusted), ip("192.0.2.7"));
        assert_eq!(resolve(ip("192.0.2.7"), &headers(&["203.0.113.9"]), &[]), ip("192.0.2.7"));
    }

    #[test]
    fn trusted_proxy_entry_names_the_client() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        // The client forged the first entry; the proxy appended the real one.
        let h = headers(&["6.6.6.6, 203.0.113.9"]);
        assert_eq!(resolve(ip("10.1.2.3"), &h, &trusted), ip("203.0.113.9"));
        // Two trusted hops, split across two headers.
        let h = headers(&["6.6.6.6, 203.0.113.9", "10.9.9.9"]);
        assert_eq!(resolve(ip("10.1.2.3"), &h, &trusted), ip("203.0.113.9"));
        // With a port, and IPv6.
        assert_eq!(resolve(ip("10.1.2.3"), &headers(&["[2001:db8::1]:443"]), &trusted), ip("2001:db8::1"));
    }

    #[test]
    fn trusted_proxy_without_a_usable_entry_is_the_client() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(resolve(ip("10.1.2.3"), &HeaderMap::new(), &trusted), ip("10.1.2.3"));
        assert_eq!(resolve(ip("10.1.2.3"), &headers(&["garbage"]), &trusted), ip("10.1.2.3"));
    }
}
