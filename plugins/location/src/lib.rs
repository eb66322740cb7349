//! The location plugin: `POST /send/location` (a pin) and `POST /send/live-location` (a
//! point of a live, moving location).
//!
//! # Requests
//!
//! Field names as the WUTS docs §1.7, §1.8 and §10 print them (`to`, snake_case);
//! limits from docs/API.md "More message types" where the contract prints none.
//!
//! - `/send/location`: `{"to", "latitude", "longitude", "name"?, "address"?, "url"?,
//!   "comment"?, "device_id"?}`; `latitude` -90..90 and `longitude` -180..180 (numbers,
//!   not strings), `url` http(s).
//! - `/send/live-location`: `{"to", "latitude", "longitude", "accuracy_in_meters"?,
//!   "speed_in_mps"?, "degrees_clockwise_from_magnetic_north"?, "caption"?,
//!   "sequence_number"?, "time_offset"?, "duration_in_seconds"?, "device_id"?}`.
//!
//! Both answer in the legacy envelope (`{"error"}` on failure), with "Location sent
//! successfully" / "Live location sent successfully" and the failure prefixes §9 lists; a
//! bad `to` reads `Invalid recipient JID: invalid number` (`empty input` for none), as
//! §1.7 prints it.
//!
//! # What goes out
//!
//! - `/send/location`: `Message { locationMessage { degreesLatitude, degreesLongitude,
//!   name?, address?, url?, comment? } }`.
//! - `/send/live-location`: `Message { liveLocationMessage { degreesLatitude,
//!   degreesLongitude, accuracyInMeters?, speedInMps?, degreesClockwiseFromMagneticNorth?,
//!   caption?, sequenceNumber?, timeOffset? } }`.
//!
//! No extra stanza nodes. The stanza's type and media type are the library's:
//! whatsapp-rust sends both as `<message type="media">`, with `<enc mediatype="location">`
//! for a pin and `mediatype="livelocation"` for a live location (or a `locationMessage`
//! with `isLive`). Other clients differ on the pin: whatsmeow gives a `locationMessage` no
//! media type (so `type="text"`), Baileys likewise, while both send `livelocation` for a
//! `liveLocationMessage`.
//!
//! `duration_in_seconds` is validated (1 to 86,400) but has no field to go into:
//! `LiveLocationMessage` carries none in the current clients' protobuf (WhatsApp's
//! `whatsapp.proto` as shipped in waproto 0.7.0, whatsmeow's `waE2E`, Baileys' `WAProto`);
//! how long a live location lasts is not part of the message. Thumbnails (the contract's
//! "JPEG thumbnail", whose field names it does not print) are not taken.
//!
//! Sources: whatsapp-rust 0.7.0 `wacore/src/send/classify.rs`
//! (`media_type_from_message`: `location`, `livelocation`); whatsmeow (tulir/whatsmeow
//! 33cfac5) `send.go` `getMediaTypeFromMessage`; Baileys (WhiskeySockets/Baileys 78e7e4e)
//! `src/Utils/messages.ts` (`generateWAMessageContent`: `location` becomes a
//! `locationMessage` as given) and `src/Socket/messages-send.ts` (`getMediaType`:
//! `liveLocationMessage` is `livelocation`).

mod request;

use buffa::{Message as _, MessageField};
use waproto::whatsapp::Message;
use waproto::whatsapp::message::{LiveLocationMessage, LocationMessage};
use wuts_plugin_api::{
    Host, Outgoing, Plugin, PluginError, PluginInfo, Request, Route, export_plugin,
};

pub use request::{LiveLocationRequest, LocationRequest, live_location_schema, location_schema};

pub const LOCATION_ROUTE: &str = "/send/location";
pub const LIVE_LOCATION_ROUTE: &str = "/send/live-location";

#[derive(Default)]
pub struct LocationPlugin;

impl Plugin for LocationPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("location")
            .route(
                Route::post(LOCATION_ROUTE)
                    .operation("sendLocation")
                    .summary("Send a location pin")
                    .request(&location_schema())
                    .legacy()
                    .success_message("Location sent successfully")
                    .failure_prefix("Failed to send location")
                    .quick(),
            )
            .route(
                Route::post(LIVE_LOCATION_ROUTE)
                    .operation("sendLiveLocation")
                    .summary("Send a live location point")
                    .request(&live_location_schema())
                    .legacy()
                    .success_message("Live location sent successfully")
                    .failure_prefix("Failed to send live location")
                    .quick(),
            )
    }

    fn encode(&self, request: &Request<'_>, _host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let (to, message) = if request.route == LIVE_LOCATION_ROUTE {
            let live = LiveLocationRequest::parse(request)?;
            (live.to.clone(), live_location_message(live))
        } else {
            let pin = LocationRequest::parse(request)?;
            (pin.to.clone(), location_message(pin))
        };
        Ok(Outgoing {
            to,
            message: message.encode_to_vec(),
            nodes: Vec::new(),
            response_extra: None,
            ..Outgoing::default()
        })
    }
}

/// A pin: `locationMessage`.
pub fn location_message(pin: LocationRequest) -> Message {
    Message {
        location_message: MessageField::some(LocationMessage {
            degrees_latitude: Some(pin.latitude),
            degrees_longitude: Some(pin.longitude),
            name: pin.name,
            address: pin.address,
            url: pin.url,
            comment: pin.comment,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A live location point: `liveLocationMessage`.
pub fn live_location_message(live: LiveLocationRequest) -> Message {
    Message {
        live_location_message: MessageField::some(LiveLocationMessage {
            degrees_latitude: Some(live.latitude),
            degrees_longitude: Some(live.longitude),
            accuracy_in_meters: live.accuracy_in_meters,
            speed_in_mps: live.speed_in_mps,
            degrees_clockwise_from_magnetic_north: live.degrees_clockwise_from_magnetic_north,
            caption: live.caption,
            sequence_number: live.sequence_number,
            time_offset: live.time_offset,
            ..Default::default()
        }),
        ..Default::default()
    }
}

export_plugin!(LocationPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_carries_every_field_given_and_survives_the_wire() {
        let message = location_message(LocationRequest {
            to: "5511999999999@s.whatsapp.net".into(),
            latitude: -23.55052,
            longitude: -46.633308,
            name: Some("Praca da Se".into()),
            address: None,
            url: Some("https://maps.example.com/?q=-23.55052,-46.633308".into()),
            comment: Some("Meet me here at noon".into()),
        });
        let pin = message.location_message.as_option().unwrap();
        assert_eq!(pin.degrees_latitude, Some(-23.55052));
        assert_eq!(pin.degrees_longitude, Some(-46.633308));
        assert_eq!(pin.address, None);
        assert_eq!(pin.is_live, None);
        let back = Message::decode_from_slice(&message.encode_to_vec()).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn a_live_point_is_a_live_location_message() {
        let message = live_location_message(LiveLocationRequest {
            to: "5511999999999@s.whatsapp.net".into(),
            latitude: 1.5,
            longitude: -2.25,
            accuracy_in_meters: Some(12),
            speed_in_mps: Some(1.4),
            degrees_clockwise_from_magnetic_north: Some(90),
            caption: Some("On my way".into()),
            sequence_number: Some(1),
            time_offset: Some(0),
        });
        assert!(message.location_message.as_option().is_none());
        let live = message.live_location_message.as_option().unwrap();
        assert_eq!(live.speed_in_mps, Some(1.4));
        assert_eq!(live.sequence_number, Some(1));
        let back = Message::decode_from_slice(&message.encode_to_vec()).unwrap();
        assert_eq!(back, message);
    }
}
