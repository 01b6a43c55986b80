//! Injected time for Plusbox. Every deadline in the sandbox (code and payment expiry,
//! notification retries, the cancel and refund windows, `slow:N` delays) and every wait in the
//! reference acquirer (poll intervals, expiry, retry pauses) runs on a [`Clock`], so tests move a
//! [`TestClock`] instead of sleeping, demos and benchmarks compress time with a [`ScaledClock`],
//! and the sandbox jumps its own time ahead with an [`OffsetClock`].
//!
//! The sandbox and the acquirer each hold their own clock built from these parts: they meet only
//! on the wire, like a real ACQP and Alipay+, and one's jump never moves the other.
//!
//! All arithmetic on instants is checked: a jump or a duration that would leave the representable
//! range holds at its bound ([`add_saturating`]) instead of panicking, because time must never
//! fail a request.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
        self.sleep_until(add_saturating(self.now(), duration))
    }
    /// How many clock seconds pass per real second (1 for the wall clock, the scale of a
    /// compressed clock), so a remote reader can follow it without guessing from samples.
    fn pace(&self) -> f64 {
        1.0
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

/// Wall-clock time running `scale` times faster from the moment it was made (demos, `serve
/// --time-scale`, the suite benchmark): with scale 60, a 60 s payment expiry passes in one real
/// second.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    origin: OffsetDateTime,
    started: Instant,
    scale: f64,
}

impl ScaledClock {
    /// A clock starting at the real now and running `scale` times as fast (values ≤ 0, NaN and
    /// infinity mean 1).
    pub fn new(scale: f64) -> Self {
        Self::anchored(OffsetDateTime::now_utc(), Instant::now(), scale)
    }

    /// A clock that reads `origin` at the real instant `started` and runs `scale` times as fast
    /// from there: set once from another clock (as a real ACQP's clock is set by NTP), then on
    /// its own, never following that clock's jumps.
    pub fn anchored(origin: OffsetDateTime, started: Instant, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        ScaledClock { origin, started, scale }
    }

    /// How many times faster than the wall clock this clock runs.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> OffsetDateTime {
        let real = self.started.elapsed().as_secs_f64() * self.scale;
        add_saturating(self.origin, Duration::checked_seconds_f64(real).unwrap_or(Duration::MAX))
    }

    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep {
        let wait = (deadline - self.now()).as_seconds_f64() / self.scale;
        let wait = Duration::checked_seconds_f64(wait).unwrap_or(Duration::MAX);
        Box::pin(tokio::time::sleep(to_std(wait)))
    }

    fn pace(&self) -> f64 {
        self.scale
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

    /// Moves time forward by `by` (held at the last representable instant) and wakes every
    /// sleeper whose deadline has passed.
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

/// Where an [`OffsetClock`] keeps its jump ahead, shared by every process that must agree on the
/// time (the sandbox keeps it in its SQLite file, so the server, the CLI and a test runner all see
/// one clock).
pub trait OffsetStore: Send + Sync + 'static {
    /// Why reading or changing the offset failed.
    type Error;
    /// The current offset.
    fn offset(&self) -> Result<Duration, Self::Error>;
    /// Moves the offset by `by` (checked and bounded by the store) and returns the new offset.
    fn advance(&self, by: Duration) -> Result<Duration, Self::Error>;
}

/// How long a read offset is trusted before the store is asked again (real time).
const OFFSET_REREAD: std::time::Duration = std::time::Duration::from_millis(20);

/// How often a sleeper re-checks the offset for jumps made by other processes (real time).
const OFFSET_RECHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// An underlying clock plus a jump ahead kept in an [`OffsetStore`] (`plusbox clock advance`).
/// Each instance re-reads the offset at most every 20 ms, so a jump made by another process is
/// seen by the next request; sleepers wake early when time jumps past their deadline.
pub struct OffsetClock<S: OffsetStore> {
    shared: Arc<OffsetShared<S>>,
}

impl<S: OffsetStore> Clone for OffsetClock<S> {
    fn clone(&self) -> Self {
        OffsetClock { shared: Arc::clone(&self.shared) }
    }
}

struct OffsetShared<S> {
    inner: SharedClock,
    store: Arc<S>,
    /// The last offset read and when (`None`: never read).
    cached: Mutex<(Duration, Option<Instant>)>,
    tick: watch::Sender<Duration>,
}

impl<S: OffsetStore> std::fmt::Debug for OffsetClock<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffsetClock").field("offset", &self.shared.cached_offset()).finish_non_exhaustive()
    }
}

