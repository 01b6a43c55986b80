//! The simulated buyer wallet: accounts, balances and the ledger, payment codes, scenarios,
//! the buyer's confirmations and declines.

use super::*;

/// A balance as the CLI and companion show it: `value` is a string of minor units, as on the wire.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BalanceView {
    /// ISO 4217 code.
    pub currency: String,
    /// Minor units as a decimal string.
    pub value: String,
}

impl std::fmt::Display for BalanceView {
    /// People's form, e.g. `12.50 USD`; the raw minor units if the row is not a valid amount.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let amount = Currency::from_code(&self.currency)
            .ok()
            .zip(self.value.parse::<i64>().ok())
            .map(|(currency, value)| Amount::from_minor(currency, value));
        match amount {
            Some(amount) => write!(f, "{amount}"),
            None => write!(f, "{} {} (minor units)", self.value, self.currency),
        }
    }
}

/// A buyer account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    /// Account id, e.g. `buyer-1`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Balances.
    pub balances: Vec<BalanceView>,
    /// Current scenario name.
    pub scenario: String,
}

/// A freshly issued payment code.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCodeView {
    /// The digits.
    pub code: String,
    /// Buyer account id.
    pub account: String,
    /// Expiry, ISO 8601 `+08:00`.
    pub expires_at: String,
}

/// A payment waiting for the buyer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PendingView {
    /// Alipay+ paymentId (what `wallet confirm --payment` takes).
    pub payment_id: String,
    /// The ACQP's paymentRequestId.
    pub payment_request_id: String,
    /// Buyer account.
    pub account: String,
    /// Amount on the wire.
    pub amount: BalanceView,
    /// Human amount, e.g. `12.50 USD`.
    pub display_amount: String,
    /// Expiry.
    pub expires_at: String,
    /// Merchant name from the order, when given.
    pub merchant: Option<String>,
}

/// A ledger line for the companion's history.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    /// Row id.
    pub id: i64,
    /// Currency.
    pub currency: String,
    /// Signed minor units as a string.
    pub delta: String,
    /// `topup`, `payment`, `refund`, `cancel`.
    pub kind: String,
    /// paymentId / refundId.
    pub reference: Option<String>,
    /// When.
    pub at: String,
}

/// Per-currency totals for the ledger invariant `balances + paid − refunded = top-ups`.
/// Sums are 128-bit: several balances near the 64-bit limit add up past it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LedgerTotals {
    /// Sum of balances.
    pub balances: i128,
    /// Sum of successful (not cancelled) payments.
    pub paid: i128,
    /// Sum of successful refunds.
    pub refunded: i128,
    /// Sum of top-ups (including provisioning).
    pub topups: i128,
}

