//! Merchant-presented mode in the sandbox, order codes (alipayplus-api.md §5, payment-codes.md
//! §4.1): the `pay` intake and answer for `inStorePaymentScenario = OrderCode` (U
//! `PAYMENT_IN_PROCESS` with an `orderCodeForm`), the order-code image endpoint that
//! `codeDetails` points at, and the companion API a buyer's wallet uses to decode, confirm or
//! decline a scanned code. The rules themselves live in `store/order_codes.rs`.

use std::io::Cursor;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use image::{GrayImage, ImageFormat, Luma};
use plusbox_core::money::Amount;
use plusbox_core::protocol::time::{format_instant, parse_instant};
use plusbox_core::protocol::{FieldError, PayRequest, Problem, WireResult};
use plusbox_core::result_code::ResultCode;
use qrcode::{Color, EcLevel, QrCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::store::{
    validate_url, AppRecord, BuyerDecision, IssuedOrderCode, MerchantCodeKind, OrderCodeInput,
    OrderCodeOutcome, OrderCodeRefusal, PaymentRecord, StoreError,
};
use crate::Shared;

/// Path of the order-code image endpoint, mirroring the Alipay+ sample (§5).
pub const IMAGE_PATH: &str = "/merchant/order/showQrImage.htm";

/// The image sizes of `codeDetails`: display type, `picSize`, pixels per QR module.
const IMAGE_SIZES: [(&str, &str, u32); 3] =
    [("BIGIMAGE", "L", 10), ("MIDDLEIMAGE", "M", 6), ("SMALLIMAGE", "S", 3)];

/// Builds the store input of an order-code `pay` the core validation has passed
/// (`order.env.userAgent` is required there, §5).
pub(crate) fn order_code_input(
    request: PayRequest,
    key_fields: String,
    body: &[u8],
) -> Result<OrderCodeInput, FieldError> {
    let amount = Amount::from_wire(&request.payment_amount)
        .map_err(|e| FieldError::new("paymentAmount.value", Problem::Invalid(e.to_string())))?;
    let user_agent = request
        .order
        .env
        .as_ref()
        .and_then(|env| env.user_agent.clone())
        .filter(|ua| !ua.trim().is_empty())
        .ok_or_else(|| FieldError::new("order.env.userAgent", Problem::Missing))?;
    let expiry = match &request.payment_expiry_time {
        Some(text) => Some(
            parse_instant(text)
                .map_err(|e| FieldError::new("paymentExpiryTime", Problem::Invalid(e.to_string())))?,
        ),
        None => None,
    };
    if let Some(url) = &request.payment_notify_url {
        validate_url(url).map_err(|reason| FieldError::new("paymentNotifyUrl", Problem::Invalid(reason)))?;
    }
    Ok(OrderCodeInput {
        payment_request_id: request.payment_request_id,
        key_fields,
        amount,
        expiry,
        notify_url: request.payment_notify_url,
        user_agent,
        kind: MerchantCodeKind::Order,
        request_body: String::from_utf8_lossy(body).into_owned(),
    })
}

/// Builds the store input of an entry-code `pay` (§6) the core validation has passed: it has
/// `order.merchant.store` and `order.env.userAgent`, which §6 requires.
pub(crate) fn entry_code_input(
    request: PayRequest,
    key_fields: String,
    body: &[u8],
) -> Result<OrderCodeInput, FieldError> {
    if request.order.merchant.as_ref().and_then(|m| m.store.as_ref()).is_none() {
        return Err(FieldError::new("order.merchant.store", Problem::Missing));
    }
    let mut input = order_code_input(request, key_fields, body)?;
    input.kind = MerchantCodeKind::Entry;
    Ok(input)
}

/// The answer to an order-code `pay`, for the gateway to sign and log.
pub(crate) struct OrderCodeAnswer {
    /// `result`.
    pub result: WireResult,
    /// The other body fields (IDs, `paymentAmount`, `orderCodeForm`).
    pub extra: Value,
    /// The payment, for the traffic log.
    pub payment_id: Option<String>,
    /// Traffic-log note.
    pub note: String,
}

/// Runs an order-code `pay` and shapes its answer: U `PAYMENT_IN_PROCESS` with the
/// `orderCodeForm` while the order is open; a repeat after the order ended answers its final
/// result (as every repeated `pay` does, §4.4).
pub(crate) fn pay_order_code(
    shared: &Arc<Shared>,
    app: &AppRecord,
    input: &OrderCodeInput,
    payment_fields: impl Fn(&PaymentRecord, bool) -> Map<String, Value>,
) -> Result<OrderCodeAnswer, StoreError> {
    let outcome = shared.store.pay_order_code(app, input, shared.now())?;
    match outcome {
        OrderCodeOutcome::Refused(code, message) => Ok(OrderCodeAnswer {
            result: WireResult::with_message(code, message),
            extra: json!({"acquirerId": app.acquirer_id}),
            payment_id: None,
            note: "order code refused".into(),
        }),
        OrderCodeOutcome::Issued { payment, code, repeat } => {
            // The worker closes the payment at the order code's expiry and sends its notification.
            shared.changed();
            let paid = payment.paid_at.is_some();
            let mut extra = payment_fields(&payment, paid);
            let result = match payment.state {
                crate::store::PayState::Processing => {
                    match input.kind {
                        MerchantCodeKind::Order => {
                            extra.insert("orderCodeForm".into(), order_code_form(&code));
                        }
                        // §6: the merchant page sends the buyer to the wallet's cashier.
                        MerchantCodeKind::Entry => {
                            extra.insert("paymentUrl".into(), json!(code.code));
                        }
                    }
                    WireResult::from_code(ResultCode::PaymentInProcess)
                }
                _ => payment.payment_result(),
            };
            let note = if repeat {
                "repeat of an earlier order-code pay: answered with the payment's current state".to_string()
            } else if input.kind == MerchantCodeKind::Entry {
                format!("entry code: paymentUrl issued, expires {}", format_instant(code.expires_at))
            } else {
                format!("order code issued, expires {}", format_instant(code.expires_at))
            };
            Ok(OrderCodeAnswer {
                result,
                extra: Value::Object(extra),
                payment_id: Some(payment.payment_id),
                note,
            })
        }
    }
}

/// The `orderCodeForm` of §5: the code as `TEXT` and as three image sizes on this sandbox.
pub fn order_code_form(code: &IssuedOrderCode) -> Value {
    let encoded: String = url::form_urlencoded::byte_serialize(code.code.as_bytes()).collect();
    let base = code.base_url.trim_end_matches('/');
    let mut details = vec![json!({"codeValue": code.code, "displayType": "TEXT"})];
    for (display, size, _) in IMAGE_SIZES {
        details.push(json!({
            "codeValue": format!("{base}{IMAGE_PATH}?code={encoded}&picSize={size}"),
            "displayType": display,
        }));
    }
    json!({"expireTime": format_instant(code.expires_at), "codeDetails": details})
}

/// Query of the image endpoint.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageQuery {
    code: Option<String>,
    pic_size: Option<String>,
}

