//! Request and response bodies of the in-store APIs (reference §4–§11).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    Order, OrderCodeForm, PaymentFactor, PaymentMethod, Quote, SettlementStrategy, Transaction, WireAmount,
    WireResult,
};

/// `pay` request (ACQP → Alipay+, §4.2, §5, §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayRequest {
    /// `order` (REQUIRED).
    pub order: Order,
    /// `paymentRequestId`: the ACQP's idempotency key (REQUIRED, ≤64).
    pub payment_request_id: String,
    /// `paymentAmount` (REQUIRED).
    pub payment_amount: WireAmount,
    /// `paymentMethod` (REQUIRED).
    pub payment_method: PaymentMethod,
    /// `paymentFactor` (required for in-store payments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_factor: Option<PaymentFactor>,
    /// `paymentExpiryTime` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_expiry_time: Option<String>,
    /// `paymentNotifyUrl`: where `notifyPayment` goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_notify_url: Option<String>,
    /// `paymentRedirectUrl` (not used for UPM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_redirect_url: Option<String>,
    /// `settlementStrategy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_strategy: Option<SettlementStrategy>,
    /// `allowedPspRegions[]` (not used for UPM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_psp_regions: Option<Vec<String>>,
    /// `userRegion` (not used for UPM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_region: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `pay` response (§4.3; `orderCodeForm` for Order Code, `paymentUrl` for Entry Code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayResponse {
    /// `result` (REQUIRED).
    pub result: WireResult,
    /// `acquirerId`: the ACQP's Participant ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquirer_id: Option<String>,
    /// `pspId`: the MPP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_id: Option<String>,
    /// `paymentId`: Alipay+ payment ID (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// `paymentTime` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_time: Option<String>,
    /// `paymentAmount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_amount: Option<WireAmount>,
    /// `customerId`: the MPP's user ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// `walletBrandName`, e.g. `GCash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_brand_name: Option<String>,
    /// `paymentUrl` (Entry Code flow only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_url: Option<String>,
    /// `orderCodeForm` (Order Code flow only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_code_form: Option<OrderCodeForm>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `inquiryPayment` request (§7): one of the two IDs is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct InquiryPaymentRequest {
    /// `paymentRequestId` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_request_id: Option<String>,
    /// `paymentId` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `inquiryPayment` response (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InquiryPaymentResponse {
    /// `result`: the result of the inquiry call itself.
    pub result: WireResult,
    /// `paymentResult`: the payment's result (when `result` is S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_result: Option<WireResult>,
    /// `acquirerId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquirer_id: Option<String>,
    /// `pspId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_id: Option<String>,
    /// `paymentRequestId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_request_id: Option<String>,
    /// `paymentId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// `paymentAmount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_amount: Option<WireAmount>,
    /// `paymentTime` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_time: Option<String>,
    /// `customerId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// `walletBrandName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_brand_name: Option<String>,
    /// `settlementAmount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_amount: Option<WireAmount>,
    /// `settlementQuote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_quote: Option<Quote>,
    /// `transactions[]`: refunds and cancels of the payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Vec<Transaction>>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `cancelPayment` request (§8): one of the two IDs is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CancelPaymentRequest {
    /// `paymentRequestId` (≤64; the idempotency key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_request_id: Option<String>,
    /// `paymentId` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `cancelPayment` response (§8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelPaymentResponse {
    /// `result`: `SUCCESS` means cancelled.
    pub result: WireResult,
    /// `acquirerId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquirer_id: Option<String>,
    /// `pspId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_id: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `refund` request (§9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    /// `paymentRequestId` (≤64; this or `paymentId` is required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_request_id: Option<String>,
    /// `paymentId` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// `refundRequestId`: idempotency key (REQUIRED, ≤64).
    pub refund_request_id: String,
    /// `refundAmount` (REQUIRED).
    pub refund_amount: WireAmount,
    /// `refundReason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_reason: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `refund` response (§9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundResponse {
    /// `result`.
    pub result: WireResult,
    /// `acquirerId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquirer_id: Option<String>,
    /// `pspId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_id: Option<String>,
    /// `refundId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// `refundTime` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_time: Option<String>,
    /// `refundAmount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_amount: Option<WireAmount>,
    /// `settlementAmount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_amount: Option<WireAmount>,
    /// `settlementQuote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_quote: Option<Quote>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `notifyPayment` request (Alipay+ → ACQP, §10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyPaymentRequest {
    /// `paymentResult` (REQUIRED; only S or F, never U).
    pub payment_result: WireResult,
    /// `paymentRequestId` (REQUIRED).
    pub payment_request_id: String,
    /// `paymentId` (present when S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// `acquirerId` (REQUIRED by the reference; checked by `validate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquirer_id: Option<String>,
    /// `pspId` (present when S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_id: Option<String>,
    /// `paymentAmount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_amount: Option<WireAmount>,
    /// `paymentTime` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_time: Option<String>,
    /// `customerId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// `walletBrandName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_brand_name: Option<String>,
    /// `settlementAmount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_amount: Option<WireAmount>,
    /// `settlementQuote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_quote: Option<Quote>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The ACQP's acknowledgement of `notifyPayment` (§10): `{"result":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyPaymentResponse {
    /// `result`: S means "received", whatever the payment result.
    pub result: WireResult,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `userInitiatedPay` request (Alipay+ → ACQP, private order code, §11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInitiatedPayRequest {
    /// `acquirerId` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquirer_id: Option<String>,
    /// `pspId` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_id: Option<String>,
    /// `codeValue`: the scanned code (REQUIRED, ≤512).
    pub code_value: String,
    /// `customerId` (≤64; only if the MPP passed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `userInitiatedPay` response (ACQP → Alipay+, §11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInitiatedPayResponse {
    /// `result` (REQUIRED).
    pub result: WireResult,
    /// `codeType`: `ORDER_CODE` (or `STORE_CODE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_type: Option<String>,
    /// `paymentRequestId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_request_id: Option<String>,
    /// `order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// `paymentFactor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_factor: Option<PaymentFactor>,
    /// `amount` (the SDK's name; see [`UserInitiatedPayResponse::effective_amount`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<WireAmount>,
    /// `paymentAmount` (preferred over `amount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_amount: Option<WireAmount>,
    /// `paymentNotifyUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_notify_url: Option<String>,
    /// `paymentRedirectUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_redirect_url: Option<String>,
    /// `paymentExpiryTime` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_expiry_time: Option<String>,
    /// `settlementStrategy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_strategy: Option<SettlementStrategy>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
