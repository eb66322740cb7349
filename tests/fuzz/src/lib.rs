//! What the fuzz targets share: a plugin run the way the host runs one (plan, then
//! encode, then the host's reading of the result), with in-memory host services; the Ogg
//! page checksum repair the Ogg targets use; and the event parser's input layout.
//!
//! A target fails only on a panic, a hang (libFuzzer's `-timeout`) or running out of
//! memory (`-rss_limit_mb`): errors are what bad input should give.

use std::time::{SystemTime, UNIX_EPOCH};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr};
use buffa::{Message as _, MessageField};
use waproto::whatsapp::message::interactive_message::{
    self, Body, NativeFlowMessage, native_flow_message::NativeFlowButton,
};
use waproto::whatsapp::message::{
    ButtonsMessage, ExtendedTextMessage, FutureProofMessage, ImageMessage, InteractiveMessage,
    ListMessage, buttons_message, list_message,
};
use waproto::whatsapp::{ContextInfo, Message};
use wuts_plugin_api::abi::{
    self, FetchedAbi, HostServices_TO, HostServicesBox, MediaKindAbi, MediaReferenceAbi,
    PluginErrorAbi, SentMessageAbi,
};
use wuts_plugin_api::{
    Host, MediaReference, Outgoing, Plan, Plugin, PluginError, Request, RequestContext,
    SentMessage, StanzaNodes,
};

// ---- plugins ----

/// A direct chat the known messages live in.
pub const CHAT: &str = "5511999999999@s.whatsapp.net";
/// A group some known messages live in.
pub const GROUP: &str = "120363012345678901@g.us";
/// Another member of that group.
pub const MEMBER: &str = "5511977776666@s.whatsapp.net";
/// The device's own JID (as a paired device has it, with its device part).
pub const OWN_JID: &str = "5511888880000:7@s.whatsapp.net";

/// One plugin, built from its default configuration, and the host's side of a request.
pub struct PluginHarness<P> {
    plugin: P,
    routes: Vec<String>,
    services: HostServicesBox,
    /// Request contexts every body is tried under.
    contexts: usize,
}

impl<P: Plugin> PluginHarness<P> {
    /// The plugin as `init` builds it from an absent `[plugin.NAME]` table, with every body
    /// tried under two contexts (paired, and not yet paired).
    pub fn new() -> Self {
        Self::with_contexts(2)
    }

    /// Like [`PluginHarness::new`], with every body tried under the first `contexts`
    /// request contexts only (1 for a plugin whose encode is slow).
    pub fn with_contexts(contexts: usize) -> Self {
        let plugin = P::init(serde_json::json!({})).unwrap_or_else(|error| {
            panic!("the plugin refused its default configuration: {error}")
        });
        PluginHarness {
            plugin,
            routes: P::info()
                .routes
                .into_iter()
                .map(|route| route.path)
                .collect(),
            services: HostServices_TO::from_value(FuzzServices, TD_Opaque),
            contexts: contexts.clamp(1, CONTEXTS.len()),
        }
    }

    /// Sends `body` to every route of the plugin, as the host does with a request: `plan`,
    /// then (unless it refused) `encode` (as a job when `plan` says so), then the host's
    /// reading of the message.
    pub fn run(&self, body: &[u8]) {
        let host = Host::from_abi(&self.services);
        for route in &self.routes {
            for context in &CONTEXTS[..self.contexts] {
                let mut request = Request {
                    route,
                    body,
                    context: *context,
                };
                let Ok(plan) = self.plugin.plan(&request, &host) else {
                    continue;
                };
                request.context.is_job = matches!(plan, Plan::Job { .. });
                if let Ok(outgoing) = self.plugin.encode(&request, &host) {
                    read_as_the_host(outgoing);
                }
            }
        }
    }
}

impl<P: Plugin> Default for PluginHarness<P> {
    fn default() -> Self {
        Self::new()
    }
}

