//! The Plusbox Transaction Detail Report (reconciliation.md §2): the clearing file an ACQP
//! downloads from the sandbox's SFTP tree, as data ([`Report`]), as text ([`render`]) and read
//! back with every problem named by line and field ([`parse`]).
//!
//! The sandbox writes it, the reference acquirer reads it, `plusbox recon validate` checks one;
//! all three use this module, so the format has one definition. It is pure: no clock, no disk.
//! The fixed settlement rate table ([`convert`]) lives here for the same reason.

use std::fmt::Write as _;

use time::{Date, Duration, Month, OffsetDateTime, Time};

use crate::money::{Amount, Currency};
use crate::protocol::time::{format_instant, parse_instant, PLUSBOX_OFFSET};

/// Line 1 of every file (§2.4).
pub const SUMMARY_HEADER: [&str; 11] = [
    "participantId",
    "settlementCurrency",
    "clearingBatchId",
    "participantAgreementId",
    "clearingDate",
    "totalCount",
    "totalPaymentCount",
    "totalPaymentAmount",
    "totalRefundCount",
    "totalRefundAmount",
    "netTotalAmount",
];

/// Line 4 of every file (§2.5).
pub const DETAIL_HEADER: [&str; 22] = [
    "transactionId",
    "transactionRequestId",
    "transactionType",
    "transactionTime",
    "originalTransactionId",
    "originalTransactionRequestId",
    "counterParticipantId",
    "walletBrandName",
    "paymentMethodType",
    "inStorePaymentScenario",
    "referenceMerchantId",
    "merchantName",
    "merchantMCC",
    "referenceStoreId",
    "storeTerminalId",
    "referenceOrderId",
    "transactionCurrency",
    "transactionAmount",
    "settlementCurrency",
    "settlementAmount",
    "quoteId",
    "quotePrice",
];

/// Detail rows per file part; the rest continues in the next `seq` (§2.2).
pub const MAX_ROWS_PER_FILE: usize = 100_000;

/// Highest `seq` (`999`).
pub const MAX_SEQ: usize = 999;

/// The root of the clearing tree, as on the Alipay+ sandbox SFTP (§1.1).
pub const CLEARING_ROOT: &str = "/sandbox/settlements/clearing";

/// The in-store scenarios a row may carry (§2.5, column 10).
pub const SCENARIOS: [&str; 4] = ["PaymentCode", "OrderCode", "EntryCode", "PrivateOrderCode"];

/// Why a report could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconError {
    /// A total passed the 64-bit range.
    #[error("the {what} of {currency} on {date} passes the 64-bit range of minor units")]
    Overflow {
        /// Which total.
        what: &'static str,
        /// Settlement currency.
        currency: &'static str,
        /// Clearing date.
        date: String,
    },
    /// More rows than 1000 file parts hold.
    #[error("{rows} rows do not fit in {} files of {MAX_ROWS_PER_FILE} rows", MAX_SEQ + 1)]
    TooManyRows {
        /// Rows asked for.
        rows: usize,
    },
    /// The participant ID would make the file name ambiguous (§2.2: letters and digits only).
    #[error("participantId {0:?} must be letters and digits only")]
    ParticipantId(String),
    /// A row's settlement currency differs from the file's.
    #[error("row {0} is settled in another currency than the file")]
    Currency(String),
}

/// `PAYMENT` or `REFUND` (column 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransactionType {
    /// A successful payment.
    Payment,
    /// A successful refund.
    Refund,
}

impl TransactionType {
    /// The column text.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransactionType::Payment => "PAYMENT",
            TransactionType::Refund => "REFUND",
        }
    }
}

/// A settlement rate quote (columns 21–22), as the API would report it in `settlementQuote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// `quoteId`.
    pub id: String,
    /// `quotePrice`, a decimal: settlement units per transaction unit.
    pub price: String,
}

/// One detail row (§2.5). Empty strings are absent values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailRow {
    /// `paymentId` or `refundId`.
    pub transaction_id: String,
    /// `paymentRequestId` or `refundRequestId`.
    pub transaction_request_id: String,
    /// Payment or refund.
    pub transaction_type: TransactionType,
    /// `paymentTime` or `refundTime`, to the second.
    pub transaction_time: OffsetDateTime,
    /// The refunded `paymentId` (refunds only).
    pub original_transaction_id: String,
    /// The refunded `paymentRequestId` (refunds only).
    pub original_transaction_request_id: String,
    /// The wallet's `pspId`.
    pub counter_participant_id: String,
    /// `walletBrandName`.
    pub wallet_brand_name: String,
    /// `CONNECT_WALLET`.
    pub payment_method_type: String,
    /// One of [`SCENARIOS`].
    pub in_store_payment_scenario: String,
    /// `order.merchant.referenceMerchantId`.
    pub reference_merchant_id: String,
    /// `order.merchant.merchantName`.
    pub merchant_name: String,
    /// `order.merchant.merchantMCC`.
    pub merchant_mcc: String,
    /// `order.merchant.store.referenceStoreId`.
    pub reference_store_id: String,
    /// `order.env.storeTerminalId`.
    pub store_terminal_id: String,
    /// `order.referenceOrderId`.
    pub reference_order_id: String,
    /// `paymentAmount` / `refundAmount`.
    pub transaction_amount: Amount,
    /// In the file's settlement currency.
    pub settlement_amount: Amount,
    /// The conversion quote; `None` when no conversion.
    pub quote: Option<Quote>,
}

