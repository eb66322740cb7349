//! An offline WhatsApp server for tests: the real `whatsapp-rust` 0.7.0 client connects to
//! it over a loopback WebSocket, logs in (or shows a pairing QR code), sends, uploads
//! media, and receives; every message it sends is decrypted back for assertions.
//!
//! It also writes to the client as other users would: messages from any sender, named by
//! phone number or by LID, directly or in a group ([`FakeWhatsApp::push_inbound_with`]),
//! media hosted on its media listener ([`FakeWhatsApp::push_inbound_media`]), and
//! delivery and read receipts ([`FakeWhatsApp::push_receipt`]).
//!
//! ```no_run
//! # async fn demo() {
//! let server = wuts_wa_server::FakeWhatsApp::start().await.unwrap();
//! // Point the driver at it: `[session] socket_url = server.socket_url()`,
//! // `media_base_url = server.media_base_url()`, `client_version = "2.3000.1"`.
//! let sent = server.wait_for_messages(1, std::time::Duration::from_secs(10)).await;
//! # }
//! ```
//!
//! The client must be built with `whatsapp-rust`'s `danger-skip-cert-chain-verify`, which
//! only the separate workspace tests/offline turns on (its Cargo.toml says why): the
//! project's own `wuts` refuses this server's chain (tests/e2e/certificate.rs).
//! Everything listens on 127.0.0.1 only.

pub mod connection;
pub mod hosted;
pub mod inbound;
pub mod iq;
pub mod keys;
pub mod media;
pub mod messages;
pub mod noise;
pub mod peers;
pub mod receipts;
pub mod seed;
pub mod stanza;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use whatsapp_rust::Jid;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::node::Node;
use whatsapp_rust::waproto::whatsapp as wa;

pub use hosted::{HostedMedia, InboundMediaKind};
pub use inbound::InboundOptions;
pub use messages::ReceivedMessage;
pub use noise::Pattern;
pub use receipts::ReceiptKind;
pub use seed::{SeededDevice, seed_backend, seed_sqlite};
pub use whatsapp_rust;

use crate::keys::KeyDirectory;
use crate::media::Upload;
use crate::noise::ServerIdentity;
use crate::peers::{Peer, Peers};
use crate::stanza::unix_now;

/// A version to configure the client with, so it never fetches one from the internet.
pub const CLIENT_VERSION: (u32, u32, u32) = (2, 3000, 1_027_934_701);

/// How the server acknowledges the client's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckPolicy {
    /// False: no ack at all (the sender waits until its timeout).
    pub send: bool,
    pub delay: Duration,
    /// The ack's `error` attribute, e.g. `479`.
    pub error: Option<String>,
}

impl Default for AckPolicy {
    fn default() -> Self {
        AckPolicy {
            send: true,
            delay: Duration::ZERO,
            error: None,
        }
    }
}

/// One handshake the server completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub pattern: Pattern,
    /// The device that logged in, `phone:device@s.whatsapp.net`; `None` for an
    /// unpaired device (which was sent pairing refs).
    pub jid: Option<String>,
}

pub(crate) enum Command {
    Send(Node),
    Close,
}

#[derive(Default)]
struct State {
    ack: AckPolicy,
    accepting: bool,
    received: Vec<ReceivedMessage>,
    uploads: Vec<Upload>,
    connections: Vec<ConnectionRecord>,
    live: HashMap<u64, (Option<String>, mpsc::UnboundedSender<Command>)>,
    groups: HashMap<String, Vec<String>>,
    log: Vec<String>,
    /// Every stanza pushed to the client, in order.
    pushed: Vec<Node>,
    /// Pushed messages that opened a session (`pkmsg`), by id, until the client's
    /// receipt for them: the sending peer and the client's device.
    unacknowledged: HashMap<String, (Arc<Peer>, Jid)>,
    /// Every `<receipt>` the client sent, in order.
    client_receipts: Vec<Node>,
    /// Encrypted media served by direct path.
    hosted: HashMap<String, Vec<u8>>,
}

/// What every connection task shares.
pub struct Shared {
    identity: ServerIdentity,
    state: Mutex<State>,
    peers: Mutex<Peers>,
    keys: Mutex<KeyDirectory>,
    changed: Notify,
    next_id: AtomicU64,
    trace: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn peer(&self, jid: &Jid) -> Arc<Peer> {
        self.peers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(jid)
    }

    /// The peer for `jid`, the same one as for `alias` (its other identity) when given.
    pub(crate) fn linked_peer(&self, jid: &Jid, alias: Option<&Jid>) -> Arc<Peer> {
        let mut peers = self
            .peers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match alias {
            Some(alias) => peers.get_linked(jid, alias),
            None => peers.get(jid),
        }
    }

