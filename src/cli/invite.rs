//! `plusbox invite …` and `plusbox results list` (issue 14): invite merchants to test on this
//! sandbox — one at a time or from a merchant list (CSV or an Excel `.xlsx` sheet with the
//! columns name, MID, email, products, as Linker's template) — list and revoke invites, and list
//! the results their devices uploaded.
//!
//! Every invite gets its own buyer account and a link (`{base}/#invite=<token>`, shown as text
//! and a QR) that a companion opens to link itself to the merchant. The token is shown once and
//! stored only as a hash.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Subcommand;
use plusbox_core::catalogue::Catalogue;
use plusbox_sandbox::store::{InviteView, NewInvite, Store};
use serde_json::json;

use super::sandbox::DataArg;

/// `plusbox invite …`.
#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Invite a merchant: prints the invite link and its QR (and writes a PNG with --png).
    Create {
        #[command(flatten)]
        data: DataArg,
        /// The merchant's name.
        #[arg(long)]
        merchant: String,
        /// Its merchant id (the referenceMerchantId its POS sends).
        #[arg(long)]
        mid: String,
        /// Who gets the link.
        #[arg(long)]
        email: String,
        /// What it integrates: upm, mpm or upm,mpm.
        #[arg(long, value_name = "upm[,mpm]")]
        products: String,
        /// The cases it must pass (default: every required case of its products).
        #[arg(long, value_name = "ID,..", value_delimiter = ',')]
        cases: Vec<String>,
        /// Base URL the link opens (default: the sandbox's advertised URL).
        #[arg(long)]
        url: Option<String>,
        /// Write the QR code as a PNG here.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        /// Print {id, merchant, mid, email, products, url, status} as JSON (no QR).
        #[arg(long)]
        json: bool,
    },
    /// Invite every merchant of a list: CSV or .xlsx with a header row (name, MID, email,
    /// products; optional cases). Bad rows are reported by line and field; good rows are created.
    Import {
        #[command(flatten)]
        data: DataArg,
        /// The merchant list.
        file: PathBuf,
        /// Base URL the links open (default: the sandbox's advertised URL).
        #[arg(long)]
        url: Option<String>,
        /// Print {created: [...], errors: [{line, field, message}]} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List invites with their status (Inactive until a device links, Active, Revoked).
    List {
        #[command(flatten)]
        data: DataArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an invite: its link and every device linked through it are refused from now on.
    Revoke {
        #[command(flatten)]
        data: DataArg,
        /// Invite id (see `plusbox invite list`).
        id: String,
    },
}

/// `plusbox results …`.
#[derive(Debug, Subcommand)]
pub enum ResultsCommand {
    /// What the collector received: bundle id, merchant, MID, case, verdict, uploaded at.
    List {
        #[command(flatten)]
        data: DataArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

// ---------------------------------------------------------------------------------------------
// Rows and their checks
// ---------------------------------------------------------------------------------------------

/// One merchant as a list row gives it (cells as text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRow {
    /// Merchant name.
    pub name: String,
    /// MID.
    pub mid: String,
    /// Email.
    pub email: String,
    /// Products cell, e.g. `upm, mpm`.
    pub products: String,
    /// Cases cell (optional column).
    pub cases: String,
}

/// What is wrong with one field of a row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field (column): `name`, `MID`, `email`, `products`, `cases`, or `row`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

/// Whether `text` has the shape of an email address: one `@`, a local part without spaces, a
/// domain of at least two dot-separated labels of letters, digits and hyphens.
pub fn email_shape(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    let labels: Vec<&str> = domain.split('.').collect();
    text.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !local.chars().any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == ',' || c == ';')
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// The products of a cell (`upm`, `MPM`, `upm, mpm`, `upm;mpm`, `upm mpm`), de-duplicated in
/// the order upm, mpm.
pub fn parse_products(cell: &str) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    for word in cell.split([',', ';', ' ', '/', '|', '+']).map(str::trim).filter(|w| !w.is_empty()) {
        match word.to_ascii_lowercase().as_str() {
            p @ ("upm" | "mpm") => found.push(p.to_string()),
            other => return Err(format!("{other:?} is not a product; use upm, mpm or both")),
        }
    }
    if found.is_empty() {
        return Err("name at least one product: upm, mpm or both".into());
    }
    Ok(["upm", "mpm"].iter().filter(|p| found.iter().any(|f| f == *p)).map(|p| p.to_string()).collect())
}

/// Checks a row against the catalogue: the invite to create, or every field that is wrong.
pub fn check_row(row: &RawRow, catalogue: &Catalogue) -> Result<NewInvite, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = row.name.trim();
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        errors.push(field_error("name", "the merchant's name must be 1 to 128 characters"));
    }
    let mid = row.mid.trim();
    if mid.is_empty() {
        errors.push(field_error("MID", "the merchant id is empty"));
    } else if mid.len() > 64
        || !mid.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        errors.push(field_error(
            "MID",
            format!("{mid:?} is not a merchant id (up to 64 letters, digits, '-', '_' or '.')"),
        ));
    }
    let email = row.email.trim();
    if !email_shape(email) {
        errors.push(field_error("email", format!("{email:?} is not an email address")));
    }
    let products = parse_products(&row.products).map_err(|e| errors.push(field_error("products", e))).ok();
    let mut cases: Vec<String> = Vec::new();
    for id in row.cases.split([',', ';', ' ']).map(str::trim).filter(|c| !c.is_empty()) {
        match catalogue.get(id) {
            None => errors.push(field_error("cases", format!("there is no case {id:?} in the catalogue"))),
            Some(case) => {
                let product = case.product.suite();
                if products.as_ref().is_some_and(|p| !p.iter().any(|p| p == product)) {
                    errors.push(field_error(
                        "cases",
                        format!(
                            "case {id} is a {product} case, but the merchant's products are {}",
                            row.products.trim()
                        ),
                    ));
                } else if !cases.iter().any(|c| c == case.id.as_str()) {
                    cases.push(case.id.to_string());
                }
            }
        }
    }
    let Some(products) = products.filter(|_| errors.is_empty()) else { return Err(errors) };
    if cases.is_empty() {
        cases = catalogue
            .cases()
            .filter(|c| c.required && products.iter().any(|p| p == c.product.suite()))
            .map(|c| c.id.to_string())
            .collect();
    }
    Ok(NewInvite {
        merchant: name.to_string(),
        mid: mid.to_string(),
        email: email.to_string(),
        products,
        cases,
    })
}

