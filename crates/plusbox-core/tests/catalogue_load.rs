#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Loading case files: the real catalogue in `testcases/`, error messages that point at the
//! file, line and field, and a loader that never panics on mangled input.

use std::path::PathBuf;

use plusbox_core::catalogue::{
    load_case, Api, Catalogue, Check, CodeKind, PosAction, Product, WalletScenario,
};
use proptest::prelude::*;

fn testcases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testcases")
}

fn read_catalogue() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(testcases_dir())
        .expect("testcases/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

const MINIMAL: &str = r#"
id = "UPM-TEST-001"
title = "Minimal"
product = "UPM"
required = true
proves = "pay is called (alipayplus-api.md §4)"

[setup]
amount = "12.50 USD"

[[steps]]
instruction = "Scan"
pos = { action = "charge" }
wait = { kind = "api", api = "pay", within = "15s" }

[[checks]]
kind = "called"
name = "pay-called"
api = "pay"
"#;

#[test]
fn every_case_in_testcases_loads_and_validates() {
    let files = read_catalogue();
    assert!(files.len() >= 25, "expected the whole catalogue, found {}", files.len());
    let catalogue = Catalogue::from_sources(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .unwrap_or_else(|e| panic!("catalogue errors:\n{e}"));
    assert_eq!(catalogue.len(), files.len());
    let mpm = catalogue.suite("mpm").count();
    assert!(mpm >= 10, "the merchant-presented (order code) cases load: {mpm}");
    let merchant = catalogue.suite("merchant").count();
    assert!(merchant >= 3, "the merchant registration and customs cases load: {merchant}");
    let dispute = catalogue.suite("dispute").count();
    assert!(dispute >= 2, "the dispute cases load: {dispute}");
    let recon = catalogue.suite("recon").count();
    assert!(recon >= 2, "the reconciliation cases load: {recon}");
    // Every case is in exactly one suite: the suites' counts add up to the catalogue.
    let suites: std::collections::BTreeSet<&str> = catalogue.cases().map(|c| c.product.suite()).collect();
    assert_eq!(suites.iter().map(|s| catalogue.suite(s).count()).sum::<usize>(), files.len());
    for case in catalogue.cases() {
        // Each case rings up a sale: UPM by charging a code, MPM by showing an order code.
        let (product, sells) = match case.product {
            Product::Upm => {
                ("UPM", case.steps.iter().any(|s| matches!(s.pos, Some(PosAction::Charge { .. }))))
            }
            Product::OrderCode => {
                ("MPM", case.steps.iter().any(|s| matches!(s.pos, Some(PosAction::OrderCode { .. }))))
            }
            Product::EntryCode => {
                ("MPM-EC", case.steps.iter().any(|s| matches!(s.pos, Some(PosAction::EntryCode))))
            }
            Product::PrivateOrderCode => (
                "MPM-POC",
                case.steps.iter().any(|s| matches!(s.pos, Some(PosAction::PrivateOrderCode { .. }))),
            ),
            // Registration cases sell nothing: they register merchants.
            Product::Registration => {
                ("REG", case.steps.iter().any(|s| matches!(s.pos, Some(PosAction::Register { .. }))))
            }
            // Dispute cases sell first: a dispute needs a paid sale.
            Product::Dispute => {
                ("DSP", case.steps.iter().any(|s| matches!(s.pos, Some(PosAction::Charge { .. }))))
            }
            Product::Customs => {
                ("CUS", case.steps.iter().any(|s| matches!(s.pos, Some(PosAction::Charge { .. }))))
            }
            // Reconciliation cases sell, refund and void, then reconcile the day.
            Product::Reconciliation => {
                ("RECON", case.steps.iter().any(|s| matches!(s.pos, Some(PosAction::Reconcile))))
            }
            // TSP cases sell (a charge, or an order code) with the Agent-Token on every call.
            Product::Tsp => (
                "TSP",
                case.steps
                    .iter()
                    .any(|s| matches!(s.pos, Some(PosAction::Charge { .. } | PosAction::OrderCode { .. }))),
            ),
        };
        assert!(case.id.as_str().starts_with(product), "{} is a {product} case", case.id);
        assert!(sells, "{} rings up a sale (or, for REG, registers a merchant)", case.id);
    }
}

#[test]
fn catalogue_covers_the_issue_list() {
    let files = read_catalogue();
    let catalogue = Catalogue::from_sources(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))).unwrap();
    let cases: Vec<_> = catalogue.cases().collect();
    let has = |f: &dyn Fn(&plusbox_core::catalogue::Case) -> bool| cases.iter().any(|c| f(c));
    for kind in [
        CodeKind::Legacy17,
        CodeKind::Legacy18,
        CodeKind::Legacy19,
        CodeKind::Alipayplus19,
        CodeKind::Expired,
        CodeKind::Invalid,
    ] {
        assert!(has(&|c| c.setup.code == kind), "a case with code {}", kind.name());
    }
    for scenario in [
        WalletScenario::Pin,
        WalletScenario::InsufficientBalance,
        WalletScenario::RiskReject,
        WalletScenario::NoAnswer,
    ] {
        assert!(has(&|c| c.setup.scenario == scenario), "a case with scenario {}", scenario.name());
    }
    for magic in [902, 907, 912] {
        assert!(has(&|c| c.setup.magic_suffix() == Some(magic)), "a case with magic amount {magic}");
    }
    assert!(has(&|c| c.setup.tamper == Some(Api::Pay)));
    assert!(has(&|c| c.checks.iter().any(|k| matches!(k, Check::NotifyAcked { .. }))));
    assert!(has(&|c| c.steps.iter().any(|s| matches!(s.pos, Some(PosAction::Cancel { .. })))));
    assert!(
        has(&|c| c.steps.iter().filter(|s| matches!(s.pos, Some(PosAction::Refund { .. }))).count() >= 3)
    );
    // Every fault switch of the reference acquirer is targeted by some case.
    let faults = [
        "no-inquiry",
        "poll-too-fast",
        "poll-forever",
        "no-cancel",
        "new-request-id-on-retry",
        "ignore-notify",
        "unsigned-ack",
        "bad-ack-signature",
        "skip-response-verification",
        "wrong-key",
        "refund-over-amount",
        "cancel-after-window",
        "numbers-not-strings",
        "omit-store",
        "omit-terminal",
        "accept-forged-notify",
        "ack-mirrors-result",
        "cancel-once",
        "amount-times-100",
        "float-amount",
        "inquiry-unknown-fails",
        "request-time-local-z",
        "sign-utf8-send-escaped",
        "watchdog-cancels-paid",
    ];
    for fault in faults {
        assert!(has(&|c| c.targets.iter().any(|t| t == fault)), "no case targets {fault}");
    }
}

