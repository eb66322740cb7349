//! `POST /send/template`: the interactive message and its nodes (sandbox outbox, decoded),
//! an image header uploaded through the host, bad input refused as WUTS documents it
//! with nothing sent, `delay`, and what the offline WhatsApp server receives from the
//! real driver.

mod send_support;

use std::time::{Duration, Instant};

use send_support::{
    assert_outbox_empty, connected_rig, outbox_entry, post, sandbox, standard_invalid, with,
    without,
};
use serde_json::{Value, json};
use wuts_e2e::checks::{self, Cases};
use wuts_e2e::{PHONE, PHONE_JID, Server, User};

const ROUTE: &str = "/send/template";
const GROUP: &str = "120363025246125486@g.us";

fn example() -> Value {
    json!({"number": PHONE, "body": "Your order #4821 is ready for pickup.", "footer": "WUTS Store",
        "header": {"type": "text", "text": "Order update"},
        "buttons": [
            {"type": "quick_reply", "text": "Track order", "id": "track_4821"},
            {"type": "url", "text": "Open store", "url": "https://store.example.com/orders/4821"},
            {"type": "call", "text": "Call us", "phone_number": "5511988887777"}],
        "delay": 0})
}

/// Sends, asserts the documented 200 (exactly its five keys), and returns the outbox entry.
#[track_caller]
fn send_ok(server: &Server, user: &User, body: &Value, chat: &str) -> Value {
    let (status, reply) = post(server, user, ROUTE, body);
    assert_eq!(status, 200, "{reply}");
    let mut keys: Vec<&str> = reply
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["chat_jid", "message_id", "status", "success", "timestamp"],
        "{reply}"
    );
    assert_eq!(reply["status"], json!("sent"));
    assert_eq!(reply["chat_jid"], json!(chat));
    let id = reply["message_id"].as_str().unwrap();
    checks::message_id(id);
    outbox_entry(server, user, id, ROUTE, chat)
}

fn buttons_of(entry: &Value) -> Vec<(String, Value)> {
    entry["message"]["interactiveMessage"]["nativeFlowMessage"]["buttons"]
        .as_array()
        .unwrap_or_else(|| panic!("native flow buttons: {entry}"))
        .iter()
        .map(|button| {
            let params = button["buttonParamsJSON"].as_str().expect("params JSON");
            (
                button["name"].as_str().unwrap().to_owned(),
                serde_json::from_str(params).expect("JSON params"),
            )
        })
        .collect()
}

#[test]
fn the_documented_example_is_a_native_flow_message_that_renders() {
    let (server, user) = sandbox(&["template"]);
    let entry = send_ok(&server, &user, &example(), PHONE_JID);
    let interactive = &entry["message"]["interactiveMessage"];
    assert_eq!(
        interactive["header"],
        json!({"title": "Order update", "hasMediaAttachment": false})
    );
    assert_eq!(
        interactive["body"],
        json!({"text": "Your order #4821 is ready for pickup."})
    );
    assert_eq!(interactive["footer"], json!({"text": "WUTS Store"}));
    assert_eq!(interactive["nativeFlowMessage"]["messageVersion"], json!(1));
    assert_eq!(
        buttons_of(&entry),
        [
            (
                "quick_reply".to_owned(),
                json!({"display_text": "Track order", "id": "track_4821"})
            ),
            (
                "cta_url".to_owned(),
                json!({"display_text": "Open store", "url": "https://store.example.com/orders/4821",
                       "merchant_url": "https://store.example.com/orders/4821"})
            ),
            (
                "cta_call".to_owned(),
                json!({"display_text": "Call us", "phone_number": "+5511988887777"})
            ),
        ]
    );
    checks::buttons_stanza_nodes(&entry, false);

    // In a group: the <biz> alone, no <bot>.
    let group = send_ok(
        &server,
        &user,
        &with(&example(), "/number", json!(GROUP)),
        GROUP,
    );
    checks::buttons_stanza_nodes(&group, true);
}

#[test]
fn an_image_header_is_uploaded_and_carried() {
    let (server, user) = sandbox(&["template"]);
    // A 1x1 PNG.
    let png: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0,
        0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89, 0, 0, 0, 0x0A, 0x49, 0x44,
        0x41, 0x54, 0x78, 0x9C, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0D, 0x0A, 0x2D, 0xB4, 0, 0, 0, 0,
        0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
    let body = with(
        &example(),
        "/header",
        json!({"type": "image", "image": format!("data:image/png;base64,{}",
                 wuts_e2e::audio_fixtures::base64(png))}),
    );
    let entry = send_ok(&server, &user, &body, PHONE_JID);
    let header = &entry["message"]["interactiveMessage"]["header"];
    assert_eq!(header["hasMediaAttachment"], json!(true), "{entry}");
    let image = &header["imageMessage"];
    assert_eq!(image["mimetype"], json!("image/png"), "{entry}");
    assert_eq!(image["fileLength"], json!(png.len()), "{entry}");
    let url = image["url"].as_str().expect("an uploaded url");
    let media = server.client().get(url, user.auth());
    assert_eq!(media.status, 200, "{url}");
    assert_eq!(media.body, png, "the upload is the image");
    assert_eq!(entry["media"].as_array().map(Vec::len), Some(1), "{entry}");
}

#[test]
fn delay_is_honoured_before_sending() {
    let (server, user) = sandbox(&["template"]);
    let started = Instant::now();
    send_ok(
        &server,
        &user,
        &with(&example(), "/delay", json!(1000)),
        PHONE_JID,
    );
    assert!(started.elapsed() >= Duration::from_millis(1000));
}

