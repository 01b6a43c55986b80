//! Plusbox domain logic: money, Alipay+ protocol messages, result codes, signing and payment codes.
//!
//! This crate does no network or disk IO and depends on no other Plusbox crate.

pub mod catalogue;
pub mod codes;
pub mod money;
pub mod protocol;
pub mod recon;
pub mod result_code;
pub mod secret;
pub mod signing;
