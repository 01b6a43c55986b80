//! `plusbox code …`: make, render and identify payment and merchant codes; EMV payloads.
//!
//! Formats and rules are in `plusbox_core::codes`; drawing is in `plusbox_companion::render`.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use plusbox_companion::render::{self, RenderSize, Symbology};
use plusbox_core::codes::emv::{self, EmvObject};
use plusbox_core::codes::{
    generate_payment_code, identify_scanned, CodeForm, MpmContext, ScannedCode, WalletTable,
};
use plusbox_core::protocol::time::format_instant;
use serde_json::{json, Map, Value};

/// `plusbox code …`
#[derive(Debug, Args)]
pub struct CodeArgs {
    #[command(subcommand)]
    pub command: CodeCommand,
}

/// The code subcommands.
#[derive(Debug, Subcommand)]
pub enum CodeCommand {
    /// Generate a one-time payment code (valid 60 s) for a wallet persona, or, with `--account`,
    /// have the sandbox in `--data` issue one bound to that buyer (what `pay` will charge).
    New {
        /// Code form: 24 (CGCP, default), 17 or 18 (legacy), 19 (Alipay+ 19-digit).
        #[arg(long, default_value = "24")]
        form: CodeForm,
        /// Wallet persona: enum (ALIPAY_HK), brand name (AlipayHK) or pspId; default Test Wallet.
        #[arg(long, conflicts_with = "account")]
        wallet: Option<String>,
        /// Sandbox buyer account to bind the code to (e.g. buyer-1); the code is then recorded in
        /// the sandbox and is one-time and expiring like a wallet's.
        #[arg(long)]
        account: Option<String>,
        #[command(flatten)]
        data: super::sandbox::DataArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Draw a code as SVG, PNG or terminal blocks. Digits get a Code 128 barcode and a QR code.
    Render {
        /// The code text (payment code digits, URL, EMV payload, …).
        code: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Terminal)]
        format: Format,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Phone screen or print (600 dpi, millimetre SVG).
        #[arg(long, value_enum, default_value_t = SizeArg::Phone)]
        size: SizeArg,
        /// Which symbol: both (default for digits), qr (default otherwise) or code128.
        #[arg(long, value_enum)]
        symbology: Option<SymbologyArg>,
        /// Terminal only: draw for a light-background terminal.
        #[arg(long)]
        invert: bool,
    },
    /// Identify a scanned code: family, wallet, pspId, valid, reason. Exit status 1 when the
    /// code is not acceptable.
    Identify {
        /// The code text.
        code: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// A registered private-order-code domain (repeatable).
        #[arg(long = "private-domain")]
        private_domains: Vec<String>,
        /// The order-code domain (default global.alipay.com).
        #[arg(long)]
        order_code_domain: Option<String>,
    },
    /// EMVCo merchant-presented QR payloads.
    #[command(subcommand)]
    Emv(EmvCommand),
}

/// `plusbox code emv …`
#[derive(Debug, Subcommand)]
pub enum EmvCommand {
    /// Build a payload with its CRC, from JSON (`{"00":"01","26":{"00":"GUI",…},…}` or a list
    /// of `{id, value, children}`) or from flags.
    Encode(Box<EmvEncodeArgs>),
    /// Parse and validate a payload (CRC, tags, mandatory fields); prints JSON.
    Decode {
        /// The payload text, or `-` to read standard input.
        payload: String,
    },
}

/// Flags for `plusbox code emv encode`.
#[derive(Debug, Args)]
pub struct EmvEncodeArgs {
    /// JSON text, `@FILE`, or `-` for standard input. Other flags are then ignored.
    #[arg(long)]
    json: Option<String>,
    /// Merchant account template ID (26–51).
    #[arg(long, default_value = "26")]
    account_tag: String,
    /// Globally unique identifier of the merchant account template (sub-ID 00).
    #[arg(long)]
    gui: Option<String>,
    /// Merchant account value (sub-ID 01).
    #[arg(long)]
    account: Option<String>,
    /// Merchant category code (ISO 18245).
    #[arg(long, default_value = "5999")]
    mcc: String,
    /// Currency, ISO 4217 numeric.
    #[arg(long)]
    currency: Option<String>,
    /// Amount, e.g. 10.00 (makes the code dynamic).
    #[arg(long)]
    amount: Option<String>,
    /// Country, ISO 3166 alpha-2.
    #[arg(long)]
    country: Option<String>,
    /// Merchant name.
    #[arg(long)]
    name: Option<String>,
    /// Merchant city.
    #[arg(long)]
    city: Option<String>,
    /// Reference label (62/05).
    #[arg(long)]
    reference: Option<String>,
}

