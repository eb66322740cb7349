//! Runs every `whatsapp-rust` task on the host's session runtime, whoever calls in.
//!
//! The crate's own `TokioRuntime` spawns on the *current* runtime
//! (`whatsapp-rust` `src/runtime_impl.rs:16`), which under actix would be a worker's
//! single-threaded runtime. This one spawns on a stored handle instead.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::runtime::Handle;
use whatsapp_rust::Runtime;
use whatsapp_rust::wacore::runtime::AbortHandle;

pub struct HandleRuntime {
    handle: Handle,
}

impl HandleRuntime {
    pub fn new(handle: Handle) -> Self {
        HandleRuntime { handle }
    }
}

#[whatsapp_rust::async_trait]
impl Runtime for HandleRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) -> AbortHandle {
        let task = self.handle.spawn(future);
        AbortHandle::new(move || task.abort())
    }

    fn spawn_detached(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        drop(self.handle.spawn(future));
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        // The timer is registered with the session runtime even when a caller on another
        // runtime polls this future.
        let handle = self.handle.clone();
        Box::pin(async move {
            let _ = handle
                .spawn(async move { tokio::time::sleep(duration).await })
                .await;
        })
    }

    fn spawn_blocking(
        &self,
        f: Box<dyn FnOnce() + Send + 'static>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let task = self.handle.spawn_blocking(f);
        Box::pin(async move {
            let _ = task.await;
        })
    }

    fn yield_now(&self) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        // A multi-thread runtime: other tasks run on other threads meanwhile.
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn tasks_run_on_the_stored_runtime_even_from_a_thread_without_one() {
        let session_runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => panic!("runtime: {error}"),
        };
        let runtime = HandleRuntime::new(session_runtime.handle().clone());
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        runtime.spawn_detached(Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            flag.store(true, Ordering::SeqCst);
            let _ = done_tx.send(());
        }));
        assert!(done_rx.recv_timeout(Duration::from_secs(5)).is_ok());
        assert!(ran.load(Ordering::SeqCst));

        // A sleep polled by a foreign runtime still has a timer.
        let foreign = match tokio::runtime::Builder::new_current_thread().build() {
            Ok(runtime) => runtime,
            Err(error) => panic!("runtime: {error}"),
        };
        foreign.block_on(runtime.sleep(Duration::from_millis(5)));
    }
}
