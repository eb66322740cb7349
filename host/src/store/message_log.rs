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

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{LogDone, LogEntry, LoggedMessage, StoreError, StoreResult};

/// The most messages one commit takes.
const BATCH: usize = 512;
/// How long the writer lets messages gather after the first one arrives. Nobody waits
/// on an HTTP send's commit, so a pause costs no latency there, and one commit every
/// few milliseconds writes far fewer WAL pages than one per handful of messages.
const GATHER: Duration = Duration::from_millis(5);

/// A message on its way to the database, in two blocks (its texts, its bytes) rather
/// than one per field. It is made on an HTTP thread and freed on the writer's, and each
/// block freed away from the thread that allocated it takes a lock in the allocator:
/// with a block per field (and the pending table's own keys), those frees were a large
/// share of the writer's CPU (see README, Benchmarks).
struct QueuedMessage {
    /// The device id, message id, chat, sender and route, one after another.
    texts: Box<str>,
    /// Where each of `texts`' parts ends.
    ends: [usize; 5],
    has_sender: bool,
    has_route: bool,
    from_me: bool,
    message: Box<[u8]>,
    timestamp: DateTime<Utc>,
}

impl QueuedMessage {
    fn new(entry: LogEntry<'_>) -> QueuedMessage {
        let parts = [
            entry.device_id,
            entry.message_id,
            entry.chat_jid,
            entry.sender_jid.unwrap_or_default(),
            entry.route.unwrap_or_default(),
        ];
        let mut texts = String::with_capacity(parts.iter().map(|part| part.len()).sum());
        let mut ends = [0; 5];
        for (part, end) in parts.into_iter().zip(&mut ends) {
            texts.push_str(part);
            *end = texts.len();
        }
        QueuedMessage {
            texts: texts.into_boxed_str(),
            ends,
            has_sender: entry.sender_jid.is_some(),
            has_route: entry.route.is_some(),
            from_me: entry.from_me,
            message: entry.message.into(),
            timestamp: entry.timestamp,
        }
    }

    fn part(&self, index: usize) -> &str {
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.texts[start..self.ends[index]]
    }

    fn entry(&self) -> LogEntry<'_> {
        LogEntry {
            device_id: self.part(0),
            message_id: self.part(1),
            chat_jid: self.part(2),
            sender_jid: self.has_sender.then(|| self.part(3)),
            from_me: self.from_me,
            route: self.has_route.then(|| self.part(4)),
            message: &self.message,
            timestamp: self.timestamp,
        }
    }
}

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
    /// Answered once everything queued before it is committed.
    Flush(mpsc::SyncSender<()>),
}

pub struct MessageLog {
    queue: mpsc::Sender<Item>,
    pending: Arc<Pending>,
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
        Ok(MessageLog { queue, pending })
    }

    /// Queues `message`; `done` gets the commit's result.
    pub fn log_then(&self, message: LogEntry<'_>, done: LogDone) {
        let item = Item::Message {
            message: Arc::new(QueuedMessage::new(message)),
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
        let message = Arc::new(QueuedMessage::new(message));
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
                Item::Message { message, done } => {
                    let result = results.next().unwrap_or(Ok(()));
                    if let Err(error) = &result {
                        tracing::error!(%error, message_id = %message.entry().message_id, "could not log a sent message");
                    }
                    match done {
                        Some(done) => done(result.map_err(StoreError::Writer)),
                        None => committed.push(message),
                    }
                }
                // Answered once the pending table is up to date too, below: a caller that
                // flushed then finds nothing pending.
                Item::Flush(reply) => flushed.push(reply),
            }
        }
        // Committed or failed, a message leaves the pending table: a failure is logged
        // above, and keeping it would only grow the table.
        forget_pending(pending, &committed);
        // Freed here, outside the lock every HTTP send takes.
        drop(committed);
        for reply in flushed {
            let _ = reply.send(());
        }
    }
}

/// Commits the batch's messages in one transaction; should that fail, each on its own,
/// so that one bad row costs only itself. One result per message, in order.
fn commit_batch(connection: &mut Connection, batch: &[Item]) -> Vec<Result<(), String>> {
    let messages: Vec<LogEntry<'_>> = batch
        .iter()
        .filter_map(|item| match item {
            Item::Message { message, .. } => Some(message.entry()),
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
    messages: impl Iterator<Item = LogEntry<'a>>,
) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    {
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
    }
    transaction.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(sender_jid: Option<&str>, route: Option<&str>) -> LoggedMessage {
        LoggedMessage {
            device_id: "device-1".into(),
            message_id: "3EB0000000000000000001".into(),
            chat_jid: "5511999999999@s.whatsapp.net".into(),
            sender_jid: sender_jid.map(Into::into),
            from_me: true,
            route: route.map(Into::into),
            message: vec![1, 2, 3],
            timestamp: Utc::now(),
        }
    }

    #[test]
    fn a_queued_message_gives_back_every_field_as_logged() {
        for (sender, route) in [
            (Some("155512345678@s.whatsapp.net"), Some("/send/buttons")),
            (None, Some("/send/buttons")),
            (Some("155512345678@s.whatsapp.net"), None),
            // An empty text is kept apart from an absent one.
            (Some(""), None),
            (None, Some("")),
            (None, None),
        ] {
            let message = logged(sender, route);
            let queued = QueuedMessage::new(message.entry());
            assert_eq!(queued.entry().into_owned(), message);
        }
    }

    #[test]
    fn texts_keep_their_unicode() {
        let message = LoggedMessage {
            device_id: "dispositivo-ñ".into(),
            chat_jid: "120363000000000000@g.us".into(),
            ..logged(Some("jid-😀"), Some("/send/ação"))
        };
        assert_eq!(
            QueuedMessage::new(message.entry()).entry().into_owned(),
            message
        );
    }
}
