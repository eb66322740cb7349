//! `POST /send/interactive` and `POST /send/list-response`: the list and the response
//! (sandbox outbox, decoded), the product-list `<biz>` node, responses validated against
//! lists the device sent or received (`POST /sandbox/inbound`), bad input refused in the
//! legacy envelope naming the field with nothing sent, a tap on the list arriving as a
//! `list_reply`, and what the offline WhatsApp server receives from the real driver.

mod send_support;

use send_support::{
    assert_outbox_empty, connected_rig, enc_media_types, legacy_invalid, legacy_sent, outbox_entry,
    post, sandbox, with, without,
};
use serde_json::{Value, json};
use wuts_e2e::checks::{self, Cases, legacy_error};
use wuts_e2e::sse::open_ok;
use wuts_e2e::{Body, PHONE, PHONE_JID, Server, User};

const LIST: &str = "/send/interactive";
const RESPONSE: &str = "/send/list-response";
const LIST_SENT: &str = "Interactive list message sent successfully";
const RESPONSE_SENT: &str = "List response sent successfully";
const GROUP: &str = "120363025246125486@g.us";
const TAPPER: &str = "5511988887777";
const TAPPER_JID: &str = "5511988887777@s.whatsapp.net";

/// the WUTS docs §1.13's request, word for word.
fn documented_list() -> Value {
    json!({"to": PHONE, "title": "Our menu", "body": "Pick one of the products below to continue.",
        "footer": "WUTS Store", "button_text": "View products",
        "sections": [{"title": "Beverages", "rows": [
            {"id": "coffee", "title": "Coffee", "description": "Freshly brewed"},
            {"id": "tea", "title": "Tea", "description": "Black or green"}]}]})
}

/// The `listMessage` the documented request becomes, in the outbox's spelling.
fn documented_list_message() -> Value {
    json!({"listMessage": {
        "title": "Our menu", "description": "Pick one of the products below to continue.",
        "buttonText": "View products", "listType": "SINGLE_SELECT", "footerText": "WUTS Store",
        "sections": [{"title": "Beverages", "rows": [
            {"title": "Coffee", "description": "Freshly brewed", "rowID": "coffee"},
            {"title": "Tea", "description": "Black or green", "rowID": "tea"}]}]}})
}

/// the WUTS docs §1.14's request, word for word.
fn documented_response() -> Value {
    json!({"to": PHONE, "selected_row_id": "coffee", "title": "Coffee", "description": "Freshly brewed",
        "quoted": {"message_id": "3EB0XXXX223344556677AABB",
            "participant": "5511999999999@s.whatsapp.net",
            "body": "Pick one of the products below to continue."}})
}

/// Sends a list, asserts the documented 200, and returns the outbox entry.
#[track_caller]
fn list_ok(server: &Server, user: &User, body: &Value, chat: &str) -> Value {
    let (status, reply) = post(server, user, LIST, body);
    let id = legacy_sent(status, &reply, LIST_SENT, &[]);
    outbox_entry(server, user, &id, LIST, chat)
}

/// Sends a list response, asserts the documented 200, and returns the outbox entry.
#[track_caller]
fn response_ok(server: &Server, user: &User, body: &Value, chat: &str) -> Value {
    let (status, reply) = post(server, user, RESPONSE, body);
    let id = legacy_sent(status, &reply, RESPONSE_SENT, &[]);
    let entry = outbox_entry(server, user, &id, RESPONSE, chat);
    assert_eq!(
        entry["stanza_nodes"],
        json!([]),
        "a response has no <biz>: {entry}"
    );
    entry
}

