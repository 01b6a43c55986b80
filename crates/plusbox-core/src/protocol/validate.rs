//! Field rules beyond what the types enforce: required fields per scenario, lengths, amounts,
//! times. Each check reports the first failure with its JSON path.
//!
//! Lengths are counted in characters. Limits follow the reference: IDs ≤64 (§2), `orderDescription`
//! ≤256, `codeValue` ≤512, `resultCode` ≤64, Address and Env limits from §2.3. Plusbox decision:
//! `referenceMerchantId`/`referenceStoreId` ≤64 (the ID rule; one tax-refund model says 32, which
//! would reject IDs real acquirers use elsewhere), URLs ≤2048 and `http(s)://`, free text ≤256.

use super::error::{FieldError, Problem};
use super::time::parse_instant;
use super::{
    Address, Buyer, CancelPaymentRequest, CancelPaymentResponse, Env, Goods, InStoreScenario,
    InquiryPaymentRequest, InquiryPaymentResponse, Merchant, NotifyPaymentRequest, NotifyPaymentResponse,
    Order, PayRequest, PayResponse, PaymentFactor, PaymentMethod, Quote, RefundRequest, RefundResponse,
    SettlementStrategy, Shipping, Store, Transaction, UserInitiatedPayRequest, UserInitiatedPayResponse,
    WireAmount, WireBool, WireResult,
};
use crate::money::{Amount, Currency};
use crate::result_code::Status;

/// Business-independent checks of a message, run after parsing. The error's path names the
/// field; the sandbox answers it with F `PARAM_ILLEGAL` and the error as `resultMessage`.
pub trait Validate {
    /// Checks required fields, lengths, amounts and times.
    fn validate(&self) -> Result<(), FieldError>;
}

pub(super) const ID_MAX: usize = 64;
pub(super) const TEXT_MAX: usize = 256;
pub(super) const URL_MAX: usize = 2048;

/// Joins a parent path and a field name.
pub(super) fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

pub(super) fn text(parent: &str, field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(join(parent, field), Problem::EmptyString));
    }
    let len = value.chars().count();
    if len > max {
        return Err(FieldError::new(join(parent, field), Problem::TooLong { max, len }));
    }
    Ok(())
}

pub(super) fn opt_text(
    parent: &str,
    field: &str,
    value: &Option<String>,
    max: usize,
) -> Result<(), FieldError> {
    value.as_deref().map_or(Ok(()), |v| text(parent, field, v, max))
}

pub(super) fn required<'a, T>(parent: &str, field: &str, value: &'a Option<T>) -> Result<&'a T, FieldError> {
    value.as_ref().ok_or_else(|| FieldError::new(join(parent, field), Problem::Missing))
}

pub(super) fn one_of(
    a: &Option<String>,
    b: &Option<String>,
    names: &'static [&'static str],
) -> Result<(), FieldError> {
    if a.is_none() && b.is_none() {
        return Err(FieldError::new("", Problem::MissingOneOf(names)));
    }
    Ok(())
}

/// A wire amount that must satisfy §2.1; errors point at `.currency` or `.value`.
fn amount(parent: &str, field: &str, value: &WireAmount) -> Result<Amount, FieldError> {
    let path = join(parent, field);
    Amount::from_wire(value).map_err(|e| {
        let sub = if e.is_currency_error() { "currency" } else { "value" };
        FieldError::new(join(&path, sub), Problem::Invalid(e.to_string()))
    })
}

fn opt_amount(parent: &str, field: &str, value: &Option<WireAmount>) -> Result<(), FieldError> {
    value.as_ref().map_or(Ok(()), |v| amount(parent, field, v).map(|_| ()))
}

fn opt_time(parent: &str, field: &str, value: &Option<String>) -> Result<(), FieldError> {
    if let Some(v) = value {
        text(parent, field, v, TEXT_MAX)?;
        parse_instant(v)
            .map_err(|e| FieldError::new(join(parent, field), Problem::Invalid(e.to_string())))?;
    }
    Ok(())
}

pub(super) fn opt_url(parent: &str, field: &str, value: &Option<String>) -> Result<(), FieldError> {
    if let Some(v) = value {
        text(parent, field, v, URL_MAX)?;
        if !(v.starts_with("https://") || v.starts_with("http://")) {
            return Err(FieldError::new(
                join(parent, field),
                Problem::Invalid(format!("{v:?} is not an http(s) URL")),
            ));
        }
    }
    Ok(())
}

