//! One client connection: the WebSocket upgrade, the Noise handshake, login or pairing,
//! then every stanza in and out until either side closes it.
//!
//! The client's first write is the connection header and a framed ClientHello
//! (`whatsapp-rust` `src/handshake.rs:360-375`); after the handshake the server speaks
//! first (`<success>`, then `<ib><offline>`; `src/client/node_io.rs:917`, `:1147`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_websockets::{Message, ServerBuilder};
use whatsapp_rust::Jid;
use whatsapp_rust::wacore::noise::framing::FrameDecoder;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::node::Node;

use crate::noise::{self, Channel, Responded};
use crate::stanza::{attr, render, unix_now};
use crate::{Command, ConnectionRecord, Shared, messages};

/// The longest a handshake step may take before the server gives up on the socket.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve(shared: Arc<Shared>, tcp: TcpStream) {
    if let Err(error) = run(&shared, tcp).await {
        shared.log(format!("connection ended: {error}"));
    }
}

async fn run(shared: &Arc<Shared>, tcp: TcpStream) -> Result<(), String> {
    let _ = tcp.set_nodelay(true);
    let (_request, socket) =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, ServerBuilder::new().accept(tcp))
            .await
            .map_err(|_| "WebSocket upgrade timed out".to_owned())?
            .map_err(|error| format!("WebSocket upgrade: {error}"))?;
    let (mut sink, mut stream) = socket.split();

    // The intro and the ClientHello, possibly over several WebSocket messages.
    let mut intro = Vec::new();
    let mut frames = FrameDecoder::new();
    loop {
        intro.extend_from_slice(&next_binary(&mut stream).await?);
        if let Some(skip) = noise::strip_intro(&intro)? {
            frames.feed(&intro[skip..]);
            break;
        }
    }
    let hello = loop {
        if let Some(frame) = frames.decode_frame() {
            break frame.to_vec();
        }
        frames.feed(&next_binary(&mut stream).await?);
    };
    let established = match noise::respond_to_hello(&shared.identity, &hello)? {
        Responded::Ik(established, reply) => {
            send_raw(&mut sink, noise::frame(&reply)).await?;
            *established
        }
        Responded::Xx(pending, reply) => {
            send_raw(&mut sink, noise::frame(&reply)).await?;
            let finish = loop {
                if let Some(frame) = frames.decode_frame() {
                    break frame.to_vec();
                }
                let bytes = next_binary(&mut stream).await?;
                frames.feed(&bytes);
            };
            pending.finish(&finish)?
        }
    };
    let pattern = established.pattern;
    let me = established.payload.username.map(|user| {
        format!(
            "{user}:{}@s.whatsapp.net",
            established.payload.device.unwrap_or(0)
        )
    });
    let mut channel = Channel::new(established, frames);
    let (commands, mut receiver) = mpsc::unbounded_channel();
    let id = shared.connected(
        ConnectionRecord {
            pattern,
            jid: me.clone(),
        },
        commands.clone(),
    );
    shared.log(format!(
        "connection {id}: {pattern:?} handshake, device {me:?}"
    ));

    let result = async {
        let me: Option<Jid> = me.as_deref().and_then(|jid| jid.parse().ok());
        match &me {
            Some(_) => {
                for node in login_stanzas() {
                    send_node(&mut sink, &mut channel, &node).await?;
                }
            }
            None => send_node(&mut sink, &mut channel, &shared.pair_device_iq()).await?,
        }
        loop {
            // Whole nodes already buffered first.
            while let Some(node) = channel.next_node()? {
                shared.log(format!("connection {id} <- {}", render(&node)));
                for reply in handle(shared, me.as_ref(), &commands, node).await {
                    send_node(&mut sink, &mut channel, &reply).await?;
                }
            }
            tokio::select! {
                incoming = stream.next() => match incoming {
                    Some(Ok(message)) if message.is_binary() => channel.feed(&message.into_payload()),
                    Some(Ok(message)) if message.is_close() => return Ok(()),
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(format!("read: {error}")),
                    None => return Ok(()),
                },
                command = receiver.recv() => match command {
                    Some(Command::Send(node)) => send_node(&mut sink, &mut channel, &node).await?,
                    // Dropped without a close frame, like a lost network.
                    Some(Command::Close) | None => return Ok(()),
                },
            }
        }
    }
    .await;
    shared.disconnected(id);
    result
}

/// The LID every logged-in account is told it has.
pub const OWN_LID: &str = "100000000000001@lid";

/// `<success>` and an empty offline queue: what the client waits for before `Connected`.
fn login_stanzas() -> Vec<Node> {
    vec![
        NodeBuilder::new("success")
            .attr("t", unix_now().to_string())
            // The account's LID: the client refuses group sends without one.
            .attr("lid", OWN_LID)
            .attr("props", "1")
            .attr("location", "fake")
            .build(),
        NodeBuilder::new("ib")
            .children([NodeBuilder::new("offline").attr("count", "0").build()])
            .build(),
    ]
}

/// What the server answers to one stanza from the client.
async fn handle(
    shared: &Arc<Shared>,
    me: Option<&Jid>,
    commands: &mpsc::UnboundedSender<Command>,
    node: Node,
) -> Vec<Node> {
    let Some(me) = me else {
        return Vec::new();
    };
    match node.tag.as_ref() {
        "iq" => crate::iq::answer(shared, me, &node)
            .await
            .into_iter()
            .collect(),
        "message" => {
            let id = attr(&node, "id").unwrap_or_default();
            let to = attr(&node, "to").unwrap_or_default();
            let received = messages::receive(shared, me, node).await;
            shared.record(received);
            shared.schedule_ack(commands, &id, &to);
            Vec::new()
        }
        "receipt" => {
            crate::receipts::from_client(shared, node).await;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

async fn next_binary<S>(stream: &mut S) -> Result<Vec<u8>, String>
where
    S: futures_util::Stream<Item = Result<Message, tokio_websockets::Error>> + Unpin,
{
    loop {
        let next = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.next())
            .await
            .map_err(|_| "handshake timed out".to_owned())?;
        match next {
            Some(Ok(message)) if message.is_binary() => return Ok(message.into_payload().to_vec()),
            Some(Ok(message)) if message.is_close() => {
                return Err("closed during the handshake".into());
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(format!("read: {error}")),
            None => return Err("closed during the handshake".into()),
        }
    }
}

async fn send_raw<S>(sink: &mut S, bytes: Vec<u8>) -> Result<(), String>
where
    S: futures_util::Sink<Message, Error = tokio_websockets::Error> + Unpin,
{
    sink.send(Message::binary(bytes))
        .await
        .map_err(|error| format!("write: {error}"))
}

async fn send_node<S>(sink: &mut S, channel: &mut Channel, node: &Node) -> Result<(), String>
where
    S: futures_util::Sink<Message, Error = tokio_websockets::Error> + Unpin,
{
    let sealed = channel.seal(node)?;
    send_raw(sink, sealed).await
}
