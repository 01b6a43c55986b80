//! Command-line definitions. Each command group lives in its own module.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod acquirer;
pub mod admin;
pub mod bench;
pub mod bench_scan;
pub mod bench_suite;
pub mod clock;
pub mod code;
pub mod demo;
pub mod device;
pub mod dispute;
pub mod invite;
pub mod keys;
pub mod pos;
pub mod pos_mpm;
pub mod recon;
pub mod run;
pub mod sandbox;
pub mod scan;
pub mod tsp;

/// Plusbox: an Alipay+ sandbox in a box, and its test companion.
#[derive(Debug, Parser)]
#[command(name = "plusbox", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Payment and merchant codes: generate, render, identify; EMV payloads.
    Code(code::CodeArgs),
    /// Find QR codes in PNG/JPEG images and identify each one.
    Scan(scan::ScanArgs),
    /// Generate and inspect RSA key files.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Sign a message by hand: prints the Signature header value.
    Sign(keys::SignArgs),
    /// Check a Signature header by hand; on a mismatch, shows the content that was verified.
    Verify(keys::VerifyArgs),
    /// The reference acquirer: serve it, list its fault switches.
    #[command(subcommand)]
    Acquirer(acquirer::AcquirerCommand),
    /// The POS simulator: charge a payment code, refund, cancel.
    #[command(subcommand)]
    Pos(pos::PosCommand),
    /// Start a sandbox and a reference acquirer, run one payment per wallet scenario.
    Demo(demo::DemoArgs),
    /// Run the Alipay+ sandbox server (provisions an application on first start).
    Serve(sandbox::ServeArgs),
    /// The sandbox applications: create and list them; show one's settings, upload its ACQP
    /// key, set its notify URL (`--app` picks one; default: the default application).
    App(sandbox::AppArgs),
    /// The simulated buyer wallet: accounts, codes, scenarios, confirmations.
    #[command(subcommand)]
    Wallet(sandbox::WalletCommand),
    /// Service mocking: force result codes on sandbox APIs.
    #[command(subcommand)]
    Mock(sandbox::MockCommand),
    /// The sandbox traffic log.
    #[command(subcommand)]
    Traffic(sandbox::TrafficCommand),
    /// The sandbox clock: show it, jump it ahead (`advance 25h`), reset it.
    #[command(subcommand)]
    Clock(clock::ClockCommand),
    /// Reconciliation files: generate, list, validate, settlement settings.
    #[command(subcommand)]
    Recon(recon::ReconCommand),
    /// Disputes (TSP): start a retrieval or escalation against a payment, list, show, close;
    /// the application's dispute URL.
    #[command(subcommand)]
    Dispute(dispute::DisputeCommand),
    /// TSP mode (docs/tsp.md): authorization URLs, the ACQP's authorization, Agent-Tokens,
    /// the per-application TSP-mode switch.
    #[command(subcommand)]
    Tsp(tsp::TspCommand),
    /// Run acceptance test cases against a POS (the POS-driver contract) and judge them.
    Run(run::RunArgs),
    /// Invite merchants to test: create (link and QR), import a list (CSV, .xlsx), list, revoke.
    #[command(subcommand)]
    Invite(invite::InviteCommand),
    /// What invited merchants' devices uploaded (the results collector).
    #[command(subcommand)]
    Results(invite::ResultsCommand),
    /// A companion device run headless (CI): link it with an invite, upload its queue.
    #[command(subcommand)]
    Device(device::DeviceCommand),
    /// The TSP dashboard's admin: `admin set-password`.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Benchmarks: `bench sandbox` (pay+inquiry latency and throughput), `bench suite` (the UPM
    /// acceptance suite on compressed time, per case).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

impl Command {
    /// Whether the command opens network connections (servers, HTTP clients). Those keep Rust's
    /// default of ignoring SIGPIPE, so a peer that hangs up is an error on that connection and
    /// never kills the process; the others print and exit, and may end quietly when a reader
    /// such as `head` closes the pipe.
    pub fn uses_network(&self) -> bool {
        matches!(
            self,
            Command::Acquirer(acquirer::AcquirerCommand::Serve { .. })
                | Command::Acquirer(acquirer::AcquirerCommand::Reconcile { .. })
                | Command::Pos(_)
                | Command::Demo(_)
                | Command::Serve(_)
                | Command::Run(_)
                | Command::Device(_)
                | Command::Bench(_)
        )
    }
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Code(args) => code::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Keys(command) => keys::run_keys(command),
        Command::Sign(args) => keys::run_sign(args),
        Command::Verify(args) => keys::run_verify(args),
        Command::Acquirer(command) => acquirer::run(command),
        Command::Pos(command) => pos::run(command),
        Command::Demo(args) => demo::run(args),
        Command::Serve(args) => sandbox::run_serve(args),
        Command::App(command) => sandbox::run_app(command),
        Command::Wallet(command) => sandbox::run_wallet(command),
        Command::Mock(command) => sandbox::run_mock(command),
        Command::Traffic(command) => sandbox::run_traffic(command),
        Command::Clock(command) => clock::run(command),
        Command::Recon(command) => recon::run(command),
        Command::Dispute(command) => dispute::run(command),
        Command::Tsp(command) => tsp::run(command),
        Command::Run(args) => run::run(args),
        Command::Invite(command) => invite::run_invite(command),
        Command::Results(command) => invite::run_results(command),
        Command::Device(command) => device::run(command),
        Command::Admin(command) => admin::run(command),
        Command::Bench(command) => bench::run(command),
    }
}
