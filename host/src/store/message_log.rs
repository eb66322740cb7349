//! The sent-message log's writer: one thread that commits whatever has queued up in one
//! transaction ("group commit"), so under load one commit serves many sends. It lets
//! messages gather for a few milliseconds before each commit.
//!
//! Two ways in: [`MessageLog::log_then`] calls back once the message is committed (the
//! job runner waits for that before it marks a job sent); [`MessageLog::log_soon`]
//! returns at once (an HTTP send is already out, and waiting would only add latency).
//! A message logged "soon" sits in a pending table until its commit, and
//! [`MessageLog::pending`] finds it there, so a quote of a message whose 200 has just
//! gone out finds it whether or not the commit has happened yet.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, params};

use super::{LogDone, LoggedMessage, StoreError, StoreResult};

/// The most messages one commit takes.
const BATCH: usize = 512;
/// How long the writer lets messages gather after the first one arrives. Nobody waits
/// on an HTTP send's commit, so a pause costs no latency there, and one commit every
/// few milliseconds writes far fewer WAL pages than one per handful of messages.
const GATHER: Duration = Duration::from_millis(5);

/// Messages queued but not yet committed, by message id (then device: ids are unique
/// per sender, so a list rarely holds more than one), each with the sequence number it
/// was queued under, so that the commit of an older copy does not hide a newer one.
/// Keyed by the id alone so that the writer and [`MessageLog::pending`] look entries up
/// by `&str`, without building a key.
type PendingTable = HashMap<String, Vec<(u64, Arc<LoggedMessage>)>>;
type Pending = Mutex<PendingTable>;

enum Item {
    Message {
        message: Arc<LoggedMessage>,
        sequence: u64,
        done: Option<LogDone>,
    },
    /// Answered once everything queued before it is committed.
    Flush(mpsc::SyncSender<()>),
}

pub struct MessageLog {
    queue: mpsc::Sender<Item>,
    pending: Arc<Pending>,
    sequence: AtomicU64,
}

impl MessageLog {
    /// Starts the writer thread on `connection`; it ends when the log is dropped.
    pub fn start(connection: Arc<Mutex<Connection>>) -> std::io::Result<MessageLog> {
        let (queue, items) = mpsc::channel();
        let pending = Arc::new(Pending::default());
        let writer_pending = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("wuts-log-writer".into())
            .spawn(move || write_batches(&connection, &items, &writer_pending))?;
        Ok(MessageLog {
            queue,
            pending,
            sequence: AtomicU64::new(0),
        })
    }

    /// Queues `message`; `done` gets the commit's result.
    pub fn log_then(&self, message: LoggedMessage, done: LogDone) {
        let item = Item::Message {
            message: Arc::new(message),
            sequence: 0,
            done: Some(done),
        };
        if let Err(mpsc::SendError(Item::Message {
            done: Some(done), ..
        })) = self.queue.send(item)
        {
            done(Err(stopped()));
        }
    }

    /// Queues `message` without waiting; it is visible to [`MessageLog::pending`] until
    /// committed. A failed commit is logged.
    pub fn log_soon(&self, message: LoggedMessage) {
        let message = Arc::new(message);
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        {
            let mut table = self.pending_table();
            match table.get_mut(message.message_id.as_str()) {
                Some(entries) => {
                    entries.retain(|(_, queued)| queued.device_id != message.device_id);
                    entries.push((sequence, Arc::clone(&message)));
                }
                None => {
                    table.insert(
                        message.message_id.clone(),
                        vec![(sequence, Arc::clone(&message))],
                    );
                }
            }
        }
        let item = Item::Message {
            message: Arc::clone(&message),
            sequence,
            done: None,
        };
        if self.queue.send(item).is_err() {
            forget_pending(&mut self.pending_table(), &message, sequence);
            tracing::error!("could not log a sent message: the log writer has stopped");
        }
    }

    /// A queued message not yet committed.
    pub fn pending(&self, device_id: &str, message_id: &str) -> Option<LoggedMessage> {
        self.pending_table()
            .get(message_id)?
            .iter()
            .find(|(_, message)| message.device_id == device_id)
            .map(|(_, message)| LoggedMessage::clone(message))
    }

    /// Waits (up to `timeout`) until everything queued so far is committed.
    pub fn flush(&self, timeout: Duration) -> StoreResult<()> {
        let (reply, flushed) = mpsc::sync_channel(1);
        self.queue.send(Item::Flush(reply)).map_err(|_| stopped())?;
        flushed
            .recv_timeout(timeout)
            .map_err(|_| StoreError::Writer("the log writer did not answer in time".into()))
    }

