//! Reads the encoder delay and padding of an MP3 from its Xing/Info + LAME header, for gapless trimming.
//!
//! MP3 encoders add silence before the audio (encoder delay + the decoder's 529-sample
//! latency) and pad the last frame. The GStreamer 1.22 decoders here output all of it, which
//! makes an MP3 40-70 ms longer than its source. LAME (and ffmpeg) record the exact amounts in
//! the first frame, so the decoded stream can be cut to the real audio.

/// Samples of the decoded stream (at the MP3's own rate) that are real audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GaplessInfo {
    /// Leading samples to drop.
    pub skip: u64,
    /// Samples of real audio after those.
    pub keep: u64,
    /// Sample rate of the MP3, to convert to the output rate.
    pub rate: u32,
}

/// Latency of the standard MP3 synthesis filter bank, which LAME's delay value leaves out.
const DECODER_DELAY: u64 = 529;

/// The gapless info of an MP3 with a LAME-style header, or None for anything else.
pub(crate) fn gapless_info(input: &[u8]) -> Option<GaplessInfo> {
    let frame = input.get(id3v2_len(input)?..)?;
    let header = FrameHeader::parse(frame)?;
    let tag_at = 4 + header.side_info_len();
    let tag = frame.get(tag_at..)?;
    if !(tag.starts_with(b"Xing") || tag.starts_with(b"Info")) {
        return None;
    }
    let flags = be_u32(tag.get(4..8)?);
    if flags & 0x1 == 0 {
        return None; // no frame count: the total length is unknown
    }
    let frames = u64::from(be_u32(tag.get(8..12)?));
    let mut pos = 12;
    if flags & 0x2 != 0 {
        pos += 4; // byte count
    }
    if flags & 0x4 != 0 {
        pos += 100; // seek table
    }
    if flags & 0x8 != 0 {
        pos += 4; // quality
    }
    let lame = tag.get(pos..pos + 24)?;
    // The extension starts with a 9-character encoder name ("LAME3.100", "Lavc59.37").
    if !lame[..4].iter().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let delay = (u64::from(lame[21]) << 4) | (u64::from(lame[22]) >> 4);
    let padding = (u64::from(lame[22] & 0x0F) << 8) | u64::from(lame[23]);
    let total = frames * header.samples_per_frame;
    let keep = total.checked_sub(delay + padding)?;
    let skip = delay + DECODER_DELAY;
    (keep > 0 && skip + keep <= total + DECODER_DELAY).then_some(GaplessInfo {
        skip,
        keep,
        rate: header.rate,
    })
}

/// Length of a leading ID3v2 tag (0 if none).
fn id3v2_len(input: &[u8]) -> Option<usize> {
    if !input.starts_with(b"ID3") {
        return Some(0);
    }
    let header = input.get(..10)?;
    let size = header[6..10]
        .iter()
        .fold(0usize, |acc, &b| (acc << 7) | usize::from(b & 0x7F));
    let footer = if header[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + size + footer)
}

fn be_u32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

/// The fields of an MPEG audio layer III frame header that locate the Xing tag.
struct FrameHeader {
    mpeg1: bool,
    mono: bool,
    rate: u32,
    samples_per_frame: u64,
}

impl FrameHeader {
    fn parse(frame: &[u8]) -> Option<Self> {
        let h = frame.get(..4)?;
        if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
            return None;
        }
        let version = (h[1] >> 3) & 0b11; // 3 = MPEG1, 2 = MPEG2, 0 = MPEG2.5
        let layer = (h[1] >> 1) & 0b11; // 1 = layer III
        if version == 1 || layer != 1 {
            return None;
        }
        let base_rate = match (h[2] >> 2) & 0b11 {
            0 => 44_100,
            1 => 48_000,
            2 => 32_000,
            _ => return None,
        };
        let (rate, mpeg1) = match version {
            3 => (base_rate, true),
            2 => (base_rate / 2, false),
            _ => (base_rate / 4, false),
        };
        Some(FrameHeader {
            mpeg1,
            mono: (h[3] >> 6) == 0b11,
            rate,
            samples_per_frame: if mpeg1 { 1152 } else { 576 },
        })
    }

    fn side_info_len(&self) -> usize {
        match (self.mpeg1, self.mono) {
            (true, false) => 32,
            (true, true) => 17,
            (false, false) => 17,
            (false, true) => 9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Info frame (MPEG1 layer III, 44.1 kHz, joint stereo) behind an ID3v2 tag.
    fn lame_mp3(frames: u32, delay: u16, padding: u16) -> Vec<u8> {
        let mut bytes = b"ID3\x04\x00\x00\x00\x00\x00\x05abcde".to_vec();
        bytes.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x44]);
        bytes.extend_from_slice(&[0; 32]); // side info
        bytes.extend_from_slice(b"Info");
        bytes.extend_from_slice(&0x0000_0001u32.to_be_bytes()); // frames only
        bytes.extend_from_slice(&frames.to_be_bytes());
        bytes.extend_from_slice(b"LAME3.100");
        bytes.extend_from_slice(&[0; 12]);
        bytes.push((delay >> 4) as u8);
        bytes.push((((delay & 0x0F) << 4) | (padding >> 8)) as u8);
        bytes.push(padding as u8);
        bytes.extend_from_slice(&[0; 100]);
        bytes
    }

    #[test]
    fn reads_delay_and_padding() {
        let info = gapless_info(&lame_mp3(170, 576, 1474)).unwrap();
        assert_eq!(
            info,
            GaplessInfo {
                skip: 576 + 529,
                keep: 170 * 1152 - 576 - 1474,
                rate: 44_100
            }
        );
    }

    #[test]
    fn ignores_files_without_the_header() {
        assert_eq!(gapless_info(b""), None);
        assert_eq!(gapless_info(b"ID3"), None);
        assert_eq!(gapless_info(b"RIFF....WAVE"), None);
        let mut no_tag = lame_mp3(10, 576, 100);
        let at = no_tag.windows(4).position(|w| w == b"Info").unwrap();
        no_tag[at..at + 4].copy_from_slice(b"Nope");
        assert_eq!(gapless_info(&no_tag), None);
        // Padding larger than the whole stream is nonsense.
        assert_eq!(gapless_info(&lame_mp3(1, 576, 4000)), None);
    }
}
