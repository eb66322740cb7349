//! `POST /send/location` and `POST /send/live-location`: the messages (sandbox outbox,
//! decoded), bad input refused in the legacy envelope naming the field with nothing sent,
//! and what the offline WhatsApp server receives from the real driver.

mod send_support;

use send_support::{
    assert_outbox_empty, connected_rig, enc_media_types, legacy_invalid, legacy_sent, outbox_entry,
    post, sandbox,
};
use serde_json::{Value, json};
use wuts_e2e::checks::{Cases, legacy_error};
use wuts_e2e::{PHONE, PHONE_JID, Server, User};

const PIN: &str = "/send/location";
const LIVE: &str = "/send/live-location";

fn documented_pin() -> Value {
    json!({"to": PHONE, "latitude": -23.55052, "longitude": -46.633308, "name": "Praca da Se",
        "address": "Praca da Se, Se, Sao Paulo - SP",
        "url": "https://maps.example.com/?q=-23.55052,-46.633308", "comment": "Meet me here at noon"})
}

fn documented_live() -> Value {
    json!({"to": PHONE, "latitude": -23.55052, "longitude": -46.633308, "accuracy_in_meters": 12,
        "speed_in_mps": 1.4, "degrees_clockwise_from_magnetic_north": 90, "caption": "On my way",
        "sequence_number": 1, "time_offset": 0, "duration_in_seconds": 900})
}

/// Sends, asserts the legacy 200, and returns the outbox message.
#[track_caller]
fn send_ok(server: &Server, user: &User, route: &str, body: &Value, text: &str) -> Value {
    let (status, reply) = post(server, user, route, body);
    let id = legacy_sent(status, &reply, text, &[]);
    let entry = outbox_entry(server, user, &id, route, PHONE_JID);
    assert_eq!(entry["stanza_nodes"], json!([]), "{entry}");
    entry["message"].clone()
}

#[test]
fn the_documented_pin_is_a_location_message() {
    let (server, user) = sandbox(&["location"]);
    let message = send_ok(
        &server,
        &user,
        PIN,
        &documented_pin(),
        "Location sent successfully",
    );
    assert_eq!(
        message,
        json!({"locationMessage": {
            "degreesLatitude": -23.55052, "degreesLongitude": -46.633308,
            "name": "Praca da Se", "address": "Praca da Se, Se, Sao Paulo - SP",
            "url": "https://maps.example.com/?q=-23.55052,-46.633308",
            "comment": "Meet me here at noon"
        }})
    );
    // Only the point is required; the edges of the ranges are in.
    let message = send_ok(
        &server,
        &user,
        PIN,
        &json!({"to": PHONE, "latitude": 90, "longitude": -180, "name": ""}),
        "Location sent successfully",
    );
    assert_eq!(
        message,
        json!({"locationMessage": {"degreesLatitude": 90.0, "degreesLongitude": -180.0}})
    );
}

#[test]
fn the_documented_live_point_is_a_live_location_message() {
    let (server, user) = sandbox(&["location"]);
    let message = send_ok(
        &server,
        &user,
        LIVE,
        &documented_live(),
        "Live location sent successfully",
    );
    let live = &message["liveLocationMessage"];
    assert_eq!(live["degreesLatitude"], json!(-23.55052), "{message}");
    assert_eq!(live["degreesLongitude"], json!(-46.633308));
    assert_eq!(live["accuracyInMeters"], json!(12));
    assert!(
        (live["speedInMps"].as_f64().unwrap() - 1.4).abs() < 1e-6,
        "{live}"
    );
    assert_eq!(live["degreesClockwiseFromMagneticNorth"], json!(90));
    assert_eq!(live["caption"], json!("On my way"));
    assert_eq!(live["sequenceNumber"], json!(1));
    assert_eq!(live["timeOffset"], json!(0));
    assert_eq!(
        message.as_object().unwrap().len(),
        1,
        "only the live location: {message}"
    );
}