#[test]
fn bad_input_is_a_400_as_documented_and_sends_nothing() {
    let (server, user) = sandbox(&["template"]);
    let ok = example();
    let four = json!([
        {"type": "quick_reply", "text": "A", "id": "a"}, {"type": "quick_reply", "text": "B", "id": "b"},
        {"type": "quick_reply", "text": "C", "id": "c"}, {"type": "quick_reply", "text": "D", "id": "d"}]);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("no number", without(&ok, "/number"), "number"),
        ("bad number", with(&ok, "/number", json!("abc")), "number"),
        ("no body", without(&ok, "/body"), "body"),
        (
            "body of 1025",
            with(&ok, "/body", json!("b".repeat(1025))),
            "body",
        ),
        ("body as a number", with(&ok, "/body", json!(1)), "body"),
        (
            "footer of 61",
            with(&ok, "/footer", json!("f".repeat(61))),
            "footer",
        ),
        ("no buttons", without(&ok, "/buttons"), "buttons"),
        ("empty buttons", with(&ok, "/buttons", json!([])), "buttons"),
        ("four buttons", with(&ok, "/buttons", four), "buttons"),
        (
            "an unknown button kind",
            with(&ok, "/buttons/1/type", json!("copy")),
            "buttons[1].type",
        ),
        (
            "a button without a kind",
            without(&ok, "/buttons/0/type"),
            "buttons[0].type",
        ),
        (
            "button text of 21",
            with(&ok, "/buttons/0/text", json!("t".repeat(21))),
            "buttons[0].text",
        ),
        (
            "empty button text",
            with(&ok, "/buttons/2/text", json!("")),
            "buttons[2].text",
        ),
        (
            "a quick reply without an id",
            without(&ok, "/buttons/0/id"),
            "buttons[0].id",
        ),
        (
            "a url button without a url",
            without(&ok, "/buttons/1/url"),
            "buttons[1].url",
        ),
        (
            "a url that is not http",
            with(&ok, "/buttons/1/url", json!("javascript:alert(1)")),
            "buttons[1].url",
        ),
        (
            "a call button without a number",
            without(&ok, "/buttons/2/phone_number"),
            "buttons[2].phone_number",
        ),
        (
            "a call number with letters",
            with(&ok, "/buttons/2/phone_number", json!("call me")),
            "buttons[2].phone_number",
        ),
        (
            "duplicate quick reply ids",
            with(
                &ok,
                "/buttons/2",
                json!({"type": "quick_reply", "text": "Again", "id": "track_4821"}),
            ),
            "buttons[2].id",
        ),
        (
            "an unknown header kind",
            with(&ok, "/header/type", json!("video")),
            "header.type",
        ),
        (
            "a text header without text",
            without(&ok, "/header/text"),
            "header.text",
        ),
        (
            "an image header without an image",
            with(&ok, "/header", json!({"type": "image"})),
            "header.image",
        ),
        (
            "an image header with both sources",
            with(
                &ok,
                "/header",
                json!({"type": "image", "image": "aGk=", "image_url": "https://example.com/a.png"}),
            ),
            "header.image",
        ),
        (
            "delay over a minute",
            with(&ok, "/delay", json!(60_001)),
            "delay",
        ),
    ];
    let mut checks = Cases::new();
    for (name, body, field) in cases {
        checks.check(name, || {
            let (status, reply) = post(&server, &user, ROUTE, &body);
            assert_eq!(
                standard_invalid(status, &reply, field),
                "validation failed",
                "{reply}"
            );
        });
    }
    checks.check("an empty body: WUTS's example, to the letter", || {
        let (status, reply) = post(&server, &user, ROUTE, &with(&ok, "/body", json!("")));
        standard_invalid(status, &reply, "body");
        assert_eq!(
            reply["validation"][0]["message"],
            json!("body cannot be empty")
        );
    });
    checks.check("an image header that is not an image", || {
        let body = with(
            &ok,
            "/header",
            json!({"type": "image", "image": wuts_e2e::audio_fixtures::base64(b"GIF89a not really")}),
        );
        let (status, reply) = post(&server, &user, ROUTE, &body);
        assert_eq!(status, 400, "{reply}");
        assert_eq!(reply["error_code"], json!("IMAGE_UNSUPPORTED"), "{reply}");
    });
    checks.finish();
    assert_outbox_empty(&server, &user);
}

#[test]
fn the_offline_whatsapp_server_receives_the_template_with_one_mixed_biz() {
    let rig = connected_rig(&["template"]);
    let id = rig.send_ok(ROUTE, &example());
    let message = rig.received(&id);
    let interactive = message
        .message
        .as_ref()
        .and_then(|m| m.interactive_message.as_option())
        .unwrap_or_else(|| panic!("an interactiveMessage: {}", message.render()));
    assert_eq!(
        interactive.body.as_option().and_then(|b| b.text.as_deref()),
        Some("Your order #4821 is ready for pickup.")
    );
    let biz = message.nodes_named("biz");
    assert_eq!(biz.len(), 1, "exactly one <biz>: {}", message.render());
    let flow = wuts_wa_server::stanza::child(biz[0], "interactive")
        .and_then(|interactive| wuts_wa_server::stanza::child(interactive, "native_flow"))
        .unwrap_or_else(|| panic!("a nested native flow: {}", message.render()));
    assert_eq!(
        wuts_wa_server::stanza::attr(flow, "name").as_deref(),
        Some("mixed")
    );
    assert_eq!(message.nodes_named("bot").len(), 1, "{}", message.render());
    assert_eq!(message.attr("type"), Some("text"), "{}", message.render());
}
