//! Receipt-like text for a payment or refund, as the POS simulator prints it.

use crate::store::{OrderState, PaymentRecord, RefundRecord};

/// The headline for a payment's state, as a cashier would read it.
pub fn verdict(record: &PaymentRecord) -> &'static str {
    match record.state {
        OrderState::Success => "PAID",
        OrderState::Failed => "DECLINED",
        OrderState::Cancelled => "CANCELLED",
        OrderState::Init if record.cancel_requested => "UNKNOWN (cancel pending)",
        OrderState::Init => "UNKNOWN",
    }
}

/// A receipt for a payment: amount, wallet brand, payment ID and final state.
pub fn payment_receipt(record: &PaymentRecord) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let mut lines = vec![
        "================ Alipay+ ================".to_owned(),
        format!("  {:<20}{}", "Result", verdict(record)),
        format!("  {:<20}{}", "Amount", record.amount),
        format!("  {:<20}{}", "Wallet", dash(&record.wallet_brand_name)),
        format!("  {:<20}{}", "Payment ID", dash(&record.payment_id)),
        format!("  {:<20}{}", "Request ID", record.payment_request_id),
        format!("  {:<20}{}", "State", record.state.as_str()),
        format!("  {:<20}{}", "Result code", dash(&record.result_code)),
        format!("  {:<20}{}", "Decided by", dash(&record.final_source)),
        format!(
            "  {:<20}pay {} / inquiry {} / cancel {} / notify {}",
            "Calls", record.pay_calls, record.inquiry_calls, record.cancel_calls, record.notifications
        ),
    ];
    if let Some(time) = &record.payment_time {
        lines.push(format!("  {:<20}{}", "Paid at", time));
    }
    if let Some(note) = &record.note {
        lines.push(format!("  {:<20}{}", "Note", note));
    }
    for refund in &record.refunds {
        lines.push(format!(
            "  {:<20}{} {} ({})",
            "Refund", refund.amount, refund.state, refund.refund_request_id
        ));
    }
    lines.push("=========================================".to_owned());
    lines.join("\n")
}

/// A receipt for a refund.
pub fn refund_receipt(refund: &RefundRecord) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    [
        "============ Alipay+ refund =============".to_owned(),
        format!("  {:<20}{}", "Result", refund.state),
        format!("  {:<20}{}", "Amount", refund.amount),
        format!("  {:<20}{}", "Refund ID", dash(&refund.refund_id)),
        format!("  {:<20}{}", "Request ID", refund.refund_request_id),
        format!("  {:<20}{}", "Payment", refund.payment_request_id),
        format!("  {:<20}{}", "Result code", dash(&refund.result_code)),
        "=========================================".to_owned(),
    ]
    .join("\n")
}
