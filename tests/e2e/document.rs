//! `POST /send/document` through the real server, sandbox driver and plugin library: a PDF
//! with its pages counted, any other file, the type and name chosen when absent, URL
//! sources, caption and mentions, a large base64 document as a job, and every kind of bad
//! input with its code.

use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use wuts_e2e::audio_fixtures::{LocalHttp, base64, pseudo_random_bytes};
use wuts_e2e::checks;
use wuts_e2e::media_checks::{
    Refusal, newest_entry, refused_and_nothing_sent, standard_error, standard_sent, with,
};
use wuts_e2e::media_fixtures::pdf;
use wuts_e2e::{PHONE, PHONE_JID, Server, ServerOptions, User, unique};

/// How long a job may take (a debug build uploading a small file).
const JOB_TIMEOUT: Duration = Duration::from_secs(60);

fn options() -> ServerOptions {
    ServerOptions::default()
        .plugins(&["document"])
        .required(&["document"])
}

fn server_and_user(options: ServerOptions) -> (Server, User) {
    let server = Server::start(options);
    let user = server.create_user(&unique("document"), "alice");
    (server, user)
}

fn send(server: &Server, user: &User, body: &Value) -> (u16, Value) {
    server.post_json("/send/document", &user.token, body)
}

fn base64_body(bytes: &[u8]) -> Value {
    json!({ "number": PHONE, "document": base64(bytes) })
}

/// The WUTS document example's metadata keys, and this server's additions (timings as
/// image has them, and `async_processing`).
const METADATA_KEYS: [&str; 11] = [
    "device_id",
    "user_id",
    "processing_time_ms",
    "document_size_bytes",
    "mime_type",
    "file_name",
    "upload_time_ms",
    "mentions_processed",
    "quoted_message_found",
    "async_processing",
    "sent_at",
];

/// Asserts the metadata has the documented keys and `extra` ones, with their types, for
/// `user`; returns it.
#[track_caller]
fn assert_metadata(holder: &Value, user: &User, extra: &[&str]) -> Map<String, Value> {
    let metadata = holder["metadata"]
        .as_object()
        .unwrap_or_else(|| panic!("no metadata object: {holder}"))
        .clone();
    let mut keys: Vec<&str> = metadata.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = METADATA_KEYS.to_vec();
    want.extend_from_slice(extra);
    want.sort_unstable();
    assert_eq!(keys, want, "metadata keys: {holder}");
    assert_eq!(metadata["user_id"], json!(user.user_id), "{holder}");
    assert_eq!(metadata["device_id"], json!(user.device_id), "{holder}");
    for key in [
        "processing_time_ms",
        "document_size_bytes",
        "upload_time_ms",
        "mentions_processed",
    ] {
        assert!(metadata[key].is_u64(), "{key} is a whole number: {holder}");
    }
    metadata
}

/// Asserts the documented 200 body and returns its message id and metadata.
#[track_caller]
fn assert_sent(
    status: u16,
    reply: &Value,
    user: &User,
    extra: &[&str],
) -> (String, Map<String, Value>) {
    let (id, timestamp) = standard_sent(status, reply);
    let timestamp = timestamp.as_str();
    let metadata = assert_metadata(reply, user, extra);
    assert_eq!(
        metadata["sent_at"],
        json!(timestamp),
        "sent_at is the ack's time"
    );
    assert_eq!(metadata["async_processing"], json!(false), "{reply}");
    (id, metadata)
}

/// Asserts a 400 `VALIDATION_ERROR` whose first bad field is `field`.
#[track_caller]
fn assert_invalid(reply: (u16, Value), field: &str) {
    let first = reply.1["validation"][0]["field"].clone();
    let text = standard_error(reply, 400, "VALIDATION_ERROR");
    assert_eq!(first, json!(field), "{text}");
}

