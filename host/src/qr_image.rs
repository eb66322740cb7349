//! Pairing QR codes as pictures: a PNG data URI for `GET /qr`, Unicode half blocks for
//! `wuts pair` in a terminal.

use base64::Engine as _;

/// Light modules around the code; the QR specification asks for four.
const QUIET_ZONE: usize = 4;
/// A terminal cell is about twice as high as wide, so two module rows share one line;
/// two modules of margin there are enough for a phone held to a screen.
const TERMINAL_QUIET_ZONE: usize = 2;
/// Pixels per module in the PNG: about 330 px for a WhatsApp code, sharp when scaled up.
const PIXELS_PER_MODULE: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum QrImageError {
    #[error("cannot encode the QR code: {0}")]
    Encode(String),
    #[error("cannot write the QR code PNG: {0}")]
    Png(String),
}

/// The code's modules, `true` = dark, row by row, with `quiet` light modules around.
struct Modules {
    side: usize,
    dark: Vec<bool>,
}

impl Modules {
    fn new(text: &str, quiet: usize) -> Result<Self, QrImageError> {
        let code = qrcode::QrCode::new(text.as_bytes())
            .map_err(|error| QrImageError::Encode(error.to_string()))?;
        let width = code.width();
        let inner = code.to_colors();
        let side = width + 2 * quiet;
        let mut dark = vec![false; side * side];
        for y in 0..width {
            for x in 0..width {
                dark[(y + quiet) * side + x + quiet] = inner[y * width + x] == qrcode::Color::Dark;
            }
        }
        Ok(Modules { side, dark })
    }

    fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.side && y < self.side && self.dark[y * self.side + x]
    }
}

/// The code as a greyscale PNG, black on white.
pub fn png(text: &str) -> Result<Vec<u8>, QrImageError> {
    let modules = Modules::new(text, QUIET_ZONE)?;
    let pixels = modules.side * PIXELS_PER_MODULE;
    let mut image = Vec::with_capacity(pixels * pixels);
    for y in 0..pixels {
        for x in 0..pixels {
            let dark = modules.is_dark(x / PIXELS_PER_MODULE, y / PIXELS_PER_MODULE);
            image.push(if dark { 0x00 } else { 0xff });
        }
    }
    let side =
        u32::try_from(pixels).map_err(|_| QrImageError::Png("the image is too large".into()))?;
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|error| QrImageError::Png(error.to_string()))?;
    writer
        .write_image_data(&image)
        .map_err(|error| QrImageError::Png(error.to_string()))?;
    writer
        .finish()
        .map_err(|error| QrImageError::Png(error.to_string()))?;
    Ok(bytes)
}

/// The code as a `data:image/png;base64,...` URI, for an `<img src>`.
pub fn png_data_uri(text: &str) -> Result<String, QrImageError> {
    let png = png(text)?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

/// The code in Unicode half blocks, two module rows per line.
///
/// Blocks are drawn in the terminal's text colour. By default the *light* modules are
/// drawn, so the code reads dark-on-light in the usual light-text-on-dark terminal;
/// `dark_on_light_text` draws the dark modules instead, for dark text on a light
/// background.
pub fn terminal(text: &str, dark_on_light_text: bool) -> Result<String, QrImageError> {
    let modules = Modules::new(text, TERMINAL_QUIET_ZONE)?;
    let drawn = |x: usize, y: usize| {
        let dark = modules.is_dark(x, y);
        if dark_on_light_text { dark } else { !dark }
    };
    let mut out = String::with_capacity((modules.side + 1) * modules.side.div_ceil(2) * 3);
    for y in (0..modules.side).step_by(2) {
        for x in 0..modules.side {
            // Below the last row there is nothing to draw: it counts as not drawn.
            let bottom = y + 1 < modules.side && drawn(x, y + 1);
            out.push(match (drawn(x, y), bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like a WhatsApp pairing code: ref, keys and adv secret, comma separated.
    const CODE: &str = "2@Xq2hLnJ1c3QtYS10ZXN0LXJlZg==,\
        dGhpcyBpcyBhIG5vaXNlIGtleSBmb3IgdGVzdHM=,\
        aWRlbnRpdHkga2V5IGZvciB0ZXN0cyBvbmx5IQ==,\
        YWR2IHNlY3JldCBmb3IgdGVzdHM=";

    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = ::png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        assert_eq!(info.color_type, ::png::ColorType::Grayscale);
        buffer.truncate(info.buffer_size());
        (info.width, info.height, buffer)
    }

    #[test]
    fn the_png_holds_the_modules_scaled_with_a_quiet_zone() {
        let code = qrcode::QrCode::new(CODE.as_bytes()).unwrap();
        let width = code.width();
        let modules = code.to_colors();
        let (w, h, pixels) = decode(&png(CODE).unwrap());
        let side = (width + 2 * QUIET_ZONE) * PIXELS_PER_MODULE;
        assert_eq!((w as usize, h as usize), (side, side));
        let pixel = |x: usize, y: usize| pixels[y * side + x];
        // The quiet zone is white all round.
        for i in 0..side {
            assert_eq!(pixel(i, 0), 0xff);
            assert_eq!(pixel(0, i), 0xff);
            assert_eq!(pixel(i, side - 1), 0xff);
            assert_eq!(pixel(side - 1, i), 0xff);
        }
        // Every module's centre has the module's colour.
        for y in 0..width {
            for x in 0..width {
                let centre = |m: usize| (m + QUIET_ZONE) * PIXELS_PER_MODULE + 3;
                let expected = match modules[y * width + x] {
                    qrcode::Color::Dark => 0x00,
                    qrcode::Color::Light => 0xff,
                };
                assert_eq!(pixel(centre(x), centre(y)), expected, "module {x},{y}");
            }
        }
    }

    #[test]
    fn the_data_uri_is_base64_png() {
        let uri = png_data_uri(CODE).unwrap();
        let encoded = uri.strip_prefix("data:image/png;base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn the_terminal_rendering_packs_two_rows_per_line() {
        let code = qrcode::QrCode::new(CODE.as_bytes()).unwrap();
        let side = code.width() + 2 * TERMINAL_QUIET_ZONE;
        let text = terminal(CODE, false).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), side.div_ceil(2));
        for line in &lines {
            assert_eq!(line.chars().count(), side);
        }
        // Light text on dark: the quiet zone (light) is drawn as full blocks.
        assert!(lines[0].chars().all(|c| c == '█'));
        // The top-left finder pattern starts at module (2, 2): the second line holds its
        // first two rows: the dark left column (nothing drawn), then dark over light.
        let second: Vec<char> = lines[1].chars().collect();
        assert_eq!(second[..4], ['█', '█', ' ', '▄']);
        // Inverted, the same cells draw the other half.
        let inverted: Vec<String> = terminal(CODE, true)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert!(inverted[0].chars().all(|c| c == ' '));
        let second: Vec<char> = inverted[1].chars().collect();
        assert_eq!(second[..4], [' ', ' ', '█', '▀']);
    }

    #[test]
    fn text_too_long_for_any_qr_code_is_an_error() {
        let huge = "x".repeat(8000);
        assert!(matches!(png(&huge), Err(QrImageError::Encode(_))));
        assert!(matches!(
            terminal(&huge, false),
            Err(QrImageError::Encode(_))
        ));
    }
}
