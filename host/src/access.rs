//! Every request's id and its one access line (docs/API.md, "Operations"): the id is the
//! client's `X-Request-Id` when it is 1 to 64 characters of `[A-Za-z0-9._-]`, else a new
//! one; it is echoed on the response and logged with the route's pattern (never the raw
//! path or query), the caller's tenant once authenticated, the status and the latency.
//! Nothing else of the request is logged: no token, no body.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, HttpRequest};

use crate::store::Principal;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_ID_CHARS: usize = 64;

/// The request's id, in its extensions.
#[derive(Clone)]
pub struct RequestId(pub Arc<str>);

/// Who made the request, once the token is verified (set by `auth::Caller`).
#[derive(Clone)]
pub struct Authenticated(pub Arc<Principal>);

fn is_sane(id: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// The client's id when sane, else a new one (32 hex digits).
pub fn request_id(given: Option<&HeaderValue>) -> Arc<str> {
    match given.and_then(|value| value.to_str().ok()) {
        Some(id) if is_sane(id) => Arc::from(id),
        _ => Arc::from(crate::ids::request_id()),
    }
}

/// The middleware: tags the request, answers with its id, writes the access line.
pub async fn track(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = request_id(request.headers().get(&REQUEST_ID));
    request.extensions_mut().insert(RequestId(Arc::clone(&id)));
    let method = request.method().clone();
    let answered = next.call(request).await;
    let elapsed = started.elapsed();
    let (status, route, tenant, mut response) = match answered {
        Ok(response) => {
            let status = response.status().as_u16();
            let route = route_of(response.request());
            let tenant = response
                .request()
                .extensions()
                .get::<Authenticated>()
                .map(|caller| Arc::clone(&caller.0));
            (status, route, tenant, Ok(response))
        }
        Err(error) => {
            let status = error.as_response_error().status_code().as_u16();
            (status, unmatched(), None, Err(error))
        }
    };
    route.record(&method, status, elapsed);
    if let Ok(response) = &mut response
        && let Ok(value) = HeaderValue::from_str(&id)
    {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    crate::telemetry::access(&crate::telemetry::AccessLine {
        request_id: &id,
        method: method.as_str(),
        route: &route.pattern,
        tenant: tenant
            .as_ref()
            .map_or("-", |caller| caller.tenant_id.as_str()),
        status,
        latency: elapsed,
    });
    response
}

/// A route pattern and its metrics, kept per worker thread by request path for the
/// routes without parameters: such a path costs one hash lookup, instead of a walk of
/// the route table (`match_pattern`) and two lookups in the metrics registry with
/// freshly allocated labels. The route table does not change while serving.
struct RouteStats {
    pattern: Arc<str>,
    seconds: metrics::Histogram,
    /// Request counters by method and status; a route sees a handful of each.
    requests: RefCell<Vec<(Method, u16, metrics::Counter)>>,
}

impl RouteStats {
    fn new(pattern: Arc<str>) -> RouteStats {
        RouteStats {
            seconds: metrics::histogram!(crate::metrics::HTTP_SECONDS, "route" => pattern.to_string()),
            pattern,
            requests: RefCell::new(Vec::new()),
        }
    }

    /// The request in the metrics: counted by route pattern, method and status, timed
    /// by route pattern.
    fn record(&self, method: &Method, status: u16, elapsed: std::time::Duration) {
        self.seconds.record(elapsed.as_secs_f64());
        let mut requests = self.requests.borrow_mut();
        if let Some((_, _, counter)) = requests
            .iter()
            .find(|(seen, code, _)| *code == status && seen == method)
        {
            counter.increment(1);
            return;
        }
        let counter = metrics::counter!(
            crate::metrics::HTTP_REQUESTS,
            "route" => self.pattern.to_string(),
            "method" => method.as_str().to_owned(),
            "status" => status.to_string()
        );
        counter.increment(1);
        // Bounded: a client inventing methods must not grow it without end.
        if requests.len() < MAX_COUNTERS_PER_ROUTE {
            requests.push((method.clone(), status, counter));
        }
    }
}

/// Paths remembered per worker thread (the routes without parameters; a bound all the
/// same).
const MAX_CACHED_PATHS: usize = 512;
const MAX_COUNTERS_PER_ROUTE: usize = 64;

thread_local! {
    static ROUTES: RefCell<HashMap<Box<str>, Rc<RouteStats>>> = RefCell::new(HashMap::new());
    static UNMATCHED: Rc<RouteStats> = Rc::new(RouteStats::new(Arc::from("unmatched")));
}

fn unmatched() -> Rc<RouteStats> {
    UNMATCHED.with(Rc::clone)
}

/// The pattern of the route that served `request` ("unmatched" for none), with its
/// metrics.
fn route_of(request: &HttpRequest) -> Rc<RouteStats> {
    let path = request.path();
    if let Some(known) = ROUTES.with_borrow(|routes| routes.get(path).cloned()) {
        return known;
    }
    let Some(pattern) = request.match_pattern() else {
        return unmatched();
    };
    let stats = Rc::new(RouteStats::new(Arc::from(pattern.as_str())));
    // Only a route without parameters, whose path is its pattern: paths with ids in
    // them would fill the table with one-off entries.
    if pattern == path {
        ROUTES.with_borrow_mut(|routes| {
            if routes.len() < MAX_CACHED_PATHS {
                routes.insert(Box::from(path), Rc::clone(&stats));
            }
        });
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_client_id_is_kept_and_anything_else_replaced() {
        let kept = |text: &str| request_id(Some(&HeaderValue::from_str(text).unwrap())).to_string();
        assert_eq!(kept("abc-123_x.y"), "abc-123_x.y");
        assert_eq!(kept(&"a".repeat(64)), "a".repeat(64));
        for bad in ["", "has space", "semi;colon", &"a".repeat(65), "ünï"] {
            let Ok(value) = HeaderValue::from_str(bad) else {
                continue;
            };
            let replaced = request_id(Some(&value));
            assert_ne!(&*replaced, bad);
            assert_eq!(replaced.len(), 32, "{replaced}");
        }
        assert_eq!(request_id(None).len(), 32);
    }
}
