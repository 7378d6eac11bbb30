//! When a schedule is due: cron expressions in UTC (croner), and the pure
//! decision of what one scheduler tick does about a schedule's due times.
//!
//! Due times after the last one accounted for and up to now are looked
//! at: the latest is fired when it is recent (within [`GRACE_MICROS`]);
//! every older one (the server was down, or the tick came late) is
//! recorded once as missed, with their count and the last of them, and
//! never run. Whether the member may still run the flow is the caller's
//! business.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// How late a due time may be fired: two scheduler ticks.
pub const GRACE_MICROS: i64 = 2_000_000;
/// Missed due times are counted up to this many (a bound on one tick's
/// work); past it the count says this.
pub const MAX_MISSED_COUNTED: u32 = 100_000;
/// The longest cron expression accepted.
pub const MAX_CRON_CHARS: usize = 128;

const MICROS: i64 = 1_000_000;

/// Parses a cron expression: 5 fields, or 6 with seconds first; no years.
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    if text.chars().count() > MAX_CRON_CHARS {
        return Err(format!("must be at most {MAX_CRON_CHARS} characters"));
    }
    let cron = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(text)
        .map_err(|error| {
            format!("is not a cron expression (5 fields, or 6 with seconds first; UTC): {error}")
        })?;
    Ok(cron)
}

fn at(micros: i64) -> Option<DateTime<Utc>> {
    // Whole seconds: cron has no finer grain, and due times are recorded
    // as the whole seconds they name.
    DateTime::from_timestamp(micros.div_euclid(MICROS), 0)
}

fn micros(time: &DateTime<Utc>) -> i64 {
    time.timestamp().saturating_mul(MICROS)
}

/// The first due time strictly after `after` (micros), if there is one.
pub fn next_after(cron: &Cron, after: i64) -> Option<i64> {
    let from = at(after)?;
    cron.find_next_occurrence(&from, false)
        .ok()
        .map(|next| micros(&next))
}

/// How many due times [`shortest_interval`] looks at: enough to meet
/// every pattern of the finer fields (60 seconds by 60 minutes would be
/// more, but a cron's shortest gap shows within its first cycle of the
/// finest field that varies).
pub const INTERVAL_SAMPLES: usize = 512;

/// The shortest interval between consecutive due times among the first
/// [`INTERVAL_SAMPLES`] after `after` (micros); `None` when it comes due
/// at most once.
pub fn shortest_interval(cron: &Cron, after: i64) -> Option<i64> {
    let mut previous = next_after(cron, after)?;
    let mut shortest: Option<i64> = None;
    for _ in 1..INTERVAL_SAMPLES {
        let Some(next) = next_after(cron, previous) else {
            break;
        };
        let gap = next - previous;
        shortest = Some(shortest.map_or(gap, |known| known.min(gap)));
        if gap <= MICROS {
            // A second is the finest grain: nothing is shorter.
            break;
        }
        previous = next;
    }
    shortest
}

/// The refusal of a cron that comes due more often than once every
/// `min_secs` seconds (`CAIRN_SCHEDULE_MIN_INTERVAL`).
pub fn interval_refusal(cron: &Cron, after: i64, min_secs: u64) -> Option<String> {
    let min = i64::try_from(min_secs)
        .unwrap_or(i64::MAX)
        .saturating_mul(MICROS);
    let shortest = shortest_interval(cron, after)?;
    (shortest < min).then(|| {
        format!(
            "comes due every {} s at times; schedules may come due at most once every {min_secs} s (CAIRN_SCHEDULE_MIN_INTERVAL)",
            shortest / MICROS
        )
    })
}

/// Due times that passed unfired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Missed {
    /// How many (at most [`MAX_MISSED_COUNTED`]).
    pub count: u32,
    /// The last of them (micros).
    pub last: i64,
}

/// What a tick does about one schedule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DuePlan {
    /// Older due times, recorded once as missed.
    pub missed: Option<Missed>,
    /// The due time to fire now.
    pub fire: Option<i64>,
}

