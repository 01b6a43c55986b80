//! The sequence diagram of a run: three lanes — the POS/ACQP, the sandbox (Alipay+) and the
//! buyer's wallet — and one arrow per message (a traffic entry or a wallet event) with its API,
//! result and time relative to the first message. A pure function of its input, drawn as a
//! standalone SVG document; every piece of text is XML-escaped, so a hostile body in the traffic
//! log can neither break the markup nor inject any.

use std::fmt::Write as _;

use plusbox_core::catalogue::TrafficEntry;
use plusbox_core::protocol::time::parse_instant;

/// A lane of the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// The merchant's POS and its acquirer.
    Acqp,
    /// The sandbox (Alipay+).
    Sandbox,
    /// The buyer's wallet (the companion).
    Wallet,
}

impl Lane {
    /// The lane's name in the diagram.
    pub fn title(self) -> &'static str {
        match self {
            Lane::Acqp => "POS / ACQP",
            Lane::Sandbox => "Sandbox (Alipay+)",
            Lane::Wallet => "Wallet",
        }
    }

    /// The short name used in live entries (`ACQP`, `SANDBOX`, `WALLET`).
    pub fn code(self) -> &'static str {
        match self {
            Lane::Acqp => "ACQP",
            Lane::Sandbox => "SANDBOX",
            Lane::Wallet => "WALLET",
        }
    }

    fn x(self) -> i64 {
        match self {
            Lane::Acqp => 120,
            Lane::Sandbox => 420,
            Lane::Wallet => 720,
        }
    }
}

/// One arrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The traffic entry it shows, if it is one (`#id` in the label).
    pub id: Option<i64>,
    /// Milliseconds after the first message.
    pub rel_ms: i64,
    /// Sender.
    pub from: Lane,
    /// Receiver.
    pub to: Lane,
    /// What it was, e.g. `pay → U PAYMENT_IN_PROCESS`.
    pub label: String,
}

/// The summary of a traffic entry: `pay → U PAYMENT_IN_PROCESS`, or the HTTP status when the
/// answer carried no result, or `no answer`.
pub fn summary(entry: &TrafficEntry) -> String {
    let result = match (&entry.result_status, &entry.result_code, entry.response_status) {
        (Some(status), Some(code), _) => format!("{status} {code}"),
        (Some(status), None, _) => status.clone(),
        (None, Some(code), _) => code.clone(),
        (None, None, Some(http)) => format!("HTTP {http}"),
        (None, None, None) => "no answer".to_owned(),
    };
    // An inquiry's own result is about the call, not the payment: "S SUCCESS" while the payment
    // is still processing reads as "paid" to a cashier, so say the payment's status too.
    let payment_status = (entry.api == "inquiryPayment")
        .then(|| serde_json::from_str::<serde_json::Value>(&entry.response_body).ok())
        .flatten()
        .and_then(|body| {
            body.pointer("/paymentResult/resultStatus").and_then(|s| s.as_str()).map(str::to_owned)
        });
    match payment_status.as_deref().map(payment_word) {
        Some(word) => format!("{} → {result} (payment {word})", entry.api),
        None => format!("{} → {result}", entry.api),
    }
}

/// The payment's state as `paymentResult.resultStatus` gives it (§7: S paid, F failed, U in
/// process).
fn payment_word(status: &str) -> &str {
    match status {
        "S" => "paid",
        "F" => "failed",
        "U" => "processing",
        other => other,
    }
}

/// Who sent a traffic entry and who received it.
pub fn lanes(entry: &TrafficEntry) -> (Lane, Lane) {
    if entry.direction == "outbound" {
        (Lane::Sandbox, Lane::Acqp)
    } else {
        (Lane::Acqp, Lane::Sandbox)
    }
}

/// Milliseconds from `start` to `at` (both ISO 8601); 0 when either does not parse.
pub fn rel_ms(start: &str, at: &str) -> i64 {
    match (parse_instant(start), parse_instant(at)) {
        (Ok(s), Ok(a)) => i64::try_from((a - s).whole_milliseconds()).unwrap_or(i64::MAX),
        _ => 0,
    }
}

/// Text safe inside XML character data and attribute values: the five markup characters
/// escaped, characters XML 1.0 forbids (most controls, U+FFFE, U+FFFF) replaced with U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

