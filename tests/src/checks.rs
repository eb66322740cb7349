//! Checks of the documented shapes: error envelopes, message ids, timestamps, stanza nodes.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// Asserts a legacy error: `status` and a body that is exactly `{"error": "<non-empty text>"}`.
/// Returns the text.
#[track_caller]
pub fn legacy_error(status: u16, body: &Value, expected_status: u16) -> String {
    assert_eq!(
        status, expected_status,
        "expected status {expected_status}, got {status} with body {body}"
    );
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("an error body must be a JSON object, got {body}"));
    let keys: Vec<&String> = object.keys().collect();
    assert_eq!(
        keys,
        vec!["error"],
        "a legacy error body has the one key \"error\", got {body}"
    );
    let text = object["error"]
        .as_str()
        .unwrap_or_else(|| panic!("\"error\" must be a string, got {body}"));
    assert!(!text.trim().is_empty(), "the error text is empty: {body}");
    text.to_owned()
}

/// Asserts a legacy 400 whose text names `field` (see [`names_field`]).
#[track_caller]
pub fn validation_error(status: u16, body: &Value, field: &str) -> String {
    let text = legacy_error(status, body, 400);
    assert!(
        names_field(&text, field),
        "the 400 error text should name the field `{field}`, got {text:?}"
    );
    text
}

/// Whether `text` mentions `field` as a whole name: not as part of a longer identifier
/// (`to` is not named by "too short" or "token"; `buttons` is named by "buttons[1].id").
pub fn names_field(text: &str, field: &str) -> bool {
    let is_name_char = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(field).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + field.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

/// Asserts a WhatsApp Web message id: `3EB0` + 18 uppercase hex digits.
#[track_caller]
pub fn message_id(id: &str) {
    assert_eq!(id.len(), 22, "a message id has 22 characters, got {id:?}");
    assert!(
        id.starts_with("3EB0"),
        "a message id starts with 3EB0: {id:?}"
    );
    assert!(
        id[4..]
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
        "a message id continues with uppercase hex digits: {id:?}"
    );
}

/// Asserts an RFC 3339 UTC timestamp in whole seconds (`YYYY-MM-DDTHH:MM:SSZ`) within five
/// minutes of now; returns its unix time.
#[track_caller]
pub fn recent_timestamp(timestamp: &str) -> i64 {
    let unix = parse_utc_seconds(timestamp)
        .unwrap_or_else(|| panic!("not a YYYY-MM-DDTHH:MM:SSZ timestamp: {timestamp:?}"));
    let now = now_unix();
    assert!(
        (unix - now).abs() <= 300,
        "timestamp {timestamp} is not within five minutes of now ({now})"
    );
    unix
}

/// Seconds since the epoch.
pub fn now_unix() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(now.as_secs()).expect("seconds fit in i64")
}

/// Parses exactly `YYYY-MM-DDTHH:MM:SSZ` into unix seconds.
pub fn parse_utc_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let part = &text[from..to];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Asserts the documented success body of `POST /send/buttons`; returns the message id.
#[track_caller]
pub fn buttons_success(status: u16, body: &Value) -> String {
    assert_eq!(status, 200, "expected 200, got {status} with {body}");
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("the success body is a JSON object: {body}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["message", "message_id", "success", "timestamp"],
        "the success body has exactly the documented keys: {body}"
    );
    assert_eq!(body["success"], json!(true), "{body}");
    assert_eq!(
        body["message"],
        json!("Buttons message sent successfully"),
        "{body}"
    );
    let id = body["message_id"]
        .as_str()
        .unwrap_or_else(|| panic!("message_id is a string: {body}"));
    message_id(id);
    recent_timestamp(
        body["timestamp"]
            .as_str()
            .unwrap_or_else(|| panic!("timestamp is a string: {body}")),
    );
    id.to_owned()
}

/// One stanza node from the outbox: `{"tag", "attrs", "content"}`.
#[derive(Debug)]
pub struct Node<'a> {
    pub tag: &'a str,
    pub attrs: &'a Map<String, Value>,
    pub children: Vec<Node<'a>>,
}