    pub(crate) fn keys(&self) -> MutexGuard<'_, KeyDirectory> {
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes whoever waits for a client's keys.
    pub(crate) fn keys_changed(&self) {
        self.changed.notify_waiters();
    }

    /// The device JID of a logged-in client and its connection's outbox.
    pub(crate) fn logged_in_client(&self) -> Result<(Jid, mpsc::UnboundedSender<Command>), String> {
        let state = self.state();
        let (jid, commands) = state
            .live
            .values()
            .find_map(|(jid, commands)| Some((jid.clone()?, commands.clone())))
            .ok_or("no logged-in client is connected")?;
        let jid = jid
            .parse()
            .map_err(|error| format!("client JID {jid}: {error}"))?;
        Ok((jid, commands))
    }

    /// A fresh message id in the client's own style.
    pub(crate) fn next_message_id(&self) -> String {
        format!(
            "3EB0FAKE{:012X}",
            self.next_id.fetch_add(1, Ordering::SeqCst)
        )
    }

    /// Records a stanza pushed to the client; `opened` names a `pkmsg` to acknowledge.
    pub(crate) fn pushed(&self, stanza: Node, opened: Option<(String, Arc<Peer>, Jid)>) {
        let mut state = self.state();
        state.pushed.push(stanza);
        if let Some((id, peer, client)) = opened {
            state.unacknowledged.insert(id, (peer, client));
        }
    }

    pub(crate) fn take_unacknowledged(&self, id: &str) -> Option<(Arc<Peer>, Jid)> {
        self.state().unacknowledged.remove(id)
    }

    pub(crate) fn client_receipt(&self, receipt: Node) {
        self.state().client_receipts.push(receipt);
        self.changed.notify_waiters();
    }

    pub(crate) fn host_media(&self, direct_path: String, encrypted: Vec<u8>) {
        self.state().hosted.insert(direct_path, encrypted);
    }

    pub(crate) fn hosted_media(&self, direct_path: &str) -> Option<Vec<u8>> {
        self.state().hosted.get(direct_path).cloned()
    }

    pub(crate) fn log(&self, line: String) {
        if self.trace {
            eprintln!("[wa-server] {line}");
        }
        let mut state = self.state();
        if state.log.len() < 10_000 {
            state.log.push(line);
        }
    }

    fn connected(&self, record: ConnectionRecord, commands: mpsc::UnboundedSender<Command>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state();
        state.live.insert(id, (record.jid.clone(), commands));
        state.connections.push(record);
        drop(state);
        self.changed.notify_waiters();
        id
    }

    fn disconnected(&self, id: u64) {
        self.state().live.remove(&id);
        self.changed.notify_waiters();
    }

    fn record(&self, message: ReceivedMessage) {
        self.state().received.push(message);
        self.changed.notify_waiters();
    }

    fn uploaded(&self, upload: Upload) {
        self.state().uploads.push(upload);
        self.changed.notify_waiters();
    }

    fn group_members(&self, group: &str) -> Option<Vec<String>> {
        self.state().groups.get(group).cloned()
    }

    /// Acks message `id` sent to `to` as the policy says, on the connection it came from.
    fn schedule_ack(&self, commands: &mpsc::UnboundedSender<Command>, id: &str, to: &str) {
        let policy = self.state().ack.clone();
        if !policy.send {
            return;
        }
        let mut ack = NodeBuilder::new("ack")
            .attr("class", "message")
            .attr("id", id.to_owned())
            .attr("from", to.to_owned())
            .attr("t", unix_now().to_string());
        if let Some(error) = policy.error {
            ack = ack.attr("error", error);
        }
        let ack = ack.build();
        if policy.delay.is_zero() {
            let _ = commands.send(Command::Send(ack));
        } else {
            let commands = commands.clone();
            tokio::spawn(async move {
                tokio::time::sleep(policy.delay).await;
                let _ = commands.send(Command::Send(ack));
            });
        }
    }

    fn pair_device_iq(&self) -> Node {
        let refs = (0..6).map(|index| {
            NodeBuilder::new("ref")
                .bytes(format!(
                    "2@fake-ref-{index}-{}",
                    self.next_id.fetch_add(1, Ordering::SeqCst)
                ))
                .build()
        });
        NodeBuilder::new("iq")
            .attr("from", "s.whatsapp.net")
            .attr("type", "set")
            .attr(
                "id",
                format!("pair-{}", self.next_id.fetch_add(1, Ordering::SeqCst)),
            )
            .attr("xmlns", "md")
            .children([NodeBuilder::new("pair-device").children(refs).build()])
            .build()
    }
}

