//! `POST /send/contact` and `POST /send/contacts`: the cards (sandbox outbox, decoded, the
//! vCards read back), bad input refused in the legacy envelope naming the field with
//! nothing sent, and what the offline WhatsApp server receives from the real driver.

mod send_support;

use send_support::{
    assert_outbox_empty, connected_rig, enc_media_types, legacy_invalid, legacy_sent, outbox_entry,
    post, sandbox, with, without,
};
use serde_json::{Value, json};
use wuts_e2e::checks::{Cases, legacy_error};
use wuts_e2e::{PHONE, PHONE_JID, Server, User};

const ONE: &str = "/send/contact";
const MANY: &str = "/send/contacts";

fn maria() -> Value {
    json!({"display_name": "Maria Silva", "phone": "5511988887777", "first_name": "Maria",
        "last_name": "Silva", "company": "WUTS", "email": "maria@example.com"})
}

fn documented_contacts() -> Value {
    json!({"to": PHONE, "contacts": [
        {"display_name": "Maria Silva", "phone": "5511988887777", "company": "WUTS",
         "email": "maria@example.com"},
        {"display_name": "Joao Souza", "phone": "5511977776666", "first_name": "Joao",
         "last_name": "Souza"}
    ]})
}

#[track_caller]
fn send_ok(
    server: &Server,
    user: &User,
    route: &str,
    body: &Value,
    text: &str,
    extra: &[&str],
) -> (Value, Value) {
    let (status, reply) = post(server, user, route, body);
    let id = legacy_sent(status, &reply, text, extra);
    let entry = outbox_entry(server, user, &id, route, PHONE_JID);
    assert_eq!(entry["stanza_nodes"], json!([]), "{entry}");
    (reply, entry["message"].clone())
}

/// A vCard's lines.
fn lines(vcard: &Value) -> Vec<&str> {
    vcard
        .as_str()
        .unwrap_or_else(|| panic!("a vcard string: {vcard}"))
        .split('\n')
        .collect()
}

#[test]
fn the_documented_contact_is_one_vcard_3_card() {
    let (server, user) = sandbox(&["contact"]);
    let (_, message) = send_ok(
        &server,
        &user,
        ONE,
        &json!({"to": PHONE, "contact": maria()}),
        "Contact sent successfully",
        &[],
    );
    let contact = &message["contactMessage"];
    assert_eq!(contact["displayName"], json!("Maria Silva"), "{message}");
    assert_eq!(
        lines(&contact["vcard"]),
        [
            "BEGIN:VCARD",
            "VERSION:3.0",
            "N:Silva;Maria;;;",
            "FN:Maria Silva",
            "ORG:WUTS",
            "TEL;type=CELL;waid=5511988887777:+5511988887777",
            "EMAIL;type=INTERNET:maria@example.com",
            "END:VCARD",
        ]
    );
}

#[test]
fn special_characters_are_escaped_and_the_phone_normalised() {
    let (server, user) = sandbox(&["contact"]);
    let contact = json!({"display_name": "Souza, João; the \\ boss\nline two",
        "phone": "+55 (11) 97777-6666", "company": "Acme; Ltda, SP"});
    let (_, message) = send_ok(
        &server,
        &user,
        ONE,
        &json!({"to": PHONE, "contact": contact}),
        "Contact sent successfully",
        &[],
    );
    let contact = &message["contactMessage"];
    assert_eq!(
        contact["displayName"],
        json!("Souza, João; the \\ boss\nline two"),
        "the display name is the caller's text: {message}"
    );
    assert_eq!(
        lines(&contact["vcard"]),
        [
            "BEGIN:VCARD",
            "VERSION:3.0",
            "N:;Souza\\, João\\; the \\\\ boss\\nline two;;;",
            "FN:Souza\\, João\\; the \\\\ boss\\nline two",
            "ORG:Acme\\; Ltda\\, SP",
            "TEL;type=CELL;waid=5511977776666:+5511977776666",
            "END:VCARD",
        ]
    );
}

