//! The acquirer's errors. At the HTTP edge each becomes `{code, message}` JSON with a 4xx status;
//! nothing from outside the process can make the acquirer panic or answer 500 for bad input.

/// Everything that can go wrong inside the acquirer.
#[derive(Debug, thiserror::Error)]
pub enum AcquirerError {
    /// The configuration file is missing, unreadable or inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// The order table could not be read or written.
    #[error("order table: {0}")]
    Store(String),
    /// A key operation failed.
    #[error("signing: {0}")]
    Signing(String),
    /// No payment or refund with that ID.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (bad amount, missing field).
    #[error("{0}")]
    BadRequest(String),
    /// A business rule the acquirer enforces before calling the gateway (refund over the paid
    /// amount, cancel after the window, refund of an unpaid order).
    #[error("{message}")]
    Refused {
        /// Stable machine-readable code, e.g. `REFUND_AMOUNT_EXCEED`.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// Alipay+ refused a request with a final F the merchant must act on (e.g. a cancel after the
    /// window: `CANCEL_WINDOW_EXCEED`, refund instead). The code is Alipay+'s `resultCode`.
    #[error("Alipay+ refused: {code}: {message}")]
    GatewayRefused {
        /// Alipay+'s `resultCode`.
        code: String,
        /// Alipay+'s `resultMessage`.
        message: String,
    },
    /// Could not start the HTTP client or server.
    #[error("network: {0}")]
    Network(String),
}

impl AcquirerError {
    /// Stable code for `{code, message}` answers.
    pub fn code(&self) -> &str {
        match self {
            AcquirerError::Config(_) => "CONFIG",
            AcquirerError::Store(_) => "STORE",
            AcquirerError::Signing(_) => "SIGNING",
            AcquirerError::NotFound(_) => "NOT_FOUND",
            AcquirerError::BadRequest(_) => "BAD_REQUEST",
            AcquirerError::Refused { code, .. } => code,
            AcquirerError::GatewayRefused { code, .. } => code,
            AcquirerError::Network(_) => "NETWORK",
        }
    }

    /// HTTP status for the POS-driver API.
    pub fn http_status(&self) -> u16 {
        match self {
            AcquirerError::NotFound(_) => 404,
            AcquirerError::BadRequest(_) => 400,
            AcquirerError::Refused { .. } | AcquirerError::GatewayRefused { .. } => 409,
            // Internal trouble is still reported as JSON; 503 says "this acquirer cannot serve now".
            AcquirerError::Config(_)
            | AcquirerError::Store(_)
            | AcquirerError::Signing(_)
            | AcquirerError::Network(_) => 503,
        }
    }
}

impl From<rusqlite::Error> for AcquirerError {
    fn from(e: rusqlite::Error) -> Self {
        AcquirerError::Store(e.to_string())
    }
}

impl From<plusbox_core::signing::SigningError> for AcquirerError {
    fn from(e: plusbox_core::signing::SigningError) -> Self {
        AcquirerError::Signing(e.to_string())
    }
}