/// A running server. Dropping it stops the listeners; open connections end with them.
pub struct FakeWhatsApp {
    shared: Arc<Shared>,
    socket: SocketAddr,
    media: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl FakeWhatsApp {
    /// Binds the WebSocket and media listeners on 127.0.0.1 (free ports) and serves on the
    /// current tokio runtime. `WA_SERVER_TRACE=1` prints every stanza to stderr.
    pub async fn start() -> std::io::Result<Self> {
        let socket_listener = TcpListener::bind("127.0.0.1:0").await?;
        let media_listener = TcpListener::bind("127.0.0.1:0").await?;
        let shared = Arc::new(Shared {
            identity: ServerIdentity::generate(),
            state: Mutex::new(State {
                accepting: true,
                ..State::default()
            }),
            peers: Mutex::new(Peers::default()),
            keys: Mutex::new(KeyDirectory::default()),
            changed: Notify::new(),
            next_id: AtomicU64::new(1),
            trace: std::env::var_os("WA_SERVER_TRACE").is_some_and(|value| value != "0"),
        });
        let socket = socket_listener.local_addr()?;
        let media = media_listener.local_addr()?;
        let accepting = Arc::clone(&shared);
        let socket_task = tokio::spawn(async move {
            while let Ok((stream, _)) = socket_listener.accept().await {
                if !accepting.state().accepting {
                    drop(stream);
                    continue;
                }
                tokio::spawn(connection::serve(Arc::clone(&accepting), stream));
            }
        });
        let media_task = tokio::spawn(media::listen(Arc::clone(&shared), media_listener));
        Ok(FakeWhatsApp {
            shared,
            socket,
            media,
            tasks: vec![socket_task, media_task],
        })
    }

    /// `ws://127.0.0.1:PORT/ws/chat`: the driver's `socket_url`.
    pub fn socket_url(&self) -> String {
        format!("ws://{}/ws/chat", self.socket)
    }

    /// `http://127.0.0.1:PORT`: the driver's `media_base_url`.
    pub fn media_base_url(&self) -> String {
        format!("http://{}", self.media)
    }

    /// Acks every later message like this (default: at once, no error).
    pub fn set_ack(&self, delay: Duration, error: Option<&str>) {
        self.shared.state().ack = AckPolicy {
            send: true,
            delay,
            error: error.map(str::to_owned),
        };
    }

    /// Sends no ack for later messages.
    pub fn set_no_ack(&self) {
        self.shared.state().ack.send = false;
    }

    /// Whether new sockets are served (false: accepted and closed at once, like a server
    /// that is down). Open connections are not affected; see [`Self::drop_connections`].
    pub fn set_accepting(&self, accepting: bool) {
        self.shared.state().accepting = accepting;
    }

    /// Cuts every open connection without a close frame, like a lost network.
    pub fn drop_connections(&self) {
        for (_, (_, commands)) in self.shared.state().live.iter() {
            let _ = commands.send(Command::Close);
        }
    }

    /// Makes `group` (`…@g.us`) known with these members (phone-number JIDs); the client's
    /// own account is added as admin.
    pub fn add_group(&self, group: &str, members: &[&str]) {
        self.shared.state().groups.insert(
            group.to_owned(),
            members.iter().map(|m| (*m).to_owned()).collect(),
        );
    }

    /// Every `<message>` received so far, in order.
    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.shared.state().received.clone()
    }