/// Asserts the one stanza node of a list: the product-list `<biz>`, no `<bot>`.
#[track_caller]
fn assert_product_list_biz(entry: &Value) {
    let nodes = entry["stanza_nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("stanza nodes: {entry}"));
    assert_eq!(nodes.len(), 1, "one node, the <biz>: {entry}");
    let biz = checks::node(&nodes[0]);
    let ts = biz.attrs["privacy_mode_ts"].as_str().expect("a timestamp");
    let seconds: i64 = ts.parse().expect("unix seconds");
    assert!((seconds - checks::now_unix()).abs() < 60, "{ts}");
    let children = checks::expect_node(
        &biz,
        "biz",
        &[
            ("actual_actors", "2"),
            ("host_storage", "2"),
            ("privacy_mode_ts", ts),
        ],
    );
    assert_eq!(children.len(), 2, "{entry}");
    assert!(
        checks::expect_node(
            &children[0],
            "list",
            &[("v", "2"), ("type", "product_list")]
        )
        .is_empty()
    );
    assert!(
        checks::expect_node(
            &children[1],
            "quality_control",
            &[("source_type", "third_party")]
        )
        .is_empty()
    );
}

fn inbound(server: &Server, user: &User, body: &Value) -> String {
    let (status, reply) = server.post_json("/sandbox/inbound", &user.token, body);
    assert_eq!(status, 200, "{reply}");
    reply["message_id"].as_str().expect("an id").to_owned()
}

fn own_jid(server: &Server, user: &User) -> String {
    let (_, status) = server.get("/status", &user.token);
    status["jid"].as_str().expect("a JID").to_owned()
}

#[test]
fn the_documented_list_is_a_list_message_with_the_product_list_node() {
    let (server, user) = sandbox(&["list"]);
    let entry = list_ok(&server, &user, &documented_list(), PHONE_JID);
    assert_eq!(entry["message"], documented_list_message(), "{entry}");
    assert_product_list_biz(&entry);

    // In a group: the same node, still no <bot>.
    let group = list_ok(
        &server,
        &user,
        &with(&documented_list(), "/to", json!(GROUP)),
        GROUP,
    );
    assert_product_list_biz(&group);

    // Only to, body, button_text and rows are required; empty optional texts are left
    // out; the limits' edges are in: ten sections of one row, 24-character titles.
    let sections: Vec<Value> = (0..10)
        .map(|i| {
            json!({"title": format!("Section {i}"),
                "rows": [{"id": format!("r{i}"), "title": "t".repeat(24), "description": ""}]})
        })
        .collect();
    let body = json!({"to": PHONE, "body": "b".repeat(1024), "footer": "", "title": " ",
        "button_text": "o".repeat(20), "sections": sections});
    let entry = list_ok(&server, &user, &body, PHONE_JID);
    let list = &entry["message"]["listMessage"];
    assert_eq!(list.get("title"), None, "{entry}");
    assert_eq!(list.get("footerText"), None, "{entry}");
    assert_eq!(list["sections"].as_array().map(Vec::len), Some(10));
    assert_eq!(
        list["sections"][9],
        json!({"title": "Section 9", "rows": [{"title": "t".repeat(24), "rowID": "r9"}]})
    );
    // One section needs no title, and may hold all ten rows.
    let rows: Vec<Value> = (0..10)
        .map(|i| json!({"id": format!("{i}"), "title": format!("Row {i}")}))
        .collect();
    let body =
        json!({"to": PHONE, "body": "Pick", "button_text": "Open", "sections": [{"rows": rows}]});
    let entry = list_ok(&server, &user, &body, PHONE_JID);
    assert_eq!(
        entry["message"]["listMessage"]["sections"][0]["rows"]
            .as_array()
            .map(Vec::len),
        Some(10)
    );
}

#[test]
fn bad_lists_are_a_400_naming_the_field_and_send_nothing() {
    let (server, user) = sandbox(&["list"]);
    let ok = documented_list();
    let row = |id: &str| json!({"id": id, "title": id});
    let rows = |prefix: &str, n: usize| -> Vec<Value> {
        (0..n).map(|i| row(&format!("{prefix}{i}"))).collect()
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("no body", without(&ok, "/body"), "body"),
        ("an empty body", with(&ok, "/body", json!("")), "body"),
        ("a blank body", with(&ok, "/body", json!("   ")), "body"),
        (
            "a body of 1025",
            with(&ok, "/body", json!("b".repeat(1025))),
            "body",
        ),
        ("a body as a number", with(&ok, "/body", json!(7)), "body"),
        (
            "a title of 61",
            with(&ok, "/title", json!("t".repeat(61))),
            "title",
        ),
        (
            "a title as an array",
            with(&ok, "/title", json!(["t"])),
            "title",
        ),
        (
            "a footer of 61",
            with(&ok, "/footer", json!("f".repeat(61))),
            "footer",
        ),
        (
            "no button_text",
            without(&ok, "/button_text"),
            "button_text",
        ),
        (
            "an empty button_text",
            with(&ok, "/button_text", json!("")),
            "button_text",
        ),
        (
            "a button_text of 21",
            with(&ok, "/button_text", json!("b".repeat(21))),
            "button_text",
        ),
        ("no sections", without(&ok, "/sections"), "sections"),
        ("no section", with(&ok, "/sections", json!([])), "sections"),
        (
            "sections as an object",
            with(&ok, "/sections", json!({"rows": []})),
            "sections",
        ),
        (
            "eleven sections",
            with(
                &ok,
                "/sections",
                json!(
                    (0..11)
                        .map(|i| json!({"title": format!("S{i}"), "rows": [row(&format!("r{i}"))]}))
                        .collect::<Vec<_>>()
                ),
            ),
            "sections",
        ),
        (
            "a section that is a string",
            with(&ok, "/sections/0", json!("Beverages")),
            "sections[0]",
        ),
        (
            "a section without rows",
            without(&ok, "/sections/0/rows"),
            "sections[0].rows",
        ),
        (
            "a section with no row",
            with(&ok, "/sections/0/rows", json!([])),
            "sections[0].rows",
        ),
        (
            "eleven rows in one section",
            with(&ok, "/sections/0/rows", json!(rows("r", 11))),
            "sections[0].rows",
        ),
        (
            "eleven rows in all",
            with(
                &ok,
                "/sections",
                json!([{"title": "A", "rows": rows("a", 6)}, {"title": "B", "rows": rows("b", 5)}]),
            ),
            "sections",
        ),
        (
            "a section title of 25",
            with(&ok, "/sections/0/title", json!("s".repeat(25))),
            "sections[0].title",
        ),
        (
            "two sections, one without a title",
            with(
                &ok,
                "/sections",
                json!([{"title": "A", "rows": [row("a")]}, {"rows": [row("b")]}]),
            ),
            "sections[1].title",
        ),
        (
            "a row without an id",
            without(&ok, "/sections/0/rows/1/id"),
            "sections[0].rows[1].id",
        ),
        (
            "an empty row id",
            with(&ok, "/sections/0/rows/1/id", json!("")),
            "sections[0].rows[1].id",
        ),
        (
            "a row id of 201",
            with(&ok, "/sections/0/rows/0/id", json!("i".repeat(201))),
            "sections[0].rows[0].id",
        ),
        (
            "a row id as a number",
            with(&ok, "/sections/0/rows/0/id", json!(1)),
            "sections[0].rows[0].id",
        ),
        (
            "a row without a title",
            without(&ok, "/sections/0/rows/0/title"),
            "sections[0].rows[0].title",
        ),
        (
            "a row title of 25",
            with(&ok, "/sections/0/rows/0/title", json!("t".repeat(25))),
            "sections[0].rows[0].title",
        ),
        (
            "a row description of 73",
            with(&ok, "/sections/0/rows/1/description", json!("d".repeat(73))),
            "sections[0].rows[1].description",
        ),
        (
            "a row that is a string",
            with(&ok, "/sections/0/rows/1", json!("tea")),
            "sections[0].rows[1]",
        ),
        (
            "duplicate row ids in a section",
            with(&ok, "/sections/0/rows/1/id", json!("coffee")),
            "sections[0].rows[1].id",
        ),
        (
            "duplicate row ids across sections",
            with(
                &ok,
                "/sections",
                json!([{"title": "Hot", "rows": [row("coffee")]},
                       {"title": "Cold", "rows": [row("juice"), row("coffee")]}]),
            ),
            "sections[1].rows[1].id",
        ),
    ];
    let mut checks = Cases::new();
    for (name, body, field) in cases {
        checks.check(name, || {
            let (status, reply) = post(&server, &user, LIST, &body);
            let text = legacy_invalid(status, &reply, field);
            assert!(text.starts_with(&format!("{field}: ")), "{name}: {text}");
        });
    }
    checks.check("the documented recipient errors", || {
        let (status, reply) = post(&server, &user, LIST, &without(&ok, "/to"));
        assert_eq!(status, 400);
        assert_eq!(
            reply,
            json!({"error": "Invalid recipient JID: empty input"})
        );
        let (status, reply) = post(&server, &user, LIST, &with(&ok, "/to", json!("")));
        assert_eq!(status, 400);
        assert_eq!(
            reply,
            json!({"error": "Invalid recipient JID: empty input"})
        );
        let (status, reply) = post(&server, &user, LIST, &with(&ok, "/to", json!("abc")));
        assert_eq!(status, 400);
        assert_eq!(
            reply,
            json!({"error": "Invalid recipient JID: invalid number"})
        );
    });
    checks.check("the duplicate names its first place", || {
        let (status, reply) = post(
            &server,
            &user,
            LIST,
            &with(&ok, "/sections/0/rows/1/id", json!("coffee")),
        );
        let text = legacy_error(status, &reply, 400);
        assert!(text.contains("\"coffee\""), "{text}");
        assert!(text.contains("sections[0].rows[0]"), "{text}");
    });
    checks.check("an array body", || {
        let (status, reply) = post(&server, &user, LIST, &json!([documented_list()]));
        legacy_error(status, &reply, 400);
    });
    checks.finish();
    assert_outbox_empty(&server, &user);
}

#[test]
fn a_response_to_a_sent_list_quotes_it_whole_and_takes_the_rows_text() {
    let (server, user) = sandbox(&["list"]);
    let list = list_ok(&server, &user, &documented_list(), PHONE_JID);
    let list_id = list["message_id"].as_str().unwrap();
    let me = own_jid(&server, &user);
    let entry = response_ok(
        &server,
        &user,
        &json!({"to": PHONE, "selected_row_id": "tea", "quoted": {"message_id": list_id}}),
        PHONE_JID,
    );
    assert_eq!(
        entry["message"],
        json!({"listResponseMessage": {
            "title": "Tea", "description": "Black or green", "listType": "SINGLE_SELECT",
            "singleSelectReply": {"selectedRowID": "tea"},
            "contextInfo": {"stanzaID": list_id, "participant": me,
                "quotedMessage": documented_list_message()}}}),
        "{entry}"
    );
    // The caller's title and description win over the row's; the other shape of quoted works.
    let entry = response_ok(
        &server,
        &user,
        &json!({"to": PHONE, "selected_row_id": "coffee", "title": "Espresso",
            "description": "Short", "quoted": {"key": {"id": list_id, "fromMe": true}}}),
        PHONE_JID,
    );
    let response = &entry["message"]["listResponseMessage"];
    assert_eq!(response["title"], json!("Espresso"));
    assert_eq!(response["description"], json!("Short"));
    assert_eq!(
        response["contextInfo"]["quotedMessage"],
        documented_list_message()
    );
}

#[test]
fn the_documented_response_quotes_the_body_of_a_list_this_device_does_not_know() {
    let (server, user) = sandbox(&["list"]);
    let entry = response_ok(&server, &user, &documented_response(), PHONE_JID);
    assert_eq!(
        entry["message"],
        json!({"listResponseMessage": {
            "title": "Coffee", "description": "Freshly brewed", "listType": "SINGLE_SELECT",
            "singleSelectReply": {"selectedRowID": "coffee"},
            "contextInfo": {"stanzaID": "3EB0XXXX223344556677AABB",
                "participant": "5511999999999@s.whatsapp.net",
                "quotedMessage": {"conversation": "Pick one of the products below to continue."}}}}),
        "{entry}"
    );
    // Without a participant, a direct chat's list came from the chat.
    let entry = response_ok(
        &server,
        &user,
        &without(&documented_response(), "/quoted/participant"),
        PHONE_JID,
    );
    assert_eq!(
        entry["message"]["listResponseMessage"]["contextInfo"]["participant"],
        json!(PHONE_JID)
    );
}

#[test]
fn a_response_to_a_received_list_is_validated_against_it() {
    let (server, user) = sandbox(&["list"]);
    let received = json!({"listMessage": {"description": "Choose a size", "buttonText": "Sizes",
        "listType": "SINGLE_SELECT", "sections": [{"title": "Pizza", "rows": [
            {"title": "Medium", "description": "30 cm", "rowID": "size_m"},
            {"title": "Large", "description": "40 cm", "rowID": "size_l"}]}]}});
    let list_id = inbound(
        &server,
        &user,
        &json!({"from": TAPPER, "message": received, "message_id": "3EB0A1B2C3D4E5F6A7B8C9"}),
    );
    let entry = response_ok(
        &server,
        &user,
        &json!({"to": TAPPER, "selected_row_id": "size_l", "quoted": {"message_id": list_id}}),
        TAPPER_JID,
    );
    assert_eq!(
        entry["message"],
        json!({"listResponseMessage": {
            "title": "Large", "description": "40 cm", "listType": "SINGLE_SELECT",
            "singleSelectReply": {"selectedRowID": "size_l"},
            "contextInfo": {"stanzaID": list_id, "participant": TAPPER_JID,
                "quotedMessage": received}}}),
        "{entry}"
    );
    // A row that is not in it is refused, naming the rows it has; nothing is sent.
    let before = server.outbox(&user).len();
    let (status, reply) = post(
        &server,
        &user,
        RESPONSE,
        &json!({"to": TAPPER, "selected_row_id": "size_xl", "title": "XL",
            "quoted": {"message_id": list_id}}),
    );
    let text = legacy_invalid(status, &reply, "selected_row_id");
    assert!(text.contains(r#"["size_m", "size_l"]"#), "{text}");
    assert_eq!(server.outbox(&user).len(), before);

    // A list received as a native-flow single_select is validated the same way.
    let params = json!({"title": "Slots", "sections": [{"title": "Today", "rows": [
        {"header": "", "title": "Morning", "description": "8-12", "id": "am"},
        {"header": "", "title": "Evening", "description": "18-21", "id": "pm"}]}]});
    let native = inbound(
        &server,
        &user,
        &json!({"from": TAPPER, "message": {"interactiveMessage": {
            "body": {"text": "When?"},
            "nativeFlowMessage": {"buttons": [
                {"name": "single_select", "buttonParamsJSON": params.to_string()}]}}}}),
    );
    let entry = response_ok(
        &server,
        &user,
        &json!({"to": TAPPER, "selected_row_id": "pm", "quoted": {"message_id": native}}),
        TAPPER_JID,
    );
    let response = &entry["message"]["listResponseMessage"];
    assert_eq!(response["title"], json!("Evening"), "{entry}");
    assert_eq!(response["description"], json!("18-21"), "{entry}");
    let (status, reply) = post(
        &server,
        &user,
        RESPONSE,
        &json!({"to": TAPPER, "selected_row_id": "noon", "quoted": {"message_id": native}}),
    );
    legacy_invalid(status, &reply, "selected_row_id");
}

#[test]
fn bad_responses_are_a_400_naming_the_field_and_send_nothing() {
    let (server, user) = sandbox(&["list"]);
    let ok = documented_response();
    let text_id = inbound(
        &server,
        &user,
        &json!({"from": PHONE, "message": {"conversation": "not a list"}}),
    );
    let own_list = list_ok(&server, &user, &documented_list(), PHONE_JID);
    let own_list = own_list["message_id"].as_str().unwrap().to_owned();
    let before = server.outbox(&user).len();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "no selected_row_id",
            without(&ok, "/selected_row_id"),
            "selected_row_id",
        ),
        (
            "an empty selected_row_id",
            with(&ok, "/selected_row_id", json!("")),
            "selected_row_id",
        ),
        (
            "a selected_row_id of 201",
            with(&ok, "/selected_row_id", json!("r".repeat(201))),
            "selected_row_id",
        ),
        (
            "a selected_row_id as a number",
            with(&ok, "/selected_row_id", json!(1)),
            "selected_row_id",
        ),
        ("an empty title", with(&ok, "/title", json!("")), "title"),
        (
            "a title of 257",
            with(&ok, "/title", json!("t".repeat(257))),
            "title",
        ),
        (
            "a title as a number",
            with(&ok, "/title", json!(3)),
            "title",
        ),
        (
            "a description as an object",
            with(&ok, "/description", json!({})),
            "description",
        ),
        ("no quoted", without(&ok, "/quoted"), "quoted"),
        (
            "quoted as a string",
            with(&ok, "/quoted", json!("3EB0")),
            "quoted",
        ),
        (
            "quoted without a message_id",
            without(&ok, "/quoted/message_id"),
            "quoted.message_id",
        ),
        (
            "an empty quoted.message_id",
            with(&ok, "/quoted/message_id", json!("")),
            "quoted.message_id",
        ),
        (
            "a quoted participant that is no JID",
            with(&ok, "/quoted/participant", json!("someone")),
            "quoted.participant",
        ),
        (
            "an unknown quoted list without the row's title",
            without(&ok, "/title"),
            "title",
        ),
        (
            "an unknown quoted list in a group without its author",
            without(&with(&ok, "/to", json!(GROUP)), "/quoted/participant"),
            "quoted.participant",
        ),
        (
            "a known message that is not a list",
            with(&ok, "/quoted/message_id", json!(text_id)),
            "quoted.message_id",
        ),
        (
            "a row that is not in the known list",
            with(
                &with(&ok, "/quoted/message_id", json!(own_list)),
                "/selected_row_id",
                json!("juice"),
            ),
            "selected_row_id",
        ),
        (
            "a known list of another chat",
            with(
                &with(&ok, "/quoted/message_id", json!(own_list)),
                "/to",
                json!(TAPPER),
            ),
            "quoted.message_id",
        ),
    ];
    let mut checks = Cases::new();
    for (name, body, field) in cases {
        checks.check(name, || {
            let (status, reply) = post(&server, &user, RESPONSE, &body);
            let text = legacy_invalid(status, &reply, field);
            assert!(text.starts_with(&format!("{field}: ")), "{name}: {text}");
        });
    }
    checks.check("the documented recipient errors", || {
        let (status, reply) = post(&server, &user, RESPONSE, &without(&ok, "/to"));
        assert_eq!(status, 400);
        assert_eq!(
            reply,
            json!({"error": "Invalid recipient JID: empty input"})
        );
        let (status, reply) = post(&server, &user, RESPONSE, &with(&ok, "/to", json!(12)));
        assert_eq!(status, 400);
        assert_eq!(
            reply,
            json!({"error": "Invalid recipient JID: invalid number"})
        );
    });
    checks.check("malformed JSON", || {
        let reply = server.post_raw(
            RESPONSE,
            user.auth(),
            Body::Bytes {
                content_type: "application/json",
                bytes: b"{\"to\": ",
            },
        );
        legacy_error(reply.status, &reply.json_or_text(), 400);
    });
    checks.finish();
    assert_eq!(
        server.outbox(&user).len(),
        before,
        "refused responses send nothing"
    );
}

#[test]
fn a_tap_on_the_list_comes_back_as_a_list_reply() {
    let (server, user) = sandbox(&["list"]);
    let list = list_ok(&server, &user, &documented_list(), PHONE_JID);
    let list_id = list["message_id"].as_str().unwrap().to_owned();
    // What /send/list-response emits is the tap's shape: the phone's answer to this list.
    let response = response_ok(
        &server,
        &user,
        &json!({"to": PHONE, "selected_row_id": "coffee", "quoted": {"message_id": list_id}}),
        PHONE_JID,
    );
    let mut stream = open_ok(&server, &user, "?events=message.received", None);
    let tap = inbound(
        &server,
        &user,
        &json!({"from": PHONE, "message": response["message"]}),
    );
    let event = stream.expect("the tap");
    let data = &event.data["data"];
    assert_eq!(data["message_id"], json!(tap), "{data}");
    assert_eq!(data["message_type"], json!("list_reply"), "{data}");
    assert_eq!(data["content"], json!("Coffee"), "{data}");
    assert_eq!(
        data["list_reply"],
        json!({"id": "coffee", "title": "Coffee", "description": "Freshly brewed",
            "quoted_message_id": list_id, "quoted_participant": own_jid(&server, &user),
            "source": "list_response"}),
        "{data}"
    );
}

#[test]
fn the_offline_whatsapp_server_receives_the_list_with_its_product_list_node() {
    let rig = connected_rig(&["list"]);
    let id = rig.send_ok(LIST, &documented_list());
    let message = rig.received(&id);
    let list = message
        .message
        .as_ref()
        .and_then(|m| m.list_message.as_option())
        .unwrap_or_else(|| panic!("a listMessage: {}", message.render()));
    assert_eq!(list.button_text.as_deref(), Some("View products"));
    assert_eq!(
        list.description.as_deref(),
        Some("Pick one of the products below to continue.")
    );
    let ids: Vec<&str> = list.sections[0]
        .rows
        .iter()
        .filter_map(|row| row.row_id.as_deref())
        .collect();
    assert_eq!(ids, ["coffee", "tea"]);
    let biz = message.nodes_named("biz");
    assert_eq!(biz.len(), 1, "exactly one <biz>: {}", message.render());
    let node = wuts_wa_server::stanza::child(biz[0], "list")
        .unwrap_or_else(|| panic!("a <list> in the <biz>: {}", message.render()));
    assert_eq!(
        wuts_wa_server::stanza::attr(node, "type").as_deref(),
        Some("product_list")
    );
    assert_eq!(
        wuts_wa_server::stanza::attr(node, "v").as_deref(),
        Some("2")
    );
    assert!(
        wuts_wa_server::stanza::child(biz[0], "quality_control").is_some(),
        "{}",
        message.render()
    );
    assert!(
        message.nodes_named("bot").is_empty(),
        "{}",
        message.render()
    );
    assert_eq!(message.attr("type"), Some("media"), "{}", message.render());
    let types = enc_media_types(&message);
    assert!(!types.is_empty());
    assert!(
        types.iter().all(|t| t.as_deref() == Some("list")),
        "{types:?}"
    );
}

#[test]
fn the_offline_whatsapp_server_receives_the_list_response_without_business_nodes() {
    let rig = connected_rig(&["list"]);
    let list_id = rig.send_ok(LIST, &documented_list());
    let id = rig.send_ok(
        RESPONSE,
        &json!({"to": PHONE, "selected_row_id": "tea", "quoted": {"message_id": list_id}}),
    );
    let message = rig.received(&id);
    let response = message
        .message
        .as_ref()
        .and_then(|m| m.list_response_message.as_option())
        .unwrap_or_else(|| panic!("a listResponseMessage: {}", message.render()));
    assert_eq!(response.title.as_deref(), Some("Tea"));
    assert_eq!(
        response
            .single_select_reply
            .as_option()
            .and_then(|reply| reply.selected_row_id.as_deref()),
        Some("tea")
    );
    let context = response.context_info.as_option().expect("a contextInfo");
    assert_eq!(context.stanza_id.as_deref(), Some(list_id.as_str()));
    assert!(
        context
            .quoted_message
            .as_option()
            .is_some_and(|quoted| quoted.list_message.is_set()),
        "the list is quoted whole: {}",
        message.render()
    );
    assert!(
        message.nodes_named("biz").is_empty(),
        "{}",
        message.render()
    );
    assert_eq!(message.attr("type"), Some("media"), "{}", message.render());
    let types = enc_media_types(&message);
    assert!(!types.is_empty());
    assert!(
        types.iter().all(|t| t.as_deref() == Some("list_response")),
        "{types:?}"
    );
}