/// The `documentMessage` of an entry: bare without a caption, inside
/// `documentWithCaptionMessage` with one.
#[track_caller]
fn document_message(entry: &Value, captioned: bool) -> &Value {
    let message = &entry["message"];
    let wrapper = &message["documentWithCaptionMessage"];
    let document = if captioned {
        assert!(message.get("documentMessage").is_none(), "{entry}");
        &wrapper["message"]["documentMessage"]
    } else {
        assert!(wrapper.is_null(), "no wrapper without a caption: {entry}");
        &message["documentMessage"]
    };
    assert!(document.is_object(), "no documentMessage in {entry}");
    document
}

/// A bytes field as the sandbox outbox writes it: an array of numbers.
#[track_caller]
fn bytes_field(value: &Value) -> Vec<u8> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array of bytes: {value}"))
        .iter()
        .map(|byte| {
            byte.as_u64()
                .and_then(|byte| u8::try_from(byte).ok())
                .expect("a byte")
        })
        .collect()
}

/// The checks every sent document passes: type, name and title as given; length and
/// SHA-256 of `bytes`; no thumbnail; an upload of exactly `bytes`. Returns the message.
#[track_caller]
fn assert_document<'e>(
    server: &Server,
    user: &User,
    entry: &'e Value,
    captioned: bool,
    (mimetype, file_name): (&str, &str),
    bytes: &[u8],
) -> &'e Value {
    let document = document_message(entry, captioned);
    assert_eq!(document["mimetype"], json!(mimetype), "{entry}");
    assert_eq!(document["fileName"], json!(file_name), "{entry}");
    assert_eq!(document["title"], json!(file_name), "{entry}");
    assert_eq!(document["fileLength"], json!(bytes.len()), "{entry}");
    assert_eq!(
        bytes_field(&document["fileSha256"]),
        Sha256::digest(bytes).to_vec(),
        "fileSha256 is the file's: {entry}"
    );
    assert!(document.get("jpegThumbnail").is_none(), "{entry}");

    let media = &entry["media"][0];
    assert_eq!(media["kind"], json!("document"), "{entry}");
    assert_eq!(media["mimetype"], json!(mimetype), "{entry}");
    let url = media["url"].as_str().unwrap_or_default();
    assert_eq!(document["url"], json!(url), "{entry}");
    let reply = server.client().get(url, user.auth());
    assert_eq!(reply.status, 200, "GET {url}: {}", reply.text());
    assert!(reply.body == bytes, "the upload is the caller's bytes");
    document
}

#[test]
fn a_pdf_goes_as_it_is_with_its_pages_length_and_hash() {
    let (server, user) = server_and_user(options());
    let invoice = pdf(3);
    let (status, reply) = send(&server, &user, &base64_body(&invoice));
    let (id, metadata) = assert_sent(status, &reply, &user, &["page_count"]);
    assert_eq!(metadata["mime_type"], json!("application/pdf"));
    assert_eq!(metadata["file_name"], json!("document.pdf"));
    assert_eq!(metadata["page_count"], json!(3));
    assert_eq!(metadata["document_size_bytes"], json!(invoice.len()));
    assert_eq!(metadata["mentions_processed"], json!(0));
    assert_eq!(metadata["quoted_message_found"], json!(false));

    let entry = newest_entry(&server, &user, &id);
    let document = assert_document(
        &server,
        &user,
        &entry,
        false,
        ("application/pdf", "document.pdf"),
        &invoice,
    );
    assert_eq!(document["pageCount"], json!(3), "{entry}");
    assert!(document.get("caption").is_none(), "{entry}");
    assert!(document.get("contextInfo").is_none(), "{entry}");
}

