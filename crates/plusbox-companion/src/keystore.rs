//! Where a device keeps the private half of its signing key (issue 14): the platform keystore
//! where one exists, else an owner-only file in the device's data directory.
//!
//! | platform | keystore |
//! |---|---|
//! | Linux and BSD desktops | Secret Service (GNOME Keyring, KWallet, KeePassXC) over D-Bus |
//! | macOS | the login Keychain |
//! | iOS | the Keychain's protected store of the app |
//! | Android | the Android Keystore (its key encrypts the app's private vault) |
//!
//! The place is chosen once, when the key is made, and then never guessed again: a key in a
//! keystore leaves a marker file (`device-key.keystore`, naming the keystore) beside where the
//! file would be. So a keystore that is locked or unreachable later is an error that says so,
//! never a silent new key (the sandbox knows only the public key made first; a second key would
//! have every upload refused). The item is named per data directory, so several devices on one
//! machine (CI runners, test directories) each have their own.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use serde::Serialize;

/// The keystore's service name for the device keys.
const SERVICE: &str = "dev.plusbox.companion.device-key";

/// The marker file that says the key is in a keystore, and which.
pub const MARKER_FILE: &str = "device-key.keystore";

/// How long a keystore call may take. A keystore can wait for a person (an unlock prompt); one
/// that never answers (a D-Bus service that hangs) must not hang the device with it.
const KEYSTORE_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a new device key should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyStorage {
    /// An owner-only file in the data directory (a merchant's CI runner: no keystore there).
    #[default]
    File,
    /// The platform keystore if it answers, else the owner-only file (the app).
    Auto,
    /// The platform keystore, or fail (when the key must not touch the disk).
    Platform,
}

impl std::str::FromStr for KeyStorage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "file" => Ok(KeyStorage::File),
            "auto" => Ok(KeyStorage::Auto),
            "platform" => Ok(KeyStorage::Platform),
            other => Err(format!("key store {other:?} is not one of file, auto, platform")),
        }
    }
}

/// Where a device's key is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum KeyHome {
    /// The owner-only file.
    #[serde(rename_all = "camelCase")]
    File {
        /// Its path.
        path: String,
        /// Why not a keystore, when one was tried (`Auto`).
        keystore_unavailable: Option<String>,
    },
    /// A platform keystore.
    #[serde(rename_all = "camelCase")]
    Keystore {
        /// Its name, e.g. "Secret Service".
        name: String,
    },
}

impl std::fmt::Display for KeyHome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyHome::File { path, keystore_unavailable: None } => write!(f, "owner-only file {path}"),
            KeyHome::File { path, keystore_unavailable: Some(why) } => {
                write!(f, "owner-only file {path} (no keystore: {why})")
            }
            KeyHome::Keystore { name } => write!(f, "{name}"),
        }
    }
}

/// The name of this platform's keystore, if it has one.
pub fn platform_keystore() -> Option<&'static str> {
    if cfg!(target_os = "android") {
        Some("Android Keystore")
    } else if cfg!(any(target_os = "macos", target_os = "ios")) {
        Some("Keychain")
    } else if cfg!(unix) {
        Some("Secret Service")
    } else {
        None
    }
}

#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
fn open_store() -> keyring_core::Result<std::sync::Arc<keyring_core::CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(target_os = "macos")]
fn open_store() -> keyring_core::Result<std::sync::Arc<keyring_core::CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(target_os = "ios")]
fn open_store() -> keyring_core::Result<std::sync::Arc<keyring_core::CredentialStore>> {
    Ok(apple_native_keyring_store::protected::Store::new()?)
}

#[cfg(target_os = "android")]
fn open_store() -> keyring_core::Result<std::sync::Arc<keyring_core::CredentialStore>> {
    Ok(android_native_keyring_store::Store::new()?)
}

#[cfg(not(unix))]
fn open_store() -> keyring_core::Result<std::sync::Arc<keyring_core::CredentialStore>> {
    Err(keyring_core::Error::NotSupportedByStore("no platform keystore is supported here".into()))
}

/// The keystore item of the device whose data directory is `dir`: one per directory.
fn user_of(dir: &Path) -> String {
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.to_string_lossy().as_bytes());
    let hex: String = digest.as_ref().iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("device-{hex}")
}

