//! The reference acquirer's side of reconciliation (reconciliation.md §2): download the clearing
//! files of a day from the sandbox with the application's SFTP login (over SFTP, russh client,
//! when the server's address is configured; else over the sandbox's HTTP mirror of the SFTP
//! tree), check them against the format, and compare every row with the
//! acquirer's own order table: each settled payment and refund must be in the file with the same
//! amount, and the file must hold nothing the acquirer does not know.
//!
//! The file holds every merchant of the application's day, and on a shared sandbox other
//! acquirers' merchants pay the same day: the acquirer reconciles the rows of the merchant it
//! serves (`merchant.reference_merchant_id`) and counts the others' rows apart, never as a
//! difference.
//!
//! Two fault switches of the one switch board ([`crate::Fault`]) make the classic mistakes, so a
//! test case shows that its reconciliation check catches them: `recon-counts-cancelled` and
//! `recon-ignores-refunds`. They touch only this client, never a payment.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use plusbox_core::money::Amount;
use plusbox_core::protocol::time::parse_instant;
use plusbox_core::recon::{self, TransactionType};
use serde::Serialize;
use time::Date;

use crate::error::AcquirerError;
use crate::faults::{Fault, Faults};
use crate::store::{OrderState, Store};

/// Where and how to download the files.
#[derive(Debug, Clone)]
pub struct Download {
    /// The sandbox's base URL (the gateway URL).
    pub base_url: String,
    /// SFTP username (the Participant ID).
    pub username: String,
    /// SFTP password.
    pub password: String,
    /// The SFTP server (`host:port`) and its pinned host key fingerprint; None: the HTTP mirror.
    pub sftp: Option<(String, Option<String>)>,
}

/// One difference between the file and the order table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    /// `missing-in-file`, `unknown-to-acquirer` or `amount-differs`.
    pub kind: &'static str,
    /// `PAYMENT` or `REFUND`.
    pub transaction_type: &'static str,
    /// paymentRequestId or refundRequestId.
    pub transaction_request_id: String,
    /// What differs.
    pub detail: String,
}

/// The outcome of reconciling one clearing date.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconReport {
    /// `RECONCILED` (no difference) or `DIFFERENCES`.
    pub state: &'static str,
    /// Clearing date, `YYYYMMDD`.
    pub clearing_date: String,
    /// The merchant reconciled (`referenceMerchantId`).
    pub merchant: String,
    /// The files read.
    pub files: Vec<String>,
    /// Rows that matched an order.
    pub matched: usize,
    /// Matched PAYMENT rows.
    pub matched_payments: usize,
    /// Matched REFUND rows.
    pub matched_refunds: usize,
    /// Σ transaction amounts of the matched payments per currency (minor units).
    pub matched_payment_amount: BTreeMap<String, i64>,
    /// Σ transaction amounts of the matched refunds per currency (minor units).
    pub matched_refund_amount: BTreeMap<String, i64>,
    /// Rows of other merchants of the application, not reconciled here.
    pub other_merchant_rows: usize,
    /// Everything that did not.
    pub differences: Vec<Difference>,
    /// The faults switched on.
    pub faults: Vec<&'static str>,
}

impl ReconReport {
    /// Whether the day reconciles.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

/// A file listed by the sandbox.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    participant_id: String,
    clearing_date: String,
    generation_date: String,
    name: String,
}

/// Downloads the clearing files of `date` (every settlement currency): over SFTP when the server
/// is configured, else over the HTTP mirror.
pub async fn download(how: &Download, date: Date) -> Result<Vec<(String, Vec<u8>)>, AcquirerError> {
    let Some((address, host_key)) = &how.sftp else { return download_http(how, date).await };
    let files = sftp::download(address, host_key.as_deref(), how, date).await?;
    if !files.is_empty() {
        return Ok(files);
    }
    // None yet: a past day Plusbox makes on demand (see download_http), then read it over SFTP.
    download_http(how, date).await?;
    sftp::download(address, host_key.as_deref(), how, date).await
}

