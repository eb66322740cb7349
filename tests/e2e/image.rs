//! `POST /send/image` through the real server, sandbox driver and plugin library: pictures
//! sent as they are and converted, the message as recorded (size, thumbnail, caption), the
//! uploaded file, URL sources, and every kind of bad input with its code.

use std::time::{Duration, Instant};

use image::{GenericImageView, ImageFormat};
use serde_json::{Map, Value, json};
use wuts_e2e::audio_fixtures::{LocalHttp, base64};
use wuts_e2e::media_checks::{
    Refusal, newest_entry, refused_and_nothing_sent, standard_error, standard_sent, with,
};
use wuts_e2e::media_fixtures;
use wuts_e2e::{PHONE, Server, ServerOptions, User, unique};

fn options() -> ServerOptions {
    ServerOptions::default()
        .plugins(&["image"])
        .required(&["image"])
}

fn server_and_user(options: ServerOptions) -> (Server, User) {
    let server = Server::start(options);
    let user = server.create_user(&unique("image"), "alice");
    (server, user)
}

fn send(server: &Server, user: &User, body: &Value) -> (u16, Value) {
    server.post_json("/send/image", &user.token, body)
}

fn base64_body(bytes: &[u8]) -> Value {
    json!({ "number": PHONE, "image": base64(bytes) })
}

/// The WUTS docs §1.2 200 example's metadata keys, and this server's additions.
const METADATA_KEYS: [&str; 14] = [
    "device_id",
    "user_id",
    "processing_time_ms",
    "image_size_bytes",
    "image_format",
    "upload_time_ms",
    "mentions_processed",
    "quoted_message_found",
    "view_once_enabled",
    "original_format",
    "was_converted",
    "width",
    "height",
    "sent_at",
];

/// Asserts the documented 200 body and returns its message id and metadata.
#[track_caller]
fn assert_sent(status: u16, reply: &Value, downloaded: bool) -> (String, Map<String, Value>) {
    let (id, timestamp) = standard_sent(status, reply);
    let timestamp = timestamp.as_str();
    let metadata = reply["metadata"]
        .as_object()
        .unwrap_or_else(|| panic!("no metadata object: {reply}"))
        .clone();
    let mut keys: Vec<&str> = metadata.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = METADATA_KEYS.to_vec();
    if downloaded {
        want.push("download_time_ms");
    }
    want.sort_unstable();
    assert_eq!(keys, want, "metadata keys: {reply}");
    assert_eq!(
        metadata["sent_at"],
        json!(timestamp),
        "sent_at is the ack's time"
    );
    for key in [
        "processing_time_ms",
        "image_size_bytes",
        "upload_time_ms",
        "mentions_processed",
        "width",
        "height",
    ] {
        assert!(metadata[key].is_u64(), "{key} is a whole number: {reply}");
    }
    (id, metadata)
}

/// The `imageMessage` of an entry, unwrapping a view-once message.
fn image_message(entry: &Value) -> &Value {
    let message = &entry["message"];
    let inner = if message["viewOnceMessage"].is_object() {
        &message["viewOnceMessage"]["message"]
    } else {
        message
    };
    let image = &inner["imageMessage"];
    assert!(image.is_object(), "no imageMessage in {entry}");
    image
}

