//! How times are stored: RFC 3339 text in UTC, to the millisecond, which sorts in time
//! order. Shared by the store and its message-log writer, so neither imports the other
//! for it.

use chrono::{DateTime, SecondsFormat, Utc};

/// A time as the database keeps it.
pub(super) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A stored time; an unreadable one reads as the epoch rather than failing the row.
pub(super) fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_time_reads_back_to_the_millisecond() {
        let time = DateTime::parse_from_rfc3339("2024-05-06T07:08:09.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let stored = timestamp(time);
        assert_eq!(stored, "2024-05-06T07:08:09.123Z");
        assert_eq!(
            parse_time(&stored).timestamp_millis(),
            time.timestamp_millis()
        );
        assert_eq!(parse_time("not a time"), DateTime::<Utc>::default());
    }
}
