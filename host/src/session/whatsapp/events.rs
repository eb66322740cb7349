//! Turns the client's events into state changes, resolved acks and device reports
//! (received messages, receipts, connection changes).
//!
//! Registered as a raw `EventHandler`, which the event bus runs inline on dispatch, so
//! `status()` changes the moment the event is dispatched. Nothing here blocks: reports
//! go to a forwarding task (see `forward_reports` in `mod.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedSender;
use whatsapp_rust::buffa::Message as _;
use whatsapp_rust::types::events::{
    Event, EventHandler, EventInterest, EventKind, InboundMessage as WaInbound, Receipt,
};
use whatsapp_rust::wacore::types::events::ConnectFailureReason;
use whatsapp_rust::wacore::types::presence::ReceiptType;

use super::acks::{AckReport, AckWaiters};
use super::state::{Phase, SessionState};
use crate::session::{DeviceReport, InboundMessage, InboundReceipt, ReceiptKind};

/// Why sends waiting for an ack fail when their connection goes.
pub const CONNECTION_LOST: &str =
    "the connection closed before the server acknowledged the message";

/// The events the driver reads; the bus only materialises these.
const KINDS: &[EventKind] = &[
    EventKind::Connected,
    EventKind::Disconnected,
    EventKind::LoggedOut,
    EventKind::StreamReplaced,
    EventKind::TemporaryBan,
    EventKind::ConnectFailure,
    EventKind::ClientOutdated,
    EventKind::PairingQrCode,
    EventKind::PairingQrCodesExhausted,
    EventKind::PairSuccess,
    EventKind::PairError,
    EventKind::PairingCodeError,
    EventKind::Messages,
    EventKind::Receipt,
    EventKind::ServerAck,
];

/// One client's events, applied only while that client is the device's current one.
pub struct DeviceEvents {
    pub generation: u64,
    pub current: Arc<AtomicU64>,
    pub state: Arc<SessionState>,
    pub acks: Arc<AckWaiters>,
    pub reports: UnboundedSender<DeviceReport>,
}

impl EventHandler for DeviceEvents {
    fn handle_event(&self, event: Arc<Event>) {
        // A client that was replaced by `connect()` may still be winding down.
        if self.current.load(Ordering::SeqCst) != self.generation {
            return;
        }
        apply(&event, &self.state, &self.acks, &self.reports);
    }

    fn interest(&self) -> EventInterest {
        EventInterest::of(KINDS)
    }
}

