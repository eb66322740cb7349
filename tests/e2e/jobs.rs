//! Audio as background jobs: 202 with a job id, `GET /jobs/{id}` until sent, tenants kept
//! apart, and a job that survives the server being SIGKILLed in the middle of sending it.

use std::path::Path;
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use wuts_e2e::audio_fixtures::{self as fx, Fixtures};
use wuts_e2e::checks;
use wuts_e2e::{PHONE, PHONE_JID, Server, ServerOptions, unique};

/// How long a job may take to finish (a debug build transcoding a few seconds of audio).
const JOB_TIMEOUT: Duration = Duration::from_secs(60);

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        Fixtures::generate(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("jobs-e2e-fixtures"))
    })
}

/// Audio larger than 1000 bytes (every fixture) is sent as a job.
fn options() -> ServerOptions {
    ServerOptions::default()
        .plugins(&["buttons", "audio"])
        .required(&["buttons", "audio"])
        .env("WUTS__PLUGIN__AUDIO__ASYNC_THRESHOLD_BYTES", "1000")
}

fn audio_body() -> Value {
    json!({
        "number": PHONE,
        "audio": fx::base64(&fixtures().encoded(&fx::MP3)),
        "ptt": true,
    })
}

/// Asserts the documented 202 and returns the job id.
#[track_caller]
fn assert_queued(status: u16, reply: &Value) -> String {
    assert_eq!(status, 202, "expected 202, got {status}: {reply}");
    assert_eq!(reply["success"], json!(true), "{reply}");
    assert_eq!(reply["message_id"], json!(""), "{reply}");
    assert_eq!(reply["status"], json!("processing"), "{reply}");
    assert_eq!(reply["chat_jid"], json!(PHONE_JID), "{reply}");
    checks::recent_timestamp(reply["timestamp"].as_str().unwrap_or_default());
    let job_id = reply["job_id"].as_str().unwrap_or_default().to_owned();
    assert!(
        job_id.starts_with("job_") && job_id.len() > 4,
        "job ids start with job_: {reply}"
    );
    job_id
}

/// Asserts a finished, sent job and returns its message id.
#[track_caller]
fn assert_job_sent(job: &Value) -> String {
    assert_eq!(job["status"], json!("sent"), "{job}");
    assert_eq!(job["success"], json!(true), "{job}");
    let id = job["message_id"].as_str().unwrap_or_default().to_owned();
    checks::message_id(&id);
    checks::recent_timestamp(job["created_at"].as_str().unwrap_or_default());
    checks::recent_timestamp(job["finished_at"].as_str().unwrap_or_default());
    assert_eq!(job["metadata"]["async_processing"], json!(true), "{job}");
    assert_eq!(job["metadata"]["ptt_enabled"], json!(true), "{job}");
    assert!(job.get("error").is_none(), "{job}");
    id
}

/// Options whose database lies in a folder of its own, named through the environment so
/// that a second server, started from a fresh setup, opens the first one's file: the
/// folder (removed when dropped), the database's path, the options.
fn shared_database() -> (tempfile::TempDir, String, ServerOptions) {
    let folder = tempfile::tempdir().expect("a temp dir");
    let store = folder
        .path()
        .join("wuts.db")
        .to_str()
        .expect("a UTF-8 path")
        .to_owned();
    let options = options().env("WUTS__STORE__PATH", &store);
    (folder, store, options)
}

#[track_caller]
fn assert_not_found(reply: (u16, Value)) {
    let (status, body) = reply;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
}

#[test]
fn a_large_clip_is_a_job_that_is_sent_and_reported() {
    let server = Server::start(options());
    let user = server.create_user(&unique("jobs"), "alice");
    let (status, reply) = server.post_json("/send/audio", &user.token, &audio_body());
    let job_id = assert_queued(status, &reply);

    let job = server.wait_for_job(&user, &job_id, JOB_TIMEOUT);
    let message_id = assert_job_sent(&job);
    assert_eq!(job["chat_jid"], json!(PHONE_JID), "{job}");
    let outbox = server.outbox(&user);
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0]["message_id"], json!(message_id));
    assert_eq!(outbox[0]["message"]["audioMessage"]["ptt"], json!(true));

    // Bad input is refused before any job exists.
    let (status, reply) = server.post_json(
        "/send/audio",
        &user.token,
        &json!({"number": PHONE, "audio": "not base64!"}),
    );
    assert_eq!(
        (status, &reply["error_code"]),
        (400, &json!("VALIDATION_ERROR")),
        "{reply}"
    );

    // Another tenant's job, and a job that does not exist, are 404s.
    let stranger = server.create_user(&unique("other"), "mallory");
    assert_not_found(server.get(&format!("/jobs/{job_id}"), &stranger.token));
    assert_not_found(server.get("/jobs/job_doesnotexist", &user.token));
}