const TOP: i64 = 70;
const ROW: i64 = 44;
const WIDTH: i64 = 840;

/// The diagram as a standalone SVG document (no scripts, no external references).
pub fn sequence_svg(messages: &[Message]) -> String {
    let rows = i64::try_from(messages.len()).unwrap_or(i64::MAX / ROW);
    let height = TOP.saturating_add(rows.saturating_mul(ROW)).saturating_add(40);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" \
         font-family=\"system-ui, sans-serif\" font-size=\"13\" role=\"img\" aria-label=\"Sequence diagram\">"
    );
    out.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" \
         orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#334\"/></marker></defs>",
    );
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>");
    for lane in [Lane::Acqp, Lane::Sandbox, Lane::Wallet] {
        let x = lane.x();
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"12\" width=\"180\" height=\"30\" rx=\"6\" fill=\"#eef2f7\" stroke=\"#334\"/>\
             <text x=\"{x}\" y=\"32\" text-anchor=\"middle\" font-weight=\"600\">{}</text>\
             <line x1=\"{x}\" y1=\"42\" x2=\"{x}\" y2=\"{}\" stroke=\"#99a\" stroke-dasharray=\"4 4\"/>",
            x - 90,
            xml_escape(lane.title()),
            height - 10
        );
    }
    if messages.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#667\">no messages</text>",
            WIDTH / 2,
            TOP + 10
        );
    }
    let mut y = TOP;
    for m in messages {
        y = y.saturating_add(ROW);
        let (x1, x2) = (m.from.x(), m.to.x());
        let id = m.id.map(|id| format!("#{id} ")).unwrap_or_default();
        let label = xml_escape(&clip(&format!("{id}{}", m.label), 46));
        let time = format!("+{} ms", m.rel_ms);
        let mid = (x1 + x2) / 2;
        let anchor = if let Some(id) = m.id { format!(" id=\"msg-{id}\"") } else { String::new() };
        if x1 == x2 {
            let _ = write!(
                out,
                "<g{anchor}><path d=\"M{x1},{} h40 v16 h-40\" fill=\"none\" stroke=\"#334\" marker-end=\"url(#arrow)\"/>\
                 <text x=\"{}\" y=\"{}\">{label}</text>",
                y - 16,
                x1 + 46,
                y - 4
            );
        } else {
            let _ = write!(
                out,
                "<g{anchor}><line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#334\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\
                 <text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
                y - 6
            );
        }
        let _ = write!(
            out,
            "<text x=\"8\" y=\"{}\" fill=\"#667\" font-size=\"11\">{}</text></g>",
            y - 4,
            xml_escape(&time)
        );
    }
    out.push_str("</svg>");
    out
}

