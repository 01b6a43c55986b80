//! Injected time. Every wait in the acquirer (poll intervals, expiry, retry pauses) runs on a
//! [`Clock`] from `plusbox-clock`, so tests can drive a [`TestClock`] instead of sleeping on the
//! wall clock.
//!
//! The acquirer holds its own clock rather than the sandbox's: the two meet only on the wire, like
//! a real ACQP and Alipay+, and a sandbox clock jump never moves the acquirer's time.

pub use plusbox_clock::{to_std, Clock, ScaledClock, SharedClock, Sleep, SystemClock, TestClock};
