//! Plusbox companion: the app side of Plusbox. The host-agnostic commands the UI calls
//! ([`commands`], run against any [`host::Host`], reaching a sandbox only through the companion
//! API with [`client::CompanionClient`]; errors are [`error::CommandError`]), `/rpc` for browsers
//! ([`rpc`], feature `rpc`), what a scanned code is ([`classify`]), and the IO half of payment
//! codes — rendering QR and Code 128 images ([`render`]) and decoding QR codes from images and
//! camera frames ([`scan`]) — plus a generated robustness corpus ([`corpus`]), the committed camera-photo corpus and its
//! comparison with zxing-cpp and zbar ([`photos`]), and a driver for the independent `zbarimg`
//! reader ([`zbar`]) used by tests and the benchmark. Guided test runs ([`runs`]) keep their
//! results in the companion's own SQLite ([`results`]), draw sequence diagrams ([`diagram`]) and
//! export JSON, JUnit and HTML ([`export`]).
//!
//! Pure code logic (formats, classification) is in `plusbox_core::codes`.

pub mod classify;
pub mod client;
pub mod commands;
pub mod corpus;
pub mod device_key;
pub mod diagram;
pub mod error;
pub mod export;
pub mod host;
pub mod keystore;
pub mod mpm;
pub mod photos;
pub mod render;
pub mod results;
#[cfg(feature = "rpc")]
pub mod rpc;
pub mod runs;
pub mod scan;
pub mod upload;
pub mod zbar;

/// A random source seeded by the operating system, for codes made outside tests.
///
/// Uses the standard library's per-process random hasher keys (taken from the OS) over a
/// counter, so no extra dependency is needed. Payment-code UINs and order-code tokens need
/// to be unpredictable and unique, not secret keys.
pub fn system_random() -> impl FnMut() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher as _;
    let state = RandomState::new();
    let mut counter = 0u64;
    move || {
        counter = counter.wrapping_add(1);
        state.hash_one(counter)
    }
}
