//! Cheap magic-byte sniffing of audio containers, to refuse non-audio payloads before decoding.
//!
//! This only looks at the first bytes and never starts GStreamer. It is a fast pre-check; the
//! transcoder still runs GStreamer's own type detection, which knows many more formats.

/// Media type of `input` judged by its first bytes, or None when it is not a known audio
/// (or audio-carrying) container. MP4/Matroska files are named by their brand/doctype only:
/// whether they really hold an audio track is known only after demuxing.
pub fn sniff_mime(input: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| input.get(offset..offset + magic.len()) == Some(magic);

    if at(0, b"ID3") {
        return Some("audio/mpeg");
    }
    if (at(0, b"RIFF") || at(0, b"RF64")) && at(8, b"WAVE") {
        return Some("audio/x-wav");
    }
    if at(0, b"OggS") {
        return Some("audio/ogg");
    }
    if at(0, b"fLaC") {
        return Some("audio/flac");
    }
    if at(0, b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")) {
        return Some("audio/aiff");
    }
    if at(0, b"#!AMR") {
        return Some("audio/amr");
    }
    if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(matroska_kind(input));
    }
    if at(4, b"ftyp") {
        return Some(mp4_kind(input.get(8..12)));
    }
    mpeg_audio_kind(input)
}

/// WebM vs. other Matroska, from the EBML DocType near the start of the file.
fn matroska_kind(input: &[u8]) -> &'static str {
    let head = &input[..input.len().min(64)];
    if head.windows(4).any(|w| w == b"webm") {
        "audio/webm"
    } else {
        "audio/x-matroska"
    }
}

/// ISO-BMFF major brand: the M4A family is audio, anything else may be a video.
fn mp4_kind(brand: Option<&[u8]>) -> &'static str {
    match brand {
        Some(b"M4A ") | Some(b"M4B ") | Some(b"M4P ") | Some(b"F4A ") => "audio/mp4",
        Some(b"qt  ") => "video/quicktime",
        Some(brand) if brand.starts_with(b"3g") => "video/3gpp",
        _ => "video/mp4",
    }
}

/// A raw MPEG audio frame header (MP3 without ID3 tag) or an ADTS (raw AAC) header.
fn mpeg_audio_kind(input: &[u8]) -> Option<&'static str> {
    let header = input.get(..4)?;
    if header[0] != 0xFF || header[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (header[1] >> 3) & 0b11;
    let layer = (header[1] >> 1) & 0b11;
    if layer == 0 {
        // ADTS: MPEG-4/2 AAC, 12 sync bits, layer always 0, sample-rate index 0..=12.
        let rate_index = (header[2] >> 2) & 0x0F;
        return (header[1] & 0xF0 == 0xF0 && rate_index <= 12).then_some("audio/aac");
    }
    let bitrate_index = header[2] >> 4;
    let rate_index = (header[2] >> 2) & 0b11;
    let valid = version != 1 && bitrate_index != 0 && bitrate_index != 15 && rate_index != 3;
    valid.then_some("audio/mpeg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_containers() {
        assert_eq!(sniff_mime(b"ID3\x04\x00rest"), Some("audio/mpeg"));
        assert_eq!(
            sniff_mime(b"RIFF\x24\x00\x00\x00WAVEfmt "),
            Some("audio/x-wav")
        );
        assert_eq!(sniff_mime(b"OggS\x00\x02"), Some("audio/ogg"));
        assert_eq!(sniff_mime(b"fLaC\x00\x00\x00\x22"), Some("audio/flac"));
        assert_eq!(sniff_mime(b"FORM\x00\x00\x00\x00AIFF"), Some("audio/aiff"));
        assert_eq!(sniff_mime(b"#!AMR\n"), Some("audio/amr"));
        assert_eq!(
            sniff_mime(b"\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\x82\x84webm"),
            Some("audio/webm")
        );
        assert_eq!(
            sniff_mime(b"\x1A\x45\xDF\xA3\x9F\x42\x82\x88matroska"),
            Some("audio/x-matroska")
        );
        assert_eq!(
            sniff_mime(b"\x00\x00\x00\x20ftypM4A \x00"),
            Some("audio/mp4")
        );
        assert_eq!(
            sniff_mime(b"\x00\x00\x00\x20ftypisom\x00"),
            Some("video/mp4")
        );
        assert_eq!(
            sniff_mime(b"\x00\x00\x00\x20ftyp3gp4\x00"),
            Some("video/3gpp")
        );
    }

    #[test]
    fn raw_mpeg_audio_frames() {
        // MPEG-1 layer III, 128 kb/s, 44.1 kHz.
        assert_eq!(
            sniff_mime(&[0xFF, 0xFB, 0x90, 0x64, 0, 0]),
            Some("audio/mpeg")
        );
        // ADTS AAC-LC, 44.1 kHz.
        assert_eq!(
            sniff_mime(&[0xFF, 0xF1, 0x50, 0x80, 0, 0]),
            Some("audio/aac")
        );
        // Bad bitrate index / reserved sample rate.
        assert_eq!(sniff_mime(&[0xFF, 0xFB, 0xF0, 0x64]), None);
        assert_eq!(sniff_mime(&[0xFF, 0xFB, 0x9C, 0x64]), None);
    }

    #[test]
    fn non_audio_is_refused() {
        assert_eq!(sniff_mime(b""), None);
        assert_eq!(sniff_mime(b"Hello, this is plain text."), None);
        assert_eq!(sniff_mime(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(sniff_mime(b"\xFF\xD8\xFF\xE0\x00\x10JFIF"), None);
        assert_eq!(sniff_mime(b"%PDF-1.7"), None);
        assert_eq!(sniff_mime(b"RIFF\x00\x00\x00\x00WEBPVP8 "), None);
        assert_eq!(sniff_mime(b"OggSx"[..3].as_ref()), None);
    }
}
