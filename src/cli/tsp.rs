//! `plusbox tsp …`: TSP mode (alipayplus-api.md §14, docs/tsp.md). The TSP makes an
//! authorization URL for an ACQP application and chosen products; the ACQP authorizes it (as it
//! would click Authorize in Developer Center), cancels it or changes its scope; the TSP lists
//! the authorizations with their status and Agent-Token. An application in TSP mode answers
//! every call without the Agent-Token of one of its active authorizations with F ACCESS_DENIED.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use plusbox_sandbox::store::{authorization_id_of, parse_products, Store, TspAuthorization};

use super::sandbox::DataArg;

/// `plusbox tsp`.
#[derive(Debug, Subcommand)]
pub enum TspCommand {
    /// Put an application in TSP mode: every call needs an active authorization's Agent-Token.
    Enable(AppSelect),
    /// Take an application out of TSP mode: the Agent-Token header is ignored again.
    Disable(AppSelect),
    /// The TSP makes an authorization URL for an ACQP application and products, to send to the
    /// ACQP.
    AuthorizeUrl {
        #[command(flatten)]
        select: AppSelect,
        /// Products the TSP asks to act for, comma-separated: upm (User-presented Mode), mpm
        /// (Merchant-presented Mode).
        #[arg(long, value_name = "upm,mpm")]
        products: String,
        /// JSON output: {authorizationUrl, authorization: {...}}.
        #[arg(long)]
        json: bool,
    },
    /// The ACQP authorizes (clicks Authorize on the URL): the authorization becomes Active, its
    /// Agent-Token is issued, and the application enters TSP mode.
    Authorize(OneAuthorization),
    /// The ACQP cancels an authorization: Inactive, its Agent-Token refused from now on.
    Cancel(OneAuthorization),
    /// The ACQP changes the products of an authorization (the Agent-Token stays).
    Scope {
        #[command(flatten)]
        one: OneAuthorization,
        /// The new products, comma-separated (upm, mpm).
        #[arg(long, value_name = "upm,mpm")]
        products: String,
    },
    /// List authorizations: status (Active/Inactive), products and Agent-Token.
    List {
        #[command(flatten)]
        select: AppSelect,
        /// JSON output: [{authorizationId, clientId, appName, products, status, displayStatus,
        /// agentToken, createdAt, authorizedAt, cancelledAt, tspMode}].
        #[arg(long)]
        json: bool,
    },
}

/// The application a command is about.
#[derive(Debug, Args)]
pub struct AppSelect {
    #[command(flatten)]
    data: DataArg,
    /// The ACQP application, by Client-Id or name (default: the default application; for
    /// `list`, every application).
    #[arg(long, value_name = "CLIENT-ID|NAME")]
    app: Option<String>,
}

/// One authorization, by URL or id.
#[derive(Debug, Args)]
pub struct OneAuthorization {
    #[command(flatten)]
    data: DataArg,
    /// The authorization URL the TSP sent, or its id (AUTH_…).
    #[arg(value_name = "URL-OR-ID")]
    authorization: String,
    /// JSON output: the authorization.
    #[arg(long)]
    json: bool,
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

/// The authorization URL of `id` on this sandbox.
fn authorization_url(store: &Store, app_id: i64, id: &str) -> anyhow::Result<String> {
    let gateway = store.app_view_of(app_id)?.gateway_url;
    Ok(format!("{}/tsp/authorize/{id}", gateway.trim_end_matches('/')))
}

fn describe(a: &TspAuthorization) {
    let products: Vec<&str> = a.products.iter().map(|p| p.as_str()).collect();
    println!(
        "{}  {:<8} {:<8} app {} ({})  products {}  Agent-Token {}",
        a.authorization_id,
        a.display_status,
        a.status,
        plusbox_sandbox::text::escape_terminal(&a.app_name),
        a.client_id,
        products.join(","),
        a.agent_token.as_deref().unwrap_or("(not authorized yet)")
    );
}

/// Runs `plusbox tsp …`.
pub fn run(command: TspCommand) -> anyhow::Result<ExitCode> {
    match command {
        TspCommand::Enable(AppSelect { data, app }) => {
            let store = data.open()?;
            let app = store.resolve_app(app.as_deref())?;
            store.set_tsp_mode(app.id, true)?;
            println!(
                "TSP mode on for {} ({}): every call needs the Agent-Token of an active authorization (F ACCESS_DENIED otherwise).",
                store.app_name(app.id)?,
                app.client_id
            );
        }
        TspCommand::Disable(AppSelect { data, app }) => {
            let store = data.open()?;
            let app = store.resolve_app(app.as_deref())?;
            store.set_tsp_mode(app.id, false)?;
            println!(
                "TSP mode off for {} ({}): the Agent-Token header is ignored.",
                store.app_name(app.id)?,
                app.client_id
            );
        }
        TspCommand::AuthorizeUrl { select: AppSelect { data, app }, products, json } => {
            let products = parse_products(&products)?;
            let store = data.open()?;
            let app = store.resolve_app(app.as_deref())?;
            let authorization = store.create_tsp_authorization(app.id, &products, now())?;
            let url = authorization_url(&store, app.id, &authorization.authorization_id)?;
            if json {
                return print_json(
                    &serde_json::json!({"authorizationUrl": url, "authorization": authorization}),
                );
            }
            println!("{url}");
            println!(
                "Send it to the ACQP; it authorizes with: plusbox tsp authorize {}",
                authorization.authorization_id
            );
        }
        TspCommand::Authorize(OneAuthorization { data, authorization, json }) => {
            let store = data.open()?;
            let id = authorization_id_of(&authorization)?;
            let authorization = store.authorize_tsp(&id, now())?;
            if json {
                return print_json(&authorization);
            }
            describe(&authorization);
            println!(
                "Configure the TSP's calls for this ACQP with: agent_token = \"{}\"",
                authorization.agent_token.as_deref().unwrap_or("")
            );
        }
        TspCommand::Cancel(OneAuthorization { data, authorization, json }) => {
            let store = data.open()?;
            let id = authorization_id_of(&authorization)?;
            let authorization = store.cancel_tsp_authorization(&id, now())?;
            if json {
                return print_json(&authorization);
            }
            describe(&authorization);
        }
        TspCommand::Scope { one: OneAuthorization { data, authorization, json }, products } => {
            let products = parse_products(&products)?;
            let store = data.open()?;
            let id = authorization_id_of(&authorization)?;
            let authorization = store.change_tsp_scope(&id, &products)?;
            if json {
                return print_json(&authorization);
            }
            describe(&authorization);
        }
        TspCommand::List { select: AppSelect { data, app }, json } => {
            let store = data.open()?;
            let app_id = match app {
                Some(selector) => Some(store.resolve_app(Some(&selector))?.id),
                None => None,
            };
            let authorizations = store.tsp_authorizations(app_id)?;
            if json {
                return print_json(&authorizations);
            }
            if authorizations.is_empty() {
                println!("No TSP authorizations (make one with plusbox tsp authorize-url --app ACQP --products upm).");
            }
            for authorization in &authorizations {
                describe(authorization);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
