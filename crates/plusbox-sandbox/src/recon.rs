//! Generation of the clearing files (reconciliation.md §2): for each application, settlement
//! currency and clearing date T (00:00–23:59:59 UTC+8 on the sandbox clock) one Transaction Detail
//! Report, made by the daily run at 08:00 UTC+8 on T+1 ([`run`], supervised in `serve`) or on
//! demand for any past date ([`generate`]). Files are kept in the store; the SFTP server and the
//! HTTP download serve them from there.
//!
//! The format itself is `plusbox_core::recon`; this module only decides what goes in.

use std::collections::BTreeMap;
use std::sync::Arc;

use plusbox_core::money::{Amount, Currency};
use plusbox_core::recon::{self as format, DetailRow, TransactionType};
use serde_json::Value;
use time::{Date, Duration, OffsetDateTime};
use tokio::sync::watch;

use crate::store::{AppRecord, SettledTransaction, Store, StoreError, StoredReconFile};
use crate::Shared;

/// The settlement currency files are made for when an application configured none.
pub const DEFAULT_FILE_CURRENCY: Currency = Currency::USD;

/// How many clearing dates back the daily run catches up after a pause or a clock jump (files
/// older than 7 days may be deleted on Alipay+ anyway, §1.1).
pub const CATCH_UP_DAYS: i64 = 7;

/// Why files could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The date's cycle has not ended on the sandbox clock.
    #[error("the clearing cycle of {date} has not ended yet on the sandbox clock (it is now {now}); files exist only for past dates")]
    NotPast {
        /// Asked date.
        date: String,
        /// Sandbox now.
        now: String,
    },
    /// The report could not be built.
    #[error(transparent)]
    Format(#[from] format::ReconError),
}

/// Generates (or regenerates, byte for byte the same) the files of clearing date `date` for the
/// application. The cycle must have ended at `now`.
pub fn generate(
    store: &Store,
    app: &AppRecord,
    date: Date,
    now: OffsetDateTime,
) -> Result<Vec<StoredReconFile>, GenerateError> {
    let not_past = || GenerateError::NotPast {
        date: format::date_compact(date),
        now: plusbox_core::protocol::time::format_instant(now),
    };
    let (start, end) = format::cycle(date).ok_or_else(not_past)?;
    if now < end {
        return Err(not_past());
    }
    let settings = store.recon_settings(app.id)?;
    let transactions = store.settled_transactions(app.id, start, end)?;
    let mut by_currency: BTreeMap<Currency, Vec<DetailRow>> = BTreeMap::new();
    for (currency, _) in &settings.currencies {
        by_currency.entry(*currency).or_default();
    }
    if let Some(currency) = settings.default_currency {
        by_currency.entry(currency).or_default();
    }
    if by_currency.is_empty() {
        by_currency.entry(DEFAULT_FILE_CURRENCY).or_default();
    }
    for transaction in &transactions {
        let row = detail_row(transaction, settings.default_currency);
        by_currency.entry(row.settlement_amount.currency).or_default().push(row);
    }
    let clearing = format::date_compact(date);
    let generation = format::date_compact(date.next_day().ok_or_else(not_past)?);
    let mut files = Vec::new();
    for (currency, rows) in by_currency {
        let agreement = settings
            .currencies
            .iter()
            .find(|(c, _)| *c == currency)
            .map_or_else(|| format::default_agreement_id(currency), |(_, a)| a.clone());
        for file in format::build(&app.acquirer_id, currency, &agreement, date, rows)? {
            files.push((currency.code().to_owned(), file.name, file.text.into_bytes()));
        }
    }
    store.save_recon_files(app.id, &clearing, &generation, &files, now)?;
    Ok(store.recon_files(app.id)?.into_iter().filter(|f| f.clearing_date == clearing).collect())
}

/// Generates every file that is due at `now` and not made yet: for each application, the
/// clearing dates whose 08:00 T+1 run has passed, back at most [`CATCH_UP_DAYS`], never before
/// the application existed. Returns what it made.
pub fn generate_due(store: &Store, now: OffsetDateTime) -> Result<Vec<StoredReconFile>, GenerateError> {
    let Some(latest) = format::latest_due(now) else { return Ok(Vec::new()) };
    let mut made = Vec::new();
    for app in store.apps()? {
        let first = format::clearing_date_of(store.app_created_at(app.id)?);
        for back in (0..CATCH_UP_DAYS).rev() {
            let Some(date) = latest.checked_sub(Duration::days(back)) else { continue };
            if date < first || store.recon_generated(app.id, &format::date_compact(date))? {
                continue;
            }
            made.extend(generate(store, &app, date, now)?);
        }
    }
    Ok(made)
}

