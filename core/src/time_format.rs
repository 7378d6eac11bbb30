//! Event times as RFC 3339 UTC with microseconds (`2026-11-22T10:00:00.123456Z`).

use time::OffsetDateTime;
use time::macros::format_description;

/// Formats microseconds since the Unix epoch as RFC 3339 UTC with exactly
/// six fractional digits. Out-of-range times are clamped to the epoch.
pub fn rfc3339_micros(micros: i64) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000000Z".into())
}

/// Parses an RFC 3339 time (any offset, any precision) into microseconds
/// since the Unix epoch; `None` when it is not one.
pub fn parse_rfc3339_micros(text: &str) -> Option<i64> {
    let parsed =
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_formats() {
        let micros = 1_795_341_600_123_456;
        assert_eq!(parse_rfc3339_micros(&rfc3339_micros(micros)), Some(micros));
        assert_eq!(
            parse_rfc3339_micros("2026-11-22T11:00:00+01:00"),
            Some(1_795_341_600_000_000)
        );
        assert_eq!(parse_rfc3339_micros("yesterday"), None);
    }

    #[test]
    fn formats_with_six_digits() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(1_795_341_600_123_456),
            "2026-11-22T10:00:00.123456Z"
        );
    }
}