/// The checks every sent picture passes: mimetype and size as the metadata says, a
/// thumbnail that is a JPEG of at most 72 px, and an upload that decodes to the size the
/// message states. Returns the uploaded file.
#[track_caller]
fn assert_picture(
    server: &Server,
    user: &User,
    entry: &Value,
    mimetype: &str,
    size: (u32, u32),
) -> Vec<u8> {
    let image = image_message(entry);
    assert_eq!(image["mimetype"], json!(mimetype), "{entry}");
    assert_eq!(image["width"], json!(size.0), "{entry}");
    assert_eq!(image["height"], json!(size.1), "{entry}");

    // The sandbox outbox writes bytes fields as arrays of numbers.
    let thumbnail: Vec<u8> = image["jpegThumbnail"]
        .as_array()
        .unwrap_or_else(|| panic!("jpegThumbnail is an array of bytes in the JSON: {entry}"))
        .iter()
        .map(|byte| {
            byte.as_u64()
                .and_then(|byte| u8::try_from(byte).ok())
                .expect("a byte")
        })
        .collect();
    assert_eq!(
        image::guess_format(&thumbnail).ok(),
        Some(ImageFormat::Jpeg)
    );
    let thumbnail = image::load_from_memory_with_format(&thumbnail, ImageFormat::Jpeg)
        .expect("the thumbnail decodes as a JPEG");
    let (width, height) = thumbnail.dimensions();
    assert!(width.max(height) <= 72, "thumbnail {width}x{height}");
    assert!(width.max(height) >= 1);

    let media = &entry["media"][0];
    assert_eq!(media["kind"], json!("image"), "{entry}");
    assert_eq!(media["mimetype"], json!(mimetype), "{entry}");
    let url = media["url"].as_str().unwrap_or_default();
    let reply = server.client().get(url, user.auth());
    assert_eq!(reply.status, 200, "GET {url}: {}", reply.text());
    assert_eq!(Some(reply.body.len() as u64), media["size"].as_u64());
    let uploaded = image::load_from_memory(&reply.body).expect("the upload decodes");
    assert_eq!(
        uploaded.dimensions(),
        size,
        "the upload is what the message says"
    );
    reply.body
}

#[test]
fn a_png_goes_as_it_is_with_caption_thumbnail_and_mentions() {
    let (server, user) = server_and_user(options());
    let png = media_fixtures::picture(640, 480, ImageFormat::Png);
    let body = with(
        base64_body(&png),
        json!({"caption": "*Black Friday* is here!", "mentioned": ["5511988888888"]}),
    );
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["image_format"], json!("image/png"));
    assert_eq!(metadata["original_format"], json!("image/png"));
    assert_eq!(metadata["was_converted"], json!(false));
    assert_eq!(metadata["image_size_bytes"], json!(png.len()));
    assert_eq!(metadata["mentions_processed"], json!(1));
    assert_eq!(metadata["view_once_enabled"], json!(false));
    assert_eq!(
        (metadata["width"].clone(), metadata["height"].clone()),
        (json!(640), json!(480))
    );

    let entry = newest_entry(&server, &user, &id);
    let uploaded = assert_picture(&server, &user, &entry, "image/png", (640, 480));
    assert_eq!(uploaded, png, "a PNG within the caps is sent byte for byte");
    let image = image_message(&entry);
    assert_eq!(
        image["caption"],
        json!("*Black Friday* is here!"),
        "{entry}"
    );
    assert_eq!(
        image["contextInfo"]["mentionedJID"],
        json!(["5511988888888@s.whatsapp.net"]),
        "{entry}"
    );
    assert!(
        image.get("viewOnce").is_none_or(|v| v == &json!(false)),
        "{entry}"
    );
}

#[test]
fn a_jpeg_data_uri_goes_as_it_is() {
    let (server, user) = server_and_user(options());
    let jpeg = media_fixtures::picture(300, 400, ImageFormat::Jpeg);
    let body =
        json!({"number": PHONE, "image": format!("data:image/jpeg;base64,{}", base64(&jpeg))});
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["image_format"], json!("image/jpeg"));
    assert_eq!(metadata["was_converted"], json!(false));
    let entry = newest_entry(&server, &user, &id);
    assert_eq!(
        assert_picture(&server, &user, &entry, "image/jpeg", (300, 400)),
        jpeg
    );
    assert!(image_message(&entry).get("caption").is_none(), "{entry}");
}

