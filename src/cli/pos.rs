//! `plusbox pos …`: the POS simulator. It either runs the reference acquirer in this process
//! (from an acquirer configuration file) or drives a running `plusbox acquirer serve` through its
//! POS-driver API (`--acquirer URL`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use plusbox_acquirer::receipt::{payment_receipt, refund_receipt};
use plusbox_acquirer::{
    server, Acquirer, AcquirerConfig, CancelRequest, ChargeRequest, Fault, OrderState, PaymentRecord,
    PosDriver, RefundRecord, RefundRequest, SystemClock,
};

/// `plusbox pos …`
#[derive(Debug, Subcommand)]
pub enum PosCommand {
    /// Charge a buyer's payment code (UPM): pay, poll, cancel if needed; prints a receipt.
    Charge(ChargeArgs),
    /// Show an order code (MPM) for the buyer to scan, as QR and PNG, and follow the sale.
    OrderCode(super::pos_mpm::OrderCodeArgs),
    /// Show a private order code (MPM, issued by this acquirer) for the buyer to scan, as QR and
    /// PNG; answer Alipay+'s userInitiatedPay when it is scanned, and follow the sale.
    PrivateOrderCode(super::pos_mpm::OrderCodeArgs),
    /// Show the merchant's static entry code (MPM, the merchant page's HTTPS URL) as QR and PNG,
    /// and follow the first sale a buyer pays on that page.
    EntryCode(super::pos_mpm::EntryCodeArgs),
    /// Refund part or all of a paid payment.
    Refund(RefundArgs),
    /// Cancel a payment (full amount; until 00:15 UTC+8 the next day).
    Cancel(CancelArgs),
    /// Show a payment from the acquirer's order table.
    Show(ShowArgs),
}

/// Where the acquirer is.
#[derive(Debug, Args)]
pub struct AcquirerArgs {
    /// Acquirer configuration file (from `plusbox acquirer init`); runs the acquirer in this process.
    #[arg(long, env = "PLUSBOX_ACQUIRER_CONFIG", default_value = "acquirer.toml")]
    pub acquirer_config: PathBuf,
    /// Base URL of a running `plusbox acquirer serve` to drive instead (e.g. http://127.0.0.1:8788).
    #[arg(long, conflicts_with = "fault")]
    pub acquirer: Option<String>,
    /// Switch a fault on for this run (repeatable; `plusbox acquirer faults` lists them).
    #[arg(long = "fault", value_name = "NAME")]
    pub fault: Vec<Fault>,
    /// Print the record as JSON instead of a receipt.
    #[arg(long)]
    pub json: bool,
}

/// `plusbox pos charge`
#[derive(Debug, Args)]
pub struct ChargeArgs {
    /// The buyer's payment code (digits as shown under the barcode).
    #[arg(long, required_unless_present = "scan", conflicts_with = "scan")]
    pub code: Option<String>,
    /// Read the payment code from a photo or screenshot (PNG/JPEG) of the buyer's QR code instead.
    #[arg(long, value_name = "IMAGE")]
    pub scan: Option<PathBuf>,
    /// Amount, e.g. "12.50 USD".
    #[arg(long)]
    pub amount: String,
    /// Order description.
    #[arg(long)]
    pub description: Option<String>,
    #[command(flatten)]
    pub acquirer: AcquirerArgs,
}

/// `plusbox pos refund`
#[derive(Debug, Args)]
pub struct RefundArgs {
    /// paymentRequestId or Alipay+ paymentId.
    #[arg(long)]
    pub payment: String,
    /// Amount, e.g. "5.00 USD".
    #[arg(long)]
    pub amount: String,
    /// Refund reason.
    #[arg(long)]
    pub reason: Option<String>,
    /// refundRequestId to use (idempotency key; generated if absent).
    #[arg(long)]
    pub refund_request_id: Option<String>,
    #[command(flatten)]
    pub acquirer: AcquirerArgs,
}

/// `plusbox pos cancel`
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// paymentRequestId or Alipay+ paymentId.
    #[arg(long)]
    pub payment: String,
    #[command(flatten)]
    pub acquirer: AcquirerArgs,
}

/// `plusbox pos show`
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// paymentRequestId or Alipay+ paymentId.
    #[arg(long)]
    pub payment: String,
    #[command(flatten)]
    pub acquirer: AcquirerArgs,
}

/// Runs one `pos` command.
pub fn run(command: PosCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(command))
}

pub(super) enum Target {
    Local(Acquirer),
    Remote(PosDriver),
}

pub(super) fn target(args: &AcquirerArgs) -> anyhow::Result<Target> {
    if let Some(url) = &args.acquirer {
        // A charge can last the payment expiry plus cancel retries; allow generously.
        return Ok(Target::Remote(PosDriver::new(url, Duration::from_secs(600))?));
    }
    let config = AcquirerConfig::load(&args.acquirer_config).with_context(|| {
        "no acquirer to talk to: pass --acquirer-config FILE (see `plusbox acquirer init`) or --acquirer URL"
    })?;
    Ok(Target::Local(Acquirer::new(config, args.fault.iter().copied(), Arc::new(SystemClock))?))
}

