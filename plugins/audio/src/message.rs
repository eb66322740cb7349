//! Building the `AudioMessage`: the upload's media fields, voice-note details, view-once
//! wrapping, and the context info for mentions and the quote.

use std::time::Duration;

use buffa::{Message as _, MessageField};
use waproto::whatsapp::message::{AudioMessage, FutureProofMessage};
use waproto::whatsapp::{ContextInfo, Message};
use wuts_plugin_api::{MediaReference, SentMessage};

use crate::codec::OUTPUT_MIME;
use crate::request::Quote;

/// What the message says about the audio, besides the upload.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioDetails {
    pub duration: Duration,
    /// 64 values, 0..=100.
    pub waveform: Vec<u8>,
    pub ptt: bool,
    pub view_once: bool,
}

/// The quote as it goes into the message.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedQuote {
    pub stanza_id: String,
    pub participant: String,
    pub message: Message,
    /// Whether the host knew the original (else the caller's body is quoted).
    pub found: bool,
}

/// Quotes the original when the host knows it and it decodes, else `{conversation: body}`.
pub fn resolve_quote(quote: &Quote, known: Option<&SentMessage>) -> ResolvedQuote {
    let original = known.and_then(|known| Message::decode_from_slice(&known.message).ok());
    let found = original.is_some();
    let message = original.unwrap_or_else(|| Message {
        conversation: Some(quote.body.clone()),
        ..Default::default()
    });
    ResolvedQuote {
        stanza_id: quote.message_id.clone(),
        participant: quote.participant.clone(),
        message,
        found,
    }
}