fn opt_currency(parent: &str, field: &str, value: &Option<String>) -> Result<(), FieldError> {
    if let Some(v) = value {
        Currency::from_code(v)
            .map_err(|e| FieldError::new(join(parent, field), Problem::Invalid(e.to_string())))?;
    }
    Ok(())
}

fn result(parent: &str, field: &str, r: &WireResult) -> Result<(), FieldError> {
    let path = join(parent, field);
    text(&path, "resultCode", &r.result_code, ID_MAX)?;
    opt_text(&path, "resultMessage", &r.result_message, URL_MAX)
}

/// Validation of a nested object at a path (`Validate` is for whole messages, whose path is "").
pub(super) trait ValidateAt {
    fn validate_at(&self, path: &str) -> Result<(), FieldError>;
}

impl<T: ValidateAt> ValidateAt for Option<T> {
    fn validate_at(&self, path: &str) -> Result<(), FieldError> {
        self.as_ref().map_or(Ok(()), |v| v.validate_at(path))
    }
}

impl ValidateAt for Order {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        text(p, "referenceOrderId", &self.reference_order_id, ID_MAX)?;
        text(p, "orderDescription", &self.order_description, TEXT_MAX)?;
        amount(p, "orderAmount", &self.order_amount)?;
        self.merchant.validate_at(&join(p, "merchant"))?;
        if let Some(goods) = &self.goods {
            for (i, g) in goods.iter().enumerate() {
                g.validate_at(&format!("{}[{i}]", join(p, "goods")))?;
            }
        }
        self.shipping.validate_at(&join(p, "shipping"))?;
        self.buyer.validate_at(&join(p, "buyer"))?;
        self.env.validate_at(&join(p, "env"))
    }
}

impl ValidateAt for Merchant {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        opt_text(p, "referenceMerchantId", &self.reference_merchant_id, ID_MAX)?;
        opt_text(p, "merchantMCC", &self.merchant_mcc, ID_MAX)?;
        opt_text(p, "merchantName", &self.merchant_name, TEXT_MAX)?;
        opt_text(p, "merchantDisplayName", &self.merchant_display_name, TEXT_MAX)?;
        self.merchant_address.validate_at(&join(p, "merchantAddress"))?;
        opt_text(p, "merchantRegisterDate", &self.merchant_register_date, ID_MAX)?;
        self.store.validate_at(&join(p, "store"))
    }
}

impl ValidateAt for Store {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        opt_text(p, "referenceStoreId", &self.reference_store_id, ID_MAX)?;
        opt_text(p, "storeName", &self.store_name, TEXT_MAX)?;
        opt_text(p, "storeMCC", &self.store_mcc, ID_MAX)?;
        opt_text(p, "storeDisplayName", &self.store_display_name, TEXT_MAX)?;
        opt_text(p, "storeTerminalId", &self.store_terminal_id, ID_MAX)?;
        opt_text(p, "storeOperatorId", &self.store_operator_id, ID_MAX)?;
        opt_text(p, "storePhoneNo", &self.store_phone_no, ID_MAX)?;
        self.store_address.validate_at(&join(p, "storeAddress"))
    }
}

impl ValidateAt for Address {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        let region = required(p, "region", &self.region)?;
        if region.len() != 2 || !region.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(FieldError::new(
                join(p, "region"),
                Problem::Invalid(format!("{region:?} is not an ISO 3166 two-letter region code")),
            ));
        }
        opt_text(p, "state", &self.state, 8)?;
        opt_text(p, "city", &self.city, 32)?;
        opt_text(p, "address1", &self.address1, 256)?;
        opt_text(p, "address2", &self.address2, 256)?;
        opt_text(p, "zipCode", &self.zip_code, 32)
    }
}

impl ValidateAt for Env {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        opt_text(p, "terminalType", &self.terminal_type, ID_MAX)?;
        opt_text(p, "osType", &self.os_type, ID_MAX)?;
        opt_text(p, "userAgent", &self.user_agent, URL_MAX)?;
        opt_text(p, "deviceTokenId", &self.device_token_id, TEXT_MAX)?;
        opt_text(p, "clientIp", &self.client_ip, 32)?;
        opt_text(p, "cookieId", &self.cookie_id, TEXT_MAX)?;
        opt_text(p, "storeTerminalId", &self.store_terminal_id, ID_MAX)?;
        opt_time(p, "storeTerminalRequestTime", &self.store_terminal_request_time)
    }
}