    fn pending_table(&self) -> PendingGuard<'_> {
        lock_pending(&self.pending)
    }
}

type PendingGuard<'a> = std::sync::MutexGuard<'a, PendingTable>;

fn lock_pending(pending: &Pending) -> PendingGuard<'_> {
    // The table holds plain values; a panic elsewhere cannot leave it half-updated.
    pending.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Takes `message` out of the pending table, unless a newer copy replaced it.
fn forget_pending(table: &mut PendingTable, message: &LoggedMessage, sequence: u64) {
    let Some(entries) = table.get_mut(message.message_id.as_str()) else {
        return;
    };
    entries.retain(|(queued, pending)| {
        !(*queued == sequence && pending.device_id == message.device_id)
    });
    if entries.is_empty() {
        table.remove(message.message_id.as_str());
    }
}

fn stopped() -> StoreError {
    StoreError::Writer("the log writer has stopped".into())
}

/// The writer's loop: takes what has queued up, commits it in one transaction, answers
/// every sender. Ends when the [`MessageLog`] is dropped.
fn write_batches(connection: &Mutex<Connection>, items: &mpsc::Receiver<Item>, pending: &Pending) {
    while let Ok(first) = items.recv() {
        if !matches!(first, Item::Flush(_)) {
            std::thread::sleep(GATHER);
        }
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match items.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let results = {
            let mut connection = connection
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            commit_batch(&mut connection, &batch)
        };
        let mut results = results.into_iter();
        let mut committed = Vec::new();
        let mut flushed = Vec::new();
        for item in batch {
            match item {
                Item::Message {
                    message,
                    sequence,
                    done,
                } => {
                    let result = results.next().unwrap_or(Ok(()));
                    if let Err(error) = &result {
                        tracing::error!(%error, message_id = %message.message_id, "could not log a sent message");
                    }
                    match done {
                        Some(done) => done(result.map_err(StoreError::Writer)),
                        None => committed.push((message, sequence)),
                    }
                }
                // Answered once the pending table is up to date too, below: a caller that
                // flushed then finds nothing pending.
                Item::Flush(reply) => flushed.push(reply),
            }
        }
        // Committed or failed, a message leaves the pending table: a failure is logged
        // above, and keeping it would only grow the table.
        let mut pending = lock_pending(pending);
        for (message, sequence) in &committed {
            forget_pending(&mut pending, message, *sequence);
        }
        drop(pending);
        // Freed outside the lock, which every HTTP send takes.
        drop(committed);
        for reply in flushed {
            let _ = reply.send(());
        }
    }
}

/// Commits the batch's messages in one transaction; should that fail, each on its own,
/// so that one bad row costs only itself. One result per message, in order.
fn commit_batch(connection: &mut Connection, batch: &[Item]) -> Vec<Result<(), String>> {
    let messages: Vec<&LoggedMessage> = batch
        .iter()
        .filter_map(|item| match item {
            Item::Message { message, .. } => Some(message.as_ref()),
            Item::Flush(_) => None,
        })
        .collect();
    if insert(connection, messages.iter().copied()).is_ok() {
        return vec![Ok(()); messages.len()];
    }
    messages
        .into_iter()
        .map(|message| {
            insert(connection, std::iter::once(message))
                .map_err(|error| format!("database: {error}"))
        })
        .collect()
}

fn insert<'a>(
    connection: &mut Connection,
    messages: impl Iterator<Item = &'a LoggedMessage>,
) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    {
        // An upsert, not `INSERT OR REPLACE`: with the foreign key on `device_id`, a
        // replace makes SQLite keep a statement journal (a 64 KiB buffer allocated and
        // freed per row); an upsert leaves the same row without one.
        let mut statement = transaction.prepare_cached(
            "INSERT INTO messages
             (device_id, message_id, chat_jid, sender_jid, from_me, route, message, timestamp)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (device_id, message_id) DO UPDATE SET
             chat_jid = excluded.chat_jid, sender_jid = excluded.sender_jid,
             from_me = excluded.from_me, route = excluded.route,
             message = excluded.message, timestamp = excluded.timestamp",
        )?;
        for message in messages {
            statement.execute(params![
                message.device_id,
                message.message_id,
                message.chat_jid,
                message.sender_jid,
                message.from_me,
                message.route,
                message.message,
                super::sqlite::timestamp(message.timestamp)
            ])?;
        }
    }
    transaction.commit()
}
