//! `/sandbox/*`: the sandbox driver's outbox, media and controls, and what it can be
//! made to receive: messages and receipts (sandbox driver only).

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use buffa::Message as _;
use chrono::Utc;
use serde_json::{Map, Value, json};
use waproto::whatsapp::Message;
use wuts_plugin_api::{Envelope, MediaKind, PluginError, fields, normalize_recipient};

use super::body;
use super::common::{caller_device, device_session, json_object, query_device_id, query_limit};
use crate::auth::Caller;
use crate::error::{ApiError, SessionCall};
use crate::events::EventScope;
use crate::events::inbound::{Received, emit_receipt, receipt_event_name, receipt_kind};
use crate::message_json::{message_from_json, message_to_json};
use crate::send_path::blocking;
use crate::session::sandbox::{SandboxControls, SandboxSession};
use crate::session::{
    DeviceIdentity, InboundMessage, InboundReceipt, MediaUpload, ReceiptKind, Session as _,
};
use crate::state::AppState;
use crate::store::DeviceRecord;
use crate::time::rfc3339;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;
const MAX_ACK_DELAY_MS: u64 = 600_000;
const STATE_BODY_LIMIT: u64 = 16 * 1024;
/// A received message may carry thumbnails; `[body_limits]` may set another cap.
const INBOUND_BODY_LIMIT: u64 = 1024 * 1024;
const RECEIPT_BODY_LIMIT: u64 = 256 * 1024;
/// Message ids in a request: far above WhatsApp's 22 to 32 characters.
const MAX_MESSAGE_ID_CHARS: usize = 128;
const MAX_PUSH_NAME_CHARS: usize = 256;
const MAX_RECEIPT_IDS: usize = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sandbox/outbox", web::get().to(outbox))
        .route("/sandbox/media/{id}", web::get().to(media))
        .route("/sandbox/state", web::post().to(set_state))
        .route("/sandbox/state", web::get().to(get_state))
        .route("/sandbox/inbound", web::post().to(receive_message))
        .route("/sandbox/receipt", web::post().to(receive_receipt));
}

