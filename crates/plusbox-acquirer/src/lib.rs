//! Plusbox's reference acquirer (ACQP) and POS simulator.
//!
//! A correct ACQP per the Alipay+ reference (`alipayplus-api.md`): UPM `pay`, `inquiryPayment`
//! polling with increasing intervals inside the payment expiry, `cancelPayment` retried until S,
//! `refund` with idempotent retries, a signed `notifyPayment` endpoint, response-signature
//! verification, and an order table where the first final result wins (§3). It meets the sandbox
//! only on the wire. Each rule can be broken on purpose by a named [`Fault`], so the test
//! catalogue can prove it catches that broken integration.
//!
//! - [`Acquirer`]: the engine (charge, refund, cancel, notify handling).
//! - [`server`]: `acquirer serve`, the POS-driver HTTP API and the notify endpoint.
//! - [`AcquirerConfig`]: the TOML configuration file.
//! - [`Store`]: the SQLite order table.

pub mod acquirer;
pub mod client;
pub mod clock;
pub mod clock_control;
pub mod config;
pub mod error;
pub mod faults;
pub mod pos_driver;
pub mod receipt;
pub mod reconcile;
pub mod server;
pub mod store;

pub use acquirer::{
    Acquirer, CancelRequest, ChargeRequest, CodeImage, DeclareOutcome, DeclareRequest, NotifyAck,
    OrderCodeRequest, OrderCodeSale, OrderCodeShown, RefundRequest, RegisterOutcome, RegisterRequest,
};
pub use clock::{Clock, ScaledClock, SharedClock, SystemClock, TestClock};
pub use config::{AcquirerConfig, MerchantConfig, Timing};
pub use error::AcquirerError;
pub use faults::{Fault, Faults, UnknownFault};
pub use pos_driver::{DriverError, PosDriver};
pub use store::{OrderState, PaymentRecord, RefundRecord, RegistrationRow, Store};
