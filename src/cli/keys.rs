//! `plusbox keys`, `plusbox sign`, `plusbox verify`: key files and hand-checked signatures.
//!
//! Signature trouble is the most common integration pain, so these commands show every input that
//! goes into a signature and say exactly what did not match.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use plusbox_core::signing::{MessageParts, PrivateKey, PublicKey, SignatureHeader, SigningError};

/// File names written by `plusbox keys new`.
pub const PRIVATE_KEY_FILE: &str = "private_key.pem";
/// The public half, PEM SPKI.
pub const PUBLIC_KEY_FILE: &str = "public_key.pem";

/// `plusbox keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a 2048-bit RSA key pair (private key file mode 0600); prints the public key as bare
    /// base64 SPKI, the form to paste into the sandbox or Alipay+ Developer Center.
    New {
        /// Directory to write private_key.pem and public_key.pem into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
        /// Print JSON: {privateKeyFile, publicKeyFile, publicKey, fingerprint}.
        #[arg(long)]
        json: bool,
    },
    /// Show a key file (PEM PKCS#8/PKCS#1/SPKI or bare base64): kind, size, public key, fingerprint.
    Show {
        /// The key file.
        file: PathBuf,
        /// Also print the public key as PEM.
        #[arg(long)]
        pem: bool,
        /// Print JSON: {kind, bits, publicKey, fingerprint}.
        #[arg(long)]
        json: bool,
    },
}

/// The inputs of a signed message, shared by `sign` and `verify`.
#[derive(Debug, Args)]
pub struct MessageArgs {
    /// Client-Id header value.
    #[arg(long)]
    pub client_id: String,
    /// Request-Time (or Response-Time) header value, exactly as sent.
    #[arg(long)]
    pub time: String,
    /// Request-URI, e.g. /aps/api/v1/payments/pay (for a response: the URI of the call answered).
    #[arg(long)]
    pub uri: String,
    /// HTTP method.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Body file, byte for byte as sent (`-` reads standard input).
    pub body: PathBuf,
}

/// `plusbox sign`
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Private key file (PEM or bare base64).
    #[arg(long)]
    pub key: PathBuf,
    /// keyVersion to put in the header.
    #[arg(long, default_value_t = 1)]
    pub key_version: u32,
    /// Also print the exact content that was signed (to standard error).
    #[arg(long)]
    pub show_content: bool,
    #[command(flatten)]
    pub message: MessageArgs,
}

/// `plusbox verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The signer's public key file (PEM or bare base64).
    #[arg(long)]
    pub public_key: PathBuf,
    /// The Signature header value (with or without the `Signature:` name).
    #[arg(long)]
    pub signature: String,
    #[command(flatten)]
    pub message: MessageArgs,
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_body(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut body = Vec::new();
        std::io::stdin().read_to_end(&mut body).context("cannot read the body from standard input")?;
        Ok(body)
    } else {
        std::fs::read(path).with_context(|| format!("cannot read body file {}", path.display()))
    }
}

/// Writes a file readable by its owner only, so a private key never sits world-readable.
pub fn write_private_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        // `mode` applies only when the file is created; tighten an existing one too.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Runs `plusbox keys …`.
pub fn run_keys(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::New { out, force, json } => {
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let private_path = out.join(PRIVATE_KEY_FILE);
            let public_path = out.join(PUBLIC_KEY_FILE);
            if !force && (private_path.exists() || public_path.exists()) {
                bail!("{} already holds a key pair; pass --force to replace it", out.display());
            }
            let key = PrivateKey::generate()?;
            let public = key.public_key()?;
            write_private_file(&private_path, key.to_pkcs8_pem().expose())?;
            std::fs::write(&public_path, public.to_pem())
                .with_context(|| format!("cannot write {}", public_path.display()))?;
            if json {
                let value = serde_json::json!({
                    "privateKeyFile": private_path,
                    "publicKeyFile": public_path,
                    "publicKey": public.to_base64(),
                    "fingerprint": public.fingerprint(),
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                eprintln!("private key: {} (mode 0600, keep it secret)", private_path.display());
                eprintln!("public key:  {}", public_path.display());
                eprintln!("public key, bare base64 SPKI (paste this into the sandbox or Developer Center):");
                println!("{}", public.to_base64());
            }
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Show { file, pem, json } => {
            let text = read_text(&file)?;
            let (kind, public) = match PrivateKey::parse(&text) {
                Ok(key) => ("private", key.public_key()?),
                Err(SigningError::WrongKeyKind { .. }) => ("public", PublicKey::parse(&text)?),
                Err(error) => {
                    return Err(error).with_context(|| format!("{} is not a usable key", file.display()))
                }
            };
            if json {
                let value = serde_json::json!({
                    "kind": kind,
                    "bits": public.bits(),
                    "publicKey": public.to_base64(),
                    "fingerprint": public.fingerprint(),
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("kind:        RSA {} key, {} bits", kind, public.bits());
                println!("fingerprint: SHA256:{}", public.fingerprint());
                println!("public key:  {}", public.to_base64());
                if pem {
                    print!("{}", public.to_pem());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs `plusbox sign`: prints the Signature header value.
pub fn run_sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let key = PrivateKey::parse(&read_text(&args.key)?)
        .with_context(|| format!("{} is not a usable private key", args.key.display()))?;
    let body = read_body(&args.message.body)?;
    let message = parts(&args.message, &body);
    if args.show_content {
        eprintln!("content to sign:\n{}\n", String::from_utf8_lossy(&message.content()));
    }
    println!("{}", key.sign_message(&message, Some(args.key_version))?);
    Ok(ExitCode::SUCCESS)
}

/// Runs `plusbox verify`: exit 0 when the signature matches, 1 (with the content shown) when not.
pub fn run_verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let public = PublicKey::parse(&read_text(&args.public_key)?)
        .with_context(|| format!("{} is not a usable public key", args.public_key.display()))?;
    let body = read_body(&args.message.body)?;
    let message = parts(&args.message, &body);
    let header_value = strip_header_name(&args.signature);
    match public.verify_message(header_value, &message) {
        Ok(parsed) => {
            println!(
                "signature OK (algorithm {}, keyVersion {})",
                parsed.algorithm.as_str(),
                key_version(&parsed)
            );
            for leniency in &parsed.leniencies {
                println!("warning: {leniency} (accepted, but not what the Alipay+ SDK sends)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("signature NOT OK: {error}");
            eprintln!("content that was verified (check each part against what the signer used):");
            eprintln!("{}", String::from_utf8_lossy(&message.content()));
            eprintln!("\nbody: {} bytes; public key fingerprint SHA256:{}", body.len(), public.fingerprint());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn key_version(parsed: &SignatureHeader) -> String {
    parsed.key_version.map_or_else(|| "not given".to_owned(), |v| v.to_string())
}

/// Accepts `Signature: algorithm=…` as pasted from a log, as well as the bare value.
fn strip_header_name(value: &str) -> &str {
    let trimmed = value.trim();
    match trimmed.split_once(':') {
        Some((name, rest)) if name.trim().eq_ignore_ascii_case("signature") => rest.trim(),
        _ => trimmed,
    }
}

fn parts<'a>(args: &'a MessageArgs, body: &'a [u8]) -> MessageParts<'a> {
    MessageParts { method: &args.method, uri: &args.uri, client_id: &args.client_id, time: &args.time, body }
}
