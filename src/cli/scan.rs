//! `plusbox scan IMAGE…`: find QR codes in PNG/JPEG files and identify each one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use plusbox_companion::scan::{scan_file, ScanOptions};
use plusbox_core::codes::identify_scanned;
use serde_json::json;

use super::code::{classification_json, context, describe};

/// `plusbox scan …`
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// PNG or JPEG files.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Print JSON: one entry per code found, with file, text (null for binary content),
    /// bytesHex, encoding, bounds and classification (null for binary content).
    #[arg(long)]
    pub json: bool,
    /// Only the direct pass (no preprocessing retries).
    #[arg(long)]
    pub fast: bool,
    /// Time allowed per image for the retry passes, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub budget_ms: u64,
    /// A registered private-order-code domain (repeatable).
    #[arg(long = "private-domain")]
    pub private_domains: Vec<String>,
}

/// Runs `plusbox scan`. Exit status 1 when a file cannot be read or holds no code.
pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let options = if args.fast {
        ScanOptions::fast()
    } else {
        ScanOptions { try_harder: true, budget: Duration::from_millis(args.budget_ms) }
    };
    let context = context(&args.private_domains, None)?;
    let mut entries = Vec::new();
    let mut failed = false;
    for path in &args.images {
        match scan_file(path, &options) {
            Ok(found) if found.is_empty() => {
                failed = true;
                eprintln!("{}: no QR code found", path.display());
            }
            Ok(found) => {
                for code in found {
                    // Binary content (neither UTF-8 nor kanji-mode Shift_JIS) is still a code
                    // found: reported with its bytes, and no payment code can be binary.
                    let (classification, description) = match code.exact_text() {
                        Some(text) => {
                            let scanned = identify_scanned(text, &context);
                            (classification_json(&scanned)?, format!("{text} — {}", describe(&scanned)))
                        }
                        None => (
                            serde_json::Value::Null,
                            format!(
                                "binary content, {} bytes: {} — not a payment code",
                                code.bytes.len(),
                                code.bytes_hex()
                            ),
                        ),
                    };
                    if !args.json {
                        println!("{}: {description}", path.display());
                    }
                    entries.push(json!({
                        "file": path.display().to_string(),
                        "text": code.exact_text(),
                        "bytesHex": code.bytes_hex(),
                        "encoding": code.encoding,
                        "bounds": code.bounds,
                        "version": code.version,
                        "pass": code.pass,
                        "classification": classification,
                    }));
                }
            }
            Err(error) => {
                failed = true;
                eprintln!("{}: {error}", path.display());
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
