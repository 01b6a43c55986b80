//! Behaviour of `plusbox_core::money`: the currency table, parsing, formatting, arithmetic and
//! the Alipay+ wire rules, plus property tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plusbox_core::money::{Amount, Currency, MoneyError};
use plusbox_core::protocol::WireAmount;
use proptest::prelude::*;

fn wire(currency: &str, value: &str) -> WireAmount {
    WireAmount { currency: currency.into(), value: value.into() }
}

#[test]
fn exponents_follow_iso_4217() {
    for code in [
        "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG", "RWF", "KMF", "GNF", "DJF", "BIF",
        "VUV", "XPF", "UYI",
    ] {
        assert_eq!(Currency::from_code(code).unwrap().exponent(), 0, "{code}");
    }
    for code in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] {
        assert_eq!(Currency::from_code(code).unwrap().exponent(), 3, "{code}");
    }
    for code in ["CLF", "UYW"] {
        assert_eq!(Currency::from_code(code).unwrap().exponent(), 4, "{code}");
    }
    for code in
        ["USD", "EUR", "HKD", "CNY", "IDR", "PHP", "MYR", "THB", "SGD", "GBP", "HUF", "TWD", "ZWG", "XCG"]
    {
        assert_eq!(Currency::from_code(code).unwrap().exponent(), 2, "{code}");
    }
    assert_eq!(Currency::JPY.minor_per_major(), 1);
    assert_eq!(Currency::KWD.minor_per_major(), 1000);
    assert_eq!(Currency::HKD.code(), "HKD");
}

#[test]
fn unknown_and_malformed_codes_are_distinct_errors() {
    assert_eq!(Currency::from_code("ABC"), Err(MoneyError::UnknownCurrency { code: "ABC".into() }));
    // Withdrawn and no-minor-unit codes are not in the table.
    for code in ["HRK", "ZWL", "XAU", "XXX", "XDR"] {
        assert!(matches!(Currency::from_code(code), Err(MoneyError::UnknownCurrency { .. })), "{code}");
    }
    for code in ["usd", "US", "USDD", "", "U$D", "ＵＳＤ"] {
        assert!(matches!(Currency::from_code(code), Err(MoneyError::MalformedCurrency { .. })), "{code}");
    }
    let err = Currency::from_code("usd").unwrap_err();
    assert!(err.to_string().contains("upper-case"), "{err}");
    assert!(err.is_currency_error());
}

#[test]
fn parse_accepts_both_orders_and_pads() {
    let usd = Amount::from_minor(Currency::USD, 1250);
    assert_eq!(Amount::parse("12.50 USD").unwrap(), usd);
    assert_eq!(Amount::parse("USD 12.50").unwrap(), usd);
    assert_eq!(Amount::parse("12.5 USD").unwrap(), usd);
    assert_eq!(Amount::parse("  12.5   USD ").unwrap(), usd);
    assert_eq!(Amount::parse("12 USD").unwrap(), Amount::from_minor(Currency::USD, 1200));
    assert_eq!(Amount::parse("1000 JPY").unwrap(), Amount::from_minor(Currency::JPY, 1000));
    assert_eq!(Amount::parse("1.234 BHD").unwrap(), Amount::from_minor(Currency::BHD, 1234));
    assert_eq!(Amount::parse("0.1 KWD").unwrap(), Amount::from_minor(Currency::KWD, 100));
    assert_eq!(Amount::parse("1.2345 CLF").unwrap(), Amount::from_minor(Currency::CLF, 12345));
    assert_eq!(Amount::parse("-3.10 EUR").unwrap(), Amount::from_minor(Currency::EUR, -310));
    assert_eq!(Amount::parse("0 USD").unwrap(), Amount::zero(Currency::USD));
    assert_eq!("500.00 HKD".parse::<Amount>().unwrap(), Amount::from_minor(Currency::HKD, 50000));
}

