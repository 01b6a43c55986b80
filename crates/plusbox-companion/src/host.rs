//! What a companion command needs from whatever runs it.
//!
//! A command runs on behalf of one client — a browser tab talking to `plusbox serve`, a Tauri
//! window, a test — and needs only this from its surroundings: where the sandbox is, the
//! client's device token (and a place to keep a new one), whether the client sits on the
//! sandbox's own machine, a data directory, and a way to send live events. The browser host
//! (`/rpc`) keeps the token in a cookie; a Tauri host would keep it in the app's data dir; the
//! test host keeps it in memory. Commands are generic over [`Host`], so the same body runs under
//! each without knowing which.

use std::path::PathBuf;

use plusbox_core::secret::SecretString;

use crate::client::CompanionClient;
use crate::commands::CompanionEvent;
use crate::runs::Runs;

/// Only `Clone` is required. `Send`/`Sync`/`'static` are deliberately not: a host may hold
/// single-threaded state (a webview handle, an `Rc`), and a command does not need to cross
/// threads to run. The `/rpc` router, which does run commands on a multi-threaded server,
/// states those bounds itself — they belong to that transport, not to the commands.
pub trait Host: Clone {
    /// Base URL of the sandbox (e.g. `http://127.0.0.1:8787`); the companion API is under
    /// `/app/v1` there.
    fn sandbox_url(&self) -> String;

    /// The HTTP client to reach it with (shared, so connections are pooled).
    fn http(&self) -> reqwest::Client;

    /// This client's device token, if it has paired.
    fn device_token(&self) -> Option<SecretString>;

    /// Keeps a new device token (after pairing) or forgets it (`None`, after unpairing).
    fn store_device_token(&self, token: Option<SecretString>);

    /// Whether the client runs on the machine that runs the sandbox (decided from the TCP peer
    /// address by the transport, never from anything the client says).
    fn on_loopback(&self) -> bool;

    /// Whether the sandbox is reached over HTTPS.
    fn tls(&self) -> bool {
        self.sandbox_url().starts_with("https://")
    }

    /// A directory for the companion's own files, if the host has one.
    fn data_dir(&self) -> Option<PathBuf>;

    /// Sends a live event to the client (pending list, payment state changes).
    fn emit(&self, event: CompanionEvent);

    /// Whether this host keeps a device key in its data directory and signs its uploads (the
    /// app, a `--device-dir`); a browser's host does not (its runs are recorded by the sandbox).
    fn signs_uploads(&self) -> bool {
        false
    }

    /// Where a signing host keeps a new device key: an owner-only file unless the host says
    /// otherwise (the app asks for the platform keystore).
    fn key_storage(&self) -> crate::keystore::KeyStorage {
        crate::keystore::KeyStorage::File
    }

    /// The guided-run registry of this host (results store, runs under way), if it keeps one.
    fn runs(&self) -> Option<Runs> {
        None
    }

    /// The companion-API client for this host (derived; hosts do not override it).
    fn client(&self) -> CompanionClient {
        CompanionClient::new(self.http(), self.sandbox_url(), self.device_token())
    }
}