/// The request contexts a body is tried under: a paired device, and one not paired yet.
const CONTEXTS: [RequestContext<'static>; 2] = [
    RequestContext {
        request_id: "req_fuzz",
        tenant_id: "tenant_fuzz",
        user_id: "user_fuzz",
        device_id: "dev_fuzz",
        message_id: "3EB0F0F0F0F0F0F0F0F0F0",
        own_jid: Some(OWN_JID),
        is_job: false,
    },
    RequestContext {
        request_id: "",
        tenant_id: "t",
        user_id: "u",
        device_id: "d",
        message_id: "3EB00000000000000000FF",
        own_jid: None,
        is_job: false,
    },
];

/// What the host does with an encoded message before it sends: the FFI form, the stanza
/// nodes as a tree again, the message decoded. A plugin that encodes a message the host
/// cannot decode has a bug, so that fails the run.
fn read_as_the_host(outgoing: Outgoing) {
    let nodes = StanzaNodes::from_tree(outgoing.nodes.clone());
    let _ = nodes.to_tree();
    let _ = nodes.to_json();
    if outgoing.forget_message.is_none()
        && let Err(error) = Message::decode_from_slice(&outgoing.message)
    {
        panic!("the plugin encoded a message that does not decode: {error}");
    }
    let _ = abi::OutgoingAbi::from(outgoing);
}

/// Host services without a network or a device: fetching fails (as a refused URL does),
/// uploads succeed with a fixed reference, and the message log holds [`known_message`]s.
struct FuzzServices;

impl abi::HostServices for FuzzServices {
    fn fetch(&self, _url: RStr<'_>, _max_bytes: u64) -> RResult<FetchedAbi, PluginErrorAbi> {
        RResult::RErr(
            PluginError::bad_request("URL_UNREACHABLE", "the fuzz harness fetches nothing").into(),
        )
    }

    fn upload_media(
        &self,
        bytes: RSlice<'_, u8>,
        _kind: MediaKindAbi,
        _mimetype: RStr<'_>,
    ) -> RResult<MediaReferenceAbi, PluginErrorAbi> {
        RResult::ROk(
            MediaReference {
                url: "https://mmg.whatsapp.net/v/t62.7114-24/fuzz.enc?ccb=11-4".into(),
                direct_path: "/v/t62.7114-24/fuzz.enc?ccb=11-4".into(),
                media_key: vec![7; 32],
                file_sha256: vec![1; 32],
                file_enc_sha256: vec![2; 32],
                file_length: bytes.len() as u64,
                media_key_timestamp: 1_781_534_040,
            }
            .into(),
        )
    }

