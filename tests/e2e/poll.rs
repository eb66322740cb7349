//! `POST /send/poll`: single and multiple choice polls decoded from the sandbox outbox,
//! each with a fresh 32-byte `messageSecret`; votes built from that secret (by
//! whatsapp-rust's own vote encryption, its key checked against the derivation written
//! out here) and received through `POST /sandbox/inbound` arrive as `poll.vote` with the
//! option names, and votes that cannot be read as `message.received`; bad input is a
//! legacy 400 naming the field with nothing sent; and through the real driver, the
//! offline WhatsApp server decodes the poll and the votes it pushes back (phone number
//! and LID voters) come out as `poll.vote`.

mod send_support;

use hmac::{Hmac, Mac};
use send_support::{
    assert_outbox_empty, connected_rig, legacy_invalid, legacy_sent, outbox_entry, post, sandbox,
    with, without,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wuts_e2e::checks::Cases;
use wuts_e2e::sse::{self, SseEvent};
use wuts_e2e::{PHONE, PHONE_JID, Server, ServerOptions, User};
use wuts_wa_server::InboundOptions;
use wuts_wa_server::whatsapp_rust::buffa::MessageField;
use wuts_wa_server::whatsapp_rust::wacore::poll as wa_poll;
use wuts_wa_server::whatsapp_rust::waproto::whatsapp as wa;

const ROUTE: &str = "/send/poll";
const OPTIONS: [&str; 3] = [
    "Morning (8h-12h)",
    "Afternoon (12h-18h)",
    "Evening (18h-21h)",
];

/// The documented example (the WUTS docs, `sendPollMessage`).
fn example() -> Value {
    json!({"to": PHONE, "question": "Which delivery slot works best for you?",
        "options": OPTIONS.iter().map(|name| json!({"option_name": name})).collect::<Vec<_>>(),
        "allow_multiple_answers": false})
}

/// Sends `body`, asserts the documented 200, and returns (message id, outbox entry).
#[track_caller]
fn send_ok(server: &Server, user: &User, body: &Value) -> (String, Value) {
    let (status, reply) = post(server, user, ROUTE, body);
    let id = legacy_sent(
        status,
        &reply,
        "Poll sent successfully",
        &["multiple_choice", "options_count"],
    );
    let options = body["options"].as_array().unwrap().len();
    assert_eq!(reply["options_count"], json!(options), "{reply}");
    assert_eq!(
        reply["multiple_choice"],
        json!(body["allow_multiple_answers"] == json!(true)),
        "{reply}"
    );
    let entry = outbox_entry(server, user, &id, ROUTE, PHONE_JID);
    (id, entry)
}

/// The 32 bytes of an outbox entry's `messageContextInfo.messageSecret`.
#[track_caller]
fn secret_of(entry: &Value) -> Vec<u8> {
    let secret: Vec<u8> = entry["message"]["messageContextInfo"]["messageSecret"]
        .as_array()
        .unwrap_or_else(|| panic!("a messageSecret: {entry}"))
        .iter()
        .map(|byte| u8::try_from(byte.as_u64().unwrap()).unwrap())
        .collect();
    assert_eq!(secret.len(), 32, "{entry}");
    secret
}

/// The sandbox device's own JID: the poll's creator.
fn own_jid(server: &Server, user: &User) -> String {
    let (status, reply) = server.get("/status", &user.token);
    assert_eq!(status, 200, "{reply}");
    reply["jid"].as_str().expect("a jid").to_owned()
}

/// The vote key written out as Baileys' `decryptPollVote` does (HKDF-SHA256 of the
/// secret, no salt, as two HMACs): the e2e check that the derivation is the one
/// whatsapp-rust encrypts with below.
fn vote_key_by_hand(secret: &[u8], poll_id: &str, creator: &str, voter: &str) -> Vec<u8> {
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    };
    let key0 = hmac(&[0; 32], secret);
    hmac(
        &key0,
        &[poll_id, creator, voter, "Poll Vote", "\u{1}"]
            .concat()
            .into_bytes(),
    )
}

