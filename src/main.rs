//! The `plusbox` command line: sandbox, demo, keys, signatures, payment codes.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    if args.command.uses_network() {
        end_quietly_on_broken_pipe();
    } else {
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

/// Commands that open connections keep SIGPIPE ignored, so a peer that hangs up stays an error
/// on that one connection; but then `println!` panics when their own reader goes away
/// (`plusbox pos show … | head`). That panic is turned into the quiet exit a shell expects from
/// a pipeline cut short (128 + SIGPIPE); every other panic still reports as usual.
fn end_quietly_on_broken_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to std")
            && (message.contains("Broken pipe") || message.contains("(os error 32)"))
        {
            std::process::exit(141);
        }
        report(info);
    }));
}
