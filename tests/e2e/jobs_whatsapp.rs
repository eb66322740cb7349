//! Jobs under the real `whatsapp` driver and the offline WhatsApp server: they wait for
//! their device, survive a SIGKILL of the host mid-way, try again after failures that may
//! pass (every try under the job's message id), and fail with the reason when they
//! cannot succeed: a server nack at once, a device that never connects after the wait.

mod send_support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use send_support::{Rig, connected_rig_with};
use serde_json::{Value, json};
use wuts_e2e::audio_fixtures::{self as fx, Fixtures};
use wuts_e2e::{PHONE, Server, User};

const JOBS: usize = 10;
const JOB_TIMEOUT: Duration = Duration::from_secs(120);

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        Fixtures::generate(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("jobs-wa-fixtures"))
    })
}

/// Every audio fixture is over 1000 bytes: each send is a job.
fn rig(env: &[(&str, &str)]) -> Rig {
    let mut all = vec![("WUTS__PLUGIN__AUDIO__ASYNC_THRESHOLD_BYTES", "1000")];
    all.extend_from_slice(env);
    connected_rig_with(&["audio"], &all)
}

/// Queues one audio job; its id.
fn queue(server: &Server, user: &User) -> String {
    let body = json!({"number": PHONE, "audio": fx::base64(&fixtures().encoded(&fx::MP3))});
    let (status, reply) = server.post_json("/send/audio", &user.token, &body);
    assert_eq!(status, 202, "{reply}");
    reply["job_id"].as_str().expect("a job id").to_owned()
}

fn job(server: &Server, user: &User, job_id: &str) -> Value {
    let (status, job) = server.get(&format!("/jobs/{job_id}"), &user.token);
    assert_eq!(status, 200, "{job}");
    job
}

/// How many times the WhatsApp server received each message id.
fn received_counts(rig_whatsapp: &wuts_wa_server::BackgroundServer) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in rig_whatsapp.received() {
        *counts.entry(message.id().to_owned()).or_default() += 1;
    }
    counts
}

#[test]
fn ten_jobs_survive_a_sigkill_mid_way_wait_for_their_device_and_each_arrives_once() {
    let Rig {
        server,
        user,
        whatsapp,
    } = rig(&[]);
    // Acks take a while, so the jobs are spread over a few seconds.
    whatsapp.set_ack(Duration::from_millis(300), None);
    let jobs: Vec<String> = (0..JOBS).map(|_| queue(&server, &user)).collect();
    let deadline = Instant::now() + JOB_TIMEOUT;
    while jobs
        .iter()
        .filter(|id| job(&server, &user, id)["status"] == json!("sent"))
        .count()
        < 3
    {
        assert!(
            Instant::now() < deadline,
            "no 3 jobs sent:\n{}",
            server.logs()
        );
        thread::sleep(Duration::from_millis(20));
    }
    // The host dies; WhatsApp is down when it comes back, so its jobs wait for the device
    // and the statuses read now are those the kill left.
    let setup = server.kill_into_setup();
    whatsapp.set_accepting(false);
    whatsapp.set_ack(Duration::ZERO, None);
    let server = setup.start();
    assert!(
        server.wait_for_log("resuming unfinished jobs", Duration::from_secs(20)),
        "{}",
        server.logs()
    );
    thread::sleep(Duration::from_secs(2));
    let mut before_ids = Vec::new();
    for id in &jobs {
        let status = job(&server, &user, id);
        match status["status"].as_str() {
            Some("sent") => before_ids.push(status["message_id"].as_str().unwrap().to_owned()),
            Some("processing") => {}
            _ => panic!("waiting for the device, not failed: {status}"),
        }
    }
    assert!(
        (3..JOBS).contains(&before_ids.len()),
        "the kill came mid-way: {} sent before it",
        before_ids.len()
    );
    whatsapp.set_accepting(true);

    let mut message_ids = Vec::new();
    for id in &jobs {
        let done = server.wait_for_job(&user, id, JOB_TIMEOUT);
        assert_eq!(done["status"], json!("sent"), "{done}\n{}", server.logs());
        message_ids.push(done["message_id"].as_str().unwrap().to_owned());
    }
    let counts = received_counts(&whatsapp);
    for message_id in &before_ids {
        assert_eq!(
            counts.get(message_id),
            Some(&1),
            "a job sent before the kill is not sent again: {counts:?}"
        );
    }
    for message_id in &message_ids {
        // A job whose ack the kill cut is sent again under the same id, which WhatsApp
        // clients keep once; with acks 300 ms long that can be the two in flight.
        let count = counts.get(message_id).copied().unwrap_or(0);
        assert!(
            (1..=2).contains(&count),
            "{message_id} arrived {count} times: {counts:?}"
        );
    }
    let repeated = counts.values().filter(|count| **count > 1).count();
    assert!(repeated <= 2, "at most the jobs in flight: {counts:?}");
    assert_eq!(
        counts.len(),
        JOBS,
        "nothing but the jobs' messages: {counts:?}"
    );
    drop(server);
}

#[test]
fn a_lost_ack_is_tried_again_under_the_same_id_and_a_nack_fails_at_once() {
    let rig = rig(&[
        ("WUTS__SESSION__SEND_TIMEOUT_MS", "1000"),
        ("WUTS__JOBS__MAX_ATTEMPTS", "3"),
        ("WUTS__JOBS__RETRY_DELAY_MS", "200"),
    ]);
    rig.whatsapp.set_no_ack();
    let lost = queue(&rig.server, &rig.user);
    let done = rig.server.wait_for_job(&rig.user, &lost, JOB_TIMEOUT);
    assert_eq!(done["status"], json!("failed"), "{done}");
    let error = done["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("gave up after 3 attempts") && error.contains("timeout"),
        "{done}"
    );
    // A failed job shows no message id; the server saw one, three times.
    let counts = received_counts(&rig.whatsapp);
    assert_eq!(
        counts.values().copied().collect::<Vec<_>>(),
        [3],
        "three tries, one message id: {counts:?}"
    );
    let lost_id = counts.keys().next().cloned().unwrap_or_default();

    rig.whatsapp.set_ack(Duration::ZERO, Some("479"));
    let refused = queue(&rig.server, &rig.user);
    let done = rig.server.wait_for_job(&rig.user, &refused, JOB_TIMEOUT);
    assert_eq!(done["status"], json!("failed"), "{done}");
    assert!(
        done["error"].as_str().unwrap_or_default().contains("479"),
        "{done}"
    );
    let counts = received_counts(&rig.whatsapp);
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(
        counts
            .iter()
            .all(|(id, count)| *id == lost_id || *count == 1),
        "a refusal is not tried again: {counts:?}"
    );
}

#[test]
fn a_job_whose_device_never_connects_fails_after_the_wait_with_the_reason() {
    let rig = rig(&[("WUTS__JOBS__DEVICE_WAIT_SECONDS", "2")]);
    // A send is refused while the device is not connected: the job is queued first, and
    // WhatsApp goes down while its audio is transcoded.
    let started = Instant::now();
    let job_id = queue(&rig.server, &rig.user);
    rig.whatsapp.set_accepting(false);
    rig.whatsapp.drop_connections();
    let done = rig.server.wait_for_job(&rig.user, &job_id, JOB_TIMEOUT);
    assert_eq!(done["status"], json!("failed"), "{done}");
    assert_eq!(
        done["error"],
        json!("the device was not connected within 2 s"),
        "{done}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2), "it waited");
    assert!(
        rig.whatsapp.received().is_empty(),
        "nothing was sent: {:?}",
        received_counts(&rig.whatsapp)
    );
}
