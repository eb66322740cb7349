//! A request as a plugin sees it: the route, the body, and facts about the caller.

use serde::de::DeserializeOwned;

use crate::abi::RequestContextAbi;
use crate::error::PluginError;

/// Facts about the request being served, borrowed from the host for the call (copying
/// them would cost an allocation each on every request).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContext<'a> {
    pub request_id: &'a str,
    pub tenant_id: &'a str,
    pub user_id: &'a str,
    pub device_id: &'a str,
    /// The id the message will be sent under.
    pub message_id: &'a str,
    pub own_jid: Option<&'a str>,
    pub is_job: bool,
}

/// A request as a plugin sees it.
#[derive(Debug)]
pub struct Request<'a> {
    pub route: &'a str,
    pub body: &'a [u8],
    pub context: RequestContext<'a>,
}

impl Request<'_> {
    /// Parses the body as JSON into `T`; malformed JSON or a wrong type is a 400 that
    /// says where.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(PluginError::bad_request(
                "VALIDATION_ERROR",
                "request body is empty: a JSON object is required",
            ));
        }
        serde_json::from_slice(self.body).map_err(|error| {
            let kind = match error.classify() {
                serde_json::error::Category::Data => "invalid request body",
                _ => "malformed JSON",
            };
            PluginError::bad_request("VALIDATION_ERROR", format!("{kind}: {error}"))
        })
    }
}

impl<'a> From<&RequestContextAbi<'a>> for RequestContext<'a> {
    fn from(context: &RequestContextAbi<'a>) -> Self {
        RequestContext {
            request_id: context.request_id.as_str(),
            tenant_id: context.tenant_id.as_str(),
            user_id: context.user_id.as_str(),
            device_id: context.device_id.as_str(),
            message_id: context.message_id.as_str(),
            own_jid: context.own_jid.map(|jid| jid.as_str()).into_option(),
            is_job: context.is_job,
        }
    }
}

impl<'a> From<&RequestContext<'a>> for RequestContextAbi<'a> {
    fn from(context: &RequestContext<'a>) -> Self {
        RequestContextAbi {
            request_id: context.request_id.into(),
            tenant_id: context.tenant_id.into(),
            user_id: context.user_id.into(),
            device_id: context.device_id.into(),
            message_id: context.message_id.into(),
            own_jid: context.own_jid.map(Into::into).into(),
            is_job: context.is_job,
        }
    }
}
