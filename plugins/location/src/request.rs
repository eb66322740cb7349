//! The two requests and their validation.

use std::sync::LazyLock;

use serde::Deserialize;
use wuts_plugin_api::{Kind, PluginError, Recipient, Request, Schema};

/// `latitude` and `longitude`, as every route that takes a point has them.
fn point(schema: Schema) -> Schema {
    schema
        .required("to", Kind::recipient())
        .required("latitude", Kind::number(-90.0..=90.0))
        .required("longitude", Kind::number(-180.0..=180.0))
}

/// `/send/location`'s shape.
pub fn location_schema() -> Schema {
    point(Schema::object())
        .optional("name", Kind::text(0..=256))
        .optional("address", Kind::text(0..=1024))
        .optional("url", Kind::url())
        .optional("comment", Kind::text(0..=1024))
        .device_id()
}

/// `/send/live-location`'s shape.
pub fn live_location_schema() -> Schema {
    point(Schema::object())
        .optional("accuracy_in_meters", Kind::integer(0..=100_000))
        .optional("speed_in_mps", Kind::number(0.0..=1_000.0))
        .optional(
            "degrees_clockwise_from_magnetic_north",
            Kind::integer(0..=359),
        )
        .optional("caption", Kind::text(0..=1024))
        .optional("sequence_number", Kind::integer(0..=i64::MAX))
        .optional("time_offset", Kind::integer(0..=86_400))
        .describe("seconds since the live location started")
        .optional("duration_in_seconds", Kind::integer(1..=86_400))
        .describe("how long the location is shared (not part of WhatsApp's message)")
        .device_id()
}

static LOCATION: LazyLock<Schema> = LazyLock::new(location_schema);
static LIVE_LOCATION: LazyLock<Schema> = LazyLock::new(live_location_schema);

/// An empty optional text is no text.
fn given(text: Option<String>) -> Option<String> {
    text.filter(|text| !text.trim().is_empty())
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

#[derive(Debug, Clone, PartialEq)]
pub struct LocationRequest {
    pub to: String,
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
    pub url: Option<String>,
    pub comment: Option<String>,
}

impl LocationRequest {
    pub fn parse(request: &Request<'_>) -> Result<LocationRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            to: Recipient,
            latitude: f64,
            longitude: f64,
            name: Option<String>,
            address: Option<String>,
            url: Option<String>,
            comment: Option<String>,
        }
        let body: Body = request.parse(&LOCATION).map_err(recipient_rule)?;
        Ok(LocationRequest {
            to: body.to.0,
            latitude: body.latitude,
            longitude: body.longitude,
            name: given(body.name),
            address: given(body.address),
            url: body.url,
            comment: given(body.comment),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveLocationRequest {
    pub to: String,
    pub latitude: f64,
    pub longitude: f64,
    pub accuracy_in_meters: Option<u32>,
    pub speed_in_mps: Option<f32>,
    pub degrees_clockwise_from_magnetic_north: Option<u32>,
    pub caption: Option<String>,
    pub sequence_number: Option<i64>,
    pub time_offset: Option<u32>,
}

impl LiveLocationRequest {
    pub fn parse(request: &Request<'_>) -> Result<LiveLocationRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            to: Recipient,
            latitude: f64,
            longitude: f64,
            accuracy_in_meters: Option<u32>,
            speed_in_mps: Option<f32>,
            degrees_clockwise_from_magnetic_north: Option<u32>,
            caption: Option<String>,
            sequence_number: Option<i64>,
            time_offset: Option<u32>,
        }
        let body: Body = request.parse(&LIVE_LOCATION).map_err(recipient_rule)?;
        Ok(LiveLocationRequest {
            to: body.to.0,
            latitude: body.latitude,
            longitude: body.longitude,
            accuracy_in_meters: body.accuracy_in_meters,
            speed_in_mps: body.speed_in_mps,
            degrees_clockwise_from_magnetic_north: body.degrees_clockwise_from_magnetic_north,
            caption: given(body.caption),
            sequence_number: body.sequence_number,
            time_offset: body.time_offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use wuts_plugin_api::RequestContext;

    fn bytes(body: &Value) -> Vec<u8> {
        serde_json::to_vec(body).unwrap()
    }

    fn pin(body: Value) -> Result<LocationRequest, PluginError> {
        let bytes = bytes(&body);
        LocationRequest::parse(&Request {
            route: "/send/location",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    fn live(body: Value) -> Result<LiveLocationRequest, PluginError> {
        let bytes = bytes(&body);
        LiveLocationRequest::parse(&Request {
            route: "/send/live-location",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    #[test]
    fn the_documented_examples_parse() {
        let parsed = pin(json!({"to": "5511999999999", "latitude": -23.55052,
            "longitude": -46.633308, "name": "Praca da Se",
            "address": "Praca da Se, Se, Sao Paulo - SP",
            "url": "https://maps.example.com/?q=-23.55052,-46.633308",
            "comment": "Meet me here at noon"}))
        .unwrap();
        assert_eq!(parsed.to, "5511999999999@s.whatsapp.net");
        assert_eq!(parsed.comment.as_deref(), Some("Meet me here at noon"));
        let parsed = live(json!({"to": "5511999999999", "latitude": -23.55052,
            "longitude": -46.633308, "accuracy_in_meters": 12, "speed_in_mps": 1.4,
            "degrees_clockwise_from_magnetic_north": 90, "caption": "On my way",
            "sequence_number": 1, "time_offset": 0, "duration_in_seconds": 900}))
        .unwrap();
        assert_eq!(parsed.accuracy_in_meters, Some(12));
        assert_eq!(parsed.speed_in_mps, Some(1.4));
    }

    #[test]
    fn out_of_range_points_are_named() {
        let field = |result: Result<LocationRequest, PluginError>| {
            result.unwrap_err().validation[0].field.clone()
        };
        let body = |lat: Value, lon: Value| json!({"to": "5511999999999", "latitude": lat, "longitude": lon});
        assert_eq!(field(pin(body(json!(91), json!(0)))), "latitude");
        assert_eq!(field(pin(body(json!(-90.0001), json!(0)))), "latitude");
        assert_eq!(field(pin(body(json!("1.5"), json!(0)))), "latitude");
        assert_eq!(field(pin(body(json!(0), json!(180.5)))), "longitude");
        assert!(pin(body(json!(90), json!(-180))).is_ok());
        let error = pin(json!({"to": "123", "latitude": 0, "longitude": 0})).unwrap_err();
        assert_eq!(error.message, "Invalid recipient JID: invalid number");
        assert_eq!(error.validation[0].field, "to");
        let error = pin(json!({"to": " ", "latitude": 0, "longitude": 0})).unwrap_err();
        assert_eq!(error.message, "Invalid recipient JID: empty input");
        let error = live(json!({"to": "5511999999999", "latitude": 0, "longitude": 0,
            "degrees_clockwise_from_magnetic_north": 360}))
        .unwrap_err();
        assert_eq!(
            error.validation[0].field,
            "degrees_clockwise_from_magnetic_north"
        );
    }
}