/// Reads a stanza node. A leaf's `content` may be absent, null or `[]`.
#[track_caller]
pub fn node(value: &Value) -> Node<'_> {
    let tag = value["tag"]
        .as_str()
        .unwrap_or_else(|| panic!("a stanza node has a string \"tag\": {value}"));
    let attrs = value["attrs"]
        .as_object()
        .unwrap_or_else(|| panic!("a stanza node has an object \"attrs\": {value}"));
    let children = match value.get("content") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(node).collect(),
        Some(other) => panic!("node <{tag}> has content that is not child nodes: {other}"),
    };
    Node {
        tag,
        attrs,
        children,
    }
}

/// Asserts a node's tag and attributes exactly (all attribute values are strings); returns its
/// children.
#[track_caller]
pub fn expect_node<'a>(node: &'a Node<'a>, tag: &str, attrs: &[(&str, &str)]) -> &'a [Node<'a>] {
    assert_eq!(node.tag, tag, "expected <{tag}>, got {node:?}");
    let expected: Map<String, Value> = attrs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect();
    assert_eq!(
        node.attrs, &expected,
        "attributes of <{tag}> differ from the documented ones"
    );
    &node.children
}

/// Asserts the stanza nodes of a buttons message: one `<biz>` exactly as documented, and a
/// `<bot biz_bot="1"/>` if and only if the chat is not a group.
#[track_caller]
pub fn buttons_stanza_nodes(entry: &Value, group: bool) {
    let nodes: Vec<Node<'_>> = entry["stanza_nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("outbox entry has a \"stanza_nodes\" array: {entry}"))
        .iter()
        .map(node)
        .collect();
    let mut tags: Vec<&str> = nodes.iter().map(|n| n.tag).collect();
    tags.sort_unstable();
    let expected_tags: &[&str] = if group { &["biz"] } else { &["biz", "bot"] };
    assert_eq!(
        tags,
        expected_tags,
        "stanza nodes of a buttons message to a {} chat: {}",
        if group { "group" } else { "1:1" },
        entry["stanza_nodes"]
    );
    for node in &nodes {
        match node.tag {
            "bot" => {
                let children = expect_node(node, "bot", &[("biz_bot", "1")]);
                assert!(children.is_empty(), "<bot> has no children: {node:?}");
            }
            "biz" => biz_node(node),
            _ => unreachable!("tags were checked above"),
        }
    }
}

#[track_caller]
fn biz_node(biz: &Node<'_>) {
    let ts = biz
        .attrs
        .get("privacy_mode_ts")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("<biz> has a string privacy_mode_ts: {biz:?}"));
    let ts_value: i64 = ts
        .parse()
        .ok()
        .filter(|_| ts.bytes().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("privacy_mode_ts is unix seconds as digits: {ts:?}"));
    assert!(
        (1_500_000_000..=now_unix() + 300).contains(&ts_value),
        "privacy_mode_ts {ts} is not a plausible unix time in seconds"
    );
    let children = expect_node(
        biz,
        "biz",
        &[
            ("actual_actors", "2"),
            ("host_storage", "2"),
            ("privacy_mode_ts", ts),
        ],
    );
    let tags: Vec<&str> = children.iter().map(|n| n.tag).collect();
    assert_eq!(
        tags,
        ["interactive", "quality_control"],
        "children of <biz>: {biz:?}"
    );
    let interactive = expect_node(
        &children[0],
        "interactive",
        &[("type", "native_flow"), ("v", "1")],
    );
    assert_eq!(interactive.len(), 1, "<interactive> has one child");
    let native_flow = expect_node(
        &interactive[0],
        "native_flow",
        &[("v", "9"), ("name", "mixed")],
    );
    assert!(native_flow.is_empty(), "<native_flow> has no children");
    let quality = expect_node(
        &children[1],
        "quality_control",
        &[("source_type", "third_party")],
    );
    assert_eq!(quality.len(), 1, "<quality_control> has one child");
    let decision = expect_node(&quality[0], "decision_source", &[("value", "df")]);
    assert!(decision.is_empty(), "<decision_source> has no children");
}

