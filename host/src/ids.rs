//! Identifiers the host mints: message ids, job ids, request ids.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A WhatsApp-Web-style message id: `3EB0` + 18 uppercase hex digits.
///
/// As WhatsApp Web makes them: the first 9 bytes of SHA-256 over the current unix time,
/// the sender's JID and 16 random bytes, so ids never repeat across devices or restarts.
pub fn message_id(own_jid: Option<&str>) -> String {
    let mut random = [0u8; 16];
    rand::rng().fill_bytes(&mut random);
    let mut hasher = Sha256::new();
    hasher.update(chrono::Utc::now().timestamp().to_be_bytes());
    hasher.update(own_jid.unwrap_or("").as_bytes());
    hasher.update(random);
    let digest = hasher.finalize();
    format!("3EB0{}", hex::encode_upper(&digest[..9]))
}

/// A job id: `job_` + 32 hex digits.
pub fn job_id() -> String {
    format!("job_{}", uuid::Uuid::new_v4().simple())
}

/// An id for one HTTP request, for correlating logs.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_have_the_whatsapp_web_shape_and_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..1000)
            .map(|_| message_id(Some("1@s.whatsapp.net")))
            .collect();
        assert_eq!(ids.len(), 1000);
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
    fn job_ids_are_prefixed() {
        let id = job_id();
        assert!(id.starts_with("job_") && id.len() == 36);
    }
}
