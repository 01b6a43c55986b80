//! The Transaction Detail Report format (reconciliation.md §2): the documented sample reads back,
//! what `build` writes always reads back to the same rows (property), any bytes at all give
//! errors with line numbers rather than a panic (property), and each classic defect is named by
//! its line and column.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plusbox_core::money::{Amount, Currency};
use plusbox_core::recon::{self, DetailRow, TransactionType};
use proptest::prelude::*;
use time::macros::{date, datetime};

/// reconciliation.md §2.6, verbatim.
const SAMPLE: &str = "participantId,settlementCurrency,clearingBatchId,participantAgreementId,clearingDate,totalCount,totalPaymentCount,totalPaymentAmount,totalRefundCount,totalRefundAmount,netTotalAmount
ACQ0000000000001,HKD,20250319001,AGRHKD,20250319,3,2,52500,1,10000,42500

transactionId,transactionRequestId,transactionType,transactionTime,originalTransactionId,originalTransactionRequestId,counterParticipantId,walletBrandName,paymentMethodType,inStorePaymentScenario,referenceMerchantId,merchantName,merchantMCC,referenceStoreId,storeTerminalId,referenceOrderId,transactionCurrency,transactionAmount,settlementCurrency,settlementAmount,quoteId,quotePrice
20250319000000000000001,pay_1089760038715669_102775745075669,PAYMENT,2025-03-19T10:15:02+08:00,,,1022160000000000000,AlipayHK,CONNECT_WALLET,PaymentCode,M0001,cup Hu,1234,S0000000001,T01,102775745075669,HKD,50000,HKD,50000,,
20250319000000000000002,pay_oc_000002,PAYMENT,2025-03-19T12:40:11+08:00,,,1022000000000000000,Test Wallet,CONNECT_WALLET,OrderCode,M0001,cup Hu,1234,S0000000001,T01,ORD000002,HKD,2500,HKD,2500,,
20250319000000000000003,refund_102775745075669_01,REFUND,2025-03-19T15:02:47+08:00,20250319000000000000001,pay_1089760038715669_102775745075669,1022160000000000000,AlipayHK,CONNECT_WALLET,PaymentCode,M0001,cup Hu,1234,S0000000001,T01,102775745075669,HKD,10000,HKD,10000,,
";

const SAMPLE_NAME: &str = "transactionItems_ACQ0000000000001_HKD_20250319001_AGRHKD_000.csv";

#[test]
fn the_documented_sample_is_valid_and_reads_back() {
    let report = recon::parse(SAMPLE.as_bytes()).unwrap();
    assert_eq!(report.summary.total_count, 3);
    assert_eq!(report.summary.net_total_amount, 42_500);
    assert_eq!(report.rows.iter().map(|(line, _)| *line).collect::<Vec<_>>(), vec![5, 6, 7]);
    assert_eq!(report.rows[2].1.transaction_type, TransactionType::Refund);
    assert_eq!(recon::check_name(SAMPLE_NAME, &report.summary), Ok(0));
    assert!(recon::check_name(
        "transactionItems_ACQ0000000000001_USD_20250319001_AGRHKD_000.csv",
        &report.summary
    )
    .is_err());
    // Rebuilt from its own rows, it is the same text byte for byte.
    let rows = report.rows.into_iter().map(|(_, r)| r).collect();
    let files =
        recon::build("ACQ0000000000001", Currency::HKD, "AGRHKD", date!(2025 - 03 - 19), rows).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, SAMPLE_NAME);
    assert_eq!(files[0].text, SAMPLE);
}

fn problems(text: &str) -> Vec<(u64, Option<&'static str>)> {
    recon::parse(text.as_bytes()).unwrap_err().into_iter().map(|e| (e.line, e.field)).collect()
}

#[test]
fn each_defect_is_named_by_line_and_column() {
    // A signed amount in a detail row.
    let bad = SAMPLE.replacen(",HKD,2500,HKD,2500,", ",HKD,-2500,HKD,2500,", 1);
    assert!(problems(&bad).contains(&(6, Some("transactionAmount"))), "{:?}", problems(&bad));
    // A summary that does not add up.
    let bad = SAMPLE.replacen(",1,10000,42500", ",1,10001,42499", 1);
    assert!(problems(&bad).contains(&(2, Some("totalRefundAmount"))), "{:?}", problems(&bad));
    // A time without the +08:00 offset, and one outside the clearing day.
    let bad = SAMPLE.replacen("2025-03-19T12:40:11+08:00", "2025-03-19T04:40:11Z", 1);
    assert!(problems(&bad).contains(&(6, Some("transactionTime"))));
    let bad = SAMPLE.replacen("2025-03-19T12:40:11+08:00", "2025-03-20T12:40:11+08:00", 1);
    assert!(problems(&bad).contains(&(6, Some("transactionTime"))));
    // A refund that names no payment.
    let bad =
        SAMPLE.replacen(",20250319000000000000001,pay_1089760038715669_102775745075669,1022", ",,,1022", 1);
    assert!(problems(&bad).contains(&(7, Some("originalTransactionId"))));
    // A cancelled payment has no place in the file.
    let bad = SAMPLE.replacen(",PAYMENT,2025-03-19T12", ",CANCEL,2025-03-19T12", 1);
    assert!(problems(&bad).contains(&(6, Some("transactionType"))));
    // Missing empty line, CRLF line ends, a BOM, a short row, rows out of order.
    let bad = SAMPLE.replacen("42500\n\n", "42500\n", 1);
    assert_eq!(problems(&bad)[0].0, 3);
    assert_eq!(problems(&SAMPLE.replace('\n', "\r\n"))[0], (1, None));
    assert_eq!(problems(&format!("\u{feff}{SAMPLE}"))[0], (1, None));
    let bad = SAMPLE.replacen(",S0000000001,T01,ORD000002", ",S0000000001,ORD000002", 1);
    assert_eq!(problems(&bad)[0], (6, None));
    let lines: Vec<&str> = SAMPLE.lines().collect();
    let swapped = [lines[0], lines[1], lines[2], lines[3], lines[5], lines[4], lines[6], ""].join("\n");
    assert!(problems(&swapped).contains(&(6, Some("transactionTime"))));
    // Not UTF-8: the line of the bad byte.
    let mut bytes = SAMPLE.as_bytes().to_vec();
    let at = SAMPLE.find("cup Hu").unwrap();
    bytes[at] = 0xFF;
    assert_eq!(recon::parse(&bytes).unwrap_err()[0].line, 5);
}