async fn outbox(
    caller: Caller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let limit = query_limit(&request, DEFAULT_LIMIT, MAX_LIMIT)?;
    let device = caller_device(&state, caller.0, query_device_id(&request)).await?;
    let session = device_session(&state, &device).await?;
    let records = sandbox(&session)?.records();
    let entries: Vec<Value> = records
        .outbox(&device.id, limit)
        .into_iter()
        .map(|record| {
            let media: Vec<Value> = records
                .media_info(&record.media_ids)
                .into_iter()
                .map(|media| {
                    json!({
                        "id": media.id,
                        "kind": media.kind,
                        "url": format!("{}{}", crate::session::sandbox::MEDIA_PATH, media.id),
                        "mimetype": media.mimetype,
                        "size": media.bytes.len(),
                    })
                })
                .collect();
            json!({
                "message_id": record.message_id,
                "to": record.to,
                "timestamp": rfc3339(record.timestamp),
                "route": record.route,
                "message": message_to_json(&record.message),
                "stanza_nodes": record.nodes.to_json(),
                "media": media,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(entries))
}

async fn media(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let media_id = path.into_inner();
    let store = Arc::clone(&state.store);
    let principal = caller.0.clone();
    let devices = blocking(&state, move || store.list_devices(&principal))
        .await?
        .map_err(|error| ApiError::internal(format!("device lookup failed: {error}")))?;
    let Some(first) = devices.first() else {
        return Err(ApiError::not_found("media"));
    };
    let session = device_session(&state, first).await?;
    let device_ids: Vec<String> = devices.iter().map(|device| device.id.clone()).collect();
    let found = sandbox(&session)?
        .records()
        .media(&media_id, &device_ids)
        .ok_or_else(|| ApiError::not_found("media"))?;
    Ok(HttpResponse::Ok()
        .content_type(found.mimetype)
        .body(found.bytes.as_ref().clone()))
}

fn sandbox(session: &Arc<dyn crate::session::Session>) -> Result<&SandboxSession, ApiError> {
    session
        .as_any()
        .downcast_ref::<SandboxSession>()
        .ok_or_else(|| ApiError::internal("not a sandbox device"))
}

fn controls_body(device: &DeviceRecord, session: &SandboxSession) -> Value {
    let controls = session.controls();
    let presences: Vec<Value> = session
        .presences()
        .into_iter()
        .map(|shown| {
            json!({"chat_jid": shown.chat_jid, "state": shown.state, "at": rfc3339(shown.at)})
        })
        .collect();
    json!({
        "success": true,
        "device_id": device.id,
        "connected": controls.connected,
        "ack_delay_ms": controls.ack_delay_ms,
        "upload_delay_ms": controls.upload_delay_ms,
        "fail": controls.fail,
        // The chat presences shown ("typing..." before a text with typingDuration).
        "presences": presences,
    })
}

async fn get_state(
    caller: Caller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let device = caller_device(&state, caller.0, query_device_id(&request)).await?;
    let session = device_session(&state, &device).await?;
    Ok(HttpResponse::Ok().json(controls_body(&device, sandbox(&session)?)))
}

async fn set_state(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let body = body::read_limited(&request, payload, STATE_BODY_LIMIT, Envelope::Standard).await?;
    let changes: serde_json::Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(changes)) => changes,
        Ok(_) => return Err(ApiError::bad_request("the body must be a JSON object")),
        Err(error) => return Err(ApiError::bad_request(format!("malformed JSON: {error}"))),
    };
    let device_id = body::device_id(&request, &body, Envelope::Standard)?;
    let device = caller_device(&state, caller.0, device_id).await?;
    let session = device_session(&state, &device).await?;
    let sandbox = sandbox(&session)?;
    let controls = apply_changes(sandbox.controls(), &changes)?;
    sandbox.set_controls(controls.clone());
    tracing::info!(device_id = %device.id, connected = controls.connected, ack_delay_ms = controls.ack_delay_ms,
        failing = controls.fail.is_some(), "sandbox state changed");
    Ok(HttpResponse::Ok().json(controls_body(&device, sandbox)))
}

/// Applies a `/sandbox/state` body; every field is checked before anything changes.
fn apply_changes(
    mut controls: SandboxControls,
    changes: &serde_json::Map<String, Value>,
) -> Result<SandboxControls, ApiError> {
    for (key, value) in changes {
        match (key.as_str(), value) {
            ("connected", Value::Bool(connected)) => controls.connected = *connected,
            ("connected", _) => {
                return Err(ApiError::bad_request("connected: must be true or false"));
            }
            ("ack_delay_ms", value) => match value.as_u64() {
                Some(delay) if delay <= MAX_ACK_DELAY_MS => controls.ack_delay_ms = delay,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "ack_delay_ms: must be a whole number from 0 to {MAX_ACK_DELAY_MS}"
                    )));
                }
            },
            ("upload_delay_ms", value) => match value.as_u64() {
                Some(delay) if delay <= MAX_ACK_DELAY_MS => controls.upload_delay_ms = delay,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "upload_delay_ms: must be a whole number from 0 to {MAX_ACK_DELAY_MS}"
                    )));
                }
            },
            ("fail", Value::Null) => controls.fail = None,
            ("fail", Value::String(text)) if !text.is_empty() && text.len() <= 200 => {
                controls.fail = Some(text.clone())
            }
            ("fail", _) => {
                return Err(ApiError::bad_request(
                    "fail: must be a text of 1 to 200 characters, or null",
                ));
            }
            ("device_id", _) => {}
            (other, _) => {
                return Err(ApiError::bad_request(format!(
                    "{other}: unknown field; connected, ack_delay_ms, upload_delay_ms and fail are accepted"
                )));
            }
        }
    }
    Ok(controls)
}

/// A `POST /sandbox/inbound` body, checked.
#[derive(Debug)]
struct InboundRequest {
    from: String,
    message: Message,
    message_id: Option<String>,
    chat: Option<String>,
    participant: Option<String>,
    push_name: Option<String>,
    from_lid: Option<String>,
    /// The file behind the message's media field (base64), "uploaded" so that
    /// `GET /messages/{id}/media` can fetch it.
    media: Option<Vec<u8>>,
}

