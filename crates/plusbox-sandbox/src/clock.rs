//! Injected time. Every deadline in the sandbox (code and payment expiry, notification retries,
//! the cancel and refund windows, `slow:N` delays) runs on a [`Clock`], so tests advance a
//! [`TestClock`] instead of sleeping and demos can compress time with a [`ScaledClock`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

use crate::store::{Store, StoreError};

/// A boxed future returned by [`Clock::sleep_until`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A source of "now" and a way to wait for a later instant on the same time line.
pub trait Clock: Send + Sync + 'static {
    /// The current instant (UTC).
    fn now(&self) -> OffsetDateTime;
    /// Resolves once [`Clock::now`] has reached `deadline`.
    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep;
    /// Convenience: sleeps for `duration` of clock time.
    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(add_saturating(self.now(), duration))
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

/// Wall-clock time running `scale` times faster from the moment it was made (for demos and
/// `serve --time-scale`): with scale 60, a 60 s payment expiry passes in one real second.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    origin: OffsetDateTime,
    started: Instant,
    scale: f64,
}

impl ScaledClock {
    /// A clock starting at the real now and running `scale` times as fast (values ≤ 0 mean 1).
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        ScaledClock { origin: OffsetDateTime::now_utc(), started: Instant::now(), scale }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> OffsetDateTime {
        let real = self.started.elapsed().as_secs_f64() * self.scale;
        let elapsed = Duration::checked_seconds_f64(real).unwrap_or(Duration::MAX);
        add_saturating(self.origin, elapsed)
    }

    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep {
        let wait = (deadline - self.now()).as_seconds_f64() / self.scale;
        let wait = Duration::checked_seconds_f64(wait).unwrap_or(Duration::MAX);
        Box::pin(tokio::time::sleep(to_std(wait)))
    }
}

/// A manual clock for tests: time moves only when [`TestClock::advance`] or [`TestClock::set`]
/// is called, and sleepers wake as soon as it passes their deadline.
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
            *guard = add_saturating(*guard, by);
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
                    // The clock is gone: nobody can advance it any more, so never wake.
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

/// How long a read clock offset is trusted before the database is asked again (real time).
const OFFSET_REREAD: std::time::Duration = std::time::Duration::from_millis(20);

/// How often a sleeper re-checks the offset for jumps made by other processes (real time).
const OFFSET_RECHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// Sandbox time: an underlying clock plus a jump ahead kept in the store (`plusbox clock
/// advance`, [`Store::advance_clock`]). The offset lives in SQLite so a running server, the CLI
/// and a test runner in another process all see the same time; each instance re-reads it at most
/// every 20 ms, so a jump is seen by the next request. Sleepers wake early when time jumps past
/// their deadline. Only the sandbox's time moves: an external acquirer keeps its own clock, as it
/// would against Alipay+.
#[derive(Clone)]
pub struct OffsetClock {
    shared: Arc<OffsetShared>,
}

struct OffsetShared {
    inner: SharedClock,
    store: Arc<Store>,
    /// The last offset read and when (`None`: never read).
    cached: Mutex<(Duration, Option<Instant>)>,
    tick: watch::Sender<Duration>,
}

impl std::fmt::Debug for OffsetClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffsetClock").field("offset", &self.shared.cached_offset()).finish_non_exhaustive()
    }
}

impl OffsetShared {
    fn cached_offset(&self) -> Duration {
        self.cached.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    /// The offset, re-read from the store when the cached value is older than [`OFFSET_REREAD`].
    /// A failed read keeps the last value: time must never fail.
    fn offset(&self) -> Duration {
        let fresh = {
            let guard = self.cached.lock().unwrap_or_else(|e| e.into_inner());
            match guard.1 {
                Some(at) if at.elapsed() < OFFSET_REREAD => return guard.0,
                _ => guard.0,
            }
        };
        let offset = self.store.clock_offset().unwrap_or(fresh);
        self.remember(offset);
        offset
    }

    fn remember(&self, offset: Duration) {
        let changed = {
            let mut guard = self.cached.lock().unwrap_or_else(|e| e.into_inner());
            let changed = guard.0 != offset;
            *guard = (offset, Some(Instant::now()));
            changed
        };
        if changed {
            self.tick.send_replace(offset);
        }
    }
}

impl OffsetClock {
    /// Sandbox time over `inner`, with the offset kept in `store`.
    pub fn new(inner: SharedClock, store: Arc<Store>) -> Self {
        let (tick, _) = watch::channel(Duration::ZERO);
        let shared = OffsetShared { inner, store, cached: Mutex::new((Duration::ZERO, None)), tick };
        OffsetClock { shared: Arc::new(shared) }
    }

    /// Re-reads the offset now (a request starts: a jump made by another process a moment ago
    /// must count).
    pub fn sync(&self) {
        if let Ok(offset) = self.shared.store.clock_offset() {
            self.shared.remember(offset);
        }
    }

    /// The current jump ahead of the underlying clock.
    pub fn offset(&self) -> Duration {
        self.shared.offset()
    }

    /// Moves sandbox time `by` ahead (persisted) and wakes this clock's sleepers at once; other
    /// instances over the same database see it within their re-read interval.
    pub fn advance(&self, by: Duration) -> Result<Duration, StoreError> {
        let offset = self.shared.store.advance_clock(by)?;
        self.shared.remember(offset);
        Ok(offset)
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> OffsetDateTime {
        add_saturating(self.shared.inner.now(), self.shared.offset())
    }

    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep {
        let shared = Arc::clone(&self.shared);
        let mut rx = shared.tick.subscribe();
        Box::pin(async move {
            loop {
                let target = add_saturating(deadline, -shared.offset());
                if shared.inner.now() >= target {
                    return;
                }
                // Wake on the deadline, on a jump made here, or periodically to notice a jump
                // made by another process.
                tokio::select! {
                    _ = shared.inner.sleep_until(target) => {}
                    _ = rx.changed() => {}
                    _ = tokio::time::sleep(OFFSET_RECHECK) => {}
                }
            }
        })
    }
}

/// `at + by`, held at the first or last representable instant instead of panicking. The store
/// keeps the clock offset within [`crate::store::MAX_CLOCK_OFFSET`], so in practice this never
/// saturates; it is what keeps a bad value from turning every request into a panic.
pub fn add_saturating(at: OffsetDateTime, by: Duration) -> OffsetDateTime {
    at.checked_add(by).unwrap_or_else(|| {
        let bound =
            if by.is_negative() { time::PrimitiveDateTime::MIN } else { time::PrimitiveDateTime::MAX };
        bound.assume_utc()
    })
}

fn to_std(duration: Duration) -> std::time::Duration {
    if duration.is_negative() {
        std::time::Duration::ZERO
    } else {
        std::time::Duration::try_from(duration).unwrap_or(std::time::Duration::MAX)
    }
}
