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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_six_digits() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(1_795_341_600_123_456),
            "2026-11-22T10:00:00.123456Z"
        );
    }
}
