//! Throttled requests, summarised: a request the rate limits refuse (429,
//! or 503 when the limiter sheds) appends no event of its own, so a flood
//! cannot become a flood of durable writes; instead each client's refusals
//! are counted over a window and recorded as one `http.throttled` event
//! per client per window.
//!
//! A client's window opens at its first refusal and lasts
//! [`SUMMARY_WINDOW`]. It is written once it has ended, by the flush job
//! (every [`FLUSH_TICK`]; requests themselves do no flushing), and
//! whatever is left at a clean shutdown. Memory is
//! bounded: at most [`MAX_TRACKED_CLIENTS`] clients are counted apart; the
//! refusals of any client beyond them are counted together in one
//! overflow summary without an address.
//!
//! [`ThrottleTally`] is the pure counting (time is a parameter);
//! [`Throttled`] shares it between the limiters and writes the summaries.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use cairn_core::log::NewEvent;
use cairn_core::{Clock, SystemClock};
use cairn_schemas::{
    Action, ActorKind, ActorRef, EventPayload, HttpThrottled, Outcome, ResourceRef,
};

use cairn_app::origin::anonymous_subject;
use cairn_app::{App, Origin};

/// How long a client's window of refusals lasts before its summary is due.
pub const SUMMARY_WINDOW: Duration = Duration::from_secs(60);

/// How many clients are counted apart at most; the rest share the overflow
/// summary. A tracked client costs well under 100 bytes.
pub const MAX_TRACKED_CLIENTS: usize = 10_000;

/// How often the flush job looks for windows that ended.
pub const FLUSH_TICK: Duration = Duration::from_secs(1);

/// What a limiter answered instead of serving the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 429: the client is over its limit.
    RateLimited,
    /// 503: the limiter tracks too many clients to take on another.
    Shed,
}

/// One window's summary: the client (none for the overflow summary) and
/// the counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The client's address (the first one seen in the window; IPv6
    /// clients are counted per /64).
    pub client: Option<IpAddr>,
    /// What the event records.
    pub counts: HttpThrottled,
}

/// One open window.
#[derive(Clone, Debug)]
struct Window {
    address: Option<IpAddr>,
    first_at: i64,
    last_at: i64,
    rate_limited: u64,
    shed: u64,
}

impl Window {
    fn open(address: Option<IpAddr>, now: i64) -> Window {
        Window {
            address,
            first_at: now,
            last_at: now,
            rate_limited: 0,
            shed: 0,
        }
    }

    fn count(&mut self, refusal: Refusal, now: i64) {
        match refusal {
            Refusal::RateLimited => self.rate_limited = self.rate_limited.saturating_add(1),
            Refusal::Shed => self.shed = self.shed.saturating_add(1),
        }
        self.last_at = self.last_at.max(now);
    }

    fn summary(self, window_secs: u32, overflow: bool) -> Summary {
        Summary {
            client: self.address,
            counts: HttpThrottled {
                rate_limited: self.rate_limited,
                shed: self.shed,
                first_at: self.first_at,
                last_at: self.last_at,
                window_secs,
                overflow,
            },
        }
    }
}

/// The counting itself: windows per client, bounded, time a parameter.
#[derive(Debug)]
pub struct ThrottleTally {
    window_micros: i64,
    window_secs: u32,
    max_clients: usize,
    clients: HashMap<IpAddr, Window>,
    overflow: Option<Window>,
    /// Windows a later refusal found ended before anyone took them (at
    /// most one per tracked client; past that, folded into the overflow).
    ended: Vec<Summary>,
}

impl ThrottleTally {
    /// Windows of `window`, at most `max_clients` clients counted apart.
    pub fn new(window: Duration, max_clients: usize) -> ThrottleTally {
        ThrottleTally {
            window_micros: i64::try_from(window.as_micros()).unwrap_or(i64::MAX).max(1),
            window_secs: u32::try_from(window.as_secs()).unwrap_or(u32::MAX),
            max_clients,
            clients: HashMap::new(),
            overflow: None,
            ended: Vec::new(),
        }
    }