impl DetailRow {
    /// The sort key of §2.3: `transactionTime`, then `transactionId`.
    fn sort_key(&self) -> (OffsetDateTime, &str) {
        (self.transaction_time, &self.transaction_id)
    }
}

/// The summary line (§2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The application's Participant ID.
    pub participant_id: String,
    /// Settlement currency.
    pub settlement_currency: Currency,
    /// Clearing date + `001`.
    pub clearing_batch_id: String,
    /// The agreement for (participantId, currency).
    pub participant_agreement_id: String,
    /// T.
    pub clearing_date: Date,
    /// Detail rows in all parts.
    pub total_count: u64,
    /// Payment rows.
    pub total_payment_count: u64,
    /// Σ settlement amount of payments.
    pub total_payment_amount: i64,
    /// Refund rows.
    pub total_refund_count: u64,
    /// Σ settlement amount of refunds.
    pub total_refund_amount: i64,
    /// Payments − refunds (may be negative).
    pub net_total_amount: i64,
}

/// One file: its name and its exact text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    /// `transactionItems_…_<seq>.csv`.
    pub name: String,
    /// `seq` (0 for `000`).
    pub seq: usize,
    /// UTF-8 text.
    pub text: String,
}

/// A clearing date as `YYYYMMDD`.
pub fn date_compact(date: Date) -> String {
    format!("{:04}{:02}{:02}", date.year(), u8::from(date.month()), date.day())
}

/// Reads `YYYYMMDD` (also accepts `YYYY-MM-DD`).
pub fn parse_date(text: &str) -> Option<Date> {
    let digits: String =
        if text.len() == 10 && text.as_bytes().get(4) == Some(&b'-') && text.as_bytes().get(7) == Some(&b'-')
        {
            text.replace('-', "")
        } else {
            text.to_owned()
        };
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = digits.get(0..4)?.parse().ok()?;
    let month: u8 = digits.get(4..6)?.parse().ok()?;
    let day: u8 = digits.get(6..8)?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// `clearingBatchId` of a clearing date: `YYYYMMDD001` (§2.2).
pub fn clearing_batch_id(date: Date) -> String {
    format!("{}001", date_compact(date))
}

/// The default `participantAgreementId` for a currency: `AGR` + code (§2.2).
pub fn default_agreement_id(currency: Currency) -> String {
    format!("AGR{}", currency.code())
}

/// The file name of §2.2.
pub fn file_name(
    participant_id: &str,
    currency: Currency,
    date: Date,
    agreement: &str,
    seq: usize,
) -> String {
    format!(
        "transactionItems_{participant_id}_{}_{}_{agreement}_{seq:03}.csv",
        currency.code(),
        clearing_batch_id(date)
    )
}

/// The clearing date T whose cycle (00:00:00–23:59:59 UTC+8) holds this instant.
pub fn clearing_date_of(at: OffsetDateTime) -> Date {
    at.checked_to_offset(PLUSBOX_OFFSET).map_or(at.date(), |t| t.date())
}

/// The cycle of T as a half-open UTC+8 interval `[T 00:00, T+1 00:00)`; `None` at the end of time.
pub fn cycle(date: Date) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let start = date.with_time(Time::MIDNIGHT).assume_offset(PLUSBOX_OFFSET);
    let end = start.checked_add(Duration::DAY)?;
    Some((start, end))
}

/// When the file of T is generated: 08:00 UTC+8 on T+1 (§1.2).
pub fn generation_time(date: Date) -> Option<OffsetDateTime> {
    let next = date.next_day()?;
    Some(next.with_time(Time::from_hms(8, 0, 0).ok()?).assume_offset(PLUSBOX_OFFSET))
}

/// The folder of T's files: `/sandbox/settlements/clearing/<participantId>/<T+1>` (§2.1).
pub fn folder(participant_id: &str, date: Date) -> Option<String> {
    Some(format!("{CLEARING_ROOT}/{participant_id}/{}", date_compact(date.next_day()?)))
}

