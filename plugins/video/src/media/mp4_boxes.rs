//! The top-level boxes of an MP4/QuickTime file: its brand, whether the index (`moov`)
//! comes before the media (`mdat`), whether it is fragmented, and whether it is whole.
//! A file cut short is refused here, before any decoding: qtdemux would play what is
//! there (plugins/audio/src/codec/mp4_index.rs walks the same boxes for the same reason).

use super::error::VideoError;

/// What the top-level boxes say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub major_brand: Option<[u8; 4]>,
    pub compatible_brands: Vec<[u8; 4]>,
    /// `moov` comes before the first `mdat` (or there is no `mdat`).
    pub index_first: bool,
    /// Movie fragments (`moof`): streamed MP4, which WhatsApp's players may not seek in.
    pub fragmented: bool,
}

/// ISO base media brands: what WhatsApp's clients record and play as `video/mp4`.
const MP4_BRANDS: [&[u8; 4]; 12] = [
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ",
    b"MSNV", b"dash",
];
const THREE_GP_BRANDS: [&[u8; 4]; 6] = [b"3gp4", b"3gp5", b"3gp6", b"3gg6", b"3g2a", b"3ge6"];

impl Layout {
    /// `video/mp4`, `video/quicktime` or `video/3gpp`, by the major brand first.
    pub fn mimetype(&self) -> &'static str {
        let kind = |brand: &[u8; 4]| {
            if MP4_BRANDS.contains(&brand) {
                Some("video/mp4")
            } else if THREE_GP_BRANDS.contains(&brand) {
                Some("video/3gpp")
            } else if brand == b"qt  " {
                Some("video/quicktime")
            } else {
                None
            }
        };
        self.major_brand
            .as_ref()
            .and_then(kind)
            .or_else(|| {
                self.compatible_brands
                    .iter()
                    .find(|brand| MP4_BRANDS.contains(brand))
                    .map(|_| "video/mp4")
            })
            // No `ftyp`: an old QuickTime movie.
            .unwrap_or("video/quicktime")
    }

    /// An MP4 WhatsApp plays as it is: an ISO brand, the index first, not fragmented.
    pub fn is_playable_mp4(&self) -> bool {
        self.mimetype() == "video/mp4" && self.index_first && !self.fragmented
    }
}

fn truncated(what: &str) -> VideoError {
    VideoError::Corrupt(format!("the file is truncated: {what}"))
}

/// Walks the top-level boxes of `input`.
pub(crate) fn layout(input: &[u8]) -> Result<Layout, VideoError> {
    let mut layout = Layout::default();
    let mut seen_moov = false;
    let mut seen_mdat = false;
    let mut position = 0usize;
    while position < input.len() {
        let Some(header) = input.get(position..position + 8) else {
            return Err(truncated("a box header is cut off"));
        };
        let kind: [u8; 4] = [header[4], header[5], header[6], header[7]];
        let (size, header_len) =
            match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
                // The box runs to the end of the file.
                0 => ((input.len() - position) as u64, 8),
                1 => {
                    let Some(large) = input.get(position + 8..position + 16) else {
                        return Err(truncated("a box header is cut off"));
                    };
                    let mut bytes = [0u8; 8];
                    bytes.copy_from_slice(large);
                    (u64::from_be_bytes(bytes), 16)
                }
                size => (u64::from(size), 8),
            };
        if size < header_len {
            return Err(VideoError::Corrupt(
                "the file is damaged: a box has an impossible size".to_string(),
            ));
        }
        let end = (position as u64).saturating_add(size);
        if end > input.len() as u64 {
            return Err(truncated("a box runs past the end of the file"));
        }
        let body = &input[position + header_len as usize..end as usize];
        match &kind {
            b"ftyp" if layout.major_brand.is_none() => read_brands(body, &mut layout),
            b"moov" => {
                if !seen_mdat {
                    layout.index_first = true;
                }
                seen_moov = true;
            }
            b"mdat" => seen_mdat = true,
            b"moof" => layout.fragmented = true,
            _ => {}
        }
        position = end as usize;
    }
    if !seen_moov {
        return Err(truncated("its index (moov box) is missing"));
    }
    Ok(layout)
}

fn read_brands(body: &[u8], layout: &mut Layout) {
    layout.major_brand = brand_at(body, 0);
    layout.compatible_brands = (8..body.len())
        .step_by(4)
        .filter_map(|at| brand_at(body, at))
        .collect();
}

fn brand_at(body: &[u8], at: usize) -> Option<[u8; 4]> {
    body.get(at..at + 4)
        .map(|bytes| [bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let mut body = major.to_vec();
        body.extend_from_slice(&[0, 0, 2, 0]);
        for brand in compatible {
            body.extend_from_slice(*brand);
        }
        boxed(b"ftyp", &body)
    }

    #[test]
    fn index_first_or_last_and_the_brand() {
        let head = ftyp(b"isom", &[b"isom", b"avc1"]);
        let moov = boxed(b"moov", &[0; 50]);
        let mdat = boxed(b"mdat", &[0; 500]);
        let first = layout(&[head.clone(), moov.clone(), mdat.clone()].concat()).unwrap();
        assert!(first.index_first && first.is_playable_mp4());
        assert_eq!(first.mimetype(), "video/mp4");
        let last = layout(&[head.clone(), mdat.clone(), moov.clone()].concat()).unwrap();
        assert!(!last.index_first && !last.is_playable_mp4());
        let mov = layout(&[ftyp(b"qt  ", &[b"qt  "]), moov.clone()].concat()).unwrap();
        assert_eq!(mov.mimetype(), "video/quicktime");
        let three_gp = layout(&[ftyp(b"3gp4", &[b"isom"]), moov.clone()].concat()).unwrap();
        assert_eq!(three_gp.mimetype(), "video/3gpp");
        let fragments = [head, moov, boxed(b"moof", &[0; 8]), mdat].concat();
        assert!(!layout(&fragments).unwrap().is_playable_mp4());
    }

    #[test]
    fn a_cut_file_or_a_missing_index_is_corrupt() {
        let head = ftyp(b"isom", &[]);
        let whole = [
            head.clone(),
            boxed(b"moov", &[0; 50]),
            boxed(b"mdat", &[0; 500]),
        ]
        .concat();
        for cut in [whole.len() - 1, whole.len() - 300, head.len() + 3] {
            assert!(
                matches!(layout(&whole[..cut]), Err(VideoError::Corrupt(_))),
                "{cut}"
            );
        }
        let no_index = [head, boxed(b"mdat", &[0; 10])].concat();
        assert!(matches!(layout(&no_index), Err(VideoError::Corrupt(_))));
        // A last box of size 0 runs to the end.
        let open_ended = [
            whole.clone(),
            vec![0, 0, 0, 0, b'f', b'r', b'e', b'e', 1, 2],
        ]
        .concat();
        assert!(layout(&open_ended).is_ok());
        assert!(layout(&[0, 0, 0, 4, b'f', b't', b'y', b'p']).is_err());
        assert!(layout(&[0xff, 0xff, 0xff, 0xff, b'm', b'd', b'a', b't']).is_err());
    }
}