#[test]
fn a_broken_pdf_and_any_other_bytes_are_still_documents() {
    let (server, user) = server_and_user(options());
    // Starts like a PDF, but has no body: sent, without a page count.
    let broken = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R".to_vec();
    let (status, reply) = send(&server, &user, &base64_body(&broken));
    let (id, metadata) = assert_sent(status, &reply, &user, &[]);
    assert_eq!(metadata["mime_type"], json!("application/pdf"));
    let entry = newest_entry(&server, &user, &id);
    let document = assert_document(
        &server,
        &user,
        &entry,
        false,
        ("application/pdf", "document.pdf"),
        &broken,
    );
    assert!(document.get("pageCount").is_none(), "{entry}");

    // Bytes of no known kind and no name: octet-stream, document.bin.
    let noise = pseudo_random_bytes(4096, 7);
    let (status, reply) = send(&server, &user, &base64_body(&noise));
    let (id, metadata) = assert_sent(status, &reply, &user, &[]);
    assert_eq!(metadata["mime_type"], json!("application/octet-stream"));
    assert_eq!(metadata["file_name"], json!("document.bin"));
    let entry = newest_entry(&server, &user, &id);
    assert_document(
        &server,
        &user,
        &entry,
        false,
        ("application/octet-stream", "document.bin"),
        &noise,
    );
}

#[test]
fn the_type_comes_from_the_data_uri_or_the_file_name_and_a_given_one_wins() {
    let (server, user) = server_and_user(options());
    let csv = b"name,total\nAna,10\n".to_vec();
    let body =
        json!({"number": PHONE, "document": format!("data:text/csv;base64,{}", base64(&csv))});
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, &user, &[]);
    assert_eq!(metadata["mime_type"], json!("text/csv"));
    assert_eq!(metadata["file_name"], json!("document.csv"));
    let entry = newest_entry(&server, &user, &id);
    assert_document(
        &server,
        &user,
        &entry,
        false,
        ("text/csv", "document.csv"),
        &csv,
    );

    // Text of no signature: the name's extension says what it is; the name is sanitised.
    let notes = b"remember the milk".to_vec();
    let body = with(
        base64_body(&notes),
        json!({"file_name": "C:\\Users\\ana\\notas\n.txt"}),
    );
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, &user, &[]);
    assert_eq!(metadata["mime_type"], json!("text/plain"));
    assert_eq!(metadata["file_name"], json!("notas.txt"));
    let entry = newest_entry(&server, &user, &id);
    assert_document(
        &server,
        &user,
        &entry,
        false,
        ("text/plain", "notas.txt"),
        &notes,
    );

    // The caller's type wins over the bytes; a PDF called something else is not counted.
    let body = with(
        base64_body(&pdf(2)),
        json!({"mime_type": "Application/Octet-Stream", "file_name": "blob"}),
    );
    let (status, reply) = send(&server, &user, &body);
    let (_, metadata) = assert_sent(status, &reply, &user, &[]);
    assert_eq!(metadata["mime_type"], json!("application/octet-stream"));
    assert_eq!(metadata["file_name"], json!("blob"));
}

#[test]
fn a_caption_wraps_the_document_with_its_mentions_and_quote() {
    let (server, user) = server_and_user(options());
    let report = pdf(2);
    let body = with(
        base64_body(&report),
        json!({
            "mime_type": "application/pdf",
            "file_name": "Relatório final.pdf",
            "caption": "*Q1* report for @5511988888888",
            "mentioned": ["5511988888888"],
            "quoted": {"message_id": "3EB0AAAAAAAAAAAAAAAAAA", "participant": "5511977777777", "body": "Send the report?"}
        }),
    );
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, &user, &["page_count"]);
    assert_eq!(metadata["mentions_processed"], json!(1));
    assert_eq!(metadata["quoted_message_found"], json!(false));
    assert_eq!(metadata["file_name"], json!("Relatório final.pdf"));
    assert_eq!(metadata["page_count"], json!(2));

    let entry = newest_entry(&server, &user, &id);
    let document = assert_document(
        &server,
        &user,
        &entry,
        true,
        ("application/pdf", "Relatório final.pdf"),
        &report,
    );
    assert_eq!(
        document["caption"],
        json!("*Q1* report for @5511988888888"),
        "{entry}"
    );
    assert_eq!(document["pageCount"], json!(2), "{entry}");
    let context = &document["contextInfo"];
    assert_eq!(
        context["mentionedJID"],
        json!(["5511988888888@s.whatsapp.net"]),
        "{entry}"
    );
    assert_eq!(
        context["stanzaID"],
        json!("3EB0AAAAAAAAAAAAAAAAAA"),
        "{entry}"
    );
    assert_eq!(
        context["quotedMessage"]["conversation"],
        json!("Send the report?"),
        "{entry}"
    );
}

