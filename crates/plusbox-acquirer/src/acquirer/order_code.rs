//! The reference ACQP's order-code sale (merchant-presented mode, alipayplus-api.md §5, §11,
//! §12): `pay` with `OrderCode` and `order.env.userAgent`; the order code from `orderCodeForm`
//! goes to the POS display; then the sale is followed to its end: `inquiryPayment` on a steady
//! grid, 30–60 inquiries within the 180 s window (the older private-order-code guide's rule,
//! which Plusbox applies to every merchant-presented code), a notification ending it early, and
//! `cancelPayment` (retried until S) when the window ends still U. The window is also the order
//! code's `paymentExpiryTime`, so the POS and Alipay+ retire the code together.
//!
//! Faults that break these rules: `omit-user-agent`, `order-code-no-cancel`,
//! `order-code-poll-too-slow` (see [`crate::Fault`]).

use plusbox_core::result_code::Status;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use super::{check_id, expiry_guard, new_id, parse_amount, Acquirer};
use crate::client::{read_result, wire_time, Api, Outcome};
use crate::config::ms_to_duration;
use crate::error::AcquirerError;
use crate::faults::Fault;
use crate::store::{NewPayment, OrderState, PaymentRecord, Source};

/// An order-code sale asked for by the POS.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderCodeRequest {
    /// Amount in text form, `"12.50 USD"`.
    pub amount: String,
    /// Our idempotency key; generated when absent.
    #[serde(default)]
    pub payment_request_id: Option<String>,
    /// `orderDescription`; the configured default when absent.
    #[serde(default)]
    pub description: Option<String>,
}

/// One rendering of the order code from `orderCodeForm.codeDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeImage {
    /// `BIGIMAGE`, `MIDDLEIMAGE` or `SMALLIMAGE`.
    pub display_type: String,
    /// The image URL.
    pub url: String,
}

/// The order code the POS displays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCodeShown {
    /// The code value (the `TEXT` entry): what the QR holds.
    pub code_value: String,
    /// `expireTime`.
    pub expire_time: Option<String>,
    /// The image URLs Alipay+ offered.
    pub images: Vec<CodeImage>,
}

impl OrderCodeShown {
    /// Reads an `orderCodeForm`; `None` without a `TEXT` code value.
    pub fn from_form(form: &Value) -> Option<OrderCodeShown> {
        let details = form.get("codeDetails")?.as_array()?;
        let text = |d: &Value, k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
        let code_value = details
            .iter()
            .find(|d| d.get("displayType").and_then(Value::as_str) == Some("TEXT"))
            .and_then(|d| text(d, "codeValue"))
            .filter(|c| !c.is_empty())?;
        let images = details
            .iter()
            .filter_map(|d| {
                let kind = text(d, "displayType")?;
                (kind != "TEXT").then_some(CodeImage { display_type: kind, url: text(d, "codeValue")? })
            })
            .collect();
        Some(OrderCodeShown {
            code_value,
            expire_time: form.get("expireTime").and_then(Value::as_str).map(str::to_owned),
            images,
        })
    }
}

/// The answer to starting an order-code sale: the order as it stands and the code to display
/// (absent when `pay` ended the sale at once, e.g. refused).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCodeSale {
    /// The order.
    #[serde(flatten)]
    pub payment: PaymentRecord,
    /// The code to display.
    pub order_code: Option<OrderCodeShown>,
}

/// A started sale and the task following it to its end (`None` when `pay` already ended it).
pub type StartedSale = (OrderCodeSale, Option<tokio::task::JoinHandle<Result<PaymentRecord, AcquirerError>>>);