/// The plan for due times strictly after `after` and up to `now` (micros).
pub fn plan(cron: &Cron, after: i64, now: i64) -> DuePlan {
    let Some(first) = next_after(cron, after) else {
        return DuePlan::default();
    };
    if first > now {
        return DuePlan::default();
    }
    let latest = at(now)
        .and_then(|now| cron.find_previous_occurrence(&now, true).ok())
        .map(|latest| micros(&latest))
        .filter(|latest| *latest >= first)
        .unwrap_or(first);
    let fire = (now - latest <= GRACE_MICROS).then_some(latest);
    // The missed ones: from `first` up to `latest`, which is itself missed
    // unless it is fired.
    let end = if fire.is_some() { latest } else { latest + 1 };
    let mut count = 0u32;
    let mut last = None;
    let mut next = Some(first);
    while let Some(due) = next.filter(|due| *due < end) {
        count += 1;
        last = Some(due);
        if count >= MAX_MISSED_COUNTED {
            // Counted enough: the last missed is the one just before
            // `end`, whatever lies between.
            last = at(end - 1)
                .and_then(|end| cron.find_previous_occurrence(&end, true).ok())
                .map(|due| micros(&due))
                .or(last);
            break;
        }
        next = next_after(cron, due);
    }
    DuePlan {
        missed: last.map(|last| Missed { count, last }),
        fire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22T10:00:00Z.
    const T0: i64 = 1_795_341_600 * MICROS;

    fn cron(text: &str) -> Cron {
        parse_cron(text).expect("valid")
    }

    #[test]
    fn five_and_six_fields_parse_and_nonsense_does_not() {
        assert!(parse_cron("* * * * *").is_ok());
        assert!(parse_cron("*/5 * * * * *").is_ok());
        assert!(parse_cron("0 0 * * MON").is_ok());
        for bad in ["", "* * *", "61 * * * *", "not cron", "* * * * * * 2030"] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
        assert!(parse_cron(&"1,".repeat(100)).is_err());
    }

    #[test]
    fn nothing_is_due_before_the_first_due_time() {
        let every_minute = cron("0 * * * * *");
        assert_eq!(
            plan(&every_minute, T0, T0 + 59 * MICROS),
            DuePlan::default()
        );
    }

    #[test]
    fn a_recent_due_time_is_fired() {
        let every_minute = cron("* * * * *");
        // Created at 10:00:00.5; the tick at 10:01:00.7.
        let plan = plan(&every_minute, T0 + 500_000, T0 + 60 * MICROS + 700_000);
        assert_eq!(
            plan,
            DuePlan {
                missed: None,
                fire: Some(T0 + 60 * MICROS)
            }
        );
    }

    #[test]
    fn the_same_due_time_is_never_fired_twice() {
        let every_second = cron("* * * * * *");
        let first = plan(&every_second, T0, T0 + MICROS + 10);
        assert_eq!(first.fire, Some(T0 + MICROS));
        // The next tick within the same second: the last due is T0 + 1 s.
        let again = plan(&every_second, T0 + MICROS, T0 + MICROS + 900_000);
        assert_eq!(again, DuePlan::default());
    }

    #[test]
    fn an_old_due_time_is_missed_not_fired() {
        let every_minute = cron("* * * * *");
        // Down from 10:00 to 10:05:30: 10:01 … 10:05 passed, none recent.
        let plan = plan(&every_minute, T0, T0 + 330 * MICROS);
        assert_eq!(
            plan,
            DuePlan {
                missed: Some(Missed {
                    count: 5,
                    last: T0 + 300 * MICROS
                }),
                fire: None
            }
        );
    }

    #[test]
    fn older_due_times_are_missed_and_the_recent_one_fired() {
        let every_minute = cron("* * * * *");
        // Back up at 10:05:01: 10:01 … 10:04 missed, 10:05 fired.
        let plan = plan(&every_minute, T0, T0 + 301 * MICROS);
        assert_eq!(
            plan,
            DuePlan {
                missed: Some(Missed {
                    count: 4,
                    last: T0 + 240 * MICROS
                }),
                fire: Some(T0 + 300 * MICROS)
            }
        );
    }

    #[test]
    fn the_missed_count_is_bounded() {
        let every_second = cron("* * * * * *");
        let week = 7 * 24 * 3600 * MICROS;
        let plan = plan(&every_second, T0, T0 + week + 30 * MICROS);
        let missed = plan.missed.expect("missed");
        assert_eq!(missed.count, MAX_MISSED_COUNTED);
        assert_eq!(
            missed.last,
            T0 + week + 29 * MICROS,
            "the last one still named"
        );
        assert_eq!(plan.fire, Some(T0 + week + 30 * MICROS));
    }

    #[test]
    fn a_cron_more_frequent_than_the_minimum_is_refused_naming_it() {
        // Given a minimum of 60 s
        // When the cron fires every second, every 30 s, or at :00 and :59
        // of each minute (1 s apart once a minute)
        for frequent in ["* * * * * *", "*/30 * * * * *", "0,59 * * * * *"] {
            let refusal = interval_refusal(&cron(frequent), T0, 60).expect(frequent);
            // Then it is refused, naming the minimum and the variable
            assert!(refusal.contains("CAIRN_SCHEDULE_MIN_INTERVAL"), "{refusal}");
            assert!(refusal.contains("60 s"), "{refusal}");
        }
        assert_eq!(
            shortest_interval(&cron("0,59 * * * * *"), T0),
            Some(MICROS),
            "the gap from :59 to the next :00 is the shortest"
        );
    }

    #[test]
    fn a_cron_at_or_below_the_frequency_allowed_is_accepted() {
        for fine in ["* * * * *", "0 * * * * *", "0,59 * * * *", "0 0 * * MON"] {
            assert_eq!(interval_refusal(&cron(fine), T0, 60), None, "{fine}");
        }
        // A smaller minimum (tests) lets a per-second cron through.
        assert_eq!(interval_refusal(&cron("* * * * * *"), T0, 1), None);
    }

    #[test]
    fn a_due_time_exactly_grace_old_still_fires() {
        let every_minute = cron("* * * * *");
        let plan = plan(&every_minute, T0, T0 + 60 * MICROS + GRACE_MICROS);
        assert_eq!(plan.fire, Some(T0 + 60 * MICROS));
        let plan = super::plan(&every_minute, T0, T0 + 60 * MICROS + GRACE_MICROS + 1);
        assert_eq!(plan.fire, None);
        assert_eq!(plan.missed.map(|m| m.count), Some(1));
    }
}
