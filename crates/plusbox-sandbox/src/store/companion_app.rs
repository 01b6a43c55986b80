//! Store side of the companion app: paired devices (listing, revocation, last seen), pairing
//! tickets (a link token and a short code, single use, ten minutes, rate-limited guesses), and the
//! wallet views the UI needs beyond the first companion API (history with states, pending
//! payments with merchant and store, who owns an issued code, recent payment states).
//!
//! A child module of `store`, so it uses the store's connections and helpers without widening
//! their visibility.

use plusbox_core::codes::RandomSource;
use plusbox_core::protocol::time::format_instant;
use plusbox_core::secret::SecretString;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::{ensure_account, from_millis, merchant_name, to_millis, Cached, Result, Store, StoreError};
use crate::ids;

/// How long a pairing link or short code stays valid.
pub const PAIRING_VALIDITY: Duration = Duration::minutes(10);

/// Wrong pairing codes accepted per minute (across all callers) before every attempt is refused
/// for the rest of that minute. An 8-character code from a 31-letter alphabet has 8.5 × 10¹¹
/// values; at ten guesses a minute a ten-minute code cannot be found by guessing.
pub const PAIRING_FAILURES_PER_MINUTE: i64 = 10;

/// The short code's alphabet: digits and capitals without 0/O, 1/I/L, so it reads aloud and
/// types on a phone without confusion.
pub const SHORT_CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Length of a short pairing code (shown as two groups of four).
pub const SHORT_CODE_LEN: usize = 8;

/// How often `last_seen_at` is written: a device that calls every second does not write every
/// second.
const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

/// A paired companion device.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    /// Row id, what `plusbox app revoke` takes.
    pub id: i64,
    /// The name given when pairing.
    pub name: String,
    /// When it was paired.
    pub created_at: String,
    /// When it last used the companion API (minute resolution).
    pub last_seen_at: Option<String>,
    /// When it was revoked; a revoked device's token is refused.
    pub revoked_at: Option<String>,
}

/// What a presented device token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAuth {
    /// A paired device.
    Active(DeviceView),
    /// A device that was revoked.
    Revoked(DeviceView),
    /// No device has this token.
    Unknown,
}

/// A pairing ticket: either secret pairs one device once, until `expires_at`.
#[derive(Debug, Clone)]
pub struct PairingTicket {
    /// The short code to type in (`SHORT_CODE_LEN` characters of [`SHORT_CODE_ALPHABET`]).
    pub short_code: SecretString,
    /// The long token carried by the pairing link (`…/#pair=<token>`).
    pub link_token: SecretString,
    /// Expiry.
    pub expires_at: OffsetDateTime,
}

/// The result of presenting a pairing code.
#[derive(Debug, Clone)]
pub enum Redeemed {
    /// A new device and its token (shown once, stored hashed).
    Paired {
        /// The device.
        device: DeviceView,
        /// Its token.
        token: SecretString,
    },
    /// No unused, unexpired ticket has this code.
    Invalid,
    /// Too many wrong codes in the last minute; nothing was checked.
    TooManyAttempts,
}

/// One line of a buyer's wallet history.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WalletHistoryEntry {
    /// Stable id: `payment:<paymentId>`, `refund:<refundId>`, `ledger:<row>`.
    pub id: String,
    /// `payment`, `refund`, `topup` or `cancel` (a paid payment given back by cancelPayment).
    pub kind: String,
    /// `SUCCESS`, `FAILED`, `PROCESSING`, `CLOSED` or `CANCELLED` for payments; `SUCCESS` or
    /// `FAILED` for refunds; `SUCCESS` for top-ups and cancel credits.
    pub state: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Signed minor units: what it does (or would do) to the balance.
    pub delta: String,
    /// paymentId or refundId.
    pub reference: Option<String>,
    /// Merchant name from the order, for payments and refunds.
    pub merchant_name: Option<String>,
    /// Result code of a failed payment or refund.
    pub result_code: Option<String>,
    /// When it happened.
    pub at: String,
    /// Sort key (milliseconds), newest first.
    #[serde(skip)]
    pub at_millis: i64,
    /// Second sort key: the row id in its table (later rows first within a millisecond).
    #[serde(skip)]
    pub row: i64,
}

