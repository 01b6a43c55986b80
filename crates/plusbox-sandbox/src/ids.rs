//! Identifiers and randomness: Client-Ids, Participant IDs, paymentId/refundId (§15), tokens.
//!
//! Digit and alphanumeric drawing is `plusbox_core::codes`'s (unbiased rejection sampling); this
//! module only supplies the random source and the sandbox's ID shapes.

use aws_lc_rs::rand::SecureRandom;
use plusbox_core::codes::{random_alphanumeric, random_digits, RandomSource};
use plusbox_core::protocol::time::PLUSBOX_OFFSET;
use time::OffsetDateTime;

/// OS randomness as a stream of 64-bit words.
#[derive(Debug, Default)]
pub struct SystemRng(aws_lc_rs::rand::SystemRandom);

impl SystemRng {
    /// A new generator.
    pub fn new() -> Self {
        SystemRng(aws_lc_rs::rand::SystemRandom::new())
    }
}

impl RandomSource for SystemRng {
    /// The next random word. The OS generator does not fail in practice; if it ever did, a
    /// time-derived word keeps IDs unique enough for a sandbox rather than crashing it.
    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        if self.0.fill(&mut bytes).is_err() {
            let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
            return (nanos as u64).rotate_left(17) ^ 0x9E37_79B9_7F4A_7C15;
        }
        u64::from_le_bytes(bytes)
    }
}

/// A seeded generator (SplitMix64): the same seed gives the same stream, so a seeded run gives
/// the same IDs (alipayplus-api.md §15). Not for secrets.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRng(seed)
    }
}

impl RandomSource for SeededRng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Where the store draws its identifiers from: the OS, or a seed for reproducible runs.
#[derive(Debug)]
pub enum IdRng {
    /// OS randomness (the default).
    System(SystemRng),
    /// A seeded stream.
    Seeded(SeededRng),
}

impl RandomSource for IdRng {
    fn next_u64(&mut self) -> u64 {
        match self {
            IdRng::System(rng) => rng.next_u64(),
            IdRng::Seeded(rng) => rng.next_u64(),
        }
    }
}

/// `count` random characters from `alphabet` (rejection sampling, so none is favoured).
fn from_alphabet(rng: &mut impl RandomSource, alphabet: &[u8], count: usize) -> String {
    let n = alphabet.len() as u64;
    let mut out = String::with_capacity(count);
    while out.len() < count {
        let word = rng.next_u64();
        if word >= u64::MAX - (u64::MAX % n) {
            continue;
        }
        out.push(char::from(alphabet[(word % n) as usize]));
    }
    out
}

/// A sandbox Client-Id: `SANDBOX_` + 17 upper-case letters/digits (§1.1).
pub fn client_id(rng: &mut impl RandomSource) -> String {
    format!("SANDBOX_{}", from_alphabet(rng, b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 17))
}

/// A Participant ID (acquirerId) in the shape of the documented samples.
pub fn participant_id(rng: &mut impl RandomSource) -> String {
    format!("1022{}", random_digits(rng, 12))
}

/// A paymentId/refundId: `yyyyMMdd` (UTC+8) + 15 digits (§15).
pub fn payment_id(now: OffsetDateTime, rng: &mut impl RandomSource) -> String {
    let date = now.to_offset(PLUSBOX_OFFSET).date();
    format!("{:04}{:02}{:02}{}", date.year(), u8::from(date.month()), date.day(), random_digits(rng, 15))
}

/// A companion device token: `pbx_` + 40 alphanumerics.
pub fn device_token(rng: &mut impl RandomSource) -> String {
    format!("pbx_{}", random_alphanumeric(rng, 40))
}

/// Lower-case hex SHA-256, how device tokens are stored.
pub fn sha256_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
