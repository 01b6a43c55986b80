//! `plusbox admin`: the TSP dashboard's admin password. The password is read from the terminal
//! (asked twice, not echoed) or, for scripts, from standard input with `--stdin`; it is hashed
//! with Argon2id here and only its PHC string reaches the data directory.

use std::io::{BufRead, Read};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use plusbox_core::secret::SecretString;
use plusbox_sandbox::dashboard::{hash_admin_password, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};

use super::sandbox::DataArg;

/// `plusbox admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Set or change the dashboard's admin password (ends every open dashboard session).
    SetPassword(SetPasswordArgs),
}

/// `plusbox admin set-password`.
#[derive(Debug, Args)]
pub struct SetPasswordArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Read the password from the first line of standard input (for scripts) instead of asking
    /// twice on the terminal.
    #[arg(long)]
    pub stdin: bool,
}

/// Runs an `admin` command.
pub fn run(command: AdminCommand) -> anyhow::Result<ExitCode> {
    match command {
        AdminCommand::SetPassword(args) => set_password(args),
    }
}

fn set_password(args: SetPasswordArgs) -> anyhow::Result<ExitCode> {
    let password = if args.stdin { from_stdin()? } else { from_terminal()? };
    let phc = hash_admin_password(&password).map_err(|e| anyhow!("{e}"))?;
    let store = args.data.open()?;
    store.set_admin_password(&phc, time::OffsetDateTime::now_utc()).context("storing the admin password")?;
    println!("The dashboard's admin password is set; open /dashboard on the sandbox and log in.");
    println!("Every dashboard session that was open has ended.");
    Ok(ExitCode::SUCCESS)
}

/// The first line of standard input, without its line ending.
fn from_stdin() -> anyhow::Result<SecretString> {
    let limit = u64::try_from(MAX_PASSWORD_BYTES).unwrap_or(u64::MAX).saturating_add(2);
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(limit)
        .read_line(&mut line)
        .context("reading the password from standard input (it must be UTF-8 text)")?;
    let password = SecretString::new(line.trim_end_matches(['\n', '\r']).to_owned());
    line.clear();
    if password.expose().is_empty() {
        return Err(anyhow!("standard input gave no password (send it as the first line)"));
    }
    Ok(password)
}

/// Asks twice on the terminal, without echo.
fn from_terminal() -> anyhow::Result<SecretString> {
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt).map(SecretString::new).map_err(|e| {
            anyhow!("cannot ask for the password on a terminal ({e}); pipe it in with --stdin instead")
        })
    };
    let first = ask(&format!("New dashboard admin password (at least {MIN_PASSWORD_CHARS} characters): "))?;
    let second = ask("Repeat it: ")?;
    if first.expose() != second.expose() {
        return Err(anyhow!("the two passwords differ; nothing was changed"));
    }
    Ok(first)
}
