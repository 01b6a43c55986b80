//! `plusbox dispute …`: the TSP's disputes (alipayplus-api.md §13.3). Start a retrieval or an
//! escalation against a recorded payment, list and show disputes with their answers, close an
//! open one, and set an application's dispute URL. The commands write the sandbox database; a
//! running `plusbox serve` sends the signed `initiateRetrieval` / `initiateEscalation` from its
//! outbox. A refused start exits non-zero and names the rule (`--json`: `{code, message}`).

use std::process::ExitCode;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use plusbox_core::protocol::time::format_instant;
use plusbox_sandbox::store::{DisputeInput, DisputeKind, DisputeRecord, DisputeRefusal, Store};

use super::sandbox::DataArg;

/// `plusbox dispute`.
#[derive(Debug, Subcommand)]
pub enum DisputeCommand {
    /// Start a retrieval (a request for the transaction's information) against a payment.
    Retrieve(StartArgs),
    /// Start an escalation (a chargeback) against a payment.
    Escalate(EscalateArgs),
    /// List disputes, newest first, with their states.
    List {
        #[command(flatten)]
        data: DataArg,
        /// Only this application's (Client-Id or name); every application's by default.
        #[arg(long)]
        app: Option<String>,
        /// JSON output: an array of disputes.
        #[arg(long)]
        json: bool,
    },
    /// Show one dispute: its state, delivery, and the ACQP's answer.
    Show {
        /// The disputeRequestId.
        id: String,
        #[command(flatten)]
        data: DataArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Close an open dispute: the sandbox stops waiting, and a later answer is refused
    /// F DISPUTE_CLOSED.
    Close {
        /// The disputeRequestId.
        id: String,
        #[command(flatten)]
        data: DataArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Set the application's dispute URL (`none` clears it): initiateRetrieval goes to
    /// URL/aps/api/v1/disputes/initiateRetrieval, initiateEscalation likewise.
    SetUrl {
        /// The ACQP's base URL for disputes, e.g. http://127.0.0.1:9000, or `none`.
        url: String,
        #[command(flatten)]
        data: DataArg,
        /// The application (Client-Id or name); the default application otherwise.
        #[arg(long)]
        app: Option<String>,
    },
}

/// Options of `retrieve`.
#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// The disputed payment: its paymentId or paymentRequestId.
    #[arg(long)]
    pub payment: String,
    /// disputeRequestReason code (A-Z, 0-9, _), e.g. TRANSACTION_INFO_REQUEST.
    #[arg(long)]
    pub reason: Option<String>,
    /// JSON output: the dispute, or {code, message} when refused.
    #[arg(long)]
    pub json: bool,
}

/// Options of `escalate`.
#[derive(Debug, Args)]
pub struct EscalateArgs {
    #[command(flatten)]
    pub start: StartArgs,
    /// The disputed amount, e.g. "12.00 USD"; the disputable amount (paid minus refunded) by
    /// default.
    #[arg(long)]
    pub amount: Option<String>,
}

fn sandbox_now(store: &Store) -> anyhow::Result<time::OffsetDateTime> {
    // Windows run on sandbox time: the wall clock plus any jump ahead.
    Ok(plusbox_sandbox::clock::add_saturating(time::OffsetDateTime::now_utc(), store.clock_offset()?))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn describe(d: &DisputeRecord) {
    let amount = d.amount.map(|a| format!("  amount {a}")).unwrap_or_default();
    println!(
        "{} {} #{} of payment {} ({}): {}{}",
        d.kind.word(),
        d.dispute_request_id,
        d.sequence,
        d.payment_id,
        d.payment_request_id,
        d.status,
        amount
    );
    println!(
        "  reason {}; started {}; answer due {}",
        d.reason_code,
        format_instant(d.created_at),
        format_instant(d.respond_by)
    );
    if let Some(delivery) = &d.delivery {
        let error = delivery.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
        println!(
            "  {}: {} after {} attempt(s){error}",
            d.kind.initiate_api(),
            delivery.status,
            delivery.attempts
        );
    }
    if let Some(at) = d.acknowledged_at {
        println!("  acknowledged (signed) {}", format_instant(at));
    }
    if let Some(at) = d.answered_at {
        println!("  answered {} with {}", format_instant(at), d.kind.response_api());
    }
    if let Some(at) = d.closed_at {
        println!("  closed {}", format_instant(at))
    }
}

fn refusal(refusal: DisputeRefusal, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        print_json(&refusal)?;
    } else {
        eprintln!("refused: {}: {}", refusal.code, refusal.message);
    }
    Ok(ExitCode::FAILURE)
}

fn start(kind: DisputeKind, args: StartArgs, amount: Option<String>) -> anyhow::Result<ExitCode> {
    let amount = amount
        .map(|text| {
            text.parse::<plusbox_core::money::Amount>()
                .map_err(|e| anyhow!("--amount {text:?}: {e} (write e.g. \"12.00 USD\")"))
        })
        .transpose()?;
    let store = args.data.open()?;
    let now = sandbox_now(&store)?;
    let input = DisputeInput { kind, payment: args.payment, reason: args.reason, amount };
    match store.open_dispute(&input, now)? {
        Err(refused) => refusal(refused, args.json),
        Ok(dispute) => {
            if args.json {
                print_json(&dispute)?;
            } else {
                describe(&dispute);
                println!(
                    "  {} queued: a running `plusbox serve` sends it signed to the dispute URL.",
                    kind.initiate_api()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs a `plusbox dispute` command.
pub fn run(command: DisputeCommand) -> anyhow::Result<ExitCode> {
    match command {
        DisputeCommand::Retrieve(args) => start(DisputeKind::Retrieval, args, None),
        DisputeCommand::Escalate(args) => start(DisputeKind::Escalation, args.start, args.amount),
        DisputeCommand::List { data, app, json } => {
            let store = data.open()?;
            let app_id = app.as_deref().map(|a| store.resolve_app(Some(a))).transpose()?.map(|a| a.id);
            let disputes = store.disputes(app_id, sandbox_now(&store)?)?;
            if json {
                print_json(&disputes)?;
                return Ok(ExitCode::SUCCESS);
            }
            if disputes.is_empty() {
                println!("No disputes. Start one with `plusbox dispute retrieve --payment ID`.");
            }
            for d in &disputes {
                describe(d);
            }
            Ok(ExitCode::SUCCESS)
        }
        DisputeCommand::Show { id, data, json } => {
            let store = data.open()?;
            let dispute = store
                .dispute(&id, sandbox_now(&store)?)?
                .ok_or_else(|| anyhow!("no dispute {id:?} (see `plusbox dispute list`)"))?;
            if json {
                print_json(&dispute)?;
                return Ok(ExitCode::SUCCESS);
            }
            describe(&dispute);
            if let Some(response) = &dispute.response {
                println!("  answer: {}", serde_json::to_string_pretty(response)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        DisputeCommand::Close { id, data, json } => {
            let store = data.open()?;
            match store.close_dispute(&id, sandbox_now(&store)?)? {
                Err(refused) => refusal(refused, json),
                Ok(dispute) => {
                    if json {
                        print_json(&dispute)?;
                    } else {
                        describe(&dispute);
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        DisputeCommand::SetUrl { url, data, app } => {
            let store = data.open()?;
            let app = store.resolve_app(app.as_deref())?;
            let url = (url != "none").then_some(url);
            store.set_dispute_url(app.id, url.as_deref())?;
            match url {
                Some(url) => println!(
                    "Dispute URL set: initiateRetrieval goes to {}, initiateEscalation to {}.",
                    plusbox_sandbox::store::initiate_url(&url, DisputeKind::Retrieval),
                    plusbox_sandbox::store::initiate_url(&url, DisputeKind::Escalation)
                ),
                None => println!("Dispute URL cleared: disputes cannot be started until one is set."),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