/// Reads exactly one payment code from an image, as a POS scanner would; anything else (no code,
/// only non-payment codes, or two different payment codes) is an error that lists what was seen.
fn scan_payment_code(image: &std::path::Path) -> anyhow::Result<String> {
    let found = plusbox_companion::scan::scan_file(image, &plusbox_companion::scan::ScanOptions::default())
        .with_context(|| format!("cannot scan {}", image.display()))?;
    let table = plusbox_core::codes::WalletTable::builtin();
    let mut payment_codes: Vec<String> =
        found.iter().map(|f| f.text.clone()).filter(|text| table.identify(text).valid).collect();
    payment_codes.sort();
    payment_codes.dedup();
    match payment_codes.as_slice() {
        [code] => Ok(code.clone()),
        [] if found.is_empty() => bail!("no QR code found in {}", image.display()),
        [] => {
            let texts: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
            bail!("no Alipay+ payment code in {}; found: {}", image.display(), texts.join(", "))
        }
        several => bail!(
            "{} holds {} different payment codes ({}); show the POS one code",
            image.display(),
            several.len(),
            several.join(", ")
        ),
    }
}

async fn run_async(command: PosCommand) -> anyhow::Result<ExitCode> {
    match command {
        PosCommand::Charge(args) => {
            let code = match (&args.code, &args.scan) {
                (Some(code), _) => code.clone(),
                (None, Some(image)) => scan_payment_code(image)?,
                (None, None) => bail!("give the buyer's code with --code CODE or --scan IMAGE"),
            };
            let record = match target(&args.acquirer)? {
                Target::Remote(driver) => driver.charge(&code, &args.amount).await?,
                Target::Local(acquirer) => {
                    // Listen for notifyPayment while the charge runs. If a long-running acquirer
                    // already holds the address, it records notifications in the same order
                    // table, which this charge reads, so nothing is lost.
                    let listen = acquirer.config().listen.clone();
                    let notify = match server::spawn(acquirer.clone(), &listen).await {
                        Ok((_, task)) => Some(task),
                        Err(e) => {
                            eprintln!("note: not listening for notifications here ({e})");
                            None
                        }
                    };
                    let result = acquirer
                        .charge(ChargeRequest {
                            code: code.clone(),
                            amount: args.amount.clone(),
                            payment_request_id: None,
                            description: args.description.clone(),
                        })
                        .await;
                    if let Some(task) = notify {
                        task.abort();
                    }
                    result?
                }
            };
            print_payment(&record, args.acquirer.json)?;
            Ok(exit_for(&record))
        }
        PosCommand::OrderCode(args) => super::pos_mpm::run(args, super::pos_mpm::Kind::OrderCode).await,
        PosCommand::EntryCode(args) => super::pos_mpm::run_entry(args).await,
        PosCommand::PrivateOrderCode(args) => {
            super::pos_mpm::run(args, super::pos_mpm::Kind::PrivateOrderCode).await
        }
        PosCommand::Refund(args) => {
            let refund = match target(&args.acquirer)? {
                Target::Remote(driver) => {
                    driver.refund(&args.payment, &args.amount, args.reason.as_deref()).await?
                }
                Target::Local(acquirer) => {
                    acquirer
                        .refund(RefundRequest {
                            payment: args.payment.clone(),
                            amount: args.amount.clone(),
                            refund_request_id: args.refund_request_id.clone(),
                            reason: args.reason.clone(),
                        })
                        .await?
                }
            };
            print_refund(&refund, args.acquirer.json)?;
            Ok(if refund.state == "SUCCESS" { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        PosCommand::Cancel(args) => {
            let record = match target(&args.acquirer)? {
                Target::Remote(driver) => driver.cancel(&args.payment).await?,
                Target::Local(acquirer) => {
                    acquirer.cancel(CancelRequest { payment: args.payment.clone() }).await?
                }
            };
            print_payment(&record, args.acquirer.json)?;
            Ok(if record.state == OrderState::Cancelled { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        PosCommand::Show(args) => {
            let record = match target(&args.acquirer)? {
                Target::Remote(driver) => driver.payment(&args.payment).await?,
                Target::Local(acquirer) => acquirer.payment(&args.payment)?,
            };
            print_payment(&record, args.acquirer.json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Exit status for a charge: 0 paid, 1 anything else (declined, cancelled, unknown).
pub(super) fn exit_for(record: &PaymentRecord) -> ExitCode {
    if record.state == OrderState::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub(super) fn print_payment(record: &PaymentRecord, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(record)?);
    } else {
        println!("{}", payment_receipt(record));
    }
    Ok(())
}

fn print_refund(refund: &RefundRecord, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(refund)?);
    } else {
        println!("{}", refund_receipt(refund));
    }
    if refund.state == "UNKNOWN" {
        bail!(
            "refund result unknown after retries; retry with --refund-request-id {}",
            refund.refund_request_id
        );
    }
    Ok(())
}
