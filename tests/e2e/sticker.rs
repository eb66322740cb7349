//! `POST /send/sticker` through the real server, sandbox driver and plugin library: WebP
//! stickers sent as they came, PNG, JPEG and GIF converted to 512x512 WebP, animation
//! detected from the file, the 200 as WUTS prints it, the uploaded file, URL sources, and
//! every kind of bad input with its code.

use std::io::Cursor;
use std::time::Duration;

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::webp::WebPDecoder;
use image::{
    AnimationDecoder, Delay, DynamicImage, Frame, ImageDecoder, ImageFormat, Rgba, RgbaImage,
};
use serde_json::{Value, json};
use wuts_e2e::audio_fixtures::{LocalHttp, base64};
use wuts_e2e::checks;
use wuts_e2e::media_checks::{self, Refusal, refused_and_nothing_sent, standard_error, with};
use wuts_e2e::media_fixtures;
use wuts_e2e::media_fixtures::picture;
use wuts_e2e::{PHONE, PHONE_JID, Server, ServerOptions, User, unique};

/// WhatsApp's cap on a sticker, as the plugin counts it (plugins/sticker/src/picture/encode.rs).
const MAX_STICKER_BYTES: usize = 500 * 1024;

fn options() -> ServerOptions {
    ServerOptions::default()
        .plugins(&["sticker"])
        .required(&["sticker"])
}

fn server_and_user(options: ServerOptions) -> (Server, User) {
    let server = Server::start(options);
    let user = server.create_user(&unique("sticker"), "alice");
    (server, user)
}

fn send(server: &Server, user: &User, body: &Value) -> (u16, Value) {
    server.post_json("/send/sticker", &user.token, body)
}

/// A `width`x`height` gradient; `shift` moves it, so that frames differ.
fn gradient(width: u32, height: u32, shift: u32) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| {
        Rgba([
            ((x + shift) % 256) as u8,
            (y % 256) as u8,
            ((x * y) % 256) as u8,
            255,
        ])
    })
}

/// A clear `width`x`height` with a red square at `offset`: what a cartoon sticker's
/// frames look like, and small when lossless.
fn square_at(width: u32, height: u32, offset: u32) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| {
        let inside =
            (offset..offset + width / 4).contains(&x) && (height / 4..height / 2).contains(&y);
        if inside {
            Rgba([220, 30, 30, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    })
}

/// Pixels no encoder can compress much.
fn noise(width: u32, height: u32, seed: u32) -> RgbaImage {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    RgbaImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [r, g, b, _] = state.to_le_bytes();
        Rgba([r, g, b, 255])
    })
}

fn encode_as(picture: &RgbaImage, format: ImageFormat) -> Vec<u8> {
    let picture = match format {
        ImageFormat::Jpeg => {
            DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(picture.clone()).to_rgb8())
        }
        _ => DynamicImage::ImageRgba8(picture.clone()),
    };
    let mut out = Cursor::new(Vec::new());
    picture
        .write_to(&mut out, format)
        .expect("the picture encodes");
    out.into_inner()
}

/// A GIF of `frames` frames of 80 ms.
fn animated_gif(width: u32, height: u32, frames: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder.set_repeat(Repeat::Infinite).expect("repeat");
        for index in 0..frames {
            let frame = Frame::from_parts(
                gradient(width, height, index * 40),
                0,
                0,
                Delay::from_numer_denom_ms(80, 1),
            );
            encoder.encode_frame(frame).expect("the frame encodes");
        }
    }
    out
}