/// Downloads the clearing files of `date` over the HTTP mirror of the SFTP tree.
async fn download_http(how: &Download, date: Date) -> Result<Vec<(String, Vec<u8>)>, AcquirerError> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| AcquirerError::Config(format!("HTTP client: {e}")))?;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", how.username, how.password))
    );
    let base = how.base_url.trim_end_matches('/');
    let get = |url: String| http.get(url).header("authorization", auth.clone()).send();
    let failed = |what: &str, e: &dyn fmt::Display| AcquirerError::Config(format!("downloading {what}: {e}"));
    let response =
        get(format!("{base}/app/v1/recon/files")).await.map_err(|e| failed("the file list", &e))?;
    if !response.status().is_success() {
        return Err(failed("the file list", &format!("HTTP {} (check the SFTP login)", response.status())));
    }
    let body = response.bytes().await.map_err(|e| failed("the file list", &e))?;
    #[derive(serde::Deserialize)]
    struct Listing {
        files: Vec<Listed>,
    }
    let mut listing: Listing = serde_json::from_slice(&body).map_err(|e| failed("the file list", &e))?;
    let wanted = recon::date_compact(date);
    if !listing.files.iter().any(|f| f.clearing_date == wanted) {
        // Plusbox makes a past day's file on demand (Alipay+ makes each at 08:00 T+1 by
        // itself): a day before the application existed, or one whose records a test aged into
        // it. A day not yet past stays without a file.
        let made = http
            .post(format!("{base}/app/v1/recon/generate"))
            .header("authorization", auth.clone())
            .json(&serde_json::json!({"date": wanted}))
            .send()
            .await
            .map_err(|e| failed("the day's file", &e))?;
        if made.status().is_success() {
            let body = made.bytes().await.map_err(|e| failed("the day's file", &e))?;
            listing = serde_json::from_slice(&body).map_err(|e| failed("the day's file", &e))?;
        }
    }
    let mut files = Vec::new();
    for file in listing.files.into_iter().filter(|f| f.clearing_date == wanted) {
        let url = format!(
            "{base}/app/v1/recon/files/{}/{}/{}",
            file.participant_id, file.generation_date, file.name
        );
        let response = get(url).await.map_err(|e| failed(&file.name, &e))?;
        if !response.status().is_success() {
            return Err(failed(&file.name, &format!("HTTP {}", response.status())));
        }
        let bytes = response.bytes().await.map_err(|e| failed(&file.name, &e))?;
        files.push((file.name, bytes.to_vec()));
    }
    Ok(files)
}

/// What the acquirer expects in the file: (type, request id) → transaction amount.
fn expected(
    store: &Store,
    date: Date,
    faults: &Faults,
) -> Result<BTreeMap<(TransactionType, String), Amount>, AcquirerError> {
    let in_cycle = |text: Option<&str>| {
        text.and_then(|t| parse_instant(t).ok()).is_some_and(|at| recon::clearing_date_of(at) == date)
    };
    let mut out = BTreeMap::new();
    for payment in store.recent_payments(u32::MAX)? {
        let Some(amount) = payment.money() else { continue };
        let settled = match payment.state {
            OrderState::Success => true,
            OrderState::Cancelled => faults.has(Fault::ReconCountsCancelled),
            OrderState::Init | OrderState::Failed => false,
        };
        if settled && in_cycle(payment.payment_time.as_deref()) {
            out.insert((TransactionType::Payment, payment.payment_request_id.clone()), amount);
        }
        for refund in &payment.refunds {
            if refund.state == "SUCCESS" && in_cycle(refund.refund_time.as_deref()) {
                let value = Amount::from_minor(amount.currency, refund.amount_minor);
                out.insert((TransactionType::Refund, refund.refund_request_id.clone()), value);
            }
        }
    }
    Ok(out)
}

