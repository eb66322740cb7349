//! What the plugin adds to the 200: only `is_animated`, as the WUTS docs §1.6 print it
//! (`{"success", "message_id", "timestamp", "is_animated", "message"}`; the host writes the
//! rest, and the route's success message, plugins/sticker/src/lib.rs). No metadata object:
//! the contract prints none.

use serde_json::{Value, json};

/// The `response_extra` of a sent sticker: what the file is, not what the caller said.
pub fn extra(is_animated: bool) -> Value {
    json!({ "is_animated": is_animated })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_is_animated() {
        assert_eq!(extra(false), json!({"is_animated": false}));
        assert_eq!(extra(true), json!({"is_animated": true}));
    }
}