impl<S: OffsetStore> OffsetShared<S> {
    fn cached_offset(&self) -> Duration {
        self.cached.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    /// The offset, re-read from the store when the cached value is older than [`OFFSET_REREAD`].
    /// A failed read keeps the last value: time must never fail.
    fn offset(&self) -> Duration {
        let last = {
            let guard = self.cached.lock().unwrap_or_else(|e| e.into_inner());
            match guard.1 {
                Some(at) if at.elapsed() < OFFSET_REREAD => return guard.0,
                _ => guard.0,
            }
        };
        let offset = self.store.offset().unwrap_or(last);
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

impl<S: OffsetStore> OffsetClock<S> {
    /// `inner` jumped ahead by the offset kept in `store`.
    pub fn new(inner: SharedClock, store: Arc<S>) -> Self {
        let (tick, _) = watch::channel(Duration::ZERO);
        let shared = OffsetShared { inner, store, cached: Mutex::new((Duration::ZERO, None)), tick };
        OffsetClock { shared: Arc::new(shared) }
    }

    /// Re-reads the offset now (a request starts: a jump made by another process a moment ago
    /// must count).
    pub fn sync(&self) {
        if let Ok(offset) = self.shared.store.offset() {
            self.shared.remember(offset);
        }
    }

    /// The current jump ahead of the underlying clock.
    pub fn offset(&self) -> Duration {
        self.shared.offset()
    }

    /// Moves time `by` ahead (persisted by the store) and wakes this clock's sleepers at once;
    /// other instances over the same store see it within their re-read interval.
    pub fn advance(&self, by: Duration) -> Result<Duration, S::Error> {
        let offset = self.shared.store.advance(by)?;
        self.shared.remember(offset);
        Ok(offset)
    }
}

impl<S: OffsetStore> Clock for OffsetClock<S> {
    fn now(&self) -> OffsetDateTime {
        add_saturating(self.shared.inner.now(), self.shared.offset())
    }

    fn pace(&self) -> f64 {
        self.shared.inner.pace()
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

/// `at + by`, held at the first or last representable instant instead of panicking. Stores keep
/// their offsets far inside the range, so in practice this never saturates; it is what keeps a bad
/// value from turning every request into a panic.
pub fn add_saturating(at: OffsetDateTime, by: Duration) -> OffsetDateTime {
    at.checked_add(by).unwrap_or_else(|| {
        let bound =
            if by.is_negative() { time::PrimitiveDateTime::MIN } else { time::PrimitiveDateTime::MAX };
        bound.assume_utc()
    })
}

/// A `time::Duration` as a `std::time::Duration`: negative as zero, too long as the longest.
pub fn to_std(duration: Duration) -> std::time::Duration {
    if duration.is_negative() {
        std::time::Duration::ZERO
    } else {
        std::time::Duration::try_from(duration).unwrap_or(std::time::Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use time::macros::datetime;

    const START: OffsetDateTime = datetime!(2025-03-10 12:00 UTC);

    /// An in-memory offset store that can be told to fail reads.
    #[derive(Default)]
    struct MemoryOffset {
        offset: Mutex<Duration>,
        broken: AtomicBool,
    }

    impl OffsetStore for MemoryOffset {
        type Error = String;
        fn offset(&self) -> Result<Duration, String> {
            if self.broken.load(Ordering::SeqCst) {
                return Err("store unreachable".into());
            }
            Ok(*self.offset.lock().unwrap())
        }
        fn advance(&self, by: Duration) -> Result<Duration, String> {
            let mut offset = self.offset.lock().unwrap();
            *offset = offset.checked_add(by).ok_or("offset out of range")?;
            Ok(*offset)
        }
    }

    /// Polls `sleep` once without waiting: whether it has resolved.
    async fn resolved(sleep: &mut Sleep) -> bool {
        tokio::time::timeout(std::time::Duration::ZERO, sleep.as_mut()).await.is_ok()
    }

    #[test]
    fn adding_past_the_representable_range_holds_at_the_bound() {
        let late = time::PrimitiveDateTime::MAX.assume_utc();
        assert_eq!(add_saturating(late, Duration::days(1)), late);
        let early = time::PrimitiveDateTime::MIN.assume_utc();
        assert_eq!(add_saturating(early, Duration::days(-1)), early);
        assert_eq!(add_saturating(START, Duration::MAX), late);
        assert_eq!(add_saturating(START, Duration::hours(25)), datetime!(2025-03-11 13:00 UTC));
    }

    #[test]
    fn negative_durations_become_zero_and_huge_ones_the_longest_std_duration() {
        assert_eq!(to_std(Duration::seconds(-5)), std::time::Duration::ZERO);
        assert_eq!(to_std(Duration::milliseconds(1500)), std::time::Duration::from_millis(1500));
        assert_eq!(to_std(Duration::MAX), std::time::Duration::try_from(Duration::MAX).unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_test_clock_sleeper_wakes_only_once_time_reaches_its_deadline() {
        let clock = TestClock::new(START);
        let mut sleep = clock.sleep(Duration::seconds(60));
        assert!(!resolved(&mut sleep).await);
        clock.advance(Duration::seconds(59));
        assert!(!resolved(&mut sleep).await);
        clock.advance(Duration::seconds(1));
        assert!(resolved(&mut sleep).await);
        assert_eq!(clock.now(), datetime!(2025-03-10 12:01 UTC));
    }

    #[tokio::test(start_paused = true)]
    async fn a_test_clock_set_moves_time_either_way() {
        let clock = TestClock::new(START);
        let mut sleep = clock.sleep_until(datetime!(2025-03-11 00:00 UTC));
        clock.set(datetime!(2025-03-09 00:00 UTC));
        assert_eq!(clock.now(), datetime!(2025-03-09 00:00 UTC));
        assert!(!resolved(&mut sleep).await);
        clock.set(datetime!(2025-03-12 00:00 UTC));
        assert!(resolved(&mut sleep).await);
        // Advancing past the end of time holds at the end instead of panicking.
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), time::PrimitiveDateTime::MAX.assume_utc());
    }

    #[test]
    fn a_scaled_clock_starts_at_its_origin_and_never_runs_backwards() {
        let anchored = ScaledClock::anchored(START, Instant::now(), 1000.0);
        let first = anchored.now();
        assert!(first >= START);
        assert!(anchored.now() >= first);
        for bad in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            assert_eq!(ScaledClock::new(bad).scale(), 1.0);
        }
        assert_eq!(ScaledClock::new(60.0).scale(), 60.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_scaled_clock_deadline_already_passed_resolves_at_once() {
        let clock = ScaledClock::anchored(START, Instant::now(), 60.0);
        let mut sleep = clock.sleep_until(datetime!(2025-03-10 11:00 UTC));
        assert!(resolved(&mut sleep).await);
    }

    #[tokio::test(start_paused = true)]
    async fn an_offset_clock_adds_the_stored_jump_and_wakes_sleepers_it_passes() {
        let base = TestClock::new(START);
        let store = Arc::new(MemoryOffset::default());
        let clock = OffsetClock::new(Arc::new(base.clone()), Arc::clone(&store));
        assert_eq!(clock.now(), START);
        let mut sleep = clock.sleep(Duration::hours(25));
        assert!(!resolved(&mut sleep).await);
        assert_eq!(clock.advance(Duration::hours(25)).unwrap(), Duration::hours(25));
        assert_eq!(clock.now(), datetime!(2025-03-11 13:00 UTC));
        assert!(resolved(&mut sleep).await);
        // The underlying clock still moves under the jump.
        base.advance(Duration::seconds(1));
        assert_eq!(clock.now(), datetime!(2025-03-11 13:00:01 UTC));
    }

    #[test]
    fn an_offset_clock_keeps_its_last_offset_when_the_store_cannot_be_read() {
        let store = Arc::new(MemoryOffset::default());
        let clock = OffsetClock::new(Arc::new(TestClock::new(START)), Arc::clone(&store));
        clock.advance(Duration::minutes(5)).unwrap();
        store.broken.store(true, Ordering::SeqCst);
        clock.sync();
        // Past the re-read interval, so the next read goes to the (failing) store.
        std::thread::sleep(OFFSET_REREAD * 2);
        assert_eq!(clock.offset(), Duration::minutes(5));
        assert_eq!(clock.now(), datetime!(2025-03-10 12:05 UTC));
    }

    #[test]
    fn an_offset_clock_sees_a_jump_made_by_another_instance_after_sync() {
        let store = Arc::new(MemoryOffset::default());
        let base: SharedClock = Arc::new(TestClock::new(START));
        let here = OffsetClock::new(Arc::clone(&base), Arc::clone(&store));
        let there = OffsetClock::new(base, Arc::clone(&store));
        assert_eq!(here.now(), START);
        there.advance(Duration::days(2)).unwrap();
        here.sync();
        assert_eq!(here.now(), datetime!(2025-03-12 12:00 UTC));
    }

    #[test]
    fn a_jump_the_store_refuses_leaves_the_clock_where_it_was() {
        let store = Arc::new(MemoryOffset::default());
        let clock = OffsetClock::new(Arc::new(TestClock::new(START)), Arc::clone(&store));
        clock.advance(Duration::MAX).unwrap();
        assert!(clock.advance(Duration::seconds(1)).is_err());
        assert_eq!(clock.offset(), Duration::MAX);
    }
}
