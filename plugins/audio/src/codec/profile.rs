//! The two output profiles: WhatsApp voice note (16 kHz SILK, repacked) and plain audio (48 kHz).

/// Encoder settings for one kind of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Profile {
    /// Mono sample rate fed to the encoder; also the OpusHead "input sample rate".
    pub rate: u32,
    /// Target bit rate (VBR), bits per second.
    pub bitrate: i32,
    /// opusenc `audio-type` nick: "voice" makes libopus prefer SILK.
    pub audio_type: &'static str,
    /// opusenc `bandwidth` nick.
    pub bandwidth: &'static str,
    /// opusenc `frame-size` nick, in milliseconds.
    pub frame_size: &'static str,
    /// Pack the 20 ms frames three to a packet afterwards (native voice-note layout).
    pub repack_code3: bool,
}

impl Profile {
    /// Native voice-note layout: 16 kHz input rate, SILK wideband 20 ms frames (TOC config 9),
    /// later packed as 60 ms code-3 packets. 24 kb/s is plenty for SILK wideband speech.
    pub const VOICE_NOTE: Profile = Profile {
        rate: 16_000,
        bitrate: 24_000,
        audio_type: "voice",
        bandwidth: "wideband",
        frame_size: "20",
        repack_code3: true,
    };

    /// Ordinary audio message: full band 48 kHz mono; music needs more bits than speech.
    pub const PLAIN: Profile = Profile {
        rate: 48_000,
        bitrate: 64_000,
        audio_type: "generic",
        bandwidth: "fullband",
        frame_size: "20",
        repack_code3: false,
    };

    pub fn for_voice_note(voice_note: bool) -> Profile {
        if voice_note {
            Profile::VOICE_NOTE
        } else {
            Profile::PLAIN
        }
    }
}