/// The newest clearing date whose file is due at `now` (its 08:00 T+1 run has passed).
pub fn latest_due(now: OffsetDateTime) -> Option<Date> {
    let local = now.checked_to_offset(PLUSBOX_OFFSET)?;
    let today = local.date();
    // Before 08:00 today, yesterday's file is not yet due.
    let back = if local.hour() >= 8 { 1 } else { 2 };
    today.checked_sub(Duration::days(back))
}

/// Builds the file(s) of one (participant, currency, clearing date): rows sorted, summary
/// totalled with checked arithmetic, split every [`MAX_ROWS_PER_FILE`] rows. An empty day gives
/// one file with zero counts and only the headers.
pub fn build(
    participant_id: &str,
    currency: Currency,
    agreement: &str,
    date: Date,
    mut rows: Vec<DetailRow>,
) -> Result<Vec<ReportFile>, ReconError> {
    if participant_id.is_empty() || !participant_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ReconError::ParticipantId(participant_id.to_owned()));
    }
    rows.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let summary = summarise(participant_id, currency, agreement, date, &rows)?;
    let parts = rows.len().div_ceil(MAX_ROWS_PER_FILE).max(1);
    if parts > MAX_SEQ + 1 {
        return Err(ReconError::TooManyRows { rows: rows.len() });
    }
    let mut files = Vec::with_capacity(parts);
    for seq in 0..parts {
        let start = seq * MAX_ROWS_PER_FILE;
        let end = rows.len().min(start + MAX_ROWS_PER_FILE);
        let text = render(&summary, rows.get(start..end).unwrap_or(&[]));
        files.push(ReportFile { name: file_name(participant_id, currency, date, agreement, seq), seq, text });
    }
    Ok(files)
}

/// The summary of these rows.
pub fn summarise(
    participant_id: &str,
    currency: Currency,
    agreement: &str,
    date: Date,
    rows: &[DetailRow],
) -> Result<Summary, ReconError> {
    let overflow = |what| ReconError::Overflow { what, currency: currency.code(), date: date_compact(date) };
    let (mut payments, mut refunds) = (0_u64, 0_u64);
    let (mut paid, mut refunded) = (0_i64, 0_i64);
    for row in rows {
        if row.settlement_amount.currency != currency {
            return Err(ReconError::Currency(row.transaction_id.clone()));
        }
        let value = row.settlement_amount.value;
        match row.transaction_type {
            TransactionType::Payment => {
                payments += 1;
                paid = paid.checked_add(value).ok_or_else(|| overflow("payment total"))?;
            }
            TransactionType::Refund => {
                refunds += 1;
                refunded = refunded.checked_add(value).ok_or_else(|| overflow("refund total"))?;
            }
        }
    }
    Ok(Summary {
        participant_id: participant_id.to_owned(),
        settlement_currency: currency,
        clearing_batch_id: clearing_batch_id(date),
        participant_agreement_id: agreement.to_owned(),
        clearing_date: date,
        total_count: payments + refunds,
        total_payment_count: payments,
        total_payment_amount: paid,
        total_refund_count: refunds,
        total_refund_amount: refunded,
        net_total_amount: paid.checked_sub(refunded).ok_or_else(|| overflow("net total"))?,
    })
}

/// The text of one file part (§2.3): summary header and values, an empty line, detail header,
/// rows as given.
pub fn render(summary: &Summary, rows: &[DetailRow]) -> String {
    let mut out = String::with_capacity(512 + rows.len() * 256);
    push_line(&mut out, SUMMARY_HEADER.iter().copied());
    let values = [
        summary.participant_id.clone(),
        summary.settlement_currency.code().to_owned(),
        summary.clearing_batch_id.clone(),
        summary.participant_agreement_id.clone(),
        date_compact(summary.clearing_date),
        summary.total_count.to_string(),
        summary.total_payment_count.to_string(),
        summary.total_payment_amount.to_string(),
        summary.total_refund_count.to_string(),
        summary.total_refund_amount.to_string(),
        summary.net_total_amount.to_string(),
    ];
    push_line(&mut out, values.iter().map(String::as_str));
    out.push('\n');
    push_line(&mut out, DETAIL_HEADER.iter().copied());
    for row in rows {
        let time = format_instant(row.transaction_time);
        let amount = row.transaction_amount.value.to_string();
        let settled = row.settlement_amount.value.to_string();
        let (quote_id, quote_price) =
            row.quote.as_ref().map_or(("", ""), |q| (q.id.as_str(), q.price.as_str()));
        let fields: [&str; 22] = [
            &row.transaction_id,
            &row.transaction_request_id,
            row.transaction_type.as_str(),
            &time,
            &row.original_transaction_id,
            &row.original_transaction_request_id,
            &row.counter_participant_id,
            &row.wallet_brand_name,
            &row.payment_method_type,
            &row.in_store_payment_scenario,
            &row.reference_merchant_id,
            &row.merchant_name,
            &row.merchant_mcc,
            &row.reference_store_id,
            &row.store_terminal_id,
            &row.reference_order_id,
            row.transaction_amount.currency.code(),
            &amount,
            summary.settlement_currency.code(),
            &settled,
            quote_id,
            quote_price,
        ];
        push_line(&mut out, fields.into_iter());
    }
    out
}