#[test]
fn parse_rejects_with_specific_errors() {
    assert_eq!(Amount::parse("   "), Err(MoneyError::Empty));
    assert!(matches!(Amount::parse("12.50"), Err(MoneyError::BadShape { .. })));
    assert!(matches!(Amount::parse("12.50USD"), Err(MoneyError::BadShape { .. })));
    assert!(matches!(Amount::parse("12 50 USD"), Err(MoneyError::BadShape { .. })));
    assert!(matches!(Amount::parse("USD EUR"), Err(MoneyError::BadShape { .. })));
    assert!(matches!(
        Amount::parse("12.505 USD"),
        Err(MoneyError::TooManyDecimals { exponent: 2, found: 3, .. })
    ));
    assert!(matches!(Amount::parse("1.5 JPY"), Err(MoneyError::TooManyDecimals { exponent: 0, .. })));
    assert!(matches!(Amount::parse("1,234.56 USD"), Err(MoneyError::DigitGrouping { .. })));
    assert!(matches!(Amount::parse("+12 USD"), Err(MoneyError::UnexpectedCharacter { ch: '+', .. })));
    assert!(matches!(Amount::parse("1e3 USD"), Err(MoneyError::UnexpectedCharacter { ch: 'e', .. })));
    assert!(matches!(Amount::parse("1.2.3 USD"), Err(MoneyError::UnexpectedCharacter { ch: '.', .. })));
    assert!(matches!(Amount::parse("12. USD"), Err(MoneyError::MissingDigits { .. })));
    assert!(matches!(Amount::parse(".5 USD"), Err(MoneyError::MissingDigits { .. })));
    assert!(matches!(Amount::parse("- USD"), Err(MoneyError::MissingDigits { .. })));
    assert!(matches!(Amount::parse("12 usd"), Err(MoneyError::MalformedCurrency { .. })));
    assert!(matches!(Amount::parse("12 ABC"), Err(MoneyError::UnknownCurrency { .. })));
    assert!(matches!(Amount::parse("99999999999999999999 JPY"), Err(MoneyError::Overflow { .. })));
    assert!(matches!(Amount::parse("92233720368547758.08 USD"), Err(MoneyError::Overflow { .. })));
    assert_eq!(
        Amount::parse("92233720368547758.07 USD").unwrap(),
        Amount::from_minor(Currency::USD, i64::MAX)
    );
    assert_eq!(
        Amount::parse("-9223372036854775808 JPY").unwrap(),
        Amount::from_minor(Currency::JPY, i64::MIN)
    );
    let msg = Amount::parse("12.505 USD").unwrap_err().to_string();
    assert_eq!(msg, "USD allows 2 decimal place(s) but 3 were given");
}

#[test]
fn parse_positive_rejects_zero_and_negative() {
    assert!(matches!(Amount::parse_positive("0 USD"), Err(MoneyError::NotPositive { .. })));
    assert!(matches!(Amount::parse_positive("-1 USD"), Err(MoneyError::NotPositive { .. })));
    assert_eq!(Amount::parse_positive("0.01 USD").unwrap(), Amount::from_minor(Currency::USD, 1));
}

#[test]
fn display_is_exponent_aware() {
    assert_eq!(Amount::from_minor(Currency::USD, 1250).to_string(), "12.50 USD");
    assert_eq!(Amount::from_minor(Currency::USD, 5).to_string(), "0.05 USD");
    assert_eq!(Amount::from_minor(Currency::USD, -5).to_string(), "-0.05 USD");
    assert_eq!(Amount::from_minor(Currency::JPY, 1000).to_string(), "1000 JPY");
    assert_eq!(Amount::from_minor(Currency::BHD, 1234).to_string(), "1.234 BHD");
    assert_eq!(Amount::from_minor(Currency::CLF, 1).to_string(), "0.0001 CLF");
    assert_eq!(Amount::from_minor(Currency::JPY, i64::MIN).to_string(), "-9223372036854775808 JPY");
}