#[test]
fn a_webp_is_converted_to_jpeg() {
    let (server, user) = server_and_user(options());
    let webp = media_fixtures::picture(200, 100, ImageFormat::WebP);
    let (status, reply) = send(&server, &user, &base64_body(&webp));
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["image_format"], json!("image/jpeg"));
    assert_eq!(metadata["original_format"], json!("image/webp"));
    assert_eq!(metadata["was_converted"], json!(true));
    let entry = newest_entry(&server, &user, &id);
    let uploaded = assert_picture(&server, &user, &entry, "image/jpeg", (200, 100));
    assert_eq!(image::guess_format(&uploaded).ok(), Some(ImageFormat::Jpeg));
    assert_eq!(metadata["image_size_bytes"], json!(uploaded.len()));
}

#[test]
fn a_long_png_is_scaled_to_4096_on_its_longest_side() {
    let (server, user) = server_and_user(options());
    let wide = media_fixtures::picture(5000, 300, ImageFormat::Png);
    let (status, reply) = send(&server, &user, &base64_body(&wide));
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["was_converted"], json!(true));
    assert_eq!(metadata["image_format"], json!("image/jpeg"));
    assert_eq!(
        (metadata["width"].clone(), metadata["height"].clone()),
        (json!(4096), json!(246))
    );
    let entry = newest_entry(&server, &user, &id);
    assert_picture(&server, &user, &entry, "image/jpeg", (4096, 246));
}

#[test]
fn view_once_and_a_quote_are_carried() {
    let (server, user) = server_and_user(options());
    let png = media_fixtures::picture(64, 64, ImageFormat::Png);
    let body = with(
        base64_body(&png),
        json!({"viewOnce": true,
               "quoted": {"message_id": "3EB0AAAAAAAAAAAAAAAAAA", "participant": "5511988888888", "body": "Is it ready?"}}),
    );
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["view_once_enabled"], json!(true));
    assert_eq!(metadata["quoted_message_found"], json!(false));
    let entry = newest_entry(&server, &user, &id);
    assert!(entry["message"]["viewOnceMessage"].is_object(), "{entry}");
    let image = image_message(&entry);
    assert_eq!(image["viewOnce"], json!(true), "{entry}");
    let context = &image["contextInfo"];
    assert_eq!(
        context["stanzaID"],
        json!("3EB0AAAAAAAAAAAAAAAAAA"),
        "{entry}"
    );
    assert_eq!(
        context["participant"],
        json!("5511988888888@s.whatsapp.net"),
        "{entry}"
    );
    assert_eq!(
        context["quotedMessage"]["conversation"],
        json!("Is it ready?"),
        "{entry}"
    );
    assert_picture(&server, &user, &entry, "image/png", (64, 64));
}

#[test]
fn image_url_is_downloaded_and_sniffed_when_private_urls_are_allowed() {
    // Served as PNG, but a GIF: the bytes decide, not the Content-Type.
    let gif = media_fixtures::picture(120, 90, ImageFormat::Gif);
    let http = LocalHttp::serve("banner.png", "image/png", gif);
    let (server, user) = server_and_user(options().env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true"));

    let body =
        json!({"number": PHONE, "image_url": http.url("/banner.png"), "caption": "from a URL"});
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, true);
    assert!(metadata["download_time_ms"].is_u64(), "{reply}");
    assert_eq!(metadata["original_format"], json!("image/gif"));
    assert_eq!(metadata["was_converted"], json!(true));
    let entry = newest_entry(&server, &user, &id);
    assert_picture(&server, &user, &entry, "image/jpeg", (120, 90));

    let text = standard_error(
        send(
            &server,
            &user,
            &json!({"number": PHONE, "image_url": http.url("/missing.png")}),
        ),
        400,
        "URL_HTTP_ERROR",
    );
    assert!(text.starts_with("image_url: "), "{text}");
    assert_eq!(server.outbox(&user).len(), 1, "nothing more was sent");
}

#[test]
fn a_loopback_url_is_refused_without_allow_private_urls() {
    let http = LocalHttp::serve(
        "a.png",
        "image/png",
        media_fixtures::picture(8, 8, ImageFormat::Png),
    );
    let (server, user) = server_and_user(options());
    let text = standard_error(
        send(
            &server,
            &user,
            &json!({"number": PHONE, "image_url": http.url("/a.png")}),
        ),
        400,
        "URL_FORBIDDEN",
    );
    assert!(text.starts_with("image_url: "), "{text}");
    assert!(server.outbox(&user).is_empty());
}

