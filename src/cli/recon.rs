//! `plusbox recon`: the sandbox's clearing files (reconciliation.md §2). `generate` makes what is
//! due (or one past clearing date) in the data directory, `list` shows what exists and where it
//! sits in the SFTP tree, `validate` checks any file against the format, line by line, and
//! `settlement` configures the settlement currencies and agreement IDs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Subcommand;
use plusbox_core::money::Currency;
use plusbox_core::recon;

use super::sandbox::DataArg;

/// `plusbox recon …`.
#[derive(Debug, Subcommand)]
pub enum ReconCommand {
    /// Make the Transaction Detail Reports that are due on the sandbox clock (08:00 UTC+8 on
    /// T+1), or those of one past clearing date with --date (regenerating gives the same bytes).
    Generate {
        #[command(flatten)]
        data: DataArg,
        /// Clearing date T, YYYYMMDD or YYYY-MM-DD (UTC+8).
        #[arg(long)]
        date: Option<String>,
        /// Print the files as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the generated files with their SFTP paths.
    List {
        #[command(flatten)]
        data: DataArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a Transaction Detail Report against the format; every bad line is reported with
    /// its number and field. Exits 1 when the file is not valid.
    Validate {
        /// The file.
        file: PathBuf,
    },
    /// Settlement settings: the default settlement currency of payments whose `pay` names none,
    /// and the currencies that get a file every day with their participantAgreementId.
    Settlement {
        #[command(flatten)]
        data: DataArg,
        /// Default settlement currency (`none`: each payment settles in its own currency).
        #[arg(long)]
        default_currency: Option<String>,
        /// Add a settlement currency that gets a file every day, e.g. `HKD` or `HKD=AGR001`.
        #[arg(long = "currency", value_name = "CCY[=AGREEMENT]")]
        currencies: Vec<String>,
    },
}

/// Runs `plusbox recon …`.
pub fn run(command: ReconCommand) -> anyhow::Result<ExitCode> {
    match command {
        ReconCommand::Generate { data, date, json } => {
            let store = data.open()?;
            let offset = store.clock_offset()?;
            let now = plusbox_sandbox::clock::add_saturating(time::OffsetDateTime::now_utc(), offset);
            let files = match date {
                Some(text) => {
                    let date = recon::parse_date(&text)
                        .ok_or_else(|| anyhow!("--date {text:?} is not a date (YYYYMMDD or YYYY-MM-DD)"))?;
                    let mut files = Vec::new();
                    for app in store.apps()? {
                        files.extend(plusbox_sandbox::recon::generate(&store, &app, date, now)?);
                    }
                    files
                }
                None => plusbox_sandbox::recon::generate_due(&store, now)?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&files)?);
            } else if files.is_empty() {
                println!("Nothing due: every clearing date up to the last 08:00 UTC+8 run has its files.");
            } else {
                for file in &files {
                    println!("{}  ({} bytes)", file.path, file.size);
                }
            }
        }
        ReconCommand::List { data, json } => {
            let store = data.open()?;
            let mut files = Vec::new();
            for app in store.apps()? {
                files.extend(store.recon_files(app.id)?);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&files)?);
            } else if files.is_empty() {
                println!("No files yet; they are made at 08:00 UTC+8 for the day before, or by `plusbox recon generate`.");
            } else {
                for file in &files {
                    println!("{}  clearing {}  {} bytes", file.path, file.clearing_date, file.size);
                }
            }
        }
        ReconCommand::Validate { file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let shown = file.display();
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            match recon::parse(&bytes) {
                Ok(report) => {
                    if name.starts_with("transactionItems_") {
                        if let Err(problem) = recon::check_name(name, &report.summary) {
                            println!("{shown}: file name: {problem}");
                            return Ok(ExitCode::from(1));
                        }
                    }
                    let s = &report.summary;
                    println!(
                        "{shown}: valid — {} rows ({} payments {}, {} refunds {}, net {}) in {}, clearing {}",
                        report.rows.len(),
                        s.total_payment_count,
                        s.total_payment_amount,
                        s.total_refund_count,
                        s.total_refund_amount,
                        s.net_total_amount,
                        s.settlement_currency.code(),
                        recon::date_compact(s.clearing_date)
                    );
                }
                Err(problems) => {
                    for problem in &problems {
                        println!("{shown}: {problem}");
                    }
                    println!("{shown}: {} problem(s); not a valid Transaction Detail Report", problems.len());
                    return Ok(ExitCode::from(1));
                }
            }
        }
        ReconCommand::Settlement { data, default_currency, currencies } => {
            let store = data.open()?;
            let app = store.app()?;
            if let Some(code) = default_currency {
                let currency = match code.as_str() {
                    "none" => None,
                    code => Some(Currency::from_code(code).map_err(|e| anyhow!("--default-currency: {e}"))?),
                };
                store.set_default_settlement_currency(app.id, currency)?;
            }
            for entry in currencies {
                let (code, agreement) = match entry.split_once('=') {
                    Some((code, agreement)) => (code, agreement.to_owned()),
                    None => (entry.as_str(), String::new()),
                };
                let currency = Currency::from_code(code).map_err(|e| anyhow!("--currency {entry}: {e}"))?;
                let agreement =
                    if agreement.is_empty() { recon::default_agreement_id(currency) } else { agreement };
                store.set_settlement_currency(app.id, currency, &agreement)?;
            }
            let settings = store.recon_settings(app.id)?;
            println!(
                "Default settlement currency: {}",
                settings.default_currency.map_or("(each payment's own currency)", Currency::code)
            );
            if settings.currencies.is_empty() {
                println!(
                    "Daily files: {} (none configured), plus every currency settled that day",
                    plusbox_sandbox::recon::DEFAULT_FILE_CURRENCY.code()
                );
            }
            for (currency, agreement) in &settings.currencies {
                println!("Daily file: {} (participantAgreementId {agreement})", currency.code());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `plusbox app set-sftp-key FILE`: the OpenSSH public keys in FILE (one a line, as in
/// `authorized_keys` or a `.pub` file) become the application's SFTP login keys, replacing any
/// before; `none` removes them. Prints each key's SHA-256 fingerprint, as `ssh-keygen -l` does.
pub fn set_sftp_key(store: &plusbox_sandbox::Store, app_id: i64, file: &str) -> anyhow::Result<()> {
    let keys = if file == "none" {
        Vec::new()
    } else {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
        let keys = plusbox_sandbox::sftp::parse_public_keys(&text).map_err(|e| anyhow!("{file}: {e}"))?;
        if keys.is_empty() {
            anyhow::bail!("{file} holds no public key (give `none` to remove the application's keys)");
        }
        keys
    };
    store.set_sftp_keys(app_id, &keys, time::OffsetDateTime::now_utc())?;
    if keys.is_empty() {
        println!("SFTP keys removed: the application logs in by password only.");
    }
    for key in &keys {
        println!("SFTP key {} {} {}", key.algorithm, key.fingerprint, key.comment);
    }
    Ok(())
}