/// Appends fields joined by commas, quoting (RFC 4180) only a field with a comma, a quote or a
/// line break, and ends the line with `\n`.
fn push_line<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    for (index, field) in fields.enumerate() {
        if index > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
}

// ---------------------------------------------------------------------------------------------
// Settlement rates
// ---------------------------------------------------------------------------------------------

/// The fixed rate table (Plusbox decision, reconciliation.md §2.5): US dollars per major unit, in
/// millionths. Deterministic on purpose: a test can work out every settlement amount.
const USD_MICROS: &[(&str, i128)] = &[
    ("AUD", 650_000),
    ("CAD", 730_000),
    ("CNY", 138_000),
    ("EUR", 1_080_000),
    ("GBP", 1_270_000),
    ("HKD", 128_000),
    ("IDR", 62),
    ("JPY", 6_700),
    ("KRW", 730),
    ("MOP", 124_000),
    ("MYR", 213_000),
    ("NZD", 600_000),
    ("PHP", 17_500),
    ("SGD", 745_000),
    ("THB", 28_000),
    ("TWD", 31_000),
    ("USD", 1_000_000),
];

/// Digits after the point in a `quotePrice`.
const QUOTE_SCALE: u32 = 8;

fn usd_micros(currency: Currency) -> Option<i128> {
    USD_MICROS.iter().find(|(code, _)| *code == currency.code()).map(|(_, rate)| *rate)
}

/// Converts an amount into the settlement currency with the fixed table: the quote price is
/// rounded to 8 decimals first and the amount is converted with exactly that printed price,
/// half-to-even to the settlement currency's minor unit (IDR to whole rupiah). `None` when the
/// currencies are equal (no conversion, no quote), a currency has no rate, or the result does not
/// fit.
pub fn convert(amount: Amount, to: Currency) -> Option<(Amount, Quote)> {
    if amount.currency == to {
        return None;
    }
    let (from_rate, to_rate) = (usd_micros(amount.currency)?, usd_micros(to)?);
    let scale = 10_i128.checked_pow(QUOTE_SCALE)?;
    let price = div_half_even(from_rate.checked_mul(scale)?, to_rate)?;
    // settlement minor = amount minor × price × 10^to_exp / (10^from_exp × 10^scale)
    let numerator = i128::from(amount.value)
        .checked_mul(price)?
        .checked_mul(10_i128.checked_pow(u32::from(to.exponent()))?)?;
    let denominator = 10_i128.checked_pow(u32::from(amount.currency.exponent()))?.checked_mul(scale)?;
    let minor = i64::try_from(div_half_even(numerator, denominator)?).ok()?;
    let settled = Amount::from_minor(to, minor).round_for_wire().ok()?;
    let whole = price / scale;
    let frac = price % scale;
    let mut text = format!("{whole}.{frac:0width$}", width = QUOTE_SCALE as usize);
    while text.ends_with('0') && !text.ends_with(".0") {
        text.pop();
    }
    let id = format!("PBXQ{}{}", amount.currency.code(), to.code());
    Some((settled, Quote { id, price: text }))
}

/// `n / d` rounded half to even (both non-negative, `d` > 0).
fn div_half_even(n: i128, d: i128) -> Option<i128> {
    if d <= 0 || n < 0 {
        return None;
    }
    let (q, r) = (n / d, n % d);
    let twice = r.checked_mul(2)?;
    Some(match twice.cmp(&d) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q % 2),
    })
}

// ---------------------------------------------------------------------------------------------
// Reading and validating
// ---------------------------------------------------------------------------------------------