/// Output formats of `code render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Scalable vector graphics.
    Svg,
    /// PNG raster.
    Png,
    /// Unicode half blocks on the terminal.
    Terminal,
}

/// Sizes of `code render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SizeArg {
    /// For a phone screen.
    Phone,
    /// For print.
    Print,
}

/// Symbols of `code render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SymbologyArg {
    /// QR code.
    Qr,
    /// Code 128 barcode (digits only).
    Code128,
    /// Barcode above QR code (digits only).
    Both,
}

/// Runs `plusbox code …`.
pub fn run(args: CodeArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        CodeCommand::New { form, account: Some(account), data, json, .. } => {
            new_bound_code(form, &account, &data, json)
        }
        CodeCommand::New { form, wallet, json, .. } => new_code(form, wallet.as_deref(), json),
        CodeCommand::Render { code, format, out, size, symbology, invert } => {
            render_code(&code, format, out, size, symbology, invert)
        }
        CodeCommand::Identify { code, json, private_domains, order_code_domain } => {
            identify(&code, json, &private_domains, order_code_domain.as_deref())
        }
        CodeCommand::Emv(EmvCommand::Encode(args)) => emv_encode(*args),
        CodeCommand::Emv(EmvCommand::Decode { payload }) => emv_decode(&payload),
    }
}