/// A payment waiting for the buyer, with what a confirm screen shows.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PendingDetail {
    /// paymentId.
    pub payment_id: String,
    /// Buyer account.
    pub account_id: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Minor units.
    pub value: String,
    /// Merchant display name, when the order gives one.
    pub merchant_name: Option<String>,
    /// Store name, when the order gives one.
    pub store_name: Option<String>,
    /// When `pay` arrived.
    pub created_at: String,
    /// When the payment expires.
    pub expires_at: String,
    /// Whether confirming needs the buyer's PIN (every waiting payment does today).
    pub needs_pin: bool,
}

/// Who owns an issued payment code.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CodeOwner {
    /// Buyer account.
    pub account_id: String,
    /// Its display name.
    pub account_name: String,
    /// When the code expires.
    pub expires_at: String,
    /// Whether a payment already used it.
    pub used: bool,
}

/// A payment's current state, for change notifications.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PaymentState {
    /// paymentId.
    pub payment_id: String,
    /// Buyer account.
    pub account_id: String,
    /// `PROCESSING`, `SUCCESS`, …
    pub state: String,
}

fn device_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceView> {
    Ok(DeviceView {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: format_instant(from_millis(r.get(2)?)),
        last_seen_at: r.get::<_, Option<i64>>(3)?.map(|at| format_instant(from_millis(at))),
        revoked_at: r.get::<_, Option<i64>>(4)?.map(|at| format_instant(from_millis(at))),
    })
}

const DEVICE_COLUMNS: &str = "id, name, created_at, last_seen_at, revoked_at";

/// Upper-cases a typed short code and drops separators (`abcd-efgh` → `ABCDEFGH`).
pub fn normalize_short_code(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, ' ' | '-' | '\t')).map(|c| c.to_ascii_uppercase()).collect()
}

fn short_code(rng: &mut impl RandomSource) -> String {
    let n = SHORT_CODE_ALPHABET.len() as u64;
    let mut out = String::with_capacity(SHORT_CODE_LEN);
    while out.len() < SHORT_CODE_LEN {
        let word = rng.next_u64();
        // Rejection sampling keeps every letter equally likely.
        if word >= u64::MAX - (u64::MAX % n) {
            continue;
        }
        let index = usize::try_from(word % n).unwrap_or(0);
        out.push(char::from(SHORT_CODE_ALPHABET[index]));
    }
    out
}

impl Store {
    /// Creates a device directly (the CLI's `app pair --token` and tests): the token is returned
    /// once and stored only as a SHA-256 hash.
    pub fn create_device_view(&self, name: &str, now: OffsetDateTime) -> Result<(DeviceView, SecretString)> {
        let mut rng = ids::SystemRng::new();
        let token = SecretString::new(ids::device_token(&mut rng));
        let hash = ids::sha256_hex(token.expose());
        let device = self.write(|tx| {
            tx.execute_cached(
                "INSERT INTO device (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
                params![name, hash, to_millis(now)],
            )?;
            let id = tx.last_insert_rowid();
            Ok(tx.query_row_cached(
                &format!("SELECT {DEVICE_COLUMNS} FROM device WHERE id = ?1"),
                params![id],
                device_from_row,
            )?)
        })?;
        Ok((device, token))
    }