impl Acquirer {
    /// Starts an order-code sale: `pay` (retried with the same `paymentRequestId` on timeouts
    /// and U without a code), then — once an order code is issued — a background task follows
    /// the sale to its end. Answers at once with the code to display.
    pub async fn start_order_code(&self, req: OrderCodeRequest) -> Result<StartedSale, AcquirerError> {
        let amount = parse_amount(&req.amount)?;
        if let Some(description) = &req.description {
            if description.chars().count() > 256 {
                return Err(AcquirerError::BadRequest("description must be at most 256 characters".into()));
            }
        }
        let created = self.now();
        let prid = match &req.payment_request_id {
            Some(id) => {
                check_id("paymentRequestId", id)?;
                if let Some(existing) = self.inner.store.payment(id)? {
                    if existing.amount_minor == amount.value && existing.currency == amount.currency.code() {
                        // The same sale again: its state and code, no second pay.
                        let order_code = (!existing.code.is_empty()).then(|| OrderCodeShown {
                            code_value: existing.code.clone(),
                            expire_time: Some(existing.expires_at.clone()),
                            images: Vec::new(),
                        });
                        return Ok((OrderCodeSale { payment: existing, order_code }, None));
                    }
                    return Err(AcquirerError::Refused {
                        code: "REPEAT_REQ_INCONSISTENT",
                        message: format!("paymentRequestId {id:?} was used for a sale with another amount"),
                    });
                }
                id.clone()
            }
            None => new_id("pay", created),
        };
        let timing = self.inner.config.timing.clone();
        // Whole seconds, rounded up, as for UPM.
        let mut expires = created + ms_to_duration(timing.order_code_window_ms);
        if expires.nanosecond() > 0 {
            expires = expires.replace_nanosecond(0).unwrap_or(expires) + Duration::SECOND;
        }
        // The code column holds the order code once Alipay+ issued it.
        self.inner.store.insert_payment(&NewPayment {
            payment_request_id: &prid,
            code: "",
            amount,
            created_at: created,
            expires_at: expires,
        })?;
        let body = self.order_code_body(&prid, req.description.as_deref(), amount, expires);
        let give_up_at = expires - expiry_guard(&timing);
        let mut shown = None;
        for attempt in 0..timing.pay_attempts {
            if attempt > 0 {
                self.sleep_until((self.now() + ms_to_duration(timing.retry_interval_ms)).min(give_up_at))
                    .await;
                if self.is_final(&prid)? || self.now() >= give_up_at {
                    break;
                }
            }
            if let Outcome::Answered(answer) =
                self.call(Api::Pay, &body, timing.pay_timeout_ms, &prid, &prid).await
            {
                let result = (answer.status, answer.code.as_str(), answer.message.as_str());
                self.apply_answer(&prid, &answer, result, Source::Pay)?;
                if answer.status.is_final() {
                    break;
                }
                if let Some(code) = answer.body.get("orderCodeForm").and_then(OrderCodeShown::from_form) {
                    self.inner.store.set_code(&prid, &code.code_value, self.now())?;
                    shown = Some(code);
                    break;
                }
            }
        }
        let payment = self.payment(&prid)?;
        if payment.state.is_final() {
            return Ok((OrderCodeSale { payment, order_code: shown }, None));
        }
        // Shown or not (no answer at all is as unknown as U), the sale is followed to its end.
        let follower = self.clone();
        let follow_prid = prid.clone();
        let handle = tokio::spawn(async move {
            follower.follow_order_code(&follow_prid, give_up_at).await?;
            follower.payment(&follow_prid)
        });
        Ok((OrderCodeSale { payment, order_code: shown }, Some(handle)))
    }

    /// Runs an order-code sale to its end (`plusbox pos order-code`): start, then wait for the
    /// follow-up. `on_code` is called once with the code to display.
    pub async fn order_code(
        &self,
        req: OrderCodeRequest,
        on_code: impl FnOnce(&OrderCodeSale),
    ) -> Result<PaymentRecord, AcquirerError> {
        let (sale, follow) = self.start_order_code(req).await?;
        on_code(&sale);
        match follow {
            Some(handle) => handle
                .await
                .map_err(|e| AcquirerError::Network(format!("the order-code follow-up stopped: {e}")))?,
            None => Ok(sale.payment),
        }
    }

