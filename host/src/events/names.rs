//! Every event name this server can emit (`GET /webhook/events`), and the check a
//! subscription's names must pass.

/// The names, in the order docs/API.md lists them.
pub const ALL: &[&str] = &[
    "message.received",
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "message.reaction",
    "message.edited",
    "message.revoked",
    "message.delete_for_me",
    "poll.vote",
    "device.connected",
    "device.disconnected",
    "device.logged_out",
    "qr.generated",
    "pair.success",
    "connection.connecting",
    "connection.pairing",
    "connection.stream_replaced",
    "connection.temporary_ban",
    "connection.connect_failure",
    "connection.client_outdated",
];

/// Whether `name` is one of [`ALL`], or `*` (every event).
pub fn is_known(name: &str) -> bool {
    name == "*" || ALL.contains(&name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_unique_and_dotted() {
        let mut seen = std::collections::HashSet::new();
        for name in super::ALL {
            assert!(seen.insert(name), "{name} twice");
            assert!(name.contains('.'), "{name}");
        }
        assert!(super::is_known("*") && !super::is_known("message.unknown"));
    }
}
