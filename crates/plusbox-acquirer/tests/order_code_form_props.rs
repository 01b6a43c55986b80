//! `OrderCodeShown::from_form` reads the `orderCodeForm` of a `pay` answer (input from outside
//! the process): any JSON gives an answer or `None`, never a panic, and an answer's code value is
//! the non-empty `TEXT` entry with the images beside it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plusbox_acquirer::OrderCodeShown;
use proptest::prelude::*;
use serde_json::{json, Value};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[A-Za-z ]{0,8}".prop_map(Value::String),
        prop_oneof![Just("TEXT"), Just("BIGIMAGE"), Just("displayType"), Just("codeValue")]
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("codeDetails".to_owned()),
                    Just("displayType".to_owned()),
                    Just("codeValue".to_owned()),
                    Just("expireTime".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_form_is_read_or_refused_without_panicking(form in any_json()) {
        if let Some(shown) = OrderCodeShown::from_form(&form) {
            prop_assert!(!shown.code_value.is_empty());
            let details = form["codeDetails"].as_array().unwrap();
            prop_assert!(details.iter().any(|d| d["displayType"] == "TEXT" && d["codeValue"] == shown.code_value.as_str()));
            prop_assert!(shown.images.iter().all(|i| i.display_type != "TEXT"));
        }
    }
}

#[test]
fn the_sandbox_form_shape_is_read_in_full() {
    let form = json!({
        "expireTime": "2025-05-18T19:06:30-07:00",
        "codeDetails": [
            {"codeValue": "https://global.alipay.com/2810020400949jph9gDWC1kpeZ1jBICv4qqu", "displayType": "TEXT"},
            {"codeValue": "https://x/showQrImage.htm?code=a&picSize=L", "displayType": "BIGIMAGE"},
            {"codeValue": "https://x/showQrImage.htm?code=a&picSize=S", "displayType": "SMALLIMAGE"}
        ]
    });
    let shown = OrderCodeShown::from_form(&form).unwrap();
    assert_eq!(shown.code_value, "https://global.alipay.com/2810020400949jph9gDWC1kpeZ1jBICv4qqu");
    assert_eq!(shown.expire_time.as_deref(), Some("2025-05-18T19:06:30-07:00"));
    assert_eq!(shown.images.len(), 2);
    // No TEXT entry, or an empty one: nothing to display.
    assert!(OrderCodeShown::from_form(&json!({"codeDetails": [{"codeValue": "", "displayType": "TEXT"}]}))
        .is_none());
    assert!(OrderCodeShown::from_form(&json!({"codeDetails": "nope"})).is_none());
}
