//! Request bodies: read under a size limit, and the `device_id` selector.

use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde::Deserialize;
use wuts_plugin_api::Envelope;

use crate::error::ApiError;

/// Reads the whole body, answering 413 as soon as it exceeds `limit`.
pub async fn read_limited(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: u64,
    envelope: Envelope,
) -> Result<web::Bytes, ApiError> {
    let declared = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::too_large(limit).in_envelope(envelope));
    }
    // Room for the declared length up front: a 100 MB upload grown by doubling would be
    // copied and faulted in several times over. Untouched capacity costs no memory.
    let capacity = declared.unwrap_or(0).min(limit).min(usize::MAX as u64) as usize;
    let mut body = web::BytesMut::with_capacity(capacity);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::bad_request(format!("could not read the body: {error}")).in_envelope(envelope)
        })?;
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(ApiError::too_large(limit).in_envelope(envelope));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The `device_id` a request names, in its query string or its JSON body.
pub fn device_id(
    request: &HttpRequest,
    body: &[u8],
    envelope: Envelope,
) -> Result<Option<String>, ApiError> {
    if let Some(from_query) = url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(key, _)| key == "device_id")
        .map(|(_, value)| value.into_owned())
    {
        return Ok(Some(from_query).filter(|id| !id.is_empty()));
    }
    // Only parse a second time when the body can name a device at all.
    if memchr::memmem::find(body, b"\"device_id\"").is_none() {
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct Selector {
        device_id: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Selector>(body)
        .ok()
        .and_then(|selector| selector.device_id)
    {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(id)) => Ok(Some(id).filter(|id| !id.is_empty())),
        Some(_) => Err(ApiError::bad_request("device_id: must be a string").in_envelope(envelope)),
    }
}

/// A query parameter.
pub fn query_param(request: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