/// A row of a merchant list with its 1-based line (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    /// The line (spreadsheet row).
    pub line: usize,
    /// Its cells, or why the line cannot be read.
    pub row: Result<RawRow, FieldError>,
}

/// Which column holds which field, from the header row.
#[derive(Debug, Clone, Copy, Default)]
struct Columns {
    name: Option<usize>,
    mid: Option<usize>,
    email: Option<usize>,
    products: Option<usize>,
    cases: Option<usize>,
}

fn columns(header: &[String]) -> Result<Columns, String> {
    let mut columns = Columns::default();
    for (i, cell) in header.iter().enumerate() {
        let key: String =
            cell.trim().to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let slot = match key.as_str() {
            "name" | "merchant" | "merchantname" => &mut columns.name,
            "mid" | "merchantid" => &mut columns.mid,
            "email" | "emailaddress" | "mail" => &mut columns.email,
            "products" | "product" => &mut columns.products,
            "cases" | "testcases" | "caseids" => &mut columns.cases,
            _ => continue,
        };
        if slot.is_some() {
            return Err(format!("the header names the column {:?} twice", cell.trim()));
        }
        *slot = Some(i);
    }
    let missing: Vec<&str> = [
        ("name", columns.name),
        ("MID", columns.mid),
        ("email", columns.email),
        ("products", columns.products),
    ]
    .iter()
    .filter(|(_, c)| c.is_none())
    .map(|(n, _)| *n)
    .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the header row lacks the column(s) {}; the first row must name: name, MID, email, products",
            missing.join(", ")
        ));
    }
    Ok(columns)
}

/// Turns table rows (the first is the header) into list rows; blank rows are skipped.
pub fn rows_of_table(table: Vec<(usize, Vec<String>)>) -> Result<Vec<ListRow>, String> {
    let mut rows = table.into_iter();
    let (_, header) =
        rows.next().ok_or("the list is empty: it needs a header row (name, MID, email, products)")?;
    let columns = columns(&header)?;
    let cell = |cells: &[String], index: Option<usize>| {
        index.and_then(|i| cells.get(i)).map(|c| c.trim().to_string()).unwrap_or_default()
    };
    Ok(rows
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
        .map(|(line, cells)| ListRow {
            line,
            row: Ok(RawRow {
                name: cell(&cells, columns.name),
                mid: cell(&cells, columns.mid),
                email: cell(&cells, columns.email),
                products: cell(&cells, columns.products),
                cases: cell(&cells, columns.cases),
            }),
        })
        .collect())
}

