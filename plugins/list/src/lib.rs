//! The list plugin: `POST /send/interactive`, a single-select list (a button that opens
//! sections of rows), and `POST /send/list-response`, the answer WhatsApp produces when a
//! person picks a row, quoting the list.
//!
//! # Requests
//!
//! Field names, success texts and envelopes as the WUTS docs §1.13, §1.14, §9 and §10
//! print them; limits from docs/API.md "More message types" (WhatsApp's own: Meta's
//! "Interactive list messages" page allows up to 10 sections and 10 rows for all sections
//! combined, row titles of 24 characters, descriptions of 72, ids of 200, a button of 20,
//! and a title on every section when there are several).
//!
//! - `/send/interactive`: `{"to", "title"?, "body", "footer"?, "button_text", "sections":
//!   [{"title"?, "rows": [{"id", "title", "description"?}]}], "device_id"?}`. `body` 1 to
//!   1,024 characters, `title` and `footer` up to 60, `button_text` 1 to 20, 1 to 10
//!   sections and 1 to 10 rows in all, row ids unique in the whole list (a tap names only
//!   the row), section titles up to 24 (required when there are several sections).
//! - `/send/list-response`: `{"to", "selected_row_id", "title"?, "description"?,
//!   "quoted": {"message_id", "participant"?, "body"?}, "device_id"?}` (`quoted` also in the
//!   `{"key":{"id","fromMe"},"message":{"conversation"}}` shape). When the host's message
//!   log knows the quoted message (sent or received by this device), it must be a list in
//!   this chat and `selected_row_id` one of its rows; `title` and `description` default to
//!   the row's, and the list is quoted whole. Otherwise `title` is required and
//!   `quoted.body` is quoted as text (as `/send/buttons-response` does); the list's author
//!   is the log's sender, else `quoted.participant`, else (direct chats) the chat.
//!
//! Both routes answer in the legacy envelope: `{"error"}` on failure (a bad `to` reads
//! `Invalid recipient JID: empty input` / `invalid number` as §1.13 prints it, other
//! fields `<path>: <reason>`, e.g. `sections[0].rows[1].id: must not be empty`), and
//! "Interactive list message sent successfully" / "List response sent successfully",
//! with the failure prefixes "Failed to send interactive message" / "Failed to send list
//! response".
//!
//! # What goes out
//!
//! `/send/interactive`:
//!
//! ```text
//! Message { listMessage {
//!   title?, description: body, buttonText: button_text, footerText?,
//!   listType: SINGLE_SELECT,
//!   sections: [{ title?, rows: [{ rowId: id, title, description? }] }] } }
//! ```
//!
//! with one stanza node, the product-list business node ([`stanza`]):
//! `<biz actual_actors="2" host_storage="2" privacy_mode_ts="…"><list v="2"
//! type="product_list"/><quality_control source_type="third_party"/></biz>`. The library
//! labels the stanza `<message type="media">` with `<enc mediatype="list">`.
//!
//! `/send/list-response`:
//!
//! ```text
//! Message { listResponseMessage {
//!   title, description?, listType: SINGLE_SELECT,
//!   singleSelectReply { selectedRowId },
//!   contextInfo { stanzaId: quoted id, participant: the list's author, quotedMessage } } }
//! ```
//!
//! with no stanza node (`<message type="media">`, `<enc mediatype="list_response">`).
//!
//! A tap on the list this plugin sends comes back as a `listResponseMessage`, the shape
//! `/send/list-response` emits, which the host's inbound parser reports as a
//! `list_reply` with `source: "list_response"`.
//!
//! # Why a `listMessage` and not a native-flow `single_select`
//!
//! Two shapes render a list today:
//!
//! - a `listMessage` with `listType` `SINGLE_SELECT` and the `<biz><list v="2"
//!   type="product_list"/></biz>` node. With `type="single_select"` (whatsmeow's default,
//!   which names the node after the `listType`) the server refuses it with ack error 405
//!   (tulir/whatsmeow issue #439; evolution-foundation/evolution-go issue #170, 2026);
//!   `product_list` is delivered and renders on Android and iPhone, business and
//!   consumer accounts (tulir/whatsmeow pull request #461), but reportedly not in groups.
//!   Baileys-based gateways send the same (Baileys forks' `getButtonArgs`: a
//!   `listMessage` gets `<list v="2" type="product_list"/>` with the privacy attributes
//!   and `<quality_control>`); WUTS's own page says it "attaches the product-list
//!   business nodes". A tap comes back as a `listResponseMessage`.
//! - an `interactiveMessage` whose native flow has one `single_select` button (its
//!   `buttonParamsJSON` carrying the sections), with the `mixed` `<biz>` of the buttons
//!   plugin, which whatsapp-rust 0.7.0 adds by itself (`classify_button` routes
//!   `single_select` to `mixed`). It renders in groups too, but reportedly not on iOS
//!   (krypton-byte/neonize issue #191, 2026), and a tap comes back as an
//!   `interactiveResponseMessage` whose `paramsJSON` carries the row's `id`, a shape
//!   that is not documented anywhere and that bots read by guesswork.
//!
//! The `listMessage` is what WUTS documents, renders on every phone in direct chats, and
//! answers with the unambiguous `listResponseMessage`; so it is this plugin's shape.
//! `/send/list-response` still validates against lists received in the other shape.
//!
//! Sources: tulir/whatsmeow 33cfac5 `send.go` (`getButtonTypeFromMessage`,
//! `getButtonAttributes`: `<biz><list v="2" type="<listType>"/></biz>`; media types
//! `list` and `list_response`), its issue #439 and pull request #461; whatsapp-rust
//! 0.7.0 `src/send/mod.rs` (`infer_biz_node`: business nodes for interactive messages
//! only) and `wacore/src/send/classify.rs` (`media_type_from_message`); Baileys forks'
//! `getButtonArgs` (`src/Socket/messages-send.ts`); WhiskeySockets/Baileys 78e7e4e
//! `src/Socket/messages-send.ts` (`getMediaType`); docs/wire-shapes.md §7.