impl ValidateAt for Goods {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        opt_text(p, "referenceGoodsId", &self.reference_goods_id, ID_MAX)?;
        opt_text(p, "goodsName", &self.goods_name, TEXT_MAX)?;
        opt_amount(p, "goodsUnitAmount", &self.goods_unit_amount)?;
        if let Some(q) = &self.goods_quantity {
            if q.is_empty() || !q.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FieldError::new(
                    join(p, "goodsQuantity"),
                    Problem::Invalid(format!("{q:?} is not a whole number")),
                ));
            }
        }
        Ok(())
    }
}

impl ValidateAt for Shipping {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        self.shipping_address.validate_at(&join(p, "shippingAddress"))?;
        opt_text(p, "shippingCarrier", &self.shipping_carrier, TEXT_MAX)?;
        opt_text(p, "shippingPhoneNo", &self.shipping_phone_no, ID_MAX)
    }
}

impl ValidateAt for Buyer {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        opt_text(p, "referenceBuyerId", &self.reference_buyer_id, ID_MAX)?;
        opt_text(p, "buyerPhoneNo", &self.buyer_phone_no, ID_MAX)?;
        opt_text(p, "buyerEmail", &self.buyer_email, TEXT_MAX)
    }
}

impl ValidateAt for PaymentMethod {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        text(p, "paymentMethodType", &self.payment_method_type, ID_MAX)?;
        opt_text(p, "paymentMethodId", &self.payment_method_id, 512)?;
        opt_text(p, "customerId", &self.customer_id, ID_MAX)
    }
}

impl ValidateAt for PaymentFactor {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        opt_text(p, "presentmentMode", &self.presentment_mode, ID_MAX)?;
        opt_text(p, "inStorePaymentScenario", &self.in_store_payment_scenario, ID_MAX)
    }
}

impl ValidateAt for SettlementStrategy {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        opt_currency(p, "settlementCurrency", &self.settlement_currency)
    }
}

impl ValidateAt for Quote {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        opt_text(p, "quoteId", &self.quote_id, ID_MAX)?;
        opt_time(p, "quoteStartTime", &self.quote_start_time)?;
        opt_time(p, "quoteExpiryTime", &self.quote_expiry_time)
    }
}

impl ValidateAt for Transaction {
    fn validate_at(&self, p: &str) -> Result<(), FieldError> {
        if let Some(r) = &self.transaction_result {
            result(p, "transactionResult", r)?;
        }
        opt_text(p, "transactionId", &self.transaction_id, ID_MAX)?;
        opt_amount(p, "transactionAmount", &self.transaction_amount)?;
        opt_text(p, "transactionRequestId", &self.transaction_request_id, ID_MAX)?;
        opt_time(p, "transactionTime", &self.transaction_time)
    }
}

/// `pay` (in-store). Plusbox rules:
/// - always: `paymentRequestId` ≤64; `paymentAmount` and `order.orderAmount` valid wire amounts
///   in the same currency; `order.merchant` with `referenceMerchantId`; `paymentFactor` with an
///   `inStorePaymentScenario` of `PaymentCode`, `OrderCode` or `EntryCode` (the sandbox serves
///   in-store payments only); `isInStorePayment`, when present, is `"true"`;
/// - `PaymentCode` (UPM): `paymentMethod.paymentMethodId` (the code), `isInStorePayment`,
///   `order.merchant.store.referenceStoreId`;
/// - `OrderCode`: `order.env.userAgent`;
/// - `EntryCode`: `order.merchant.store.referenceStoreId` and `order.env.userAgent`.
impl Validate for PayRequest {
    fn validate(&self) -> Result<(), FieldError> {
        text("", "paymentRequestId", &self.payment_request_id, ID_MAX)?;
        let pay_amount = amount("", "paymentAmount", &self.payment_amount)?;
        self.order.validate_at("order")?;
        self.payment_method.validate_at("paymentMethod")?;
        let order_amount = amount("order", "orderAmount", &self.order.order_amount)?;
        if order_amount.currency != pay_amount.currency {
            return Err(FieldError::new(
                "paymentAmount.currency",
                Problem::Invalid(format!(
                    "{} differs from order.orderAmount.currency {}",
                    pay_amount.currency, order_amount.currency
                )),
            ));
        }
        let merchant = required("order", "merchant", &self.order.merchant)?;
        required("order.merchant", "referenceMerchantId", &merchant.reference_merchant_id)?;

        let factor = required("", "paymentFactor", &self.payment_factor)?;
        factor.validate_at("paymentFactor")?;
        if factor.is_in_store_payment == Some(WireBool(false)) {
            return Err(FieldError::new(
                "paymentFactor.isInStorePayment",
                Problem::Invalid("must be \"true\": Plusbox simulates in-store payments".into()),
            ));
        }
        required("paymentFactor", "inStorePaymentScenario", &factor.in_store_payment_scenario)?;
        let needs_store = match self.scenario() {
            Some(InStoreScenario::PaymentCode) => {
                required("paymentMethod", "paymentMethodId", &self.payment_method.payment_method_id)?;
                required("paymentFactor", "isInStorePayment", &factor.is_in_store_payment)?;
                true
            }
            Some(InStoreScenario::OrderCode) => {
                let env = required("order", "env", &self.order.env)?;
                required("order.env", "userAgent", &env.user_agent)?;
                false
            }
            Some(InStoreScenario::EntryCode) => {
                let env = required("order", "env", &self.order.env)?;
                required("order.env", "userAgent", &env.user_agent)?;
                true
            }
            Some(InStoreScenario::Other(other)) => {
                return Err(FieldError::new(
                    "paymentFactor.inStorePaymentScenario",
                    Problem::Invalid(format!("{other:?} is not PaymentCode, OrderCode or EntryCode")),
                ))
            }
            None => false,
        };
        if needs_store {
            let store = required("order.merchant", "store", &merchant.store)?;
            required("order.merchant.store", "referenceStoreId", &store.reference_store_id)?;
        }

        opt_time("", "paymentExpiryTime", &self.payment_expiry_time)?;
        opt_url("", "paymentNotifyUrl", &self.payment_notify_url)?;
        opt_url("", "paymentRedirectUrl", &self.payment_redirect_url)?;
        self.settlement_strategy.validate_at("settlementStrategy")?;
        opt_text("", "userRegion", &self.user_region, ID_MAX)
    }
}