    /// Every handshake so far, in order.
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.shared.state().connections.clone()
    }

    /// How many connections are open now.
    pub fn live_connections(&self) -> usize {
        self.shared.state().live.len()
    }

    /// The server's log: handshakes, every stanza received, media requests.
    pub fn log(&self) -> Vec<String> {
        self.shared.state().log.clone()
    }

    /// The decrypted media a received message refers to (uploaded through the media host).
    pub fn media_of(&self, message: &wa::Message) -> Result<Vec<u8>, String> {
        media::decrypt_for(&self.shared.state().uploads, message)
    }

    /// How many uploads arrived.
    pub fn upload_count(&self) -> usize {
        self.shared.state().uploads.len()
    }

    /// Waits until `check` holds for the server's state, or `timeout` passes.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&FakeWhatsApp) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            if check(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // Also re-checks on a short tick: not every change notifies.
            let _ = tokio::time::timeout((deadline - now).min(Duration::from_millis(50)), notified)
                .await;
        }
    }

    /// Waits for at least `count` messages; returns them all (fewer on timeout).
    pub async fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        self.wait_until(timeout, |server| {
            server.shared.state().received.len() >= count
        })
        .await;
        self.received()
    }

    /// Blocking version of [`Self::wait_until`] for synchronous tests (polls every 10 ms).
    pub fn wait_until_blocking(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&FakeWhatsApp) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if check(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `message` to the logged-in client as from `from`, a phone-number JID, with
    /// the push name "Fake peer": [`Self::push_inbound_with`] with only those set.
    /// Returns the message id.
    pub async fn push_inbound(&self, from: &str, message: &wa::Message) -> Result<String, String> {
        let options = InboundOptions::new(from).push_name("Fake peer");
        self.push_inbound_with(&options, message).await
    }

    /// Sends `message` to the logged-in client as WhatsApp's server relays another
    /// user's message: a `<message>` whose `from`, `participant`, `sender_pn` /
    /// `sender_lid`, `participant_pn` / `participant_lid`, `addressing_mode` and `notify`
    /// say who sent it as `options` describe (see `src/inbound.rs` for which attribute
    /// carries what), so the client's `MessageInfo` shows that sender, its other
    /// identity, chat, group participant and push name. The content is encrypted by the
    /// sender's simulated device: over its session with the client (`msg`), or, for a
    /// sender the client never wrote to, a session it opens from the prekeys the client
    /// uploaded at login (`pkmsg`, until the client's delivery receipt; see
    /// `src/keys.rs`, `src/peers.rs`). In a group the content is a sender-key message,
    /// the sender key going to the client first. Returns the message id.
    pub async fn push_inbound_with(
        &self,
        options: &InboundOptions,
        message: &wa::Message,
    ) -> Result<String, String> {
        inbound::push(&self.shared, options, message).await
    }

    /// Encrypts `bytes` as WhatsApp media of `kind` (a fresh media key, AES-CBC and a
    /// truncated HMAC; `src/hosted.rs`), serves the result on the media listener at a
    /// direct path of its own, and pushes as [`Self::push_inbound_with`] does a message
    /// whose `kind` field carries url, direct path, media key, both hashes, length,
    /// `mimetype` and `caption` (audio has none): downloading that message's media with
    /// the client returns `bytes`. Returns the message id.
    pub async fn push_inbound_media(
        &self,
        options: &InboundOptions,
        kind: InboundMediaKind,
        bytes: &[u8],
        mimetype: &str,
        caption: Option<&str>,
    ) -> Result<String, String> {
        let media = hosted::host(&self.shared, kind, bytes)?;
        let message = hosted::media_message(kind, &media, mimetype, caption);
        self.push_inbound_with(options, &message).await
    }

    /// Sends the logged-in client the `<receipt>` that `from` (the recipient of messages
    /// the client sent) produces when they reach its phone or are read: the client turns
    /// it into one `Receipt` event naming every id (`src/receipts.rs`).
    pub fn push_receipt(&self, from: &str, ids: &[&str], kind: ReceiptKind) -> Result<(), String> {
        let receipt = receipts::stanza(from, ids, kind)?;
        let (_, commands) = self.shared.logged_in_client()?;
        self.shared.pushed(receipt.clone(), None);
        commands
            .send(Command::Send(receipt))
            .map_err(|_| "the client's connection closed".to_owned())
    }

    /// Every stanza pushed to the client ([`Self::push_inbound_with`],
    /// [`Self::push_receipt`]), in order.
    pub fn pushed(&self) -> Vec<Node> {
        self.shared.state().pushed.clone()
    }

    /// Every `<receipt>` the client sent (for messages pushed to it), in order.
    pub fn client_receipts(&self) -> Vec<Node> {
        self.shared.state().client_receipts.clone()
    }
}

impl Drop for FakeWhatsApp {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.drop_connections();
    }
}

/// The server on a runtime of its own, for synchronous tests (the end-to-end suite).
/// Dereferences to [`FakeWhatsApp`].
pub struct BackgroundServer {
    server: Option<FakeWhatsApp>,
    runtime: tokio::runtime::Runtime,
}

impl BackgroundServer {
    /// Starts the server on a new two-thread runtime.
    pub fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-whatsapp")
            .enable_all()
            .build()?;
        let server = runtime.block_on(FakeWhatsApp::start())?;
        Ok(BackgroundServer {
            server: Some(server),
            runtime,
        })
    }

    /// Runs `work` (e.g. [`seed_sqlite`], [`FakeWhatsApp::push_inbound`]) on the server's runtime.
    pub fn block_on<F: std::future::Future>(&self, work: F) -> F::Output {
        self.runtime.block_on(work)
    }
}

impl std::ops::Deref for BackgroundServer {
    type Target = FakeWhatsApp;

    fn deref(&self) -> &FakeWhatsApp {
        self.server
            .as_ref()
            .unwrap_or_else(|| unreachable!("the server lives until drop"))
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        let _entered = self.runtime.enter();
        drop(self.server.take());
    }
}