/// Whether the order table holds this transaction settled with this amount (any day).
fn settled_elsewhere(
    store: &Store,
    key: &(TransactionType, String),
    amount: Amount,
) -> Result<bool, AcquirerError> {
    Ok(match key.0 {
        TransactionType::Payment => store
            .payment(&key.1)?
            .is_some_and(|p| p.state == OrderState::Success && p.money() == Some(amount)),
        TransactionType::Refund => {
            store.refund(&key.1)?.is_some_and(|r| r.state == "SUCCESS" && r.amount_minor == amount.value)
        }
    })
}

/// Reconciles downloaded files against the order table, for the rows of `merchant` (the
/// `referenceMerchantId` this acquirer charges for); other merchants' rows are only counted.
pub fn compare(
    store: &Store,
    merchant: &str,
    date: Date,
    files: &[(String, Vec<u8>)],
    faults: &Faults,
) -> Result<ReconReport, AcquirerError> {
    let mut expected = expected(store, date, faults)?;
    let mut differences = Vec::new();
    let mut matched = 0;
    let mut other_merchant_rows = 0;
    let mut totals = Totals::default();
    for (name, bytes) in files {
        let report = recon::parse(bytes).map_err(|problems| {
            let shown: Vec<String> = problems.iter().take(5).map(ToString::to_string).collect();
            AcquirerError::Config(format!(
                "{name} is not a valid Transaction Detail Report: {}",
                shown.join("; ")
            ))
        })?;
        for (_, row) in report.rows {
            if row.reference_merchant_id != merchant {
                other_merchant_rows += 1;
                continue;
            }
            if row.transaction_type == TransactionType::Refund && faults.has(Fault::ReconIgnoresRefunds) {
                continue;
            }
            let key = (row.transaction_type, row.transaction_request_id.clone());
            match expected.remove(&key) {
                Some(ours) if ours == row.transaction_amount => {
                    matched += 1;
                    totals.add(row.transaction_type, row.transaction_amount)?;
                }
                Some(ours) => differences.push(Difference {
                    kind: "amount-differs",
                    transaction_type: row.transaction_type.as_str(),
                    transaction_request_id: key.1,
                    detail: format!("the file says {}, the order table {ours}", row.transaction_amount),
                }),
                None if settled_elsewhere(store, &key, row.transaction_amount)? => {
                    // Settled in the order table with this amount, on another day by its own
                    // times: a cut-off difference, not a money difference.
                    matched += 1;
                    totals.add(row.transaction_type, row.transaction_amount)?;
                }
                None => differences.push(Difference {
                    kind: "unknown-to-acquirer",
                    transaction_type: row.transaction_type.as_str(),
                    transaction_request_id: key.1,
                    detail: format!(
                        "{} {} is settled in {name} but not in the order table",
                        row.transaction_id, row.transaction_amount
                    ),
                }),
            }
        }
    }
    for ((kind, request_id), amount) in expected {
        differences.push(Difference {
            kind: "missing-in-file",
            transaction_type: kind.as_str(),
            transaction_request_id: request_id,
            detail: format!("{amount} settled in the order table but in no file of the day"),
        });
    }
    let state = if differences.is_empty() { "RECONCILED" } else { "DIFFERENCES" };
    Ok(ReconReport {
        state,
        clearing_date: recon::date_compact(date),
        merchant: merchant.to_owned(),
        files: files.iter().map(|(name, _)| name.clone()).collect(),
        matched,
        matched_payments: totals.payments,
        matched_refunds: totals.refunds,
        matched_payment_amount: totals.payment_amount,
        matched_refund_amount: totals.refund_amount,
        other_merchant_rows,
        differences,
        faults: faults.iter().filter(|f| RECON_FAULTS.contains(f)).map(|f| f.name()).collect(),
    })
}

/// The switches that change this client.
pub const RECON_FAULTS: &[Fault] = &[Fault::ReconCountsCancelled, Fault::ReconIgnoresRefunds];

/// Counts and sums per transaction currency (minor units) of the matched rows.
#[derive(Debug, Default)]
struct Totals {
    payments: usize,
    refunds: usize,
    payment_amount: BTreeMap<String, i64>,
    refund_amount: BTreeMap<String, i64>,
}

