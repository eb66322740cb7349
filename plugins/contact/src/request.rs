//! The `/send/contact` and `/send/contacts` requests and their validation.

use std::ops::RangeInclusive;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Value, json};
use wuts_plugin_api::{Kind, PluginError, Recipient, Request, Schema, ValidationError};

use crate::vcard::Card;

/// Digits a contact's phone may have once spaces, dashes, dots, parentheses and a leading
/// `+` are dropped (docs/API.md: 7 to 20).
pub const PHONE_DIGITS: RangeInclusive<usize> = 7..=20;
/// How many contacts one `/send/contacts` may carry.
pub const MAX_CONTACTS: usize = 50;
const NAME_CHARS: RangeInclusive<usize> = 1..=256;
const OPTIONAL_CHARS: RangeInclusive<usize> = 0..=256;

/// What WUTS answers for an empty `contacts` array (the WUTS docs §1.10: the Go
/// validator's text, passed through verbatim).
pub const EMPTY_CONTACTS_ERROR: &str = "Key: 'SendContactsRequest.Contacts' Error:Field validation for 'Contacts' failed on the 'min' tag";

/// One contact object, as both routes take it.
pub fn contact_schema() -> Schema {
    Schema::object()
        .required("display_name", Kind::text(NAME_CHARS))
        .required("phone", Kind::text(1..=64))
        .describe("digits with country code; spaces, dashes, dots, parentheses and + are dropped")
        .optional("first_name", Kind::text(OPTIONAL_CHARS))
        .optional("last_name", Kind::text(OPTIONAL_CHARS))
        .optional("company", Kind::text(OPTIONAL_CHARS))
        .optional("email", Kind::text(OPTIONAL_CHARS))
}

/// `/send/contact`'s shape.
pub fn contact_request_schema() -> Schema {
    Schema::object()
        .required("to", Kind::recipient())
        .required("contact", Kind::object(contact_schema()))
        .device_id()
}

/// `/send/contacts`'s shape.
pub fn contacts_request_schema() -> Schema {
    Schema::object()
        .required("to", Kind::recipient())
        .required(
            "contacts",
            Kind::array(Kind::object(contact_schema()), 1..=MAX_CONTACTS),
        )
        .device_id()
}

static CONTACT: LazyLock<Schema> = LazyLock::new(contact_request_schema);
static CONTACTS: LazyLock<Schema> = LazyLock::new(contacts_request_schema);

/// A contact object as given.
#[derive(Deserialize)]
struct ContactBody {
    display_name: String,
    phone: String,
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    email: Option<String>,
}

/// A validated request of either route: the chat and the cards, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactsRequest {
    pub to: String,
    pub cards: Vec<Card>,
}

impl ContactsRequest {
    /// `/send/contact`: one card.
    pub fn parse_one(request: &Request<'_>) -> Result<ContactsRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            to: Recipient,
            contact: ContactBody,
        }
        let body: Body = request.parse(&CONTACT).map_err(recipient_rule)?;
        Ok(ContactsRequest {
            to: body.to.0,
            cards: vec![card(body.contact, "contact")?],
        })
    }

    /// `/send/contacts`: one card per contact.
    pub fn parse_many(request: &Request<'_>) -> Result<ContactsRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            to: Recipient,
            contacts: Vec<ContactBody>,
        }
        let value: Value = request.json()?;
        if value
            .get("contacts")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            return Err(empty_contacts());
        }
        CONTACTS.validate(&value).map_err(recipient_rule)?;
        let body: Body = serde_json::from_value(value).map_err(|error| {
            PluginError::bad_request("VALIDATION_ERROR", format!("invalid request body: {error}"))
        })?;
        let cards = body
            .contacts
            .into_iter()
            .enumerate()
            .map(|(index, contact)| card(contact, &format!("contacts[{index}]")))
            .collect::<Result<_, _>>()?;
        Ok(ContactsRequest {
            to: body.to.0,
            cards,
        })
    }
}

/// A bad `to` reads as WUTS answers it on this route (the WUTS docs: `{"error":
/// "Invalid recipient JID: invalid number"}`, and `empty input` for none); the field and
/// the precise reason stay in the error's `validation` entry.
fn recipient_rule(mut error: PluginError) -> PluginError {
    if let Some(field) = error.validation.first()
        && field.field == "to"
    {
        let empty = field.value.is_null()
            || field
                .value
                .as_str()
                .is_some_and(|text| text.trim().is_empty());
        error.message = if empty {
            "Invalid recipient JID: empty input".to_string()
        } else {
            "Invalid recipient JID: invalid number".to_string()
        };
    }
    error
}

/// The documented answer to an empty array, with the field named in `validation`.
fn empty_contacts() -> PluginError {
    let mut error = PluginError::bad_request("VALIDATION_ERROR", EMPTY_CONTACTS_ERROR);
    error.validation.push(ValidationError {
        field: "contacts".into(),
        message: format!("0 given, 1 to {MAX_CONTACTS} allowed"),
        value: json!([]),
    });
    error
}