#[test]
fn bad_input_is_a_legacy_400_naming_the_field_and_sends_nothing() {
    let (server, user) = sandbox(&["location"]);
    let pin = json!({"to": PHONE, "latitude": 1.5, "longitude": 2.5});
    let set =
        |body: &Value, key: &str, value: Value| send_support::with(body, &format!("/{key}"), value);
    let drop = |body: &Value, key: &str| send_support::without(body, &format!("/{key}"));
    let live = documented_live();
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        ("no to", PIN, drop(&pin, "to"), "to"),
        ("empty to", PIN, set(&pin, "to", json!("")), "to"),
        ("no latitude", PIN, drop(&pin, "latitude"), "latitude"),
        ("no longitude", PIN, drop(&pin, "longitude"), "longitude"),
        (
            "latitude 91",
            PIN,
            set(&pin, "latitude", json!(91)),
            "latitude",
        ),
        (
            "latitude -90.5",
            PIN,
            set(&pin, "latitude", json!(-90.5)),
            "latitude",
        ),
        (
            "longitude 181",
            PIN,
            set(&pin, "longitude", json!(181)),
            "longitude",
        ),
        (
            "latitude as a string",
            PIN,
            set(&pin, "latitude", json!("-23.5")),
            "latitude",
        ),
        ("name as a number", PIN, set(&pin, "name", json!(7)), "name"),
        (
            "name of 257",
            PIN,
            set(&pin, "name", json!("n".repeat(257))),
            "name",
        ),
        (
            "address of 1025",
            PIN,
            set(&pin, "address", json!("a".repeat(1025))),
            "address",
        ),
        (
            "url not http",
            PIN,
            set(&pin, "url", json!("ftp://example.com/x")),
            "url",
        ),
        ("url not a URL", PIN, set(&pin, "url", json!("maps")), "url"),
        (
            "comment as an array",
            PIN,
            set(&pin, "comment", json!(["x"])),
            "comment",
        ),
        ("live: no to", LIVE, drop(&live, "to"), "to"),
        (
            "live: latitude 91",
            LIVE,
            set(&live, "latitude", json!(91)),
            "latitude",
        ),
        (
            "live: no longitude",
            LIVE,
            drop(&live, "longitude"),
            "longitude",
        ),
        (
            "live: negative accuracy",
            LIVE,
            set(&live, "accuracy_in_meters", json!(-1)),
            "accuracy_in_meters",
        ),
        (
            "live: speed as a string",
            LIVE,
            set(&live, "speed_in_mps", json!("fast")),
            "speed_in_mps",
        ),
        (
            "live: heading 360",
            LIVE,
            set(&live, "degrees_clockwise_from_magnetic_north", json!(360)),
            "degrees_clockwise_from_magnetic_north",
        ),
        (
            "live: caption of 1025",
            LIVE,
            set(&live, "caption", json!("c".repeat(1025))),
            "caption",
        ),
        (
            "live: fractional sequence",
            LIVE,
            set(&live, "sequence_number", json!(1.5)),
            "sequence_number",
        ),
        (
            "live: negative offset",
            LIVE,
            set(&live, "time_offset", json!(-5)),
            "time_offset",
        ),
        (
            "live: zero duration",
            LIVE,
            set(&live, "duration_in_seconds", json!(0)),
            "duration_in_seconds",
        ),
        (
            "live: duration over a day",
            LIVE,
            set(&live, "duration_in_seconds", json!(86_401)),
            "duration_in_seconds",
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
    checks.check("the documented recipient errors", || {
        let (status, reply) = post(&server, &user, PIN, &set(&pin, "to", json!("abc")));
        assert_eq!(
            reply,
            json!({"error": "Invalid recipient JID: invalid number"}),
            "{status}"
        );
        let (status, reply) = post(&server, &user, LIVE, &set(&live, "to", json!("")));
        assert_eq!(status, 400);
        assert_eq!(
            reply,
            json!({"error": "Invalid recipient JID: empty input"})
        );
    });
    checks.check("an array body", || {
        let (status, reply) = post(&server, &user, LIVE, &json!([1, 2]));
        legacy_error(status, &reply, 400);
    });
    checks.finish();
    assert_outbox_empty(&server, &user);
}

#[test]
fn the_offline_whatsapp_server_receives_a_pin_and_a_live_point() {
    let rig = connected_rig(&["location"]);
    let id = rig.send_ok(PIN, &documented_pin());
    let message = rig.received(&id);
    let pin = message
        .message
        .as_ref()
        .and_then(|m| m.location_message.as_option())
        .unwrap_or_else(|| panic!("a locationMessage: {}", message.render()));
    assert_eq!(pin.degrees_latitude, Some(-23.55052));
    assert_eq!(pin.degrees_longitude, Some(-46.633308));
    assert_eq!(pin.name.as_deref(), Some("Praca da Se"));
    assert_eq!(pin.comment.as_deref(), Some("Meet me here at noon"));
    assert_eq!(message.attr("type"), Some("media"), "{}", message.render());
    let types = enc_media_types(&message);
    assert!(!types.is_empty());
    assert!(
        types.iter().all(|t| t.as_deref() == Some("location")),
        "{}",
        message.render()
    );

    let id = rig.send_ok(LIVE, &documented_live());
    let message = rig.received(&id);
    let live = message
        .message
        .as_ref()
        .and_then(|m| m.live_location_message.as_option())
        .unwrap_or_else(|| panic!("a liveLocationMessage: {}", message.render()));
    assert_eq!(live.caption.as_deref(), Some("On my way"));
    assert_eq!(live.accuracy_in_meters, Some(12));
    assert_eq!(live.degrees_clockwise_from_magnetic_north, Some(90));
    assert!(
        enc_media_types(&message)
            .iter()
            .all(|t| t.as_deref() == Some("livelocation")),
        "{}",
        message.render()
    );
    assert!(message.nodes_named("biz").is_empty());
}