#[test]
fn document_url_is_downloaded_and_needs_a_file_name() {
    // Served as octet-stream, but a PDF: the bytes decide when no mime_type is given.
    let invoice = pdf(4);
    let http = LocalHttp::serve("0425.pdf", "application/octet-stream", invoice.clone());
    let (server, user) = server_and_user(options().env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true"));

    let body = json!({
        "number": PHONE, "document_url": http.url("/0425.pdf"),
        "file_name": "../invoices/invoice-0425.pdf", "caption": "Your April invoice is attached.",
        "delay": 0
    });
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, &user, &["download_time_ms", "page_count"]);
    assert!(metadata["download_time_ms"].is_u64(), "{reply}");
    assert_eq!(metadata["mime_type"], json!("application/pdf"));
    assert_eq!(metadata["file_name"], json!("invoice-0425.pdf"));
    assert_eq!(metadata["page_count"], json!(4));
    let entry = newest_entry(&server, &user, &id);
    assert_document(
        &server,
        &user,
        &entry,
        true,
        ("application/pdf", "invoice-0425.pdf"),
        &invoice,
    );

    // Without a file name: refused before any download.
    assert_invalid(
        send(
            &server,
            &user,
            &json!({"number": PHONE, "document_url": http.url("/0425.pdf")}),
        ),
        "file_name",
    );

    let text = standard_error(
        send(
            &server,
            &user,
            &json!({"number": PHONE, "document_url": http.url("/missing.pdf"), "file_name": "a.pdf"}),
        ),
        400,
        "URL_HTTP_ERROR",
    );
    assert!(text.starts_with("document_url: "), "{text}");
    assert_eq!(server.outbox(&user).len(), 1, "nothing more was sent");
}

#[test]
fn a_large_base64_document_is_a_job_that_is_sent() {
    let (server, user) =
        server_and_user(options().env("WUTS__PLUGIN__DOCUMENT__ASYNC_THRESHOLD_BYTES", "1000"));
    let manual = pdf(20);
    assert!(manual.len() > 1000, "over the threshold: {}", manual.len());
    let body = with(
        base64_body(&manual),
        json!({"file_name": "manual.pdf", "caption": "The manual"}),
    );
    let (status, reply) = send(&server, &user, &body);
    assert_eq!(status, 202, "expected 202, got {status}: {reply}");
    assert_eq!(reply["success"], json!(true), "{reply}");
    assert_eq!(reply["status"], json!("processing"), "{reply}");
    assert_eq!(reply["chat_jid"], json!(PHONE_JID), "{reply}");
    let job_id = reply["job_id"].as_str().unwrap_or_default().to_owned();
    assert!(job_id.starts_with("job_"), "{reply}");

    let job = server.wait_for_job(&user, &job_id, JOB_TIMEOUT);
    assert_eq!(job["status"], json!("sent"), "{job}");
    let message_id = job["message_id"].as_str().unwrap_or_default().to_owned();
    checks::message_id(&message_id);
    let metadata = assert_metadata(&job, &user, &["page_count"]);
    assert_eq!(metadata["async_processing"], json!(true), "{job}");
    assert_eq!(metadata["page_count"], json!(20), "{job}");
    let entry = newest_entry(&server, &user, &message_id);
    assert_document(
        &server,
        &user,
        &entry,
        true,
        ("application/pdf", "manual.pdf"),
        &manual,
    );

    // A small one runs inline; bad input over the threshold is a 400, never a job.
    let (status, reply) = send(&server, &user, &base64_body(b"small note"));
    assert_sent(status, &reply, &user, &[]);
    let long_garbage = "not base64 at all! ".repeat(200);
    assert_invalid(
        send(
            &server,
            &user,
            &json!({"number": PHONE, "document": long_garbage}),
        ),
        "document",
    );
    let quote_unknown = with(
        base64_body(&manual),
        json!({"quoted": {"message_id": "3EB0UNKNOWN"}}),
    );
    assert_invalid(send(&server, &user, &quote_unknown), "quoted");
    assert_eq!(server.outbox(&user).len(), 2, "the job and the small one");
}