/// An animated WebP written chunk by chunk (the WebP container specification: `VP8X`
/// with its animation flag, `ANIM`, one `ANMF` per frame), each frame's `VP8L` bitstream
/// taken from a still WebP the `image` crate writes (`RIFF`, size, `WEBP`, then the one
/// `VP8L` chunk). Made by hand so the plugin's own encoder does not vouch for its input.
fn animated_webp(frames: &[RgbaImage]) -> Vec<u8> {
    let (width, height) = frames[0].dimensions();
    let le24 = |value: u32| value.to_le_bytes()[..3].to_vec();
    let chunk = |fourcc: &[u8], data: &[u8]| {
        let mut out = fourcc.to_vec();
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        if data.len() % 2 == 1 {
            out.push(0);
        }
        out
    };
    // Flags: alpha (0x10) and animation (0x02); 3 reserved bytes; canvas size minus one.
    let mut vp8x = vec![0x12, 0, 0, 0];
    vp8x.extend(le24(width - 1));
    vp8x.extend(le24(height - 1));
    // Background colour (transparent), loop forever.
    let anim = [0u8, 0, 0, 0, 0, 0];
    let mut body = b"WEBP".to_vec();
    body.extend(chunk(b"VP8X", &vp8x));
    body.extend(chunk(b"ANIM", &anim));
    for frame in frames {
        let still = encode_as(frame, ImageFormat::WebP);
        assert_eq!(&still[12..16], b"VP8L", "a simple lossless WebP");
        // Offset 0,0 (halved); the frame's size minus one; 80 ms; flags: do not blend
        // (bit 1), do not dispose (bit 0 clear).
        let mut anmf = le24(0);
        anmf.extend(le24(0));
        anmf.extend(le24(width - 1));
        anmf.extend(le24(height - 1));
        anmf.extend(le24(80));
        anmf.push(0b10);
        anmf.extend(&still[12..]);
        body.extend(chunk(b"ANMF", &anmf));
    }
    chunk(b"RIFF", &body)
}

fn base64_body(bytes: &[u8]) -> Value {
    json!({ "to": PHONE_JID, "sticker": base64(bytes) })
}

/// Asserts the WUTS docs §1.6 200, exactly those keys, and returns its message id.
#[track_caller]
fn assert_sent(status: u16, reply: &Value, is_animated: bool) -> String {
    assert_eq!(status, 200, "expected 200, got {status}: {reply}");
    let mut keys: Vec<&str> = reply
        .as_object()
        .map(|object| object.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "is_animated",
            "message",
            "message_id",
            "success",
            "timestamp"
        ],
        "the 200's keys: {reply}"
    );
    assert_eq!(reply["success"], json!(true), "{reply}");
    assert_eq!(
        reply["message"],
        json!("Sticker sent successfully"),
        "{reply}"
    );
    assert_eq!(reply["is_animated"], json!(is_animated), "{reply}");
    let id = reply["message_id"].as_str().unwrap_or_default().to_owned();
    checks::message_id(&id);
    checks::recent_timestamp(reply["timestamp"].as_str().unwrap_or_default());
    id
}

/// The outbox entry for `message_id` (the newest entry).
#[track_caller]
fn newest_entry(server: &Server, user: &User, message_id: &str) -> Value {
    let entry = media_checks::newest_entry(server, user, message_id);
    assert_eq!(entry["to"], json!(PHONE_JID), "{entry}");
    entry
}

/// The checks every sent sticker passes: a 512x512 `image/webp` `stickerMessage` whose
/// `isAnimated` is `is_animated`, and an upload that is a 512x512 WebP within 500 KB,
/// animated or not as the message says. Returns the uploaded file.
#[track_caller]
fn assert_sticker(server: &Server, user: &User, entry: &Value, is_animated: bool) -> Vec<u8> {
    let sticker = &entry["message"]["stickerMessage"];
    assert!(sticker.is_object(), "no stickerMessage in {entry}");
    assert_eq!(sticker["mimetype"], json!("image/webp"), "{entry}");
    assert_eq!(sticker["width"], json!(512), "{entry}");
    assert_eq!(sticker["height"], json!(512), "{entry}");
    assert_eq!(
        sticker.get("isAnimated").cloned().unwrap_or(json!(false)),
        json!(is_animated),
        "{entry}"
    );
    assert!(sticker.get("caption").is_none(), "{entry}");

    let media = &entry["media"][0];
    assert_eq!(media["kind"], json!("sticker"), "{entry}");
    assert_eq!(media["mimetype"], json!("image/webp"), "{entry}");
    let url = media["url"].as_str().unwrap_or_default();
    let reply = server.client().get(url, user.auth());
    assert_eq!(reply.status, 200, "GET {url}: {}", reply.text());
    let uploaded = reply.body;
    assert_eq!(Some(uploaded.len() as u64), media["size"].as_u64());
    assert_eq!(sticker["fileLength"], json!(uploaded.len()), "{entry}");
    assert!(
        uploaded.len() <= MAX_STICKER_BYTES,
        "{} bytes",
        uploaded.len()
    );
    assert_eq!(image::guess_format(&uploaded).ok(), Some(ImageFormat::WebP));
    let decoder = WebPDecoder::new(Cursor::new(&uploaded)).expect("the upload is a WebP");
    assert_eq!(decoder.dimensions(), (512, 512), "the upload is 512x512");
    assert_eq!(
        decoder.has_animation(),
        is_animated,
        "the upload's animation"
    );
    uploaded
}

