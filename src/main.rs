//! The `plusbox` command line: sandbox, demo, keys, signatures, payment codes.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    if !args.command.uses_network() {
        // `plusbox traffic list --json | head` should stop quietly, as Unix tools do.
        sigpipe::reset();
    }
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