/// A `pollUpdateMessage` voting for `selected` on `poll_id`, encrypted for (creator,
/// voter) under `secret` by whatsapp-rust (`wacore::poll`), whose key is checked against
/// [`vote_key_by_hand`]. `key_jid` is the poll key's `remoteJID`: the creator as the voter
/// sees them.
fn vote(
    secret: &[u8],
    poll_id: &str,
    creator: &str,
    voter: &str,
    key_jid: &str,
    selected: &[&str],
) -> wa::Message {
    assert_eq!(
        wa_poll::derive_vote_encryption_key(secret, poll_id, creator, voter)
            .unwrap()
            .to_vec(),
        vote_key_by_hand(secret, poll_id, creator, voter)
    );
    let hashes: Vec<Vec<u8>> = selected
        .iter()
        .map(|name| {
            let hash = wa_poll::compute_option_hash(name).to_vec();
            assert_eq!(hash, Sha256::digest(name.as_bytes()).to_vec());
            hash
        })
        .collect();
    let (payload, iv) =
        wa_poll::encrypt_poll_vote_with_secret(&hashes, secret, poll_id, creator, voter).unwrap();
    wa::Message {
        poll_update_message: MessageField::some(wa::message::PollUpdateMessage {
            poll_creation_message_key: MessageField::some(wa::MessageKey {
                remote_jid: Some(key_jid.into()),
                from_me: Some(false),
                id: Some(poll_id.into()),
                participant: None,
            }),
            vote: MessageField::some(wa::message::PollEncValue {
                enc_payload: Some(payload),
                enc_iv: Some(iv.to_vec()),
            }),
            sender_timestamp_ms: Some(1_781_530_330_000),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The same vote in the outbox's JSON spelling, for `POST /sandbox/inbound`.
fn vote_json(message: &wa::Message) -> Value {
    let update = message.poll_update_message.as_option().unwrap();
    let key = update.poll_creation_message_key.as_option().unwrap();
    let vote = update.vote.as_option().unwrap();
    json!({"pollUpdateMessage": {
        "pollCreationMessageKey": {"remoteJID": key.remote_jid, "fromMe": false, "ID": key.id},
        "vote": {"encPayload": vote.enc_payload, "encIV": vote.enc_iv},
        "senderTimestampMS": 1_781_530_330_000_i64,
    }})
}

fn inbound_ok(server: &Server, user: &User, from: &str, message: Value) -> String {
    let (status, reply) = post(
        server,
        user,
        "/sandbox/inbound",
        &json!({"from": from, "message": message}),
    );
    assert_eq!(status, 200, "{reply}");
    reply["message_id"].as_str().unwrap().to_owned()
}

#[track_caller]
fn poll_vote(event: &SseEvent) -> Value {
    assert_eq!(event.event, "poll.vote", "{event:?}");
    event.data["data"].clone()
}

#[test]
fn the_documented_example_is_a_single_choice_v3_poll_with_a_fresh_secret() {
    let (server, user) = sandbox(&["poll"]);
    let (_, entry) = send_ok(&server, &user, &example());
    let message = &entry["message"];
    assert_eq!(
        message["pollCreationMessageV3"],
        json!({"name": "Which delivery slot works best for you?",
            "options": [{"optionName": "Morning (8h-12h)"}, {"optionName": "Afternoon (12h-18h)"},
                        {"optionName": "Evening (18h-21h)"}],
            "selectableOptionsCount": 1, "pollContentType": "TEXT"}),
        "{entry}"
    );
    assert!(message.get("pollCreationMessage").is_none(), "{entry}");
    assert_eq!(entry["stanza_nodes"], json!([]), "{entry}");
    let first = secret_of(&entry);
    // Without allow_multiple_answers: single choice too.
    let (_, again) = send_ok(
        &server,
        &user,
        &without(&example(), "/allow_multiple_answers"),
    );
    assert!(
        again["message"]["pollCreationMessageV3"].is_object(),
        "{again}"
    );
    assert_ne!(secret_of(&again), first, "each poll has its own secret");
    assert_ne!(first, vec![0; 32]);
}

#[test]
fn multiple_choice_is_a_pollcreationmessage_with_any_number_selectable() {
    let (server, user) = sandbox(&["poll"]);
    let body = with(&example(), "/allow_multiple_answers", json!(true));
    let (_, entry) = send_ok(&server, &user, &body);
    let poll = &entry["message"]["pollCreationMessage"];
    assert_eq!(poll["options"].as_array().map(Vec::len), Some(3), "{entry}");
    // 0 is "any number" (the protobuf leaves a zero out of its JSON).
    assert!(
        poll.get("selectableOptionsCount")
            .is_none_or(|count| *count == json!(0)),
        "{entry}"
    );
    assert!(entry["message"].get("pollCreationMessageV3").is_none());
    secret_of(&entry);
}

#[test]
fn votes_received_through_the_sandbox_arrive_as_poll_vote_with_the_option_names() {
    let (server, user) = sandbox(&["poll"]);
    let creator = own_jid(&server, &user);
    let body = with(&example(), "/allow_multiple_answers", json!(true));
    let (poll_id, entry) = send_ok(&server, &user, &body);
    let secret = secret_of(&entry);
    let mut stream = sse::open_ok(&server, &user, "?events=poll.vote,message.received", None);

    // Two options, given in another order: named in the poll's order.
    let message = vote(
        &secret,
        &poll_id,
        &creator,
        PHONE_JID,
        &creator,
        &[OPTIONS[2], OPTIONS[0]],
    );
    let vote_id = inbound_ok(&server, &user, PHONE, vote_json(&message));
    let data = poll_vote(&stream.expect("the vote"));
    assert_eq!(data["poll_message_id"], json!(poll_id), "{data}");
    assert_eq!(data["voter"], json!(PHONE_JID), "{data}");
    assert_eq!(data["voter_lid"], Value::Null, "{data}");
    assert_eq!(
        data["selected_options"],
        json!(["Morning (8h-12h)", "Evening (18h-21h)"]),
        "{data}"
    );
    assert_eq!(data["message_id"], json!(vote_id), "{data}");
    assert_eq!(data["chat_jid"], json!(PHONE_JID), "{data}");

    // Taken back: no option.
    let message = vote(&secret, &poll_id, &creator, PHONE_JID, &creator, &[]);
    inbound_ok(&server, &user, PHONE, vote_json(&message));
    let data = poll_vote(&stream.expect("the vote taken back"));
    assert_eq!(data["selected_options"], json!([]), "{data}");

    // A vote for a poll this device never sent, and one under another secret: no
    // poll.vote, the message as before.
    let unknown = vote(
        &secret,
        "3EB0NOSUCHPOLL",
        &creator,
        PHONE_JID,
        &creator,
        &[OPTIONS[0]],
    );
    inbound_ok(&server, &user, PHONE, vote_json(&unknown));
    let event = stream.expect("the unknown poll's vote");
    assert_eq!(event.event, "message.received", "{event:?}");
    assert_eq!(event.data["data"]["message_type"], "poll_vote");
    assert_eq!(event.data["data"]["poll_message_id"], "3EB0NOSUCHPOLL");
    let forged = vote(
        &[7; 32],
        &poll_id,
        &creator,
        PHONE_JID,
        &creator,
        &[OPTIONS[1]],
    );
    inbound_ok(&server, &user, PHONE, vote_json(&forged));
    let event = stream.expect("the undecryptable vote");
    assert_eq!(event.event, "message.received", "{event:?}");
    assert_eq!(event.data["data"]["poll_message_id"], json!(poll_id));
    stream.assert_quiet();
}

#[test]
fn bad_input_is_a_legacy_400_naming_the_field_and_sends_nothing() {
    let (server, user) = sandbox(&["poll"]);
    let ok = example();
    let names = |count: usize| -> Value {
        (1..=count)
            .map(|n| json!({"option_name": format!("Option {n}")}))
            .collect()
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("no to", without(&ok, "/to"), "to"),
        ("a bad to", with(&ok, "/to", json!("12")), "to"),
        (
            "to as a number",
            with(&ok, "/to", json!(5511999999999_u64)),
            "to",
        ),
        ("no question", without(&ok, "/question"), "question"),
        (
            "an empty question",
            with(&ok, "/question", json!("")),
            "question",
        ),
        (
            "a blank question",
            with(&ok, "/question", json!("   ")),
            "question",
        ),
        (
            "a question of 256",
            with(&ok, "/question", json!("q".repeat(256))),
            "question",
        ),
        (
            "question as a number",
            with(&ok, "/question", json!(7)),
            "question",
        ),
        ("no options", without(&ok, "/options"), "options"),
        (
            "options as a string",
            with(&ok, "/options", json!("a,b")),
            "options",
        ),
        (
            "no option at all",
            with(&ok, "/options", json!([])),
            "options",
        ),
        ("one option", with(&ok, "/options", names(1)), "options"),
        ("13 options", with(&ok, "/options", names(13)), "options"),
        (
            "duplicate options",
            with(&ok, "/options/2/option_name", json!(OPTIONS[0])),
            "options[2].option_name",
        ),
        (
            "options equal but for spaces",
            with(&ok, "/options/1/option_name", json!(" Morning (8h-12h) ")),
            "options[1].option_name",
        ),
        (
            "an empty option name",
            with(&ok, "/options/1/option_name", json!("")),
            "options[1].option_name",
        ),
        (
            "an option name of 101",
            with(&ok, "/options/0/option_name", json!("o".repeat(101))),
            "options[0].option_name",
        ),
        (
            "an option name as a number",
            with(&ok, "/options/2/option_name", json!(3)),
            "options[2].option_name",
        ),
        (
            "an option without a name",
            with(&ok, "/options/0", json!({"name": "Morning"})),
            "options[0].option_name",
        ),
        (
            "an option as a plain string",
            with(&ok, "/options/0", json!("Morning")),
            "options[0]",
        ),
        (
            "allow_multiple_answers as a string",
            with(&ok, "/allow_multiple_answers", json!("yes")),
            "allow_multiple_answers",
        ),
    ];
    let mut checks = Cases::new();
    for (name, body, field) in cases {
        checks.check(name, || {
            let (status, reply) = post(&server, &user, ROUTE, &body);
            legacy_invalid(status, &reply, field);
        });
    }
    checks.check("a wrong option count reads as WUTS prints it", || {
        for count in [0, 1, 13] {
            let (status, reply) = post(&server, &user, ROUTE, &with(&ok, "/options", names(count)));
            assert_eq!(status, 400, "{reply}");
            assert_eq!(
                reply,
                json!({"error": "Poll must have between 2 and 12 options"})
            );
        }
    });
    checks.check("2 and 12 options are fine", || {
        for count in [2, 12] {
            let body = with(&ok, "/options", names(count));
            let (status, reply) = post(&server, &user, "/send/poll", &body);
            assert_eq!(status, 200, "{reply}");
        }
    });
    checks.finish();
    let sent = server.outbox(&user);
    assert_eq!(sent.len(), 2, "only the two good polls were sent: {sent:?}");
}

#[test]
fn a_disabled_poll_route_is_404_and_sends_nothing() {
    let server = Server::start(
        ServerOptions::default()
            .plugins(&["poll"])
            .required(&["poll"])
            .route(ROUTE, false),
    );
    let user = server.create_user(&wuts_e2e::unique("acme"), "alice");
    let (status, _) = post(&server, &user, ROUTE, &example());
    assert_eq!(status, 404);
    assert_outbox_empty(&server, &user);
}

/// The seeded device's own JID (`send_support::connected_rig`).
const RIG_JID: &str = "5511888888888@s.whatsapp.net";

#[test]
fn the_offline_whatsapp_server_receives_the_poll_and_its_votes_come_back_as_poll_vote() {
    let rig = connected_rig(&["poll"]);
    let id = rig.send_ok(ROUTE, &example());
    let message = rig.received(&id);
    let content = message
        .message
        .as_ref()
        .unwrap_or_else(|| panic!("a message: {}", message.render()));
    let poll = content
        .poll_creation_message_v3
        .as_option()
        .unwrap_or_else(|| panic!("a pollCreationMessageV3: {}", message.render()));
    assert_eq!(
        poll.name.as_deref(),
        Some("Which delivery slot works best for you?")
    );
    let names: Vec<&str> = poll
        .options
        .iter()
        .filter_map(|option| option.option_name.as_deref())
        .collect();
    assert_eq!(names, OPTIONS);
    assert_eq!(poll.selectable_options_count, Some(1));
    let secret = content
        .message_context_info
        .as_option()
        .and_then(|context| context.message_secret.clone())
        .unwrap_or_else(|| panic!("a messageSecret: {}", message.render()));
    assert_eq!(secret.len(), 32);
    // The library's stanza for a poll: type="poll" and <meta polltype="creation"/>.
    assert_eq!(message.attr("type"), Some("poll"), "{}", message.render());
    let meta = message.nodes_named("meta");
    assert_eq!(meta.len(), 1, "{}", message.render());
    assert_eq!(
        wuts_wa_server::stanza::attr(meta[0], "polltype").as_deref(),
        Some("creation")
    );

    // The recipient votes: the secret on the wire is the one the message log kept.
    let mut stream = sse::open_ok(&rig.server, &rig.user, "?events=poll.vote", None);
    let ballot = vote(&secret, &id, RIG_JID, PHONE_JID, RIG_JID, &[OPTIONS[1]]);
    let vote_id = rig
        .whatsapp
        .block_on(rig.whatsapp.push_inbound(PHONE_JID, &ballot))
        .expect("pushed");
    let data = poll_vote(&stream.expect("the vote"));
    assert_eq!(data["poll_message_id"], json!(id), "{data}");
    assert_eq!(data["message_id"], json!(vote_id), "{data}");
    assert_eq!(data["voter"], json!(PHONE_JID), "{data}");
    assert_eq!(
        data["selected_options"],
        json!(["Afternoon (12h-18h)"]),
        "{data}"
    );

    // A voter in a chat migrated to LIDs signs with LIDs on both sides: the creator as
    // the key names it, the voter as the server does.
    let own_lid = "100000000000001@lid";
    let voter_lid = "123456789012345@lid";
    let voter_phone = "5511955554444@s.whatsapp.net";
    let ballot = vote(
        &secret,
        &id,
        own_lid,
        voter_lid,
        own_lid,
        &[OPTIONS[0], OPTIONS[2]],
    );
    rig.whatsapp
        .block_on(rig.whatsapp.push_inbound_with(
            &InboundOptions::new(voter_lid).sender_alt(voter_phone),
            &ballot,
        ))
        .expect("pushed");
    let data = poll_vote(&stream.expect("the LID vote"));
    assert_eq!(data["voter"], json!(voter_phone), "{data}");
    assert_eq!(data["voter_lid"], json!(voter_lid), "{data}");
    assert_eq!(
        data["selected_options"],
        json!(["Morning (8h-12h)", "Evening (18h-21h)"]),
        "{data}"
    );
}