#[test]
fn arithmetic_is_checked() {
    let a = Amount::from_minor(Currency::HKD, 50000);
    let b = Amount::from_minor(Currency::HKD, 10000);
    assert_eq!(a.checked_add(b).unwrap().value, 60000);
    assert_eq!(b.checked_sub(a).unwrap().value, -40000);
    assert_eq!(a.checked_mul(3).unwrap().value, 150000);
    assert!(matches!(
        a.checked_add(Amount::from_minor(Currency::USD, 1)),
        Err(MoneyError::CurrencyMismatch { left: Currency::HKD, right: Currency::USD })
    ));
    let max = Amount::from_minor(Currency::HKD, i64::MAX);
    assert!(matches!(max.checked_add(b), Err(MoneyError::Overflow { .. })));
    assert!(matches!(
        Amount::from_minor(Currency::HKD, i64::MIN).checked_sub(b),
        Err(MoneyError::Overflow { .. })
    ));
    assert!(matches!(max.checked_mul(2), Err(MoneyError::Overflow { .. })));
    assert!(matches!(
        Amount::from_minor(Currency::HKD, i64::MIN).checked_neg(),
        Err(MoneyError::Overflow { .. })
    ));
    assert_eq!(Amount::checked_sum(Currency::HKD, [a, b, b]).unwrap().value, 70000);
    assert_eq!(Amount::checked_sum(Currency::HKD, []).unwrap(), Amount::zero(Currency::HKD));
    assert!(Amount::checked_sum(Currency::HKD, [a, Amount::from_minor(Currency::JPY, 1)]).is_err());
}

#[test]
fn idr_bankers_rounding_to_whole_rupiah() {
    let r = |v| Amount::idr_rounded_from_minor(v).unwrap().value;
    assert_eq!(r(12_300), 12_300);
    assert_eq!(r(12_349), 12_300);
    assert_eq!(r(12_351), 12_400);
    assert_eq!(r(12_350), 12_400); // half → even hundred (124)
    assert_eq!(r(12_250), 12_200); // half → even hundred (122)
    assert_eq!(r(50), 0);
    assert_eq!(r(150), 200);
    assert_eq!(r(-150), -200);
    assert_eq!(r(-250), -200);
    assert_eq!(r(i64::MIN), i64::MIN + 8);
    assert!(matches!(
        Amount::from_minor(Currency::USD, i64::MAX - 10).round_half_even_to(1_000),
        Err(MoneyError::Overflow { .. })
    ));
    assert_eq!(r(i64::MAX), i64::MAX - 7);
    assert_eq!(Amount::idr_rounded_from_minor(1).unwrap().currency, Currency::IDR);
    // Other currencies are unchanged by round_for_wire.
    let usd = Amount::from_minor(Currency::USD, 1234);
    assert_eq!(usd.round_for_wire().unwrap(), usd);
    assert_eq!(Amount::from_minor(Currency::IDR, 1_050).round_for_wire().unwrap().value, 1_000);
}

#[test]
fn wire_rules() {
    assert!(Amount::from_minor(Currency::USD, 1).check_wire_rules().is_ok());
    assert!(matches!(
        Amount::from_minor(Currency::USD, 0).check_wire_rules(),
        Err(MoneyError::NotPositive { .. })
    ));
    assert!(matches!(
        Amount::from_minor(Currency::IDR, 12_345).check_wire_rules(),
        Err(MoneyError::IdrNotWholeRupiah { value: 12_345 })
    ));
    assert!(Amount::from_minor(Currency::IDR, 12_300).check_wire_rules().is_ok());

    assert_eq!(Amount::from_wire(&wire("HKD", "50000")).unwrap(), Amount::from_minor(Currency::HKD, 50000));
    assert_eq!(Amount::try_from(&wire("JPY", "1")).unwrap(), Amount::from_minor(Currency::JPY, 1));
    for bad in ["0", "012", "-1", "1.00", "", " 1", "1 ", "+1", "1e2", "١"] {
        assert!(
            matches!(Amount::from_wire(&wire("USD", bad)), Err(MoneyError::WireValueMalformed { .. })),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Amount::from_wire(&wire("USD", "99999999999999999999")),
        Err(MoneyError::Overflow { .. })
    ));
    assert!(matches!(Amount::from_wire(&wire("IDR", "1050")), Err(MoneyError::IdrNotWholeRupiah { .. })));
    assert!(matches!(Amount::from_wire(&wire("hkd", "1")), Err(MoneyError::MalformedCurrency { .. })));
    let w = Amount::from_minor(Currency::KWD, 1500).to_wire();
    assert_eq!(w, wire("KWD", "1500"));
    assert_eq!(WireAmount::from(Amount::from_minor(Currency::JPY, 7)), wire("JPY", "7"));
}

