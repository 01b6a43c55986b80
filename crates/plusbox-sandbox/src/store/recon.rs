//! The store side of reconciliation (reconciliation.md §2): what a clearing cycle settles (read
//! from the payment and refund tables), the generated Transaction Detail Report files (kept, so
//! SFTP and HTTP serve exactly what was generated), the application's settlement settings and
//! its SFTP login.
//!
//! It builds no file itself: `crate::recon` turns these rows into the report.

use plusbox_core::money::{Amount, Currency};
use plusbox_core::secret::SecretString;
use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use super::{
    app_from_row, from_millis, get_meta, set_meta, to_millis, AppRecord, Cached, Result, Store, StoreError,
};

/// A successful payment or refund of a clearing cycle, with the `pay` request it came from.
#[derive(Debug, Clone)]
pub struct SettledTransaction {
    /// `true` for a refund row.
    pub is_refund: bool,
    /// paymentId or refundId.
    pub id: String,
    /// paymentRequestId or refundRequestId.
    pub request_id: String,
    /// paymentTime or refundTime.
    pub at: OffsetDateTime,
    /// The refunded payment's paymentId (refunds).
    pub payment_id: String,
    /// The refunded payment's paymentRequestId (refunds).
    pub payment_request_id: String,
    /// Amount of this transaction.
    pub amount: Amount,
    /// The wallet's pspId.
    pub psp_id: String,
    /// walletBrandName.
    pub wallet_brand_name: String,
    /// The payment's `pay` request body (merchant, store, order, scenario, settlement strategy).
    pub pay_request: Option<String>,
}

/// A generated file as stored.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredReconFile {
    /// Participant ID of the application.
    pub participant_id: String,
    /// Clearing date T, `YYYYMMDD`.
    pub clearing_date: String,
    /// Generation date T+1, `YYYYMMDD` (the folder name).
    pub generation_date: String,
    /// Settlement currency.
    pub currency: String,
    /// File name.
    pub name: String,
    /// Full path in the clearing tree.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was generated (sandbox time).
    pub generated_at: String,
}

/// An application's settlement settings (reconciliation.md §2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconSettings {
    /// Settlement currency of payments whose `pay` names none; `None` = their own currency.
    pub default_currency: Option<Currency>,
    /// Configured settlement currencies with their participantAgreementId: each gets a file
    /// every day, empty or not.
    pub currencies: Vec<(Currency, String)>,
}

/// An OpenSSH public key an application logs in to SFTP with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SftpKey {
    /// SHA-256 fingerprint as OpenSSH prints it (`SHA256:…`).
    pub fingerprint: String,
    /// Key algorithm, e.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`, `rsa-sha2-512`.
    pub algorithm: String,
    /// The key in OpenSSH one-line form without its comment.
    pub public_key: String,
    /// The comment of the key line (often `user@host`); empty if none.
    pub comment: String,
}

/// The SFTP (and HTTP download) login of an application.
#[derive(Debug, Clone)]
pub struct SftpLogin {
    /// The application.
    pub app_id: i64,
    /// Username (the Participant ID).
    pub username: String,
    /// Password, shown by `plusbox app show`.
    pub password: SecretString,
}

/// Length of a generated SFTP password (alphanumerics: about 119 bits).
const PASSWORD_LEN: usize = 20;

fn random_password() -> Result<SecretString> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0_u8; PASSWORD_LEN * 2];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| StoreError::Invalid("no randomness for the SFTP password".into()))?;
    // Rejection sampling over pairs of bytes keeps every character equally likely.
    let limit = (u16::MAX as usize / ALPHABET.len()) * ALPHABET.len();
    let mut out = String::with_capacity(PASSWORD_LEN);
    let mut extra = [0_u8; 2];
    for pair in bytes.chunks_exact(2) {
        let mut value = usize::from(u16::from_le_bytes([pair[0], pair[1]]));
        while value >= limit {
            aws_lc_rs::rand::fill(&mut extra).map_err(|_| StoreError::Invalid("no randomness".into()))?;
            value = usize::from(u16::from_le_bytes(extra));
        }
        out.push(char::from(ALPHABET[value % ALPHABET.len()]));
    }
    Ok(SecretString::new(out))
}