    /// Counts one refusal of the client counted under `key` (whose
    /// address is `address`) at `now` (microseconds).
    pub fn record(&mut self, key: IpAddr, address: IpAddr, refusal: Refusal, now: i64) {
        let window_micros = self.window_micros;
        let ended = |window: &Window| now.saturating_sub(window.first_at) >= window_micros;
        if let Some(window) = self.clients.get_mut(&key) {
            if ended(window) {
                let closed = std::mem::replace(window, Window::open(Some(address), now));
                self.close(closed);
            }
            if let Some(window) = self.clients.get_mut(&key) {
                window.count(refusal, now);
            }
            return;
        }
        if self.clients.len() < self.max_clients {
            let mut window = Window::open(Some(address), now);
            window.count(refusal, now);
            self.clients.insert(key, window);
            return;
        }
        if let Some(window) = self.overflow.take_if(|window| ended(window)) {
            self.ended.push(window.summary(self.window_secs, true));
        }
        self.overflow
            .get_or_insert_with(|| Window::open(None, now))
            .count(refusal, now);
    }

    /// Keeps a window a refusal found ended, until it is taken.
    fn close(&mut self, window: Window) {
        if self.ended.len() < self.max_clients {
            self.ended.push(window.summary(self.window_secs, false));
            return;
        }
        // Never more kept than clients tracked: the rest add to the
        // overflow's counts.
        let now = window.last_at;
        let overflow = self
            .overflow
            .get_or_insert_with(|| Window::open(None, window.first_at));
        overflow.rate_limited = overflow.rate_limited.saturating_add(window.rate_limited);
        overflow.shed = overflow.shed.saturating_add(window.shed);
        overflow.first_at = overflow.first_at.min(window.first_at);
        overflow.last_at = overflow.last_at.max(now);
    }

    /// When the next window ends (microseconds), if any is open.
    pub fn next_due(&self) -> Option<i64> {
        if !self.ended.is_empty() {
            return Some(i64::MIN);
        }
        self.clients
            .values()
            .chain(self.overflow.as_ref())
            .map(|window| window.first_at.saturating_add(self.window_micros))
            .min()
    }

    /// The summaries of every window ended by `now`, removed from the
    /// tally.
    pub fn take_due(&mut self, now: i64) -> Vec<Summary> {
        let window_micros = self.window_micros;
        let window_secs = self.window_secs;
        let ended = |window: &Window| now.saturating_sub(window.first_at) >= window_micros;
        let mut due = std::mem::take(&mut self.ended);
        let keys: Vec<IpAddr> = self
            .clients
            .iter()
            .filter(|(_, window)| ended(window))
            .map(|(key, _)| *key)
            .collect();
        for key in keys {
            if let Some(window) = self.clients.remove(&key) {
                due.push(window.summary(window_secs, false));
            }
        }
        if let Some(window) = self.overflow.take_if(|window| ended(window)) {
            due.push(window.summary(window_secs, true));
        }
        if self.clients.is_empty() {
            self.clients.shrink_to_fit();
        }
        due
    }

    /// Every summary, ended or not (at shutdown).
    pub fn take_all(&mut self) -> Vec<Summary> {
        let window_secs = self.window_secs;
        let mut all = std::mem::take(&mut self.ended);
        all.extend(
            self.clients
                .drain()
                .map(|(_, window)| window.summary(window_secs, false)),
        );
        all.extend(
            self.overflow
                .take()
                .map(|window| window.summary(window_secs, true)),
        );
        all
    }
}

/// The tally shared by the limiters, and the writing of its summaries.
/// Clones share it.
#[derive(Clone, Debug)]
pub struct Throttled {
    tally: Arc<Mutex<ThrottleTally>>,
    /// When the next window ends (`i64::MAX`: none open), read without the
    /// lock on every request.
    next_due: Arc<AtomicI64>,
    app: Arc<OnceLock<Arc<App>>>,
    clock: Arc<dyn Clock>,
}

