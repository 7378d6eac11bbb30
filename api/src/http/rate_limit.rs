//! Per-client rate limiting: `CAIRN_RATE_LIMIT_REQUESTS` per minute per
//! client on the auth endpoints (default 60), and twenty times that on
//! every request whatever its path: the general limit sits in front of
//! everything that can append an event (the refusal recorder, unknown
//! paths, 405s, bad bodies, the public routes), so a client past it costs
//! the log nothing. A refused request appends no event; the limiters count
//! the refusals in [`super::throttled`], which records one summary per
//! client per window.
//!
//! A client is its [`ClientIp`] (so the trusted-proxy rule applies), with
//! IPv6 addresses taken per /64: one subscriber usually holds a whole /64,
//! and keying single IPv6 addresses would let one client take 2^64 fresh
//! allowances. The limit is governor's GCRA, keyed: a burst of the full
//! minute's allowance, then one request every `60 / n` seconds; a refusal
//! is a 429 problem with `Retry-After` (seconds, rounded up, at least 1).
//!
//! Memory is bounded, and the middleware itself does the housekeeping (no
//! background task to forget to start): once a minute the request that
//! finds a sweep due drops every client whose allowance has fully
//! replenished (governor's `retain_recent`, which keeps a client one
//! replenish interval longer than strictly needed), which leaves only
//! clients seen in the last minute or two. If even so more than
//! `max_clients` are tracked (a
//! flood from many addresses), sweeps run up to once a second and new
//! requests are shed with 503 and `Retry-After` until the table shrinks.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use super::client_ip::ClientIp;
use super::problem::ApiError;
use super::throttled::{Refusal, Throttled};

/// The default of `CAIRN_RATE_LIMIT_REQUESTS`: requests per minute per
/// client on the auth endpoints.
pub const DEFAULT_AUTH_REQUESTS_PER_MINUTE: u32 = 60;

/// How much more the rest of the API allows than the auth endpoints.
pub const GENERAL_MULTIPLIER: u32 = 20;

/// How many clients one limiter tracks at most before it sheds load. A
/// tracked client costs well under 100 bytes.
pub const DEFAULT_MAX_CLIENTS: usize = 100_000;

/// The regular sweep interval: one quota period, after which every idle
/// client is indistinguishable from a new one.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The shortest gap between sweeps while over capacity.
const FULL_SWEEP_GAP: Duration = Duration::from_secs(1);

/// What a shed request is told to wait.
const SHED_RETRY_AFTER_SECS: u64 = 5;

/// The limiter for the auth endpoints: `requests_per_minute` per client
/// (`CAIRN_RATE_LIMIT_REQUESTS`).
pub fn auth_limiter(requests_per_minute: u32) -> RateLimit {
    RateLimit::new(requests_per_minute, DEFAULT_MAX_CLIENTS, "sign-in")
}

/// The limiter for the rest of the API, given the same
/// `CAIRN_RATE_LIMIT_REQUESTS`: it allows [`GENERAL_MULTIPLIER`] times that.
pub fn general_limiter(requests_per_minute: u32) -> RateLimit {
    RateLimit::new(
        requests_per_minute.saturating_mul(GENERAL_MULTIPLIER),
        DEFAULT_MAX_CLIENTS,
        "API",
    )
}

/// A per-client limiter; clones share their counts. Use it as the state of
/// [`limit`]: `axum::middleware::from_fn_with_state(auth_limiter(n), limit)`.
#[derive(Clone)]
pub struct RateLimit {
    limiter: Arc<Limiter<DefaultClock>>,
    /// Where its refusals are counted, when they are.
    throttled: Option<Throttled>,
}

impl RateLimit {
    /// `requests_per_minute` per client (at least 1), tracking at most
    /// `max_clients` clients; `scope` names the limited part of the API in
    /// the 429's detail.
    pub fn new(requests_per_minute: u32, max_clients: usize, scope: &'static str) -> RateLimit {
        RateLimit {
            limiter: Arc::new(Limiter::new(
                requests_per_minute,
                max_clients,
                scope,
                DefaultClock::default(),
            )),
            throttled: None,
        }
    }