/// One problem in a file: the 1-based line, the column (when one is to blame) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// The column name, when the problem is in one field.
    pub field: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.field {
            Some(field) => write!(f, "line {}: {field}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// A file read back: its summary and rows, each row with the line it started on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReport {
    /// The summary line.
    pub summary: Summary,
    /// Rows with their line numbers.
    pub rows: Vec<(u64, DetailRow)>,
}

/// At most this many problems are listed; a file that is wrong everywhere says so once.
const MAX_ERRORS: usize = 200;

/// Reads and checks a file against §2.3–§2.5: encoding, line endings, both headers, the empty
/// line, every field's form, rows in order, the summary's counts and sums (when the file holds
/// every row, i.e. `totalCount` equals its rows). Returns every problem found (up to 200), each
/// with its line and column.
pub fn parse(bytes: &[u8]) -> Result<ParsedReport, Vec<LineError>> {
    let mut errors = Vec::new();
    let err = |line: u64, field: Option<&'static str>, message: String| LineError { line, field, message };
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        errors.push(err(1, None, "starts with a byte-order mark; the file is UTF-8 without BOM".into()));
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        let upto = bytes.get(..e.valid_up_to()).unwrap_or(&[]);
        let line = 1 + upto.iter().filter(|b| **b == b'\n').count() as u64;
        errors.push(err(line, None, format!("not UTF-8 (byte {} of the file)", e.valid_up_to() + 1)));
        return Err(errors);
    }
    if bytes.is_empty() {
        errors.push(err(
            1,
            None,
            "the file is empty; even a day without transactions has the summary and headers".into(),
        ));
        return Err(errors);
    }
    check_line_endings(bytes, &mut errors);
    if !bytes.ends_with(b"\n") {
        let line = 1 + bytes.iter().filter(|b| **b == b'\n').count() as u64;
        errors.push(err(line, None, "the last line does not end with \\n".into()));
    }

    // Line numbers come from byte offsets: the reader's own line count does not include the
    // empty lines it skips.
    let newlines: Vec<u64> =
        bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i as u64).collect();
    // A record's position is where the previous one ended, before any empty lines the reader
    // skipped: those are counted here, so a record knows its own line and the blanks before it.
    let line_of = |position: Option<&csv::Position>| -> (u64, u64) {
        let Some(p) = position else { return (0, 0) };
        let start = usize::try_from(p.byte()).unwrap_or(usize::MAX);
        let blanks = bytes.get(start..).unwrap_or(&[]).iter().take_while(|b| **b == b'\n').count() as u64;
        (1 + newlines.partition_point(|offset| *offset < p.byte()) as u64 + blanks, blanks)
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut records = Vec::new();
    for result in reader.records() {
        match result {
            Ok(record) => {
                let (line, blanks) = line_of(record.position());
                // Only line 3 may be empty.
                if blanks > 0 && line != 4 {
                    errors.push(err(line - 1, None, "an empty line; only line 3 is empty".into()));
                }
                records.push((line, record));
            }
            Err(e) => {
                let (line, _) = line_of(e.position());
                errors.push(err(line, None, format!("not readable as CSV: {e}")));
                return Err(errors);
            }
        }
    }
    let mut iter = records.into_iter().peekable();

    // Line 1: summary header.
    match iter.next() {
        Some((1, record)) if record.iter().eq(SUMMARY_HEADER.iter().copied()) => {}
        Some((line, record)) => errors.push(err(
            line,
            None,
            format!(
                "expected the summary header {:?} on line 1, found {:?}",
                SUMMARY_HEADER.join(","),
                join(&record)
            ),
        )),
        None => errors.push(err(1, None, "no summary header".into())),
    }
    // Line 2: summary values.
    let summary = match iter.next() {
        Some((2, record)) => summary_line(&record, &mut errors),
        Some((line, _)) => {
            errors.push(err(line.min(2), None, "expected the summary values on line 2".into()));
            None
        }
        None => {
            errors.push(err(2, None, "no summary values".into()));
            None
        }
    };
    // Line 3 empty (the reader skips it; see `line_of`), line 4 the detail header.
    match iter.next() {
        Some((4, record)) if record.iter().eq(DETAIL_HEADER.iter().copied()) => {}
        Some((4, record)) => errors.push(err(
            4,
            None,
            format!("expected the detail header {:?}, found {:?}", DETAIL_HEADER.join(","), join(&record)),
        )),
        Some((line, _)) => {
            errors.push(err(line.min(3), None, "line 3 must be empty and line 4 the detail header".into()))
        }
        None => errors.push(err(4, None, "no detail header (line 3 empty, line 4 the header)".into())),
    }
    let mut rows = Vec::new();
    let mut previous: Option<(OffsetDateTime, String)> = None;
    for (line, record) in iter {
        if errors.len() >= MAX_ERRORS {
            errors.push(err(line, None, format!("more problems follow; stopped after {MAX_ERRORS}")));
            return Err(errors);
        }
        let Some(row) = detail_line(line, &record, summary.as_ref(), &mut errors) else { continue };
        let key = (row.transaction_time, row.transaction_id.clone());
        if let Some(previous) = &previous {
            if &key < previous {
                errors.push(err(
                    line,
                    Some("transactionTime"),
                    "rows are not sorted by transactionTime, then transactionId".into(),
                ));
            }
        }
        previous = Some(key);
        rows.push((line, row));
    }
    if let Some(summary) = &summary {
        check_totals(summary, &rows, &mut errors);
    }
    match summary {
        Some(summary) if errors.is_empty() => Ok(ParsedReport { summary, rows }),
        _ => Err(errors),
    }
}

