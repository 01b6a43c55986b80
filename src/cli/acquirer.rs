//! `plusbox acquirer …`: the reference acquirer — write a configuration wired to a sandbox,
//! serve the POS-driver API and notify endpoint, and list the fault switches.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::Subcommand;
use plusbox_acquirer::{server, Acquirer, AcquirerConfig, Fault, SystemClock};

/// `plusbox acquirer …`
#[derive(Debug, Subcommand)]
pub enum AcquirerCommand {
    /// Run the acquirer: POS-driver API (/charge, /refund, /cancel, /payments/{id}) and the
    /// notifyPayment endpoint, with its own SQLite order table.
    Serve {
        /// Acquirer configuration file.
        #[arg(long, env = "PLUSBOX_ACQUIRER_CONFIG", default_value = "acquirer.toml")]
        config: PathBuf,
        /// Address to listen on (default: `listen` from the configuration).
        #[arg(long)]
        listen: Option<String>,
        /// Switch a fault on (repeatable; `plusbox acquirer faults` lists them).
        #[arg(long = "fault", value_name = "NAME")]
        fault: Vec<Fault>,
    },
    /// List the fault switches and the rule each one breaks.
    Faults {
        /// Print JSON: [{name, section, rule, behaviour}].
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `acquirer` command.
pub fn run(command: AcquirerCommand) -> anyhow::Result<ExitCode> {
    match command {
        AcquirerCommand::Faults { json } => {
            print_faults(json)?;
            Ok(ExitCode::SUCCESS)
        }
        AcquirerCommand::Serve { config, listen, fault } => {
            let mut config = AcquirerConfig::load(&config)?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(serve(config, fault))
        }
    }
}

async fn serve(config: AcquirerConfig, faults: Vec<Fault>) -> anyhow::Result<ExitCode> {
    let acquirer = Acquirer::new(config, faults, Arc::new(SystemClock))?;
    let listen = acquirer.config().listen.clone();
    let (addr, task) = server::spawn(acquirer.clone(), &listen).await?;
    println!("acquirer listening on http://{addr}");
    println!("  gateway     {}", acquirer.config().gateway_url);
    println!("  client id   {}", acquirer.config().client_id);
    println!("  notify url  {}", acquirer.config().notify_url);
    println!("  order table {}", acquirer.config().database.display());
    let faults: Vec<&str> = acquirer.faults().iter().map(Fault::name).collect();
    println!("  faults      {}", if faults.is_empty() { "none (correct acquirer)".to_owned() } else { faults.join(", ") });
    tokio::select! {
        result = task => match result {
            Ok(Ok(())) => Ok(ExitCode::SUCCESS),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => bail!("server task failed: {e}"),
        },
        _ = tokio::signal::ctrl_c() => Ok(ExitCode::SUCCESS),
    }
}

fn print_faults(json: bool) -> anyhow::Result<()> {
    if json {
        let list: Vec<_> = Fault::ALL
            .iter()
            .map(|f| serde_json::json!({"name": f.name(), "section": f.section(), "rule": f.rule(), "behaviour": f.behaviour()}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for f in Fault::ALL {
        println!("{:<28} {}", f.name(), f.section());
        println!("  rule:  {}", f.rule());
        println!("  fault: {}", f.behaviour());
    }
    Ok(())
}