/// The 1-based line where the record at byte `at` starts: the reader reports the end of the
/// previous record, so blank lines before it are stepped over.
fn line_at(text: &str, at: u64) -> usize {
    let mut at = usize::try_from(at).unwrap_or(usize::MAX).min(text.len());
    let mut line = text.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
    loop {
        let rest = &text.as_bytes()[at..];
        let step = if rest.starts_with(b"\r\n") {
            2
        } else if rest.starts_with(b"\n") {
            1
        } else {
            break;
        };
        at += step;
        line += 1;
    }
    line
}

/// Reads a CSV merchant list (comma, or semicolon when the header uses it).
pub fn read_csv(bytes: &[u8]) -> Result<Vec<ListRow>, String> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|e| format!("the file is not UTF-8 text (save it as CSV UTF-8): {e}"))?;
    let first = text.lines().next().unwrap_or_default();
    let delimiter = if first.matches(';').count() > first.matches(',').count() { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut table = Vec::new();
    let mut broken = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| line_at(text, p.byte()));
                table.push((line, record.iter().map(str::to_string).collect()));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
                broken.push(ListRow {
                    line,
                    row: Err(field_error("row", format!("cannot be read as CSV: {e}"))),
                });
            }
        }
    }
    let mut rows = rows_of_table(table)?;
    rows.extend(broken);
    rows.sort_by_key(|r| r.line);
    Ok(rows)
}

/// Reads the first sheet of an Excel `.xlsx` merchant list.
pub fn read_xlsx(path: &Path) -> Result<Vec<ListRow>, String> {
    use calamine::Reader as _;
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(path)
        .map_err(|e| format!("{} is not a readable .xlsx workbook: {e}", path.display()))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| format!("{} has no sheet", path.display()))?
        .map_err(|e| format!("the first sheet of {} cannot be read: {e}", path.display()))?;
    let start = range.start().map_or(0, |(row, _)| usize::try_from(row).unwrap_or(0));
    let table = range
        .rows()
        .enumerate()
        .map(|(i, cells)| (start + i + 1, cells.iter().map(|c| c.to_string()).collect::<Vec<String>>()))
        .collect();
    rows_of_table(table)
}

// ---------------------------------------------------------------------------------------------
// Running the commands
// ---------------------------------------------------------------------------------------------

fn catalogue() -> anyhow::Result<Catalogue> {
    plusbox_runner::embedded::catalogue().map_err(|e| anyhow!("the built-in catalogue has errors:\n{e}"))
}

fn base_url(store: &Store, url: Option<String>) -> anyhow::Result<String> {
    let base = match url {
        Some(url) => {
            plusbox_sandbox::store::validate_url(&url).map_err(|e| anyhow!("--url: {e}"))?;
            url
        }
        None => store.app_view()?.gateway_url,
    };
    Ok(base.trim_end_matches('/').to_string())
}

