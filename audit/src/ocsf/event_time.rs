//! The event time: RFC 3339 text to milliseconds since the Unix epoch,
//! with a fast path for the form exports write.

use crate::time_format::parse_rfc3339_micros;

/// Milliseconds since the Unix epoch of an RFC 3339 time. The exported
/// form (`2026-11-22T10:00:00.123456Z`) is read directly, without a
/// general parser; anything else goes through one.
pub(super) fn epoch_millis(text: &str) -> Option<i64> {
    match exported_time_millis(text) {
        Some(millis) => Some(millis),
        None => parse_rfc3339_micros(text).map(|micros| micros.div_euclid(1000)),
    }
}

/// Reads `YYYY-MM-DDTHH:MM:SS.ffffffZ` exactly; `None` for anything else.
fn exported_time_millis(text: &str) -> Option<i64> {
    let bytes: &[u8; 27] = text.as_bytes().try_into().ok()?;
    let separators = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ];
    if separators
        .iter()
        .any(|&(at, separator)| bytes.get(at) != Some(&separator))
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        bytes.get(from..to)?.iter().try_fold(0i64, |acc, &digit| {
            digit
                .is_ascii_digit()
                .then(|| acc * 10 + i64::from(digit - b'0'))
        })
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let micros = number(20, 26)?;
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Some(seconds * 1_000 + micros / 1_000)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time_format::rfc3339_micros;

    #[test]
    fn exported_times_read_like_the_general_parser() {
        for micros in [
            0,
            1_795_341_600_123_456,
            951_782_400_000_000, // 2000-02-29
            -86_400_000_001,
            4_102_444_799_999_999,
        ] {
            let formatted = rfc3339_micros(micros);
            assert_eq!(
                exported_time_millis(&formatted),
                Some(micros.div_euclid(1000)),
                "{formatted}"
            );
        }
        assert_eq!(exported_time_millis("2026-02-30T00:00:00.000000Z"), None);
        assert_eq!(exported_time_millis("2026-11-22T10:00:00Z"), None);
        assert_eq!(
            epoch_millis("2026-11-22T11:00:00+01:00"),
            Some(1_795_341_600_000)
        );
    }
}
