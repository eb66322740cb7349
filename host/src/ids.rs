//! Identifiers the host mints: message ids, job ids, request ids.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Bits of the id that count milliseconds since the Unix epoch (enough until 2109).
const MILLIS_BITS: u32 = 42;
/// Bits that tell apart the ids of one millisecond.
const SEQUENCE_BITS: u32 = 30;

/// Starts at a random point, so that two processes minting ids in the same millisecond
/// (a restart, a second host) are very unlikely to collide.
static SEQUENCE: LazyLock<AtomicU32> = LazyLock::new(|| AtomicU32::new(rand::random()));

/// A WhatsApp-Web-style message id: `3EB0` + 18 uppercase hex digits.
///
/// The digits are the time in milliseconds followed by a per-process sequence, so ids
/// never repeat and ids minted later sort after earlier ones. The order matters to the
/// message log: its index on (device, message id) then grows at its end, and a commit
/// writes a few index pages instead of one per message, as random ids cost (measured
/// in the send benchmark). WhatsApp requires only that ids be unique per sender; the
/// time an id reveals is the message's timestamp, which the message carries anyway.
pub fn message_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis())
        & ((1 << MILLIS_BITS) - 1);
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed) as u128 & ((1 << SEQUENCE_BITS) - 1);
    let value = (millis << SEQUENCE_BITS) | sequence;
    format!("3EB0{value:018X}")
}

/// A job id: `job_` + 32 hex digits.
pub fn job_id() -> String {
    format!("job_{}", uuid::Uuid::new_v4().simple())
}

/// An id for one HTTP request, for correlating logs.
pub fn request_id() -> String {
    // From the thread's generator: uuid's v4 asks the kernel for every id.
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_have_the_whatsapp_web_shape_and_do_not_repeat() {
        let ids: Vec<String> = (0..10_000).map(|_| message_id()).collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in ids.iter().take(10) {
            assert_eq!(id.len(), 22);
            assert!(id.starts_with("3EB0"));
            assert!(
                id[4..]
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
                "{id}"
            );
        }
    }

    #[test]
    fn later_message_ids_sort_after_earlier_ones() {
        let earlier = message_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = message_id();
        assert!(later > earlier, "{earlier} then {later}");
    }

    #[test]
    fn a_message_ids_digits_are_the_time_it_was_minted() {
        let before = chrono::Utc::now().timestamp_millis() as u128;
        let id = message_id();
        let after = chrono::Utc::now().timestamp_millis() as u128;
        let value = u128::from_str_radix(&id[4..], 16).unwrap();
        let millis = value >> SEQUENCE_BITS;
        assert!((before..=after).contains(&millis), "{id}: {millis}");
    }

    #[test]
    fn request_ids_are_32_lowercase_hex_digits() {
        let id = request_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{id}"
        );
        assert_ne!(id, request_id());
    }

    #[test]
    fn job_ids_are_prefixed() {
        let id = job_id();
        assert!(id.starts_with("job_") && id.len() == 36);
    }
}
