//! `GET /events`: a device's events as a `text/event-stream` (docs/API.md, "Event
//! stream"), resumable with `Last-Event-ID`.
//!
//! The stored events table is the source of truth and the sink's broadcast only says
//! "something was committed": a stream subscribes first, then reads the store after its
//! resume point in pages, then takes live events whose `seq` follows the last one it
//! sent. A live event it cannot place (a hole in the sequence, or the broadcast reporting
//! that this stream lagged) sends it back to the store. So no event is lost or doubled at
//! the hand-over, and a slow client costs at most one page plus the broadcast's own
//! bounded buffer: actix polls the body only as fast as the socket drains.
//!
//! The framing is written here (a few lines) rather than taken from `actix-web-lab`'s
//! `sse` module: that crate's keep-alive comment is fixed to `: keep-alive`, and it would
//! bring some thirty direct dependencies to the host for what is three `format!` lines.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Interval, MissedTickBehavior};

use super::body;
use super::common::{caller_device, query_device_id};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::events::names;
use crate::send_path::blocking;
use crate::state::AppState;
use crate::store::{Store, StoreResult, StoredEvent};
use crate::tokens::Cached;

/// Stored events read per catch-up query.
const PAGE: usize = 256;
/// How often an idle (or busy) stream sends a comment, so proxies keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);
const KEEPALIVE_FRAME: &[u8] = b": keepalive\n\n";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::get().to(stream_events));
}

async fn stream_events(
    caller: Caller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let names = event_filter(body::query_param(&request, "events").as_deref())?;
    let last_event_id = last_event_id(&request);
    let device = caller_device(&state, caller.0, query_device_id(&request)).await?;

    // Subscribed before the store is read: whatever commits after this point reaches the
    // receiver, whatever committed before it is in the store.
    let live = state.events.subscribe();
    let store = Arc::clone(&state.store);
    let device_id = device.id.clone();
    let wanted_id = last_event_id.clone();
    let start = blocking(&state, move || {
        resume_point(store.as_ref(), &device_id, wanted_id.as_deref())
    })
    .await?
    .map_err(|error| ApiError::internal(format!("event lookup failed: {error}")))?;

    let mut feed = Feed {
        store: Arc::clone(&state.store),
        runtime: state.runtime.clone(),
        live,
        cursor: Cursor {
            device_id: device.id,
            last_seq: start.after_seq,
            names,
        },
        catching_up: start.catch_up,
        frames: VecDeque::new(),
        keepalive: keepalive_timer(),
        access: Some(Access {
            tokens: Arc::clone(&state.tokens),
            token: crate::auth::bearer_token(&request)
                .unwrap_or_default()
                .to_owned(),
        }),
    };
    if let (true, Some(id)) = (start.gap, last_event_id) {
        feed.frames.push_back(gap_frame(&id));
    }
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let frame = feed.next_frame().await?;
        Some((Ok::<_, Infallible>(frame), feed))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Tells nginx-style proxies not to buffer the stream.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

/// `events=a,b`: the names to send (`None`: all); an unknown name is refused.
fn event_filter(parameter: Option<&str>) -> Result<Option<HashSet<String>>, ApiError> {
    let Some(parameter) = parameter else {
        return Ok(None);
    };
    let mut names = HashSet::new();
    for name in parameter
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if !names::is_known(name) {
            return Err(wuts_plugin_api::PluginError::invalid_field(
                "events",
                format!("unknown event {name:?}; GET /webhook/events lists the names"),
                json!(parameter),
            )
            .into());
        }
        if name == "*" {
            return Ok(None);
        }
        names.insert(name.to_owned());
    }
    Ok((!names.is_empty()).then_some(names))
}

/// The `Last-Event-ID` header, else the `last_event_id` query parameter (browsers'
/// `EventSource` cannot set headers on its first request).
fn last_event_id(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| body::query_param(request, "last_event_id"))
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
}

/// Where a stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ResumePoint {
    /// The stream sends events with a greater `seq` only.
    after_seq: i64,
    /// Whether to read the store before waiting for live events.
    catch_up: bool,
    /// The given id is not retained (or never was): say so first.
    gap: bool,
}

fn resume_point(
    store: &dyn Store,
    device_id: &str,
    last_event_id: Option<&str>,
) -> StoreResult<ResumePoint> {
    Ok(match last_event_id {
        Some(id) => match store.event_seq(device_id, id)? {
            Some(seq) => ResumePoint {
                after_seq: seq,
                catch_up: true,
                gap: false,
            },
            // From the oldest retained event.
            None => ResumePoint {
                after_seq: 0,
                catch_up: true,
                gap: true,
            },
        },
        // New events only: everything after the newest stored one. Read through the store
        // too, since one may commit between the subscription and this lookup.
        None => ResumePoint {
            after_seq: latest_seq(store, device_id)?,
            catch_up: true,
            gap: false,
        },
    })
}

