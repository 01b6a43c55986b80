//! Payment and merchant codes: generation, identification and the MPM payload formats.
//!
//! Everything here is pure: no IO, no clock, no global random source. Time is passed in by the
//! caller and randomness comes from a caller-supplied [`RandomSource`], so tests and demos can
//! seed it. Rendering and image decoding live in the `plusbox-companion` crate.
//!
//! Formats follow `reference/payment-codes.md`:
//! - [`upm`]: user-presented payment codes (24-digit CGCP and the legacy 17/18/19-digit forms),
//!   generation and the acquirer-side classifier (§2, §3);
//! - [`wallets`]: the issuer/routing table and wallet personas, loaded from data (§7);
//! - [`mpm`]: merchant-presented URL codes (order, entry and private order codes) and the wallet's
//!   identification order for any scanned text (§4.1–§4.5);
//! - [`gpld`]: the Alipay+ MPM code standard v3 (`GPLD`) encoder and decoder (§4.4);
//! - [`emv`]: the EMVCo merchant-presented QR encoder, decoder and validator with CRC-16 (§5);
//! - [`code128`]: Code 128 symbol values for numeric codes (§8).

pub mod code128;
pub mod emv;
pub mod gpld;
pub mod mpm;
mod tlv;
pub mod upm;
pub mod wallets;

pub use code128::{code128_symbols, group_digits, Code128Error, Code128Symbols};
pub use emv::{crc16_ccitt_false, EmvError, EmvObject, EmvPayload};
pub use gpld::{GpldError, GpldObject, GpldPayload, GpldSubObject, MpmCode};
pub use mpm::{identify_scanned, MpmContext, ScannedCode, UrlError};
pub use upm::{
    generate_payment_code, identify_payment_code, parse_payment_code, CodeFamily, CodeForm, Identification,
    IssuedCode, PaymentCode, PaymentCodeError, DEFAULT_CODE_VALIDITY,
};
pub use wallets::{CodeRule, Wallet, WalletTable, WalletTableError};

/// A source of random 64-bit words, supplied by the caller.
///
/// Core never picks its own randomness: the companion passes an OS-seeded generator, tests pass
/// a seeded one. Any `FnMut() -> u64` closure is a `RandomSource`.
pub trait RandomSource {
    /// Returns the next uniformly distributed 64-bit word.
    fn next_u64(&mut self) -> u64;
}

impl<F: FnMut() -> u64> RandomSource for F {
    fn next_u64(&mut self) -> u64 {
        self()
    }
}

/// Returns `count` uniformly distributed decimal digits drawn from `rng`.
///
/// Uses rejection sampling on blocks of 18 digits so that no digit value is favoured (a plain
/// `% 10` on each word would bias the low digits).
pub fn random_digits<R: RandomSource + ?Sized>(rng: &mut R, count: usize) -> String {
    const BLOCK: usize = 18;
    const BLOCK_MOD: u64 = 1_000_000_000_000_000_000; // 10^18
                                                      // Largest multiple of 10^18 that fits, so values below it map uniformly onto 0..10^18.
    const ZONE: u64 = (u64::MAX / BLOCK_MOD) * BLOCK_MOD;
    let mut out = String::with_capacity(count + BLOCK);
    while out.len() < count {
        let word = rng.next_u64();
        if word >= ZONE {
            continue;
        }
        let block = format!("{:018}", word % BLOCK_MOD);
        let take = (count - out.len()).min(BLOCK);
        out.push_str(&block[..take]);
    }
    out
}

/// Returns `count` random characters from `[0-9A-Za-z]`, drawn from `rng` without bias.
pub fn random_alphanumeric<R: RandomSource + ?Sized>(rng: &mut R, count: usize) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // 62 * 4 = 248 ≤ 256: take one byte at a time and reject 248..=255 to stay uniform.
    let mut out = String::with_capacity(count);
    while out.len() < count {
        let word = rng.next_u64();
        for byte in word.to_le_bytes() {
            if out.len() == count {
                break;
            }
            if byte < 248 {
                out.push(char::from(ALPHABET[usize::from(byte % 62)]));
            }
        }
    }
    out
}