#[test]
fn the_documented_contacts_are_one_contacts_array_message() {
    let (server, user) = sandbox(&["contact"]);
    let (reply, message) = send_ok(
        &server,
        &user,
        MANY,
        &documented_contacts(),
        "Contacts sent successfully",
        &["contact_count"],
    );
    assert_eq!(reply["contact_count"], json!(2), "{reply}");
    let array = &message["contactsArrayMessage"];
    assert_eq!(array["displayName"], json!("2 contacts"), "{message}");
    let contacts = array["contacts"].as_array().expect("contacts");
    assert_eq!(contacts.len(), 2);
    assert_eq!(contacts[0]["displayName"], json!("Maria Silva"));
    assert_eq!(
        lines(&contacts[0]["vcard"]),
        [
            "BEGIN:VCARD",
            "VERSION:3.0",
            "N:;Maria Silva;;;",
            "FN:Maria Silva",
            "ORG:WUTS",
            "TEL;type=CELL;waid=5511988887777:+5511988887777",
            "EMAIL;type=INTERNET:maria@example.com",
            "END:VCARD",
        ]
    );
    assert_eq!(contacts[1]["displayName"], json!("Joao Souza"));
    assert!(
        lines(&contacts[1]["vcard"]).contains(&"N:Souza;Joao;;;"),
        "{message}"
    );

    // One contact is still a contacts array on this route.
    let (reply, message) = send_ok(
        &server,
        &user,
        MANY,
        &json!({"to": PHONE, "contacts": [maria()]}),
        "Contacts sent successfully",
        &["contact_count"],
    );
    assert_eq!(reply["contact_count"], json!(1));
    assert_eq!(
        message["contactsArrayMessage"]["contacts"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn bad_input_is_a_legacy_400_naming_the_field_and_sends_nothing() {
    let (server, user) = sandbox(&["contact"]);
    let one = json!({"to": PHONE, "contact": maria()});
    let many = documented_contacts();
    let fifty_one: Vec<Value> = (0..51).map(|_| maria()).collect();
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        ("no to", ONE, without(&one, "/to"), "to"),
        ("bad to", ONE, with(&one, "/to", json!("12")), "to"),
        ("no contact", ONE, without(&one, "/contact"), "contact"),
        (
            "contact as a string",
            ONE,
            with(&one, "/contact", json!("Maria")),
            "contact",
        ),
        (
            "no display_name",
            ONE,
            without(&one, "/contact/display_name"),
            "contact.display_name",
        ),
        (
            "empty display_name",
            ONE,
            with(&one, "/contact/display_name", json!("")),
            "contact.display_name",
        ),
        (
            "display_name of 257",
            ONE,
            with(&one, "/contact/display_name", json!("d".repeat(257))),
            "contact.display_name",
        ),
        (
            "no phone",
            ONE,
            without(&one, "/contact/phone"),
            "contact.phone",
        ),
        (
            "empty phone",
            ONE,
            with(&one, "/contact/phone", json!("")),
            "contact.phone",
        ),
        (
            "phone as a number",
            ONE,
            with(&one, "/contact/phone", json!(5511988887777u64)),
            "contact.phone",
        ),
        (
            "phone of 6 digits",
            ONE,
            with(&one, "/contact/phone", json!("123456")),
            "contact.phone",
        ),
        (
            "phone of 21 digits",
            ONE,
            with(&one, "/contact/phone", json!("1".repeat(21))),
            "contact.phone",
        ),
        (
            "phone with letters",
            ONE,
            with(&one, "/contact/phone", json!("55119abc")),
            "contact.phone",
        ),
        (
            "email without @",
            ONE,
            with(&one, "/contact/email", json!("maria.example.com")),
            "contact.email",
        ),
        (
            "company as a number",
            ONE,
            with(&one, "/contact/company", json!(1)),
            "contact.company",
        ),
        ("no contacts", MANY, without(&many, "/contacts"), "contacts"),
        (
            "contacts as an object",
            MANY,
            with(&many, "/contacts", maria()),
            "contacts",
        ),
        (
            "51 contacts",
            MANY,
            with(&many, "/contacts", Value::Array(fifty_one)),
            "contacts",
        ),
        (
            "a contact that is not an object",
            MANY,
            with(&many, "/contacts/1", json!("Joao")),
            "contacts[1]",
        ),
        (
            "a second contact without a phone",
            MANY,
            without(&many, "/contacts/1/phone"),
            "contacts[1].phone",
        ),
        (
            "a bad second phone",
            MANY,
            with(&many, "/contacts/1/phone", json!("+0 11")),
            "contacts[1].phone",
        ),
    ];
    let mut checks = Cases::new();
    for (name, route, body, field) in cases {
        checks.check(name, || {
            let (status, reply) = post(&server, &user, route, &body);
            if field == "to" {
                // WUTS's own text for a bad recipient on this route.
                let text = legacy_error(status, &reply, 400);
                assert!(text.starts_with("Invalid recipient JID: "), "{text}");
            } else {
                legacy_invalid(status, &reply, field);
            }
        });
    }
    checks.check("an empty contacts array: WUTS's own text", || {
        let (status, reply) = post(&server, &user, MANY, &with(&many, "/contacts", json!([])));
        assert_eq!(
            legacy_error(status, &reply, 400),
            "Key: 'SendContactsRequest.Contacts' Error:Field validation for 'Contacts' failed on the 'min' tag"
        );
    });
    checks.finish();
    assert_outbox_empty(&server, &user);
}

#[test]
fn the_offline_whatsapp_server_receives_a_vcard_and_a_contact_array() {
    let rig = connected_rig(&["contact"]);
    let id = rig.send_ok(ONE, &json!({"to": PHONE, "contact": maria()}));
    let message = rig.received(&id);
    let contact = message
        .message
        .as_ref()
        .and_then(|m| m.contact_message.as_option())
        .unwrap_or_else(|| panic!("a contactMessage: {}", message.render()));
    assert_eq!(contact.display_name.as_deref(), Some("Maria Silva"));
    assert!(
        contact
            .vcard
            .as_deref()
            .is_some_and(|v| v.contains("TEL;type=CELL;waid=5511988887777:+5511988887777")),
        "{contact:?}"
    );
    assert_eq!(message.attr("type"), Some("media"), "{}", message.render());
    let types = enc_media_types(&message);
    assert!(!types.is_empty());
    assert!(
        types.iter().all(|t| t.as_deref() == Some("vcard")),
        "{}",
        message.render()
    );

    let id = rig.send_ok(MANY, &documented_contacts());
    let message = rig.received(&id);
    let array = message
        .message
        .as_ref()
        .and_then(|m| m.contacts_array_message.as_option())
        .unwrap_or_else(|| panic!("a contactsArrayMessage: {}", message.render()));
    assert_eq!(array.contacts.len(), 2);
    assert!(
        enc_media_types(&message)
            .iter()
            .all(|t| t.as_deref() == Some("contact_array")),
        "{}",
        message.render()
    );
}
