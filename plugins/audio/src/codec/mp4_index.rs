//! Whether an MP4/QuickTime file still has its index (`moov` box): a file cut off before it
//! cannot be played, and qtdemux's "no playable streams" error for it can be lost inside
//! decodebin (it swallows errors of an element it is still trying), which would leave the
//! pipeline waiting until its deadline. So the index is looked for before decoding.

/// True when the top-level boxes of `input` hold no `moov`.
pub(crate) fn missing_index(input: &[u8]) -> bool {
    let mut position: usize = 0;
    while let Some(header) = input.get(position..position.saturating_add(8)) {
        let size = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as u64;
        let kind = &header[4..8];
        if kind == b"moov" {
            return false;
        }
        let size = match size {
            // The box runs to the end of the file.
            0 => return true,
            // A 64-bit size follows the type.
            1 => match input.get(position + 8..position + 16) {
                Some(large) => u64::from_be_bytes([
                    large[0], large[1], large[2], large[3], large[4], large[5], large[6], large[7],
                ]),
                None => return true,
            },
            size => size,
        };
        if size < 8 {
            // Not a box structure we can walk: let the demuxer judge it.
            return false;
        }
        position = match usize::try_from(size)
            .ok()
            .and_then(|size| position.checked_add(size))
        {
            Some(next) => next,
            None => return true,
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body_len: usize) -> Vec<u8> {
        let mut out = ((body_len + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend(std::iter::repeat_n(0u8, body_len));
        out
    }

    #[test]
    fn finds_the_index_first_or_last() {
        let ftyp = boxed(b"ftyp", 16);
        let mdat = boxed(b"mdat", 1000);
        let moov = boxed(b"moov", 100);
        assert!(!missing_index(
            &[ftyp.clone(), moov.clone(), mdat.clone()].concat()
        ));
        assert!(!missing_index(&[ftyp.clone(), mdat.clone(), moov].concat()));
        // Cut inside mdat, before the index at the end.
        let whole = [ftyp.clone(), mdat].concat();
        assert!(missing_index(&whole[..whole.len() / 2]));
        assert!(missing_index(&ftyp));
    }

    #[test]
    fn odd_sizes_never_panic() {
        assert!(missing_index(b""));
        assert!(missing_index(&[0, 0, 0, 1, b'm', b'd', b'a', b't', 0xff]));
        assert!(!missing_index(&[0, 0, 0, 4, b'f', b't', b'y', b'p']));
        let huge = [0xff, 0xff, 0xff, 0xff, b'm', b'd', b'a', b't'];
        assert!(missing_index(&huge));
    }
}
