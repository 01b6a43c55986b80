//! The companion UI (`ui/`, Svelte + Vite), built by this crate's build script and embedded, and
//! an axum router that serves it: `/` and `/index.html` (no-cache), the hashed `/assets/…` (cached
//! for a year, immutable), the other files of the build, each with its content type, a strict
//! Content-Security-Policy and `nosniff`. The UI routes by the URL fragment (`#/pay`), so `/` is
//! the only document; a few screen paths also answer with it for people who type them.
//!
//! The TSP dashboard is the build's second document (`ui/dashboard.html` → `/dashboard.html`),
//! answered at `/dashboard` and `/dashboard/` under the same headers; its API
//! (`/dashboard/api/…`) is the sandbox's.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

mod files {
    include!(concat!(env!("OUT_DIR"), "/ui_files.rs"));
}

/// The Content-Security-Policy of every UI response: scripts, styles and connections only from
/// this origin; images also from `data:`/`blob:` (QR codes, photos); camera streams as `blob:`.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
media-src 'self' blob: mediastream:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Screen paths that answer with the app's document (the app itself routes by fragment).
pub const SCREEN_PATHS: &[&str] = &["/wallet", "/pay", "/scan", "/history", "/settings", "/pair"];

/// The embedded files: (path, content type, bytes).
pub fn files() -> &'static [(&'static str, &'static str, &'static [u8])] {
    files::FILES
}

/// The embedded file at `path`, if any.
pub fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    files::FILES.iter().find(|(p, _, _)| *p == path).map(|(_, mime, bytes)| (*mime, *bytes))
}

/// The dashboard's document in the build.
pub const DASHBOARD_DOCUMENT: &str = "/dashboard.html";

/// Paths that answer with the dashboard's document.
pub const DASHBOARD_PATHS: &[&str] = &["/dashboard", "/dashboard/", DASHBOARD_DOCUMENT];

fn respond(path: &'static str) -> Response {
    let Some((mime, bytes)) = file(path) else {
        let message = if path == DASHBOARD_DOCUMENT {
            "this build of the UI has no dashboard (ui/dashboard.html was not built); rebuild plusbox with the dashboard entry"
        } else {
            "the companion UI build has no such file"
        };
        let mut response = (StatusCode::NOT_FOUND, message).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return response;
    };
    let cache = if path.starts_with("/assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Serves the UI. No fallback: every other path stays with the router it is merged into (the
/// sandbox's gateway).
pub fn router() -> Router {
    let mut router = Router::new()
        .route("/", get(|| async { respond("/index.html") }))
        .route("/index.html", get(|| async { respond("/index.html") }));
    for path in SCREEN_PATHS {
        router = router.route(path, get(|| async { respond("/index.html") }));
    }
    for path in DASHBOARD_PATHS {
        router = router.route(path, get(|| async { respond(DASHBOARD_DOCUMENT) }));
    }
    for (path, _, _) in files::FILES {
        if *path != "/index.html" && *path != DASHBOARD_DOCUMENT {
            router = router.route(path, get(move || async move { respond(path) }));
        }
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without an icon link a browser asks for `/favicon.ico` on every visit; no route answers it,
    /// so it fell to the gateway, was answered METHOD_NOT_SUPPORTED and counted in the traffic
    /// log and the dashboard's success rate as an Alipay+ call.
    #[test]
    fn both_documents_name_an_icon_that_the_build_serves() {
        for document in ["/index.html", DASHBOARD_DOCUMENT] {
            let (_, bytes) = file(document).unwrap_or(("", b""));
            assert!(
                String::from_utf8_lossy(bytes).contains(r#"<link rel="icon" href="/favicon.svg""#),
                "{document} names no icon"
            );
        }
        let (mime, bytes) = file("/favicon.svg").unwrap_or(("", b""));
        assert_eq!(mime, "image/svg+xml");
        assert!(String::from_utf8_lossy(bytes).starts_with("<svg"));
    }

    #[test]
    fn the_build_is_embedded_with_an_index_and_hashed_assets() {
        let (mime, bytes) = file("/index.html").unwrap_or(("", b""));
        assert_eq!(mime, "text/html; charset=utf-8");
        assert!(String::from_utf8_lossy(bytes).contains("<script"));
        assert!(files()
            .iter()
            .any(|(p, m, _)| p.starts_with("/assets/") && m.starts_with("text/javascript")));
    }
}