impl Store {
    /// All buyer accounts with balances.
    pub fn accounts(&self) -> Result<Vec<AccountView>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached("SELECT id, name, scenario FROM account ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut out = Vec::with_capacity(rows.len());
            for (id, name, scenario) in rows {
                out.push(AccountView { balances: balances(tx, &id)?, id, name, scenario });
            }
            Ok(out)
        })
    }

    /// One account.
    pub fn account(&self, id: &str) -> Result<AccountView> {
        self.accounts()?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("no buyer account {id:?}")))
    }

    /// Adds money to an account (a top-up in the ledger).
    pub fn topup(&self, account: &str, amount: &Amount, now: OffsetDateTime) -> Result<BalanceView> {
        self.write(|tx| {
            ensure_account(tx, account)?;
            // The sum is checked here, before SQL: past i64 SQLite would store a REAL.
            if let Err(message) = credit(tx, account, amount)? {
                return Err(StoreError::OutOfRange(format!("top-up refused: {message}")));
            }
            tx.execute_cached(
                "INSERT INTO ledger (account_id, currency, delta, kind, reference, at) VALUES (?1, ?2, ?3, 'topup', NULL, ?4)",
                params![account, amount.currency.code(), amount.value, to_millis(now)],
            )?;
            let value: i64 = tx.query_row_cached(
                "SELECT value FROM balance WHERE account_id = ?1 AND currency = ?2",
                params![account, amount.currency.code()],
                |r| r.get(0),
            )?;
            Ok(BalanceView {
                currency: amount.currency.code().to_string(),
                value: value.to_string(),
            })
        })
    }

    /// Sets an account's scenario.
    pub fn set_scenario(&self, account: &str, scenario: &Scenario) -> Result<()> {
        self.write(|tx| {
            ensure_account(tx, account)?;
            tx.execute_cached(
                "UPDATE account SET scenario = ?1 WHERE id = ?2",
                params![scenario.to_string(), account],
            )?;
            Ok(())
        })
    }

    /// Issues a one-time payment code for an account, valid for [`CODE_VALIDITY`].
    pub fn issue_code(&self, account: &str, now: OffsetDateTime) -> Result<IssuedCodeView> {
        self.issue_code_in_form(account, CodeForm::Digits24, now)
    }

    /// Issues a one-time code for a buyer in a given form: the 24-digit standard or one of the
    /// legacy 17/18/19-digit shapes (payment-codes.md §2.2), bound to the account like any other.
    pub fn issue_code_in_form(
        &self,
        account: &str,
        form: CodeForm,
        now: OffsetDateTime,
    ) -> Result<IssuedCodeView> {
        self.write(|tx| {
            let mut rng = self.id_source();
            let wallet: String = tx
                .query_row_cached("SELECT wallet FROM account WHERE id = ?1", params![account], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("no buyer account {account:?}")))?;
            let persona = persona_of(Some(&wallet))?;
            // A collision with an earlier code is astronomically unlikely; retry anyway.
            for _ in 0..5 {
                let issued = generate_payment_code(form, &persona, now, &mut *rng);
                let inserted = tx.execute_cached(
                    "INSERT OR IGNORE INTO code (code, account_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                    params![issued.value, account, to_millis(now), to_millis(issued.expires_at)],
                )?;
                if inserted == 1 {
                    return Ok(IssuedCodeView {
                        code: issued.value,
                        account: account.to_string(),
                        expires_at: format_instant(issued.expires_at),
                    });
                }
            }
            Err(StoreError::Invalid("could not generate a unique payment code".into()))
        })
    }

    /// Payments waiting for a buyer's confirmation.
    pub fn pending(&self, now: OffsetDateTime) -> Result<Vec<PendingView>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {PAYMENT_COLUMNS} FROM payment WHERE state = 'PROCESSING' AND account_id IS NOT NULL AND awaits_buyer = 1 AND expires_at > ?1 ORDER BY id"
            ))?;
            let rows = stmt
                .query_map(params![to_millis(now)], |r| Ok((payment_from_row(r)?, r.get::<_, Option<String>>(PAYMENT_COLUMN_COUNT)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows
                .into_iter()
                .map(|(p, body)| PendingView {
                    merchant: body.and_then(|b| merchant_name(&b)),
                    payment_id: p.payment_id,
                    payment_request_id: p.payment_request_id,
                    account: p.account_id.unwrap_or_default(),
                    display_amount: p.amount.to_string(),
                    amount: BalanceView {
                        currency: p.amount.currency.code().to_string(),
                        value: p.amount.value.to_string(),
                    },
                    expires_at: format_instant(p.expires_at),
                })
                .collect())
        })
    }

    /// The buyer confirms a waiting payment with a PIN. A wrong PIN fails the payment with
    /// `USER_PAYMENT_VERIFICATION_FAILED`; an insufficient balance with `USER_BALANCE_NOT_ENOUGH`.
    pub fn confirm(&self, payment_id: &str, pin: &str, now: OffsetDateTime) -> Result<PaymentRecord> {
        self.write(|tx| {
            let payment = waiting_payment(tx, payment_id, now)?;
            let account = payment.account_id.clone().unwrap_or_default();
            let expected: String =
                tx.query_row_cached("SELECT pin FROM account WHERE id = ?1", params![account], |r| r.get(0))?;
            if expected != pin {
                fail_payment(
                    tx,
                    &payment,
                    ResultCode::UserPaymentVerificationFailed,
                    "the buyer entered a wrong PIN",
                    now,
                )?;
            } else {
                debit_or_fail(tx, &payment, now)?;
            }
            load_payment_by_row(tx, payment.row)
        })
    }

    /// The buyer declines a waiting payment (`PROCESS_FAIL`, "the buyer declined").
    pub fn decline(&self, payment_id: &str, now: OffsetDateTime) -> Result<PaymentRecord> {
        self.write(|tx| {
            let payment = waiting_payment(tx, payment_id, now)?;
            fail_payment(tx, &payment, ResultCode::ProcessFail, "the buyer declined the payment", now)?;
            load_payment_by_row(tx, payment.row)
        })
    }

    /// An account's ledger, newest first.
    pub fn history(&self, account: &str, limit: u32) -> Result<Vec<LedgerEntry>> {
        self.read(|tx| {
            ensure_account(tx, account)?;
            let mut stmt = tx.prepare_cached(
                "SELECT id, currency, delta, kind, reference, at FROM ledger WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![account, limit], |r| {
                    Ok(LedgerEntry {
                        id: r.get(0)?,
                        currency: r.get(1)?,
                        delta: r.get::<_, i64>(2)?.to_string(),
                        kind: r.get(3)?,
                        reference: r.get(4)?,
                        at: format_instant(from_millis(r.get(5)?)),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Totals per currency for the ledger invariant.
    pub fn ledger_totals(&self) -> Result<std::collections::BTreeMap<String, LedgerTotals>> {
        self.read(|tx| {
            let mut out: std::collections::BTreeMap<String, LedgerTotals> = Default::default();
            // Summed in Rust as i128: SQLite's SUM fails with "integer overflow" past i64.
            let mut q = |sql: &str, f: fn(&mut LedgerTotals) -> &mut i128| -> Result<()> {
                let mut stmt = tx.prepare_cached(sql)?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    let total = f(out.entry(row.get::<_, String>(0)?).or_default());
                    *total = total.saturating_add(i128::from(row.get::<_, i64>(1)?));
                }
                Ok(())
            };
            q("SELECT currency, value FROM balance", |t| &mut t.balances)?;
            q("SELECT currency, amount FROM payment WHERE state = 'SUCCESS'", |t| &mut t.paid)?;
            q("SELECT currency, amount FROM refund WHERE result_code = 'SUCCESS'", |t| &mut t.refunded)?;
            q("SELECT currency, delta FROM ledger WHERE kind = 'topup'", |t| &mut t.topups)?;
            Ok(out)
        })
    }
}

pub(super) fn merchant_name(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let merchant = value.get("order")?.get("merchant")?;
    merchant
        .get("merchantDisplayName")
        .or_else(|| merchant.get("merchantName"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

pub(super) fn ensure_account(tx: &Connection, account: &str) -> Result<()> {
    let exists: Option<i64> = tx
        .query_row_cached("SELECT 1 FROM account WHERE id = ?1", params![account], |r| r.get(0))
        .optional()?;
    exists.map(|_| ()).ok_or_else(|| StoreError::NotFound(format!("no buyer account {account:?}")))
}

/// The balance an account would have after receiving `amount`, checked in Rust:
/// `Ok(Err(reason))` when it would pass the largest amount a balance can hold.
fn credited_balance(tx: &Connection, account: &str, amount: &Amount) -> Result<Result<i64, String>> {
    let current: Option<i64> = tx
        .query_row_cached(
            "SELECT value FROM balance WHERE account_id = ?1 AND currency = ?2",
            params![account, amount.currency.code()],
            |r| r.get(0),
        )
        .optional()?;
    let current = current.unwrap_or(0);
    Ok(current.checked_add(amount.value).filter(|v| *v >= 0).ok_or_else(|| {
        format!(
            "{account}'s {} balance {} plus {amount} is more than the largest balance Plusbox can hold ({})",
            amount.currency,
            Amount::from_minor(amount.currency, current),
            Amount::from_minor(amount.currency, i64::MAX)
        )
    }))
}

/// Whether `amount` can be credited to the account (see [`credited_balance`]).
pub(super) fn fits(tx: &Connection, account: &str, amount: &Amount) -> Result<Result<(), String>> {
    Ok(credited_balance(tx, account, amount)?.map(|_| ()))
}

/// Credits `amount` to an account, creating the balance row if needed. The sum is computed with
/// checked arithmetic first; `Ok(Err(reason))` (nothing written) when it would overflow.
pub(super) fn credit(tx: &Connection, account: &str, amount: &Amount) -> Result<Result<(), String>> {
    let value = match credited_balance(tx, account, amount)? {
        Ok(value) => value,
        Err(reason) => return Ok(Err(reason)),
    };
    tx.execute_cached(
        "INSERT INTO balance (account_id, currency, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (account_id, currency) DO UPDATE SET value = excluded.value",
        params![account, amount.currency.code(), value],
    )?;
    Ok(Ok(()))
}

fn balances(tx: &Connection, account: &str) -> Result<Vec<BalanceView>> {
    let mut stmt =
        tx.prepare_cached("SELECT currency, value FROM balance WHERE account_id = ?1 ORDER BY currency")?;
    let rows = stmt
        .query_map(params![account], |r| {
            Ok(BalanceView { currency: r.get(0)?, value: r.get::<_, i64>(1)?.to_string() })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn waiting_payment(tx: &Connection, payment_id: &str, now: OffsetDateTime) -> Result<PaymentRecord> {
    let payment = tx
        .query_row_cached(
            &format!("SELECT {PAYMENT_COLUMNS} FROM payment WHERE payment_id = ?1"),
            params![payment_id],
            payment_from_row,
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no payment {payment_id:?}")))?;
    let payment = settle_if_due(tx, payment, now)?;
    if payment.state != PayState::Processing || payment.account_id.is_none() || !payment.awaits_buyer {
        return Err(StoreError::Invalid(format!(
            "payment {payment_id} is not waiting for the buyer (state {})",
            payment.state.as_str()
        )));
    }
    Ok(payment)
}
