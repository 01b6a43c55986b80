//! Merchant-presented mode in the companion (order codes, alipayplus-api.md §5): the commands a
//! buyer's wallet uses after scanning the code a POS shows — decode it (merchant, store, amount,
//! whether a PIN is needed), then confirm or decline — over the sandbox's
//! `/app/v1/order-codes/…` API. Refusals come back as command errors the UI explains in words:
//! `ORDER_CODE_INVALID`, `ORDER_CODE_EXPIRED`, `ORDER_CLOSED`, `PIN_REQUIRED`, `WRONG_PIN`.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use ts_rs::TS;

use crate::client::{CompanionClient, WireDecision};
use crate::commands::{Money, PaymentOutcome};
use crate::error::{CommandError, ErrorCode};
use crate::host::Host;

/// Longest code text sent to the sandbox (the `identifyCode` limit, payment-codes.md §4.5).
pub const MAX_ORDER_CODE: usize = 8192;

/// The order behind a scanned order code, as the confirm screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OrderCodeOrder {
    /// The code value scanned (what `confirm_order_code` takes back).
    pub code: String,
    /// Alipay+ paymentId.
    pub payment_id: String,
    /// The ACQP's paymentRequestId.
    pub payment_request_id: String,
    /// Merchant name (or `Merchant` when the order gives none).
    pub merchant_name: String,
    /// The merchant's id at the acquirer.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<String>,
    /// Store name.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_name: Option<String>,
    /// What is being bought (`orderDescription`).
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Amount.
    pub amount: Money,
    /// When the code expires.
    pub expires_at: String,
    /// Confirming needs the buyer's PIN.
    pub needs_pin: bool,
}

/// `decode_order_code` and `decline_order_code` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderCodeArgs {
    /// The scanned text.
    pub code: String,
    /// The buyer account paying.
    pub account_id: String,
}

/// `confirm_order_code` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmOrderCodeArgs {
    /// The scanned text.
    pub code: String,
    /// The buyer account paying.
    pub account_id: String,
    /// The buyer's PIN, when the order asks for one.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

/// The sandbox's decode answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOrder {
    code: String,
    payment_id: String,
    payment_request_id: String,
    merchant: Option<String>,
    merchant_id: Option<String>,
    store: Option<String>,
    description: Option<String>,
    amount: WireAmount,
    expires_at: String,
    pin_required: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct WireAmount {
    currency: String,
    value: String,
}

impl CompanionClient {
    /// `POST /order-codes/decode`.
    async fn decode_order_code(&self, code: &str, account: &str) -> Result<WireOrder, CommandError> {
        self.require_token()?;
        self.call(Method::POST, "/order-codes/decode", Some(json!({"code": code, "account": account}))).await
    }

    /// `POST /order-codes/confirm`.
    async fn confirm_order_code(
        &self,
        code: &str,
        account: &str,
        pin: Option<&str>,
    ) -> Result<WireDecision, CommandError> {
        self.require_token()?;
        let body = json!({"code": code, "account": account, "pin": pin});
        self.call(Method::POST, "/order-codes/confirm", Some(body)).await
    }

    /// `POST /order-codes/decline`.
    async fn decline_order_code(&self, code: &str, account: &str) -> Result<WireDecision, CommandError> {
        self.require_token()?;
        self.call(Method::POST, "/order-codes/decline", Some(json!({"code": code, "account": account}))).await
    }
}

fn checked(code: &str, account: &str) -> Result<String, CommandError> {
    let code = code.trim();
    if code.is_empty() || code.len() > MAX_ORDER_CODE {
        return Err(CommandError::bad_request(format!(
            "the scanned code must be 1 to {MAX_ORDER_CODE} characters"
        )));
    }
    if account.trim().is_empty() {
        return Err(CommandError::bad_request("choose the buyer account that pays"));
    }
    Ok(code.to_owned())
}

/// Reads the order behind a scanned order code, or says why it cannot be paid.
pub async fn decode_order_code<H: Host>(
    host: H,
    args: OrderCodeArgs,
) -> Result<OrderCodeOrder, CommandError> {
    let code = checked(&args.code, &args.account_id)?;
    let order = host.client().decode_order_code(&code, &args.account_id).await?;
    Ok(OrderCodeOrder {
        code: order.code,
        payment_id: order.payment_id,
        payment_request_id: order.payment_request_id,
        merchant_name: order.merchant.unwrap_or_else(|| "Merchant".into()),
        merchant_id: order.merchant_id,
        store_name: order.store,
        description: order.description,
        amount: Money::new(&order.amount.currency, order.amount.value),
        expires_at: order.expires_at,
        needs_pin: order.pin_required,
    })
}

/// Pays a scanned order code. A wrong PIN fails the order: `WRONG_PIN`; a missing one changes
/// nothing: `PIN_REQUIRED`.
pub async fn confirm_order_code<H: Host>(
    host: H,
    args: ConfirmOrderCodeArgs,
) -> Result<PaymentOutcome, CommandError> {
    let code = checked(&args.code, &args.account_id)?;
    let pin = args.pin.as_deref().filter(|p| !p.is_empty());
    if pin.is_some_and(|p| p.len() > 32) {
        return Err(CommandError::bad_request("the PIN is 1 to 32 characters"));
    }
    let outcome: PaymentOutcome =
        host.client().confirm_order_code(&code, &args.account_id, pin).await?.into();
    if outcome.result_code == "USER_PAYMENT_VERIFICATION_FAILED" {
        return Err(CommandError::new(
            ErrorCode::WrongPin,
            format!("wrong PIN: payment {} failed ({})", outcome.payment_id, outcome.result_message),
        ));
    }
    Ok(outcome)
}

/// Declines a scanned order code: the order fails and the merchant is told.
pub async fn decline_order_code<H: Host>(
    host: H,
    args: OrderCodeArgs,
) -> Result<PaymentOutcome, CommandError> {
    let code = checked(&args.code, &args.account_id)?;
    Ok(host.client().decline_order_code(&code, &args.account_id).await?.into())
}