#[test]
fn a_job_survives_a_sigkill_in_the_middle_of_sending_and_is_sent_once() {
    let (_database, _, options) = shared_database();
    let mut first = Server::start(options.clone());
    let user = first.create_user(&unique("jobs"), "alice");
    // The sandbox acknowledges after 8 s, so the job will be waiting for its ack.
    first.set_state(&user, json!({"ack_delay_ms": 8000}));
    let (status, reply) = first.post_json("/send/audio", &user.token, &audio_body());
    let job_id = assert_queued(status, &reply);

    // Transcoding takes about a second; then the send waits for the slow ack.
    thread::sleep(Duration::from_secs(3));
    let (_, job) = first.get(&format!("/jobs/{job_id}"), &user.token);
    assert_eq!(job["status"], json!("processing"), "mid-send: {job}");
    let status = first.stop_with(libc::SIGKILL);
    assert!(!status.success(), "killed: {status:?}");
    drop(first);

    // The sandbox's controls live in memory: the restarted device acknowledges at once.
    let second = Server::start(options);
    let job = second.wait_for_job(&user, &job_id, JOB_TIMEOUT);
    let message_id = assert_job_sent(&job);
    let outbox = second.outbox(&user);
    let copies = outbox
        .iter()
        .filter(|entry| entry["message_id"] == json!(message_id))
        .count();
    assert_eq!(copies, 1, "sent exactly once: {outbox:?}");
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert!(
        second.wait_for_log("resuming unfinished jobs", Duration::from_secs(10)),
        "the job was resumed at start:\n{}",
        second.logs()
    );
}

#[test]
fn finished_jobs_and_old_messages_are_purged_past_their_retention() {
    let (_database, store, options) = shared_database();
    let mut first = Server::start(options.clone());
    let user = first.create_user(&unique("jobs"), "alice");
    let (status, reply) = first.post_json("/send/audio", &user.token, &audio_body());
    let job_id = assert_queued(status, &reply);
    assert_job_sent(&first.wait_for_job(&user, &job_id, JOB_TIMEOUT));
    let mut sent = Vec::new();
    for text in ["old", "recent"] {
        let (status, reply) =
            first.send_buttons(&user, &wuts_e2e::buttons_body(PHONE, text, &[("a", "A")]));
        assert_eq!(status, 200, "{reply}");
        sent.push(reply["message_id"].as_str().unwrap().to_owned());
    }
    for (text, id) in [("old", "IN-OLD"), ("recent", "IN-RECENT")] {
        let inbound = json!({"from": PHONE, "message_id": id, "message": {"conversation": text}});
        let (status, reply) = first.post_json("/sandbox/inbound", &user.token, &inbound);
        assert_eq!(status, 200, "{reply}");
    }
    assert!(
        first.stop().success(),
        "a clean stop commits the message log"
    );
    drop(first);

    // As if the job had finished, and every message before the recent ones been sent
    // or received, in 2020.
    let database = rusqlite::Connection::open(&store).expect("the database opens");
    let aged = |sql: &str, id: &str| database.execute(sql, [id]).expect("the update runs");
    let long_ago = "2020-01-01T00:00:00.000Z";
    let sql = format!("UPDATE jobs SET finished_at = '{long_ago}' WHERE id = ?1");
    assert_eq!(aged(&sql, &job_id), 1);
    for (table, recent) in [
        ("messages", sent[1].as_str()),
        ("received_messages", "IN-RECENT"),
    ] {
        let sql = format!(
            "UPDATE {table} SET timestamp = '{long_ago}'
             WHERE rowid < (SELECT rowid FROM {table} WHERE message_id = ?1)"
        );
        assert!(aged(&sql, recent) >= 1, "{table}");
    }
    let count = |table: &str, id: &str| -> i64 {
        database
            .query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE message_id = ?1"),
                [id],
                |row| row.get(0),
            )
            .expect("the count runs")
    };

    // The purge runs at start, and then hourly.
    let second = Server::start(
        options
            .env("WUTS__JOBS__RETENTION_HOURS", "1")
            .env("WUTS__STORE__MESSAGE_RETENTION_HOURS", "1"),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while count("messages", &sent[0]) > 0 && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        count("messages", &sent[0]),
        0,
        "the old sent message is purged"
    );
    assert_eq!(
        count("received_messages", "IN-OLD"),
        0,
        "and the old received one"
    );
    assert_eq!(count("messages", &sent[1]), 1, "the recent one is kept");
    assert_eq!(count("received_messages", "IN-RECENT"), 1);
    assert_not_found(second.get(&format!("/jobs/{job_id}"), &user.token));
}
