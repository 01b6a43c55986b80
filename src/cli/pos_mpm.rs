//! `plusbox pos order-code` and `plusbox pos private-order-code`: the POS side of
//! merchant-presented mode with an order code issued by Alipay+ (alipayplus-api.md §5) or a
//! private order code issued by the acquirer itself (§11): ring up a sale, show the code as a QR
//! code in the terminal and as a PNG file, then follow the sale to its end (decoding the private
//! code when Alipay+ asks, polling, notification, cancel when the code's window ends) and print
//! the receipt.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use plusbox_acquirer::{server, OrderCodeRequest, OrderCodeSale, PaymentRecord, PosDriver};
use plusbox_companion::render::{render_png, render_terminal, RenderSize, Symbology};

use super::pos::{exit_for, print_payment, target, AcquirerArgs, Target};

/// Which merchant-presented code the POS shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Issued by Alipay+ in the `pay` answer (§5).
    OrderCode,
    /// Issued by the acquirer, decoded by it through `userInitiatedPay` (§11).
    PrivateOrderCode,
}

/// `plusbox pos order-code` and `plusbox pos private-order-code`
#[derive(Debug, Args)]
pub struct OrderCodeArgs {
    /// Amount, e.g. "12.50 USD".
    #[arg(long)]
    pub amount: String,
    /// Order description.
    #[arg(long)]
    pub description: Option<String>,
    /// Where to write the order code as a PNG (for a customer display or a second screen).
    #[arg(long, value_name = "FILE", default_value = "order-code.png")]
    pub png: PathBuf,
    /// Draw the terminal QR for a light-background terminal.
    #[arg(long)]
    pub invert: bool,
    #[command(flatten)]
    pub acquirer: AcquirerArgs,
}

/// Runs `pos order-code` or `pos private-order-code`.
pub async fn run(args: OrderCodeArgs, kind: Kind) -> anyhow::Result<ExitCode> {
    let request = OrderCodeRequest {
        amount: args.amount.clone(),
        payment_request_id: None,
        description: args.description.clone(),
    };
    let record = match target(&args.acquirer)? {
        Target::Remote(driver) => {
            let sale = match kind {
                Kind::OrderCode => driver.order_code(&args.amount).await?,
                Kind::PrivateOrderCode => driver.private_order_code(&args.amount).await?,
            };
            show(&sale, &args)?;
            follow(&driver, &sale.payment).await?
        }
        Target::Local(acquirer) => {
            // Listen for notifyPayment (and userInitiatedPay) while the sale runs, as `pos
            // charge` does.
            let listen = acquirer.config().listen.clone();
            let notify = match server::spawn(acquirer.clone(), &listen).await {
                Ok((_, task)) => Some(task),
                Err(e) => {
                    eprintln!("note: not listening for notifications here ({e})");
                    None
                }
            };
            let mut shown = Ok(());
            let result = match kind {
                Kind::OrderCode => acquirer.order_code(request, |sale| shown = show(sale, &args)).await,
                Kind::PrivateOrderCode => {
                    acquirer.private_order_code(request, |sale| shown = show(sale, &args)).await
                }
            };
            if let Some(task) = notify {
                task.abort();
            }
            shown?;
            result?
        }
    };
    print_payment(&record, args.acquirer.json)?;
    Ok(exit_for(&record))
}

/// Shows the order code: QR in the terminal (stderr, so `--json` output stays clean) and PNG.
fn show(sale: &OrderCodeSale, args: &OrderCodeArgs) -> anyhow::Result<()> {
    let Some(code) = &sale.order_code else {
        eprintln!(
            "No order code to show: pay ended at once ({} {}).",
            sale.payment.result_code.as_deref().unwrap_or("-"),
            sale.payment.result_message.as_deref().unwrap_or("")
        );
        return Ok(());
    };
    let terminal = render_terminal(&code.code_value, Symbology::Qr, args.invert)
        .context("cannot draw the order code for the terminal")?;
    eprintln!("{terminal}");
    eprintln!("Order code {}", code.code_value);
    eprintln!(
        "Amount {}, expires {}; ask the buyer to scan it with an Alipay+ wallet.",
        sale.payment.amount,
        code.expire_time.as_deref().unwrap_or("-")
    );
    write_png(&args.png, &code.code_value)?;
    eprintln!("PNG written to {}", args.png.display());
    Ok(())
}

