//! `GET /messages/{id}/media`: a received message's media, downloaded through the device
//! and decrypted (docs/API.md, "Inbound media").

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use buffa::Message as _;
use waproto::whatsapp::Message;

use super::common::{caller_device, device_session, query_device_id};
use crate::auth::Caller;
use crate::error::{ApiError, SessionCall, codes};
use crate::events::parse::received_media;
use crate::send_path::blocking;
use crate::state::AppState;

/// The longest a download may take (WhatsApp's media hosts answer in seconds; a video of
/// the largest size the fetch cap allows still fits).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/messages/{id}/media", web::get().to(media));
}

async fn media(
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let message_id = path.into_inner();
    let device = caller_device(&state, caller.0, query_device_id(&request)).await?;
    let store = Arc::clone(&state.store);
    let device_id = device.id.clone();
    let lookup_id = message_id.clone();
    // Another tenant's message is not found either: the lookup is by the caller's device.
    let received = blocking(&state, move || store.find_received(&device_id, &lookup_id))
        .await?
        .map_err(|error| ApiError::internal(format!("message log failed: {error}")))?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let message = Message::decode_from_slice(&received.message)
        .map_err(|error| ApiError::internal(format!("the logged message is corrupt: {error}")))?;
    let media = received_media(&message).ok_or_else(|| ApiError::not_found("media"))?;
    // Whole files are held in memory: the fetch cap bounds them as it bounds URL sources.
    let cap = state.settings.fetch.max_bytes;
    if media.download.file_length > cap {
        return Err(ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            format!(
                "the media is {} bytes; this server serves at most {cap} ([fetch] max_bytes)",
                media.download.file_length
            ),
        ));
    }
    let session = device_session(&state, &device).await?;
    let bytes = match tokio::time::timeout(
        DOWNLOAD_TIMEOUT,
        session.download_media(media.download.clone()),
    )
    .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => return Err(ApiError::from_session(error, SessionCall::Download)),
        Err(_) => {
            return Err(ApiError::from_session(
                crate::session::SessionError::Timeout,
                SessionCall::Download,
            ));
        }
    };
    tracing::info!(device_id = %device.id, %message_id, bytes = bytes.len(), "received media served");
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CONTENT_TYPE, media.mimetype.as_str()));
    if let Some(name) = &media.file_name {
        response.insert_header(header::ContentDisposition::attachment(name.as_str()));
    }
    Ok(response.body(bytes))
}
