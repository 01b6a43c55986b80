//! The wallet's web view for entry codes (alipayplus-api.md §6): the merchant page an entry code
//! points at opens in a window of its own with the wallet's User-Agent (`AlipayConnect`), so the
//! acquirer's page knows an Alipay+ wallet opened it, takes the amount and sends the buyer on to
//! the sandbox's cashier, where the buyer confirms.
//!
//! The window has no capability: the merchant's page and the cashier cannot call any command.
//! A merchant page over HTTPS with a certificate the platform does not trust (the reference
//! acquirer's is self-signed) opens only when the app trusts that certificate for that address:
//! the in-process acquirer's own, or one the person trusted after comparing its SHA-256
//! fingerprint with the acquirer's (WebKitGTK; on Android and iOS the phone's trust store
//! decides).

use std::sync::Arc;
use std::time::Duration;

use plusbox_companion::error::CommandError;
use serde::Serialize;
use tauri::{AppHandle, Manager as _, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::modes::Shell;

/// The label of the merchant-page window (not in any capability: no IPC).
pub const LABEL: &str = "merchant-page";

/// The wallet web view's User-Agent for an Alipay+ wallet persona (§6 Plusbox decision), the
/// same the guided runs send.
pub const WALLET_USER_AGENT: &str =
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 AlipayConnect/1.0 (Plusbox companion)";

/// How long the first load may take before the command answers "opened" anyway.
const FIRST_LOAD: Duration = Duration::from_secs(15);

/// How the merchant page's first load went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantPage {
    /// The page asked for.
    pub url: String,
    /// `opened` (loaded, or still loading), `untrusted` (its certificate is not trusted for
    /// this address: compare `fingerprint` and call again with `trustFingerprint`), or
    /// `failed` (see `error`).
    pub state: &'static str,
    /// `host:port` of the page.
    pub authority: String,
    /// The SHA-256 fingerprint of the certificate the page presented, when untrusted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// What went wrong, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Checks an entry code's URL: absolute `https://` with a host (an entry code is HTTPS only,
/// §6). Returns the URL and its `host:port`.
pub fn parse_page_url(url: &str) -> Result<(tauri::Url, String), CommandError> {
    let bad = |why: String| CommandError::bad_request(why);
    let parsed = tauri::Url::parse(url.trim()).map_err(|e| bad(format!("{url:?} is not a URL: {e}")))?;
    if parsed.scheme() != "https" {
        return Err(bad(format!(
            "{url:?} is not an https:// URL: an entry code's merchant page is HTTPS only (alipayplus-api.md §6)"
        )));
    }
    let host =
        parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad(format!("{url:?} has no host")))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let authority = format!("{host}:{port}");
    Ok((parsed, authority))
}