/// The frames of an animated WebP, decoded.
fn frame_count(webp: &[u8]) -> usize {
    WebPDecoder::new(Cursor::new(webp))
        .expect("a WebP")
        .into_frames()
        .collect_frames()
        .expect("every frame decodes")
        .len()
}

#[test]
fn a_512_webp_goes_as_it_came_with_the_contract_shape() {
    let (server, user) = server_and_user(options());
    let webp = picture(512, 512, ImageFormat::WebP);
    assert!(webp.len() <= MAX_STICKER_BYTES);
    let body = with(base64_body(&webp), json!({"is_animated": false}));
    let (status, reply) = send(&server, &user, &body);
    let id = assert_sent(status, &reply, false);
    let entry = newest_entry(&server, &user, &id);
    let uploaded = assert_sticker(&server, &user, &entry, false);
    assert_eq!(uploaded, webp, "a 512x512 WebP is sent byte for byte");
    assert!(
        entry["message"]["stickerMessage"]
            .get("contextInfo")
            .is_none(),
        "{entry}"
    );
}

#[test]
fn png_jpeg_gif_and_other_webp_sizes_become_512_webp() {
    let (server, user) = server_and_user(options());
    let jpeg = picture(300, 400, ImageFormat::Jpeg);
    let cases = [
        ("PNG", base64_body(&picture(640, 480, ImageFormat::Png))),
        (
            "JPEG as a data URI, to a number",
            json!({"to": PHONE, "sticker": format!("data:image/jpeg;base64,{}", base64(&jpeg))}),
        ),
        ("GIF of one frame", base64_body(&animated_gif(120, 90, 1))),
        (
            "WebP of 100x100",
            base64_body(&picture(100, 100, ImageFormat::WebP)),
        ),
        // A photo's worst case: lossless it is far over 500 KB; lossy it fits.
        (
            "PNG of noise",
            base64_body(&encode_as(&noise(800, 800, 1), ImageFormat::Png)),
        ),
    ];
    for (name, body) in cases {
        let (status, reply) = send(&server, &user, &body);
        let id = assert_sent(status, &reply, false);
        let entry = newest_entry(&server, &user, &id);
        let uploaded = assert_sticker(&server, &user, &entry, false);
        let sticker = image::load_from_memory_with_format(&uploaded, ImageFormat::WebP)
            .unwrap_or_else(|error| panic!("{name}: the upload decodes: {error}"));
        assert_eq!((sticker.width(), sticker.height()), (512, 512), "{name}");
    }
    // The 640x480 PNG is 512x384 on the canvas: the rows above and below are clear.
    let outbox = server.outbox(&user);
    let png_entry = &outbox[outbox.len() - 1];
    let url = png_entry["media"][0]["url"].as_str().unwrap_or_default();
    let uploaded = server.client().get(url, user.auth()).body;
    let sticker = image::load_from_memory(&uploaded)
        .expect("a WebP")
        .into_rgba8();
    assert_eq!(sticker.get_pixel(256, 10).0[3], 0, "transparent margin");
    assert_eq!(sticker.get_pixel(256, 256).0[3], 255, "the picture");
}