/// `GET /merchant/order/showQrImage.htm?code=…&picSize=L|M|S`: the order code as a QR PNG.
/// Only codes this sandbox issued are drawn; anything else is a plain-text 4xx naming why.
pub(crate) async fn image(State(shared): State<Arc<Shared>>, Query(query): Query<ImageQuery>) -> Response {
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "code is required: the order code value, URL-encoded")
            .into_response();
    };
    let size = query.pic_size.unwrap_or_else(|| "M".into());
    let Some(&(_, _, module)) = IMAGE_SIZES.iter().find(|(_, s, _)| s.eq_ignore_ascii_case(&size)) else {
        return (StatusCode::BAD_REQUEST, format!("picSize {size:?} is not L, M or S")).into_response();
    };
    let lookup = code.clone();
    match shared.blocking(move |store| store.order_code_exists(&lookup)).await {
        Ok(true) => {}
        Ok(false) => {
            return (StatusCode::NOT_FOUND, "this sandbox issued no such order code").into_response();
        }
        Err(error) => {
            tracing::error!(%error, "order-code image lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "the sandbox store is unavailable; retry")
                .into_response();
        }
    }
    match qr_png(&code, module) {
        Ok(png) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        Err(message) => (StatusCode::UNPROCESSABLE_ENTITY, message).into_response(),
    }
}

/// Draws `text` as a QR code (error correction M, 4-module quiet zone) and encodes it as PNG.
pub fn qr_png(text: &str, module: u32) -> Result<Vec<u8>, String> {
    let qr = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| format!("the code cannot be drawn as a QR code: {e}"))?;
    let width = qr.width();
    let colors = qr.to_colors();
    let quiet = 4usize;
    let side = u32::try_from(width + 2 * quiet).map_err(|_| "QR code too large".to_string())?;
    let module = module.max(1);
    let pixels = side.checked_mul(module).ok_or_else(|| "QR image too large".to_string())?;
    let image = GrayImage::from_fn(pixels, pixels, |x, y| {
        let (mx, my) = ((x / module) as usize, (y / module) as usize);
        let dark = mx >= quiet
            && my >= quiet
            && mx < quiet + width
            && my < quiet + width
            && colors[(my - quiet) * width + (mx - quiet)] == Color::Dark;
        Luma([if dark { 0 } else { 255 }])
    });
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).map_err(|e| format!("PNG encoding failed: {e}"))?;
    Ok(out.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Companion API: the buyer's wallet side of an order code
// ---------------------------------------------------------------------------------------------

/// An order-code refusal or a bad request at the app edge: `{code, message}`.
fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn boxed(status: StatusCode, code: &str, message: &str) -> Box<Response> {
    Box::new(refusal(status, code, message))
}

fn refused(refusal_: OrderCodeRefusal) -> Response {
    let status = match refusal_.code {
        "INVALID_CODE" => StatusCode::NOT_FOUND,
        "PIN_REQUIRED" => StatusCode::BAD_REQUEST,
        // A private order code the issuing ACQP did not decode (alipayplus-api.md §11).
        "ACQUIRER_TIMEOUT" => StatusCode::GATEWAY_TIMEOUT,
        code if code.starts_with("ACQUIRER_") => StatusCode::BAD_GATEWAY,
        // Expired, cancelled, paid: the order is gone for good.
        _ => StatusCode::GONE,
    };
    refusal(status, refusal_.code, &refusal_.message)
}

fn store_failure(error: StoreError) -> Response {
    match error {
        StoreError::NotFound(message) => refusal(StatusCode::NOT_FOUND, "NOT_FOUND", &message),
        StoreError::Invalid(message) => refusal(StatusCode::CONFLICT, "INVALID_STATE", &message),
        other => {
            tracing::error!(error = %other, "order-code companion call failed");
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "STORE_UNAVAILABLE",
                "the sandbox store is unavailable; retry",
            )
        }
    }
}