/// What one event means for the device.
pub fn apply(
    event: &Event,
    state: &SessionState,
    acks: &AckWaiters,
    reports: &UnboundedSender<DeviceReport>,
) {
    // The forwarding task ends only with the session: a failed send is nothing to act on.
    let report = |report: DeviceReport| {
        let _ = reports.send(report);
    };
    match event {
        Event::Connected(_) => {
            tracing::info!("WhatsApp connected");
            state.connected();
            // The forwarding task reads the JID from the client.
            report(DeviceReport::Connected { jid: None });
        }
        Event::Disconnected(disconnected) => {
            let reason = disconnected.reason.to_string();
            tracing::warn!(%reason, "WhatsApp disconnected; the client reconnects with backoff");
            acks.fail_all(CONNECTION_LOST);
            // After a terminal state the drop adds nothing (the state keeps its reason).
            if !state.snapshot().phase.is_terminal() {
                report(DeviceReport::Disconnected {
                    reason: reason.clone(),
                });
            }
            state.disconnected(&reason);
        }
        Event::LoggedOut(logged_out) => {
            let reason = logged_out_reason(&logged_out.reason, logged_out.on_connect);
            tracing::warn!(%reason, "WhatsApp logged out");
            acks.fail_all(CONNECTION_LOST);
            report(DeviceReport::LoggedOut {
                reason: reason.clone(),
            });
            state.ended(Phase::LoggedOut, reason);
        }
        Event::StreamReplaced(_) => {
            tracing::warn!("WhatsApp stream replaced by another client");
            acks.fail_all(CONNECTION_LOST);
            let reason = "another client connected with this device's credentials; POST /connect takes it back";
            report(DeviceReport::State {
                state: "stream_replaced",
                reason: Some(reason.into()),
            });
            state.ended(Phase::StreamReplaced, reason.into());
        }
        Event::TemporaryBan(ban) => {
            let reason = format!(
                "temporarily banned ({:?}) for {} seconds{}",
                ban.code,
                ban.expire.num_seconds(),
                ban.message
                    .as_deref()
                    .map(|text| format!(": {text}"))
                    .unwrap_or_default()
            );
            tracing::warn!(%reason, "WhatsApp temporary ban");
            acks.fail_all(CONNECTION_LOST);
            report(DeviceReport::State {
                state: "temporary_ban",
                reason: Some(reason.clone()),
            });
            state.ended(Phase::TemporaryBan, reason);
        }
        Event::ConnectFailure(failure) => {
            let reason = format!(
                "the server refused the connection ({:?}){}",
                failure.reason,
                failure
                    .message
                    .as_deref()
                    .map(|text| format!(": {text}"))
                    .unwrap_or_default()
            );
            tracing::warn!(%reason, "WhatsApp connect failure");
            acks.fail_all(CONNECTION_LOST);
            if failure.reason.should_reconnect() {
                report(DeviceReport::Disconnected {
                    reason: reason.clone(),
                });
                state.disconnected(&reason);
            } else {
                report(DeviceReport::State {
                    state: "connect_failure",
                    reason: Some(reason.clone()),
                });
                state.ended(Phase::ConnectFailure, reason);
            }
        }
        Event::ClientOutdated(_) => {
            tracing::error!("WhatsApp refused this client version");
            let reason = "WhatsApp refused this client version (outdated)";
            report(DeviceReport::State {
                state: "client_outdated",
                reason: Some(reason.into()),
            });
            state.ended(Phase::ClientOutdated, reason.into());
        }
        Event::PairingQrCode(qr) => {
            if state.snapshot().phase != Phase::Pairing {
                report(DeviceReport::State {
                    state: "pairing",
                    reason: None,
                });
            }
            let lifetime = chrono::Duration::from_std(qr.timeout)
                .unwrap_or_else(|_| chrono::Duration::seconds(20));
            report(DeviceReport::QrGenerated {
                expires_at: Utc::now() + lifetime,
            });
            state.qr_code(qr.code.clone(), qr.timeout);
        }
        Event::PairingQrCodesExhausted(exhausted) => {
            state.qr_codes_exhausted(exhausted.disconnected)
        }
        Event::PairSuccess(paired) => {
            tracing::info!(jid = %paired.id, "WhatsApp paired");
            report(DeviceReport::PairSuccess {
                jid: paired.id.to_non_ad_string(),
            });
            state.paired(paired.id.to_string());
        }
        Event::PairError(failed) => state.pairing_failed(&failed.error),
        Event::PairingCodeError(failed) => state.pairing_failed(&failed.error),
        Event::Messages(batch) => {
            for message in batch.messages.iter() {
                report(DeviceReport::Received(inbound_message(message)));
            }
        }
        Event::Receipt(receipt) => {
            if let Some(receipt) = inbound_receipt(receipt) {
                report(DeviceReport::Receipt(receipt));
            }
        }
        Event::ServerAck(ack) => {
            acks.resolve(AckReport {
                id: ack.id.clone(),
                class: ack.class.clone(),
                timestamp: ack.timestamp,
                error: ack.error.clone(),
            });
        }
        _ => {}
    }
}

fn logged_out_reason(reason: &ConnectFailureReason, on_connect: bool) -> String {
    let when = if on_connect {
        "at login"
    } else {
        "while connected"
    };
    format!("logged out {when} ({reason:?}): pair the device again (GET /qr or POST /paircode)")
}

/// A received message as the host logs it, the protobuf encoded again. The sender's
/// phone number and LID come from the stanza (the server names the other one beside the
/// sender: `sender_alt`); the forwarding task looks up what the stanza left out.
pub fn inbound_message(message: &WaInbound) -> InboundMessage {
    let info = &message.info;
    let timestamp: DateTime<Utc> = info.timestamp;
    let sender = &info.source.sender;
    let alternate = info.source.sender_alt.as_ref();
    let phone_number = [Some(sender), alternate]
        .into_iter()
        .flatten()
        .find(|jid| jid.is_pn())
        .map(|jid| jid.to_non_ad_string());
    let lid = [Some(sender), alternate]
        .into_iter()
        .flatten()
        .find(|jid| jid.is_lid())
        .map(|jid| jid.to_non_ad_string());
    InboundMessage {
        message_id: info.id.to_string(),
        chat_jid: info.source.chat.to_non_ad_string(),
        sender_jid: sender.to_non_ad_string(),
        sender_pn: phone_number,
        sender_lid: lid,
        push_name: Some(info.push_name.clone()).filter(|name| !name.is_empty()),
        own_jid: None,
        from_me: info.source.is_from_me,
        message: message.message.encode_to_vec(),
        timestamp,
    }
}