impl Totals {
    fn add(&mut self, kind: TransactionType, amount: Amount) -> Result<(), AcquirerError> {
        let (count, sums) = match kind {
            TransactionType::Payment => (&mut self.payments, &mut self.payment_amount),
            TransactionType::Refund => (&mut self.refunds, &mut self.refund_amount),
        };
        *count += 1;
        let sum = sums.entry(amount.currency.code().to_owned()).or_insert(0);
        *sum = sum
            .checked_add(amount.value)
            .ok_or_else(|| AcquirerError::Config("the matched amounts overflow a 64-bit sum".into()))?;
        Ok(())
    }
}

/// Downloads the day's files and reconciles them against the order table (the rows of
/// `merchant`).
pub async fn reconcile(
    store: &Store,
    how: &Download,
    merchant: &str,
    date: Date,
    faults: &Faults,
) -> Result<ReconReport, AcquirerError> {
    let files = download(how, date).await?;
    if files.is_empty() {
        return Err(AcquirerError::Config(format!(
            "the sandbox has no clearing file for {} yet (made at 08:00 UTC+8 the next day)",
            recon::date_compact(date)
        )));
    }
    compare(store, merchant, date, &files, faults)
}

/// `POST /reconcile` of the POS-driver API: the back office reconciles a clearing day.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileRequest {
    /// Clearing date T, `YYYYMMDD` or `YYYY-MM-DD` (UTC+8).
    #[serde(default)]
    pub date: Option<String>,
    /// Or: the clearing day of this order's payment (its `paymentRequestId`), as the order
    /// table records it.
    #[serde(default)]
    pub payment: Option<String>,
}

/// `POST /orders/age` of the POS-driver API (capability `acquirer-reconcile`): the order
/// table's side of the sandbox's test aging.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgeRequest {
    /// The orders to age.
    pub payment_request_ids: Vec<String>,
    /// How far into the past, in seconds (1 s to 400 days).
    pub seconds: i64,
}

/// The longest aging `POST /orders/age` takes (the sandbox's bound is the same order).
pub const MAX_AGE_SECONDS: i64 = 400 * 86_400;

impl crate::Acquirer {
    /// Reconciles the clearing day `date` with the configured SFTP login and the configured
    /// faults, for the merchant this acquirer charges for.
    pub async fn reconcile_day(&self, request: ReconcileRequest) -> Result<ReconReport, AcquirerError> {
        let date = match (&request.date, &request.payment) {
            (Some(text), None) => recon::parse_date(text).ok_or_else(|| {
                AcquirerError::BadRequest(format!("date: {text:?} is not YYYYMMDD or YYYY-MM-DD"))
            })?,
            (None, Some(id)) => {
                let order = self
                    .store()
                    .payment(id)?
                    .ok_or_else(|| AcquirerError::NotFound(format!("payment: no order {id:?}")))?;
                let paid =
                    order.payment_time.as_deref().and_then(|t| parse_instant(t).ok()).ok_or_else(|| {
                        AcquirerError::BadRequest(format!(
                            "payment: order {id:?} was never paid, so it has no clearing day"
                        ))
                    })?;
                recon::clearing_date_of(paid)
            }
            _ => {
                return Err(AcquirerError::BadRequest(
                    "give either date (YYYYMMDD) or payment (a paymentRequestId)".into(),
                ))
            }
        };
        let config = self.config();
        let login = config.sftp.as_ref().ok_or_else(|| {
            AcquirerError::Config(
                "no [sftp] login in the configuration: the back office cannot download clearing files".into(),
            )
        })?;
        let how = Download {
            base_url: config.gateway_url.clone(),
            username: login.username.clone(),
            password: login.password.clone(),
            sftp: login.address.clone().map(|a| (a, login.host_key.clone())),
        };
        reconcile(self.store(), &how, &config.merchant.reference_merchant_id, date, self.faults()).await
    }