    /// Looks a presented token up and records that the device was seen (at most once a minute).
    pub fn authenticate_device(&self, token: &str, now: OffsetDateTime) -> Result<DeviceAuth> {
        let hash = ids::sha256_hex(token);
        let found = self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    &format!("SELECT {DEVICE_COLUMNS} FROM device WHERE token_hash = ?1"),
                    params![hash],
                    |r| Ok((device_from_row(r)?, r.get::<_, Option<i64>>(3)?)),
                )
                .optional()?)
        })?;
        let Some((device, seen)) = found else { return Ok(DeviceAuth::Unknown) };
        if device.revoked_at.is_some() {
            return Ok(DeviceAuth::Revoked(device));
        }
        let now_ms = to_millis(now);
        if seen.is_none_or(|seen| now_ms.saturating_sub(seen) >= LAST_SEEN_RESOLUTION_MS) {
            self.write(|tx| {
                tx.execute_cached(
                    "UPDATE device SET last_seen_at = ?1 WHERE id = ?2",
                    params![now_ms, device.id],
                )?;
                Ok(())
            })?;
        }
        Ok(DeviceAuth::Active(device))
    }

    /// Every device ever paired, revoked ones included, oldest first.
    pub fn devices(&self) -> Result<Vec<DeviceView>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!("SELECT {DEVICE_COLUMNS} FROM device ORDER BY id"))?;
            let rows = stmt.query_map([], device_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Revokes a device: its token is refused from now on. Revoking twice keeps the first time.
    pub fn revoke_device(&self, id: i64, now: OffsetDateTime) -> Result<DeviceView> {
        self.write(|tx| {
            let changed = tx.execute_cached(
                "UPDATE device SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
                params![to_millis(now), id],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("no device {id}")));
            }
            Ok(tx.query_row_cached(
                &format!("SELECT {DEVICE_COLUMNS} FROM device WHERE id = ?1"),
                params![id],
                device_from_row,
            )?)
        })
    }

    /// Creates a pairing ticket (link token and short code), valid for [`PAIRING_VALIDITY`].
    pub fn create_pairing(&self, name: &str, now: OffsetDateTime) -> Result<PairingTicket> {
        let mut rng = ids::SystemRng::new();
        let expires_at = now.checked_add(PAIRING_VALIDITY).unwrap_or(now);
        self.write(|tx| {
            // Old tickets are useless; keep the table small.
            tx.execute_cached(
                "DELETE FROM pairing WHERE expires_at < ?1 OR used_at IS NOT NULL",
                params![to_millis(now)],
            )?;
            // A short-code collision with a live ticket is unlikely; draw again if it happens.
            for _ in 0..8 {
                let code = short_code(&mut rng);
                let link = ids::device_token(&mut rng).replacen("pbx_", "pair_", 1);
                let inserted = tx.execute_cached(
                    "INSERT OR IGNORE INTO pairing (code_hash, link_hash, name, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![ids::sha256_hex(&code), ids::sha256_hex(&link), name, to_millis(now), to_millis(expires_at)],
                )?;
                if inserted == 1 {
                    return Ok(PairingTicket {
                        short_code: SecretString::new(code),
                        link_token: SecretString::new(link),
                        expires_at,
                    });
                }
            }
            Err(StoreError::Invalid("could not draw a unique pairing code".into()))
        })
    }

    /// Limits the device a pairing ticket (by its link token) creates to these cases.
    pub fn set_pairing_cases(&self, link_token: &str, cases: &[String]) -> Result<()> {
        let list = serde_json::to_string(cases).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let changed = self.write(|tx| {
            Ok(tx.execute_cached(
                "UPDATE pairing SET cases = ?1 WHERE link_hash = ?2",
                params![list, ids::sha256_hex(link_token)],
            )?)
        })?;
        if changed == 0 {
            return Err(StoreError::NotFound("no such pairing ticket".into()));
        }
        Ok(())
    }

    /// Limits a device to these cases (an empty list lifts the limit).
    pub fn set_device_cases(&self, device_id: i64, cases: &[String]) -> Result<()> {
        let list = serde_json::to_string(cases).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.write(|tx| {
            if cases.is_empty() {
                tx.execute_cached("DELETE FROM device_cases WHERE device_id = ?1", params![device_id])?;
            } else {
                tx.execute_cached(
                    "INSERT INTO device_cases (device_id, cases) VALUES (?1, ?2)
                     ON CONFLICT (device_id) DO UPDATE SET cases = excluded.cases",
                    params![device_id, list],
                )?;
            }
            Ok(())
        })
    }

    /// The cases a device may run; empty: every case.
    pub fn device_cases(&self, device_id: i64) -> Result<Vec<String>> {
        let list: Option<String> = self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT cases FROM device_cases WHERE device_id = ?1",
                    params![device_id],
                    |r| r.get(0),
                )
                .optional()?)
        })?;
        Ok(list.and_then(|l| serde_json::from_str(&l).ok()).unwrap_or_default())
    }

    /// Presents a short code or link token: on a match, marks the ticket used and creates a
    /// device named `device_name` (else the ticket's name). Wrong codes count towards
    /// [`PAIRING_FAILURES_PER_MINUTE`].
    pub fn redeem_pairing(
        &self,
        presented: &str,
        device_name: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Redeemed> {
        let presented = presented.trim();
        let candidate = if presented.starts_with("pair_") {
            presented.to_string()
        } else {
            normalize_short_code(presented)
        };
        let now_ms = to_millis(now);
        let mut rng = ids::SystemRng::new();
        let token = SecretString::new(ids::device_token(&mut rng));
        let token_hash = ids::sha256_hex(token.expose());
        let outcome = self.write(|tx| {
            let window = now_ms.saturating_sub(60_000);
            tx.execute_cached("DELETE FROM pairing_failure WHERE at < ?1", params![window])?;
            let failures: i64 = tx.query_row_cached("SELECT COUNT(*) FROM pairing_failure", [], |r| r.get(0))?;
            if failures >= PAIRING_FAILURES_PER_MINUTE {
                return Ok(None);
            }
            let hash = ids::sha256_hex(&candidate);
            let ticket: Option<(i64, String, Option<String>)> = tx
                .query_row_cached(
                    "SELECT id, name, cases FROM pairing WHERE (code_hash = ?1 OR link_hash = ?1) AND used_at IS NULL AND expires_at > ?2",
                    params![hash, now_ms],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((ticket, ticket_name, cases)) = ticket else {
                tx.execute_cached("INSERT INTO pairing_failure (at) VALUES (?1)", params![now_ms])?;
                return Ok(Some(None));
            };
            let name = device_name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(&ticket_name);
            let name: String = name.chars().take(64).collect();
            tx.execute_cached(
                "INSERT INTO device (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
                params![name, token_hash, now_ms],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute_cached(
                "UPDATE pairing SET used_at = ?1, device_id = ?2 WHERE id = ?3",
                params![now_ms, id, ticket],
            )?;
            if let Some(cases) = cases {
                tx.execute_cached(
                    "INSERT INTO device_cases (device_id, cases) VALUES (?1, ?2)",
                    params![id, cases],
                )?;
            }
            let device = tx.query_row_cached(
                &format!("SELECT {DEVICE_COLUMNS} FROM device WHERE id = ?1"),
                params![id],
                device_from_row,
            )?;
            Ok(Some(Some(device)))
        })?;
        Ok(match outcome {
            None => Redeemed::TooManyAttempts,
            Some(None) => Redeemed::Invalid,
            Some(Some(device)) => Redeemed::Paired { device, token },
        })
    }

    /// Payments waiting for the buyer, with merchant, store and creation time.
    pub fn pending_details(&self, now: OffsetDateTime) -> Result<Vec<PendingDetail>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT payment_id, account_id, currency, amount, request_body, created_at, expires_at FROM payment
                 WHERE state = 'PROCESSING' AND account_id IS NOT NULL AND awaits_buyer = 1 AND expires_at > ?1 ORDER BY id",
            )?;
            let rows = stmt
                .query_map(params![to_millis(now)], |r| {
                    let body: Option<String> = r.get(4)?;
                    Ok(PendingDetail {
                        payment_id: r.get(0)?,
                        account_id: r.get(1)?,
                        currency: r.get(2)?,
                        value: r.get::<_, i64>(3)?.to_string(),
                        merchant_name: body.as_deref().and_then(merchant_name),
                        store_name: body.as_deref().and_then(store_name),
                        created_at: format_instant(from_millis(r.get(5)?)),
                        expires_at: format_instant(from_millis(r.get(6)?)),
                        needs_pin: true,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// A buyer's payments (every state), refunds, top-ups and cancel credits, newest first.
    pub fn wallet_history(&self, account: &str, limit: u32) -> Result<Vec<WalletHistoryEntry>> {
        self.read(|tx| {
            ensure_account(tx, account)?;
            let mut out = Vec::new();
            let mut payments = tx.prepare_cached(
                "SELECT payment_id, state, currency, amount, fail_code, request_body, created_at, id FROM payment
                 WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = payments.query_map(params![account, limit], |r| {
                let payment_id: String = r.get(0)?;
                let body: Option<String> = r.get(5)?;
                let at: i64 = r.get(6)?;
                Ok(WalletHistoryEntry {
                    id: format!("payment:{payment_id}"),
                    kind: "payment".into(),
                    state: r.get(1)?,
                    currency: r.get(2)?,
                    delta: r.get::<_, i64>(3)?.checked_neg().unwrap_or(i64::MIN).to_string(),
                    reference: Some(payment_id),
                    merchant_name: body.as_deref().and_then(merchant_name),
                    result_code: r.get(4)?,
                    at: format_instant(from_millis(at)),
                    at_millis: at,
                    row: r.get(7)?,
                })
            })?;
            out.extend(rows.collect::<rusqlite::Result<Vec<_>>>()?);
            let mut refunds = tx.prepare_cached(
                "SELECT r.refund_id, r.result_code, r.currency, r.amount, p.request_body, r.created_at, r.id FROM refund r
                 JOIN payment p ON p.id = r.payment_row WHERE p.account_id = ?1 ORDER BY r.id DESC LIMIT ?2",
            )?;
            let rows = refunds.query_map(params![account, limit], |r| {
                let refund_id: String = r.get(0)?;
                let code: String = r.get(1)?;
                let body: Option<String> = r.get(4)?;
                let at: i64 = r.get(5)?;
                let success = code == "SUCCESS";
                Ok(WalletHistoryEntry {
                    id: format!("refund:{refund_id}"),
                    kind: "refund".into(),
                    state: if success { "SUCCESS".into() } else { "FAILED".into() },
                    currency: r.get(2)?,
                    delta: r.get::<_, i64>(3)?.to_string(),
                    reference: Some(refund_id),
                    merchant_name: body.as_deref().and_then(merchant_name),
                    result_code: (!success).then_some(code),
                    at: format_instant(from_millis(at)),
                    at_millis: at,
                    row: r.get(6)?,
                })
            })?;
            out.extend(rows.collect::<rusqlite::Result<Vec<_>>>()?);
            let mut ledger = tx.prepare_cached(
                "SELECT id, kind, currency, delta, reference, at FROM ledger
                 WHERE account_id = ?1 AND kind IN ('topup', 'cancel') ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = ledger.query_map(params![account, limit], |r| {
                let at: i64 = r.get(5)?;
                Ok(WalletHistoryEntry {
                    id: format!("ledger:{}", r.get::<_, i64>(0)?),
                    kind: r.get(1)?,
                    state: "SUCCESS".into(),
                    currency: r.get(2)?,
                    delta: r.get::<_, i64>(3)?.to_string(),
                    reference: r.get(4)?,
                    merchant_name: None,
                    result_code: None,
                    at: format_instant(from_millis(at)),
                    at_millis: at,
                    row: r.get(0)?,
                })
            })?;
            out.extend(rows.collect::<rusqlite::Result<Vec<_>>>()?);
            // Newest first; within a millisecond, the later row first.
            out.sort_by(|a, b| b.at_millis.cmp(&a.at_millis).then_with(|| b.row.cmp(&a.row)));
            out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok(out)
        })
    }

    /// Who owns an issued payment code, if this sandbox issued it.
    pub fn code_owner(&self, code: &str) -> Result<Option<CodeOwner>> {
        let digits: String = code.chars().filter(char::is_ascii_digit).collect();
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT c.account_id, a.name, c.expires_at, c.used_by IS NOT NULL FROM code c
                     JOIN account a ON a.id = c.account_id WHERE c.code = ?1",
                    params![digits],
                    |r| {
                        Ok(CodeOwner {
                            account_id: r.get(0)?,
                            account_name: r.get(1)?,
                            expires_at: format_instant(from_millis(r.get(2)?)),
                            used: r.get(3)?,
                        })
                    },
                )
                .optional()?)
        })
    }

    /// The states of the most recent payments that belong to a buyer account, newest first.
    pub fn recent_payment_states(&self, limit: u32) -> Result<Vec<PaymentState>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT payment_id, account_id, state FROM payment WHERE account_id IS NOT NULL ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map(params![limit], |r| {
                    Ok(PaymentState { payment_id: r.get(0)?, account_id: r.get(1)?, state: r.get(2)? })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

fn store_name(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    value.get("order")?.get("merchant")?.get("store")?.get("storeName")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_short_code_pairs_once_and_expires_after_ten_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = datetime!(2026-01-01 00:00 UTC);
        let ticket = store.create_pairing("phone", now).unwrap();
        let code = ticket.short_code.expose().to_lowercase();
        assert!(matches!(store.redeem_pairing(&code, None, now).unwrap(), Redeemed::Paired { .. }));
        assert!(matches!(store.redeem_pairing(&code, None, now).unwrap(), Redeemed::Invalid));
        let late = store.create_pairing("late", now).unwrap();
        let after = now + PAIRING_VALIDITY + Duration::seconds(1);
        assert!(matches!(
            store.redeem_pairing(late.link_token.expose(), None, after).unwrap(),
            Redeemed::Invalid
        ));
    }

    #[test]
    fn wrong_codes_are_rate_limited_even_for_a_right_code() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = datetime!(2026-01-01 00:00 UTC);
        let ticket = store.create_pairing("phone", now).unwrap();
        for _ in 0..PAIRING_FAILURES_PER_MINUTE {
            assert!(matches!(store.redeem_pairing("WRONGCOD", None, now).unwrap(), Redeemed::Invalid));
        }
        let code = ticket.short_code.expose();
        assert!(matches!(store.redeem_pairing(code, None, now).unwrap(), Redeemed::TooManyAttempts));
        let later = now + Duration::seconds(61);
        assert!(matches!(store.redeem_pairing(code, None, later).unwrap(), Redeemed::Paired { .. }));
    }

    #[test]
    fn a_revoked_token_is_told_apart_from_an_unknown_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = datetime!(2026-01-01 00:00 UTC);
        let (device, token) = store.create_device_view("phone", now).unwrap();
        assert!(matches!(store.authenticate_device(token.expose(), now).unwrap(), DeviceAuth::Active(_)));
        store.revoke_device(device.id, now).unwrap();
        assert!(matches!(store.authenticate_device(token.expose(), now).unwrap(), DeviceAuth::Revoked(_)));
        assert_eq!(store.authenticate_device("pbx_nope", now).unwrap(), DeviceAuth::Unknown);
        assert!(matches!(store.revoke_device(999, now), Err(StoreError::NotFound(_))));
        assert_eq!(store.devices().unwrap().len(), 1);
    }
}