/// A code issued by the sandbox store for one of its buyers, so `pay` charges that buyer.
fn new_bound_code(
    form: CodeForm,
    account: &str,
    data: &super::sandbox::DataArg,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = data.open()?;
    let issued = store
        .issue_code_in_form(account, form, time::OffsetDateTime::now_utc())
        .with_context(|| format!("the sandbox could not issue a code for {account:?}"))?;
    let identification = WalletTable::builtin().identify(&issued.code);
    if json {
        let out = json!({
            "code": issued.code,
            "account": issued.account,
            "form": form.to_string(),
            "family": identification.family,
            "wallet": identification.wallet,
            "walletBrandName": identification.wallet_brand_name,
            "pspId": identification.psp_id,
            "routingNumber": identification.routing_number,
            "expiresAt": issued.expires_at,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}", plusbox_core::codes::group_digits(&issued.code));
        println!(
            "{} · for {} · {} · expires {}",
            identification.family,
            issued.account,
            identification.wallet_brand_name.as_deref().unwrap_or("unknown wallet"),
            issued.expires_at
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn new_code(form: CodeForm, wallet: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let table = WalletTable::builtin();
    let persona = match wallet {
        Some(name) => table.find(name).with_context(|| {
            let names: Vec<&str> = table.wallets.iter().map(|w| w.wallet_enum.as_str()).collect();
            format!("unknown wallet {name:?}; known: {}", names.join(", "))
        })?,
        None => table.default_persona().context("the wallet table has no default persona")?,
    };
    let now = time::OffsetDateTime::now_utc();
    let code = generate_payment_code(form, persona, now, &mut plusbox_companion::system_random());
    let identification = table.identify(&code.value);
    if json {
        let out = json!({
            "code": code.value,
            "form": form.to_string(),
            "family": identification.family,
            "wallet": persona.wallet_enum,
            "walletBrandName": persona.wallet_brand_name,
            "pspId": persona.psp_id,
            "routingNumber": identification.routing_number,
            "issuedAt": format_instant(code.issued_at),
            "expiresAt": format_instant(code.expires_at),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}", plusbox_core::codes::group_digits(&code.value));
        println!(
            "{} · {} ({}) · expires {}",
            identification.family,
            persona.wallet_brand_name,
            persona.psp_id,
            format_instant(code.expires_at)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn render_code(
    code: &str,
    format: Format,
    out: Option<PathBuf>,
    size: SizeArg,
    symbology: Option<SymbologyArg>,
    invert: bool,
) -> anyhow::Result<ExitCode> {
    let digits = !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit());
    let symbology = symbology.unwrap_or(if digits { SymbologyArg::Both } else { SymbologyArg::Qr });
    if symbology != SymbologyArg::Qr && !digits {
        bail!("Code 128 here encodes payment-code digits only; use --symbology qr");
    }
    let size = match size {
        SizeArg::Phone => RenderSize::Phone,
        SizeArg::Print => RenderSize::Print,
    };
    let bytes: Vec<u8> = match (format, symbology) {
        (Format::Svg, SymbologyArg::Both) => render::payment_code_svg(code, size)?.into_bytes(),
        (Format::Svg, SymbologyArg::Qr) => render::render_svg(code, Symbology::Qr, size)?.into_bytes(),
        (Format::Svg, SymbologyArg::Code128) => {
            render::render_svg(code, Symbology::Code128, size)?.into_bytes()
        }
        (Format::Png, SymbologyArg::Both) => render::png_bytes(&render::payment_code_image(code, size)?)?,
        (Format::Png, SymbologyArg::Qr) => render::render_png(code, Symbology::Qr, size)?,
        (Format::Png, SymbologyArg::Code128) => render::render_png(code, Symbology::Code128, size)?,
        (Format::Terminal, choice) => {
            let mut text = String::new();
            if choice != SymbologyArg::Qr {
                text.push_str(&render::render_terminal(code, Symbology::Code128, invert)?);
            }
            if choice != SymbologyArg::Code128 {
                text.push_str(&render::render_terminal(code, Symbology::Qr, invert)?);
            }
            text.into_bytes()
        }
    };
    match out {
        Some(path) => {
            std::fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the wallet's identification context from flags.
pub fn context(private_domains: &[String], order_code_domain: Option<&str>) -> anyhow::Result<MpmContext> {
    let mut context = match order_code_domain {
        Some(domain) => MpmContext::with_order_code_domain(domain)?,
        None => MpmContext::default(),
    };
    for domain in private_domains {
        context.register_private_domain(domain)?;
    }
    Ok(context)
}

/// The JSON `code identify` and `scan` print for a scanned text: for payment codes the
/// classifier's fields (family, wallet, pspId, valid, reason) at top level; for merchant codes
/// the kind and its details.
pub fn classification_json(scanned: &ScannedCode) -> anyhow::Result<Value> {
    Ok(match scanned {
        ScannedCode::PaymentCode { identification } => {
            let mut value = serde_json::to_value(identification)?;
            if let Value::Object(map) = &mut value {
                map.insert("kind".into(), json!("PAYMENT_CODE"));
            }
            value
        }
        other => {
            let mut value = serde_json::to_value(other)?;
            if let Value::Object(map) = &mut value {
                let valid = !matches!(other, ScannedCode::Unsupported { .. });
                map.insert("valid".into(), json!(valid));
                if let Some(action) = other.action() {
                    map.insert("postCodeMatchActionType".into(), json!(action));
                }
            }
            value
        }
    })
}

fn identify(
    code: &str,
    json: bool,
    private_domains: &[String],
    order_code_domain: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let context = context(private_domains, order_code_domain)?;
    let scanned = identify_scanned(code, &context);
    let value = classification_json(&scanned)?;
    let valid = value.get("valid").and_then(Value::as_bool).unwrap_or(false);
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{}", describe(&scanned));
    }
    Ok(if valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// One line for people.
pub fn describe(scanned: &ScannedCode) -> String {
    match scanned {
        ScannedCode::PaymentCode { identification: id } => {
            let wallet = match (&id.wallet_brand_name, &id.psp_id) {
                (Some(name), Some(psp)) => format!(" · {name} (pspId {psp})"),
                _ => String::new(),
            };
            let routing = id.routing_number.as_ref().map(|r| format!(" · routing {r}")).unwrap_or_default();
            match &id.reason {
                Some(reason) => format!("payment code: {} — {reason}", id.family),
                None => format!("payment code: {}{routing}{wallet}", id.family),
            }
        }
        ScannedCode::OrderCode { code, .. } => format!("Alipay+ order code {code} (DECODE)"),
        ScannedCode::PrivateOrderCode { host, .. } => {
            format!("private order code on {host} (DECODE → userInitiatedPay)")
        }
        ScannedCode::MpmV3 { domain, payable, .. } => format!(
            "Alipay+ MPM v3 code from {domain}{}",
            if *payable { "" } else { " (domain not registered: not payable)" }
        ),
        ScannedCode::EntryCode { url } => format!("entry code: open {url} (OPEN_URL)"),
        ScannedCode::Emv { payload } => format!(
            "EMVCo merchant QR ({} objects, CRC {}): not an Alipay+ code",
            payload.objects.len(),
            payload.crc
        ),
        ScannedCode::Unsupported { reason } => format!("unsupported: {reason}"),
    }
}

fn read_text(arg: &str) -> anyhow::Result<String> {
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text.trim_end_matches(['\n', '\r']).to_string())
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))
    } else {
        Ok(arg.to_string())
    }
}

/// Parses either `{"00":"01","26":{"00":…}}` or `[{"id":…,"value":…,"children":[…]}]`.
fn objects_from_json(value: &Value) -> anyhow::Result<Vec<EmvObject>> {
    match value {
        Value::Array(_) => Ok(serde_json::from_value(value.clone())?),
        Value::Object(map) => map
            .iter()
            .map(|(id, v)| match v {
                Value::String(s) => Ok(EmvObject::new(id, s)),
                Value::Object(children) => Ok(EmvObject::template(
                    id,
                    children
                        .iter()
                        .map(|(sub, v)| match v {
                            Value::String(s) => Ok(EmvObject::new(sub, s)),
                            other => bail!("sub-object {id}.{sub} must be a string, got {other}"),
                        })
                        .collect::<anyhow::Result<_>>()?,
                )),
                other => bail!("object {id} must be a string or an object, got {other}"),
            })
            .collect(),
        other => bail!("expected a JSON object or array, got {other}"),
    }
}

fn emv_encode(args: EmvEncodeArgs) -> anyhow::Result<ExitCode> {
    let objects = match &args.json {
        Some(source) => {
            let text = read_text(source)?;
            objects_from_json(&serde_json::from_str(&text).context("invalid JSON")?)?
        }
        None => {
            let need = |v: &Option<String>, flag: &str| {
                v.clone().with_context(|| format!("--{flag} is required without --json"))
            };
            let mut objects = vec![
                EmvObject::new("00", "01"),
                EmvObject::new("01", if args.amount.is_some() { "12" } else { "11" }),
                EmvObject::template(
                    &args.account_tag,
                    vec![
                        EmvObject::new("00", &need(&args.gui, "gui")?),
                        EmvObject::new("01", &need(&args.account, "account")?),
                    ],
                ),
                EmvObject::new("52", &args.mcc),
                EmvObject::new("53", &need(&args.currency, "currency")?),
            ];
            if let Some(amount) = &args.amount {
                objects.push(EmvObject::new("54", amount));
            }
            objects.push(EmvObject::new("58", &need(&args.country, "country")?));
            objects.push(EmvObject::new("59", &need(&args.name, "name")?));
            objects.push(EmvObject::new("60", &need(&args.city, "city")?));
            if let Some(reference) = &args.reference {
                objects.push(EmvObject::template("62", vec![EmvObject::new("05", reference)]));
            }
            objects
        }
    };
    println!("{}", emv::encode(&objects)?);
    Ok(ExitCode::SUCCESS)
}

fn emv_decode(payload: &str) -> anyhow::Result<ExitCode> {
    let text = read_text(payload)?;
    match emv::decode(&text) {
        Ok(decoded) => {
            let mut fields = Map::new();
            for object in &decoded.objects {
                let value = match &object.children {
                    Some(children) => Value::Object(
                        children.iter().map(|c| (c.id.clone(), Value::String(c.value.clone()))).collect(),
                    ),
                    None => Value::String(object.value.clone()),
                };
                fields.insert(object.id.clone(), value);
            }
            let out = json!({
                "valid": true,
                "crc": decoded.crc,
                "warnings": decoded.warnings,
                "fields": fields,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            let out = json!({ "valid": false, "error": error.to_string() });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(ExitCode::from(1))
        }
    }
}
