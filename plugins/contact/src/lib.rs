//! The contact plugin: `POST /send/contact` (one contact card) and `POST /send/contacts`
//! (several, as one contacts-array message).
//!
//! # Requests
//!
//! As the WUTS docs §1.9, §1.10 and §10 print them: `{"to", "contact": {"display_name",
//! "phone", "first_name"?, "last_name"?, "company"?, "email"?}}` and `{"to", "contacts":
//! [<the same>]}`; limits from docs/API.md: `display_name` 1 to 256 characters, `phone`
//! 7 to 20 digits once normalised, 1 to 50 contacts. Legacy envelope: "Contact sent
//! successfully", "Contacts sent successfully" plus `contact_count`; an empty `contacts`
//! array answers WUTS's own text for it (the Go validator's, verbatim), and a bad `to`
//! `Invalid recipient JID: invalid number` (`empty input` for none), as §1.9 prints it.
//!
//! # What goes out
//!
//! - `/send/contact`: `Message { contactMessage { displayName, vcard } }`.
//! - `/send/contacts`: `Message { contactsArrayMessage { displayName: "<n> contacts",
//!   contacts: [contactMessage { displayName, vcard }, ...] } }`, even for one contact,
//!   since the contract describes this route as "a single WhatsApp contacts-array message".
//!
//! Each `vcard` is vCard 3.0 ([`vcard`]): `N`, `FN`, `ORG`, `TEL;type=CELL;waid=<digits>:
//! +<digits>` and `EMAIL`, values escaped per RFC 6350.
//!
//! No extra stanza nodes: the library sends both as `<message type="media">` with `<enc
//! mediatype="vcard">` for a `contactMessage` and `mediatype="contact_array"` for a
//! `contactsArrayMessage` (whatsapp-rust, whatsmeow and Baileys agree).
//!
//! Sources: whatsapp-rust 0.7.0 `wacore/src/send/classify.rs` (`media_type_from_message`);
//! whatsmeow (tulir/whatsmeow 33cfac5) `send.go` (`getMediaTypeFromMessage`: `vcard`,
//! `contact_array`); Baileys (WhiskeySockets/Baileys 78e7e4e) `src/Utils/messages.ts`
//! (`generateWAMessageContent`: `contacts` with one card becomes a `contactMessage`,
//! with several a `contactsArrayMessage` with a `displayName`; the caller writes the
//! vCards) and `src/Socket/messages-send.ts` (`getMediaType`).

mod request;
pub mod vcard;

use buffa::{Message as _, MessageField};
use serde_json::json;
use waproto::whatsapp::Message;
use waproto::whatsapp::message::{ContactMessage, ContactsArrayMessage};
use wuts_plugin_api::{
    Host, Outgoing, Plugin, PluginError, PluginInfo, Request, Route, export_plugin,
};

pub use request::{
    ContactsRequest, EMPTY_CONTACTS_ERROR, contact_request_schema, contacts_request_schema,
    phone_digits,
};
pub use vcard::Card;

pub const CONTACT_ROUTE: &str = "/send/contact";
pub const CONTACTS_ROUTE: &str = "/send/contacts";

#[derive(Default)]
pub struct ContactPlugin;

impl Plugin for ContactPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("contact")
            .route(
                Route::post(CONTACT_ROUTE)
                    .operation("sendContact")
                    .summary("Send a contact card")
                    .request(&contact_request_schema())
                    .legacy()
                    .success_message("Contact sent successfully")
                    .failure_prefix("Failed to send contact")
                    .quick(),
            )
            .route(
                Route::post(CONTACTS_ROUTE)
                    .operation("sendContacts")
                    .summary("Send several contact cards as one message")
                    .request(&contacts_request_schema())
                    .legacy()
                    .success_message("Contacts sent successfully")
                    .failure_prefix("Failed to send contacts")
                    .quick(),
            )
    }

    fn encode(&self, request: &Request<'_>, _host: &Host<'_>) -> Result<Outgoing, PluginError> {
        if request.route == CONTACTS_ROUTE {
            let contacts = ContactsRequest::parse_many(request)?;
            let count = contacts.cards.len();
            Ok(Outgoing {
                message: contacts_message(&contacts.cards).encode_to_vec(),
                to: contacts.to,
                nodes: Vec::new(),
                response_extra: Some(json!({ "contact_count": count })),
                ..Outgoing::default()
            })
        } else {
            let contact = ContactsRequest::parse_one(request)?;
            let card = contact
                .cards
                .first()
                .ok_or_else(|| PluginError::internal("a parsed contact request has its contact"))?;
            Ok(Outgoing {
                message: contact_message(card).encode_to_vec(),
                to: contact.to,
                nodes: Vec::new(),
                response_extra: None,
                ..Outgoing::default()
            })
        }
    }
}

fn card_message(card: &Card) -> ContactMessage {
    ContactMessage {
        display_name: Some(card.display_name.clone()),
        vcard: Some(card.to_vcard()),
        ..Default::default()
    }
}

/// One card: `contactMessage`.
pub fn contact_message(card: &Card) -> Message {
    Message {
        contact_message: MessageField::some(card_message(card)),
        ..Default::default()
    }
}

/// Several cards: `contactsArrayMessage`.
pub fn contacts_message(cards: &[Card]) -> Message {
    Message {
        contacts_array_message: MessageField::some(ContactsArrayMessage {
            display_name: Some(format!("{} contacts", cards.len())),
            contacts: cards.iter().map(card_message).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

export_plugin!(ContactPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    fn card(name: &str, digits: &str) -> Card {
        Card {
            display_name: name.into(),
            phone_digits: digits.into(),
            ..Default::default()
        }
    }

    #[test]
    fn one_card_is_a_contact_message() {
        let message = contact_message(&card("Maria", "5511988887777"));
        let contact = message.contact_message.as_option().unwrap();
        assert_eq!(contact.display_name.as_deref(), Some("Maria"));
        assert!(
            contact
                .vcard
                .as_deref()
                .unwrap()
                .contains("TEL;type=CELL;waid=5511988887777:+5511988887777")
        );
        let back = Message::decode_from_slice(&message.encode_to_vec()).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn several_cards_are_one_contacts_array_message() {
        let message = contacts_message(&[card("A", "5511911111111"), card("B", "5511922222222")]);
        let array = message.contacts_array_message.as_option().unwrap();
        assert_eq!(array.display_name.as_deref(), Some("2 contacts"));
        assert_eq!(array.contacts.len(), 2);
        assert_eq!(array.contacts[1].display_name.as_deref(), Some("B"));
        assert!(message.contact_message.as_option().is_none());
    }
}