#[test]
fn app_json_form() {
    let a = Amount::from_minor(Currency::USD, 1250);
    assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"currency":"USD","value":"1250"}"#);
    let back: Amount = serde_json::from_str(r#"{"currency":"USD","value":"1250"}"#).unwrap();
    assert_eq!(back, a);
    let neg: Amount = serde_json::from_str(r#"{"currency":"JPY","value":"-7"}"#).unwrap();
    assert_eq!(neg, Amount::from_minor(Currency::JPY, -7));
    let zero: Amount = serde_json::from_str(r#"{"currency":"JPY","value":"0"}"#).unwrap();
    assert!(zero.is_zero());
    for bad in [
        r#"{"currency":"USD","value":1250}"#,
        r#"{"currency":"USD","value":"012"}"#,
        r#"{"currency":"USD","value":"-0"}"#,
        r#"{"currency":"USD","value":"12.50"}"#,
        r#"{"currency":"XYZ","value":"1"}"#,
        r#"{"currency":"USD"}"#,
        r#"{"currency":"USD","value":"1","extra":"x"}"#,
    ] {
        assert!(serde_json::from_str::<Amount>(bad).is_err(), "{bad}");
    }
    assert_eq!(serde_json::to_string(&Currency::EUR).unwrap(), r#""EUR""#);
    assert_eq!(serde_json::from_str::<Currency>(r#""EUR""#).unwrap(), Currency::EUR);
}

fn any_currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(Currency::all().to_vec())
}

fn any_amount() -> impl Strategy<Value = Amount> {
    (any_currency(), any::<i64>()).prop_map(|(c, v)| Amount::from_minor(c, v))
}

proptest! {
    #[test]
    fn parse_inverts_display(a in any_amount()) {
        prop_assert_eq!(Amount::parse(&a.to_string()).unwrap(), a);
        // The reversed order parses the same.
        let text = a.to_string();
        let (num, code) = text.split_once(' ').unwrap();
        prop_assert_eq!(Amount::parse(&format!("{code} {num}")).unwrap(), a);
    }

    #[test]
    fn json_round_trips(a in any_amount()) {
        let json = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), a);
    }

    #[test]
    fn wire_round_trips_for_positive(c in any_currency(), v in 1..=i64::MAX) {
        let a = Amount::from_minor(c, v).round_for_wire();
        if let Ok(a) = a {
            if a.is_positive() {
                prop_assert_eq!(Amount::from_wire(&a.to_wire()).unwrap(), a);
            }
        }
    }

    #[test]
    fn addition_never_wraps(c in any_currency(), x in any::<i64>(), y in any::<i64>()) {
        let sum = Amount::from_minor(c, x).checked_add(Amount::from_minor(c, y));
        match x.checked_add(y) {
            Some(s) => prop_assert_eq!(sum.unwrap().value, s),
            None => { let overflowed = matches!(sum, Err(MoneyError::Overflow { .. })); prop_assert!(overflowed) }
        }
        let diff = Amount::from_minor(c, x).checked_sub(Amount::from_minor(c, y));
        match x.checked_sub(y) {
            Some(d) => prop_assert_eq!(diff.unwrap().value, d),
            None => { let overflowed = matches!(diff, Err(MoneyError::Overflow { .. })); prop_assert!(overflowed) }
        }
    }

    #[test]
    fn rounding_gives_multiple_of_100_within_50(v in any::<i64>()) {
        if let Ok(r) = Amount::idr_rounded_from_minor(v) {
            prop_assert_eq!(r.value % 100, 0);
            prop_assert!((i128::from(r.value) - i128::from(v)).abs() <= 50);
        }
    }

    #[test]
    fn parser_never_panics(s in ".{0,40}") {
        let _ = Amount::parse(&s);
        let _ = Currency::from_code(&s);
        let _ = Amount::from_wire(&WireAmount { currency: "USD".into(), value: s.clone() });
    }

    #[test]
    fn parser_never_panics_on_amount_like_input(s in "[-+0-9.,eA-Z ]{0,30}") {
        if let Ok(a) = Amount::parse(&s) {
            // Anything accepted must print back to something that parses to the same amount.
            prop_assert_eq!(Amount::parse(&a.to_string()).unwrap(), a);
        }
    }
}
