//! Time as Keygate stores it: UTC, millisecond precision, one fixed-width RFC 3339 form, so
//! stored timestamps sort as strings.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};

/// The years a stored time may fall in. RFC 3339 writes a year in four digits: a time past
/// 9999 (or before year 1, after its offset is applied) would be stored as `+10000-…` or
/// `-0001-…`, which nothing parses back, and the key would answer 500 ever after.
pub const STORABLE_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Drops sub-millisecond precision, which stored timestamps do not keep.
pub fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// RFC 3339 in UTC with millisecond precision: one fixed width, so stored timestamps sort
/// as strings.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Whether `at` can be stored and read back (see [`STORABLE_YEARS`]).
pub fn storable(at: DateTime<Utc>) -> bool {
    STORABLE_YEARS.contains(&at.year())
}

/// An RFC 3339 time in any offset, as UTC; `None` when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_a_fixed_width() {
        let at: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(timestamp(at), "2026-01-01T00:00:00.000Z");
    }

    #[test]
    fn only_four_digit_years_are_storable() {
        let late = parse_rfc3339("9999-12-31T23:00:00-05:00").unwrap();
        assert_eq!(late.year(), 10000);
        assert!(!storable(late));
        assert!(storable(parse_rfc3339("9999-12-31T23:59:59.999Z").unwrap()));
        assert!(!storable(
            parse_rfc3339("0001-01-01T00:00:00+01:00").unwrap()
        ));
        assert!(storable(parse_rfc3339("0001-01-01T00:00:00Z").unwrap()));
    }

    #[test]
    fn any_offset_is_read_as_utc() {
        assert_eq!(
            parse_rfc3339(" 2026-01-01T02:00:00+01:00 "),
            Some("2026-01-01T01:00:00Z".parse().unwrap())
        );
        assert_eq!(parse_rfc3339("tomorrow"), None);
    }
}