impl Validate for PayResponse {
    fn validate(&self) -> Result<(), FieldError> {
        result("", "result", &self.result)?;
        opt_text("", "acquirerId", &self.acquirer_id, ID_MAX)?;
        opt_text("", "pspId", &self.psp_id, ID_MAX)?;
        opt_text("", "paymentId", &self.payment_id, ID_MAX)?;
        opt_time("", "paymentTime", &self.payment_time)?;
        opt_amount("", "paymentAmount", &self.payment_amount)?;
        opt_text("", "customerId", &self.customer_id, ID_MAX)?;
        opt_url("", "paymentUrl", &self.payment_url)?;
        if let Some(form) = &self.order_code_form {
            opt_time("orderCodeForm", "expireTime", &form.expire_time)?;
            if let Some(details) = &form.code_details {
                for (i, d) in details.iter().enumerate() {
                    text(&format!("orderCodeForm.codeDetails[{i}]"), "codeValue", &d.code_value, URL_MAX)?;
                }
            }
        }
        Ok(())
    }
}

/// `paymentRequestId` or `paymentId` (each ≤64).
fn payment_ids(request_id: &Option<String>, payment_id: &Option<String>) -> Result<(), FieldError> {
    one_of(request_id, payment_id, &["paymentRequestId", "paymentId"])?;
    opt_text("", "paymentRequestId", request_id, ID_MAX)?;
    opt_text("", "paymentId", payment_id, ID_MAX)
}

impl Validate for InquiryPaymentRequest {
    fn validate(&self) -> Result<(), FieldError> {
        payment_ids(&self.payment_request_id, &self.payment_id)
    }
}

impl Validate for InquiryPaymentResponse {
    fn validate(&self) -> Result<(), FieldError> {
        result("", "result", &self.result)?;
        if let Some(r) = &self.payment_result {
            result("", "paymentResult", r)?;
        }
        opt_text("", "acquirerId", &self.acquirer_id, ID_MAX)?;
        opt_text("", "pspId", &self.psp_id, ID_MAX)?;
        opt_text("", "paymentRequestId", &self.payment_request_id, ID_MAX)?;
        opt_text("", "paymentId", &self.payment_id, ID_MAX)?;
        opt_amount("", "paymentAmount", &self.payment_amount)?;
        opt_time("", "paymentTime", &self.payment_time)?;
        opt_text("", "customerId", &self.customer_id, ID_MAX)?;
        opt_amount("", "settlementAmount", &self.settlement_amount)?;
        self.settlement_quote.validate_at("settlementQuote")?;
        if let Some(txs) = &self.transactions {
            for (i, t) in txs.iter().enumerate() {
                t.validate_at(&format!("transactions[{i}]"))?;
            }
        }
        Ok(())
    }
}

impl Validate for CancelPaymentRequest {
    fn validate(&self) -> Result<(), FieldError> {
        payment_ids(&self.payment_request_id, &self.payment_id)
    }
}

