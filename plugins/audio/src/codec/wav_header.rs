//! Reads the length a WAV header declares, to notice a cut-off WAV (wavparse plays what is there).

/// Seconds of audio the `data` chunk header promises, or None when unknown: not a WAV, no
/// `fmt `/`data` chunk, or a streaming writer's placeholder size (0 or 0xFFFFFFFF).
pub(crate) fn declared_seconds(input: &[u8]) -> Option<f64> {
    if input.get(..4) != Some(b"RIFF") || input.get(8..12) != Some(b"WAVE") {
        return None;
    }
    let mut pos = 12;
    let mut byte_rate = None;
    while let Some(header) = input.get(pos..pos + 8) {
        let id = &header[..4];
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let body = pos + 8;
        if id == b"fmt " {
            let rate = input.get(body + 8..body + 12)?;
            byte_rate = Some(u32::from_le_bytes([rate[0], rate[1], rate[2], rate[3]]));
        } else if id == b"data" {
            let byte_rate = byte_rate.filter(|&r| r > 0)?;
            if size == 0 || size == u32::MAX {
                return None;
            }
            return Some(f64::from(size) / f64::from(byte_rate));
        }
        // Chunks are padded to an even length.
        pos = body
            .checked_add(size as usize)?
            .checked_add(size as usize & 1)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(data_size: u32, byte_rate: u32) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
        out.extend_from_slice(b"LIST\x03\0\0\0abc\0"); // odd-sized chunk with its pad byte
        out.extend_from_slice(b"fmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0");
        out.extend_from_slice(&byte_rate.to_le_bytes());
        out.extend_from_slice(b"\x02\0\x10\0data");
        out.extend_from_slice(&data_size.to_le_bytes());
        out
    }

    #[test]
    fn reads_the_data_length() {
        assert_eq!(declared_seconds(&wav(64_000, 32_000)), Some(2.0));
    }

    #[test]
    fn unknown_lengths() {
        assert_eq!(declared_seconds(&wav(0, 32_000)), None);
        assert_eq!(declared_seconds(&wav(u32::MAX, 32_000)), None);
        assert_eq!(declared_seconds(&wav(100, 0)), None);
        assert_eq!(declared_seconds(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(declared_seconds(b"OggS"), None);
        assert_eq!(
            declared_seconds(b"RIFF\0\0\0\0WAVEdata\xff\xff\xff\x7f"),
            None
        );
    }
}
