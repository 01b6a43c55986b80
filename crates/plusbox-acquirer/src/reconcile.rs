//! The reference acquirer's side of reconciliation (reconciliation.md §2): download the clearing
//! files of a day from the sandbox with the application's SFTP login (over the sandbox's HTTP
//! mirror of the SFTP tree), check them against the format, and compare every row with the
//! acquirer's own order table: each settled payment and refund must be in the file with the same
//! amount, and the file must hold nothing the acquirer does not know.
//!
//! Two fault switches ([`ReconFault`]) make the classic mistakes, so a test can show that a
//! reconciliation check catches them. They are separate from the POS-flow [`crate::Fault`]s: they
//! touch only this client, never a payment.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use plusbox_core::money::Amount;
use plusbox_core::protocol::time::parse_instant;
use plusbox_core::recon::{self, TransactionType};
use serde::Serialize;
use time::Date;

use crate::error::AcquirerError;
use crate::store::{OrderState, Store};

/// A mistake the reconciliation client can be switched to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReconFault {
    /// Expects cancelled payments in the file.
    CountsCancelled,
    /// Reads only PAYMENT rows.
    IgnoresRefunds,
}

impl ReconFault {
    /// Every switch.
    pub const ALL: &'static [ReconFault] = &[ReconFault::CountsCancelled, ReconFault::IgnoresRefunds];

    /// The switch name.
    pub const fn name(self) -> &'static str {
        match self {
            ReconFault::CountsCancelled => "recon-counts-cancelled",
            ReconFault::IgnoresRefunds => "recon-ignores-refunds",
        }
    }

    /// The rule a correct acquirer follows.
    pub const fn rule(self) -> &'static str {
        match self {
            ReconFault::CountsCancelled => {
                "Cancelled payments are not settled and are not in the clearing file (reconciliation.md §1.3)."
            }
            ReconFault::IgnoresRefunds => {
                "Refunds are settled too: REFUND rows reduce the net amount (reconciliation.md §2.4, §2.5)."
            }
        }
    }

    /// What the acquirer does instead.
    pub const fn behaviour(self) -> &'static str {
        match self {
            ReconFault::CountsCancelled => {
                "Counts its cancelled sales as settled and expects them in the file."
            }
            ReconFault::IgnoresRefunds => "Skips REFUND rows of the file, so its refunds look unsettled.",
        }
    }
}

impl fmt::Display for ReconFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReconFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReconFault::ALL.iter().copied().find(|f| f.name() == s).ok_or_else(|| {
            let names: Vec<&str> = ReconFault::ALL.iter().map(|f| f.name()).collect();
            format!("unknown reconciliation fault {s:?}; known: {}", names.join(", "))
        })
    }
}

/// Where and how to download the files.
#[derive(Debug, Clone)]
pub struct Download {
    /// The sandbox's base URL (the gateway URL).
    pub base_url: String,
    /// SFTP username (the Participant ID).
    pub username: String,
    /// SFTP password.
    pub password: String,
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
    /// Clearing date, `YYYYMMDD`.
    pub clearing_date: String,
    /// The files read.
    pub files: Vec<String>,
    /// Rows that matched an order.
    pub matched: usize,
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

/// Downloads the clearing files of `date` (every settlement currency).
pub async fn download(how: &Download, date: Date) -> Result<Vec<(String, Vec<u8>)>, AcquirerError> {
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
    let listing: Listing = serde_json::from_slice(&body).map_err(|e| failed("the file list", &e))?;
    let wanted = recon::date_compact(date);
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
    faults: &[ReconFault],
) -> Result<BTreeMap<(TransactionType, String), Amount>, AcquirerError> {
    let in_cycle = |text: Option<&str>| {
        text.and_then(|t| parse_instant(t).ok()).is_some_and(|at| recon::clearing_date_of(at) == date)
    };
    let mut out = BTreeMap::new();
    for payment in store.recent_payments(u32::MAX)? {
        let Some(amount) = payment.money() else { continue };
        let settled = match payment.state {
            OrderState::Success => true,
            OrderState::Cancelled => faults.contains(&ReconFault::CountsCancelled),
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

/// Reconciles downloaded files against the order table.
pub fn compare(
    store: &Store,
    date: Date,
    files: &[(String, Vec<u8>)],
    faults: &[ReconFault],
) -> Result<ReconReport, AcquirerError> {
    let mut expected = expected(store, date, faults)?;
    let mut differences = Vec::new();
    let mut matched = 0;
    for (name, bytes) in files {
        let report = recon::parse(bytes).map_err(|problems| {
            let shown: Vec<String> = problems.iter().take(5).map(ToString::to_string).collect();
            AcquirerError::Config(format!(
                "{name} is not a valid Transaction Detail Report: {}",
                shown.join("; ")
            ))
        })?;
        for (_, row) in report.rows {
            if row.transaction_type == TransactionType::Refund && faults.contains(&ReconFault::IgnoresRefunds)
            {
                continue;
            }
            let key = (row.transaction_type, row.transaction_request_id.clone());
            match expected.remove(&key) {
                Some(ours) if ours == row.transaction_amount => matched += 1,
                Some(ours) => differences.push(Difference {
                    kind: "amount-differs",
                    transaction_type: row.transaction_type.as_str(),
                    transaction_request_id: key.1,
                    detail: format!("the file says {}, the order table {ours}", row.transaction_amount),
                }),
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
    Ok(ReconReport {
        clearing_date: recon::date_compact(date),
        files: files.iter().map(|(name, _)| name.clone()).collect(),
        matched,
        differences,
        faults: faults.iter().map(|f| f.name()).collect(),
    })
}

/// Downloads the day's files and reconciles them against the order table.
pub async fn reconcile(
    store: &Store,
    how: &Download,
    date: Date,
    faults: &[ReconFault],
) -> Result<ReconReport, AcquirerError> {
    let files = download(how, date).await?;
    if files.is_empty() {
        return Err(AcquirerError::Config(format!(
            "the sandbox has no clearing file for {} yet (made at 08:00 UTC+8 the next day)",
            recon::date_compact(date)
        )));
    }
    compare(store, date, &files, faults)
}
