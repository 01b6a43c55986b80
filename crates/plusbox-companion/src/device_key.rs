//! The device's own Ed25519 key pair, which signs its results bundles (issue 14). Made once, the
//! first time the device links through an invitation; the private key (PKCS#8 DER) stays on the
//! device: in the platform keystore where the host asks for one and it answers (see
//! [`crate::keystore`]), else in an owner-only file (0600) in the device's data directory. Only
//! the public key (SubjectPublicKeyInfo DER, Base64) is sent, with the link request.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;

use crate::error::CommandError;
use crate::keystore::{self, KeyHome, KeyStorage};

/// File name of the private key in the device's data directory.
pub const KEY_FILE: &str = "device-key.p8";

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow.
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// A device's signing key.
pub struct DeviceKey {
    pair: Ed25519KeyPair,
    home: KeyHome,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("public_key", &self.public_key_spki())
            .field("home", &self.home)
            .finish()
    }
}

fn key_error(path: &Path, what: impl std::fmt::Display) -> CommandError {
    CommandError::internal(format!("the device key {}: {what}", path.display()))
}

impl DeviceKey {
    /// The key file in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(KEY_FILE)
    }

    /// The key of the device whose data directory is `dir`, if one was made: in its file, or in
    /// the keystore its marker names (an error, not `None`, when that keystore cannot give it).
    pub fn load(dir: &Path) -> Result<Option<DeviceKey>, CommandError> {
        let path = DeviceKey::path(dir);
        let der = match std::fs::read(&path) {
            Ok(der) => der,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let marker = dir.join(keystore::MARKER_FILE);
                let Some(name) =
                    keystore::marked(dir).map_err(|e| key_error(&marker, format!("cannot be read: {e}")))?
                else {
                    return Ok(None);
                };
                let der = keystore::fetch(dir).map_err(|why| {
                    CommandError::internal(format!(
                        "this device's key is kept in {name}, which cannot give it now: {why}; unlock it and try again"
                    ))
                })?;
                let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|e| {
                    CommandError::internal(format!(
                        "the device key in {name} is not an Ed25519 PKCS#8 key: {e}"
                    ))
                })?;
                return Ok(Some(DeviceKey { pair, home: KeyHome::Keystore { name } }));
            }
            Err(e) => return Err(key_error(&path, format!("cannot be read: {e}"))),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&der)
            .map_err(|e| key_error(&path, format!("is not an Ed25519 PKCS#8 key: {e}")))?;
        Ok(Some(DeviceKey {
            pair,
            home: KeyHome::File { path: path.display().to_string(), keystore_unavailable: None },
        }))
    }

    /// The key kept for `dir`, made (and written owner-only) if there is none.
    pub fn load_or_create(dir: &Path) -> Result<DeviceKey, CommandError> {
        DeviceKey::load_or_create_in(dir, KeyStorage::File)
    }

    /// The key kept for `dir`, or a new one kept where `storage` says. A key that exists stays
    /// where it is, whatever `storage` says now.
    pub fn load_or_create_in(dir: &Path, storage: KeyStorage) -> Result<DeviceKey, CommandError> {
        if let Some(key) = DeviceKey::load(dir)? {
            return Ok(key);
        }
        let path = DeviceKey::path(dir);
        let document = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|e| key_error(&path, format!("cannot be made: {e}")))?;
        std::fs::create_dir_all(dir).map_err(|e| key_error(&path, format!("has no directory: {e}")))?;
        let home = match storage {
            KeyStorage::File => None,
            KeyStorage::Auto | KeyStorage::Platform => {
                let name = keystore::platform_keystore().unwrap_or("a platform keystore");
                match keystore::keep(dir, document.as_ref()) {
                    Ok(name) => Some(KeyHome::Keystore { name }),
                    Err(why) if storage == KeyStorage::Auto => Some(KeyHome::File {
                        path: path.display().to_string(),
                        keystore_unavailable: Some(format!("{name}: {why}")),
                    }),
                    Err(why) => {
                        return Err(CommandError::internal(format!(
                            "the device key cannot be kept in {name}: {why}"
                        )))
                    }
                }
            }
        };
        let home = match home {
            Some(home @ KeyHome::Keystore { .. }) => home,
            fallback => {
                write_private(&path, document.as_ref())
                    .map_err(|e| key_error(&path, format!("cannot be written: {e}")))?;
                fallback
                    .unwrap_or(KeyHome::File { path: path.display().to_string(), keystore_unavailable: None })
            }
        };
        let pair = Ed25519KeyPair::from_pkcs8(document.as_ref()).map_err(|e| key_error(&path, e))?;
        Ok(DeviceKey { pair, home })
    }

    /// Where the private key is kept.
    pub fn home(&self) -> &KeyHome {
        &self.home
    }

    /// The public key as Base64 SubjectPublicKeyInfo DER (what the sandbox keeps).
    pub fn public_key_spki(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.pair.public_key().as_ref());
        base64::engine::general_purpose::STANDARD.encode(der)
    }

    /// The Base64 Ed25519 signature of `bytes`.
    pub fn sign(&self, bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.pair.sign(bytes).as_ref())
    }
}

/// Writes a file readable by its owner only: a fresh 0600 file moved over the old one, so the
/// key is never readable by others, not even briefly, and a crash never leaves half a key.
/// The one owner-only writer of the companion's secrets (device key, device tokens).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".new");
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_key_is_made_once_owner_only_and_signs_verifiably() {
        let dir = tempfile::tempdir().unwrap();
        let key = DeviceKey::load_or_create(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(DeviceKey::path(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = DeviceKey::load_or_create(dir.path()).unwrap();
        assert_eq!(key.public_key_spki(), again.public_key_spki(), "loaded, not made again");
        let der = base64::engine::general_purpose::STANDARD.decode(key.public_key_spki()).unwrap();
        assert_eq!(der.len(), 44);
        let signature = base64::engine::general_purpose::STANDARD.decode(key.sign(b"bundle")).unwrap();
        let public = aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, &der[12..]);
        assert!(public.verify(b"bundle", &signature).is_ok());
        assert!(public.verify(b"bundlf", &signature).is_err());
    }
}