/// Opens (or re-points) the merchant-page window at `url` and waits for its first load.
pub async fn open<R: Runtime>(
    app: &AppHandle<R>,
    shell: &Arc<Shell>,
    url: &str,
    trust_fingerprint: Option<&str>,
) -> Result<MerchantPage, CommandError> {
    let (parsed, authority) = parse_page_url(url)?;
    if let Some(fingerprint) = trust_fingerprint.map(str::trim).filter(|f| !f.is_empty()) {
        if !is_fingerprint(fingerprint) {
            return Err(CommandError::bad_request(format!(
                "{fingerprint:?} is not a SHA-256 fingerprint (32 hex pairs joined by ':')"
            )));
        }
        shell.trust_page(&authority, fingerprint);
    }
    let (done, outcome) = tokio::sync::oneshot::channel::<LoadOutcome>();
    let done = Arc::new(std::sync::Mutex::new(Some(done)));
    if let Some(window) = app.get_webview_window(LABEL) {
        // One merchant page at a time: a new scan replaces the page in the open window.
        let _ = window.close();
        // The close completes on the event loop; wait until the label is free.
        for _ in 0..50 {
            if app.get_webview_window(LABEL).is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let builder = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::External(parsed.clone()))
        .user_agent(WALLET_USER_AGENT)
        .title(format!("Merchant page — {authority}"));
    #[cfg(desktop)]
    let builder = builder.inner_size(400.0, 760.0).min_inner_size(320.0, 480.0);
    let window = builder
        .build()
        .map_err(|e| CommandError::internal(format!("cannot open the merchant page's window: {e}")))?;
    #[cfg(target_os = "linux")]
    webkit::watch(&window, Arc::clone(shell), authority.clone(), Arc::clone(&done))?;
    #[cfg(not(target_os = "linux"))]
    {
        // The platform's web view and trust store decide; nothing to wait for here.
        let _ = (&window, &done);
        return Ok(MerchantPage {
            url: parsed.to_string(),
            state: "opened",
            authority,
            fingerprint: None,
            error: None,
        });
    }
    #[cfg(target_os = "linux")]
    {
        let result = tokio::time::timeout(FIRST_LOAD, outcome).await;
        let (state, fingerprint, error) = match result {
            Ok(Ok(LoadOutcome::Loaded)) | Err(_) => ("opened", None, None),
            Ok(Ok(LoadOutcome::Untrusted(fingerprint))) => {
                // Nothing to show there: the Scan screen shows the fingerprint to compare.
                let _ = window.close();
                ("untrusted", Some(fingerprint), None)
            }
            Ok(Ok(LoadOutcome::Failed(error))) => ("failed", None, Some(error)),
            Ok(Err(_)) => ("failed", None, Some("the merchant page's window closed before it loaded".into())),
        };
        Ok(MerchantPage { url: parsed.to_string(), state, authority, fingerprint, error })
    }
}

/// How the first load of the window ended.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
enum LoadOutcome {
    Loaded,
    Untrusted(String),
    Failed(String),
}

type Done = Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Sender<LoadOutcome>>>>;

/// 32 upper- or lower-case hex pairs joined by `:`.
fn is_fingerprint(text: &str) -> bool {
    let pairs: Vec<&str> = text.split(':').collect();
    pairs.len() == 32 && pairs.iter().all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(target_os = "linux")]
mod webkit {
    use std::sync::Arc;

    use plusbox_companion::error::CommandError;
    use webkit2gtk::gio::prelude::TlsCertificateExt as _;
    use webkit2gtk::{
        HardwareAccelerationPolicy, LoadEvent, SettingsExt as _, WebContextExt as _, WebViewExt as _,
    };

    use super::{Done, LoadOutcome};
    use crate::modes::Shell;

    fn finish(done: &Done, outcome: LoadOutcome) {
        if let Some(sender) = done.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = sender.send(outcome);
        }
    }

    /// A certificate error on the page's own address: trusted → allow it for that host and
    /// load again; untrusted → the fingerprint to the caller, which closes the window.
    pub(super) fn watch<R: tauri::Runtime>(
        window: &tauri::WebviewWindow<R>,
        shell: Arc<Shell>,
        authority: String,
        done: Done,
    ) -> Result<(), CommandError> {
        let on_tls = Arc::clone(&done);
        window
            .with_webview(move |webview| {
                let view = webview.inner();
                // As the main window (lib.rs): no GPU compositing for a form page.
                if let Some(settings) = view.settings() {
                    settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
                }
                let loaded = Arc::clone(&done);
                view.connect_load_changed(move |_, event| {
                    if event == LoadEvent::Finished {
                        finish(&loaded, LoadOutcome::Loaded);
                    }
                });
                let failed = Arc::clone(&done);
                view.connect_load_failed(move |_, _, uri, error| {
                    finish(&failed, LoadOutcome::Failed(format!("{uri}: {error}")));
                    false
                });
                view.connect_load_failed_with_tls_errors(move |view, uri, certificate, _flags| {
                    let pem = certificate.certificate_pem().map(|p| p.to_string()).unwrap_or_default();
                    let Some(fingerprint) = plusbox_sandbox::tls::fingerprint_of_pem(pem.as_bytes()) else {
                        finish(&on_tls, LoadOutcome::Failed(format!("{uri}: an unreadable certificate")));
                        return false;
                    };
                    let host = authority.rsplit_once(':').map_or(authority.as_str(), |(h, _)| h);
                    if shell.trusts_page(&authority, &fingerprint) {
                        if let Some(context) = view.context() {
                            context.allow_tls_certificate_for_host(certificate, host);
                            view.load_uri(uri);
                            return true;
                        }
                    }
                    finish(&on_tls, LoadOutcome::Untrusted(fingerprint));
                    true
                });
            })
            .map_err(|e| CommandError::internal(format!("cannot watch the merchant page: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plusbox_companion::error::ErrorCode;

    #[test]
    fn only_an_https_url_with_a_host_is_a_merchant_page() {
        let (url, authority) =
            parse_page_url("https://127.0.0.1:8443/entry?m=1").unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(url.path(), "/entry");
        assert_eq!(authority, "127.0.0.1:8443");
        let (_, authority) =
            parse_page_url("https://shop.example/entry").unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(authority, "shop.example:443");
        for bad in ["http://127.0.0.1/entry", "javascript:alert(1)", "file:///etc/passwd", "entry", ""] {
            let Err(error) = parse_page_url(bad) else { panic!("{bad:?} was taken for a merchant page") };
            assert_eq!(error.code, ErrorCode::BadRequest, "{bad}");
        }
    }

    #[test]
    fn a_fingerprint_is_32_hex_pairs() {
        let good = ["AB"; 32].join(":");
        assert!(is_fingerprint(&good));
        assert!(is_fingerprint(&good.to_lowercase()));
        assert!(!is_fingerprint(&["AB"; 31].join(":")));
        assert!(!is_fingerprint(&["ZZ"; 32].join(":")));
        assert!(!is_fingerprint("AB:CD"));
    }
}