/// One detail row from a stored transaction: merchant, store, order and scenario from its `pay`
/// request; settled in `settlementStrategy.settlementCurrency`, else the application's default,
/// else its own currency; converted with the fixed rate table (a currency without a rate settles
/// in its own currency).
fn detail_row(t: &SettledTransaction, default_currency: Option<Currency>) -> DetailRow {
    let request: Value =
        t.pay_request.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    let text = |pointer: &str| request.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_owned();
    let asked = request
        .pointer("/settlementStrategy/settlementCurrency")
        .and_then(Value::as_str)
        .and_then(|c| Currency::from_code(c).ok())
        .or(default_currency);
    let (settlement_amount, quote) = match asked.and_then(|to| format::convert(t.amount, to)) {
        Some((settled, quote)) => (settled, Some(quote)),
        None => (t.amount, None),
    };
    let scenario = match text("/paymentFactor/inStorePaymentScenario") {
        s if s.is_empty() => "PaymentCode".to_owned(),
        s => s,
    };
    let method = match text("/paymentMethod/paymentMethodType") {
        s if s.is_empty() => "CONNECT_WALLET".to_owned(),
        s => s,
    };
    // The file carries times to the second; sorting on the truncated time keeps the order the
    // reader sees.
    let at = t.at.replace_nanosecond(0).unwrap_or(t.at);
    DetailRow {
        transaction_id: t.id.clone(),
        transaction_request_id: t.request_id.clone(),
        transaction_type: if t.is_refund { TransactionType::Refund } else { TransactionType::Payment },
        transaction_time: at,
        original_transaction_id: if t.is_refund { t.payment_id.clone() } else { String::new() },
        original_transaction_request_id: if t.is_refund {
            t.payment_request_id.clone()
        } else {
            String::new()
        },
        counter_participant_id: t.psp_id.clone(),
        wallet_brand_name: t.wallet_brand_name.clone(),
        payment_method_type: method,
        in_store_payment_scenario: scenario,
        reference_merchant_id: text("/order/merchant/referenceMerchantId"),
        merchant_name: text("/order/merchant/merchantName"),
        merchant_mcc: text("/order/merchant/merchantMCC"),
        reference_store_id: text("/order/merchant/store/referenceStoreId"),
        store_terminal_id: text("/order/env/storeTerminalId"),
        reference_order_id: text("/order/referenceOrderId"),
        transaction_amount: t.amount,
        settlement_amount: Amount::from_minor(settlement_amount.currency, settlement_amount.value),
        quote,
    }
}

/// How often the daily run re-checks at most, for clock jumps made by other processes (the CLI).
const RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// The daily run: makes what is due, sleeps on the sandbox clock until the next 08:00 UTC+8
/// (or [`RECHECK`], for a jump made elsewhere), until shutdown. A failure is logged and retried
/// on the next round; the supervisor restarts it if it ends.
pub(crate) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let worker = Arc::clone(&shared);
        let made = tokio::task::spawn_blocking(move || {
            worker.sync_clock();
            let now = worker.now();
            generate_due(&worker.store, now).map(|made| (made, now))
        })
        .await;
        let now = match made {
            Ok(Ok((made, now))) => {
                for file in &made {
                    tracing::info!(path = %file.path, size = file.size, "reconciliation file generated");
                }
                now
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "reconciliation files could not be generated; retrying later");
                shared.now()
            }
            Err(error) => {
                tracing::warn!(%error, "reconciliation task failed; retrying later");
                shared.now()
            }
        };
        let today = format::clearing_date_of(now);
        let next = format::generation_time(today.previous_day().unwrap_or(today))
            .filter(|at| *at > now)
            .or_else(|| format::generation_time(today));
        let sleep = match next {
            Some(at) => shared.config.clock.sleep_until(at),
            None => shared.config.clock.sleep(Duration::DAY),
        };
        tokio::select! {
            _ = sleep => {}
            _ = tokio::time::sleep(RECHECK) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