/// Checks a file's name against its summary (§2.2).
pub fn check_name(name: &str, summary: &Summary) -> Result<usize, String> {
    let stem =
        name.strip_prefix("transactionItems_").and_then(|s| s.strip_suffix(".csv")).ok_or_else(|| {
            format!(
                "{name:?} is not transactionItems_<participantId>_<currency>_<batch>_<agreement>_<seq>.csv"
            )
        })?;
    let (rest, seq) = stem.rsplit_once('_').ok_or_else(|| format!("{name:?} has no seq"))?;
    let seq_ok = seq.len() == 3 && seq.bytes().all(|b| b.is_ascii_digit());
    let seq: usize =
        seq.parse().ok().filter(|_| seq_ok).ok_or_else(|| format!("seq {seq:?} is not 000–999"))?;
    let expected = file_name(
        &summary.participant_id,
        summary.settlement_currency,
        summary.clearing_date,
        &summary.participant_agreement_id,
        seq,
    );
    if expected != name || rest.is_empty() {
        return Err(format!("the name {name:?} does not match its summary line (expected {expected:?})"));
    }
    Ok(seq)
}

fn join(record: &csv::StringRecord) -> String {
    record.iter().collect::<Vec<_>>().join(",")
}

/// Every line must end in `\n` alone; a `\r` outside a quoted field is a CRLF or stray CR.
fn check_line_endings(bytes: &[u8], errors: &mut Vec<LineError>) {
    let (mut quoted, mut line) = (false, 1_u64);
    for (index, byte) in bytes.iter().enumerate() {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' => line += 1,
            b'\r' if !quoted => {
                let what =
                    if bytes.get(index + 1) == Some(&b'\n') { "ends with \\r\\n" } else { "has a stray \\r" };
                errors.push(LineError { line, field: None, message: format!("{what}; lines end with \\n") });
                return;
            }
            _ => {}
        }
    }
}

fn summary_line(record: &csv::StringRecord, errors: &mut Vec<LineError>) -> Option<Summary> {
    let line = 2;
    let start = errors.len();
    if record.len() != SUMMARY_HEADER.len() {
        errors.push(LineError {
            line,
            field: None,
            message: format!("{} fields; the summary has {}", record.len(), SUMMARY_HEADER.len()),
        });
        return None;
    }
    let f = |i: usize| record.get(i).unwrap_or("");
    let mut bad =
        |field: &'static str, message: String| errors.push(LineError { line, field: Some(field), message });
    let participant_id = f(0).to_owned();
    if participant_id.is_empty() || !participant_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bad("participantId", format!("{participant_id:?} must be letters and digits"));
    }
    let currency = Currency::from_code(f(1)).map_err(|e| bad("settlementCurrency", e.to_string())).ok();
    let date = parse_compact_date(f(4)).or_else(|| {
        bad("clearingDate", format!("{:?} is not a date YYYYMMDD", f(4)));
        None
    });
    if let Some(date) = date {
        if f(2) != clearing_batch_id(date) {
            bad(
                "clearingBatchId",
                format!("{:?} must be the clearing date + 001 ({})", f(2), clearing_batch_id(date)),
            );
        }
    }
    if f(3).is_empty() {
        bad("participantAgreementId", "is empty".into());
    }
    let count = |i: usize, name: &'static str, bad: &mut dyn FnMut(&'static str, String)| -> u64 {
        unsigned(f(i)).and_then(|v| u64::try_from(v).ok()).unwrap_or_else(|| {
            bad(name, format!("{:?} is not a count (digits, no sign)", f(i)));
            0
        })
    };
    let amount = |i: usize, name: &'static str, bad: &mut dyn FnMut(&'static str, String)| -> i64 {
        unsigned(f(i)).unwrap_or_else(|| {
            bad(name, format!("{:?} is not an amount in minor units (digits, no sign)", f(i)));
            0
        })
    };
    let total_count = count(5, "totalCount", &mut bad);
    let total_payment_count = count(6, "totalPaymentCount", &mut bad);
    let total_payment_amount = amount(7, "totalPaymentAmount", &mut bad);
    let total_refund_count = count(8, "totalRefundCount", &mut bad);
    let total_refund_amount = amount(9, "totalRefundAmount", &mut bad);
    let net_total_amount = signed(f(10)).unwrap_or_else(|| {
        bad("netTotalAmount", format!("{:?} is not an amount in minor units", f(10)));
        0
    });
    if total_payment_count.checked_add(total_refund_count) != Some(total_count) {
        bad("totalCount", format!("{total_count} is not totalPaymentCount + totalRefundCount"));
    }
    if total_payment_amount.checked_sub(total_refund_amount) != Some(net_total_amount) {
        bad("netTotalAmount", format!("{net_total_amount} is not totalPaymentAmount − totalRefundAmount"));
    }
    if errors.len() > start {
        return None;
    }
    Some(Summary {
        participant_id,
        settlement_currency: currency?,
        clearing_batch_id: f(2).to_owned(),
        participant_agreement_id: f(3).to_owned(),
        clearing_date: date?,
        total_count,
        total_payment_count,
        total_payment_amount,
        total_refund_count,
        total_refund_amount,
        net_total_amount,
    })
}

