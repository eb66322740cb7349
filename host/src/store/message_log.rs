//! The sent-message log's writer: one thread that commits whatever has queued up in one
//! transaction ("group commit"), so under load one commit serves many sends. It lets
//! messages gather for a few milliseconds before each commit. Queued events go the same
//! way: a send's message and its `message.sent` share a commit and a thread.
//!
//! Two ways in: [`MessageLog::log_then`] calls back once the message is committed (the
//! job runner waits for that before it marks a job sent); [`MessageLog::log_soon`]
//! returns at once (an HTTP send is already out, and waiting would only add latency).
//! A message logged "soon" sits in a pending table until its commit, and
//! [`MessageLog::pending`] finds it there, so a quote of a message whose 200 has just
//! gone out finds it whether or not the commit has happened yet.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use rusqlite::{Connection, params};

use super::sqlite_events::EventAppender;
use super::{EventsCommitted, LogDone, LogEntry, LoggedMessage, NewEvent, StoreError, StoreResult};

/// The most messages and events one commit takes. A send queues two (its message and
/// its `message.sent`): at 512 the writer topped out near the send rate of a busy host
/// and its queue grew; larger commits also cost less per row.
const BATCH: usize = 4096;
/// How long the writer lets messages gather after the first one arrives. Nobody waits
/// on an HTTP send's commit, so a pause costs no latency there, and one commit every
/// few milliseconds writes far fewer WAL pages than one per handful of messages.
const GATHER: Duration = Duration::from_millis(5);

/// A message on its way to the database: its own copy of every field.
type QueuedMessage = LoggedMessage;

/// Messages logged "soon" and not yet committed, oldest first. They enter it in the
/// order they enter the writer's queue, so the writer removes what it committed from
/// the front. Lookups scan it, newest first: they are rare (a quote), and it holds only
/// the last few milliseconds' sends (more only while the writer falls behind, when a
/// lookup scans what it has yet to write).
type Pending = Mutex<VecDeque<Arc<QueuedMessage>>>;

enum Item {
    Message {
        message: Arc<QueuedMessage>,
        done: Option<LogDone>,
    },
    Event(NewEvent),
    /// Answered once everything queued before it is committed.
    Flush(mpsc::SyncSender<()>),
}

/// How often events whose commit failed are tried again, on their own, before they are
/// given up (logged).
const EVENT_TRIES: u32 = 5;

pub struct MessageLog {
    queue: mpsc::Sender<Item>,
    pending: Arc<Pending>,
    events_committed: Arc<OnceLock<EventsCommitted>>,
}

/// What the writer thread works with.
struct Writer {
    connection: Arc<Mutex<Connection>>,
    pending: Arc<Pending>,
    appender: Arc<EventAppender>,
    events_committed: Arc<OnceLock<EventsCommitted>>,
}

impl MessageLog {
    /// Starts the writer thread on `connection`; it ends when the log is dropped.
    pub fn start(
        connection: Arc<Mutex<Connection>>,
        appender: Arc<EventAppender>,
    ) -> std::io::Result<MessageLog> {
        let (queue, items) = mpsc::channel();
        let pending = Arc::new(Pending::default());
        let events_committed = Arc::new(OnceLock::new());
        let writer = Writer {
            connection,
            pending: Arc::clone(&pending),
            appender,
            events_committed: Arc::clone(&events_committed),
        };
        std::thread::Builder::new()
            .name("wuts-log-writer".into())
            .spawn(move || writer.run(&items))?;
        Ok(MessageLog {
            queue,
            pending,
            events_committed,
        })
    }

    /// Queues an event; it is committed with the messages queued around it.
    pub fn queue_event(&self, event: NewEvent) {
        if self.queue.send(Item::Event(event)).is_err() {
            tracing::error!("could not store an event: the log writer has stopped");
        }
    }

    /// Sets who is told about committed events (once).
    pub fn on_events_committed(&self, listener: EventsCommitted) -> Result<(), EventsCommitted> {
        self.events_committed.set(listener)
    }