#[test]
fn minimal_case_loads_with_defaults() {
    let case = load_case("UPM-TEST-001.toml", MINIMAL).unwrap();
    assert_eq!(case.id.as_str(), "UPM-TEST-001");
    assert_eq!(case.setup.scenario, WalletScenario::Success);
    assert_eq!(case.setup.code, CodeKind::Fresh);
    assert_eq!(case.setup.amount.0.value, 1250);
    assert_eq!(case.checks.len(), 1);
}

fn first_error(file: &str, text: &str) -> String {
    let errors = load_case(file, text).expect_err("should be rejected");
    errors.first().unwrap().to_string()
}

#[test]
fn syntax_error_names_file_and_line() {
    let text = MINIMAL.replace("title = \"Minimal\"", "title = ");
    let e = first_error("UPM-TEST-001.toml", &text);
    assert!(e.starts_with("UPM-TEST-001.toml:3:"), "{e}");
}

#[test]
fn unknown_field_is_named_with_its_line() {
    let text = MINIMAL
        .replace("api = \"pay\"\n\"#", "")
        .replace("name = \"pay-called\"", "name = \"pay-called\"\nbogus = 1");
    let e = first_error("UPM-TEST-001.toml", &text);
    assert!(e.contains("bogus"), "{e}");
    assert!(e.contains("UPM-TEST-001.toml:"), "{e}");
}