#[test]
fn an_animated_webp_is_detected_from_the_file() {
    let (server, user) = server_and_user(options());
    let frames: Vec<RgbaImage> = (0..3)
        .map(|index| square_at(512, 512, index * 100))
        .collect();
    let webp = animated_webp(&frames);
    assert!(webp.len() <= MAX_STICKER_BYTES, "{}", webp.len());
    for body in [
        base64_body(&webp),
        with(base64_body(&webp), json!({"is_animated": true})),
    ] {
        let (status, reply) = send(&server, &user, &body);
        let id = assert_sent(status, &reply, true);
        let entry = newest_entry(&server, &user, &id);
        let uploaded = assert_sticker(&server, &user, &entry, true);
        assert_eq!(
            uploaded, webp,
            "an animated 512x512 WebP is sent byte for byte"
        );
    }
}

#[test]
fn an_animated_gif_and_a_small_animated_webp_become_animated_512_webp() {
    let (server, user) = server_and_user(options());
    let small: Vec<RgbaImage> = (0..2).map(|index| gradient(64, 48, index * 90)).collect();
    for (gif_or_webp, frames) in [(animated_gif(80, 60, 3), 3), (animated_webp(&small), 2)] {
        let (status, reply) = send(&server, &user, &base64_body(&gif_or_webp));
        let id = assert_sent(status, &reply, true);
        let entry = newest_entry(&server, &user, &id);
        let uploaded = assert_sticker(&server, &user, &entry, true);
        assert_eq!(frame_count(&uploaded), frames);
    }
}

#[test]
fn is_animated_that_disagrees_with_the_file_is_refused() {
    let (server, user) = server_and_user(options());
    let still = picture(512, 512, ImageFormat::WebP);
    let moving = animated_webp(&[square_at(512, 512, 0), square_at(512, 512, 99)]);
    let cases = [
        (still, true, "a still WebP"),
        (moving, false, "an animated WebP"),
        (animated_gif(16, 16, 3), false, "an animated GIF"),
        (picture(16, 16, ImageFormat::Png), true, "a still PNG"),
    ];
    for (bytes, claimed, file) in cases {
        let body = with(base64_body(&bytes), json!({"is_animated": claimed}));
        let reply = send(&server, &user, &body);
        let field = reply.1["validation"][0]["field"].clone();
        let text = standard_error(reply, 400, "VALIDATION_ERROR");
        assert_eq!(field, json!("is_animated"), "{text}");
        assert!(text.contains(file), "the file is named: {text}");
    }
    assert!(server.outbox(&user).is_empty(), "nothing was sent");
}