    /// Counts this limiter's refusals in `throttled` (which records them as
    /// summaries), and writes the summaries it finds due.
    pub fn reporting_to(mut self, throttled: Throttled) -> RateLimit {
        self.throttled = Some(throttled);
        self
    }

    /// Counts one request from `ip`: `Ok` to let it through, or the 429 (or
    /// 503 when shedding) to answer.
    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.limiter.check(ip)
    }

    /// How many clients are tracked right now.
    pub fn tracked_clients(&self) -> usize {
        self.limiter.limiter.len()
    }
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RateLimit")
            .field("requests_per_minute", &self.limiter.per_minute)
            .field("max_clients", &self.limiter.max_clients)
            .field("scope", &self.limiter.scope)
            .finish()
    }
}

/// The middleware: `from_fn_with_state(limiter, limit)`. The server must
/// run with connect info (see [`ClientIp`]).
pub async fn limit(
    State(limit): State<RateLimit>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    match limit.check(ip) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            if let Some(throttled) = &limit.throttled {
                let counted = if refusal.status() == axum::http::StatusCode::TOO_MANY_REQUESTS {
                    Refusal::RateLimited
                } else {
                    Refusal::Shed
                };
                throttled.refused(client_key(ip), ip, counted);
            }
            refusal.into_response()
        }
    }
}

/// The key a client is counted under: IPv4 as is, IPv6 per /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = v6.to_bits() & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from_bits(prefix))
        }
    }
}

/// The limiter proper, generic over the clock so tests can move time.
#[derive(Debug)]
struct Limiter<C: Clock> {
    limiter: RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
    start: C::Instant,
    /// When the next regular sweep is due, in nanoseconds since `start`.
    next_sweep: AtomicU64,
    per_minute: u32,
    max_clients: usize,
    scope: &'static str,
}

impl<C: Clock> Limiter<C> {
    fn new(requests_per_minute: u32, max_clients: usize, scope: &'static str, clock: C) -> Self {
        let per_minute = NonZeroU32::new(requests_per_minute).unwrap_or(NonZeroU32::MIN);
        let start = clock.now();
        Limiter {
            limiter: RateLimiter::dashmap_with_clock(Quota::per_minute(per_minute), clock),
            start,
            next_sweep: AtomicU64::new(nanos(SWEEP_INTERVAL)),
            per_minute: per_minute.get(),
            max_clients: max_clients.max(1),
            scope,
        }
    }

    fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        let full = self.sweep_if_due();
        if full {
            return Err(ApiError::overloaded(SHED_RETRY_AFTER_SECS));
        }
        self.limiter
            .check_key(&client_key(ip))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                ApiError::too_many_requests(
                    whole_seconds_up(wait),
                    format!(
                        "too many {} requests from this address: at most {} a minute",
                        self.scope, self.per_minute
                    ),
                )
            })
    }

    /// Sweeps when one is due; says whether the table is still full.
    fn sweep_if_due(&self) -> bool {
        let now = self
            .limiter
            .clock()
            .now()
            .duration_since(self.start)
            .as_u64();
        let scheduled = self.next_sweep.load(Ordering::Relaxed);
        let full = self.limiter.len() >= self.max_clients;
        let due = if full {
            scheduled.saturating_sub(nanos(SWEEP_INTERVAL - FULL_SWEEP_GAP))
        } else {
            scheduled
        };
        if now < due {
            return full;
        }
        // One request sweeps; the others that raced it go on.
        let next = now.saturating_add(nanos(SWEEP_INTERVAL));
        if self
            .next_sweep
            .compare_exchange(scheduled, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.len() >= self.max_clients
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// `Retry-After` seconds: rounded up, at least 1.
fn whole_seconds_up(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::Router;
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::StatusCode;
    use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
    use axum::routing::post;
    use governor::clock::FakeRelativeClock;
    use tower::ServiceExt;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn app(limiter: RateLimit) -> Router {
        Router::new()
            .route("/api/v1/auth/login", post(|| async { "welcome" }))
            .layer(axum::middleware::from_fn_with_state(limiter, limit))
    }

    async fn login(app: &Router, from: &str) -> Response {
        let mut request = Request::post("/api/v1/auth/login")
            .body(Body::empty())
            .expect("request");
        let peer = SocketAddr::new(ip(from), 40_000);
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request).await.expect("response")
    }

    #[tokio::test]
    async fn the_fourth_request_in_a_minute_is_429_with_retry_after() {
        let app = app(auth_limiter(3));
        for _ in 0..3 {
            assert_eq!(login(&app, "203.0.113.7").await.status(), StatusCode::OK);
        }
        let refused = login(&app, "203.0.113.7").await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()[CONTENT_TYPE], "application/problem+json");
        let retry_after: u64 = refused.headers()[RETRY_AFTER]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=20).contains(&retry_after), "{retry_after}");
        let body = axum::body::to_bytes(refused.into_body(), 4096)
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["type"], "urn:cairn:problem:rate-limited");

        assert_eq!(login(&app, "198.51.100.1").await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn an_ipv6_client_is_one_client_across_its_slash_64() {
        let app = app(auth_limiter(2));
        assert_eq!(
            login(&app, "2001:db8:1:2::1").await.status(),
            StatusCode::OK
        );
        assert_eq!(
            login(&app, "2001:db8:1:2::2").await.status(),
            StatusCode::OK
        );
        assert_eq!(
            login(&app, "2001:db8:1:2:ffff::3").await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            login(&app, "2001:db8:1:3::1").await.status(),
            StatusCode::OK
        );
    }

    #[test]
    fn the_general_limit_is_twenty_times_the_auth_limit() {
        let general = general_limiter(3);
        let address = ip("192.0.2.1");
        for _ in 0..60 {
            assert!(general.check(address).is_ok());
        }
        assert_eq!(
            general.check(address).map_err(|refusal| refusal.status()),
            Err(StatusCode::TOO_MANY_REQUESTS)
        );
    }

    #[test]
    fn retry_after_is_exact_and_the_allowance_comes_back() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::new(3, 1000, "sign-in", clock.clone());
        let address = ip("192.0.2.1");
        for _ in 0..3 {
            assert!(limiter.check(address).is_ok());
        }
        let refusal = limiter.check(address).expect_err("limited");
        assert_eq!(refusal.retry_after(), Some(20));
        clock.advance(Duration::from_millis(19_500));
        let refusal = limiter.check(address).expect_err("still limited");
        assert_eq!(refusal.retry_after(), Some(1));
        clock.advance(Duration::from_millis(500));
        assert!(limiter.check(address).is_ok());
    }

    #[test]
    fn idle_clients_are_forgotten_by_the_next_sweep() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::new(60, 10_000, "sign-in", clock.clone());
        for n in 0..1000u32 {
            assert!(limiter.check(IpAddr::from(n.to_be_bytes())).is_ok());
        }
        assert_eq!(limiter.limiter.len(), 1000);
        clock.advance(SWEEP_INTERVAL);
        assert!(limiter.check(ip("192.0.2.1")).is_ok());
        assert_eq!(limiter.limiter.len(), 1);
    }

    #[test]
    fn a_full_table_sheds_load_until_it_drains() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::new(3, 2, "sign-in", clock.clone());
        assert!(limiter.check(ip("192.0.2.1")).is_ok());
        assert!(limiter.check(ip("192.0.2.2")).is_ok());
        let shed = limiter.check(ip("192.0.2.3")).expect_err("shed");
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.retry_after(), Some(SHED_RETRY_AFTER_SECS));
        // A client with one request is forgotten once its allowance has
        // been back for one replenish interval (20 s + 20 s); the sweeps,
        // due every second while full, then empty the table.
        clock.advance(Duration::from_secs(41));
        assert!(limiter.check(ip("192.0.2.3")).is_ok());
        assert_eq!(limiter.limiter.len(), 1);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(whole_seconds_up(Duration::ZERO), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds_up(Duration::from_secs(20)), 20);
    }

    #[test]
    fn client_keys() {
        assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(client_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("192.0.2.1")), ip("192.0.2.1"));
    }
}
