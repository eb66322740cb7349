//! The host's inbound event parser (`events::parse::parse`) and the media lookup beside it
//! (`received_media`), on a received message: the fuzz input is the `Inbound`'s text fields
//! up to a NUL byte, then the `waE2E.Message` protobuf (see `wuts_fuzz::InboundFields`).
//! Protobuf rather than the sandbox's JSON: it reaches every message shape a sender can
//! send, envelopes nested to any depth included. The event's data is serialised as the
//! event sink does.
#![no_main]

use buffa::Message as _;
use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use waproto::whatsapp::Message;
use wuts_fuzz::InboundFields;
use wuts_host::events::parse::{Inbound, parse, received_media};

fuzz_target!(|data: &[u8]| {
    let (fields, protobuf) = InboundFields::split(data);
    // A driver drops what does not decode.
    let Ok(message) = Message::decode_from_slice(protobuf) else {
        return;
    };
    let inbound = Inbound {
        message_id: &fields.message_id,
        chat_jid: &fields.chat_jid,
        sender_jid: &fields.sender_jid,
        sender_pn: fields.sender_pn.as_deref(),
        sender_lid: fields.sender_lid.as_deref(),
        own_jid: fields.own_jid.as_deref(),
        is_from_me: fields.is_from_me,
        push_name: fields.push_name.as_deref(),
        timestamp: DateTime::from_timestamp(fields.unix_seconds, 0).unwrap_or_default(),
        device_id: &fields.device_id,
        message: &message,
    };
    if let Some(parsed) = parse(&inbound) {
        let _ = parsed.event.as_str();
        serde_json::to_string(&parsed.data).expect("event data serialises");
    }
    let _ = received_media(&message);
});
