//! A complete WUTS-rs plugin: `POST /send/location` sends a location pin.
//!
//! It is the plugin the author's guide (plugin-api/README.md) builds from nothing; CI
//! compiles it, and an end-to-end test loads the library into a running server.

use buffa::{Message as _, MessageField};
use serde::Deserialize;
use waproto::whatsapp::Message;
use waproto::whatsapp::message::LocationMessage;
use wuts_plugin_api::{
    Host, Kind, Outgoing, Plugin, PluginError, PluginInfo, Recipient, Request, Route, Schema,
    export_plugin,
};

/// The request's shape, written once: the plugin validates with it, and the manifest
/// publishes it as the route's JSON Schema.
fn schema() -> Schema {
    Schema::object()
        .required("to", Kind::recipient())
        .required("latitude", Kind::number(-90.0..=90.0))
        .required("longitude", Kind::number(-180.0..=180.0))
        .optional("name", Kind::text(0..=256))
        .optional("address", Kind::text(0..=1024))
        .device_id()
}

/// The same fields as plain Rust values, read once the schema has checked them.
#[derive(Deserialize)]
struct LocationRequest {
    to: Recipient,
    latitude: f64,
    longitude: f64,
    name: Option<String>,
    address: Option<String>,
}

#[derive(Default)]
pub struct LocationPlugin;

impl Plugin for LocationPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("location-example").route(
            Route::post("/send/location")
                .summary("Send a location pin")
                .request(&schema())
                .legacy()
                .success_message("Location sent successfully")
                .failure_prefix("Failed to send location")
                .quick(),
        )
    }

    fn encode(&self, request: &Request<'_>, _host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let body: LocationRequest = request.parse(&schema())?;
        let message = Message {
            location_message: MessageField::some(LocationMessage {
                degrees_latitude: Some(body.latitude),
                degrees_longitude: Some(body.longitude),
                name: body.name,
                address: body.address,
                ..Default::default()
            }),
            ..Default::default()
        };
        Ok(Outgoing {
            to: body.to.0,
            message: message.encode_to_vec(),
            ..Default::default()
        })
    }
}

export_plugin!(LocationPlugin);
