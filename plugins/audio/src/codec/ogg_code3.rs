//! Repacks an Ogg/Opus stream of 20 ms single-frame (code 0) packets into 60 ms code-3 packets.
//!
//! Native WhatsApp voice notes carry three 20 ms SILK frames per Opus packet (RFC 6716 §3.2.5,
//! "code 3", VBR), and iOS reportedly refuses the one-frame packets that encoders emit. No
//! encoder here can produce that layout, so the encoded stream is rewritten: each run of three
//! consecutive 20 ms code-0 packets with the same TOC configuration and stereo flag becomes one
//! packet. Frame bytes are copied unchanged, so the decoded audio is identical.
//!
//! Granule positions: a rewritten packet ends where its last original packet ended. Original
//! page granules are kept where available (this keeps the end trimming of the last page), the
//! rest are counted forward from the first audio page. New pages end where an original page
//! ended, so the page count and page spacing stay about the same.

use std::io::Cursor;

use ogg::{Packet, PacketReader, PacketWriteEndInfo, PacketWriter};

/// Frames merged into one output packet.
pub const FRAMES_PER_PACKET: usize = 3;

/// Why a stream could not be repacked (only for malformed or foreign input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepackError(pub String);

impl std::fmt::Display for RepackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Opus repack failed: {}", self.0)
    }
}

impl std::error::Error for RepackError {}

/// Largest frame length a code-3 VBR packet can describe (RFC 6716 §3.2.1).
const MAX_FRAME_LEN: usize = 1275;

/// 20 ms at the 48 kHz rate Ogg Opus granules always count in.
const SAMPLES_20_MS: u64 = 960;

/// Rewrites `input` (one logical Ogg/Opus stream) with 20 ms frames packed three to a packet.
pub fn repack_to_code3(input: &[u8]) -> Result<Vec<u8>, RepackError> {
    let packets = read_packets(input)?;
    let (headers, audio) = split_headers(&packets)?;
    let serial = headers[0].stream_serial();

    let mut writer = PacketWriter::new(Vec::with_capacity(input.len()));
    for header in headers {
        // Each header packet ends its page (RFC 7845 §3: audio starts on a fresh page).
        write(
            &mut writer,
            header.data.clone(),
            serial,
            PacketWriteEndInfo::EndPage,
            0,
        )?;
    }

    let end_granules = end_granules(audio);
    let mut group = Group::default();
    let last_index = audio.len().saturating_sub(1);
    for (index, (packet, granule)) in audio.iter().zip(&end_granules).enumerate() {
        let mergeable = MergeKey::of(&packet.data);
        if group.accepts(mergeable) {
            group.push(packet, *granule, mergeable);
        } else {
            group.flush(&mut writer, serial, false)?;
            match mergeable {
                Some(_) => group.push(packet, *granule, mergeable),
                None => {
                    let end = end_info(packet.last_in_page(), index == last_index);
                    write(&mut writer, packet.data.clone(), serial, end, *granule)?;
                    continue;
                }
            }
        }
        if group.is_full() || index == last_index {
            group.flush(&mut writer, serial, index == last_index)?;
        }
    }
    Ok(writer.into_inner())
}

/// Reads every packet of the (single) logical stream.
fn read_packets(input: &[u8]) -> Result<Vec<Packet>, RepackError> {
    let mut reader = PacketReader::new(Cursor::new(input));
    let mut packets = Vec::new();
    loop {
        match reader.read_packet() {
            Ok(Some(packet)) => packets.push(packet),
            Ok(None) => break,
            Err(err) => return Err(RepackError(format!("unreadable Ogg stream: {err}"))),
        }
    }
    if let Some(first) = packets.first() {
        let serial = first.stream_serial();
        if packets.iter().any(|p| p.stream_serial() != serial) {
            return Err(RepackError("more than one logical Ogg stream".to_string()));
        }
    }
    Ok(packets)
}

/// OpusHead and OpusTags, then the audio packets.
fn split_headers(packets: &[Packet]) -> Result<(&[Packet], &[Packet]), RepackError> {
    if packets.len() < 2 {
        return Err(RepackError("missing Opus header packets".to_string()));
    }
    if !packets[0].data.starts_with(b"OpusHead") || !packets[1].data.starts_with(b"OpusTags") {
        return Err(RepackError("not an Ogg/Opus stream".to_string()));
    }
    Ok(packets.split_at(2))
}