impl InboundRequest {
    fn parse(body: &Map<String, Value>) -> Result<InboundRequest, PluginError> {
        only_fields(
            body,
            &[
                "from",
                "message",
                "message_id",
                "chat",
                "participant",
                "push_name",
                "from_lid",
                "media",
                "device_id",
            ],
        )?;
        let from = person_jid(body, "from")?.ok_or_else(|| required("from"))?;
        let message = match fields::present(body, "message") {
            None => return Err(required("message")),
            Some(value) => message_from_json(value)
                .map_err(|reason| PluginError::invalid_field("message", reason, Value::Null))?,
        };
        let message_id = fields::optional_string(body, "message_id")?
            .map(|id| checked_message_id("message_id", id))
            .transpose()?;
        let chat = jid(body, "chat")?;
        let participant = person_jid(body, "participant")?;
        let push_name = fields::optional_string(body, "push_name")?;
        if let Some(problem) =
            push_name.and_then(|name| fields::length_problem(name, 1..=MAX_PUSH_NAME_CHARS))
        {
            return Err(PluginError::invalid_field(
                "push_name",
                problem,
                json!(push_name),
            ));
        }
        let from_lid = jid(body, "from_lid")?;
        if let Some(lid) = from_lid.as_deref().filter(|lid| !lid.ends_with("@lid")) {
            return Err(PluginError::invalid_field(
                "from_lid",
                "must be a JID ending in @lid",
                json!(lid),
            ));
        }
        let media = fields::optional_string(body, "media")?
            .map(|text| {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|_| PluginError::invalid_field("media", "must be base64", Value::Null))
            })
            .transpose()?;
        if media.is_some() && media_field(&mut message.clone()).is_none() {
            return Err(PluginError::invalid_field(
                "media",
                "the message has no image, video, audio, document or sticker field to attach it to",
                Value::Null,
            ));
        }
        Ok(InboundRequest {
            from,
            message,
            message_id,
            chat,
            participant,
            push_name: push_name.map(str::to_owned),
            from_lid,
            media,
        })
    }

    /// Who sent it: the group participant when given, else `from`.
    fn sender(&self) -> &str {
        self.participant.as_deref().unwrap_or(&self.from)
    }

    /// Where it was sent: `chat`, else the sender's own chat.
    fn chat_jid(&self) -> &str {
        self.chat.as_deref().unwrap_or(&self.from)
    }
}

/// A `POST /sandbox/receipt` body, checked.
#[derive(Debug)]
struct ReceiptRequest {
    message_ids: Vec<String>,
    kind: ReceiptKind,
    from: String,
}

