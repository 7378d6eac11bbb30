//! [`ClientIp`]: the address of the client a request came from, for rate
//! limiting and the audit trail.
//!
//! The TCP peer is the truth unless the peer is one of our own reverse
//! proxies. `X-Forwarded-For` is a header anyone can send, so it is read
//! only when the peer is listed in [`TrustedProxies`], and then from the
//! right: each trusted proxy appends the address it saw, so the right-most
//! address that is not one of ours is the first one no proxy of ours can
//! vouch for beyond, and the entries left of it are the client's own claims.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::problem::ApiError;

/// The most `X-Forwarded-For` entries looked at; a longer chain is cut short
/// at the last trusted hop rather than walked to its end.
const MAX_FORWARDED_HOPS: usize = 16;

/// The reverse proxies whose `X-Forwarded-For` is believed (from
/// `CAIRN_TRUSTED_PROXIES`). Put it in the request extensions with
/// `Router::layer(Extension(TrustedProxies::new(..)))`; when it is absent no
/// proxy is trusted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Arc<Vec<IpAddr>>);

impl TrustedProxies {
    /// Trusts exactly these addresses (IPv4-mapped IPv6 addresses are taken
    /// as the IPv4 address they map).
    pub fn new(proxies: Vec<IpAddr>) -> TrustedProxies {
        let mut proxies: Vec<IpAddr> = proxies.into_iter().map(|ip| ip.to_canonical()).collect();
        proxies.sort();
        proxies.dedup();
        TrustedProxies(Arc::new(proxies))
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.binary_search(&ip.to_canonical()).is_ok()
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The client's address. Extraction fails only when the server was not
/// started with connect info (a wiring mistake: a 500, logged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The extractor, not the raw extension, so tests can supply the peer
        // with axum's `MockConnectInfo` layer.
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                tracing::error!(
                    "no peer address: the server must be served with \
                     into_make_service_with_connect_info::<SocketAddr>()"
                );
                ApiError::internal()
            })?;
        let trusted = parts
            .extensions
            .get::<TrustedProxies>()
            .cloned()
            .unwrap_or_default();
        Ok(ClientIp(client_ip(peer.ip(), &parts.headers, &trusted)))
    }
}

/// The client address of a request from `peer` with `headers`; see the
/// module comment for the rule.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    // All X-Forwarded-For headers, in order, form one list.
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    // The nearest hop we can vouch for so far: the peer itself, then each
    // trusted proxy in turn.
    let mut nearest = peer;
    for entry in entries.iter().rev().take(MAX_FORWARDED_HOPS) {
        match parse_forwarded(entry) {
            Some(ip) if trusted.contains(ip) => nearest = ip,
            Some(ip) => return ip,
            // Garbage where a trusted proxy should have written an address:
            // nothing left of it can be believed.
            None => return nearest,
        }
    }
    nearest
}

/// An `X-Forwarded-For` entry: an address, possibly with a port
/// (`203.0.113.7:5123`, `[2001:db8::1]:443`) as some proxies write it.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::{HeaderValue, Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                "x-forwarded-for",
                HeaderValue::from_str(value).expect("value"),
            );
        }
        headers
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = TrustedProxies::new(vec![ip("10.0.0.1")]);
        let headers = forwarded(&["1.2.3.4"]);
        assert_eq!(
            client_ip(ip("198.51.100.9"), &headers, &trusted),
            ip("198.51.100.9")
        );
        let nobody = TrustedProxies::default();
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &nobody), ip("10.0.0.1"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_address_wins() {
        let trusted = TrustedProxies::new(vec![ip("10.0.0.1"), ip("10.0.0.2")]);
        // The client forged "1.1.1.1"; proxy 10.0.0.2 saw 203.0.113.7 and
        // proxy 10.0.0.1 saw 10.0.0.2.
        let headers = forwarded(&["1.1.1.1, 203.0.113.7", "10.0.0.2"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &trusted),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn odd_forwarded_entries() {
        let trusted = TrustedProxies::new(vec![ip("10.0.0.1")]);
        let peer = ip("10.0.0.1");
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
        assert_eq!(client_ip(peer, &forwarded(&["garbage"]), &trusted), peer);
        assert_eq!(
            client_ip(peer, &forwarded(&["203.0.113.7:5123"]), &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(peer, &forwarded(&["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_ip(peer, &forwarded(&["::ffff:203.0.113.7"]), &trusted),
            ip("203.0.113.7")
        );
        // Only trusted hops: the farthest one is all we know.
        assert_eq!(client_ip(peer, &forwarded(&["10.0.0.1"]), &trusted), peer);
        let long = vec!["10.0.0.1"; 100].join(",");
        assert_eq!(client_ip(peer, &forwarded(&[&long]), &trusted), peer);
    }

    #[test]
    fn mapped_ipv4_peers_match_trusted_ipv4_proxies() {
        let trusted = TrustedProxies::new(vec![ip("10.0.0.1")]);
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &headers, &trusted),
            ip("203.0.113.7")
        );
    }

    #[tokio::test]
    async fn the_extractor_reads_connect_info_and_the_trusted_proxies() {
        let app = Router::new()
            .route(
                "/",
                get(|ClientIp(ip): ClientIp| async move { ip.to_string() }),
            )
            .layer(axum::Extension(TrustedProxies::new(vec![ip("127.0.0.1")])))
            .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
        let response = app
            .oneshot(
                Request::get("/")
                    .header("x-forwarded-for", "203.0.113.7")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&body[..], b"203.0.113.7");
    }

    #[tokio::test]
    async fn without_connect_info_the_extractor_is_a_500() {
        let app = Router::new().route(
            "/",
            get(|ClientIp(ip): ClientIp| async move { ip.to_string() }),
        );
        let response = app
            .oneshot(Request::get("/").body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