/// Whole seconds as WhatsApp shows them: rounded up, at least one.
pub fn whole_seconds(duration: Duration) -> u32 {
    let millis = duration.as_millis();
    let seconds = millis.div_ceil(1000).max(1);
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

/// The message: an `AudioMessage`, wrapped in `viewOnceMessage` when view-once.
pub fn build(
    media: &MediaReference,
    details: &AudioDetails,
    mentioned: &[String],
    quote: Option<ResolvedQuote>,
) -> Message {
    let audio = AudioMessage {
        url: Some(media.url.clone()),
        mimetype: Some(OUTPUT_MIME.to_string()),
        file_sha256: Some(media.file_sha256.clone()),
        file_length: Some(media.file_length),
        seconds: Some(whole_seconds(details.duration)),
        ptt: Some(details.ptt),
        media_key: Some(media.media_key.clone()),
        file_enc_sha256: Some(media.file_enc_sha256.clone()),
        direct_path: Some(media.direct_path.clone()),
        media_key_timestamp: Some(media.media_key_timestamp),
        waveform: Some(details.waveform.clone()),
        view_once: details.view_once.then_some(true),
        context_info: context_info(mentioned, quote),
        ..Default::default()
    };
    let inner = Message {
        audio_message: MessageField::some(audio),
        ..Default::default()
    };
    if !details.view_once {
        return inner;
    }
    // As WhatsApp wraps view-once media: the content inside a FutureProofMessage.
    Message {
        view_once_message: MessageField::some(FutureProofMessage {
            message: MessageField::some(inner),
        }),
        ..Default::default()
    }
}

/// Context info for mentions and the quote; none at all when there is neither.
fn context_info(mentioned: &[String], quote: Option<ResolvedQuote>) -> MessageField<ContextInfo> {
    if mentioned.is_empty() && quote.is_none() {
        return MessageField::none();
    }
    let mut info = ContextInfo {
        mentioned_jid: mentioned.to_vec(),
        ..Default::default()
    };
    if let Some(quote) = quote {
        info.stanza_id = Some(quote.stanza_id);
        info.participant = Some(quote.participant);
        info.quoted_message = MessageField::some(quote.message);
    }
    MessageField::some(info)
}

/// Protobuf bytes of `message`.
pub fn encode(message: &Message) -> Vec<u8> {
    message.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media() -> MediaReference {
        MediaReference {
            url: "/sandbox/media/x".into(),
            direct_path: "/sandbox/media/x".into(),
            media_key: vec![1; 32],
            file_sha256: vec![2; 32],
            file_enc_sha256: vec![3; 32],
            file_length: 1234,
            media_key_timestamp: 1_700_000_000,
        }
    }

    fn details(ptt: bool, view_once: bool) -> AudioDetails {
        AudioDetails {
            duration: Duration::from_millis(4_010),
            waveform: vec![50; 64],
            ptt,
            view_once,
        }
    }

    fn quote() -> Quote {
        Quote {
            message_id: "3EB0AAAAAAAAAAAAAAAAAA".into(),
            participant: "5511988887777@s.whatsapp.net".into(),
            body: "the original".into(),
        }
    }

    #[test]
    fn a_voice_note_carries_the_upload_and_its_details() {
        let message = build(&media(), &details(true, false), &[], None);
        let audio = message.audio_message.as_option().unwrap();
        assert_eq!(audio.url.as_deref(), Some("/sandbox/media/x"));
        assert_eq!(audio.direct_path.as_deref(), Some("/sandbox/media/x"));
        assert_eq!(audio.mimetype.as_deref(), Some("audio/ogg; codecs=opus"));
        assert_eq!(audio.file_length, Some(1234));
        assert_eq!(audio.file_sha256.as_deref(), Some(&[2; 32][..]));
        assert_eq!(audio.file_enc_sha256.as_deref(), Some(&[3; 32][..]));
        assert_eq!(audio.media_key.as_deref(), Some(&[1; 32][..]));
        assert_eq!(audio.media_key_timestamp, Some(1_700_000_000));
        assert_eq!(audio.seconds, Some(5));
        assert_eq!(audio.ptt, Some(true));
        assert_eq!(audio.waveform.as_ref().map(Vec::len), Some(64));
        assert_eq!(audio.view_once, None);
        assert!(audio.context_info.as_option().is_none());
        assert!(message.view_once_message.as_option().is_none());
        // And it survives the wire.
        let back = Message::decode_from_slice(&encode(&message)).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn view_once_sets_the_flag_and_wraps_the_message() {
        let message = build(&media(), &details(false, true), &[], None);
        assert!(message.audio_message.as_option().is_none());
        let inner = message
            .view_once_message
            .as_option()
            .and_then(|wrapper| wrapper.message.as_option())
            .unwrap();
        let audio = inner.audio_message.as_option().unwrap();
        assert_eq!(audio.view_once, Some(true));
        assert_eq!(audio.ptt, Some(false));
    }

    #[test]
    fn mentions_and_a_known_quote_go_into_the_context_info() {
        let original = Message {
            conversation: Some("buttons here".into()),
            ..Default::default()
        };
        let known = SentMessage {
            message_id: "3EB0AAAAAAAAAAAAAAAAAA".into(),
            chat_jid: "5511999999999@s.whatsapp.net".into(),
            sender_jid: None,
            from_me: true,
            message: original.encode_to_vec(),
            timestamp_ms: 0,
        };
        let resolved = resolve_quote(&quote(), Some(&known));
        assert!(resolved.found);
        let mentioned = vec!["5511977776666@s.whatsapp.net".to_string()];
        let message = build(&media(), &details(true, false), &mentioned, Some(resolved));
        let info = message
            .audio_message
            .as_option()
            .unwrap()
            .context_info
            .as_option()
            .unwrap();
        assert_eq!(info.mentioned_jid, mentioned);
        assert_eq!(info.stanza_id.as_deref(), Some("3EB0AAAAAAAAAAAAAAAAAA"));
        assert_eq!(
            info.participant.as_deref(),
            Some("5511988887777@s.whatsapp.net")
        );
        assert_eq!(info.quoted_message.as_option(), Some(&original));
    }

    #[test]
    fn an_unknown_or_undecodable_quote_quotes_the_body() {
        let resolved = resolve_quote(&quote(), None);
        assert!(!resolved.found);
        assert_eq!(
            resolved.message.conversation.as_deref(),
            Some("the original")
        );
        let garbage = SentMessage {
            message_id: "3EB0AAAAAAAAAAAAAAAAAA".into(),
            chat_jid: "5511999999999@s.whatsapp.net".into(),
            sender_jid: None,
            from_me: true,
            message: vec![0xff, 0xff, 0xff],
            timestamp_ms: 0,
        };
        let resolved = resolve_quote(&quote(), Some(&garbage));
        assert!(!resolved.found);
        let message = build(&media(), &details(false, true), &[], Some(resolved));
        let audio = message
            .view_once_message
            .as_option()
            .and_then(|w| w.message.as_option())
            .and_then(|m| m.audio_message.as_option())
            .unwrap();
        let info = audio.context_info.as_option().unwrap();
        assert!(info.mentioned_jid.is_empty());
        assert_eq!(
            info.quoted_message
                .as_option()
                .unwrap()
                .conversation
                .as_deref(),
            Some("the original")
        );
    }

    #[test]
    fn seconds_round_up_and_are_at_least_one() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(400)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1000)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(600)), 600);
    }
}