impl ReceiptRequest {
    fn parse(body: &Map<String, Value>) -> Result<ReceiptRequest, PluginError> {
        only_fields(body, &["message_ids", "type", "from", "device_id"])?;
        let items = fields::required_array(body, "message_ids")?;
        if items.is_empty() || items.len() > MAX_RECEIPT_IDS {
            return Err(PluginError::invalid_field(
                "message_ids",
                format!("must hold 1 to {MAX_RECEIPT_IDS} message ids"),
                json!(items.len()),
            ));
        }
        let message_ids = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let field = format!("message_ids[{index}]");
                match item {
                    Value::String(id) => checked_message_id(&field, id),
                    other => Err(PluginError::invalid_field(
                        field,
                        "must be a string",
                        other.clone(),
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let kind_text = fields::required_string(body, "type")?;
        let kind = receipt_kind(kind_text).ok_or_else(|| {
            PluginError::invalid_field(
                "type",
                "must be \"delivered\" or \"read\"",
                json!(kind_text),
            )
        })?;
        let from = person_jid(body, "from")?.ok_or_else(|| required("from"))?;
        Ok(ReceiptRequest {
            message_ids,
            kind,
            from,
        })
    }
}

fn required(field: &str) -> PluginError {
    PluginError::invalid_field(field, "is required", Value::Null)
}

/// Refuses fields the route does not know, so a misspelt one is not silently ignored.
fn only_fields(body: &Map<String, Value>, known: &[&str]) -> Result<(), PluginError> {
    match body.keys().find(|key| !known.contains(&key.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(PluginError::invalid_field(
            unknown.as_str(),
            format!("unknown field; accepted: {}", known.join(", ")),
            body[unknown].clone(),
        )),
    }
}

/// An optional phone number or JID, as a JID.
fn jid(body: &Map<String, Value>, field: &str) -> Result<Option<String>, PluginError> {
    let Some(text) = fields::optional_string(body, field)? else {
        return Ok(None);
    };
    normalize_recipient(text)
        .map(Some)
        .map_err(|reason| PluginError::invalid_field(field, reason, json!(text)))
}

/// Like [`jid`], for a person: a group cannot send.
fn person_jid(body: &Map<String, Value>, field: &str) -> Result<Option<String>, PluginError> {
    let found = jid(body, field)?;
    if let Some(group) = found
        .as_deref()
        .filter(|jid| wuts_plugin_api::is_group(jid))
    {
        return Err(PluginError::invalid_field(
            field,
            "must be a person's number or JID, not a group",
            json!(group),
        ));
    }
    Ok(found)
}

fn checked_message_id(field: &str, id: &str) -> Result<String, PluginError> {
    let valid = (1..=MAX_MESSAGE_ID_CHARS).contains(&id.len())
        && id.bytes().all(|byte| byte.is_ascii_graphic());
    if !valid {
        return Err(PluginError::invalid_field(
            field,
            format!("must be 1 to {MAX_MESSAGE_ID_CHARS} visible ASCII characters"),
            json!(id),
        ));
    }
    Ok(id.to_owned())
}

/// The body limit of `path`: `[body_limits]`, else `default`.
fn body_limit(state: &AppState, path: &str, default: u64) -> u64 {
    state
        .settings
        .body_limits
        .get(path)
        .copied()
        .unwrap_or(default)
}

/// `POST /sandbox/inbound`: the device receives a message. It enters the message log
/// first (so a reply can quote it once the event is out), then its event is emitted.
async fn receive_message(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let limit = body_limit(&state, "/sandbox/inbound", INBOUND_BODY_LIMIT);
    let body = body::read_limited(&request, payload, limit, Envelope::Standard).await?;
    let fields = json_object(&body)?;
    let device_id = body::device_id(&request, &body, Envelope::Standard)?;
    let received = InboundRequest::parse(&fields)?;
    let device = caller_device(&state, caller.0, device_id).await?;
    let session = device_session(&state, &device).await?;
    let own_jid = sandbox(&session)?.own_jid();

    let mut received = received;
    if let Some(bytes) = received.media.take() {
        attach_media(session.as_ref(), &mut received.message, bytes).await?;
    }
    let message_id = received
        .message_id
        .clone()
        .unwrap_or_else(crate::ids::message_id);
    let identity = DeviceIdentity {
        device_id: device.id.clone(),
        tenant_id: device.tenant_id.clone(),
        user_id: device.user_id.clone(),
    };
    let sender = received.sender().to_owned();
    let inbound = InboundMessage {
        message_id: message_id.clone(),
        chat_jid: received.chat_jid().to_owned(),
        sender_pn: Some(sender.clone()).filter(|jid| jid.ends_with("@s.whatsapp.net")),
        sender_lid: received
            .from_lid
            .clone()
            .or(Some(sender.clone()).filter(|jid| jid.ends_with("@lid"))),
        sender_jid: sender,
        push_name: received.push_name.clone(),
        own_jid,
        from_me: false,
        message: received.message.encode_to_vec(),
        timestamp: Utc::now(),
    };
    let reports = Arc::clone(&state.reports);
    let store = Arc::clone(&state.store);
    let outcome = blocking(&state, move || {
        refuse_own_message_id(&*store, &identity.device_id, &inbound.message_id)?;
        reports
            .received(&identity, &inbound, &received.message)
            .map_err(|error| ApiError::internal(format!("message log failed: {error}")))
    })
    .await??;
    let event = match outcome {
        Received::Logged(event) => event.unwrap_or("none"),
        Received::Duplicate => "none (already received)",
    };
    tracing::info!(device_id = %device.id, %message_id, event, "sandbox message received");
    Ok(HttpResponse::Ok().json(json!({"success": true, "message_id": message_id})))
}

/// The media field a received message carries, with its kind and mimetype.
struct MediaField<'m> {
    kind: MediaKind,
    mimetype: String,
    reference: MediaFieldRef<'m>,
}

/// The reference fields every media message has, borrowed mutably.
struct MediaFieldRef<'m> {
    url: &'m mut Option<String>,
    direct_path: &'m mut Option<String>,
    media_key: &'m mut Option<Vec<u8>>,
    file_sha256: &'m mut Option<Vec<u8>>,
    file_enc_sha256: &'m mut Option<Vec<u8>>,
    file_length: &'m mut Option<u64>,
    media_key_timestamp: &'m mut Option<i64>,
}

fn media_field(message: &mut Message) -> Option<MediaField<'_>> {
    macro_rules! field {
        ($name:ident, $kind:expr, $default_mimetype:expr) => {
            if message.$name.is_set() {
                let media = message.$name.get_or_insert_default();
                return Some(MediaField {
                    kind: $kind,
                    mimetype: media
                        .mimetype
                        .clone()
                        .unwrap_or_else(|| $default_mimetype.into()),
                    reference: MediaFieldRef {
                        url: &mut media.url,
                        direct_path: &mut media.direct_path,
                        media_key: &mut media.media_key,
                        file_sha256: &mut media.file_sha256,
                        file_enc_sha256: &mut media.file_enc_sha256,
                        file_length: &mut media.file_length,
                        media_key_timestamp: &mut media.media_key_timestamp,
                    },
                });
            }
        };
    }
    field!(image_message, MediaKind::Image, "image/jpeg");
    field!(video_message, MediaKind::Video, "video/mp4");
    field!(audio_message, MediaKind::Audio, "audio/ogg; codecs=opus");
    field!(
        document_message,
        MediaKind::Document,
        "application/octet-stream"
    );
    field!(sticker_message, MediaKind::Sticker, "image/webp");
    None
}

/// "Uploads" `bytes` through the sandbox and points the message's media field at them,
/// as a sender's phone would before sending.
async fn attach_media(
    session: &dyn crate::session::Session,
    message: &mut Message,
    bytes: Vec<u8>,
) -> Result<(), ApiError> {
    let Some(field) = media_field(message) else {
        return Err(PluginError::invalid_field("media", "no media field", Value::Null).into());
    };
    let reference = session
        .upload_media(MediaUpload {
            bytes,
            kind: field.kind,
            mimetype: field.mimetype,
        })
        .await
        .map_err(|error| ApiError::from_session(error, SessionCall::Upload))?;
    let target = field.reference;
    *target.url = Some(reference.url);
    *target.direct_path = Some(reference.direct_path);
    *target.media_key = Some(reference.media_key);
    *target.file_sha256 = Some(reference.file_sha256);
    *target.file_enc_sha256 = Some(reference.file_enc_sha256);
    *target.file_length = Some(reference.file_length);
    *target.media_key_timestamp = Some(reference.media_key_timestamp);
    Ok(())
}

/// A received message cannot take the id of a message this device sent: a quote of
/// that id would become ambiguous.
fn refuse_own_message_id(
    store: &dyn crate::store::Store,
    device_id: &str,
    message_id: &str,
) -> Result<(), ApiError> {
    let sent = store
        .find_message(device_id, message_id)
        .map_err(|error| ApiError::internal(format!("message log failed: {error}")))?;
    if sent.is_some_and(|found| found.route.is_some()) {
        return Err(PluginError::invalid_field(
            "message_id",
            format!("{message_id} is a message this device sent"),
            json!(message_id),
        )
        .into());
    }
    Ok(())
}

/// `POST /sandbox/receipt`: the recipient's phone reports messages delivered or read.
async fn receive_receipt(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let limit = body_limit(&state, "/sandbox/receipt", RECEIPT_BODY_LIMIT);
    let body = body::read_limited(&request, payload, limit, Envelope::Standard).await?;
    let fields = json_object(&body)?;
    let device_id = body::device_id(&request, &body, Envelope::Standard)?;
    let receipt = ReceiptRequest::parse(&fields)?;
    let device = caller_device(&state, caller.0, device_id).await?;
    let event = InboundReceipt {
        kind: receipt.kind,
        message_ids: receipt.message_ids,
        chat_jid: receipt.from.clone(),
        by: receipt.from,
        timestamp: Utc::now(),
    };
    emit_receipt(&state.events, scope(&device), &event);
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "event": receipt_event_name(event.kind),
        "message_ids": event.message_ids,
    })))
}

