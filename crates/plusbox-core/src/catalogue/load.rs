//! Reading case files: TOML text in, a validated [`Case`] out, or errors that name the file, the
//! line and the field. Core does no disk IO: callers hand in the file name and its text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;

use super::model::{
    AcquirerClock, Api, Capability, Case, Check, DisputeStartKind, PosAction, RefundAmount, Wait,
    WalletAction,
};

/// One problem with one case file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseError {
    /// The file name as given to the loader.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The field, as a dotted path (`checks[2].api`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for CaseError {}

/// Several case errors (a whole catalogue is checked before giving up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueErrors(pub Vec<CaseError>);

impl fmt::Display for CatalogueErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CatalogueErrors {}

/// A set of cases, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    cases: BTreeMap<String, Case>,
}

impl Catalogue {
    /// Loads every `(file name, text)` pair, checking each file and that ids are unique.
    /// All problems are reported, not just the first.
    pub fn from_sources<'a, I>(sources: I) -> Result<Catalogue, CatalogueErrors>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut cases: BTreeMap<String, Case> = BTreeMap::new();
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        let mut errors = Vec::new();
        for (file, text) in sources {
            match load_case(file, text) {
                Ok(case) => {
                    let id = case.id.as_str().to_owned();
                    if let Some(first) = files.get(&id) {
                        errors.push(CaseError {
                            file: file.to_owned(),
                            line: line_of_key(text, "id"),
                            column: None,
                            field: Some("id".into()),
                            message: format!("id {id} is already used by {first}"),
                        });
                    } else {
                        files.insert(id.clone(), file.to_owned());
                        cases.insert(id, case);
                    }
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(Catalogue { cases })
        } else {
            Err(CatalogueErrors(errors))
        }
    }

    /// Every case, ordered by id.
    pub fn cases(&self) -> impl Iterator<Item = &Case> {
        self.cases.values()
    }

    /// One case by id.
    pub fn get(&self, id: &str) -> Option<&Case> {
        self.cases.get(id)
    }

    /// The cases of a suite (`upm`), ordered by id.
    pub fn suite<'a>(&'a self, suite: &'a str) -> impl Iterator<Item = &'a Case> + 'a {
        self.cases.values().filter(move |c| c.product.suite().eq_ignore_ascii_case(suite))
    }

    /// Number of cases.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// True if there are no cases.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }
}

/// Where the tables of a case file start, to point cross-field errors at a line.
#[derive(Deserialize, Default)]
struct Layout {
    #[serde(default)]
    setup: Option<toml::Spanned<toml::Value>>,
    #[serde(default)]
    steps: Vec<toml::Spanned<toml::Value>>,
    #[serde(default)]
    checks: Vec<toml::Spanned<toml::Value>>,
}

/// Parses and validates one case file. The file name is used in errors and must start with the
/// case id (`UPM-PAY-001.toml`, `UPM-PAY-001-success.toml`).
pub fn load_case(file: &str, text: &str) -> Result<Case, Vec<CaseError>> {
    let case: Case = match toml::from_str(text) {
        Ok(case) => case,
        Err(e) => return Err(vec![from_toml(file, text, &e)]),
    };
    let layout: Layout = toml::from_str(text).unwrap_or_default();
    let mut v = Validator { file, text, layout: &layout, errors: Vec::new() };
    v.case(&case);
    if v.errors.is_empty() {
        Ok(case)
    } else {
        Err(v.errors)
    }
}

fn from_toml(file: &str, text: &str, e: &toml::de::Error) -> CaseError {
    let (line, column, field) = match e.span() {
        Some(span) => {
            let (line, column) = line_col(text, span.start);
            (Some(line), Some(column), field_at(text, span.start))
        }
        None => (None, None, None),
    };
    CaseError { file: file.to_owned(), line, column, field, message: e.message().trim().to_owned() }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// The dotted field at an offset: the key on that line, under the table header above it.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text.get(..offset)?.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text.get(start..)?.lines().next().unwrap_or("");
    let key = line.split_once('=').map(|(k, _)| k.trim().to_owned()).filter(|k| is_bare_key_path(k));
    let header = text
        .get(..start)?
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let own_header =
        line.trim().starts_with('[').then(|| line.trim().trim_matches(|c| c == '[' || c == ']').to_owned());
    match (own_header, header, key) {
        (Some(h), _, _) => Some(h),
        (None, Some(h), Some(k)) => Some(format!("{h}.{k}")),
        (None, None, Some(k)) => Some(k),
        (None, Some(h), None) => Some(h),
        (None, None, None) => None,
    }
}