/// A checked card; `path` names the object in errors (`contact`, `contacts[1]`).
fn card(contact: ContactBody, path: &str) -> Result<Card, PluginError> {
    let phone_digits = phone_digits(&contact.phone).map_err(|reason| {
        PluginError::invalid_field(format!("{path}.phone"), reason, json!(contact.phone))
    })?;
    let given = |text: Option<String>| text.filter(|text| !text.trim().is_empty());
    let email = given(contact.email);
    if let Some(email) = &email
        && !looks_like_email(email)
    {
        return Err(PluginError::invalid_field(
            format!("{path}.email"),
            "must be an email address, such as maria@example.com",
            json!(email),
        ));
    }
    Ok(Card {
        display_name: contact.display_name,
        phone_digits,
        first_name: given(contact.first_name),
        last_name: given(contact.last_name),
        company: given(contact.company),
        email,
    })
}

/// The digits of a phone number: one leading `+` and spaces, dashes, dots and parentheses
/// dropped; 7 to 20 digits must remain, country code first.
pub fn phone_digits(text: &str) -> Result<String, String> {
    let text = text.trim();
    let text = text.strip_prefix('+').unwrap_or(text);
    let mut digits = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            other => {
                return Err(format!(
                    "{other:?} is not allowed in a phone number: digits with country code"
                ));
            }
        }
    }
    if !PHONE_DIGITS.contains(&digits.len()) {
        return Err(format!(
            "a phone number needs {} to {} digits, {} given",
            PHONE_DIGITS.start(),
            PHONE_DIGITS.end(),
            digits.len()
        ));
    }
    if digits.starts_with('0') {
        return Err("a phone number starts with its country code, never with 0".into());
    }
    Ok(digits)
}

/// `local@domain`, one `@`, no spaces: what a card's email must at least be.
fn looks_like_email(text: &str) -> bool {
    let mut parts = text.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && !domain.is_empty()
                && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wuts_plugin_api::RequestContext;

    fn parse(route: &str, body: Value) -> Result<ContactsRequest, PluginError> {
        let bytes = serde_json::to_vec(&body).unwrap();
        let request = Request {
            route,
            body: &bytes,
            context: RequestContext::default(),
        };
        if route == "/send/contact" {
            ContactsRequest::parse_one(&request)
        } else {
            ContactsRequest::parse_many(&request)
        }
    }

    #[test]
    fn phones_keep_their_digits() {
        assert_eq!(
            phone_digits("+55 (11) 98888-7777").unwrap(),
            "5511988887777"
        );
        assert_eq!(phone_digits("1.555.010.0000").unwrap(), "15550100000");
        assert!(phone_digits("123456").is_err());
        assert!(phone_digits(&"1".repeat(21)).is_err());
        assert_eq!(phone_digits(&"1".repeat(20)).unwrap().len(), 20);
        assert!(phone_digits("0551198888").is_err());
        assert!(phone_digits("5511abc98888").is_err());
    }

    #[test]
    fn the_documented_examples_parse() {
        let one = parse(
            "/send/contact",
            json!({"to": "5511999999999", "contact": {
            "display_name": "Maria Silva", "phone": "5511988887777", "first_name": "Maria",
            "last_name": "Silva", "company": "WUTS", "email": "maria@example.com"}}),
        )
        .unwrap();
        assert_eq!(one.cards.len(), 1);
        assert_eq!(one.cards[0].email.as_deref(), Some("maria@example.com"));
        let many = parse(
            "/send/contacts",
            json!({"to": "5511999999999", "contacts": [
            {"display_name": "Maria Silva", "phone": "5511988887777", "company": "WUTS",
             "email": "maria@example.com"},
            {"display_name": "Joao Souza", "phone": "5511977776666", "first_name": "Joao",
             "last_name": "Souza"}]}),
        )
        .unwrap();
        assert_eq!(many.cards.len(), 2);
        assert_eq!(many.cards[1].last_name.as_deref(), Some("Souza"));
    }

    #[test]
    fn bad_contacts_are_named_by_their_path() {
        let field =
            |route: &str, body: Value| parse(route, body).unwrap_err().validation[0].field.clone();
        let contact = json!({"display_name": "A", "phone": "5511988887777"});
        let mut bad_phone = contact.clone();
        bad_phone["phone"] = json!("12");
        let mut bad_email = contact.clone();
        bad_email["email"] = json!("not an email");
        assert_eq!(
            field(
                "/send/contact",
                json!({"to": "5511999999999", "contact": bad_phone})
            ),
            "contact.phone"
        );
        assert_eq!(
            field(
                "/send/contacts",
                json!({"to": "5511999999999", "contacts": [contact, bad_email]})
            ),
            "contacts[1].email"
        );
        assert_eq!(
            field(
                "/send/contact",
                json!({"to": "5511999999999", "contact": {"phone": "5511988887777"}})
            ),
            "contact.display_name"
        );
        let too_many: Vec<Value> = (0..51).map(|_| contact.clone()).collect();
        assert_eq!(
            field(
                "/send/contacts",
                json!({"to": "5511999999999", "contacts": too_many})
            ),
            "contacts"
        );
    }

    #[test]
    fn an_empty_array_answers_the_documented_text() {
        let error = parse(
            "/send/contacts",
            json!({"to": "5511999999999", "contacts": []}),
        )
        .unwrap_err();
        assert_eq!(error.status, 400);
        assert_eq!(error.message, EMPTY_CONTACTS_ERROR);
        assert_eq!(error.validation[0].field, "contacts");
    }
}