fn parse_compact_date(text: &str) -> Option<Date> {
    (text.len() == 8).then(|| parse_date(text)).flatten()
}

/// Digits without sign or leading zeros (except `0` itself), within `i64`.
fn unsigned(text: &str) -> Option<i64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// [`unsigned`] with an optional leading `-` (never `-0`).
fn signed(text: &str) -> Option<i64> {
    match text.strip_prefix('-') {
        Some(rest) if rest != "0" => unsigned(rest).and_then(i64::checked_neg),
        Some(_) => None,
        None => unsigned(text),
    }
}

fn detail_line(
    line: u64,
    record: &csv::StringRecord,
    summary: Option<&Summary>,
    errors: &mut Vec<LineError>,
) -> Option<DetailRow> {
    let start = errors.len();
    if record.len() != DETAIL_HEADER.len() {
        errors.push(LineError {
            line,
            field: None,
            message: format!("{} fields; a detail row has {}", record.len(), DETAIL_HEADER.len()),
        });
        return None;
    }
    let f = |i: usize| record.get(i).unwrap_or("").to_owned();
    let mut bad =
        |field: &'static str, message: String| errors.push(LineError { line, field: Some(field), message });
    for (index, name) in [
        (0, "transactionId"),
        (1, "transactionRequestId"),
        (6, "counterParticipantId"),
        (7, "walletBrandName"),
        (8, "paymentMethodType"),
    ] {
        if f(index).is_empty() {
            bad(name, "is empty".into());
        }
    }
    let kind = match f(2).as_str() {
        "PAYMENT" => Some(TransactionType::Payment),
        "REFUND" => Some(TransactionType::Refund),
        other => {
            bad("transactionType", format!("{other:?} is not PAYMENT or REFUND"));
            None
        }
    };
    let time_text = f(3);
    let time = match parse_instant(&time_text) {
        Ok(t) if format_instant(t) == time_text => Some(t),
        Ok(_) | Err(_) => {
            bad("transactionTime", format!("{time_text:?} is not ISO 8601 to the second with +08:00"));
            None
        }
    };
    if let (Some(time), Some(summary)) = (time, summary) {
        if clearing_date_of(time) != summary.clearing_date {
            bad(
                "transactionTime",
                format!("{time_text} is outside the clearing cycle {}", date_compact(summary.clearing_date)),
            );
        }
    }
    match kind {
        Some(TransactionType::Payment) if !f(4).is_empty() || !f(5).is_empty() => {
            bad("originalTransactionId", "must be empty on a PAYMENT row".into());
        }
        Some(TransactionType::Refund) => {
            if f(4).is_empty() {
                bad("originalTransactionId", "a REFUND row names the refunded paymentId".into());
            }
            if f(5).is_empty() {
                bad(
                    "originalTransactionRequestId",
                    "a REFUND row names the refunded paymentRequestId".into(),
                );
            }
        }
        Some(TransactionType::Payment) | None => {}
    }
    if !SCENARIOS.contains(&f(9).as_str()) {
        bad("inStorePaymentScenario", format!("{:?} is not one of {}", f(9), SCENARIOS.join(", ")));
    }
    let amount = |ci: usize,
                  vi: usize,
                  cname: &'static str,
                  vname: &'static str,
                  bad: &mut dyn FnMut(&'static str, String)| {
        let currency = Currency::from_code(&f(ci)).map_err(|e| bad(cname, e.to_string())).ok();
        let value = unsigned(&f(vi)).or_else(|| {
            bad(vname, format!("{:?} is not an amount in minor units (digits, no sign)", f(vi)));
            None
        });
        Some(Amount::from_minor(currency?, value?))
    };
    let transaction_amount = amount(16, 17, "transactionCurrency", "transactionAmount", &mut bad);
    let settlement_amount = amount(18, 19, "settlementCurrency", "settlementAmount", &mut bad);
    if let (Some(settled), Some(summary)) = (settlement_amount, summary) {
        if settled.currency != summary.settlement_currency {
            bad(
                "settlementCurrency",
                format!(
                    "{} differs from the file's {}",
                    settled.currency.code(),
                    summary.settlement_currency.code()
                ),
            );
        }
    }
    let (quote_id, quote_price) = (f(20), f(21));
    let quote = match (quote_id.is_empty(), quote_price.is_empty()) {
        (true, true) => None,
        (false, false) => Some(Quote { id: quote_id, price: quote_price }),
        _ => {
            bad("quotePrice", "quoteId and quotePrice are both given or both empty".into());
            None
        }
    };
    if let (Some(paid), Some(settled)) = (transaction_amount, settlement_amount) {
        if paid.currency == settled.currency {
            if quote.is_some() {
                bad("quoteId", "must be empty when no conversion took place".into());
            }
            if paid.value != settled.value {
                bad(
                    "settlementAmount",
                    format!(
                        "{} differs from transactionAmount {} in the same currency",
                        settled.value, paid.value
                    ),
                );
            }
        } else if quote.is_none() {
            bad("quoteId", "a converted amount names its quote".into());
        } else if let Some(q) = &quote {
            if q.price.parse::<f64>().map_or(true, |p| !(p.is_finite() && p > 0.0)) {
                bad("quotePrice", format!("{:?} is not a positive decimal", q.price));
            }
        }
    }
    if errors.len() > start {
        return None;
    }
    Some(DetailRow {
        transaction_id: f(0),
        transaction_request_id: f(1),
        transaction_type: kind?,
        transaction_time: time?,
        original_transaction_id: f(4),
        original_transaction_request_id: f(5),
        counter_participant_id: f(6),
        wallet_brand_name: f(7),
        payment_method_type: f(8),
        in_store_payment_scenario: f(9),
        reference_merchant_id: f(10),
        merchant_name: f(11),
        merchant_mcc: f(12),
        reference_store_id: f(13),
        store_terminal_id: f(14),
        reference_order_id: f(15),
        transaction_amount: transaction_amount?,
        settlement_amount: settlement_amount?,
        quote,
    })
}

