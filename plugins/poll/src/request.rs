//! The `/send/poll` request and its validation.

use std::ops::RangeInclusive;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::json;
use wuts_plugin_api::{Kind, PluginError, Recipient, Request, Schema};

/// How many options a poll has: WhatsApp's own bounds (the WUTS docs §1.12, "between 2
/// and 12 options"; whatsapp-rust's `build_poll_creation_message` refuses the same).
pub const OPTIONS: RangeInclusive<usize> = 2..=12;
/// docs/API.md (`POST /send/poll`): `question` 1 to 255 characters, each option 1 to
/// 100.
const QUESTION_CHARS: RangeInclusive<usize> = 1..=255;
const OPTION_CHARS: RangeInclusive<usize> = 1..=100;

/// What WUTS answers for a poll with too few or too many options (the WUTS docs §1.12);
/// it names the field, `options`.
pub const OPTION_COUNT_ERROR: &str = "Poll must have between 2 and 12 options";
/// The end of the error for two options with one name: a vote names an option by the
/// SHA-256 of its name, so two equal names could not be told apart.
const UNIQUE_RULE: &str = "options must be unique";

/// The request's shape: what the parse checks, and the JSON Schema the manifest
/// publishes.
pub fn schema() -> Schema {
    let option = Schema::object().required("option_name", Kind::text(OPTION_CHARS));
    Schema::object()
        .required("to", Kind::recipient())
        .required("question", Kind::text(QUESTION_CHARS))
        .required(
            "options",
            Kind::array_unique_by(option, OPTIONS, "option_name", UNIQUE_RULE),
        )
        .optional("allow_multiple_answers", Kind::boolean())
        .describe("true: recipients may select every option; false (default): one")
        .device_id()
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(schema);

/// A validated poll.
#[derive(Debug, Clone, PartialEq)]
pub struct PollRequest {
    /// The recipient JID.
    pub to: String,
    pub question: String,
    /// The option names, without surrounding whitespace, in the order given.
    pub options: Vec<String>,
    pub multiple_choice: bool,
}

impl PollRequest {
    pub fn parse(request: &Request<'_>) -> Result<PollRequest, PluginError> {
        #[derive(Deserialize)]
        struct OptionBody {
            option_name: String,
        }
        #[derive(Deserialize)]
        struct Body {
            to: Recipient,
            question: String,
            options: Vec<OptionBody>,
            allow_multiple_answers: Option<bool>,
        }
        let body: Body = request.parse(&SCHEMA).map_err(count_rule)?;
        let options: Vec<String> = body
            .options
            .into_iter()
            .map(|option| option.option_name.trim().to_owned())
            .collect();
        // The schema compares names as given; names that differ only in surrounding
        // spaces look the same in the chat, and are sent trimmed, so they are one name.
        for (index, name) in options.iter().enumerate() {
            if options[..index].contains(name) {
                return Err(PluginError::invalid_field(
                    format!("options[{index}].option_name"),
                    format!("duplicate option_name {name:?}: {UNIQUE_RULE}"),
                    json!(name),
                ));
            }
        }
        Ok(PollRequest {
            to: body.to.0,
            question: body.question,
            options,
            multiple_choice: body.allow_multiple_answers.unwrap_or(false),
        })
    }
}

/// Too few or too many options read as WUTS answers them; the field and the count stay in
/// the error's `validation` entry.
fn count_rule(mut error: PluginError) -> PluginError {
    if let Some(field) = error.validation.first()
        && field.field == "options"
        && field.value.is_number()
    {
        error.message = OPTION_COUNT_ERROR.to_owned();
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use wuts_plugin_api::RequestContext;

    fn parse(body: Value) -> Result<PollRequest, PluginError> {
        let bytes = serde_json::to_vec(&body).unwrap();
        PollRequest::parse(&Request {
            route: "/send/poll",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    fn options(names: &[&str]) -> Value {
        names
            .iter()
            .map(|name| json!({ "option_name": name }))
            .collect()
    }

    fn example() -> Value {
        json!({"to": "5511999999999", "question": "Which delivery slot works best for you?",
            "options": options(&["Morning (8h-12h)", "Afternoon (12h-18h)", "Evening (18h-21h)"]),
            "allow_multiple_answers": false})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut body = example();
        body[key] = value;
        body
    }

    #[test]
    fn the_documented_example_parses() {
        let poll = parse(example()).unwrap();
        assert_eq!(poll.to, "5511999999999@s.whatsapp.net");
        assert_eq!(poll.question, "Which delivery slot works best for you?");
        assert_eq!(
            poll.options,
            [
                "Morning (8h-12h)",
                "Afternoon (12h-18h)",
                "Evening (18h-21h)"
            ]
        );
        assert!(!poll.multiple_choice);
        let mut body = example();
        body.as_object_mut()
            .unwrap()
            .remove("allow_multiple_answers");
        assert!(!parse(body).unwrap().multiple_choice);
        assert!(
            parse(with("allow_multiple_answers", json!(true)))
                .unwrap()
                .multiple_choice
        );
    }

    #[test]
    fn option_counts_outside_two_to_twelve_answer_wuts_text() {
        let names: Vec<String> = (1..=13).map(|n| format!("Option {n}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for count in [0, 1, 13] {
            let error = parse(with("options", options(&names[..count]))).unwrap_err();
            assert_eq!(error.message, OPTION_COUNT_ERROR, "{count}");
            assert_eq!(error.validation[0].field, "options");
            assert_eq!(error.validation[0].value, json!(count));
        }
        assert!(parse(with("options", options(&names[..2]))).is_ok());
        assert!(parse(with("options", options(&names[..12]))).is_ok());
        // Not an array at all: the schema's own text, naming the field.
        let error = parse(with("options", json!("a, b"))).unwrap_err();
        assert_eq!(error.validation[0].field, "options");
        assert_ne!(error.message, OPTION_COUNT_ERROR);
    }

    #[test]
    fn duplicate_options_are_named_by_index() {
        let error = parse(with("options", options(&["Yes", "No", "Yes"]))).unwrap_err();
        assert_eq!(error.validation[0].field, "options[2].option_name");
        assert!(
            error.message.contains("must be unique"),
            "{}",
            error.message
        );
        let error = parse(with("options", options(&["Yes", "No", " Yes "]))).unwrap_err();
        assert_eq!(error.validation[0].field, "options[2].option_name");
        // Case differs: two names, two hashes.
        assert!(parse(with("options", options(&["Yes", "yes"]))).is_ok());
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |body: Value| parse(body).unwrap_err().validation[0].field.clone();
        assert_eq!(field(with("to", json!("123"))), "to");
        assert_eq!(field(with("question", json!(""))), "question");
        assert_eq!(field(with("question", json!("q".repeat(256)))), "question");
        assert_eq!(field(with("question", json!(7))), "question");
        assert_eq!(
            field(with("options", options(&["A", ""]))),
            "options[1].option_name"
        );
        assert_eq!(
            field(with("options", options(&["A", &"o".repeat(101)]))),
            "options[1].option_name"
        );
        assert_eq!(field(with("options", json!(["A", "B"]))), "options[0]");
        assert_eq!(
            field(with("allow_multiple_answers", json!("yes"))),
            "allow_multiple_answers"
        );
        let mut body = example();
        body.as_object_mut().unwrap().remove("question");
        assert_eq!(field(body), "question");
    }

    #[test]
    fn option_names_are_sent_trimmed() {
        let poll = parse(with("options", options(&["  Tea", "Coffee  "]))).unwrap();
        assert_eq!(poll.options, ["Tea", "Coffee"]);
    }
}