    fn find_message(&self, message_id: RStr<'_>) -> ROption<SentMessageAbi> {
        known_message(message_id.as_str())
            .map(SentMessageAbi::from)
            .into()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// The device's message log: a few messages of every shape the plugins look into (texts
/// to edit and quote, buttons and lists to answer, a message of a group, one too old to
/// edit, one that is no text, and one whose stored bytes do not decode). The seed corpus
/// quotes them by these ids.
pub fn known_message(message_id: &str) -> Option<SentMessage> {
    let now = now_ms();
    let (chat, sender, from_me, age_ms, message): (&str, Option<&str>, bool, i64, Vec<u8>) =
        match message_id {
            "3EB0KNOWNTEXT" => (
                CHAT,
                None,
                true,
                60_000,
                text("Hello there").encode_to_vec(),
            ),
            "3EB0KNOWNEXTENDED" => (
                CHAT,
                Some(CHAT),
                false,
                60_000,
                extended_text("Call @5511977776666 about it").encode_to_vec(),
            ),
            "3EB0KNOWNBUTTONS" => (CHAT, None, true, 60_000, buttons().encode_to_vec()),
            "3EB0KNOWNLEGACYBUTTONS" => (
                CHAT,
                Some(CHAT),
                false,
                60_000,
                view_once(legacy_buttons()).encode_to_vec(),
            ),
            "3EB0KNOWNLIST" => (CHAT, None, true, 60_000, list().encode_to_vec()),
            "3EB0KNOWNSELECT" => (
                CHAT,
                Some(CHAT),
                false,
                60_000,
                single_select().encode_to_vec(),
            ),
            "3EB0KNOWNGROUP" => (
                GROUP,
                Some(MEMBER),
                false,
                60_000,
                text("Hi all").encode_to_vec(),
            ),
            "3EB0KNOWNGROUPLIST" => (GROUP, None, true, 60_000, list().encode_to_vec()),
            "3EB0KNOWNOLD" => (
                CHAT,
                None,
                true,
                3 * 24 * 3600 * 1000,
                text("Old news").encode_to_vec(),
            ),
            "3EB0KNOWNIMAGE" => (CHAT, None, true, 60_000, image().encode_to_vec()),
            "3EB0KNOWNJUNK" => (CHAT, Some(CHAT), false, 60_000, vec![0x0A, 0xFF, 0xFF]),
            _ => return None,
        };
    Some(SentMessage {
        message_id: message_id.to_string(),
        chat_jid: chat.to_string(),
        sender_jid: sender.map(str::to_string),
        from_me,
        message,
        timestamp_ms: now - age_ms,
    })
}

fn text(text: &str) -> Message {
    Message {
        conversation: Some(text.into()),
        ..Default::default()
    }
}

fn mentions_and_quote() -> MessageField<ContextInfo> {
    MessageField::some(ContextInfo {
        stanza_id: Some("3EB0EARLIER".into()),
        participant: Some(MEMBER.into()),
        quoted_message: MessageField::some(text("Earlier")),
        mentioned_jid: vec![MEMBER.into()],
        ..Default::default()
    })
}

fn extended_text(text: &str) -> Message {
    Message {
        extended_text_message: MessageField::some(ExtendedTextMessage {
            text: Some(text.into()),
            context_info: mentions_and_quote(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn image() -> Message {
    Message {
        image_message: MessageField::some(ImageMessage {
            mimetype: Some("image/jpeg".into()),
            caption: Some("A picture".into()),
            file_length: Some(1234),
            context_info: mentions_and_quote(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn native_flow(body: &str, buttons: Vec<NativeFlowButton>) -> Message {
    Message {
        interactive_message: MessageField::some(InteractiveMessage {
            body: MessageField::some(Body {
                text: Some(body.into()),
            }),
            interactive_message: Some(interactive_message::InteractiveMessage::NativeFlowMessage(
                Box::new(NativeFlowMessage {
                    buttons,
                    message_version: Some(1),
                    ..Default::default()
                }),
            )),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn buttons() -> Message {
    let button = |id: &str, text: &str| NativeFlowButton {
        name: Some("quick_reply".into()),
        button_params_json: Some(serde_json::json!({"display_text": text, "id": id}).to_string()),
    };
    native_flow(
        "How would you like to proceed?",
        vec![
            button("confirm_order", "Confirm"),
            button("cancel_order", "Cancel"),
        ],
    )
}

fn single_select() -> Message {
    let params = serde_json::json!({
        "title": "Menu",
        "sections": [{"title": "Drinks", "rows": [
            {"id": "coffee", "title": "Coffee", "description": "Freshly brewed"},
            {"id": "tea", "title": "Tea"},
        ]}],
    });
    native_flow(
        "Pick one",
        vec![NativeFlowButton {
            name: Some("single_select".into()),
            button_params_json: Some(params.to_string()),
        }],
    )
}

fn legacy_buttons() -> Message {
    let button = |id: &str, text: &str| buttons_message::Button {
        button_id: Some(id.into()),
        button_text: MessageField::some(buttons_message::button::ButtonText {
            display_text: Some(text.into()),
        }),
        ..Default::default()
    };
    Message {
        buttons_message: MessageField::some(ButtonsMessage {
            content_text: Some("Choose".into()),
            buttons: vec![button("yes", "Yes"), button("no", "No")],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn view_once(message: Message) -> Message {
    Message {
        view_once_message: MessageField::some(FutureProofMessage {
            message: MessageField::some(message),
        }),
        ..Default::default()
    }
}

fn list() -> Message {
    let row = |id: &str, title: &str| list_message::Row {
        row_id: Some(id.into()),
        title: Some(title.into()),
        description: Some(format!("About {title}")),
    };
    Message {
        list_message: MessageField::some(ListMessage {
            title: Some("Our menu".into()),
            description: Some("Pick one of the products below".into()),
            button_text: Some("View products".into()),
            list_type: Some(list_message::ListType::SINGLE_SELECT),
            sections: vec![list_message::Section {
                title: Some("Beverages".into()),
                rows: vec![row("coffee", "Coffee"), row("tea", "Tea")],
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

// ---- Ogg ----

/// Writes the right checksum into every Ogg page of `data` whose header and body are
/// complete (pages are looked for at every `OggS`), so that mutated streams get past the
/// reader's CRC check to the code behind it.
pub fn repair_ogg_checksums(data: &mut [u8]) {
    let mut at = 0;
    while at + 27 <= data.len() {
        if &data[at..at + 4] != b"OggS" {
            at += 1;
            continue;
        }
        let segments = usize::from(data[at + 26]);
        let Some(lacing) = data.get(at + 27..at + 27 + segments) else {
            return;
        };
        let body: usize = lacing.iter().map(|&byte| usize::from(byte)).sum();
        let end = at + 27 + segments + body;
        if end > data.len() {
            at += 1;
            continue;
        }
        data[at + 22..at + 26].fill(0);
        let crc = ogg_crc(&data[at..end]);
        data[at + 22..at + 26].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
}

/// The Ogg page checksum: CRC-32, polynomial 0x04C11DB7, not reflected, initial value 0.
pub fn ogg_crc(bytes: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in bytes {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

// ---- the event parser ----

/// What the event parser target reads its [`Inbound`](wuts_host::events::parse::Inbound)
/// from: text lines up to the first NUL byte (message id, chat, sender, sender's phone
/// number, sender's LID, own JID, push name, device id, Unix seconds, `1` when from me; an
/// empty or absent optional line is `None`), then the `waE2E.Message` protobuf bytes. An
/// input without a NUL byte is all protobuf, with [`InboundFields::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundFields {
    pub message_id: String,
    pub chat_jid: String,
    pub sender_jid: String,
    pub sender_pn: Option<String>,
    pub sender_lid: Option<String>,
    pub own_jid: Option<String>,
    pub push_name: Option<String>,
    pub device_id: String,
    pub unix_seconds: i64,
    pub is_from_me: bool,
}

impl Default for InboundFields {
    fn default() -> Self {
        InboundFields {
            message_id: "3EB0A1B2C3D4E5F6A7B8C9".into(),
            chat_jid: CHAT.into(),
            sender_jid: CHAT.into(),
            sender_pn: None,
            sender_lid: None,
            own_jid: Some(OWN_JID.into()),
            is_from_me: false,
            push_name: Some("Alice".into()),
            unix_seconds: 1_781_534_040,
            device_id: "dev_1".into(),
        }
    }
}

impl InboundFields {
    /// Splits a fuzz input into the fields and the protobuf bytes.
    pub fn split(data: &[u8]) -> (InboundFields, &[u8]) {
        let Some(nul) = data.iter().position(|&byte| byte == 0) else {
            return (InboundFields::default(), data);
        };
        let header = String::from_utf8_lossy(&data[..nul]);
        let mut lines = header.split('\n');
        let mut next = || lines.next().unwrap_or("").to_string();
        let optional = |line: String| Some(line).filter(|line| !line.is_empty());
        let fields = InboundFields {
            message_id: next(),
            chat_jid: next(),
            sender_jid: next(),
            sender_pn: optional(next()),
            sender_lid: optional(next()),
            own_jid: optional(next()),
            push_name: optional(next()),
            device_id: next(),
            unix_seconds: next().trim().parse().unwrap_or(1_781_534_040),
            is_from_me: next() == "1",
        };
        (fields, &data[nul + 1..])
    }

    /// The header line of an input (without its NUL), the inverse of [`InboundFields::split`].
    pub fn header(&self) -> String {
        let optional = |value: &Option<String>| value.clone().unwrap_or_default();
        [
            self.message_id.clone(),
            self.chat_jid.clone(),
            self.sender_jid.clone(),
            optional(&self.sender_pn),
            optional(&self.sender_lid),
            optional(&self.own_jid),
            optional(&self.push_name),
            self.device_id.clone(),
            self.unix_seconds.to_string(),
            if self.is_from_me { "1" } else { "0" }.to_string(),
        ]
        .join("\n")
    }
}
