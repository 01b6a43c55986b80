//! The acquirer's settable clock behind the POS driver's `/clock` (`docs/pos-driver.md`). A test
//! case that judges the ACQP's own time rules (its cancel-window check) puts a sale at a chosen
//! time of day on the acquirer's clock; the sandbox's clock and records never move, so every
//! other merchant on the same sandbox is untouched. `DELETE /clock` returns to the base clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::clock::{Clock, SharedClock, Sleep};
use crate::error::AcquirerError;

/// How far from the base clock the clock may be set (a year and a month either way): enough for
/// any window rule, and far from the edges of time arithmetic.
pub const MAX_SHIFT: Duration = Duration::days(400);

/// The base clock (system, scaled or test) plus a shift that the POS driver sets.
pub struct ShiftedClock {
    base: SharedClock,
    /// The shift in milliseconds (0: the base clock's time).
    shift_ms: AtomicI64,
}

impl std::fmt::Debug for ShiftedClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShiftedClock").field("shift_ms", &self.shift_ms.load(Ordering::Relaxed)).finish()
    }
}

impl ShiftedClock {
    /// The base clock, not shifted.
    pub fn new(base: SharedClock) -> Arc<ShiftedClock> {
        Arc::new(ShiftedClock { base, shift_ms: AtomicI64::new(0) })
    }

    /// The current shift from the base clock.
    pub fn shift(&self) -> Duration {
        Duration::milliseconds(self.shift_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock so that it reads `at` now; refused beyond [`MAX_SHIFT`] from the base.
    pub fn set(&self, at: OffsetDateTime) -> Result<Duration, AcquirerError> {
        let shift = at - self.base.now();
        if shift.abs() > MAX_SHIFT {
            return Err(AcquirerError::BadRequest(format!(
                "clock: {at} is more than {} days from the acquirer's base clock",
                MAX_SHIFT.whole_days()
            )));
        }
        let ms = i64::try_from(shift.whole_milliseconds())
            .map_err(|_| AcquirerError::BadRequest("clock: shift out of range".to_owned()))?;
        self.shift_ms.store(ms, Ordering::Relaxed);
        Ok(shift)
    }

    /// Back to the base clock.
    pub fn reset(&self) {
        self.shift_ms.store(0, Ordering::Relaxed);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        let base = self.base.now();
        base.checked_add(self.shift()).unwrap_or(base)
    }

    /// Waits on the base clock for the base instant that reads `deadline` under the shift as it
    /// is now; a sleeper started before the shift changes keeps its old deadline.
    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep {
        let base_deadline = deadline.checked_sub(self.shift()).unwrap_or(deadline);
        self.base.sleep_until(base_deadline)
    }

    fn pace(&self) -> f64 {
        self.base.pace()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestClock;
    use time::macros::datetime;

    #[test]
    fn set_moves_now_and_reset_returns_to_the_base() {
        let base = Arc::new(TestClock::new(datetime!(2026-03-10 12:00 UTC)));
        let clock = ShiftedClock::new(base.clone());
        let shift = clock.set(datetime!(2026-03-10 23:59:30 UTC)).map_err(|e| e.to_string());
        assert_eq!(shift, Ok(Duration::seconds(11 * 3600 + 59 * 60 + 30)));
        assert_eq!(clock.now(), datetime!(2026-03-10 23:59:30 UTC));
        base.advance(Duration::minutes(21));
        assert_eq!(clock.now(), datetime!(2026-03-11 00:20:30 UTC));
        clock.reset();
        assert_eq!(clock.now(), datetime!(2026-03-10 12:21 UTC));
    }

    #[test]
    fn a_shift_beyond_the_limit_is_refused_and_changes_nothing() {
        let base = Arc::new(TestClock::new(datetime!(2026-03-10 12:00 UTC)));
        let clock = ShiftedClock::new(base);
        let refused = clock.set(datetime!(2028-03-10 12:00 UTC));
        assert!(
            matches!(refused, Err(AcquirerError::BadRequest(ref m)) if m.contains("400 days")),
            "{refused:?}"
        );
        assert_eq!(clock.now(), datetime!(2026-03-10 12:00 UTC));
    }
}