/// Runs a keystore call on a thread of its own, so a keystore that never answers costs
/// [`KEYSTORE_TIMEOUT`], not the device.
fn with_timeout<T: Send + 'static>(
    call: impl FnOnce() -> keyring_core::Result<T> + Send + 'static,
) -> Result<T, String> {
    let (send, receive) = mpsc::channel();
    std::thread::Builder::new()
        .name("keystore".into())
        .spawn(move || {
            let _ = send.send(call());
        })
        .map_err(|e| format!("cannot start the keystore call: {e}"))?;
    match receive.recv_timeout(KEYSTORE_TIMEOUT) {
        Ok(result) => result.map_err(|e| describe(&e)),
        Err(_) => Err(format!("it did not answer within {} s", KEYSTORE_TIMEOUT.as_secs())),
    }
}

fn describe(error: &keyring_core::Error) -> String {
    match error {
        keyring_core::Error::NoStorageAccess(e) => format!("it is locked or refused access ({e})"),
        keyring_core::Error::PlatformFailure(e) => format!("it cannot be reached ({e})"),
        keyring_core::Error::NoEntry => "it holds no key for this device".into(),
        other => other.to_string(),
    }
}

/// Puts the PKCS#8 document in the keystore and reads it back (a keystore that accepts a
/// secret it cannot give back is no place for the key). Base64, since some keystores (KWallet)
/// keep text only.
pub(crate) fn keep(dir: &Path, pkcs8: &[u8]) -> Result<String, String> {
    let name = platform_keystore().ok_or("this platform has no keystore")?;
    let user = user_of(dir);
    let text = base64::engine::general_purpose::STANDARD.encode(pkcs8);
    let back = with_timeout(move || {
        let store = open_store()?;
        let entry = keyring_core::Entry::new_in_store(&store, SERVICE, &user)?;
        entry.set_password(&text)?;
        entry.get_password()
    })?;
    if base64::engine::general_purpose::STANDARD.decode(back.trim()).ok().as_deref() != Some(pkcs8) {
        return Err("it gave back something other than the key it was given".into());
    }
    write_marker(dir, name).map_err(|e| format!("cannot write {MARKER_FILE}: {e}"))?;
    Ok(name.to_string())
}

/// The keystore that holds this device's key, if its marker says one does.
pub(crate) fn marked(dir: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(dir.join(MARKER_FILE)) {
        Ok(text) => Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_marker(dir: &Path, name: &str) -> std::io::Result<()> {
    crate::device_key::write_private(&dir.join(MARKER_FILE), format!("{name}\n").as_bytes())
}

/// The PKCS#8 document the keystore keeps for this device.
pub(crate) fn fetch(dir: &Path) -> Result<Vec<u8>, String> {
    let user = user_of(dir);
    let text = with_timeout(move || {
        let store = open_store()?;
        keyring_core::Entry::new_in_store(&store, SERVICE, &user)?.get_password()
    })?;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("its item is not the Base64 key this device stored ({e})"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn storage_choices_parse_and_bad_ones_are_named() {
        assert_eq!("file".parse::<KeyStorage>(), Ok(KeyStorage::File));
        assert_eq!(" auto ".parse::<KeyStorage>(), Ok(KeyStorage::Auto));
        assert_eq!("platform".parse::<KeyStorage>(), Ok(KeyStorage::Platform));
        assert!("vault".parse::<KeyStorage>().unwrap_err().contains("\"vault\""));
    }

    #[test]
    fn each_data_directory_has_its_own_item() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        assert_ne!(user_of(a.path()), user_of(b.path()));
        assert_eq!(user_of(a.path()), user_of(&a.path().join(".")));
        assert!(user_of(a.path()).starts_with("device-") && user_of(a.path()).len() == 31);
    }

    #[test]
    fn where_a_key_is_reads_as_people_say_it() {
        let file = KeyHome::File { path: "/d/device-key.p8".into(), keystore_unavailable: None };
        assert_eq!(file.to_string(), "owner-only file /d/device-key.p8");
        let fallback = KeyHome::File {
            path: "/d/device-key.p8".into(),
            keystore_unavailable: Some("Secret Service: it cannot be reached".into()),
        };
        assert!(fallback.to_string().contains("(no keystore: Secret Service: it cannot be reached)"));
        assert_eq!(KeyHome::Keystore { name: "Secret Service".into() }.to_string(), "Secret Service");
        assert_eq!(
            serde_json::to_value(KeyHome::Keystore { name: "Keychain".into() }).unwrap(),
            serde_json::json!({"kind": "keystore", "name": "Keychain"})
        );
    }
}