#[test]
fn sticker_url_is_downloaded_and_sniffed_and_may_quote() {
    // Served as WebP, but a PNG: the bytes decide, not the Content-Type.
    let png = picture(200, 100, ImageFormat::Png);
    let http = LocalHttp::serve("thumbsup.webp", "image/webp", png);
    let (server, user) = server_and_user(options().env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true"));

    let body = json!({
        "to": PHONE_JID, "sticker_url": http.url("/thumbsup.webp"), "is_animated": false,
        "quoted": {"message_id": "3EB0AAAAAAAAAAAAAAAAAA", "participant": "5511988888888", "body": "Is it ready?"}
    });
    let (status, reply) = send(&server, &user, &body);
    let id = assert_sent(status, &reply, false);
    let entry = newest_entry(&server, &user, &id);
    assert_sticker(&server, &user, &entry, false);
    let context = &entry["message"]["stickerMessage"]["contextInfo"];
    assert_eq!(
        context["stanzaID"],
        json!("3EB0AAAAAAAAAAAAAAAAAA"),
        "{entry}"
    );
    assert_eq!(
        context["quotedMessage"]["conversation"],
        json!("Is it ready?"),
        "{entry}"
    );

    let text = standard_error(
        send(
            &server,
            &user,
            &json!({"to": PHONE_JID, "sticker_url": http.url("/missing.webp")}),
        ),
        400,
        "URL_HTTP_ERROR",
    );
    assert!(text.starts_with("sticker_url: "), "{text}");
    assert_eq!(server.outbox(&user).len(), 1, "nothing more was sent");
}

#[test]
fn a_loopback_url_is_refused_without_allow_private_urls() {
    let http = LocalHttp::serve("a.webp", "image/webp", picture(8, 8, ImageFormat::WebP));
    let (server, user) = server_and_user(options());
    let text = standard_error(
        send(
            &server,
            &user,
            &json!({"to": PHONE_JID, "sticker_url": http.url("/a.webp")}),
        ),
        400,
        "URL_FORBIDDEN",
    );
    assert!(text.starts_with("sticker_url: "), "{text}");
    assert!(server.outbox(&user).is_empty());
}

#[test]
fn bad_input_is_a_400_with_its_code_and_sends_nothing() {
    let (server, user) = server_and_user(options());
    let png = picture(400, 400, ImageFormat::Png);
    let webp = picture(512, 512, ImageFormat::WebP);
    let some_sticker = base64(&picture(8, 8, ImageFormat::WebP));
    let text = "This is not an image. ".repeat(50);
    // Noise barely compresses: two lossless frames of it are well over 500 KB.
    let big_animation = animated_webp(&[noise(512, 512, 1), noise(512, 512, 2)]);
    assert!(big_animation.len() > MAX_STICKER_BYTES);
    let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
        (
            "empty",
            json!({"to": PHONE_JID, "sticker": ""}),
            "STICKER_UNSUPPORTED",
            None,
        ),
        (
            "text",
            base64_body(text.as_bytes()),
            "STICKER_UNSUPPORTED",
            None,
        ),
        (
            "a BMP",
            base64_body(b"BM\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
            "STICKER_UNSUPPORTED",
            None,
        ),
        (
            "truncated PNG",
            base64_body(&png[..png.len() / 2]),
            "STICKER_UNSUPPORTED",
            None,
        ),
        (
            "truncated WebP",
            base64_body(&webp[..webp.len() / 2]),
            "STICKER_UNSUPPORTED",
            None,
        ),
        (
            "bomb header (60000x60000)",
            base64_body(&media_fixtures::png_bomb_header(60_000, 60_000)),
            "STICKER_TOO_LARGE",
            None,
        ),
        (
            "animated 512x512 WebP over 500 KB",
            base64_body(&big_animation),
            "STICKER_TOO_LARGE",
            None,
        ),
        (
            "both sources",
            json!({"to": PHONE_JID, "sticker": some_sticker, "sticker_url": "https://example.com/a.webp"}),
            "VALIDATION_ERROR",
            Some("sticker"),
        ),
        (
            "neither source",
            json!({"to": PHONE_JID, "is_animated": false}),
            "VALIDATION_ERROR",
            Some("sticker"),
        ),
        (
            "number instead of to",
            json!({"number": PHONE, "sticker": some_sticker}),
            "VALIDATION_ERROR",
            Some("to"),
        ),
        (
            "invalid base64",
            json!({"to": PHONE_JID, "sticker": "this is *not* base64!"}),
            "VALIDATION_ERROR",
            Some("sticker"),
        ),
        (
            "is_animated not a bool",
            json!({"to": PHONE_JID, "sticker": some_sticker, "is_animated": "no"}),
            "VALIDATION_ERROR",
            Some("is_animated"),
        ),
    ];
    refused_and_nothing_sent(
        &server,
        &user,
        "/send/sticker",
        cases.into_iter().collect(),
        &Refusal {
            within: Duration::from_secs(15),
            secret: "This is not an image",
            media_prefix: None,
        },
    );
}

#[test]
fn the_caps_set_by_environment_apply() {
    let (server, user) = server_and_user(
        options()
            .env("WUTS__PLUGIN__STICKER__MAX_MEGAPIXELS", "1")
            .env("WUTS__PLUGIN__STICKER__MAX_FRAMES", "2"),
    );
    let text = standard_error(
        send(
            &server,
            &user,
            &base64_body(&media_fixtures::png_bomb_header(1001, 1000)),
        ),
        400,
        "STICKER_TOO_LARGE",
    );
    assert!(text.contains("1 megapixels"), "the limit is named: {text}");
    let text = standard_error(
        send(&server, &user, &base64_body(&animated_gif(16, 16, 3))),
        400,
        "STICKER_TOO_LARGE",
    );
    assert!(text.contains("at most 2"), "the limit is named: {text}");
    assert!(server.outbox(&user).is_empty());
}