mod known;
mod request;
mod response;
pub mod stanza;

use buffa::{Message as _, MessageField};
use waproto::whatsapp::message::list_message::{self, ListType, Row as RowProto};
use waproto::whatsapp::message::list_response_message::{
    ListType as ResponseListType, SingleSelectReply,
};
use waproto::whatsapp::message::{ListMessage, ListResponseMessage};
use waproto::whatsapp::{ContextInfo, Message};
use wuts_plugin_api::{
    Host, Outgoing, Plugin, PluginError, PluginInfo, Request, Route, export_plugin,
};

pub use known::{KnownRow, rows_of};
pub use request::{ListRequest, MAX_ROWS, MAX_SECTIONS, Row, Section};
pub use response::ResponseRequest;

pub const LIST_ROUTE: &str = "/send/interactive";
pub const RESPONSE_ROUTE: &str = "/send/list-response";

#[derive(Default)]
pub struct ListPlugin;

impl Plugin for ListPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("list")
            .route(
                Route::post(LIST_ROUTE)
                    .operation("sendInteractiveListMessage")
                    .summary("Send a single-select list of rows grouped into sections")
                    .request(&request::schema())
                    .legacy()
                    .success_message("Interactive list message sent successfully")
                    .failure_prefix("Failed to send interactive message")
                    .quick(),
            )
            .route(
                Route::post(RESPONSE_ROUTE)
                    .operation("sendListResponseMessage")
                    .summary("Reply to a list message by selecting a row")
                    .request(&response::schema())
                    .legacy()
                    .success_message("List response sent successfully")
                    .failure_prefix("Failed to send list response")
                    .quick(),
            )
    }

    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        if request.route == RESPONSE_ROUTE {
            let reply = ResponseRequest::parse(request)?;
            let known = host.find_message(&reply.quoted.message_id);
            let resolved = known::resolve(&reply, request.context.own_jid, known.as_ref())?;
            let message = build_response(&reply, resolved);
            return Ok(Outgoing {
                to: reply.to,
                message: message.encode_to_vec(),
                ..Outgoing::default()
            });
        }
        let list = ListRequest::parse(request)?;
        let message = build_list(&list);
        Ok(Outgoing {
            to: list.to,
            message: message.encode_to_vec(),
            nodes: stanza::render_nodes(unix_now()),
            ..Outgoing::default()
        })
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// The `listMessage` of a validated request.
pub fn build_list(list: &ListRequest) -> Message {
    let sections = list
        .sections
        .iter()
        .map(|section| list_message::Section {
            title: section.title.clone(),
            rows: section
                .rows
                .iter()
                .map(|row| RowProto {
                    title: Some(row.title.clone()),
                    description: row.description.clone(),
                    row_id: Some(row.id.clone()),
                })
                .collect(),
        })
        .collect();
    Message {
        list_message: MessageField::some(ListMessage {
            title: list.title.clone(),
            description: Some(list.body.clone()),
            button_text: Some(list.button_text.clone()),
            list_type: Some(ListType::SINGLE_SELECT),
            sections,
            footer_text: list.footer.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The `listResponseMessage` of a validated request and its resolved quote.
fn build_response(reply: &ResponseRequest, resolved: known::Resolved) -> Message {
    Message {
        list_response_message: MessageField::some(ListResponseMessage {
            title: Some(resolved.title),
            list_type: Some(ResponseListType::SINGLE_SELECT),
            single_select_reply: MessageField::some(SingleSelectReply {
                selected_row_id: Some(reply.selected_row_id.clone()),
            }),
            context_info: MessageField::some(ContextInfo {
                stanza_id: Some(reply.quoted.message_id.clone()),
                participant: Some(resolved.participant),
                quoted_message: MessageField::some(resolved.quoted_message),
                ..Default::default()
            }),
            description: resolved.description,
        }),
        ..Default::default()
    }
}

export_plugin!(ListPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_message_carries_every_field_and_decodes_back() {
        let list = ListRequest {
            to: "5511999999999@s.whatsapp.net".into(),
            title: Some("Our menu".into()),
            body: "Pick one".into(),
            footer: Some("WUTS Store".into()),
            button_text: "View products".into(),
            sections: vec![Section {
                title: Some("Beverages".into()),
                rows: vec![Row {
                    id: "coffee".into(),
                    title: "Coffee".into(),
                    description: Some("Freshly brewed".into()),
                }],
            }],
        };
        let message = build_list(&list);
        let decoded = Message::decode_from_slice(&message.encode_to_vec()).unwrap();
        assert_eq!(decoded, message);
        let sent = decoded.list_message.as_option().unwrap();
        assert_eq!(sent.description.as_deref(), Some("Pick one"));
        assert_eq!(sent.button_text.as_deref(), Some("View products"));
        assert_eq!(sent.list_type, Some(ListType::SINGLE_SELECT));
        assert_eq!(sent.footer_text.as_deref(), Some("WUTS Store"));
        let row = &sent.sections[0].rows[0];
        assert_eq!(row.row_id.as_deref(), Some("coffee"));
        assert_eq!(
            rows_of(&decoded),
            [KnownRow {
                id: "coffee".into(),
                title: "Coffee".into(),
                description: Some("Freshly brewed".into()),
            }]
        );
    }
}