fn is_bare_key_path(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b' '))
}

/// The line of a top-level `key = …`.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines().position(|l| l.split_once('=').is_some_and(|(k, _)| k.trim() == key)).map(|i| i + 1)
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
    layout: &'a Layout,
    errors: Vec<CaseError>,
}

impl Validator<'_> {
    fn err(&mut self, line: Option<usize>, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(CaseError {
            file: self.file.to_owned(),
            line,
            column: None,
            field: Some(field.into()),
            message: message.into(),
        });
    }

    fn span_line(&self, span: Option<std::ops::Range<usize>>) -> Option<usize> {
        span.map(|s| line_col(self.text, s.start).0)
    }

    fn step_line(&self, i: usize) -> Option<usize> {
        self.span_line(self.layout.steps.get(i).map(|s| s.span()))
    }

    fn check_line(&self, i: usize) -> Option<usize> {
        self.span_line(self.layout.checks.get(i).map(|s| s.span()))
    }

    fn setup_line(&self) -> Option<usize> {
        self.span_line(self.layout.setup.as_ref().map(|s| s.span()))
    }

    fn case(&mut self, case: &Case) {
        let stem = self.file.rsplit(['/', '\\']).next().unwrap_or(self.file);
        if !stem.starts_with(case.id.as_str()) {
            let line = line_of_key(self.text, "id");
            self.err(
                line,
                "id",
                format!("the file name must start with the case id {} (e.g. {}.toml)", case.id, case.id),
            );
        }
        for (key, value) in [("title", &case.title), ("proves", &case.proves)] {
            if value.trim().is_empty() {
                let line = line_of_key(self.text, key);
                self.err(line, key, "must not be empty");
            }
        }
        if !case.proves.contains(".md §") {
            let line = line_of_key(self.text, "proves");
            self.err(line, "proves", "must point into the reference, e.g. \"… (alipayplus-api.md §7)\"");
        }
        let mut seen = BTreeSet::new();
        for target in &case.targets {
            if !is_kebab(target) || !seen.insert(target.as_str()) {
                let line = line_of_key(self.text, "targets");
                self.err(
                    line,
                    "targets",
                    format!("{target:?}: fault names are unique kebab-case switch names"),
                );
            }
        }
        self.setup(case);
        self.steps(case);
        self.checks(case);
    }

    fn setup(&mut self, case: &Case) {
        let line = self.setup_line();
        let setup = &case.setup;
        let amount = setup.amount.0;
        if !amount.is_positive() {
            self.err(line, "setup.amount", "the sale amount must be greater than zero");
        }
        if let Some(balance) = setup.balance {
            if balance.0.currency != amount.currency {
                self.err(line, "setup.balance", "the balance must be in the sale currency");
            }
            if balance.0.value < 0 {
                self.err(line, "setup.balance", "the balance must not be negative");
            }
        }
        match (setup.magic, setup.magic_suffix()) {
            (true, None) => self.err(
                line,
                "setup.magic",
                format!("magic = true but {} does not end in 901–913 minor units (testing-practice.md §10.2)", setup.amount),
            ),
            (false, Some(suffix)) => self.err(
                line,
                "setup.amount",
                format!("{} ends in {suffix}, a magic amount that selects an outcome; set magic = true or pick another amount", setup.amount),
            ),
            _ => {}
        }
        for (i, mock) in setup.mocks.iter().enumerate() {
            if mock.count == 0 {
                self.err(line, format!("setup.mocks[{i}].count"), "must be at least 1");
            }
            if mock.api.is_outbound() {
                self.err(line, format!("setup.mocks[{i}].api"), "only APIs the ACQP calls can be mocked");
            }
        }
        if let Some(wallet) = &setup.wallet {
            if crate::codes::WalletTable::builtin().find(wallet).is_none() {
                self.err(
                    line,
                    "setup.wallet",
                    "a wallet persona's walletEnum, e.g. \"ALIPAY_CN\" (payment-codes.md §7)",
                );
            }
        }
        if setup.notify_delay.is_some_and(|d| d.0.is_zero() || d.0 > std::time::Duration::from_secs(600)) {
            self.err(line, "setup.notify_delay", "between 1ms and 10m");
        }
        if let Some(api) = setup.tamper {
            if api.is_outbound() {
                self.err(line, "setup.tamper", "only answers the sandbox gives can be tampered with");
            }
        }
    }

    fn steps(&mut self, case: &Case) {
        if case.steps.is_empty() {
            self.err(None, "steps", "a case needs at least one [[steps]]");
        }
        let currency = case.setup.amount.0.currency;
        let mut charged = false;
        let mut clock_set = false;
        for (i, step) in case.steps.iter().enumerate() {
            let line = self.step_line(i);
            let at = |f: &str| format!("steps[{i}].{f}");
            // Ageing and forging happen before the step's own POS action.
            let charged_before = charged;
            if step.instruction.trim().is_empty() {
                self.err(line, at("instruction"), "must not be empty");
            }
            match &step.pos {
                Some(PosAction::Charge { amount, request_id, same_code, description }) => {
                    if description.as_deref().is_some_and(|d| d.trim().is_empty() || d.chars().count() > 256)
                    {
                        self.err(
                            line,
                            at("pos.description"),
                            "1 to 256 characters (orderDescription, alipayplus-api.md §2.3)",
                        );
                    }
                    if let Some(a) = amount {
                        if a.0.currency != currency || !a.0.is_positive() {
                            self.err(line, at("pos.amount"), "a positive amount in the sale currency");
                        }
                    }
                    if request_id.as_deref().is_some_and(|l| !is_kebab(l)) {
                        self.err(line, at("pos.request_id"), "a kebab-case label, e.g. \"sale-1\"");
                    }
                    if *same_code && !charged {
                        self.err(line, at("pos.same_code"), "needs an earlier charge whose code it re-uses");
                    }
                    charged = true;
                }
                Some(
                    PosAction::OrderCode { amount, request_id, description }
                    | PosAction::PrivateOrderCode { amount, request_id, description },
                ) => {
                    if description.as_deref().is_some_and(|d| d.trim().is_empty() || d.chars().count() > 256)
                    {
                        self.err(
                            line,
                            at("pos.description"),
                            "1 to 256 characters (orderDescription, alipayplus-api.md §2.3)",
                        );
                    }
                    if let Some(a) = amount {
                        if a.0.currency != currency || !a.0.is_positive() {
                            self.err(line, at("pos.amount"), "a positive amount in the sale currency");
                        }
                    }
                    if request_id.as_deref().is_some_and(|l| !is_kebab(l)) {
                        self.err(line, at("pos.request_id"), "a kebab-case label, e.g. \"sale-1\"");
                    }
                    charged = true;
                }
                Some(PosAction::EntryCode) => charged = true,
                Some(PosAction::Declare { amount, request_id }) => {
                    if !charged {
                        self.err(line, at("pos"), "a declaration needs an earlier charge step");
                    }
                    if amount.is_some_and(|a| a.0.currency.code() != "CNY" || !a.0.is_positive()) {
                        self.err(
                            line,
                            at("pos.amount"),
                            "a positive CNY amount (declarationAmount, alipayplus-api.md §13.2)",
                        );
                    }
                    if request_id.as_deref().is_some_and(|l| !is_kebab(l)) {
                        self.err(line, at("pos.request_id"), "a kebab-case label, e.g. \"declaration-1\"");
                    }
                }
                Some(PosAction::Register { merchant, name, request_id }) => {
                    if !is_kebab(merchant) {
                        self.err(line, at("pos.merchant"), "a kebab-case label, e.g. \"merchant-1\"");
                    }
                    if name.as_deref().is_some_and(|n| n.trim().is_empty() || n.chars().count() > 256) {
                        self.err(
                            line,
                            at("pos.name"),
                            "1 to 256 characters (merchantDisplayName, alipayplus-api.md §13.1)",
                        );
                    }
                    if request_id.as_deref().is_some_and(|l| !is_kebab(l)) {
                        self.err(line, at("pos.request_id"), "a kebab-case label, e.g. \"registration-1\"");
                    }
                }
                Some(PosAction::Refund { amount, request_id }) => {
                    if !charged {
                        self.err(line, at("pos"), "a refund needs an earlier charge step");
                    }
                    if let RefundAmount::Amount(a) = amount {
                        if a.0.currency != currency || !a.0.is_positive() {
                            self.err(
                                line,
                                at("pos.amount"),
                                "a positive amount in the sale currency, or \"full\"",
                            );
                        }
                    }
                    if request_id.as_deref().is_some_and(|l| !is_kebab(l)) {
                        self.err(line, at("pos.request_id"), "a kebab-case label, e.g. \"refund-1\"");
                    }
                }
                Some(PosAction::Cancel { .. }) if !charged => {
                    self.err(line, at("pos"), "a cancel needs an earlier charge step");
                }
                Some(PosAction::Cancel { charge: Some(label) }) => {
                    let earlier = case.steps[..i].iter().any(|s| {
                        matches!(&s.pos, Some(PosAction::Charge { request_id: Some(l), .. }) if l == label)
                    });
                    if !earlier {
                        self.err(line, at("pos.charge"), "the request_id label of an earlier charge step");
                    }
                }
                Some(PosAction::Reconcile) => {
                    if !charged {
                        self.err(
                            line,
                            at("pos"),
                            "a reconciliation needs an earlier charge: it reconciles that sale's day",
                        );
                    }
                    if !case.requires.contains(&Capability::AcquirerReconcile) {
                        self.err(line, at("pos"), "needs requires = [\"acquirer-reconcile\"] on the case");
                    }
                }
                _ => {}
            }
            if matches!(
                step.wallet,
                Some(
                    WalletAction::ScanConfirm
                        | WalletAction::ScanDecline
                        | WalletAction::OpenEntryCode
                        | WalletAction::OpenEntryCodeInBrowser
                )
            ) && !charged
            {
                self.err(line, at("wallet"), "scanning an order code needs an earlier order-code step");
            }
            if step.age_payments.is_some_and(|d| d.0.is_zero()) {
                self.err(line, at("age_payments"), "must be longer than zero");
            }
            if step.age_payments.is_some() && !charged_before {
                self.err(line, at("age_payments"), "needs an earlier charge whose payment it ages");
            }
            if step.dispute.is_some() && !charged_before {
                self.err(line, at("dispute"), "needs an earlier charge whose payment it disputes");
            }
            if step.dispute.is_some_and(|d| d.kind == DisputeStartKind::Retrieval && d.amount.is_some()) {
                self.err(
                    line,
                    at("dispute.amount"),
                    "a retrieval has no amount; only an escalation claims one",
                );
            }
            if step.forge_notify.is_some() && !charged_before {
                self.err(
                    line,
                    at("forge_notify"),
                    "needs an earlier charge whose payment it claims to settle",
                );
            }
            match step.acquirer_clock {
                Some(_) if !case.requires.contains(&Capability::AcquirerClock) => {
                    self.err(line, at("acquirer_clock"), "needs requires = [\"acquirer-clock\"] on the case");
                }
                Some(AcquirerClock::Advance(by)) if by.0.is_zero() => {
                    self.err(line, at("acquirer_clock.advance"), "must be longer than zero");
                }
                Some(AcquirerClock::Advance(_)) if !clock_set => {
                    self.err(
                        line,
                        at("acquirer_clock.advance"),
                        "needs an earlier step that sets the acquirer clock with { utc = \"HH:MM:SS\" }",
                    );
                }
                Some(AcquirerClock::Utc(_)) => clock_set = true,
                _ => {}
            }
            match &step.wait {
                Wait::Api { within, .. } | Wait::State { within, .. } if within.0.is_zero() => {
                    self.err(line, at("wait.within"), "must be longer than zero");
                }
                Wait::Timeout { duration } if duration.0.is_zero() => {
                    self.err(line, at("wait.duration"), "must be longer than zero");
                }
                _ => {}
            }
        }
    }

    fn checks(&mut self, case: &Case) {
        if case.checks.is_empty() {
            self.err(None, "checks", "a case needs at least one [[checks]]");
        }
        let mut names = BTreeSet::new();
        for (i, check) in case.checks.iter().enumerate() {
            let line = self.check_line(i);
            let at = |f: &str| format!("checks[{i}].{f}");
            if !is_kebab(check.name()) {
                self.err(
                    line,
                    at("name"),
                    format!("{:?}: check names are kebab-case, e.g. \"inquiry-after-u\"", check.name()),
                );
            } else if !names.insert(check.name().to_owned()) {
                self.err(line, at("name"), format!("{:?} is used by an earlier check", check.name()));
            }
            match check {
                Check::Called { min, max, from, within, .. } => {
                    if let (Some(min), Some(max)) = (min, max) {
                        if min > max {
                            self.err(line, at("min"), format!("min {min} is above max {max}"));
                        }
                    }
                    if let (Some(from), Some(within)) = (from, within) {
                        if from.0 >= within.0 {
                            self.err(line, at("within"), "the window closes before it opens (within ≤ from)");
                        }
                    }
                }
                Check::NotCalled { from, within, .. } => {
                    if let (Some(from), Some(within)) = (from, within) {
                        if from.0 >= within.0 {
                            self.err(line, at("within"), "the window closes before it opens (within ≤ from)");
                        }
                    }
                }
                Check::SameRequestId { api, .. }
                    if !matches!(
                        api,
                        Api::Pay
                            | Api::Refund
                            | Api::InquiryPayment
                            | Api::CancelPayment
                            | Api::Registration
                            | Api::Declare
                    ) =>
                {
                    self.err(
                        line,
                        at("api"),
                        "one of pay, refund, inquiryPayment, cancelPayment, registration, declare",
                    );
                }
                Check::RequestFields { api, present, .. } => {
                    if api.is_outbound() {
                        self.err(line, at("api"), "request hygiene is checked on the ACQP's own requests");
                    }
                    for path in present {
                        let ok = !path.is_empty()
                            && path.split('.').all(|p| {
                                !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                            });
                        if !ok {
                            self.err(
                                line,
                                at("present"),
                                format!("{path:?} is not a dotted JSON path like order.merchant.store"),
                            );
                        }
                    }
                }
                Check::RequestValue { api, path, contains, .. } => {
                    if api.is_outbound() {
                        self.err(line, at("api"), "request values are checked on the ACQP's own requests");
                    }
                    if path.is_empty() || path.split('.').any(str::is_empty) {
                        self.err(line, at("path"), format!("{path:?} is not a dotted JSON path"));
                    }
                    if contains.is_empty() || contains.iter().any(|c| c.is_empty()) {
                        self.err(line, at("contains"), "list at least one non-empty text");
                    }
                }
                Check::RequestHeader { header, .. }
                    if header.is_empty()
                        || !header.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
                {
                    self.err(
                        line,
                        at("header"),
                        format!("{header:?} is not an HTTP header name like Agent-Token"),
                    );
                }
                Check::AnswerFields { api, present, .. } => {
                    if !api.is_outbound() {
                        self.err(
                            line,
                            at("api"),
                            "answers are checked on the calls Alipay+ makes to the ACQP",
                        );
                    }
                    if present.is_empty() {
                        self.err(line, at("present"), "list at least one dotted JSON path");
                    }
                    for path in present {
                        let ok = path.split('|').all(|one| {
                            !one.is_empty()
                                && one.split('.').all(|p| {
                                    !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                                })
                        });
                        if !ok {
                            self.err(
                                line,
                                at("present"),
                                format!("{path:?} is not a dotted JSON path (alternatives joined by |)"),
                            );
                        }
                    }
                }
                Check::PosResult { step, status, .. } => {
                    let target = (*step as usize).checked_sub(1).and_then(|s| case.steps.get(s));
                    if target.and_then(|s| s.pos.as_ref()).is_none() {
                        self.err(line, at("step"), format!("step {step} (1-based) has no pos action"));
                    }
                    if status.is_empty() || status.iter().any(|s| s.trim().is_empty()) {
                        self.err(line, at("status"), "list the acceptable statuses, e.g. [\"SUCCESS\"]");
                    }
                }
                Check::AmountOnWire { api, amount, .. } => {
                    if !matches!(api, Api::Pay | Api::Refund) {
                        self.err(line, at("api"), "pay or refund: the requests that carry an amount");
                    }
                    if amount.is_some_and(|a| !a.0.is_positive()) {
                        self.err(line, at("amount"), "must be greater than zero");
                    }
                }
                Check::RequestTime { max_skew: Some(d), .. } if d.0.is_zero() => {
                    self.err(line, at("max_skew"), "must be longer than zero");
                }
                Check::Manual { question, .. } if question.trim().is_empty() => {
                    self.err(line, at("question"), "must not be empty");
                }
                Check::Evidence { what, min, .. } => {
                    if what.trim().is_empty() {
                        self.err(line, at("what"), "must not be empty");
                    }
                    if *min == 0 {
                        self.err(line, at("min"), "must be at least 1");
                    }
                }
                _ => {}
            }
        }
    }
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("a\nbc\n", 0), (1, 1));
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
        assert_eq!(line_col("a", 99), (1, 2));
    }

    #[test]
    fn field_at_names_table_and_key() {
        let text = "id = \"X\"\n[setup]\namount = \"x\"\n[[checks]]\nkind = \"y\"\n";
        let off = text.find("amount").unwrap_or(0);
        assert_eq!(field_at(text, off).as_deref(), Some("setup.amount"));
        assert_eq!(field_at(text, 0).as_deref(), Some("id"));
        let off = text.find("[[checks]]").unwrap_or(0);
        assert_eq!(field_at(text, off).as_deref(), Some("checks"));
    }

    #[test]
    fn kebab() {
        assert!(is_kebab("pay-called-once"));
        assert!(!is_kebab("Pay"));
        assert!(!is_kebab("a--b"));
        assert!(!is_kebab(""));
    }
}
