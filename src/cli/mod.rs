//! Command-line definitions. Each command group lives in its own module.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Plusbox: an Alipay+ sandbox in a box, and its test companion.
#[derive(Debug, Parser)]
#[command(name = "plusbox", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
    }
}