fn scope(device: &DeviceRecord) -> EventScope<'_> {
    EventScope {
        device_id: &device.id,
        tenant_id: &device.tenant_id,
        user_id: &device.user_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn inbound_and_receipt_bodies_name_the_bad_field() {
        let good = InboundRequest::parse(&changes(json!({
            "from": "+55 11 98888-7777",
            "message": {"conversation": "hi"},
            "chat": "120363000000000001@g.us",
            "participant": "5511977776666",
        })))
        .unwrap();
        assert_eq!(good.sender(), "5511977776666@s.whatsapp.net");
        assert_eq!(good.chat_jid(), "120363000000000001@g.us");
        assert_eq!(good.message.conversation.as_deref(), Some("hi"));
        for (bad, field) in [
            (json!({"message": {}}), "from"),
            (json!({"from": "5511988887777"}), "message"),
            (
                json!({"from": "5511988887777", "message": {"nope": 1}}),
                "message",
            ),
            (
                json!({"from": "120363000000000001@g.us", "message": {}}),
                "from",
            ),
            (
                json!({"from": "5511988887777", "message": {}, "message_id": ""}),
                "message_id",
            ),
            (
                json!({"from": "5511988887777", "message": {}, "from_lid": "5511988887777"}),
                "from_lid",
            ),
            (
                json!({"from": "5511988887777", "message": {}, "extra": 1}),
                "extra",
            ),
        ] {
            let error = InboundRequest::parse(&changes(bad.clone())).unwrap_err();
            assert_eq!(error.validation[0].field, field, "{bad}: {}", error.message);
        }
        let receipt = ReceiptRequest::parse(&changes(json!({
            "message_ids": ["3EB0AA"], "type": "read", "from": "5511988887777",
        })))
        .unwrap();
        assert_eq!(receipt.kind, ReceiptKind::Read);
        for (bad, field) in [
            (
                json!({"message_ids": [], "type": "read", "from": "5511988887777"}),
                "message_ids",
            ),
            (
                json!({"message_ids": [1], "type": "read", "from": "5511988887777"}),
                "message_ids[0]",
            ),
            (
                json!({"message_ids": ["a"], "type": "seen", "from": "5511988887777"}),
                "type",
            ),
            (json!({"message_ids": ["a"], "type": "read"}), "from"),
        ] {
            let error = ReceiptRequest::parse(&changes(bad.clone())).unwrap_err();
            assert_eq!(error.validation[0].field, field, "{bad}: {}", error.message);
        }
    }

    #[test]
    fn state_changes_apply_only_when_every_field_is_valid() {
        let controls = apply_changes(
            SandboxControls::default(),
            &changes(json!({"connected": false, "ack_delay_ms": 5, "upload_delay_ms": 7, "fail": "boom"})),
        )
        .unwrap();
        assert_eq!(
            controls,
            SandboxControls {
                connected: false,
                ack_delay_ms: 5,
                upload_delay_ms: 7,
                fail: Some("boom".into())
            }
        );
        let cleared = apply_changes(controls, &changes(json!({"fail": null}))).unwrap();
        assert_eq!(cleared.fail, None);
        for bad in [
            json!({"connected": "no"}),
            json!({"ack_delay_ms": -1}),
            json!({"ack_delay_ms": 1.5}),
            json!({"upload_delay_ms": "1"}),
            json!({"fail": 3}),
            json!({"other": 1}),
        ] {
            assert!(
                apply_changes(SandboxControls::default(), &changes(bad.clone())).is_err(),
                "{bad}"
            );
        }
    }
}