#[test]
fn bad_input_is_a_400_with_its_code_and_sends_nothing() {
    let too_big = pseudo_random_bytes(5000, 3);
    let http = LocalHttp::serve("big.bin", "application/octet-stream", too_big.clone());
    let empty = LocalHttp::serve("empty.txt", "text/plain", Vec::new());
    let (server, user) = server_and_user(
        options()
            .env("WUTS__PLUGIN__DOCUMENT__MAX_BYTES", "4096")
            .env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true"),
    );
    let some = base64(b"some file");
    let text = "This is a secret document. ".repeat(10);
    let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
        (
            "empty",
            json!({"number": PHONE, "document": ""}),
            "DOCUMENT_EMPTY",
            None,
        ),
        (
            "empty data URI",
            json!({"number": PHONE, "document": "data:application/pdf;base64,"}),
            "DOCUMENT_EMPTY",
            None,
        ),
        (
            "empty download",
            json!({"number": PHONE, "document_url": empty.url("/empty.txt"), "file_name": "e.txt"}),
            "DOCUMENT_EMPTY",
            None,
        ),
        (
            "over max_bytes",
            base64_body(&too_big),
            "DOCUMENT_TOO_LARGE",
            None,
        ),
        (
            "download over max_bytes",
            json!({"number": PHONE, "document_url": http.url("/big.bin"), "file_name": "big.bin"}),
            "DOCUMENT_TOO_LARGE",
            None,
        ),
        (
            "bad mime_type",
            json!({"number": PHONE, "document": some, "mime_type": "pdf"}),
            "VALIDATION_ERROR",
            Some("mime_type"),
        ),
        (
            "both sources",
            json!({"number": PHONE, "document": some, "document_url": "https://example.com/a.pdf", "file_name": "a.pdf"}),
            "VALIDATION_ERROR",
            Some("document"),
        ),
        (
            "neither source",
            json!({"number": PHONE, "caption": "hi"}),
            "VALIDATION_ERROR",
            Some("document"),
        ),
        (
            "file_name of only folders",
            json!({"number": PHONE, "document": some, "file_name": "reports/../"}),
            "VALIDATION_ERROR",
            Some("file_name"),
        ),
        (
            "empty file_name",
            json!({"number": PHONE, "document": some, "file_name": ""}),
            "VALIDATION_ERROR",
            Some("file_name"),
        ),
        (
            "document_url without file_name",
            json!({"number": PHONE, "document_url": "https://example.com/a.pdf"}),
            "VALIDATION_ERROR",
            Some("file_name"),
        ),
        (
            "invalid base64",
            json!({"number": PHONE, "document": text}),
            "VALIDATION_ERROR",
            Some("document"),
        ),
        (
            "caption of 1025",
            json!({"number": PHONE, "document": some, "caption": "c".repeat(1025)}),
            "VALIDATION_ERROR",
            Some("caption"),
        ),
        (
            "no number",
            json!({"document": some}),
            "VALIDATION_ERROR",
            Some("number"),
        ),
        (
            "bad mention",
            json!({"number": PHONE, "document": some, "mentioned": ["not a number"]}),
            "VALIDATION_ERROR",
            Some("mentioned[0]"),
        ),
    ];
    refused_and_nothing_sent(
        &server,
        &user,
        "/send/document",
        cases.into_iter().collect(),
        &Refusal {
            within: Duration::from_secs(15),
            secret: "secret document",
            media_prefix: None,
        },
    );
}