/// The diagram of a stored run as the TSP dashboard shows it: drawn again from the traffic of a
/// `RunResult` (the JSON the companion serialises and uploads). The `diagramSvg` a device sent
/// is never served, since it is markup from outside the sandbox; entries that do not parse are
/// left out.
pub fn run_result_svg(run: &serde_json::Value) -> String {
    let entries: Vec<TrafficEntry> = run
        .get("traffic")
        .and_then(|t| t.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|t| {
                    let text = |key: &str| t.get(key).and_then(|v| v.as_str()).map(str::to_owned);
                    Some(TrafficEntry {
                        id: t.get("id")?.as_i64()?,
                        at: text("at")?,
                        direction: text("direction").unwrap_or_default(),
                        api: text("api").unwrap_or_default(),
                        response_status: t
                            .get("status")
                            .and_then(|v| v.as_u64())
                            .and_then(|s| u16::try_from(s).ok()),
                        response_body: text("responseBody").unwrap_or_default(),
                        result_code: text("resultCode"),
                        result_status: text("resultStatus"),
                        ..TrafficEntry::default()
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let first = entries.first().map(|e| e.at.clone()).unwrap_or_default();
    let messages: Vec<Message> = entries
        .iter()
        .map(|e| {
            let (from, to) = lanes(e);
            Message { id: Some(e.id), rel_ms: rel_ms(&first, &e.at), from, to, label: summary(e) }
        })
        .collect();
    sequence_svg(&messages)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// Characters XML 1.0 allows (the `Char` production).
    fn xml_char(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    }

    /// Parses the whole document with a real XML parser (balanced, matching end tags, only the
    /// predefined entities, only characters XML allows); the error if it is not well formed.
    fn well_formed(svg: &str) -> Result<usize, String> {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(svg);
        reader.config_mut().check_end_names = true;
        let mut elements = 0;
        let mut depth = 0i64;
        let mut roots = 0;
        if let Some(c) = svg.chars().find(|c| !xml_char(*c)) {
            return Err(format!("character U+{:04X} is not allowed in XML", c as u32));
        }
        loop {
            let event = reader.read_event().map_err(|e| e.to_string())?;
            match &event {
                Event::Start(_) | Event::Empty(_) if depth == 0 => roots += 1,
                _ => {}
            }
            match &event {
                Event::Start(_) => depth += 1,
                Event::End(_) => depth -= 1,
                _ => {}
            }
            match event {
                Event::Start(e) | Event::Empty(e) => {
                    elements += 1;
                    for a in e.attributes() {
                        let a = a.map_err(|e| e.to_string())?;
                        if a.value.contains('<') {
                            return Err("a raw < in an attribute value".into());
                        }
                        for (i, _) in a.value.match_indices('&') {
                            let rest = a.value.get(i + 1..).unwrap_or_default();
                            let name = rest.split(';').next().unwrap_or_default();
                            let known = ["amp", "lt", "gt", "quot", "apos"].contains(&name)
                                || (name.starts_with('#') && name.len() > 1);
                            if !known || !rest.contains(';') {
                                return Err(format!("a bare & in an attribute value: {}", a.value));
                            }
                        }
                    }
                }
                Event::End(_) => {}
                Event::GeneralRef(r) => {
                    let name = r.into_inner();
                    let known = ["amp", "lt", "gt", "quot", "apos"].contains(&name.as_ref());
                    if !known && !name.starts_with('#') {
                        return Err(format!("undefined entity &{name};"));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if depth != 0 || roots != 1 {
            return Err(format!("not one balanced root element (depth {depth}, {roots} roots)"));
        }
        Ok(elements)
    }

    fn entry(id: i64, direction: &str, api: &str, status: Option<&str>, code: Option<&str>) -> TrafficEntry {
        TrafficEntry {
            id,
            at: "2026-01-01T00:00:00Z".into(),
            direction: direction.into(),
            api: api.into(),
            result_status: status.map(str::to_owned),
            result_code: code.map(str::to_owned),
            ..TrafficEntry::default()
        }
    }

    #[test]
    fn an_inquiry_says_the_payment_state_beside_the_call_result() {
        let mut inquiry = entry(7, "inbound", "inquiryPayment", Some("S"), Some("SUCCESS"));
        let body = |status: &str| {
            format!(r#"{{"result":{{"resultStatus":"S"}},"paymentResult":{{"resultStatus":"{status}"}}}}"#)
        };
        inquiry.response_body = body("U");
        assert_eq!(summary(&inquiry), "inquiryPayment → S SUCCESS (payment processing)");
        inquiry.response_body = body("S");
        assert_eq!(summary(&inquiry), "inquiryPayment → S SUCCESS (payment paid)");
        inquiry.response_body = body("F");
        assert_eq!(summary(&inquiry), "inquiryPayment → S SUCCESS (payment failed)");
        // An unknown payment has no paymentResult; a body that is not JSON says nothing more.
        inquiry.response_body = r#"{"result":{"resultStatus":"F"}}"#.into();
        assert_eq!(summary(&inquiry), "inquiryPayment → S SUCCESS");
        inquiry.response_body = "not json".into();
        assert_eq!(summary(&inquiry), "inquiryPayment → S SUCCESS");
        let mut pay = entry(8, "inbound", "pay", Some("U"), Some("PAYMENT_IN_PROCESS"));
        pay.response_body = body("S");
        assert_eq!(summary(&pay), "pay → U PAYMENT_IN_PROCESS", "only inquiries carry a payment's state");
    }

    #[test]
    fn each_message_is_an_arrow_between_its_lanes_with_api_result_and_time() {
        let pay = entry(12, "inbound", "pay", Some("U"), Some("PAYMENT_IN_PROCESS"));
        let notify = entry(15, "outbound", "notifyPayment", Some("S"), Some("SUCCESS"));
        let (from, to) = lanes(&pay);
        let messages = vec![
            Message { id: Some(12), rel_ms: 0, from, to, label: summary(&pay) },
            Message {
                id: None,
                rel_ms: 900,
                from: Lane::Sandbox,
                to: Lane::Wallet,
                label: "PIN prompt".into(),
            },
            Message {
                id: Some(15),
                rel_ms: 2_300,
                from: Lane::Sandbox,
                to: Lane::Acqp,
                label: summary(&notify),
            },
        ];
        let svg = sequence_svg(&messages);
        assert!(well_formed(&svg).is_ok(), "{svg}");
        assert!(svg.contains("#12 pay → U PAYMENT_IN_PROCESS"), "{svg}");
        assert!(svg.contains("+2300 ms") && svg.contains("id=\"msg-15\""));
        assert!(svg.contains("x1=\"120\" y1=\"114\" x2=\"420\""), "pay goes from the ACQP to the sandbox");
        assert!(svg.contains("x1=\"420\" y1=\"158\" x2=\"720\""), "the prompt goes to the wallet");
        assert!(svg.contains("x1=\"420\" y1=\"202\" x2=\"120\""), "notify goes back to the ACQP");
        assert!(!svg.contains("<script") && !svg.contains("href"));
    }

    #[test]
    fn markup_in_a_label_is_escaped_not_drawn() {
        let messages = vec![Message {
            id: Some(1),
            rel_ms: 0,
            from: Lane::Acqp,
            to: Lane::Sandbox,
            label: "<script>alert(1)</script>&\"'\u{1}".into(),
        }];
        let svg = sequence_svg(&messages);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert!(well_formed(&svg).is_ok());
    }

    #[test]
    fn relative_times_come_from_the_instants() {
        assert_eq!(rel_ms("2026-01-01T00:00:00Z", "2026-01-01T00:00:01.250Z"), 1_250);
        assert_eq!(rel_ms("not a time", "2026-01-01T00:00:01Z"), 0);
    }

    proptest! {
        #[test]
        fn any_text_in_the_entries_still_gives_well_formed_xml(
            labels in proptest::collection::vec(any::<String>(), 0..6),
            apis in proptest::collection::vec(any::<String>(), 0..6),
            rel in any::<i64>(),
        ) {
            let mut messages = Vec::new();
            for (i, label) in labels.iter().enumerate() {
                messages.push(Message {
                    id: Some(i64::try_from(i).unwrap_or(0)),
                    rel_ms: rel,
                    from: if i % 2 == 0 { Lane::Acqp } else { Lane::Sandbox },
                    to: if i % 3 == 0 { Lane::Wallet } else { Lane::Sandbox },
                    label: label.clone(),
                });
            }
            for api in &apis {
                let e = entry(1, "outbound", api, Some(api), None);
                let (from, to) = lanes(&e);
                messages.push(Message { id: None, rel_ms: 0, from, to, label: summary(&e) });
            }
            let svg = sequence_svg(&messages);
            prop_assert!(well_formed(&svg).is_ok(), "{:?}", well_formed(&svg));
            prop_assert_eq!(svg.matches("<g").count(), messages.len());
        }
    }

    #[test]
    fn a_stored_run_is_drawn_again_from_its_traffic_never_from_the_devices_svg() {
        let run = serde_json::json!({
            "diagramSvg": "<svg><script>alert(1)</script></svg>",
            "traffic": [
                {"id": 7, "at": "2026-12-07T10:00:00.000+08:00", "direction": "inbound", "api": "pay",
                 "resultStatus": "U", "resultCode": "PAYMENT_IN_PROCESS", "status": 200},
                {"id": 8, "at": "2026-12-07T10:00:01.250+08:00", "direction": "outbound",
                 "api": "notifyPayment<script>", "resultStatus": "S", "resultCode": "SUCCESS"},
                {"at": "no id: left out"}
            ]
        });
        let svg = run_result_svg(&run);
        assert!(well_formed(&svg).is_ok(), "{:?}", well_formed(&svg));
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("#7 pay → U PAYMENT_IN_PROCESS"), "{svg}");
        assert!(svg.contains("notifyPayment&lt;script&gt;"), "{svg}");
        assert!(svg.contains("+1250 ms"), "{svg}");
        assert_eq!(svg.matches("<g").count(), 2);
    }
}
