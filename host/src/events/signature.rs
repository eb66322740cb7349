//! Signing a webhook delivery (docs/API.md, "Webhooks"): the `X-Wuts-Signature` header
//! over `<timestamp>.<raw body>`, and WUTS's in-body `"signature"` member over the body
//! before it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// `sha256=<hex>` of HMAC-SHA256 under `secret` over `parts`, in order.
fn sign(secret: &str, parts: &[&[u8]]) -> String {
    // HMAC takes a key of any length, so `new_from_slice` cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    for part in parts {
        mac.update(part);
    }
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The body a delivery carries: the envelope, with a secret ending with
/// `"signature":"sha256=<hex>"`, the HMAC of the envelope as stored (the body's bytes
/// before that member, with `}` in place of `,"signature":...`).
pub fn signed_body(secret: Option<&str>, envelope: &str) -> String {
    let Some(secret) = secret else {
        return envelope.to_owned();
    };
    let Some(open) = envelope.strip_suffix('}') else {
        return envelope.to_owned();
    };
    let signature = sign(secret, &[envelope.as_bytes()]);
    format!("{open},\"signature\":\"{signature}\"}}")
}

/// The `X-Wuts-Signature` header: HMAC-SHA256 of `<timestamp>.<raw body>`.
pub fn header_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    sign(secret, &[timestamp.to_string().as_bytes(), b".", body])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign("Jefe", &[b"what do ya want ", b"for nothing?"]),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_header_signs_timestamp_dot_body_and_the_body_signs_itself_without_the_member() {
        let secret = "whsec_9f3c1a2b7d4e5f60";
        let envelope = r#"{"id":"evt_1","event":"message.sent","seq":1,"data":{}}"#;
        let body = signed_body(Some(secret), envelope);
        let member = format!(
            ",\"signature\":\"{}\"}}",
            sign(secret, &[envelope.as_bytes()])
        );
        assert_eq!(body, format!("{}{member}", &envelope[..envelope.len() - 1]));
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(parsed["signature"].as_str().unwrap().starts_with("sha256="));
        assert_eq!(
            header_signature(secret, 1781530330, body.as_bytes()),
            sign(secret, &[format!("1781530330.{body}").as_bytes()])
        );
        assert_eq!(signed_body(None, envelope), envelope);
    }
}