impl Validate for CancelPaymentResponse {
    fn validate(&self) -> Result<(), FieldError> {
        result("", "result", &self.result)?;
        opt_text("", "acquirerId", &self.acquirer_id, ID_MAX)?;
        opt_text("", "pspId", &self.psp_id, ID_MAX)
    }
}

impl Validate for RefundRequest {
    fn validate(&self) -> Result<(), FieldError> {
        text("", "refundRequestId", &self.refund_request_id, ID_MAX)?;
        amount("", "refundAmount", &self.refund_amount)?;
        payment_ids(&self.payment_request_id, &self.payment_id)?;
        opt_text("", "refundReason", &self.refund_reason, TEXT_MAX)
    }
}

impl Validate for RefundResponse {
    fn validate(&self) -> Result<(), FieldError> {
        result("", "result", &self.result)?;
        opt_text("", "acquirerId", &self.acquirer_id, ID_MAX)?;
        opt_text("", "pspId", &self.psp_id, ID_MAX)?;
        opt_text("", "refundId", &self.refund_id, ID_MAX)?;
        opt_time("", "refundTime", &self.refund_time)?;
        opt_amount("", "refundAmount", &self.refund_amount)?;
        opt_amount("", "settlementAmount", &self.settlement_amount)?;
        self.settlement_quote.validate_at("settlementQuote")
    }
}

/// `notifyPayment`: `paymentResult` S or F (never U), `paymentRequestId` and `acquirerId`
/// required; when S also `paymentId` and `pspId` (§10).
impl Validate for NotifyPaymentRequest {
    fn validate(&self) -> Result<(), FieldError> {
        result("", "paymentResult", &self.payment_result)?;
        if self.payment_result.result_status == Status::Unknown {
            return Err(FieldError::new(
                "paymentResult.resultStatus",
                Problem::Invalid("notifyPayment carries only final results (S or F), never U".into()),
            ));
        }
        text("", "paymentRequestId", &self.payment_request_id, ID_MAX)?;
        text("", "acquirerId", required("", "acquirerId", &self.acquirer_id)?, ID_MAX)?;
        if self.payment_result.result_status == Status::Success {
            required("", "paymentId", &self.payment_id)?;
            required("", "pspId", &self.psp_id)?;
        }
        opt_text("", "paymentId", &self.payment_id, ID_MAX)?;
        opt_text("", "pspId", &self.psp_id, ID_MAX)?;
        opt_amount("", "paymentAmount", &self.payment_amount)?;
        opt_time("", "paymentTime", &self.payment_time)?;
        opt_text("", "customerId", &self.customer_id, ID_MAX)?;
        opt_amount("", "settlementAmount", &self.settlement_amount)?;
        self.settlement_quote.validate_at("settlementQuote")
    }
}

impl Validate for NotifyPaymentResponse {
    fn validate(&self) -> Result<(), FieldError> {
        result("", "result", &self.result)
    }
}

impl Validate for UserInitiatedPayRequest {
    fn validate(&self) -> Result<(), FieldError> {
        text("", "codeValue", &self.code_value, 512)?;
        opt_text("", "acquirerId", &self.acquirer_id, ID_MAX)?;
        opt_text("", "pspId", &self.psp_id, ID_MAX)?;
        opt_text("", "customerId", &self.customer_id, ID_MAX)
    }
}

/// `userInitiatedPay` answer: when S, `paymentRequestId`, `order` and an amount
/// (`paymentAmount`, else `amount`) are required, so a payment can be created from it (§11).
impl Validate for UserInitiatedPayResponse {
    fn validate(&self) -> Result<(), FieldError> {
        result("", "result", &self.result)?;
        opt_text("", "codeType", &self.code_type, ID_MAX)?;
        opt_text("", "paymentRequestId", &self.payment_request_id, ID_MAX)?;
        self.order.validate_at("order")?;
        opt_amount("", "amount", &self.amount)?;
        opt_amount("", "paymentAmount", &self.payment_amount)?;
        if self.result.result_status == Status::Success {
            required("", "paymentRequestId", &self.payment_request_id)?;
            required("", "order", &self.order)?;
            if self.effective_amount().is_none() {
                return Err(FieldError::new("", Problem::MissingOneOf(&["paymentAmount", "amount"])));
            }
        }
        opt_url("", "paymentNotifyUrl", &self.payment_notify_url)?;
        opt_url("", "paymentRedirectUrl", &self.payment_redirect_url)?;
        opt_time("", "paymentExpiryTime", &self.payment_expiry_time)?;
        self.settlement_strategy.validate_at("settlementStrategy")
    }
}