#[test]
fn bad_values_are_reported_at_their_field() {
    let cases = [
        (MINIMAL.replace("api = \"pay\"\n", "api = \"payy\"\n"), "unknown API"),
        (MINIMAL.replace("\"12.50 USD\"", "\"12.50 XXX\""), "setup.amount"),
        (MINIMAL.replace("within = \"15s\"", "within = \"15 parsecs\""), "not a duration"),
        (MINIMAL.replace("product = \"UPM\"", "product = \"MPM\""), "product"),
        (MINIMAL.replace("id = \"UPM-TEST-001\"", "id = \"upm-1\""), "not a case id"),
    ];
    for (text, needle) in cases {
        let e = first_error("UPM-TEST-001.toml", &text);
        assert!(e.contains(needle), "{needle:?} not in {e}");
        assert!(e.starts_with("UPM-TEST-001.toml:"), "{e}");
        let line: usize = e.split(':').nth(1).unwrap().parse().expect("a line number");
        assert!(line > 0, "{e}");
    }
}

#[test]
fn cross_field_errors_point_at_the_table() {
    let text = format!(
        "{MINIMAL}\n[[checks]]\nkind = \"called\"\nname = \"pay-called\"\napi = \"pay\"\nmin = 3\nmax = 1\n"
    );
    let errors = load_case("UPM-TEST-001.toml", &text).unwrap_err();
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let dup = all.iter().find(|e| e.contains("checks[1].name")).unwrap_or_else(|| panic!("{all:?}"));
    let expected_line = text
        .lines()
        .position(|l| l == "[[checks]]")
        .map(|_| ())
        .and(text.lines().enumerate().filter(|(_, l)| *l == "[[checks]]").nth(1).map(|(i, _)| i + 1));
    assert!(dup.starts_with(&format!("UPM-TEST-001.toml:{}:", expected_line.unwrap())), "{dup}");
    assert!(all.iter().any(|e| e.contains("checks[1].min") && e.contains("above max")), "{all:?}");
}

#[test]
fn semantic_rules() {
    let rules = [
        (MINIMAL.replace("12.50 USD", "19.02 USD"), "magic amount"),
        (MINIMAL.replace("[setup]\n", "[setup]\nmagic = true\n"), "901–913"),
        (MINIMAL.replace("(alipayplus-api.md §4)", ""), "point into the reference"),
        (MINIMAL.replace("pos = { action = \"charge\" }", "pos = { action = \"cancel\" }"), "earlier charge"),
        (MINIMAL.replace("[setup]\n", "[setup]\nbalance = \"5.00 EUR\"\n"), "sale currency"),
        (format!("{MINIMAL}\n[[checks]]\nkind = \"pos-result\"\nname = \"p\"\nstep = 7\nstatus = [\"SUCCESS\"]\n"), "no pos action"),
        (format!("{MINIMAL}\n[[checks]]\nkind = \"request-fields\"\nname = \"f\"\npresent = [\"a..b\"]\n"), "dotted JSON path"),
        (MINIMAL.replace("instruction = \"Scan\"\n", "instruction = \"Scan\"\nage_payments = \"25h\"\n"), "earlier charge whose payment it ages"),
        (MINIMAL.replace("instruction = \"Scan\"\n", "instruction = \"Scan\"\nforge_notify = \"S\"\n"), "earlier charge whose payment it claims"),
        (MINIMAL.replace("{ action = \"charge\" }", "{ action = \"charge\", description = \"  \" }"), "1 to 256 characters"),
        (MINIMAL.replace("[setup]\n", "[setup]\nnotify_delay = \"0s\"\n"), "between 1ms and 10m"),
        (format!("{MINIMAL}\n[[checks]]\nkind = \"amount-on-wire\"\nname = \"a\"\napi = \"cancelPayment\"\n"), "pay or refund"),
        (format!("{MINIMAL}\n[[checks]]\nkind = \"request-time\"\nname = \"t\"\nmax_skew = \"0s\"\n"), "longer than zero"),
        // The runner no longer moves clocks: the old field is unknown, and says so.
        (MINIMAL.replace("instruction = \"Scan\"\n", "instruction = \"Scan\"\nadvance_clock = \"25h\"\n"), "advance_clock"),
    ];
    for (text, needle) in rules {
        let errors = load_case("UPM-TEST-001.toml", &text).expect_err(needle);
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(all.iter().any(|e| e.contains(needle)), "{needle:?} not in {all:?}");
    }
    let e = first_error("OTHER.toml", MINIMAL);
    assert!(e.contains("file name must start with the case id"), "{e}");
}

