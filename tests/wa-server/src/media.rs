//! The media host: a minimal HTTP/1.1 listener that takes the client's encrypted uploads
//! and answers as WhatsApp's does, and decrypts them once a message names their key. It
//! also serves, by `GET` of their direct path, the encrypted files of the media the
//! server pushes to the client ([`crate::hosted`]).
//!
//! The client posts the encrypted bytes to `{upload_path}/{token}?auth=…&token=…`, where
//! `token` is base64url(`file_enc_sha256`) (`whatsapp-rust` `src/upload.rs:66-82, 227`),
//! and reads `{"url","direct_path"}` back (`:296-305`). Resume checks (`&resume=1`, files
//! of 5 MiB and more) get a 404: nothing to resume.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use whatsapp_rust::download::MediaType;
use whatsapp_rust::wacore::download::DownloadUtils;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::Shared;

const READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One upload as received: still encrypted.
#[derive(Debug, Clone)]
pub struct Upload {
    /// `/mms/audio`, `/mms/image`, ...
    pub kind_path: String,
    /// base64url(`file_enc_sha256`).
    pub token: String,
    pub body: Vec<u8>,
}

pub async fn listen(shared: Arc<Shared>, listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(error) = serve(&shared, stream).await {
                shared.log(format!("media request failed: {error}"));
            }
        });
    }
}

async fn serve(shared: &Shared, mut stream: TcpStream) -> Result<(), String> {
    let request = tokio::time::timeout(READ_TIMEOUT, read_request(&mut stream))
        .await
        .map_err(|_| "request timed out".to_owned())??;
    shared.log(format!(
        "media {} {} ({} bytes)",
        request.method,
        request.target,
        request.body.len()
    ));
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let (status, content_type, body) = if request.method == "GET" {
        match shared.hosted_media(path) {
            Some(bytes) => (200, "application/octet-stream", bytes),
            None => (404, "application/json", b"{}".to_vec()),
        }
    } else if request.method != "POST" || query.split('&').any(|pair| pair == "resume=1") {
        (404, "application/json", b"{}".to_vec())
    } else if let Some((kind_path, token)) = path.rsplit_once('/') {
        let direct_path = format!("{kind_path}/{token}");
        shared.uploaded(Upload {
            kind_path: kind_path.to_owned(),
            token: token.to_owned(),
            body: request.body,
        });
        let url = format!("https://{}{direct_path}", crate::iq::MEDIA_HOST);
        let reply = serde_json::json!({ "url": url, "direct_path": direct_path });
        (200, "application/json", reply.to_string().into_bytes())
    } else {
        (404, "application/json", b"{}".to_vec())
    };
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|error| error.to_string())?;
    stream
        .write_all(&body)
        .await
        .map_err(|error| error.to_string())?;
    let _ = stream.shutdown().await;
    Ok(())
}

struct Request {
    method: String,
    target: String,
    body: Vec<u8>,
}

async fn read_request(stream: &mut TcpStream) -> Result<Request, String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let header_end = loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|error| error.to_string())?;
        if read == 0 {
            return Err("closed before the headers ended".into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            chunked = true;
        } else if name.eq_ignore_ascii_case("expect") && value.eq_ignore_ascii_case("100-continue")
        {
            stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .map_err(|error| error.to_string())?;
        }
    }
    let mut rest = buffer[header_end..].to_vec();
    let body = if chunked {
        read_chunked(stream, rest).await?
    } else {
        let length = content_length.unwrap_or(0);
        if length > MAX_BODY {
            return Err(format!("body of {length} bytes is too large"));
        }
        while rest.len() < length {
            let read = stream
                .read(&mut chunk)
                .await
                .map_err(|error| error.to_string())?;
            if read == 0 {
                return Err("closed before the body ended".into());
            }
            rest.extend_from_slice(&chunk[..read]);
        }
        rest.truncate(length);
        rest
    };
    Ok(Request {
        method,
        target,
        body,
    })
}

async fn read_chunked(stream: &mut TcpStream, mut buffer: Vec<u8>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut at = 0;
    loop {
        // A size line, then that many bytes and CRLF; a zero size ends the body.
        let line_end = loop {
            if let Some(end) = buffer[at..].windows(2).position(|window| window == b"\r\n") {
                break at + end;
            }
            let read = stream
                .read(&mut chunk)
                .await
                .map_err(|error| error.to_string())?;
            if read == 0 {
                return Err("closed inside a chunked body".into());
            }
            buffer.extend_from_slice(&chunk[..read]);
        };
        let size_text = String::from_utf8_lossy(&buffer[at..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        at = line_end + 2;
        if size == 0 {
            return Ok(body);
        }
        while buffer.len() < at + size + 2 {
            let read = stream
                .read(&mut chunk)
                .await
                .map_err(|error| error.to_string())?;
            if read == 0 {
                return Err("closed inside a chunk".into());
            }
            buffer.extend_from_slice(&chunk[..read]);
        }
        body.extend_from_slice(&buffer[at..at + size]);
        if body.len() > MAX_BODY {
            return Err("chunked body too large".into());
        }
        at += size + 2;
    }
}

/// The media a message refers to, with its key and kind.
pub fn media_of(message: &wa::Message) -> Option<(&[u8], &[u8], MediaType)> {
    if let Some(audio) = message.audio_message.as_option() {
        return pick(&audio.media_key, &audio.file_enc_sha256, MediaType::Audio);
    }
    if let Some(image) = message.image_message.as_option() {
        return pick(&image.media_key, &image.file_enc_sha256, MediaType::Image);
    }
    if let Some(video) = message.video_message.as_option() {
        return pick(&video.media_key, &video.file_enc_sha256, MediaType::Video);
    }
    // A document with a caption travels inside `documentWithCaptionMessage`, as WhatsApp
    // Web sends it (plugins/document/src/message.rs).
    let captioned = message
        .document_with_caption_message
        .as_option()
        .and_then(|wrapper| wrapper.message.as_option())
        .and_then(|inner| inner.document_message.as_option());
    if let Some(document) = message.document_message.as_option().or(captioned) {
        return pick(
            &document.media_key,
            &document.file_enc_sha256,
            MediaType::Document,
        );
    }
    if let Some(sticker) = message.sticker_message.as_option() {
        return pick(
            &sticker.media_key,
            &sticker.file_enc_sha256,
            MediaType::Sticker,
        );
    }
    None
}

fn pick<'a>(
    key: &'a Option<Vec<u8>>,
    hash: &'a Option<Vec<u8>>,
    kind: MediaType,
) -> Option<(&'a [u8], &'a [u8], MediaType)> {
    Some((key.as_deref()?, hash.as_deref()?, kind))
}

/// Finds the upload `message` refers to and decrypts it with the message's media key.
pub fn decrypt_for(uploads: &[Upload], message: &wa::Message) -> Result<Vec<u8>, String> {
    let (media_key, enc_sha256, kind) =
        media_of(message).ok_or("the message refers to no media")?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(enc_sha256);
    let upload = uploads
        .iter()
        .rev()
        .find(|upload| upload.token == token)
        .ok_or_else(|| format!("no upload with token {token} ({} uploads)", uploads.len()))?;
    DownloadUtils::verify_and_decrypt(&upload.body, media_key, kind)
        .map_err(|error| format!("media decryption: {error:?}"))
}