/// Granule position (48 kHz samples) at the end of each audio packet.
fn end_granules(audio: &[Packet]) -> Vec<u64> {
    let mut running = start_granule(audio);
    audio
        .iter()
        .map(|packet| {
            running = running.saturating_add(packet_samples(&packet.data).unwrap_or(0));
            if packet.last_in_page() {
                // The page's own value is authoritative (it carries end trimming on the
                // last page); resynchronise the count on every page but the last.
                if !packet.last_in_stream() {
                    running = packet.absgp_page();
                }
                packet.absgp_page()
            } else {
                running
            }
        })
        .collect()
}

/// Granule position before the first audio packet: the first audio page's granule minus
/// the samples of the packets that end on it. A first page that is also the last may be end
/// trimmed, so the stream is then taken to start at zero (as RFC 7845 §4 allows).
fn start_granule(audio: &[Packet]) -> u64 {
    let Some(first_page_end) = audio.iter().position(Packet::last_in_page) else {
        return 0;
    };
    let page_end = &audio[first_page_end];
    if page_end.last_in_stream() {
        return 0;
    }
    let on_first_page: u64 = audio[..=first_page_end]
        .iter()
        .map(|p| packet_samples(&p.data).unwrap_or(0))
        .sum();
    page_end.absgp_page().saturating_sub(on_first_page)
}

fn end_info(ends_page: bool, ends_stream: bool) -> PacketWriteEndInfo {
    if ends_stream {
        PacketWriteEndInfo::EndStream
    } else if ends_page {
        PacketWriteEndInfo::EndPage
    } else {
        PacketWriteEndInfo::NormalPacket
    }
}

fn write(
    writer: &mut PacketWriter<'_, Vec<u8>>,
    data: Vec<u8>,
    serial: u32,
    end: PacketWriteEndInfo,
    granule: u64,
) -> Result<(), RepackError> {
    writer
        .write_packet(data, serial, end, granule)
        .map_err(|err| RepackError(format!("writing Ogg page: {err}")))
}

/// What must match for two packets to share a code-3 packet: the TOC byte minus its code bits
/// (configuration and stereo flag). Only 20 ms single-frame packets qualify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MergeKey(u8);

impl MergeKey {
    fn of(packet: &[u8]) -> Option<Self> {
        let (&toc, frame) = packet.split_first()?;
        let single_frame = toc & 0b11 == 0;
        let is_20_ms = frame_samples(toc) == SAMPLES_20_MS;
        (single_frame && is_20_ms && frame.len() <= MAX_FRAME_LEN).then_some(MergeKey(toc & !0b11))
    }
}

/// Up to three frames waiting to become one packet.
#[derive(Default)]
struct Group {
    key: Option<MergeKey>,
    frames: Vec<Vec<u8>>,
    end_granule: u64,
    ends_page: bool,
}

impl Group {
    fn accepts(&self, key: Option<MergeKey>) -> bool {
        key.is_some() && (self.frames.is_empty() || self.key == key)
    }

    fn push(&mut self, packet: &Packet, end_granule: u64, key: Option<MergeKey>) {
        self.key = key;
        self.frames
            .push(packet.data.get(1..).unwrap_or_default().to_vec());
        self.end_granule = end_granule;
        self.ends_page |= packet.last_in_page();
    }

    fn is_full(&self) -> bool {
        self.frames.len() >= FRAMES_PER_PACKET
    }

    fn flush(
        &mut self,
        writer: &mut PacketWriter<'_, Vec<u8>>,
        serial: u32,
        ends_stream: bool,
    ) -> Result<(), RepackError> {
        let Some(MergeKey(toc_base)) = self.key else {
            return Ok(());
        };
        if self.frames.is_empty() {
            return Ok(());
        }
        let packet = code3_packet(toc_base, &self.frames);
        let end = end_info(self.ends_page, ends_stream);
        write(writer, packet, serial, end, self.end_granule)?;
        *self = Group::default();
        Ok(())
    }
}

/// Builds a VBR code-3 packet (RFC 6716 §3.2.5): TOC with c=3, a frame-count byte with the
/// VBR flag, the lengths of all frames but the last (§3.2.1 coding), then the frames.
fn code3_packet(toc_base: u8, frames: &[Vec<u8>]) -> Vec<u8> {
    let payload: usize = frames.iter().map(Vec::len).sum();
    let mut packet = Vec::with_capacity(2 + 2 * frames.len() + payload);
    packet.push(toc_base | 0b11);
    // VBR bit (0x80), no padding, frame count in the low six bits (at most 3 here).
    packet.push(0x80 | (frames.len() as u8 & 0x3F));
    if let Some((_, leading)) = frames.split_last() {
        for frame in leading {
            push_frame_length(&mut packet, frame.len());
        }
    }
    for frame in frames {
        packet.extend_from_slice(frame);
    }
    packet
}

