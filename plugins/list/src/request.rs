//! The `/send/interactive` request and its validation.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Value, json};
use wuts_plugin_api::{Kind, PluginError, Recipient, Request, Schema};

/// WhatsApp's limits for a single-select list (Meta's "Interactive list messages": up to
/// 10 sections, up to 10 rows for all sections combined; docs/API.md "More message
/// types" for the characters).
pub const MAX_SECTIONS: usize = 10;
pub const MAX_ROWS: usize = 10;
const TITLE_CHARS: RangeInclusive<usize> = 0..=60;
const BODY_CHARS: RangeInclusive<usize> = 1..=1024;
const FOOTER_CHARS: RangeInclusive<usize> = 0..=60;
const BUTTON_TEXT_CHARS: RangeInclusive<usize> = 1..=20;
const SECTION_TITLE_CHARS: RangeInclusive<usize> = 0..=24;
pub const ROW_ID_CHARS: RangeInclusive<usize> = 1..=200;
const ROW_TITLE_CHARS: RangeInclusive<usize> = 1..=24;
const ROW_DESCRIPTION_CHARS: RangeInclusive<usize> = 0..=72;

/// The request's shape: what the parse checks, and the JSON Schema the manifest
/// publishes. Two rules span items and are checked after it: the rows of all sections
/// together (at most [`MAX_ROWS`], ids unique), and a title on every section of a list
/// with more than one.
pub fn schema() -> Schema {
    let row = Schema::object()
        .required("id", Kind::text(ROW_ID_CHARS))
        .describe("what a tap answers with; unique in the list")
        .required("title", Kind::text(ROW_TITLE_CHARS))
        .optional("description", Kind::text(ROW_DESCRIPTION_CHARS));
    let section = Schema::object()
        .optional("title", Kind::text(SECTION_TITLE_CHARS))
        .describe("required when the list has more than one section")
        .required("rows", Kind::array(Kind::object(row), 1..=MAX_ROWS))
        .describe("at most 10 rows in all sections together");
    Schema::object()
        .required("to", Kind::recipient())
        .optional("title", Kind::text(TITLE_CHARS))
        .describe("the list's header")
        .required("body", Kind::text(BODY_CHARS))
        .optional("footer", Kind::text(FOOTER_CHARS))
        .required("button_text", Kind::text(BUTTON_TEXT_CHARS))
        .describe("the button that opens the list")
        .required(
            "sections",
            Kind::array(Kind::object(section), 1..=MAX_SECTIONS),
        )
        .device_id()
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(schema);

/// A validated `/send/interactive` request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRequest {
    /// The chat JID.
    pub to: String,
    pub title: Option<String>,
    pub body: String,
    pub footer: Option<String>,
    pub button_text: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Section {
    #[serde(default)]
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// An empty optional text is no text.
fn given(text: Option<String>) -> Option<String> {
    text.filter(|text| !text.trim().is_empty())
}

impl ListRequest {
    pub fn parse(request: &Request<'_>) -> Result<ListRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            to: Recipient,
            title: Option<String>,
            body: String,
            footer: Option<String>,
            button_text: String,
            sections: Vec<Section>,
        }
        let body: Body = request.parse(&SCHEMA).map_err(recipient_rule)?;
        let sections: Vec<Section> = body
            .sections
            .into_iter()
            .map(|section| Section {
                title: given(section.title),
                rows: section
                    .rows
                    .into_iter()
                    .map(|row| Row {
                        description: given(row.description),
                        ..row
                    })
                    .collect(),
            })
            .collect();
        check_across_sections(&sections)?;
        Ok(ListRequest {
            to: body.to.0,
            title: given(body.title),
            body: body.body,
            footer: given(body.footer),
            button_text: body.button_text,
            sections,
        })
    }
}

/// The rules that span sections: at most [`MAX_ROWS`] rows in all, row ids unique in the
/// whole list (a tap names only the row), and a title on each section when there are
/// several (the phone shows the titles to tell them apart; Meta requires them).
fn check_across_sections(sections: &[Section]) -> Result<(), PluginError> {
    let total: usize = sections.iter().map(|section| section.rows.len()).sum();
    if total > MAX_ROWS {
        return Err(PluginError::invalid_field(
            "sections",
            format!("{total} rows given in all, at most {MAX_ROWS} allowed in one list"),
            json!(total),
        ));
    }
    if sections.len() > 1
        && let Some(index) = sections.iter().position(|section| section.title.is_none())
    {
        return Err(PluginError::invalid_field(
            format!("sections[{index}].title"),
            "is required when the list has more than one section",
            Value::Null,
        ));
    }
    let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
    for (section_index, section) in sections.iter().enumerate() {
        for (row_index, row) in section.rows.iter().enumerate() {
            if let Some((first_section, first_row)) =
                seen.insert(row.id.as_str(), (section_index, row_index))
            {
                return Err(PluginError::invalid_field(
                    format!("sections[{section_index}].rows[{row_index}].id"),
                    format!(
                        "duplicate id {:?}: row ids must be unique in the list (first at \
                         sections[{first_section}].rows[{first_row}])",
                        row.id
                    ),
                    json!(row.id),
                ));
            }
        }
    }
    Ok(())
}

/// A bad `to` reads as WUTS answers it on this route (the WUTS docs §1.13:
/// `{"error":"Invalid recipient JID: empty input"}`, and `invalid number` for a value that
/// is no number or JID); the field and the precise reason stay in the `validation` entry.
pub fn recipient_rule(mut error: PluginError) -> PluginError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use wuts_plugin_api::RequestContext;

    fn parse(body: &Value) -> Result<ListRequest, PluginError> {
        let bytes = serde_json::to_vec(body).unwrap();
        ListRequest::parse(&Request {
            route: "/send/interactive",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    fn example() -> Value {
        json!({"to": "5511999999999", "title": "Our menu",
            "body": "Pick one of the products below to continue.", "footer": "WUTS Store",
            "button_text": "View products", "sections": [{"title": "Beverages", "rows": [
                {"id": "coffee", "title": "Coffee", "description": "Freshly brewed"},
                {"id": "tea", "title": "Tea", "description": "Black or green"}]}]})
    }

    fn field_of(body: Value) -> String {
        parse(&body).unwrap_err().validation[0].field.clone()
    }

    #[test]
    fn the_documented_example_parses() {
        let parsed = parse(&example()).unwrap();
        assert_eq!(parsed.to, "5511999999999@s.whatsapp.net");
        assert_eq!(parsed.title.as_deref(), Some("Our menu"));
        assert_eq!(parsed.sections[0].rows[1].id, "tea");
        assert_eq!(
            parsed.sections[0].rows[1].description.as_deref(),
            Some("Black or green")
        );
    }

    #[test]
    fn nested_problems_are_named_by_their_path() {
        let mut body = example();
        body["sections"][0]["rows"][1]["id"] = json!("");
        assert_eq!(field_of(body), "sections[0].rows[1].id");
        let mut body = example();
        body["sections"][0]["rows"][0]["title"] = json!("t".repeat(25));
        assert_eq!(field_of(body), "sections[0].rows[0].title");
        let mut body = example();
        body["sections"][0]["rows"][0]["description"] = json!("d".repeat(73));
        assert_eq!(field_of(body), "sections[0].rows[0].description");
        let mut body = example();
        body["sections"][0]["rows"] = json!([]);
        assert_eq!(field_of(body), "sections[0].rows");
    }

    #[test]
    fn rules_across_sections() {
        let row = |id: &str| json!({"id": id, "title": id});
        let mut body = example();
        body["sections"] = json!([
            {"title": "A", "rows": (0..6).map(|i| row(&format!("a{i}"))).collect::<Vec<_>>()},
            {"title": "B", "rows": (0..5).map(|i| row(&format!("b{i}"))).collect::<Vec<_>>()}]);
        assert_eq!(field_of(body), "sections");
        let mut body = example();
        body["sections"] = json!([{"title": "A", "rows": [row("x")]},
            {"title": "B", "rows": [row("y"), row("x")]}]);
        let error = parse(&body).unwrap_err();
        assert_eq!(error.validation[0].field, "sections[1].rows[1].id");
        assert!(error.message.contains("sections[0].rows[0]"), "{error:?}");
        let mut body = example();
        body["sections"] = json!([{"title": "A", "rows": [row("x")]}, {"rows": [row("y")]}]);
        assert_eq!(field_of(body), "sections[1].title");
        // One section needs no title; ten rows in all are fine.
        let mut body = example();
        body["sections"] =
            json!([{"rows": (0..10).map(|i| row(&format!("r{i}"))).collect::<Vec<_>>()}]);
        assert_eq!(parse(&body).unwrap().sections[0].rows.len(), 10);
    }

    #[test]
    fn a_bad_recipient_reads_as_wuts_prints_it() {
        let mut body = example();
        body["to"] = json!("");
        let error = parse(&body).unwrap_err();
        assert_eq!(error.message, "Invalid recipient JID: empty input");
        assert_eq!(error.validation[0].field, "to");
        body["to"] = json!("abc");
        assert_eq!(
            parse(&body).unwrap_err().message,
            "Invalid recipient JID: invalid number"
        );
    }
}