fn invite_json(invite: &InviteView, url: Option<&str>) -> serde_json::Value {
    let mut value = json!({
        "id": invite.id,
        "merchant": invite.merchant,
        "mid": invite.mid,
        "email": invite.email,
        "products": invite.products,
        "status": invite.status,
    });
    if let Some(url) = url {
        value["url"] = json!(url);
    }
    value["cases"] = json!(invite.cases);
    value["accounts"] = json!(invite.accounts);
    value["createdAt"] = json!(invite.created_at);
    value["linkedAt"] = json!(invite.linked_at);
    value["revokedAt"] = json!(invite.revoked_at);
    value
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn safe(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Runs `plusbox invite …`.
pub fn run_invite(command: InviteCommand) -> anyhow::Result<ExitCode> {
    match command {
        InviteCommand::Create { data, merchant, mid, email, products, cases, url, png, json } => {
            let row = RawRow { name: merchant, mid, email, products, cases: cases.join(",") };
            let new = check_row(&row, &catalogue()?).map_err(|errors| {
                let lines: Vec<String> =
                    errors.iter().map(|e| format!("  --{}: {}", e.field.to_lowercase(), e.message)).collect();
                anyhow!("the invite was not created:\n{}", lines.join("\n"))
            })?;
            let store = data.open()?;
            let base = base_url(&store, url)?;
            let (invite, token) = store.create_invite(&new, now())?;
            let link = format!("{base}/#invite={}", token.expose());
            if let Some(path) = &png {
                let bytes = plusbox_companion::render::render_png(
                    &link,
                    plusbox_companion::render::Symbology::Qr,
                    plusbox_companion::render::RenderSize::Phone,
                )
                .map_err(|e| anyhow!("cannot draw the QR code: {e}"))?;
                std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&invite_json(&invite, Some(&link)))?);
                return Ok(ExitCode::SUCCESS);
            }
            let qr = plusbox_companion::render::render_terminal(
                &link,
                plusbox_companion::render::Symbology::Qr,
                false,
            )
            .map_err(|e| anyhow!("cannot draw the QR code: {e}"))?;
            println!("{qr}");
            println!(
                "Invite {} for {} (MID {}), {}",
                invite.id,
                safe(&invite.merchant),
                invite.mid,
                invite.email
            );
            println!("Products: {}; cases: {}", invite.products.join(", "), invite.cases.join(", "));
            println!("Buyer account: {}", invite.accounts.join(", "));
            println!("Invite link:  {link}");
            if let Some(path) = &png {
                println!("QR code PNG:  {}", path.display());
            }
            eprintln!(
                "The link is shown only once. Send it to {}; the companion opens it to link itself.",
                invite.email
            );
        }
        InviteCommand::Import { data, file, url, json } => return import(&data, &file, url, json),
        InviteCommand::List { data, json } => {
            let invites = data.open()?.invites()?;
            if json {
                let list: Vec<serde_json::Value> = invites.iter().map(|i| invite_json(i, None)).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(ExitCode::SUCCESS);
            }
            if invites.is_empty() {
                println!("No invites yet. Invite a merchant with `plusbox invite create`.");
            }
            for i in invites {
                println!(
                    "{}  {:<8}  {:<24} MID {:<16} {:<28} {}",
                    i.id,
                    i.status.to_string(),
                    safe(&i.merchant),
                    i.mid,
                    i.email,
                    i.products.join(",")
                );
            }
        }
        InviteCommand::Revoke { data, id } => {
            let invite = data.open()?.revoke_invite(id.trim(), now())?;
            println!(
                "Invite {} ({}) revoked; its link and devices are refused from now on.",
                invite.id,
                safe(&invite.merchant)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn import(data: &DataArg, file: &Path, url: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let is_xlsx = file.extension().is_some_and(|x| x.eq_ignore_ascii_case("xlsx"));
    let rows = if is_xlsx {
        read_xlsx(file)
    } else {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        read_csv(&bytes)
    }
    .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let catalogue = catalogue()?;
    let store = data.open()?;
    let base = base_url(&store, url)?;
    let mut created = Vec::new();
    let mut errors: Vec<serde_json::Value> = Vec::new();
    for row in rows {
        let checked = row.row.map_err(|e| vec![e]).and_then(|raw| check_row(&raw, &catalogue));
        match checked {
            Ok(new) => {
                let (invite, token) = store.create_invite(&new, now())?;
                let link = format!("{base}/#invite={}", token.expose());
                if !json {
                    println!(
                        "line {}: created {} for {} (MID {}): {link}",
                        row.line,
                        invite.id,
                        safe(&invite.merchant),
                        invite.mid
                    );
                }
                let mut value = invite_json(&invite, Some(&link));
                value["line"] = json!(row.line);
                created.push(value);
            }
            Err(problems) => {
                for p in problems {
                    if !json {
                        println!("line {}: {}: {}", row.line, p.field, safe(&p.message));
                    }
                    errors.push(json!({"line": row.line, "field": p.field, "message": p.message}));
                }
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&json!({"created": created, "errors": errors}))?);
    } else {
        let bad: std::collections::BTreeSet<u64> = errors.iter().filter_map(|e| e["line"].as_u64()).collect();
        println!("Created {} invite(s); refused {} row(s).", created.len(), bad.len());
    }
    Ok(if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs `plusbox results …`.
pub fn run_results(command: ResultsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ResultsCommand::List { data, json } => {
            let rows = data.open()?.collected()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(ExitCode::SUCCESS);
            }
            if rows.is_empty() {
                println!("No results collected yet.");
            }
            for r in rows {
                println!(
                    "{:<28} {:<24} MID {:<16} {:<14} {:<10} {}",
                    r.bundle_id,
                    safe(&r.merchant),
                    r.mid,
                    r.case_id,
                    r.verdict,
                    r.uploaded_at
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The catalogue, parsed once for all tests of this module.
    fn catalogue() -> anyhow::Result<&'static Catalogue> {
        static CATALOGUE: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
        if let Some(c) = CATALOGUE.get() {
            return Ok(c);
        }
        let parsed = super::catalogue()?;
        Ok(CATALOGUE.get_or_init(|| parsed))
    }

    fn row(name: &str, mid: &str, email: &str, products: &str, cases: &str) -> RawRow {
        RawRow {
            name: name.into(),
            mid: mid.into(),
            email: email.into(),
            products: products.into(),
            cases: cases.into(),
        }
    }

    #[test]
    fn a_good_row_gets_every_required_case_of_its_products() {
        let catalogue = catalogue().unwrap();
        let new = check_row(&row("Kopi", "M123", "ops@kopi.example", "UPM", ""), catalogue).unwrap();
        assert_eq!(new.products, vec!["upm"]);
        assert!(!new.cases.is_empty());
        for id in &new.cases {
            let case = catalogue.get(id).unwrap();
            assert!(case.required && case.product.suite() == "upm", "{id}");
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let catalogue = catalogue().unwrap();
        let errors = check_row(&row("", " ", "not-an-email", "upm,card", ""), catalogue).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["name", "MID", "email", "products"]);
        let mpm_case = catalogue.cases().find(|c| c.product.suite() == "mpm").unwrap().id.to_string();
        let errors =
            check_row(&row("K", "M1", "a@b.example", "upm", &format!("{mpm_case},NOPE-1")), catalogue)
                .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().all(|e| e.field == "cases"));
    }

    #[test]
    fn emails_are_checked_for_shape() {
        for good in ["a@b.co", "ops.team+uat@kopi-corner.example.com"] {
            assert!(email_shape(good), "{good}");
        }
        for bad in ["", "a@b", "@b.co", "a b@c.co", "a@b..co", "a@-b.co", "a@b.c0", "a@@b.co", "a@b.c"] {
            assert!(!email_shape(bad), "{bad}");
        }
    }

    #[test]
    fn a_csv_list_reports_lines_and_skips_blank_rows() {
        let text = "Name,MID,Email,Products\nKopi,M1,a@b.co,upm\n\n,M2,x,upm\n\"Unclosed,M3,a@b.co,upm\n";
        let rows = read_csv(text.as_bytes()).unwrap();
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].row.as_ref().unwrap().name, "Kopi");
        assert_eq!(rows[1].line, 4);
        assert!(read_csv(b"name,email\nx,y\n").unwrap_err().contains("MID"));
        assert!(read_csv(b"").is_err());
        let semicolons = read_csv("name;mid;email;products\nK;M1;a@b.co;upm,mpm\n".as_bytes()).unwrap();
        assert_eq!(semicolons[0].row.as_ref().unwrap().products, "upm,mpm");
    }

    proptest::proptest! {
        #[test]
        fn any_csv_bytes_give_an_error_or_rows_with_lines_after_the_header(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(rows) = read_csv(&bytes) {
                for r in &rows {
                    proptest::prop_assert!(r.line >= 2);
                }
            }
        }

        #[test]
        fn any_row_is_created_clean_or_refused_with_named_fields(
            name in ".{0,20}", mid in ".{0,12}", email in ".{0,20}", products in "(upm|mpm|card|,| ){0,4}",
        ) {
            let catalogue = catalogue().unwrap();
            match check_row(&RawRow { name, mid, email, products, cases: String::new() }, catalogue) {
                Ok(new) => {
                    proptest::prop_assert!(email_shape(&new.email));
                    proptest::prop_assert!(!new.mid.is_empty() && new.mid.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
                    proptest::prop_assert!(!new.products.is_empty() && new.products.iter().all(|p| p == "upm" || p == "mpm"));
                }
                Err(errors) => {
                    proptest::prop_assert!(!errors.is_empty());
                    for e in errors {
                        proptest::prop_assert!(["name", "MID", "email", "products", "cases"].contains(&e.field.as_str()));
                    }
                }
            }
        }
    }
}