fn write_png(path: &Path, code: &str) -> anyhow::Result<()> {
    let png =
        render_png(code, Symbology::Qr, RenderSize::Phone).context("cannot draw the order code as PNG")?;
    std::fs::write(path, png).with_context(|| format!("cannot write {}", path.display()))
}

/// Follows a remote sale until the acquirer reports it final (the acquirer bounds it: the code's
/// window plus the cancel retries); gives up after 15 minutes.
async fn follow(driver: &PosDriver, payment: &PaymentRecord) -> anyhow::Result<PaymentRecord> {
    let mut record = payment.clone();
    for _ in 0..900 {
        if record.state.is_final() {
            return Ok(record);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        record = driver.payment(&payment.payment_request_id).await?;
    }
    Ok(record)
}

/// `plusbox pos entry-code`
#[derive(Debug, Args)]
pub struct EntryCodeArgs {
    /// Where to write the entry code as a PNG (to print and put on the counter).
    #[arg(long, value_name = "FILE", default_value = "entry-code.png")]
    pub png: PathBuf,
    /// Draw the terminal QR for a light-background terminal.
    #[arg(long)]
    pub invert: bool,
    /// How long to wait for a buyer to pay through the merchant page, in seconds.
    #[arg(long, default_value_t = 600)]
    pub wait: u64,
    #[command(flatten)]
    pub acquirer: AcquirerArgs,
}

/// Runs `pos entry-code`: shows the merchant's static entry code (alipayplus-api.md §6), then
/// follows the first sale a buyer starts on the merchant page to its end.
pub async fn run_entry(args: EntryCodeArgs) -> anyhow::Result<ExitCode> {
    let since = plusbox_acquirer::store::rfc3339(time::OffsetDateTime::now_utc());
    let tries = args.wait.max(1);
    let record = match target(&args.acquirer)? {
        Target::Remote(driver) => {
            let code = driver.entry_code().await?;
            show_entry(&code.code_value, &args)?;
            let mut found = None;
            for _ in 0..tries {
                let recent = driver.recent().await?;
                found = recent
                    .into_iter()
                    .find(|p| p.created_at.as_str() > since.as_str() && p.code.contains("/cashier/"));
                if found.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let Some(sale) = found else {
                eprintln!("No buyer paid through the merchant page within {} s.", args.wait);
                return Ok(ExitCode::from(1));
            };
            eprintln!("Sale {} started on the merchant page; following it.", sale.payment_request_id);
            follow(&driver, &sale).await?
        }
        Target::Local(acquirer) => {
            let listen = acquirer.config().listen.clone();
            let notify = match server::spawn(acquirer.clone(), &listen).await {
                Ok((_, task)) => Some(task),
                Err(e) => {
                    eprintln!("note: not listening for notifications here ({e})");
                    None
                }
            };
            let page = super::acquirer::spawn_entry_page(&acquirer).await?;
            let Some(code) = acquirer.entry_code().filter(|_| page.is_some()) else {
                anyhow::bail!(
                    "no entry code: set merchant.entry_code_url in the acquirer configuration (plusbox acquirer init sets it)"
                );
            };
            show_entry(&code.code_value, &args)?;
            let mut found = None;
            for _ in 0..tries {
                found = acquirer.latest_entry_sale(&since)?;
                if found.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let Some(sale) = found else {
                eprintln!("No buyer paid through the merchant page within {} s.", args.wait);
                return Ok(ExitCode::from(1));
            };
            eprintln!("Sale {} started on the merchant page; following it.", sale.payment_request_id);
            let mut record = sale;
            for _ in 0..900 {
                if record.state.is_final() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                record = acquirer.payment(&record.payment_request_id)?;
            }
            if let Some(task) = notify {
                task.abort();
            }
            drop(page);
            record
        }
    };
    print_payment(&record, args.acquirer.json)?;
    Ok(exit_for(&record))
}

fn show_entry(url: &str, args: &EntryCodeArgs) -> anyhow::Result<()> {
    let terminal = render_terminal(url, Symbology::Qr, args.invert)
        .context("cannot draw the entry code for the terminal")?;
    eprintln!("{terminal}");
    eprintln!("Entry code {url}");
    eprintln!("Ask the buyer to scan it with an Alipay+ wallet and pay on the merchant page.");
    write_png(&args.png, url)?;
    eprintln!("PNG written to {}", args.png.display());
    Ok(())
}