    /// Ages orders of the table into the past (see [`AgeRequest`]).
    pub fn age_orders(&self, request: AgeRequest) -> Result<usize, AcquirerError> {
        if !(1..=MAX_AGE_SECONDS).contains(&request.seconds) {
            return Err(AcquirerError::BadRequest(format!(
                "seconds: {} is not between 1 and {MAX_AGE_SECONDS}",
                request.seconds
            )));
        }
        if request.payment_request_ids.is_empty() || request.payment_request_ids.len() > 100 {
            return Err(AcquirerError::BadRequest("paymentRequestIds: 1 to 100 ids".into()));
        }
        self.store().age_orders(&request.payment_request_ids, time::Duration::seconds(request.seconds))
    }
}

/// The SFTP client: the Alipay+ way of fetching the files (reconciliation.md §1.1).
mod sftp {
    use std::sync::Arc;

    use russh::keys::{HashAlg, PublicKeyOrCertificate};
    use time::Date;

    use super::{recon, AcquirerError, Download};

    /// Refuses a server whose host key is not the pinned one.
    struct PinnedHost {
        fingerprint: Option<String>,
    }

    impl russh::client::Handler for PinnedHost {
        type Error = russh::Error;

        async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
            let PublicKeyOrCertificate::PublicKey { key, .. } = key else { return Ok(false) };
            let seen = key.fingerprint(HashAlg::Sha256).to_string();
            Ok(self.fingerprint.as_deref().is_none_or(|want| want == seen))
        }
    }

    fn failed(what: &str, e: impl std::fmt::Display) -> AcquirerError {
        AcquirerError::Config(format!("SFTP {what}: {e}"))
    }

    /// The files in the day's folder (`…/<participantId>/<T+1>/`); empty when there is none.
    pub(super) async fn download(
        address: &str,
        host_key: Option<&str>,
        how: &Download,
        date: Date,
    ) -> Result<Vec<(String, Vec<u8>)>, AcquirerError> {
        let config = Arc::new(russh::client::Config {
            inactivity_timeout: Some(std::time::Duration::from_secs(30)),
            ..Default::default()
        });
        let handler = PinnedHost { fingerprint: host_key.map(str::to_owned) };
        let connect = russh::client::connect(config, address, handler);
        let mut session = tokio::time::timeout(std::time::Duration::from_secs(15), connect)
            .await
            .map_err(|_| failed(&format!("connecting to {address}"), "timed out"))?
            .map_err(|e| {
                failed(&format!("connecting to {address} (a host key other than {host_key:?}?)"), e)
            })?;
        let auth = session
            .authenticate_password(how.username.clone(), how.password.clone())
            .await
            .map_err(|e| failed("login", e))?;
        if !auth.success() {
            return Err(failed("login", format!("{} was refused (check the SFTP login)", how.username)));
        }
        let channel = session.channel_open_session().await.map_err(|e| failed("session", e))?;
        channel.request_subsystem(true, "sftp").await.map_err(|e| failed("subsystem", e))?;
        let client = russh_sftp::client::SftpSession::new(channel.into_stream())
            .await
            .map_err(|e| failed("session", e))?;
        let generation = date.next_day().ok_or_else(|| failed("date", "out of range"))?;
        let folder = format!("{}/{}/{}", recon::CLEARING_ROOT, how.username, recon::date_compact(generation));
        let names: Vec<String> = match client.read_dir(folder.clone()).await {
            Ok(entries) => entries.map(|e| e.file_name()).filter(|n| n.ends_with(".csv")).collect(),
            Err(russh_sftp::client::error::Error::Status(status))
                if status.status_code == russh_sftp::protocol::StatusCode::NoSuchFile =>
            {
                Vec::new()
            }
            Err(e) => return Err(failed(&format!("listing {folder}"), e)),
        };
        let mut files = Vec::with_capacity(names.len());
        for name in names {
            let path = format!("{folder}/{name}");
            let bytes = client.read(path.clone()).await.map_err(|e| failed(&format!("reading {path}"), e))?;
            files.push((name, bytes));
        }
        let _ = client.close().await;
        Ok(files)
    }
}