#[test]
fn bad_input_is_a_400_with_its_code_and_sends_nothing() {
    let (server, user) = server_and_user(options());
    let png = media_fixtures::picture(400, 400, ImageFormat::Png);
    let some_image = base64(&media_fixtures::picture(8, 8, ImageFormat::Png));
    let text = "This is not an image. ".repeat(50);
    let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
        (
            "empty",
            json!({"number": PHONE, "image": ""}),
            "IMAGE_EMPTY",
            None,
        ),
        (
            "text",
            base64_body(text.as_bytes()),
            "IMAGE_UNSUPPORTED",
            None,
        ),
        (
            "truncated PNG",
            base64_body(&png[..png.len() / 2]),
            "IMAGE_CORRUPT",
            None,
        ),
        (
            "bomb header (60000x60000)",
            base64_body(&media_fixtures::png_bomb_header(60_000, 60_000)),
            "IMAGE_TOO_LARGE",
            None,
        ),
        (
            "caption of 1025",
            with(base64_body(&png), json!({"caption": "c".repeat(1025)})),
            "VALIDATION_ERROR",
            Some("caption"),
        ),
        (
            "both sources",
            json!({"number": PHONE, "image": some_image, "image_url": "https://example.com/a.png"}),
            "VALIDATION_ERROR",
            Some("image"),
        ),
        (
            "neither source",
            json!({"number": PHONE, "caption": "hi"}),
            "VALIDATION_ERROR",
            Some("image"),
        ),
        (
            "invalid base64",
            json!({"number": PHONE, "image": "this is *not* base64!"}),
            "VALIDATION_ERROR",
            Some("image"),
        ),
        (
            "no number",
            json!({"image": some_image}),
            "VALIDATION_ERROR",
            Some("number"),
        ),
        (
            "viewOnce not a bool",
            json!({"number": PHONE, "image": some_image, "viewOnce": "yes"}),
            "VALIDATION_ERROR",
            Some("viewOnce"),
        ),
        (
            "bad mention",
            json!({"number": PHONE, "image": some_image, "mentioned": ["not a number"]}),
            "VALIDATION_ERROR",
            Some("mentioned[0]"),
        ),
    ];
    refused_and_nothing_sent(
        &server,
        &user,
        "/send/image",
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
            .env("WUTS__PLUGIN__IMAGE__MAX_SIDE", "100")
            .env("WUTS__PLUGIN__IMAGE__MAX_MEGAPIXELS", "1"),
    );
    let (status, reply) = send(
        &server,
        &user,
        &base64_body(&media_fixtures::picture(300, 150, ImageFormat::Png)),
    );
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["was_converted"], json!(true));
    let entry = newest_entry(&server, &user, &id);
    assert_picture(&server, &user, &entry, "image/jpeg", (100, 50));

    let text = standard_error(
        send(
            &server,
            &user,
            &base64_body(&media_fixtures::png_bomb_header(1001, 1000)),
        ),
        400,
        "IMAGE_TOO_LARGE",
    );
    assert!(text.contains("1 megapixels"), "the limit is named: {text}");
    assert_eq!(server.outbox(&user).len(), 1, "nothing more was sent");
}

#[test]
fn a_body_over_the_routes_24_mib_limit_is_a_413_and_sends_nothing() {
    let (server, user) = server_and_user(options());
    // The base64 of a 16 MiB picture fits; 25 MiB of base64 does not, whatever it holds.
    let body = json!({"number": PHONE, "image": "A".repeat(25 * 1024 * 1024)});
    let started = Instant::now();
    let text = standard_error(send(&server, &user, &body), 413, "PAYLOAD_TOO_LARGE");
    assert!(text.contains("25165824"), "the limit is named: {text}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(server.outbox(&user).is_empty(), "nothing was sent");
}