/// Equal-time comparison, so a wrong password's timing tells nothing of the right one.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (index, byte) in a.iter().enumerate() {
        diff |= usize::from(byte ^ b.get(index % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

impl Store {
    /// Every application (the daily run makes files for each).
    pub fn apps(&self) -> Result<Vec<AppRecord>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, client_id, acquirer_id, sandbox_private_key, sandbox_key_version, notify_url, magic_amounts FROM app ORDER BY id",
            )?;
            let apps = stmt.query_map([], app_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(apps)
        })
    }

    /// When the application was created (the first clearing date that can have files).
    pub fn app_created_at(&self, app_id: i64) -> Result<OffsetDateTime> {
        let at: i64 = self.read(|tx| {
            Ok(tx.query_row_cached("SELECT created_at FROM app WHERE id = ?1", params![app_id], |r| {
                r.get(0)
            })?)
        })?;
        Ok(from_millis(at))
    }

    /// Successful payments with `paymentTime` in `[from, to)` that are not cancelled, and
    /// successful refunds with `refundTime` in `[from, to)` (reconciliation.md §2.1).
    pub fn settled_transactions(
        &self,
        app_id: i64,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<SettledTransaction>> {
        let (from, to) = (to_millis(from), to_millis(to));
        self.read(|tx| {
            let mut out = Vec::new();
            let mut payments = tx.prepare_cached(
                "SELECT payment_id, payment_request_id, paid_at, currency, amount, psp_id, wallet_brand_name, request_body
                 FROM payment WHERE app_id = ?1 AND state = 'SUCCESS' AND paid_at >= ?2 AND paid_at < ?3",
            )?;
            let rows = payments.query_map(params![app_id, from, to], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            })?;
            for row in rows {
                let (id, request_id, at, currency, value, psp_id, brand, body) = row?;
                out.push(SettledTransaction {
                    is_refund: false,
                    payment_id: id.clone(),
                    payment_request_id: request_id.clone(),
                    id,
                    request_id,
                    at: from_millis(at),
                    amount: stored_amount(&currency, value)?,
                    psp_id,
                    wallet_brand_name: brand,
                    pay_request: body,
                });
            }
            let mut refunds = tx.prepare_cached(
                "SELECT r.refund_id, r.refund_request_id, r.created_at, r.currency, r.amount,
                        p.payment_id, p.payment_request_id, p.psp_id, p.wallet_brand_name, p.request_body
                 FROM refund r JOIN payment p ON p.id = r.payment_row
                 WHERE r.app_id = ?1 AND r.result_code = 'SUCCESS' AND r.created_at >= ?2 AND r.created_at < ?3",
            )?;
            let rows = refunds.query_map(params![app_id, from, to], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            })?;
            for row in rows {
                let (id, request_id, at, currency, value, payment_id, payment_request_id, psp_id, brand, body) = row?;
                out.push(SettledTransaction {
                    is_refund: true,
                    id,
                    request_id,
                    at: from_millis(at),
                    payment_id,
                    payment_request_id,
                    amount: stored_amount(&currency, value)?,
                    psp_id,
                    wallet_brand_name: brand,
                    pay_request: body,
                });
            }
            Ok(out)
        })
    }

    /// The application's settlement settings.
    pub fn recon_settings(&self, app_id: i64) -> Result<ReconSettings> {
        self.read(|tx| {
            let default: Option<String> = tx
                .query_row_cached(
                    "SELECT default_currency FROM recon_setting WHERE app_id = ?1",
                    params![app_id],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            let mut stmt = tx.prepare_cached(
                "SELECT currency, agreement_id FROM recon_currency WHERE app_id = ?1 ORDER BY currency",
            )?;
            let rows =
                stmt.query_map(params![app_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut currencies = Vec::new();
            for row in rows {
                let (code, agreement) = row?;
                currencies.push((stored_currency(&code)?, agreement));
            }
            Ok(ReconSettings {
                default_currency: default.as_deref().map(stored_currency).transpose()?,
                currencies,
            })
        })
    }

    /// Sets the settlement currency of payments whose `pay` names none (`None`: their own).
    pub fn set_default_settlement_currency(&self, app_id: i64, currency: Option<Currency>) -> Result<()> {
        self.write(|tx| {
            tx.execute_cached(
                "INSERT INTO recon_setting (app_id, default_currency) VALUES (?1, ?2)
                 ON CONFLICT (app_id) DO UPDATE SET default_currency = excluded.default_currency",
                params![app_id, currency.map(Currency::code)],
            )?;
            Ok(())
        })
    }

    /// Configures a settlement currency (a file every day) with its participantAgreementId.
    pub fn set_settlement_currency(&self, app_id: i64, currency: Currency, agreement: &str) -> Result<()> {
        if agreement.is_empty()
            || agreement.len() > 64
            || !agreement.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(StoreError::Invalid(format!(
                "participantAgreementId {agreement:?} must be 1 to 64 letters and digits (it is part of the file name)"
            )));
        }
        self.write(|tx| {
            tx.execute_cached(
                "INSERT INTO recon_currency (app_id, currency, agreement_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (app_id, currency) DO UPDATE SET agreement_id = excluded.agreement_id",
                params![app_id, currency.code(), agreement],
            )?;
            Ok(())
        })
    }

    /// Replaces the files of one clearing date with these (a regeneration gives the same bytes).
    pub fn save_recon_files(
        &self,
        app_id: i64,
        clearing_date: &str,
        generation_date: &str,
        files: &[(String, String, Vec<u8>)],
        now: OffsetDateTime,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute_cached(
                "DELETE FROM recon_file WHERE app_id = ?1 AND clearing_date = ?2",
                params![app_id, clearing_date],
            )?;
            for (currency, name, content) in files {
                tx.execute_cached(
                    "INSERT INTO recon_file (app_id, clearing_date, generation_date, currency, name, content, generated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![app_id, clearing_date, generation_date, currency, name, content, to_millis(now)],
                )?;
            }
            Ok(())
        })
    }

    /// Whether files exist for this clearing date.
    pub fn recon_generated(&self, app_id: i64, clearing_date: &str) -> Result<bool> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT 1 FROM recon_file WHERE app_id = ?1 AND clearing_date = ?2 LIMIT 1",
                    params![app_id, clearing_date],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .is_some())
        })
    }

    /// The application's generated files, newest clearing date first.
    pub fn recon_files(&self, app_id: i64) -> Result<Vec<StoredReconFile>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT a.acquirer_id, f.clearing_date, f.generation_date, f.currency, f.name, length(f.content), f.generated_at
                 FROM recon_file f JOIN app a ON a.id = f.app_id
                 WHERE f.app_id = ?1 ORDER BY f.clearing_date DESC, f.name",
            )?;
            let rows = stmt.query_map(params![app_id], |r| {
                let participant_id: String = r.get(0)?;
                let generation_date: String = r.get(2)?;
                let name: String = r.get(4)?;
                Ok(StoredReconFile {
                    path: format!("{}/{participant_id}/{generation_date}/{name}", plusbox_core::recon::CLEARING_ROOT),
                    participant_id,
                    clearing_date: r.get(1)?,
                    generation_date,
                    currency: r.get(3)?,
                    name,
                    size: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                    generated_at: plusbox_core::protocol::time::format_instant(from_millis(r.get(6)?)),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The content of the file `name` in the folder `generation_date` of the application.
    pub fn recon_file(&self, app_id: i64, generation_date: &str, name: &str) -> Result<Option<Vec<u8>>> {
        self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT content FROM recon_file WHERE app_id = ?1 AND generation_date = ?2 AND name = ?3",
                    params![app_id, generation_date, name],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    /// The application's SFTP login; the password is made on first ask and kept (owner-only
    /// database file, like the sandbox's private key: Developer Center shows it, so it cannot be
    /// stored hashed).
    pub fn sftp_login(&self, app_id: i64) -> Result<SftpLogin> {
        let fresh = random_password()?;
        self.write(|tx| {
            let username: String =
                tx.query_row_cached("SELECT acquirer_id FROM app WHERE id = ?1", params![app_id], |r| r.get(0))?;
            tx.execute_cached(
                "INSERT INTO recon_setting (app_id, sftp_password) VALUES (?1, ?2)
                 ON CONFLICT (app_id) DO UPDATE SET sftp_password = coalesce(sftp_password, excluded.sftp_password)",
                params![app_id, fresh.expose()],
            )?;
            let password: String = tx.query_row_cached(
                "SELECT sftp_password FROM recon_setting WHERE app_id = ?1",
                params![app_id],
                |r| r.get(0),
            )?;
            Ok(SftpLogin { app_id, username, password: SecretString::new(password) })
        })
    }

    /// Records where `serve --sftp` listens (`host:port`), or that it does not (`None`), for
    /// `plusbox app show`.
    pub fn set_sftp_address(&self, address: Option<&str>) -> Result<()> {
        self.write(|tx| set_meta(tx, "sftp_address", address.unwrap_or("")))
    }

    /// Where the SFTP server last listened, if it does.
    pub fn sftp_address(&self) -> Result<Option<String>> {
        Ok(self.read(|tx| get_meta(tx, "sftp_address"))?.filter(|a| !a.is_empty()))
    }

    /// The application whose SFTP login this is, or `None` (unknown user or wrong password).
    pub fn sftp_authenticate(&self, username: &str, password: &str) -> Result<Option<AppRecord>> {
        let found: Option<(i64, Option<String>)> = self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT a.id, s.sftp_password FROM app a LEFT JOIN recon_setting s ON s.app_id = a.id WHERE a.acquirer_id = ?1",
                    params![username],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })?;
        let Some((app_id, Some(stored))) = found else { return Ok(None) };
        if !same(stored.as_bytes(), password.as_bytes()) {
            return Ok(None);
        }
        self.app_by_id(app_id)
    }
}

impl Store {
    /// Replaces the application's SFTP public keys with `keys` (an empty list removes them all):
    /// the keys a client may log in with as this application (`plusbox app set-sftp-key`).
    pub fn set_sftp_keys(&self, app_id: i64, keys: &[SftpKey], now: OffsetDateTime) -> Result<()> {
        self.write(|tx| {
            let known: Option<i64> = tx
                .query_row_cached("SELECT id FROM app WHERE id = ?1", params![app_id], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                return Err(StoreError::NotFound(format!("no application {app_id}")));
            }
            tx.execute_cached("DELETE FROM sftp_key WHERE app_id = ?1", params![app_id])?;
            for key in keys {
                tx.execute_cached(
                    "INSERT OR IGNORE INTO sftp_key (app_id, fingerprint, algorithm, public_key, comment, added_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![app_id, key.fingerprint, key.algorithm, key.public_key, key.comment, to_millis(now)],
                )?;
            }
            Ok(())
        })
    }

    /// The application's SFTP public keys, oldest first (`plusbox app show`).
    pub fn sftp_keys(&self, app_id: i64) -> Result<Vec<SftpKey>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT fingerprint, algorithm, public_key, comment FROM sftp_key WHERE app_id = ?1
                 ORDER BY added_at, rowid",
            )?;
            let rows = stmt.query_map(params![app_id], |r| {
                Ok(SftpKey {
                    fingerprint: r.get(0)?,
                    algorithm: r.get(1)?,
                    public_key: r.get(2)?,
                    comment: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The application whose SFTP login `username` is, with the stored OpenSSH public key of
    /// fingerprint `fingerprint` if that application has it: `None` when the user is no
    /// application or the key is not one of its own (another application's key logs in nowhere).
    pub fn sftp_key_login(&self, username: &str, fingerprint: &str) -> Result<Option<(AppRecord, String)>> {
        let found: Option<(i64, String)> = self.read(|tx| {
            Ok(tx
                .query_row_cached(
                    "SELECT a.id, k.public_key FROM app a JOIN sftp_key k ON k.app_id = a.id
                     WHERE a.acquirer_id = ?1 AND k.fingerprint = ?2",
                    params![username, fingerprint],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })?;
        let Some((app_id, key)) = found else { return Ok(None) };
        Ok(self.app_by_id(app_id)?.map(|app| (app, key)))
    }
}

/// Drops the clearing files of the application of payment `payment_id` for every day its
/// payment and refunds fall in now or after moving `ms` milliseconds back (test aging): they no
/// longer match the records. The 08:00 worker or an on-demand generation makes them again.
pub(super) fn forget_files_of_aged(tx: &rusqlite::Transaction<'_>, payment_id: &str, ms: i64) -> Result<()> {
    let found: Option<(i64, i64, Option<i64>)> = tx
        .query_row_cached(
            "SELECT id, app_id, paid_at FROM payment WHERE payment_id = ?1",
            params![payment_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((row, app_id, paid_at)) = found else { return Ok(()) };
    let mut times: Vec<i64> = paid_at.into_iter().collect();
    let mut stmt = tx.prepare_cached("SELECT created_at FROM refund WHERE payment_row = ?1")?;
    for time in stmt.query_map(params![row], |r| r.get::<_, i64>(0))? {
        times.push(time?);
    }
    let mut days = std::collections::BTreeSet::new();
    for at in times {
        for moved in [Some(at), at.checked_sub(ms)].into_iter().flatten() {
            let day = plusbox_core::recon::clearing_date_of(from_millis(moved));
            days.insert(plusbox_core::recon::date_compact(day));
        }
    }
    for day in days {
        tx.execute_cached(
            "DELETE FROM recon_file WHERE app_id = ?1 AND clearing_date = ?2",
            params![app_id, day],
        )?;
    }
    Ok(())
}

fn stored_currency(code: &str) -> Result<Currency> {
    Currency::from_code(code).map_err(|e| StoreError::Invalid(format!("stored currency {code:?}: {e}")))
}

fn stored_amount(code: &str, value: i64) -> Result<Amount> {
    Ok(Amount::from_minor(stored_currency(code)?, value))
}
