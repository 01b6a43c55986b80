//! Supervision of the sandbox's background tasks (notifications and expiry, WAL checkpoints, the
//! live pending list): a task that panics or ends before shutdown is logged and started again,
//! with a growing pause, never silently gone.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// First pause before a restart; doubled after each quick failure up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// A run this long counts as healthy: the next failure starts from [`FIRST_PAUSE`] again.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs `make()` until `shutdown` turns true, restarting it whenever it panics or returns early.
/// Returns how many times it was restarted.
pub(crate) async fn supervise<F, Fut>(
    name: &'static str,
    mut shutdown: watch::Receiver<bool>,
    mut make: F,
) -> u32
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut pause = FIRST_PAUSE;
    let mut restarts = 0;
    loop {
        let started = Instant::now();
        let result = tokio::spawn(make()).await;
        if *shutdown.borrow() {
            return restarts;
        }
        match result {
            Ok(()) => tracing::error!(task = name, "background task stopped before shutdown; restarting it"),
            Err(error) if error.is_panic() => {
                let panic = error.into_panic();
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                tracing::error!(task = name, panic = %crate::text::for_log(&message), "background task panicked; restarting it");
            }
            Err(_) => return restarts,
        }
        if started.elapsed() >= HEALTHY_RUN {
            pause = FIRST_PAUSE;
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.wait_for(|stopped| *stopped) => return restarts,
        }
        pause = (pause * 2).min(MAX_PAUSE);
        restarts += 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_restarted_until_it_runs() {
        let runs = Arc::new(AtomicU32::new(0));
        let (stop, shutdown) = watch::channel(false);
        let counter = Arc::clone(&runs);
        let supervisor = tokio::spawn(supervise("test", shutdown.clone(), move || {
            let counter = Arc::clone(&counter);
            let mut shutdown = shutdown.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("boom");
                }
                let _ = shutdown.wait_for(|s| *s).await;
            }
        }));
        for _ in 0..200 {
            if runs.load(Ordering::SeqCst) >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3, "two panics, then a healthy run");
        stop.send(true).unwrap();
        assert_eq!(supervisor.await.unwrap(), 2);
    }
}