    /// Queues `message`; `done` gets the commit's result.
    pub fn log_then(&self, message: LogEntry<'_>, done: LogDone) {
        let item = Item::Message {
            message: Arc::new(message.into_owned()),
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
    pub fn log_soon(&self, message: LogEntry<'_>) {
        let message = Arc::new(message.into_owned());
        let mut pending = lock_pending(&self.pending);
        // Sent while the lock is held, so that the queue's order is the table's.
        pending.push_back(Arc::clone(&message));
        let item = Item::Message {
            message,
            done: None,
        };
        if self.queue.send(item).is_err() {
            pending.pop_back();
            drop(pending);
            tracing::error!("could not log a sent message: the log writer has stopped");
        }
    }

    /// A queued message not yet committed (the newest, should one be queued twice).
    pub fn pending(&self, device_id: &str, message_id: &str) -> Option<LoggedMessage> {
        lock_pending(&self.pending)
            .iter()
            .rev()
            .map(|queued| queued.entry())
            .find(|entry| entry.message_id == message_id && entry.device_id == device_id)
            .map(LogEntry::into_owned)
    }

    /// Waits (up to `timeout`) until everything queued so far is committed.
    pub fn flush(&self, timeout: Duration) -> StoreResult<()> {
        let (reply, flushed) = mpsc::sync_channel(1);
        self.queue.send(Item::Flush(reply)).map_err(|_| stopped())?;
        flushed
            .recv_timeout(timeout)
            .map_err(|_| StoreError::Writer("the log writer did not answer in time".into()))
    }
}

fn lock_pending(pending: &Pending) -> std::sync::MutexGuard<'_, VecDeque<Arc<QueuedMessage>>> {
    // The table holds plain values; a panic elsewhere cannot leave it half-updated.
    pending.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Takes the committed `messages` out of the pending table. They are at its front, in
/// order; the search is there in case they are not.
fn forget_pending(pending: &Pending, messages: &[Arc<QueuedMessage>]) {
    let mut pending = lock_pending(pending);
    for message in messages {
        if pending
            .front()
            .is_some_and(|front| Arc::ptr_eq(front, message))
        {
            pending.pop_front();
        } else if let Some(index) = pending
            .iter()
            .position(|queued| Arc::ptr_eq(queued, message))
        {
            pending.remove(index);
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Writer("the log writer has stopped".into())
}

impl Writer {
    /// The writer's loop: takes what has queued up, commits it in one transaction,
    /// answers every sender. Ends when the [`MessageLog`] is dropped.
    fn run(&self, items: &mpsc::Receiver<Item>) {
        while let Ok(first) = items.recv() {
            let flush = matches!(first, Item::Flush(_));
            let mut batch = vec![first];
            take_queued(items, &mut batch);
            // Sleep, then take what has queued since: a thread waiting in `recv` is woken
            // by every send (a futex wake and a context switch per item, on the sender's
            // CPU time), while a sleeping one is not. Not when a flush waits. A commit
            // every few milliseconds of up to BATCH items is far above any send rate, so
            // the queue does not grow; not sleeping when it was long ran the writer
            // without pause and cost the senders a fifth of their throughput.
            if !flush && batch.len() < BATCH {
                std::thread::sleep(GATHER);
                take_queued(items, &mut batch);
            }
            self.write(batch);
        }
    }

    fn write(&self, batch: Vec<Item>) {
        debug_assert!(batch.len() <= BATCH);
        let mut messages = Vec::new();
        let mut events = Vec::new();
        let mut flushed = Vec::new();
        for item in batch {
            match item {
                Item::Message { message, done } => messages.push((message, done)),
                Item::Event(event) => events.push(event),
                // Answered once the pending table is up to date too, below: a caller that
                // flushed then finds nothing pending.
                Item::Flush(reply) => flushed.push(reply),
            }
        }
        let (results, stored) = {
            let mut connection = self
                .connection
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            self.commit(&mut connection, &messages, &events)
        };
        let mut results = results.into_iter();
        let mut committed = Vec::new();
        for (message, done) in messages {
            let result = results.next().unwrap_or(Ok(()));
            if let Err(error) = &result {
                tracing::error!(%error, message_id = %message.entry().message_id, "could not log a sent message");
            }
            match done {
                Some(done) => done(result.map_err(StoreError::Writer)),
                None => committed.push(message),
            }
        }
        // Committed or failed, a message leaves the pending table: a failure is logged
        // above, and keeping it would only grow the table.
        forget_pending(&self.pending, &committed);
        // Freed here, outside the lock every HTTP send takes.
        drop(committed);
        if !stored.is_empty()
            && let Some(listener) = self.events_committed.get()
        {
            listener(stored);
        }
        for reply in flushed {
            let _ = reply.send(());
        }
    }

    /// Commits the batch's messages and events in one transaction. Should that fail,
    /// each message is tried on its own, so that one bad row costs only itself, and the
    /// events together. One result per message, in order, and the stored events.
    fn commit(
        &self,
        connection: &mut Connection,
        messages: &[(Arc<QueuedMessage>, Option<LogDone>)],
        events: &[NewEvent],
    ) -> (Vec<Result<(), String>>, Vec<super::StoredEvent>) {
        let entries = || messages.iter().map(|(message, _)| message.entry());
        match self.insert_together(connection, entries(), events) {
            Ok(stored) => return (vec![Ok(()); messages.len()], stored),
            Err(error) => {
                tracing::warn!(%error, "a batch did not commit; writing its rows one by one")
            }
        }
        let results = entries()
            .map(|message| {
                insert(connection, std::iter::once(message))
                    .map_err(|error| format!("database: {error}"))
            })
            .collect();
        (results, self.append_events_alone(connection, events))
    }

    fn insert_together<'a>(
        &self,
        connection: &mut Connection,
        messages: impl Iterator<Item = LogEntry<'a>>,
        events: &[NewEvent],
    ) -> StoreResult<Vec<super::StoredEvent>> {
        let transaction = connection.transaction()?;
        insert_messages(&transaction, messages)?;
        let stored = if events.is_empty() {
            Vec::new()
        } else {
            self.appender.append_within(&transaction, events)?
        };
        if let Err(error) = transaction.commit() {
            self.appender.rolled_back();
            return Err(error.into());
        }
        Ok(stored)
    }

    /// Events whose shared commit failed, in transactions of their own, tried a few
    /// times (a busy or full disk may clear) before they are given up.
    fn append_events_alone(
        &self,
        connection: &mut Connection,
        events: &[NewEvent],
    ) -> Vec<super::StoredEvent> {
        if events.is_empty() {
            return Vec::new();
        }
        for attempt in 1..=EVENT_TRIES {
            match self.appender.append(connection, events) {
                Ok(stored) => return stored,
                Err(error) if attempt < EVENT_TRIES => {
                    tracing::warn!(%error, attempt, "could not store events; trying again");
                    std::thread::sleep(Duration::from_millis(100 * u64::from(attempt)));
                }
                Err(error) => {
                    tracing::error!(%error, count = events.len(), "could not store events; dropped");
                }
            }
        }
        Vec::new()
    }
}

/// Moves what has queued into `batch`, up to [`BATCH`] items.
fn take_queued(items: &mpsc::Receiver<Item>, batch: &mut Vec<Item>) {
    while batch.len() < BATCH {
        match items.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
}

fn insert<'a>(
    connection: &mut Connection,
    messages: impl Iterator<Item = LogEntry<'a>>,
) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    insert_messages(&transaction, messages)?;
    transaction.commit()
}

fn insert_messages<'a>(
    transaction: &rusqlite::Transaction<'_>,
    messages: impl Iterator<Item = LogEntry<'a>>,
) -> rusqlite::Result<()> {
    // An upsert, not `INSERT OR REPLACE`: with the foreign key on `device_id`, a
    // replace makes SQLite keep a statement journal (a buffer allocated and freed per
    // row); an upsert leaves the same row without one.
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
            super::sql_time::timestamp(message.timestamp)
        ])?;
    }
    Ok(())
}