/// Asserts the outbox `message` of a buttons message: body text, footer (or none), and the
/// native-flow `quick_reply` buttons with their `(id, display_text)`.
#[track_caller]
pub fn buttons_message(entry: &Value, text: &str, footer: Option<&str>, buttons: &[(&str, &str)]) {
    let interactive = &entry["message"]["interactiveMessage"];
    assert!(
        interactive.is_object(),
        "message.interactiveMessage is an object: {}",
        entry["message"]
    );
    assert_eq!(
        interactive["body"]["text"],
        json!(text),
        "interactiveMessage.body.text"
    );
    match footer {
        Some(footer) => assert_eq!(
            interactive["footer"]["text"],
            json!(footer),
            "interactiveMessage.footer.text"
        ),
        None => assert!(
            interactive.get("footer").is_none_or(Value::is_null),
            "no footer was given, yet the message has one: {interactive}"
        ),
    }
    let sent = interactive["nativeFlowMessage"]["buttons"]
        .as_array()
        .unwrap_or_else(|| {
            panic!("interactiveMessage.nativeFlowMessage.buttons is an array: {interactive}")
        });
    assert_eq!(
        sent.len(),
        buttons.len(),
        "number of buttons: {interactive}"
    );
    for (i, (button, (id, display_text))) in sent.iter().zip(buttons).enumerate() {
        assert_eq!(
            button["name"],
            json!("quick_reply"),
            "buttons[{i}].name: {button}"
        );
        let params = button["buttonParamsJSON"]
            .as_str()
            .unwrap_or_else(|| panic!("buttons[{i}].buttonParamsJSON is a string: {button}"));
        let params: Value = serde_json::from_str(params)
            .unwrap_or_else(|e| panic!("buttons[{i}].buttonParamsJSON is JSON ({e}): {params}"));
        assert_eq!(
            params,
            json!({ "display_text": display_text, "id": id }),
            "buttons[{i}].buttonParamsJSON"
        );
    }
}

/// Runs several named cases, each of which may panic, and fails once at the end listing every
/// failed case, so that one wrong answer does not hide the others.
#[derive(Default)]
pub struct Cases {
    failures: Vec<String>,
    run: usize,
}

impl Cases {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `case`; a panic inside it is recorded under `name`.
    pub fn check(&mut self, name: &str, case: impl FnOnce()) {
        self.run += 1;
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(case)) {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "(non-text panic)".to_owned());
            self.failures.push(format!("- {name}: {message}"));
        }
    }

    /// Panics if any case failed.
    #[track_caller]
    pub fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} of {} cases failed:\n{}",
            self.failures.len(),
            self.run,
            self.failures.join("\n")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_field_wants_the_whole_name() {
        assert!(names_field(
            "to: a phone number needs 10 to 15 digits",
            "to"
        ));
        assert!(!names_field("too short", "to"));
        assert!(!names_field("token missing", "to"));
        assert!(names_field(
            "buttons[1].id: duplicate id \"a\"",
            "buttons[1].id"
        ));
        assert!(names_field("buttons[1].id: duplicate", "buttons"));
        assert!(!names_field("buttons[1].id: duplicate", "buttons[0].id"));
        assert!(!names_field(
            "buttons[1].display_text: empty",
            "buttons[1].display"
        ));
    }

    #[test]
    fn timestamps_parse_exactly() {
        assert_eq!(parse_utc_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_utc_seconds("2026-06-15T14:32:10Z"),
            Some(1_781_533_930)
        );
        assert_eq!(parse_utc_seconds("2026-06-15T14:32:10.5Z"), None);
        assert_eq!(parse_utc_seconds("2026-06-15T14:32:10+00:00"), None);
        assert_eq!(parse_utc_seconds("2026-13-15T14:32:10Z"), None);
        assert_eq!(parse_utc_seconds("2026-06-15 14:32:10Z"), None);
    }

    #[test]
    fn message_ids_are_checked() {
        message_id("3EB0A5E56A49F4609A4809");
        for bad in [
            "3EB0a5e56a49f4609a4809",
            "3EB0A5E56A49F4609A480",
            "4EB0A5E56A49F4609A4809",
        ] {
            assert!(
                std::panic::catch_unwind(|| message_id(bad)).is_err(),
                "{bad}"
            );
        }
    }
}
