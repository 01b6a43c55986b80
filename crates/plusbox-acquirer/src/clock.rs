//! Injected time. Every wait in the acquirer (poll intervals, expiry, retry pauses) runs on a
//! [`Clock`], so tests can drive a [`TestClock`] instead of sleeping on the wall clock.
//!
//! The acquirer keeps its own small clock rather than sharing the sandbox's: the two meet only on
//! the wire, like a real ACQP and Alipay+.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

/// A boxed future returned by [`Clock::sleep_until`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A source of "now" and a way to wait for a later instant on the same time line.
pub trait Clock: Send + Sync + 'static {
    /// The current instant (UTC).
    fn now(&self) -> OffsetDateTime;
    /// Resolves once [`Clock::now`] has reached `deadline`.
    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep;
    /// Sleeps for `duration` of clock time.
    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.now() + duration)
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep {
        let wait = deadline - OffsetDateTime::now_utc();
        Box::pin(tokio::time::sleep(to_std(wait)))
    }
}

/// Wall-clock time running `scale` times faster from the moment it was made: an acquirer whose
/// own time is compressed (demos, tests) without following anyone else's clock.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    origin: OffsetDateTime,
    started: std::time::Instant,
    scale: f64,
}

impl ScaledClock {
    /// A clock starting at the real now, running `scale` times as fast (values ≤ 0 mean 1).
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        ScaledClock { origin: OffsetDateTime::now_utc(), started: std::time::Instant::now(), scale }
    }

    /// A clock that reads `origin` at the real instant `started` and runs `scale` times as fast
    /// from there: set once from another clock (as a real ACQP's clock is set by NTP), then on
    /// its own, never following that clock's jumps.
    pub fn anchored(origin: OffsetDateTime, started: std::time::Instant, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        ScaledClock { origin, started, scale }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> OffsetDateTime {
        self.origin + Duration::seconds_f64(self.started.elapsed().as_secs_f64() * self.scale)
    }

    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep {
        let wait = (deadline - self.now()).as_seconds_f64() / self.scale;
        Box::pin(tokio::time::sleep(to_std(Duration::seconds_f64(wait.max(0.0)))))
    }
}

/// A manual clock for tests: time moves only when [`TestClock::advance`] or [`TestClock::set`] is
/// called, and sleepers wake as soon as it passes their deadline.
#[derive(Debug, Clone)]
pub struct TestClock {
    inner: Arc<Mutex<OffsetDateTime>>,
    tick: watch::Sender<OffsetDateTime>,
}

impl TestClock {
    /// A clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        let (tick, _) = watch::channel(start);
        TestClock { inner: Arc::new(Mutex::new(start)), tick }
    }

    /// Moves time forward by `by` and wakes every sleeper whose deadline has passed.
    pub fn advance(&self, by: Duration) {
        let now = {
            let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            *guard += by;
            *guard
        };
        self.tick.send_replace(now);
    }

    /// Sets time to `at` (may go backwards, for window tests).
    pub fn set(&self, at: OffsetDateTime) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = at;
        self.tick.send_replace(at);
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep {
        let mut rx = self.tick.subscribe();
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            loop {
                if *inner.lock().unwrap_or_else(|e| e.into_inner()) >= deadline {
                    return;
                }
                if rx.changed().await.is_err() {
                    // Nobody can advance a dropped clock, so never wake.
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

/// A `time::Duration` as a `std::time::Duration`, negative as zero.
pub fn to_std(duration: Duration) -> std::time::Duration {
    if duration.is_negative() {
        std::time::Duration::ZERO
    } else {
        std::time::Duration::try_from(duration).unwrap_or(std::time::Duration::MAX)
    }
}