fn text() -> impl Strategy<Value = String> {
    // Commas, quotes, line breaks and non-ASCII: what a merchant name can hold.
    proptest::string::string_regex("[a-zA-Z0-9 ,\"\n\r'é漢-]{0,12}").unwrap()
}

fn row() -> impl Strategy<Value = DetailRow> {
    (
        "[0-9]{23}",
        "[a-z0-9_]{1,20}",
        any::<bool>(),
        0_i64..86_400,
        (text(), text(), text()),
        1_i64..10_000_000,
        prop::sample::select(recon::SCENARIOS.to_vec()),
        any::<bool>(),
    )
        .prop_map(|(id, request, refund, second, (merchant, store, order), value, scenario, fx)| {
            let at = datetime!(2025-03-19 00:00 +08:00) + time::Duration::seconds(second);
            // A converted row was paid in USD and settles in the file's HKD at the fixed rate.
            let paid = Amount::from_minor(if fx { Currency::USD } else { Currency::HKD }, value);
            let (settled, quote) = match recon::convert(paid, Currency::HKD) {
                Some((settled, quote)) => (settled, Some(quote)),
                None => (paid, None),
            };
            DetailRow {
                transaction_id: id,
                transaction_request_id: request,
                transaction_type: if refund { TransactionType::Refund } else { TransactionType::Payment },
                transaction_time: at,
                original_transaction_id: if refund {
                    "20250319000000000000009".into()
                } else {
                    String::new()
                },
                original_transaction_request_id: if refund { "pay_x".into() } else { String::new() },
                counter_participant_id: "1022000000000000000".into(),
                wallet_brand_name: "Test Wallet".into(),
                payment_method_type: "CONNECT_WALLET".into(),
                in_store_payment_scenario: scenario.to_owned(),
                reference_merchant_id: "M0001".into(),
                merchant_name: merchant,
                merchant_mcc: "5812".into(),
                reference_store_id: store,
                store_terminal_id: String::new(),
                reference_order_id: order,
                transaction_amount: paid,
                settlement_amount: settled,
                quote,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn what_build_writes_reads_back_to_the_same_rows(rows in prop::collection::vec(row(), 0..20)) {
        let files = recon::build("ACQ1", Currency::HKD, "AGRHKD", date!(2025 - 03 - 19), rows.clone()).unwrap();
        prop_assert_eq!(files.len(), 1);
        let report = recon::parse(files[0].text.as_bytes());
        prop_assert!(report.is_ok(), "{:?}\n{}", report.err(), files[0].text);
        let report = report.unwrap();
        let mut expected = rows;
        expected.sort_by(|a, b| (a.transaction_time, &a.transaction_id).cmp(&(b.transaction_time, &b.transaction_id)));
        let read: Vec<DetailRow> = report.rows.into_iter().map(|(_, r)| r).collect();
        prop_assert_eq!(read, expected);
        prop_assert_eq!(recon::check_name(&files[0].name, &report.summary), Ok(0));
    }

    #[test]
    fn any_bytes_give_a_report_or_numbered_errors_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let lines = 1 + bytes.iter().filter(|b| **b == b'\n').count() as u64;
        if let Err(errors) = recon::parse(&bytes) {
            prop_assert!(!errors.is_empty());
            for error in errors {
                // A missing header line is reported where it belongs (at most line 4).
                prop_assert!(error.line >= 1 && error.line <= lines.max(4) + 1, "{error} of {lines} lines");
            }
        }
    }

    #[test]
    fn a_mangled_sample_line_is_reported_on_that_line(line in 4_usize..7, at in 0_usize..200, byte in prop::sample::select(vec![b',', b'"', b'x', b'-', b'\n'])) {
        let mut lines: Vec<Vec<u8>> = SAMPLE.lines().map(|l| l.as_bytes().to_vec()).collect();
        let target = &mut lines[line];
        let at = at % target.len();
        target[at] = byte;
        let mut bytes = lines.join(&b'\n');
        bytes.push(b'\n');
        if let Err(errors) = recon::parse(&bytes) {
            // The damaged line (1-based: index + 1) or, for a new line break, the one after it.
            let reported = errors.iter().any(|e| e.line == line as u64 + 1 || e.line == line as u64 + 2 || e.line == 2);
            prop_assert!(reported, "{errors:?}");
        }
    }
}
