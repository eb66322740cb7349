//! Timestamps as the API writes them: RFC 3339, UTC, whole seconds.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn now_rfc3339() -> String {
    rfc3339(Utc::now())
}
