//! The job queue: how a request persisted as a job reaches the runner ([`crate::jobs`]).
//! Only job ids travel; the runner loads each job from the store.

use tokio::sync::mpsc;

#[derive(Clone)]
pub struct JobQueue {
    sender: mpsc::UnboundedSender<String>,
}

impl JobQueue {
    pub fn new() -> (JobQueue, mpsc::UnboundedReceiver<String>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (JobQueue { sender }, receiver)
    }

    pub fn enqueue(&self, job_id: String) {
        // Fails only when the runner has stopped (shutdown); the job stays persisted
        // and runs at the next start.
        let _ = self.sender.send(job_id);
    }
}