    fn order_code_body(
        &self,
        prid: &str,
        description: Option<&str>,
        amount: plusbox_core::money::Amount,
        expires: OffsetDateTime,
    ) -> Value {
        let cfg = &self.inner.config;
        let m = &cfg.merchant;
        let mut env =
            json!({"storeTerminalId": m.terminal_id, "storeTerminalRequestTime": wire_time(self.now())});
        if !self.has(Fault::OmitUserAgent) {
            // §5: required for order codes; the POS terminal's own agent string.
            env["userAgent"] =
                json!(format!("PlusboxPOS/{} (reference acquirer)", env!("CARGO_PKG_VERSION")));
        }
        json!({
            "paymentRequestId": prid,
            "paymentAmount": self.amount_json(amount),
            "paymentMethod": {"paymentMethodType": "CONNECT_WALLET"},
            "paymentFactor": {"isInStorePayment": "true", "inStorePaymentScenario": "OrderCode"},
            "paymentExpiryTime": wire_time(expires),
            "paymentNotifyUrl": cfg.notify_url,
            "order": {
                "referenceOrderId": prid.replacen("pay_", "ord_", 1),
                "orderDescription": description.map_or_else(|| m.order_description.clone(), str::to_owned),
                "orderAmount": self.amount_json(amount),
                "merchant": {
                    "referenceMerchantId": m.reference_merchant_id,
                    "merchantName": m.merchant_name,
                    "merchantMCC": m.merchant_mcc,
                    "store": {"referenceStoreId": m.reference_store_id, "storeName": m.store_name, "storeMCC": m.store_mcc},
                },
                "env": env,
            },
        })
    }

    /// Inquires at the order-code pace until the sale is final or the window ends, then
    /// cancels (until S) if it is still open.
    pub(super) async fn follow_order_code(
        &self,
        prid: &str,
        give_up_at: OffsetDateTime,
    ) -> Result<(), AcquirerError> {
        let timing = self.inner.config.timing.clone();
        let interval = if self.has(Fault::OrderCodePollTooSlow) {
            // The broken pace: 10.5 s where the rule asks for 3–6 s (17 inquiries in 180 s).
            ms_to_duration(timing.order_code_poll_interval_ms.saturating_mul(3))
        } else {
            ms_to_duration(timing.order_code_poll_interval_ms)
        };
        let body = json!({"paymentRequestId": prid});
        // Inquiries on a fixed grid from the start, so the time each call takes does not stretch
        // the pace (51 inquiries in 180 s stay 51 under load); a slot missed is skipped, not
        // caught up in a burst.
        let start = self.now();
        let mut slot: i32 = 0;
        loop {
            if self.is_final(prid)? || self.now() >= give_up_at {
                break;
            }
            let mut next = start + interval * slot.saturating_add(1);
            while next <= self.now() {
                slot = slot.saturating_add(1);
                next = start + interval * slot.saturating_add(1);
            }
            slot = slot.saturating_add(1);
            self.sleep_until(next.min(give_up_at)).await;
            if self.is_final(prid)? || self.now() >= give_up_at {
                break;
            }
            if self.has(Fault::NoInquiry) {
                continue;
            }
            match self.call(Api::InquiryPayment, &body, timing.inquiry_timeout_ms, prid, prid).await {
                Outcome::Answered(answer) if answer.status == Status::Success => {
                    if let Some((status, code, message)) = read_result(answer.body.get("paymentResult")) {
                        self.apply_answer(prid, &answer, (status, &code, &message), Source::Inquiry)?;
                    }
                }
                Outcome::Answered(answer)
                    if answer.status == Status::Failure && answer.code != "ORDER_NOT_EXIST" =>
                {
                    // The inquiry itself was refused: more of the same will not help; cancel.
                    self.inner.store.note_pending(prid, &answer.code, &answer.message, self.now())?;
                    break;
                }
                // U, ORDER_NOT_EXIST, timeouts: inquire again at the same pace.
                _ => {}
            }
        }
        if self.is_final(prid)? {
            return Ok(());
        }
        if self.has(Fault::OrderCodeNoCancel) {
            // The broken ending: the code disappears from the display, Alipay+ is never told.
            self.inner.store.finalize(
                prid,
                OrderState::Failed,
                Source::Local,
                "NO_FINAL_RESULT",
                "order code expired; dropped without cancelling",
                self.now(),
            )?;
            return Ok(());
        }
        self.cancel_until_done(prid).await.map(|_| ())
    }
}