impl Throttled {
    /// Summaries for the server whose app `app` will hold once ready.
    pub fn new(app: Arc<OnceLock<Arc<App>>>) -> Throttled {
        Throttled {
            tally: Arc::new(Mutex::new(ThrottleTally::new(
                SUMMARY_WINDOW,
                MAX_TRACKED_CLIENTS,
            ))),
            next_due: Arc::new(AtomicI64::new(i64::MAX)),
            app,
            clock: Arc::new(SystemClock),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ThrottleTally> {
        match self.tally.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn publish_next_due(&self, tally: &ThrottleTally) {
        self.next_due
            .store(tally.next_due().unwrap_or(i64::MAX), Ordering::Release);
    }

    /// Counts one refusal of the client counted under `key`.
    pub fn refused(&self, key: IpAddr, address: IpAddr, refusal: Refusal) {
        let now = self.clock.now_micros();
        let mut tally = self.lock();
        tally.record(key, address, refusal, now);
        self.publish_next_due(&tally);
    }

    /// Writes the summaries of the windows that ended, if any (cheap when
    /// none has: one atomic read). The append runs in its own task, so
    /// the flush job's tick never waits for the disk.
    pub fn flush_due(&self) {
        let now = self.clock.now_micros();
        if self.next_due.load(Ordering::Acquire) > now {
            return;
        }
        let Some(app) = self.app.get() else {
            return; // kept until the log is open
        };
        let due = {
            let mut tally = self.lock();
            let due = tally.take_due(now);
            self.publish_next_due(&tally);
            due
        };
        if due.is_empty() {
            return;
        }
        let app = Arc::clone(app);
        tokio::spawn(async move { write(&app, due).await });
    }

    /// Writes every summary, ended or not, and waits until they are
    /// durable (at a clean shutdown).
    pub async fn flush_all(&self) {
        let Some(app) = self.app.get() else {
            return;
        };
        let all = {
            let mut tally = self.lock();
            let all = tally.take_all();
            self.publish_next_due(&tally);
            all
        };
        write(app, all).await;
    }
}

#[cfg(test)]
impl Throttled {
    /// Every summary, taken without writing it.
    pub(crate) fn take_all_for_test(&self) -> Vec<Summary> {
        self.lock().take_all()
    }
}

/// The flush job: writes the windows that ended, every [`FLUSH_TICK`],
/// until the task is dropped.
pub async fn run(throttled: Throttled) {
    let mut tick = tokio::time::interval(FLUSH_TICK);
    loop {
        tick.tick().await;
        throttled.flush_due();
    }
}

/// The `http.throttled` event of a summary: an anonymous actor (the
/// refused requests were never authenticated), the client's address sealed
/// as personal data.
pub fn summary_event(summary: Summary) -> NewEvent {
    let event = NewEvent::new(
        Action::HttpThrottled,
        ActorRef {
            kind: ActorKind::Anonymous,
            id: None,
        },
        ResourceRef::SYSTEM,
        Outcome::Denied,
    );
    let event = match summary.client {
        Some(ip) => event.with_personal(
            anonymous_subject(summary.counts.first_at),
            Origin {
                ip: Some(ip),
                ..Origin::default()
            }
            .personal(),
        ),
        None => event,
    };
    event.with_payload(EventPayload::HttpThrottled(summary.counts))
}

async fn write(app: &App, summaries: Vec<Summary>) {
    if summaries.is_empty() {
        return;
    }
    let count = summaries.len();
    let events: Vec<NewEvent> = summaries.into_iter().map(summary_event).collect();
    if let Err(error) = app.commit(events).await {
        tracing::error!(%error, summaries = count, "recording throttled requests failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn tally(max_clients: usize) -> ThrottleTally {
        ThrottleTally::new(Duration::from_secs(60), max_clients)
    }

    #[test]
    fn one_summary_per_client_per_window_with_the_count() {
        // Given 1,300 refusals of one client within its window,
        let mut tally = tally(10);
        let client = ip("203.0.113.7");
        for n in 0..1300 {
            tally.record(client, client, Refusal::RateLimited, n * 1000);
        }
        tally.record(client, client, Refusal::Shed, 2 * SECOND);
        // when the window has not ended, nothing is due;
        assert!(tally.take_due(59 * SECOND).is_empty());
        assert_eq!(tally.next_due(), Some(60 * SECOND));
        // when it has, exactly one summary with the counts.
        let due = tally.take_due(60 * SECOND);
        assert_eq!(
            due,
            vec![Summary {
                client: Some(client),
                counts: HttpThrottled {
                    rate_limited: 1300,
                    shed: 1,
                    first_at: 0,
                    last_at: 2 * SECOND,
                    window_secs: 60,
                    overflow: false,
                },
            }]
        );
        assert!(tally.take_due(120 * SECOND).is_empty());
        assert_eq!(tally.next_due(), None);
    }

    #[test]
    fn a_refusal_after_the_window_closes_it_and_opens_the_next() {
        let mut tally = tally(10);
        let client = ip("198.51.100.1");
        tally.record(client, client, Refusal::RateLimited, 0);
        tally.record(client, client, Refusal::RateLimited, SECOND);
        // Nobody took the ended window; the next refusal closes it.
        tally.record(client, client, Refusal::RateLimited, 61 * SECOND);
        assert_eq!(tally.next_due(), Some(i64::MIN));
        let due = tally.take_due(61 * SECOND);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].counts.rate_limited, 2);
        assert_eq!(due[0].counts.last_at, SECOND);
        // The new window counts from its own start.
        let later = tally.take_due(121 * SECOND);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].counts.rate_limited, 1);
        assert_eq!(later[0].counts.first_at, 61 * SECOND);
    }

