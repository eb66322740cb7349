//! Media made at test time for the image, video, document and sticker routes: pictures
//! from the `image` crate, clips from ffmpeg's test sources, and PDFs written here with
//! a correct cross-reference table (so any reader accepts them).

use std::fs;
use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};

use crate::audio_fixtures::run_tool;

/// A `width`x`height` gradient encoded as `format` (JPEG without alpha).
pub fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let pixels = RgbaImage::from_fn(width, height, |x, y| {
        Rgba([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8, 255])
    });
    let picture = match format {
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(pixels).to_rgb8()),
        _ => DynamicImage::ImageRgba8(pixels),
    };
    let mut out = Cursor::new(Vec::new());
    picture
        .write_to(&mut out, format)
        .expect("the picture encodes");
    out.into_inner()
}

/// A PNG of a few dozen bytes whose header claims `width`x`height`: a decompression
/// bomb's shape (it would decode to `width * height * 3` bytes). The header's CRC is made
/// again, so that it reads as valid.
pub fn png_bomb_header(width: u32, height: u32) -> Vec<u8> {
    use image::ImageEncoder as _;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&[0; 3], 1, 1, image::ExtendedColorType::Rgb8)
        .expect("a 1x1 PNG encodes");
    // IHDR's width and height follow the signature (8), the chunk length (4) and type (4);
    // the chunk's CRC follows its 13 data bytes.
    out[16..20].copy_from_slice(&width.to_be_bytes());
    out[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PDF of `pages` empty Letter pages, each object at the offset its `xref` entry says.
pub fn pdf(pages: usize) -> Vec<u8> {
    let kids: Vec<String> = (0..pages).map(|page| format!("{} 0 R", 3 + page)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        ),
    ];
    objects.extend(
        (0..pages).map(|_| "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>".to_string()),
    );
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A clip of `seconds` from ffmpeg's test sources (a moving pattern and a tone), made in
/// `dir` as `name` with these codec arguments (e.g. `["-c:v", "libx264", "-c:a", "aac"]`).
pub fn clip(dir: &Path, name: &str, size: &str, seconds: u32, codec_args: &[&str]) -> Vec<u8> {
    fs::create_dir_all(dir).expect("the fixture folder can be made");
    let out = dir.join(name);
    let video = format!("testsrc=size={size}:rate=25:duration={seconds}");
    let audio = format!("sine=frequency=440:duration={seconds}");
    let mut args = vec![
        "-v", "error", "-y", "-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", &audio,
    ];
    args.extend_from_slice(codec_args);
    args.extend_from_slice(&["-shortest", out.to_str().expect("UTF-8 path")]);
    run_tool("ffmpeg", &args);
    fs::read(out).expect("the clip can be read")
}

/// An H.264 + AAC MP4 with its index at the front: what WhatsApp plays as it is.
pub fn playable_mp4(dir: &Path, name: &str, seconds: u32) -> Vec<u8> {
    clip(
        dir,
        name,
        "320x240",
        seconds,
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pdf_cross_reference_points_at_each_object() {
        // Bytes, not text: the binary comment after the header is not UTF-8.
        let pdf = pdf(3);
        let find = |needle: &[u8]| {
            pdf.windows(needle.len())
                .rposition(|window| window == needle)
                .expect("found")
        };
        let after_startxref = find(b"startxref\n") + b"startxref\n".len();
        let xref_at: usize = std::str::from_utf8(&pdf[after_startxref..])
            .ok()
            .and_then(|rest| rest.lines().next())
            .and_then(|line| line.parse().ok())
            .expect("startxref names an offset");
        assert!(pdf[xref_at..].starts_with(b"xref\n0 6\n"));
        let table = std::str::from_utf8(&pdf[xref_at..]).expect("the table is ASCII");
        for (index, line) in table.lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            let object = format!("{} 0 obj", index + 1);
            assert!(
                pdf[offset..].starts_with(object.as_bytes()),
                "object {}",
                index + 1
            );
        }
        assert!(find(b"/Count 3") > 0);
    }
}