#[test]
fn duplicate_ids_across_files_are_rejected() {
    let err = Catalogue::from_sources([("UPM-TEST-001.toml", MINIMAL), ("UPM-TEST-001-copy.toml", MINIMAL)])
        .unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert!(err.to_string().contains("already used by UPM-TEST-001.toml"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// Mangled files (bytes flipped, cut, spliced) give errors, never panics.
    #[test]
    fn loader_never_panics_on_mangled_input(
        cut in 0usize..2000,
        flips in proptest::collection::vec((0usize..2000, any::<char>()), 0..8),
        junk in "\\PC{0,40}",
        at in 0usize..2000,
    ) {
        let files = read_catalogue();
        let base = &files[cut % files.len()].1;
        let mut chars: Vec<char> = base.chars().collect();
        for (i, c) in flips {
            if !chars.is_empty() {
                let n = chars.len();
                chars[i % n] = c;
            }
        }
        let at = at % (chars.len() + 1);
        chars.splice(at..at, junk.chars());
        let text: String = chars.iter().take(cut.max(1) * 8).collect();
        let _ = load_case("UPM-FUZZ-001.toml", &text);
        let _ = load_case("x", &text);
    }

    /// Arbitrary text never panics either.
    #[test]
    fn loader_never_panics_on_arbitrary_text(text in "\\PC{0,300}") {
        let _ = load_case("UPM-FUZZ-001.toml", &text);
    }
}

#[test]
fn reconcile_and_labelled_cancel_steps_are_checked() {
    let step = |pos: &str| {
        MINIMAL
            .replace("[[checks]]", &format!("[[steps]]\ninstruction = \"Next\"\npos = {pos}\nwait = {{ kind = \"timeout\", duration = \"1s\" }}\n\n[[checks]]"))
    };
    let rules = [
        (step("{ action = \"reconcile\" }"), "requires = [\"acquirer-reconcile\"]"),
        (
            step("{ action = \"cancel\", charge = \"void\" }"),
            "the request_id label of an earlier charge step",
        ),
        (
            MINIMAL.replace("pos = { action = \"charge\" }", "pos = { action = \"reconcile\" }"),
            "a reconciliation needs an earlier charge",
        ),
    ];
    for (text, needle) in rules {
        let errors = load_case("UPM-TEST-001.toml", &text).expect_err(needle);
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(all.iter().any(|e| e.contains(needle)), "{needle:?} not in {all:?}");
    }
    // Both are taken when right: the capability listed, the label an earlier charge's.
    let labelled =
        MINIMAL.replace("{ action = \"charge\" }", "{ action = \"charge\", request_id = \"void\" }");
    let ok = labelled
        .replace("required = true\n", "required = true\nrequires = [\"acquirer-reconcile\"]\n")
        .replace(
            "[[checks]]",
            "[[steps]]\ninstruction = \"Void\"\npos = { action = \"cancel\", charge = \"void\" }\nwait = { kind = \"timeout\", duration = \"1s\" }\n\n[[steps]]\ninstruction = \"Reconcile\"\npos = { action = \"reconcile\" }\nwait = { kind = \"timeout\", duration = \"1s\" }\n\n[[checks]]",
        );
    let case = load_case("UPM-TEST-001.toml", &ok).unwrap();
    assert_eq!(case.steps.len(), 3);
    assert!(matches!(&case.steps[1].pos, Some(PosAction::Cancel { charge: Some(l) }) if l == "void"));
    assert!(matches!(case.steps[2].pos, Some(PosAction::Reconcile)));
}
