//! Injected time for the sandbox. The parts (the trait, wall, scaled and test clocks, checked
//! arithmetic) come from `plusbox-clock`, shared with the reference acquirer; what is the
//! sandbox's own is where its jump ahead lives: in the store, so a running server, the CLI
//! (`plusbox clock advance`) and a test runner in another process all see one sandbox time.
//! Only the sandbox's time moves: an external acquirer keeps its own clock, as it would against
//! Alipay+.

pub use plusbox_clock::{
    add_saturating, Clock, OffsetStore, ScaledClock, SharedClock, Sleep, SystemClock, TestClock,
};

use crate::store::{Store, StoreError};

/// Sandbox time: an underlying clock plus the jump ahead kept in the store
/// ([`Store::advance_clock`], bounded by [`crate::store::MAX_CLOCK_OFFSET`]).
pub type OffsetClock = plusbox_clock::OffsetClock<Store>;

impl OffsetStore for Store {
    type Error = StoreError;

    fn offset(&self) -> Result<time::Duration, StoreError> {
        self.clock_offset()
    }

    fn advance(&self, by: time::Duration) -> Result<time::Duration, StoreError> {
        self.advance_clock(by)
    }
}