/// A delivery or read receipt from the recipient (others: our own devices' reads,
/// retries, plays, are not the tenant's business).
pub fn inbound_receipt(receipt: &Receipt) -> Option<InboundReceipt> {
    let kind = match receipt.r#type {
        ReceiptType::Delivered => ReceiptKind::Delivered,
        ReceiptType::Read => ReceiptKind::Read,
        _ => return None,
    };
    Some(InboundReceipt {
        kind,
        message_ids: receipt
            .message_ids
            .iter()
            .map(ToString::to_string)
            .collect(),
        chat_jid: receipt.source.chat.to_non_ad_string(),
        by: receipt.source.sender.to_non_ad_string(),
        timestamp: receipt.timestamp,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::mpsc;
    use whatsapp_rust::types::events::{
        ConnectFailure, Connected, Disconnected, LoggedOut, PairingQrCode, ServerAck,
        StreamReplaced, TemporaryBan,
    };
    use whatsapp_rust::wacore::net::DisconnectReason;
    use whatsapp_rust::wacore::types::events::TempBanReason;

    use super::*;

    struct Harness {
        state: Arc<SessionState>,
        acks: Arc<AckWaiters>,
        handler: DeviceEvents,
        current: Arc<AtomicU64>,
        reports: mpsc::UnboundedReceiver<DeviceReport>,
    }

    fn harness() -> Harness {
        let state = Arc::new(SessionState::new());
        let acks = AckWaiters::new();
        let current = Arc::new(AtomicU64::new(1));
        let (sender, receiver) = mpsc::unbounded_channel();
        let handler = DeviceEvents {
            generation: 1,
            current: Arc::clone(&current),
            state: Arc::clone(&state),
            acks: Arc::clone(&acks),
            reports: sender,
        };
        Harness {
            state,
            acks,
            handler,
            current,
            reports: receiver,
        }
    }

    fn send(harness: &Harness, event: Event) {
        harness.handler.handle_event(Arc::new(event));
    }

    fn state_word(harness: &Harness) -> String {
        harness.state.snapshot().status(None).state
    }

    #[test]
    fn the_interest_covers_every_event_the_driver_reads() {
        let interest = EventInterest::of(KINDS);
        assert!(interest.wants(EventKind::ServerAck));
        assert!(interest.wants(EventKind::Messages));
        assert!(interest.wants(EventKind::Receipt));
        assert!(!interest.wants(EventKind::Presence));
    }

    #[test]
    fn connection_events_change_the_state_at_once_with_a_reason() {
        let harness = harness();
        send(&harness, Event::Connected(Connected::builder().build()));
        assert!(harness.state.snapshot().status(None).connected);

        send(
            &harness,
            Event::Disconnected(
                Disconnected::builder()
                    .reason(DisconnectReason::StreamEnded)
                    .build(),
            ),
        );
        let status = harness.state.snapshot().status(None);
        assert!(!status.connected);
        assert_eq!(status.state, "disconnected");
        assert!(status.last_error.unwrap().contains("stream ended"));

        send(&harness, Event::Connected(Connected::builder().build()));
        send(
            &harness,
            Event::StreamReplaced(StreamReplaced::builder().build()),
        );
        assert_eq!(state_word(&harness), "stream_replaced");
        // The client stops after a replacement; a later drop does not hide why.
        send(
            &harness,
            Event::Disconnected(
                Disconnected::builder()
                    .reason(DisconnectReason::Unknown)
                    .build(),
            ),
        );
        assert_eq!(state_word(&harness), "stream_replaced");
    }

    #[test]
    fn logouts_bans_and_refusals_are_terminal_and_explained() {
        let harness = harness();
        send(
            &harness,
            Event::LoggedOut(
                LoggedOut::builder()
                    .on_connect(true)
                    .reason(ConnectFailureReason::LoggedOut)
                    .build(),
            ),
        );
        let status = harness.state.snapshot().status(None);
        assert_eq!(status.state, "logged_out");
        assert!(!status.logged_in);
        assert!(status.last_error.unwrap().contains("pair the device again"));

        let harness = self::harness();
        send(
            &harness,
            Event::TemporaryBan(
                TemporaryBan::builder()
                    .code(TempBanReason::SentToTooManyPeople)
                    .expire(chrono::Duration::seconds(3600))
                    .build(),
            ),
        );
        let status = harness.state.snapshot().status(None);
        assert_eq!(status.state, "temporary_ban");
        assert!(status.last_error.unwrap().contains("3600 seconds"));

        let harness = self::harness();
        send(
            &harness,
            Event::ConnectFailure(
                ConnectFailure::builder()
                    .reason(ConnectFailureReason::ServiceUnavailable)
                    .build(),
            ),
        );
        assert_eq!(
            state_word(&harness),
            "disconnected",
            "503 is retried by the client"
        );
        send(
            &harness,
            Event::ConnectFailure(
                ConnectFailure::builder()
                    .reason(ConnectFailureReason::BadUserAgent)
                    .build(),
            ),
        );
        assert_eq!(state_word(&harness), "connect_failure");
    }

    #[test]
    fn qr_codes_from_events_become_the_current_code() {
        let harness = harness();
        send(
            &harness,
            Event::PairingQrCode(
                PairingQrCode::builder()
                    .code("2@abc".into())
                    .timeout(Duration::from_secs(60))
                    .build(),
            ),
        );
        assert_eq!(
            harness.state.snapshot().qr.map(|qr| qr.code).as_deref(),
            Some("2@abc")
        );
        assert_eq!(state_word(&harness), "pairing");
    }

    #[tokio::test]
    async fn server_acks_resolve_the_matching_send_and_a_drop_fails_the_rest() {
        let harness = harness();
        let waiter = harness.acks.register("3EB0ONE").unwrap();
        let lost = harness.acks.register("3EB0TWO").unwrap();
        let at = DateTime::from_timestamp(1_750_000_000, 0);
        send(
            &harness,
            Event::ServerAck(
                ServerAck::builder()
                    .id("3EB0ONE".into())
                    .class("message".into())
                    .maybe_timestamp(at)
                    .build(),
            ),
        );
        assert_eq!(
            waiter.wait().await.unwrap().timestamp.timestamp(),
            1_750_000_000
        );
        send(
            &harness,
            Event::Disconnected(
                Disconnected::builder()
                    .reason(DisconnectReason::StreamEnded)
                    .build(),
            ),
        );
        assert!(
            matches!(lost.wait().await, Err(crate::session::SessionError::Failed(text)) if text == CONNECTION_LOST)
        );
    }

    #[test]
    fn received_messages_are_forwarded_with_their_protobuf() {
        use whatsapp_rust::types::events::{BatchOrigin, MessageBatch};
        use whatsapp_rust::wacore::types::message::{MessageInfo, MessageSource};

        let mut harness = harness();
        let info = MessageInfo {
            id: "3EB0IN".into(),
            source: MessageSource {
                chat: "5511999999999@s.whatsapp.net".parse().unwrap(),
                sender: "5511999999999@s.whatsapp.net".parse().unwrap(),
                ..Default::default()
            },
            timestamp: DateTime::from_timestamp(1_760_000_000, 0).unwrap(),
            ..Default::default()
        };
        let text = whatsapp_rust::waproto::whatsapp::Message {
            conversation: Some("hello".into()),
            ..Default::default()
        };
        let received = WaInbound::builder()
            .message(Arc::new(text.clone()))
            .info(Arc::new(info))
            .build();
        let batch = MessageBatch::builder()
            .messages(Arc::from(vec![received]))
            .origin(BatchOrigin::Live)
            .build();
        send(&harness, Event::Messages(batch));
        let Ok(DeviceReport::Received(forwarded)) = harness.reports.try_recv() else {
            panic!("the message is reported");
        };
        assert_eq!(forwarded.message_id, "3EB0IN");
        assert_eq!(forwarded.chat_jid, "5511999999999@s.whatsapp.net");
        assert!(!forwarded.from_me);
        assert_eq!(forwarded.timestamp.timestamp(), 1_760_000_000);
        assert_eq!(forwarded.message, text.encode_to_vec());
    }

    #[test]
    fn events_of_a_replaced_client_are_ignored() {
        let harness = harness();
        harness.current.store(2, Ordering::SeqCst);
        send(&harness, Event::Connected(Connected::builder().build()));
        assert_eq!(state_word(&harness), "connecting");
    }
}