/// One byte below 252, otherwise two: 252 + (len % 4), then (len - first) / 4.
fn push_frame_length(packet: &mut Vec<u8>, len: usize) {
    if len < 252 {
        packet.push(len as u8);
    } else {
        let first = 252 + (len & 0b11);
        packet.push(first as u8);
        packet.push(((len - first) / 4) as u8);
    }
}

/// Samples (at 48 kHz) of one frame with this TOC byte (RFC 6716 §3.1, Table 2).
fn frame_samples(toc: u8) -> u64 {
    let config = toc >> 3;
    match config {
        // SILK-only: 10, 20, 40, 60 ms.
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        // Hybrid: 10, 20 ms.
        12..=15 => [480, 960][usize::from(config % 2)],
        // CELT-only: 2.5, 5, 10, 20 ms.
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    }
}

/// Samples (at 48 kHz) of a whole packet, or None when it is too short to tell.
pub fn packet_samples(packet: &[u8]) -> Option<u64> {
    let toc = *packet.first()?;
    let frames = match toc & 0b11 {
        0 => 1,
        1 | 2 => 2,
        _ => u64::from(*packet.get(1)? & 0x3F),
    };
    Some(frames * frame_samples(toc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIAL: u32 = 0x5155_4153;
    const TOC_SILK_WB_20: u8 = 9 << 3; // config 9, mono, code 0
    const PRE_SKIP: u64 = 312;

    fn opus_head() -> Vec<u8> {
        let mut head = b"OpusHead".to_vec();
        head.push(1); // version
        head.push(1); // channels
        head.extend_from_slice(&(PRE_SKIP as u16).to_le_bytes());
        head.extend_from_slice(&16_000u32.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes());
        head.push(0);
        head
    }

    fn opus_tags() -> Vec<u8> {
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&4u32.to_le_bytes());
        tags.extend_from_slice(b"test");
        tags.extend_from_slice(&0u32.to_le_bytes());
        tags
    }

    /// A code-0 packet whose payload bytes encode its index, with a given frame length.
    fn frame_packet(toc: u8, index: usize, len: usize) -> Vec<u8> {
        let mut packet = vec![toc];
        packet.extend((0..len).map(|i| (index * 31 + i) as u8));
        packet
    }

    /// Writes an Ogg/Opus stream like oggmux does: headers on their own pages, then audio
    /// pages of `per_page` packets, the last page with a trimmed granule.
    fn build_stream(audio: &[Vec<u8>], per_page: usize, end_trim: u64) -> Vec<u8> {
        let mut writer = PacketWriter::new(Vec::new());
        writer
            .write_packet(opus_head(), SERIAL, PacketWriteEndInfo::EndPage, 0)
            .unwrap();
        writer
            .write_packet(opus_tags(), SERIAL, PacketWriteEndInfo::EndPage, 0)
            .unwrap();
        let mut granule = 0;
        for (i, packet) in audio.iter().enumerate() {
            granule += packet_samples(packet).unwrap();
            let last = i + 1 == audio.len();
            let (end, gp) = if last {
                (PacketWriteEndInfo::EndStream, granule - end_trim)
            } else if (i + 1) % per_page == 0 {
                (PacketWriteEndInfo::EndPage, granule)
            } else {
                (PacketWriteEndInfo::NormalPacket, granule)
            };
            writer
                .write_packet(packet.clone(), SERIAL, end, gp)
                .unwrap();
        }
        writer.into_inner()
    }

    /// Reads back every packet; PacketReader verifies each page CRC and fails on a mismatch.
    fn reread(stream: &[u8]) -> Vec<Packet> {
        read_packets(stream).expect("CRC-checked re-read")
    }

    /// Splits a code-3 packet back into its frames (independent of `code3_packet`).
    fn parse_code3(packet: &[u8]) -> (u8, Vec<Vec<u8>>) {
        assert_eq!(packet[0] & 0b11, 3, "code 3");
        let count = usize::from(packet[1] & 0x3F);
        assert_eq!(packet[1] & 0x40, 0, "no padding");
        assert_eq!(packet[1] & 0x80, 0x80, "VBR");
        let mut pos = 2;
        let mut lens = Vec::new();
        for _ in 0..count - 1 {
            let b = usize::from(packet[pos]);
            pos += 1;
            if b >= 252 {
                lens.push(b + 4 * usize::from(packet[pos]));
                pos += 1;
            } else {
                lens.push(b);
            }
        }
        let mut frames = Vec::new();
        for len in lens {
            frames.push(packet[pos..pos + len].to_vec());
            pos += len;
        }
        frames.push(packet[pos..].to_vec());
        (packet[0] & !0b11, frames)
    }

    fn page_granules(stream: &[u8]) -> Vec<(u64, u8)> {
        // (granule, header flags) of every page, parsed by hand.
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + 27 <= stream.len() {
            assert_eq!(&stream[pos..pos + 4], b"OggS");
            let flags = stream[pos + 5];
            let granule = u64::from_le_bytes(stream[pos + 6..pos + 14].try_into().unwrap());
            let segments = usize::from(stream[pos + 26]);
            let body: usize = stream[pos + 27..pos + 27 + segments]
                .iter()
                .map(|&b| usize::from(b))
                .sum();
            out.push((granule, flags));
            pos += 27 + segments + body;
        }
        assert_eq!(pos, stream.len(), "pages cover the whole stream");
        out
    }

    #[test]
    fn merges_three_frames_per_packet_with_correct_granules() {
        let audio: Vec<Vec<u8>> = (0..10)
            .map(|i| frame_packet(TOC_SILK_WB_20, i, 40 + i))
            .collect();
        let input = build_stream(&audio, 4, 500);
        let output = repack_to_code3(&input).unwrap();
        let packets = reread(&output);

        assert_eq!(packets.len(), 2 + 4);
        assert_eq!(packets[0].data, opus_head());
        assert_eq!(packets[1].data, opus_tags());
        let audio_out = &packets[2..];
        let mut frames_seen = Vec::new();
        for (i, packet) in audio_out.iter().enumerate() {
            let (toc_base, frames) = parse_code3(&packet.data);
            assert_eq!(toc_base >> 3, 9, "config 9 kept");
            let expected = if i < 3 { 3 } else { 1 };
            assert_eq!(frames.len(), expected, "packet {i}");
            frames_seen.extend(frames);
        }
        let original_frames: Vec<Vec<u8>> = audio.iter().map(|p| p[1..].to_vec()).collect();
        assert_eq!(
            frames_seen, original_frames,
            "frame bytes unchanged and in order"
        );

        // Last page keeps the trimmed granule and the EOS flag; total = 10 * 960 - 500.
        let last = audio_out.last().unwrap();
        assert!(last.last_in_stream());
        assert_eq!(last.absgp_page(), 10 * 960 - 500);
        let pages = page_granules(&output);
        assert_eq!(pages[0], (0, 0x02), "BOS on OpusHead page");
        assert_eq!(pages.last().unwrap().1 & 0x04, 0x04, "EOS on last page");
        // Audio pages end after groups holding original page ends (frames 4 and 8):
        // groups end at frames 6 and 9 (granules 5760 and 8640).
        let audio_granules: Vec<u64> = pages[2..].iter().map(|p| p.0).collect();
        assert_eq!(audio_granules, vec![5760, 8640, 9600 - 500]);
    }

    #[test]
    fn last_group_may_hold_two_frames() {
        let audio: Vec<Vec<u8>> = (0..5)
            .map(|i| frame_packet(TOC_SILK_WB_20, i, 30))
            .collect();
        let output = repack_to_code3(&build_stream(&audio, 50, 0)).unwrap();
        let packets = reread(&output);
        let counts: Vec<usize> = packets[2..]
            .iter()
            .map(|p| parse_code3(&p.data).1.len())
            .collect();
        assert_eq!(counts, vec![3, 2]);
        assert_eq!(packet_samples(&packets[2].data), Some(2880));
        assert_eq!(packets.last().unwrap().absgp_page(), 4800);
    }

    #[test]
    fn long_frames_use_two_byte_lengths() {
        let audio: Vec<Vec<u8>> = [300usize, 1275, 7]
            .iter()
            .enumerate()
            .map(|(i, &len)| frame_packet(TOC_SILK_WB_20, i, len))
            .collect();
        let output = repack_to_code3(&build_stream(&audio, 50, 0)).unwrap();
        let packets = reread(&output);
        assert_eq!(packets.len(), 3);
        let (_, frames) = parse_code3(&packets[2].data);
        let lens: Vec<usize> = frames.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![300, 1275, 7]);
        // TOC, count, 2 + 2 length bytes, payload.
        assert_eq!(packets[2].data.len(), 2 + 4 + 300 + 1275 + 7);
    }

    #[test]
    fn only_packets_with_matching_toc_are_merged() {
        let stereo = TOC_SILK_WB_20 | 0x04;
        let hybrid_20 = 13 << 3;
        let silk_60 = 11 << 3; // 60 ms single frame: never merged
        let tocs = [
            TOC_SILK_WB_20,
            TOC_SILK_WB_20,
            stereo,
            hybrid_20,
            hybrid_20,
            hybrid_20,
            silk_60,
            TOC_SILK_WB_20,
        ];
        let audio: Vec<Vec<u8>> = tocs
            .iter()
            .enumerate()
            .map(|(i, &toc)| frame_packet(toc, i, 20))
            .collect();
        let input = build_stream(&audio, 3, 0);
        let output = repack_to_code3(&input).unwrap();
        let packets = reread(&output);
        // (TOC byte, frames in a code-3 packet or 0 for any other code).
        let shapes: Vec<(u8, u8)> = packets[2..]
            .iter()
            .map(|p| {
                let frames = if p.data[0] & 3 == 3 {
                    p.data[1] & 0x3F
                } else {
                    0
                };
                (p.data[0], frames)
            })
            .collect();
        assert_eq!(
            shapes,
            vec![
                (TOC_SILK_WB_20 | 3, 2),
                (stereo | 3, 1),
                (hybrid_20 | 3, 3),
                (silk_60, 0),
                (TOC_SILK_WB_20 | 3, 1),
            ]
        );
        assert_eq!(
            packets[5].data, audio[6],
            "non-mergeable packet kept verbatim"
        );
        let total: u64 = packets[2..]
            .iter()
            .map(|p| packet_samples(&p.data).unwrap())
            .sum();
        let original: u64 = audio.iter().map(|p| packet_samples(p).unwrap()).sum();
        assert_eq!(total, original);
        assert_eq!(packets.last().unwrap().absgp_page(), original);
    }

    #[test]
    fn intermediate_granules_count_from_a_nonzero_start() {
        // A stream whose first audio page starts at granule 9600 (e.g. cut from a longer one).
        let audio: Vec<Vec<u8>> = (0..7)
            .map(|i| frame_packet(TOC_SILK_WB_20, i, 10))
            .collect();
        let mut writer = PacketWriter::new(Vec::new());
        writer
            .write_packet(opus_head(), SERIAL, PacketWriteEndInfo::EndPage, 0)
            .unwrap();
        writer
            .write_packet(opus_tags(), SERIAL, PacketWriteEndInfo::EndPage, 0)
            .unwrap();
        for (i, packet) in audio.iter().enumerate() {
            let gp = 9600 + 960 * (i as u64 + 1);
            let end = match i {
                1 => PacketWriteEndInfo::EndPage,
                6 => PacketWriteEndInfo::EndStream,
                _ => PacketWriteEndInfo::NormalPacket,
            };
            writer
                .write_packet(packet.clone(), SERIAL, end, gp)
                .unwrap();
        }
        let output = repack_to_code3(&writer.into_inner()).unwrap();
        let granules: Vec<u64> = page_granules(&output)[2..].iter().map(|p| p.0).collect();
        // Groups: [0,1,2] ends page (frame 1 ended one) at 9600 + 2880; [3,4,5],[6] end at EOS.
        assert_eq!(granules, vec![12_480, 9600 + 6720]);
    }

    #[test]
    fn rejects_non_opus_and_garbage() {
        assert!(repack_to_code3(b"").is_err());
        assert!(repack_to_code3(b"definitely not ogg").is_err());
        let mut writer = PacketWriter::new(Vec::new());
        writer
            .write_packet(b"\x01vorbis".to_vec(), 1, PacketWriteEndInfo::EndPage, 0)
            .unwrap();
        writer
            .write_packet(b"\x03vorbis".to_vec(), 1, PacketWriteEndInfo::EndStream, 0)
            .unwrap();
        assert!(repack_to_code3(&writer.into_inner()).is_err());
        // Corrupt one byte of a valid stream: the CRC check refuses it.
        let audio: Vec<Vec<u8>> = (0..3)
            .map(|i| frame_packet(TOC_SILK_WB_20, i, 10))
            .collect();
        let mut stream = build_stream(&audio, 10, 0);
        let n = stream.len();
        stream[n - 3] ^= 0xFF;
        assert!(repack_to_code3(&stream).is_err());
    }

    #[test]
    fn packet_sample_counts() {
        assert_eq!(packet_samples(&[9 << 3]), Some(960));
        assert_eq!(packet_samples(&[(9 << 3) | 3, 0x83]), Some(2880));
        assert_eq!(packet_samples(&[(11 << 3) | 1]), Some(5760));
        assert_eq!(packet_samples(&[31 << 3]), Some(960));
        assert_eq!(packet_samples(&[16 << 3]), Some(120));
        assert_eq!(packet_samples(&[]), None);
        assert_eq!(packet_samples(&[3]), None);
    }
}
