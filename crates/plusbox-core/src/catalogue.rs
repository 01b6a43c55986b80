//! The acceptance test catalogue: the case model, loading case files, and judging a run.
//!
//! A case is data (one TOML file per case in `testcases/`): an id, the rule it proves, how the
//! wallet scenario is arranged, the steps a person (or the headless runner) walks through, and
//! typed checks — no expression language. [`evaluate`] judges a run from the sandbox traffic
//! log and the final states the engine gathered, and gives `PASS`, `FAIL`, `INCOMPLETE` or
//! `ERROR` with a reason per check that names the traffic entries (`#id`) it rests on.
//!
//! ```
//! use plusbox_core::catalogue::{evaluate, load_case, Outcome, RunInput};
//! let text = r#"
//! id = "UPM-DOC-001"
//! title = "Pay is called"
//! product = "UPM"
//! required = true
//! proves = "The POS calls pay (alipayplus-api.md §4)"
//! [setup]
//! amount = "12.50 USD"
//! [[steps]]
//! instruction = "Scan the code"
//! pos = { action = "charge" }
//! wait = { kind = "api", api = "pay", within = "15s" }
//! [[checks]]
//! kind = "called"
//! name = "pay-called"
//! api = "pay"
//! "#;
//! let case = load_case("UPM-DOC-001.toml", text).map_err(|e| format!("{e:?}"))?;
//! let verdict = evaluate(&case, &RunInput { finished: true, ..RunInput::default() });
//! assert_eq!(verdict.verdict, Outcome::Fail);
//! # Ok::<(), String>(())
//! ```

mod eval;
mod input;
mod load;
mod model;

pub use eval::{evaluate, CheckResult, Outcome, Verdict};
pub use input::{Evidence, PaymentSnapshot, PosOutcome, RefundSnapshot, RunInput, RunMode, TrafficEntry};
pub use load::{load_case, CaseError, Catalogue, CatalogueErrors};
pub use model::{
    AcquirerClock, Api, Capability, Case, CaseAmount, CaseDuration, CaseId, Check, Code, CodeKind,
    DisputeStart, DisputeStartKind, EventRef, MockSetup, Occurrence, PaymentState, PosAction, Product,
    RefundAmount, ResultStatus, Setup, Shows, SignatureDirection, Step, UtcTimeOfDay, Wait, WalletAction,
    WalletScenario, WhichPayment,
};