/// The summary must add up to the rows when the file holds them all.
fn check_totals(summary: &Summary, rows: &[(u64, DetailRow)], errors: &mut Vec<LineError>) {
    let n = rows.len() as u64;
    if n > summary.total_count || (n < summary.total_count && n < MAX_ROWS_PER_FILE as u64) {
        errors.push(LineError {
            line: 2,
            field: Some("totalCount"),
            message: format!("{} but the file has {n} detail rows", summary.total_count),
        });
        return;
    }
    if n != summary.total_count {
        return; // one part of a split file: the totals cover every part
    }
    let detail: Vec<DetailRow> = rows.iter().map(|(_, row)| row.clone()).collect();
    let Ok(own) = summarise(
        &summary.participant_id,
        summary.settlement_currency,
        &summary.participant_agreement_id,
        summary.clearing_date,
        &detail,
    ) else {
        errors.push(LineError {
            line: 2,
            field: None,
            message: "the detail amounts overflow 64 bits".into(),
        });
        return;
    };
    let checks: [(&'static str, i128, i128); 4] = [
        ("totalPaymentCount", own.total_payment_count.into(), summary.total_payment_count.into()),
        ("totalPaymentAmount", own.total_payment_amount.into(), summary.total_payment_amount.into()),
        ("totalRefundCount", own.total_refund_count.into(), summary.total_refund_count.into()),
        ("totalRefundAmount", own.total_refund_amount.into(), summary.total_refund_amount.into()),
    ];
    for (field, rows_say, summary_says) in checks {
        if rows_say != summary_says {
            let mut message = String::new();
            let _ = write!(message, "{summary_says} but the detail rows add up to {rows_say}");
            errors.push(LineError { line: 2, field: Some(field), message });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn conversion_uses_the_printed_price_and_rounds_half_to_even() {
        let (settled, quote) = convert(Amount::from_minor(Currency::HKD, 50_000), Currency::USD).unwrap();
        assert_eq!(quote.price, "0.128");
        assert_eq!(settled, Amount::from_minor(Currency::USD, 6_400));
        let (yen, quote) = convert(Amount::from_minor(Currency::USD, 1_000), Currency::JPY).unwrap();
        assert_eq!(quote.price, "149.25373134");
        assert_eq!(yen, Amount::from_minor(Currency::JPY, 1_493));
        assert!(convert(Amount::from_minor(Currency::USD, 1), Currency::USD).is_none());
    }

    #[test]
    fn idr_settlement_is_whole_rupiah() {
        let (idr, _) = convert(Amount::from_minor(Currency::USD, 1_234), Currency::IDR).unwrap();
        assert_eq!(idr.value % 100, 0);
    }

    #[test]
    fn latest_due_waits_for_eight_oclock_the_next_day() {
        let at = |s: &str| parse_instant(s).unwrap();
        assert_eq!(date_compact(latest_due(at("2025-03-20T07:59:59+08:00")).unwrap()), "20250318");
        assert_eq!(date_compact(latest_due(at("2025-03-20T08:00:00+08:00")).unwrap()), "20250319");
        assert_eq!(date_compact(clearing_date_of(at("2025-03-19T16:30:00Z"))), "20250320");
    }
}