/// The device's newest stored `seq` (0 for none).
fn latest_seq(store: &dyn Store, device_id: &str) -> StoreResult<i64> {
    store.latest_event_seq(device_id)
}

/// What a stream has sent so far, and which events it wants.
#[derive(Debug)]
struct Cursor {
    device_id: String,
    /// The last `seq` passed (sent, or filtered out).
    last_seq: i64,
    /// `None`: every event.
    names: Option<HashSet<String>>,
}

/// What to do with a live event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Live {
    Send,
    Skip,
    /// It does not follow the last one: read the store from the last one instead.
    CatchUp,
}

impl Cursor {
    fn take_live(&mut self, event: &StoredEvent) -> Live {
        if event.device_id != self.device_id || event.seq <= self.last_seq {
            return Live::Skip;
        }
        if event.seq != self.last_seq + 1 {
            return Live::CatchUp;
        }
        self.last_seq = event.seq;
        if self.wants(&event.name) {
            Live::Send
        } else {
            Live::Skip
        }
    }

    /// Whether to send an event read from the store (the device's, in `seq` order).
    fn take_stored(&mut self, event: &StoredEvent) -> bool {
        if event.seq <= self.last_seq {
            return false;
        }
        self.last_seq = event.seq;
        self.wants(&event.name)
    }

    fn wants(&self, name: &str) -> bool {
        self.names.as_ref().is_none_or(|names| names.contains(name))
    }
}

/// One open stream.
struct Feed {
    store: Arc<dyn Store>,
    /// The host's runtime, whose blocking pool reads the store.
    runtime: tokio::runtime::Handle,
    live: broadcast::Receiver<Arc<StoredEvent>>,
    cursor: Cursor,
    catching_up: bool,
    /// Frames ready to send: at most one page of events (and the gap notice).
    frames: VecDeque<Bytes>,
    keepalive: Interval,
    /// How the stream's caller is checked again at every keepalive (`None`: never, in
    /// the unit tests below).
    access: Option<Access>,
}

/// The token a stream was opened with. A stream lives for hours: at each keepalive the
/// token must still be good (not rotated, its user not deactivated or deleted) and the
/// device still the caller's (not deleted), or the stream ends.
struct Access {
    tokens: Arc<crate::tokens::TokenCache>,
    token: String,
}

impl Feed {
    /// Whether the caller may still read this device's events. A store that fails to
    /// answer keeps the stream (the next keepalive asks again).
    async fn still_allowed(&self) -> bool {
        let Some(access) = &self.access else {
            return true;
        };
        let tokens = Arc::clone(&access.tokens);
        let token = access.token.clone();
        let store = Arc::clone(&self.store);
        let device_id = self.cursor.device_id.clone();
        self.runtime
            .spawn_blocking(move || {
                let principal = match tokens.cached(&token) {
                    Cached::Known(principal) => principal,
                    Cached::Unknown => return false,
                    Cached::Miss => match tokens.verify(store.as_ref(), &token) {
                        Ok(Some(principal)) => principal,
                        Ok(None) => return false,
                        Err(_) => return true,
                    },
                };
                !matches!(store.find_device(&principal, Some(&device_id)), Ok(None))
            })
            .await
            .unwrap_or(true)
    }

    /// The next bytes to send; `None` ends the stream.
    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = self.frames.pop_front() {
                return Some(frame);
            }
            if self.catching_up {
                self.read_page().await?;
                continue;
            }
            tokio::select! {
                received = self.live.recv() => match received {
                    Ok(event) => match self.cursor.take_live(&event) {
                        Live::Send => return Some(event_frame(&event)),
                        Live::Skip => {}
                        Live::CatchUp => self.catching_up = true,
                    },
                    Err(RecvError::Lagged(_)) => self.catching_up = true,
                    // The sink is gone: the server is stopping.
                    Err(RecvError::Closed) => return None,
                },
                _ = self.keepalive.tick() => {
                    if !self.still_allowed().await {
                        return None;
                    }
                    return Some(Bytes::from_static(KEEPALIVE_FRAME));
                }
            }
        }
    }

    /// Reads the next page after the cursor into `frames`; `None` when the store fails
    /// (the stream ends, and the client resumes with its Last-Event-ID).
    async fn read_page(&mut self) -> Option<()> {
        let store = Arc::clone(&self.store);
        let device_id = self.cursor.device_id.clone();
        let after = self.cursor.last_seq;
        let page = self
            .runtime
            .spawn_blocking(move || store.events_after(&device_id, after, PAGE))
            .await;
        let page = match page {
            Ok(Ok(page)) => page,
            Ok(Err(error)) => {
                tracing::error!(%error, device_id = %self.cursor.device_id, "event stream: store read failed");
                return None;
            }
            Err(error) => {
                tracing::error!(%error, "event stream: store read task failed");
                return None;
            }
        };
        self.catching_up = page.len() == PAGE;
        for event in &page {
            if self.cursor.take_stored(event) {
                self.frames.push_back(event_frame(event));
            }
        }
        Some(())
    }
}