    #[test]
    fn clients_beyond_the_cap_share_one_summary_without_an_address() {
        // Given room for two clients, when five are throttled,
        let mut tally = tally(2);
        for n in 1..=5u8 {
            let client = IpAddr::from([192, 0, 2, n]);
            for _ in 0..u64::from(n) {
                tally.record(client, client, Refusal::RateLimited, 0);
            }
        }
        // then the first two are counted apart and the other three
        // together, with no address.
        let mut due = tally.take_due(60 * SECOND);
        due.sort_by_key(|summary| summary.counts.rate_limited);
        let counts: Vec<(Option<IpAddr>, u64, bool)> = due
            .iter()
            .map(|s| (s.client, s.counts.rate_limited, s.counts.overflow))
            .collect();
        assert_eq!(
            counts,
            vec![
                (Some(ip("192.0.2.1")), 1, false),
                (Some(ip("192.0.2.2")), 2, false),
                (None, 3 + 4 + 5, true),
            ]
        );
    }

    #[test]
    fn shutdown_takes_every_window_ended_or_not() {
        let mut tally = tally(1);
        tally.record(ip("192.0.2.1"), ip("192.0.2.1"), Refusal::RateLimited, 0);
        tally.record(ip("192.0.2.2"), ip("192.0.2.2"), Refusal::Shed, 0);
        let all = tally.take_all();
        assert_eq!(all.len(), 2);
        assert!(tally.take_all().is_empty());
        assert_eq!(tally.next_due(), None);
    }

    #[test]
    fn a_summary_event_seals_the_address_and_names_no_actor() {
        let client = ip("203.0.113.9");
        let mut tally = tally(10);
        tally.record(client, client, Refusal::RateLimited, 5);
        let summary = tally.take_all().remove(0);
        let event = summary_event(summary);
        assert_eq!(event.action, Action::HttpThrottled);
        assert_eq!(event.actor.kind, ActorKind::Anonymous);
        assert_eq!(event.outcome, Outcome::Denied);
        assert_eq!(event.personal.len(), 1);
        assert_eq!(event.personal[0].1.ip.as_deref(), Some("203.0.113.9"));
    }
}