/// Reads `{code, account[, pin]}` from a companion request body.
fn code_request(body: &Bytes) -> Result<(String, String, Option<String>), Box<Response>> {
    let value: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            refusal(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("the body is not JSON: {e}"))
        })?
    };
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::trim).map(str::to_owned);
    let code = text("code").filter(|c| !c.is_empty()).ok_or_else(|| {
        boxed(StatusCode::BAD_REQUEST, "BAD_REQUEST", "code is required: the scanned order-code text")
    })?;
    if code.len() > plusbox_core::codes::mpm::MAX_CODE_VALUE {
        return Err(boxed(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!(
                "code is {} characters; at most {} are accepted",
                code.len(),
                plusbox_core::codes::mpm::MAX_CODE_VALUE
            ),
        ));
    }
    let account = text("account").filter(|a| !a.is_empty()).ok_or_else(|| {
        refusal(StatusCode::BAD_REQUEST, "BAD_REQUEST", "account is required: the buyer paying")
    })?;
    Ok((code, account, text("pin")))
}

/// `POST /app/v1/order-codes/decode` `{code, account}`: the order behind a scanned code
/// (merchant, store, amount, expiry, whether a PIN is needed), or why it cannot be paid. An
/// order code is looked up; a private order code is decoded by its ACQP with `userInitiatedPay`
/// (`crate::private_code`).
pub(crate) async fn decode(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let scope = match crate::companion::authorized_scope(&shared, &headers).await {
        Ok(scope) => scope,
        Err(denied) => return *denied,
    };
    let (code, account, _) = match code_request(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    if let Err(denied) = crate::companion::acts_as(&scope, &account) {
        return *denied;
    }
    let decoded = crate::private_code::decode_scanned(
        Arc::clone(&shared.store),
        Arc::clone(&shared.config.clock),
        code,
        account,
    )
    .await;
    match decoded {
        Ok(Ok(view)) => {
            // Decoding may have closed an expired order (and queued its notification).
            shared.changed();
            Json(view).into_response()
        }
        Ok(Err(refusal_)) => {
            shared.changed();
            refused(refusal_)
        }
        Err(error) => store_failure(error),
    }
}

/// `GET /app/v1/merchant-codes`: what a wallet needs to identify a scanned merchant code
/// (payment-codes.md §4.5): the order-code domain and every registered private-order-code domain
/// (`{orderCodeDomain, privateOrderCodeDomains: [{domain, digits}]}`).
pub(crate) async fn merchant_codes(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(denied) = crate::companion::authorized_scope(&shared, &headers).await {
        return *denied;
    }
    match shared.blocking(|store| store.all_private_domains()).await {
        Ok(domains) => Json(json!({
            "orderCodeDomain": plusbox_core::codes::mpm::DEFAULT_ORDER_CODE_DOMAIN,
            "privateOrderCodeDomains": domains,
        }))
        .into_response(),
        Err(error) => store_failure(error),
    }
}

/// `POST /app/v1/order-codes/confirm` `{code, account, pin?}`.
pub(crate) async fn confirm(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    answer(shared, headers, body, true).await
}

/// `POST /app/v1/order-codes/decline` `{code, account}`.
pub(crate) async fn decline(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    answer(shared, headers, body, false).await
}

async fn answer(shared: Arc<Shared>, headers: HeaderMap, body: Bytes, confirm: bool) -> Response {
    let scope = match crate::companion::authorized_scope(&shared, &headers).await {
        Ok(scope) => scope,
        Err(denied) => return *denied,
    };
    let (code, account, pin) = match code_request(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    if let Err(denied) = crate::companion::acts_as(&scope, &account) {
        return *denied;
    }
    let now = shared.now();
    let outcome = shared
        .blocking(move |store| {
            let decision =
                if confirm { BuyerDecision::Confirm(pin.as_deref()) } else { BuyerDecision::Decline };
            store.answer_order_code(&code, &account, decision, now)
        })
        .await;
    shared.changed();
    match outcome {
        Ok(Ok(payment)) => Json(json!({
            "paymentId": payment.payment_id,
            "paymentRequestId": payment.payment_request_id,
            "paymentResult": payment.payment_result(),
        }))
        .into_response(),
        Ok(Err(refusal_)) => refused(refusal_),
        Err(error) => store_failure(error),
    }
}