fn keepalive_timer() -> Interval {
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    timer
}

/// `id:`, `event:`, `data:` lines and a blank line. The envelope is compact JSON; a line
/// break in it would still be framed correctly, one `data:` line each.
fn event_frame(event: &StoredEvent) -> Bytes {
    let mut frame = format!("id: {}\nevent: {}\n", event.id, event.name);
    for line in event.envelope.split('\n') {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    Bytes::from(frame)
}

/// Sent first when the `Last-Event-ID` is no longer retained. No `id:` line, so the
/// client's last id stays as it was until the first real event.
fn gap_frame(last_event_id: &str) -> Bytes {
    let data = json!({ "last_event_id": last_event_id });
    Bytes::from(format!("event: gap\ndata: {data}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventScope, EventSink};
    use crate::store::{Role, SqliteStore, UserRecord};

    fn stored(device: &str, seq: i64, name: &str) -> StoredEvent {
        StoredEvent {
            queued_delivery: false,
            id: format!("evt_{seq}"),
            device_id: device.into(),
            tenant_id: "t".into(),
            user_id: "u".into(),
            seq,
            name: name.into(),
            timestamp: 0,
            envelope: format!("{{\"seq\":{seq}}}"),
        }
    }

    fn cursor(last_seq: i64, names: Option<&[&str]>) -> Cursor {
        Cursor {
            device_id: "d".into(),
            last_seq,
            names: names.map(|names| names.iter().map(|n| (*n).to_owned()).collect()),
        }
    }

    #[test]
    fn live_events_are_sent_only_when_they_follow_the_last_one() {
        let mut cursor = cursor(5, None);
        assert_eq!(
            cursor.take_live(&stored("d", 4, "message.sent")),
            Live::Skip
        );
        assert_eq!(
            cursor.take_live(&stored("d", 5, "message.sent")),
            Live::Skip
        );
        assert_eq!(
            cursor.take_live(&stored("other", 6, "message.sent")),
            Live::Skip
        );
        assert_eq!(
            cursor.take_live(&stored("d", 6, "message.sent")),
            Live::Send
        );
        assert_eq!(cursor.last_seq, 6);
        assert_eq!(
            cursor.take_live(&stored("d", 8, "message.sent")),
            Live::CatchUp
        );
        assert_eq!(cursor.last_seq, 6, "a hole leaves the cursor where it was");
    }

    #[test]
    fn stored_events_advance_the_cursor_and_filtered_ones_are_passed_over() {
        let mut cursor = cursor(1, Some(&["message.read"]));
        assert!(
            !cursor.take_stored(&stored("d", 1, "message.read")),
            "sent already"
        );
        assert!(
            !cursor.take_stored(&stored("d", 2, "message.sent")),
            "filtered"
        );
        assert!(cursor.take_stored(&stored("d", 3, "message.read")));
        assert_eq!(cursor.last_seq, 3);
        assert_eq!(
            cursor.take_live(&stored("d", 4, "message.sent")),
            Live::Skip,
            "filtered, yet passed"
        );
        assert_eq!(cursor.last_seq, 4);
    }

    #[test]
    fn the_filter_takes_known_names_and_refuses_others_by_field() {
        assert_eq!(event_filter(None).unwrap(), None);
        assert_eq!(event_filter(Some("")).unwrap(), None);
        assert_eq!(event_filter(Some("message.sent,*")).unwrap(), None);
        let names = event_filter(Some("message.sent, message.read"))
            .unwrap()
            .unwrap();
        assert!(names.contains("message.sent") && names.contains("message.read"));
        let error = event_filter(Some("message.sent,nope")).unwrap_err();
        assert_eq!(error.status, 400);
        assert!(error.message.starts_with("events: "), "{}", error.message);
        assert_eq!(error.validation[0].field, "events");
    }

    #[test]
    fn frames_are_server_sent_events() {
        let event = stored("d", 7, "message.sent");
        assert_eq!(
            event_frame(&event),
            "id: evt_7\nevent: message.sent\ndata: {\"seq\":7}\n\n"
        );
        let two_lines = StoredEvent {
            envelope: "{\n}".into(),
            ..event
        };
        assert_eq!(
            event_frame(&two_lines),
            "id: evt_7\nevent: message.sent\ndata: {\ndata: }\n\n"
        );
        assert_eq!(
            gap_frame("evt_gone"),
            "event: gap\ndata: {\"last_event_id\":\"evt_gone\"}\n\n"
        );
    }

    struct Fixture {
        dir: std::path::PathBuf,
        store: Arc<dyn Store>,
        sink: EventSink,
        user: UserRecord,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = std::env::temp_dir().join(format!("wuts-stream-{}", uuid::Uuid::new_v4()));
            let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("wuts.db")).unwrap());
            let user = store
                .create_user("acme", "alice", Role::User, "lookup", b"hash")
                .unwrap();
            let sink = EventSink::start(Arc::clone(&store)).unwrap();
            Fixture {
                dir,
                store,
                sink,
                user,
            }
        }

        fn emit(&self, count: usize) {
            let scope = EventScope {
                device_id: &self.user.default_device_id,
                tenant_id: &self.user.tenant,
                user_id: &self.user.user_id,
            };
            for _ in 0..count {
                self.sink.emit(scope, "message.sent", json!({}));
            }
            self.sink.flush();
        }

        fn feed(&self, start: ResumePoint) -> Feed {
            Feed {
                store: Arc::clone(&self.store),
                runtime: tokio::runtime::Handle::current(),
                live: self.sink.subscribe(),
                cursor: Cursor {
                    device_id: self.user.default_device_id.clone(),
                    last_seq: start.after_seq,
                    names: None,
                },
                catching_up: start.catch_up,
                frames: VecDeque::new(),
                keepalive: keepalive_timer(),
                access: None,
            }
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn seq_of(frame: &Bytes) -> i64 {
        let text = std::str::from_utf8(frame).unwrap();
        let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        serde_json::from_str::<serde_json::Value>(data).unwrap()["seq"]
            .as_i64()
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_newest_seq_is_found_with_events_after_alone() {
        let fixture = Fixture::new();
        let device = fixture.user.default_device_id.clone();
        assert_eq!(latest_seq(fixture.store.as_ref(), &device).unwrap(), 0);
        let mut total = 0;
        for batch in [1, 1, 3, 11, 300] {
            fixture.emit(batch);
            total += batch as i64;
            assert_eq!(latest_seq(fixture.store.as_ref(), &device).unwrap(), total);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn catch_up_hands_over_to_live_events_without_loss_or_doubles() {
        let fixture = Fixture::new();
        fixture.emit(600);
        // Subscribed before more commit: the feed's receiver holds 601..=610 as well,
        // which the store catch-up also returns.
        let mut feed = fixture.feed(ResumePoint {
            after_seq: 0,
            catch_up: true,
            gap: false,
        });
        fixture.emit(10);
        let mut seen = Vec::new();
        while seen.len() < 610 {
            let frame = tokio::time::timeout(Duration::from_secs(5), feed.next_frame())
                .await
                .unwrap()
                .unwrap();
            seen.push(seq_of(&frame));
        }
        fixture.emit(2);
        for _ in 0..2 {
            let frame = tokio::time::timeout(Duration::from_secs(5), feed.next_frame())
                .await
                .unwrap()
                .unwrap();
            seen.push(seq_of(&frame));
        }
        assert_eq!(seen, (1..=612).collect::<Vec<_>>());
        assert!(
            tokio::time::timeout(Duration::from_millis(100), feed.next_frame())
                .await
                .is_err(),
            "nothing more"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lagging_stream_catches_up_from_the_store() {
        let fixture = Fixture::new();
        let mut feed = fixture.feed(ResumePoint {
            after_seq: 0,
            catch_up: false,
            gap: false,
        });
        // More than the broadcast holds: the receiver lags.
        fixture.emit(5000);
        let mut seen = Vec::new();
        while seen.len() < 5000 {
            let frame = tokio::time::timeout(Duration::from_secs(5), feed.next_frame())
                .await
                .unwrap()
                .unwrap();
            seen.push(seq_of(&frame));
        }
        assert_eq!(seen, (1..=5000).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn resume_points_follow_the_last_event_id() {
        let fixture = Fixture::new();
        fixture.emit(3);
        let device = &fixture.user.default_device_id;
        let events = fixture.store.events_after(device, 0, 10).unwrap();
        let store = fixture.store.as_ref();
        assert_eq!(
            resume_point(store, device, Some(&events[1].id)).unwrap(),
            ResumePoint {
                after_seq: 2,
                catch_up: true,
                gap: false
            }
        );
        assert_eq!(
            resume_point(store, device, Some("evt_unknown")).unwrap(),
            ResumePoint {
                after_seq: 0,
                catch_up: true,
                gap: true
            }
        );
        assert!(
            resume_point(store, "other-device", Some(&events[1].id))
                .unwrap()
                .gap,
            "another device's event id is not this device's"
        );
        assert_eq!(resume_point(store, device, None).unwrap().after_seq, 3);
    }
}
