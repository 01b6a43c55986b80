//! The sandbox's SFTP server (`plusbox serve --sftp 127.0.0.1:2222`), as the Alipay+ sandbox
//! delivers clearing files (reconciliation.md §1.1, §2.1): SSH login per application by password
//! (the login `plusbox app show` prints) or by an OpenSSH public key the application registered
//! (`plusbox app set-sftp-key`; Ed25519, ECDSA P-256/384/521 or RSA), a read-only virtual tree
//! `/sandbox/settlements/clearing/<participantId>/<YYYYMMDD>/<file>` holding only that
//! application's generated files, served from the store.
//!
//! It is not a shell: no exec, no shell, no port forwarding, no writes. The Ed25519 host key is
//! made on first start and kept (0600) in the data directory, so clients' known_hosts stay valid.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, HashAlg, PrivateKey, PublicKey};
use russh::server::{Auth, ChannelOpenHandle, Msg, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version,
};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::store::{AppRecord, SftpKey, StoredReconFile};
use crate::Shared;
use plusbox_core::recon::CLEARING_ROOT;

/// File name of the host key inside the data directory.
pub const HOST_KEY_FILE: &str = "sftp_host_ed25519_key";

/// Most SSH connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;

/// Errors starting the SFTP server.
#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    /// The host key could not be read, made or kept.
    #[error("SFTP host key {path}: {message}")]
    HostKey {
        /// The key file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The address could not be bound.
    #[error("cannot listen for SFTP on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// OS error.
        source: std::io::Error,
    },
}

/// Loads the host key from the data directory, or makes one (Ed25519) and keeps it with
/// owner-only permissions. Returns the key and its SHA-256 fingerprint.
pub fn load_or_create_host_key(data_dir: &Path) -> Result<(PrivateKey, String), SftpError> {
    let path = data_dir.join(HOST_KEY_FILE);
    let fail = |message: String| SftpError::HostKey { path: path.display().to_string(), message };
    let key = if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
        PrivateKey::from_openssh(text.as_bytes())
            .map_err(|e| fail(format!("not an OpenSSH private key: {e}")))?
    } else {
        let mut seed = [0_u8; 32];
        aws_lc_rs::rand::fill(&mut seed).map_err(|_| fail("no randomness".into()))?;
        let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
        let text = key.to_openssh(LineEnding::LF).map_err(|e| fail(e.to_string()))?;
        write_private(&path, text.as_bytes()).map_err(|e| fail(e.to_string()))?;
        key
    };
    let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
    Ok((key, fingerprint))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Binds the SFTP listener (so the caller learns the port before serving).
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, SftpError> {
    TcpListener::bind(addr).await.map_err(|source| SftpError::Bind { addr, source })
}

/// Most keys one application may register.
pub const MAX_KEYS: usize = 20;

/// Why a public key text was refused (`plusbox app set-sftp-key`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct KeyError {
    /// 1-based line of the text.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Parses OpenSSH public keys, one a line as in `authorized_keys` or a `.pub` file
/// (`ssh-ed25519 AAAA… comment`); blank lines and `#` comments are skipped. Ed25519, ECDSA
/// (P-256, P-384, P-521) and RSA of at least 2048 bits are taken; DSA, security-key and
/// certificate lines, and `authorized_keys` options, are refused naming the line.
pub fn parse_public_keys(text: &str) -> Result<Vec<SftpKey>, KeyError> {
    let mut keys: Vec<SftpKey> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |message: String| KeyError { line: index + 1, message };
        let key = PublicKey::from_openssh(line).map_err(|e| {
            let first = line.split_whitespace().next().unwrap_or("");
            fail(format!(
                "not an OpenSSH public key ({e}); expected `<algorithm> <base64> [comment]`, got {:?}…",
                first.chars().take(40).collect::<String>()
            ))
        })?;
        match key.algorithm() {
            Algorithm::Ed25519 | Algorithm::Ecdsa { .. } => {}
            Algorithm::Rsa { .. } => {
                let bits = key.key_data().rsa().map(|k| k.key_size()).unwrap_or(0);
                if bits < 2048 {
                    return Err(fail(format!("an RSA key of {bits} bits is too weak; use 2048 or more")));
                }
            }
            other => {
                return Err(fail(format!(
                    "{} keys are not accepted; use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa",
                    other.as_str()
                )))
            }
        }
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        if keys.iter().any(|k| k.fingerprint == fingerprint) {
            continue;
        }
        if keys.len() >= MAX_KEYS {
            return Err(fail(format!("at most {MAX_KEYS} keys per application")));
        }
        let comment = key.comment().to_string();
        let mut bare = key.clone();
        bare.set_comment("");
        let public_key = bare.to_openssh().map_err(|e| fail(format!("cannot re-encode the key: {e}")))?;
        keys.push(SftpKey {
            fingerprint,
            algorithm: key.algorithm().as_str().to_owned(),
            public_key: public_key.trim().to_owned(),
            comment,
        });
    }
    Ok(keys)
}

/// The SSH configuration: password or public-key login, constant-time rejection, idle
/// connections closed.
fn config(key: PrivateKey) -> russh::server::Config {
    russh::server::Config {
        methods: MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..]),
        auth_rejection_time: std::time::Duration::from_millis(300),
        // OpenSSH probes with "none" first; answering that at once costs nothing secret.
        auth_rejection_time_initial: Some(std::time::Duration::ZERO),
        keys: vec![key],
        max_auth_attempts: 3,
        inactivity_timeout: Some(std::time::Duration::from_secs(300)),
        ..Default::default()
    }
}

/// Serves SSH/SFTP on `listener` until shutdown.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    key: PrivateKey,
    mut shutdown: watch::Receiver<bool>,
) {
    let config = Arc::new(config(key));
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit { Ok(p) => p, Err(_) => return },
            _ = shutdown.changed() => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                tracing::warn!(%error, "SFTP accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let handler = SshSession { shared: Arc::clone(&shared), app: None, channels: HashMap::new(), peer };
        let config = Arc::clone(&config);
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match russh::server::run_stream(config, socket, handler).await {
                Ok(session) => {
                    tokio::select! {
                        result = session => if let Err(error) = result {
                            tracing::debug!(%error, %peer, "SFTP session ended with an error");
                        },
                        _ = stop.changed() => {}
                    }
                }
                Err(error) => tracing::debug!(%error, %peer, "SFTP handshake failed"),
            }
        });
    }
}

/// One SSH connection.
struct SshSession {
    shared: Arc<Shared>,
    /// The application logged in, once authenticated.
    app: Option<AppRecord>,
    channels: HashMap<ChannelId, Channel<Msg>>,
    peer: SocketAddr,
}

impl russh::server::Handler for SshSession {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let (user, password) = (user.to_owned(), password.to_owned());
        let shown = crate::text::for_log(&user).to_string();
        let found = self.shared.blocking(move |store| store.sftp_authenticate(&user, &password)).await;
        match found {
            Ok(Some(app)) => {
                tracing::info!(user = %shown, peer = %self.peer, "SFTP login");
                self.app = Some(app);
                Ok(Auth::Accept)
            }
            Ok(None) => {
                tracing::info!(user = %shown, peer = %self.peer, "SFTP login refused");
                Ok(Auth::reject())
            }
            Err(error) => {
                tracing::warn!(%error, "SFTP login check failed");
                Ok(Auth::reject())
            }
        }
    }

    async fn auth_publickey_offered(&mut self, user: &str, key: &PublicKey) -> Result<Auth, Self::Error> {
        // Only a key of this user's application is worth the client's signature.
        Ok(if self.key_owner(user, key).await.is_some() { Auth::Accept } else { Auth::reject() })
    }

    async fn auth_publickey(&mut self, user: &str, key: &PublicKey) -> Result<Auth, Self::Error> {
        // Called once russh has verified the client's signature with `key`.
        let shown = crate::text::for_log(user).to_string();
        match self.key_owner(user, key).await {
            Some(app) => {
                tracing::info!(user = %shown, peer = %self.peer, "SFTP login by key");
                self.app = Some(app);
                Ok(Auth::Accept)
            }
            None => {
                tracing::info!(user = %shown, peer = %self.peer, "SFTP key login refused");
                Ok(Auth::reject())
            }
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.app.is_none() || self.channels.len() >= 8 {
            reply.reject(russh::ChannelOpenFailure::AdministrativelyProhibited).await;
            return Ok(());
        }
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn channel_eof(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        session.close(channel)?;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel_id: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let channel = self.channels.remove(&channel_id);
        match (name, channel, &self.app) {
            ("sftp", Some(channel), Some(app)) => {
                session.channel_success(channel_id)?;
                let handler = SftpSession::new(Arc::clone(&self.shared), app.clone());
                russh_sftp::server::run(channel.into_stream(), handler).await;
            }
            _ => session.channel_failure(channel_id)?,
        }
        Ok(())
    }
}

impl SshSession {
    /// The application named `user` if `key` is one of its registered keys (the whole key is
    /// compared, not only its fingerprint).
    async fn key_owner(&self, user: &str, key: &PublicKey) -> Option<AppRecord> {
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let user = user.to_owned();
        let found = self.shared.blocking(move |store| store.sftp_key_login(&user, &fingerprint)).await;
        match found {
            Ok(Some((app, stored))) => PublicKey::from_openssh(&stored)
                .ok()
                .filter(|stored| stored.key_data() == key.key_data())
                .map(|_| app),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, "SFTP key check failed");
                None
            }
        }
    }
}

/// A node of the virtual tree.
enum Node {
    Dir(Vec<String>),
    File(StoredReconFile),
}

/// One SFTP session of an application: its view of the clearing tree and its open handles.
struct SftpSession {
    shared: Arc<Shared>,
    app: AppRecord,
    /// Open file handles: content.
    files: HashMap<String, Vec<u8>>,
    /// Open directory handles: entries still to list (`None` once listed).
    dirs: HashMap<String, Option<Vec<File>>>,
    next_handle: u64,
}

impl SftpSession {
    fn new(shared: Arc<Shared>, app: AppRecord) -> Self {
        SftpSession { shared, app, files: HashMap::new(), dirs: HashMap::new(), next_handle: 0 }
    }

    fn handle(&mut self) -> String {
        self.next_handle += 1;
        format!("h{}", self.next_handle)
    }

    /// The application's home: its own clearing folder.
    fn home(&self) -> String {
        format!("{CLEARING_ROOT}/{}", self.app.acquirer_id)
    }

    async fn files(&self) -> Result<Vec<StoredReconFile>, StatusCode> {
        let app = self.app.id;
        self.shared.blocking(move |store| store.recon_files(app)).await.map_err(|error| {
            tracing::warn!(%error, "SFTP listing failed");
            StatusCode::Failure
        })
    }

    /// What `path` is in this application's tree.
    async fn node(&self, path: &str) -> Result<Node, StatusCode> {
        let files = self.files().await?;
        self.node_in(&files, path)
    }

    /// What `path` is, given the application's files (one read serves a whole listing).
    fn node_in(&self, files: &[StoredReconFile], path: &str) -> Result<Node, StatusCode> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let root: Vec<&str> = CLEARING_ROOT.split('/').filter(|p| !p.is_empty()).collect();
        // Above the participant folder: the fixed chain /sandbox/settlements/clearing/<pid>.
        let mut chain = root.clone();
        chain.push(&self.app.acquirer_id);
        if parts.len() < chain.len() {
            if parts.iter().zip(&chain).all(|(a, b)| a == b) {
                return Ok(Node::Dir(vec![chain[parts.len()].to_owned()]));
            }
            return Err(StatusCode::NoSuchFile);
        }
        if parts.get(..chain.len()) != Some(&chain[..]) {
            return Err(StatusCode::NoSuchFile);
        }
        match parts.get(chain.len()..).unwrap_or(&[]) {
            [] => {
                let mut dates: Vec<String> = files.iter().map(|f| f.generation_date.clone()).collect();
                dates.dedup();
                dates.sort();
                dates.dedup();
                Ok(Node::Dir(dates))
            }
            [date] => {
                let names: Vec<String> =
                    files.iter().filter(|f| f.generation_date == *date).map(|f| f.name.clone()).collect();
                if names.is_empty() {
                    Err(StatusCode::NoSuchFile)
                } else {
                    Ok(Node::Dir(names))
                }
            }
            [date, name] => files
                .iter()
                .find(|f| f.generation_date == *date && f.name == *name)
                .cloned()
                .map(Node::File)
                .ok_or(StatusCode::NoSuchFile),
            _ => Err(StatusCode::NoSuchFile),
        }
    }

    fn attrs(node: &Node) -> FileAttributes {
        let mut attrs = FileAttributes::empty();
        match node {
            Node::Dir(_) => {
                attrs.permissions = Some(0o040_555);
            }
            Node::File(file) => {
                attrs.permissions = Some(0o100_444);
                attrs.size = Some(file.size);
                let mtime = plusbox_core::protocol::time::parse_instant(&file.generated_at)
                    .ok()
                    .and_then(|t| u32::try_from(t.unix_timestamp()).ok());
                attrs.mtime = mtime;
                attrs.atime = mtime;
            }
        }
        attrs
    }
}

/// Resolves `path` against the home folder, `.` and `..` lexically. Climbing above `/` is a
/// traversal attempt and refused.
fn resolve(home: &str, path: &str) -> Result<String, StatusCode> {
    let joined = if path.starts_with('/') { path.to_owned() } else { format!("{home}/{path}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or(StatusCode::PermissionDenied)?;
            }
            other => parts.push(other),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

fn ok(id: u32) -> Status {
    Status { id, status_code: StatusCode::Ok, error_message: "Ok".into(), language_tag: "en-US".into() }
}

impl russh_sftp::server::Handler for SftpSession {
    type Error = StatusCode;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported
    }

    async fn init(
        &mut self,
        _version: u32,
        _extensions: HashMap<String, String>,
    ) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let resolved = resolve(&self.home(), &path)?;
        Ok(Name { id, files: vec![File::dummy(resolved)] })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let node = self.node(&resolve(&self.home(), &path)?).await?;
        Ok(Attrs { id, attrs: Self::attrs(&node) })
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.stat(id, path).await
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let content = self.files.get(&handle).ok_or(StatusCode::Failure)?;
        let mut attrs = FileAttributes::empty();
        attrs.permissions = Some(0o100_444);
        attrs.size = Some(content.len() as u64);
        Ok(Attrs { id, attrs })
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let resolved = resolve(&self.home(), &path)?;
        let files = self.files().await?;
        let Node::Dir(names) = self.node_in(&files, &resolved)? else { return Err(StatusCode::Failure) };
        let mut entries = Vec::with_capacity(names.len());
        for name in names {
            let child = format!("{}/{name}", resolved.trim_end_matches('/'));
            let node = self.node_in(&files, &child)?;
            entries.push(File::new(name, Self::attrs(&node)));
        }
        let handle = self.handle();
        self.dirs.insert(handle.clone(), Some(entries));
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        match self.dirs.get_mut(&handle) {
            Some(entries) => match entries.take() {
                Some(files) if !files.is_empty() => Ok(Name { id, files }),
                _ => Err(StatusCode::Eof),
            },
            None => Err(StatusCode::Failure),
        }
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        _attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let writes = OpenFlags::WRITE | OpenFlags::APPEND | OpenFlags::CREATE | OpenFlags::TRUNCATE;
        if pflags.intersects(writes) {
            return Err(StatusCode::PermissionDenied);
        }
        let resolved = resolve(&self.home(), &filename)?;
        let Node::File(file) = self.node(&resolved).await? else { return Err(StatusCode::Failure) };
        let app = self.app.id;
        let content = self
            .shared
            .blocking(move |store| store.recon_file(app, &file.generation_date, &file.name))
            .await
            .map_err(|_| StatusCode::Failure)?
            .ok_or(StatusCode::NoSuchFile)?;
        let handle = self.handle();
        self.files.insert(handle.clone(), content);
        Ok(Handle { id, handle })
    }

    async fn read(&mut self, id: u32, handle: String, offset: u64, len: u32) -> Result<Data, Self::Error> {
        let content = self.files.get(&handle).ok_or(StatusCode::Failure)?;
        let start = usize::try_from(offset).map_err(|_| StatusCode::Eof)?;
        if start >= content.len() {
            return Err(StatusCode::Eof);
        }
        let end = content.len().min(start.saturating_add(len.min(256 * 1024) as usize));
        Ok(Data { id, data: content.get(start..end).unwrap_or(&[]).to_vec() })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        self.files.remove(&handle);
        self.dirs.remove(&handle);
        Ok(ok(id))
    }

    async fn write(
        &mut self,
        _id: u32,
        _handle: String,
        _offset: u64,
        _data: Vec<u8>,
    ) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied)
    }

    async fn remove(&mut self, _id: u32, _filename: String) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied)
    }

    async fn mkdir(
        &mut self,
        _id: u32,
        _path: String,
        _attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied)
    }

    async fn rmdir(&mut self, _id: u32, _path: String) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied)
    }

    async fn rename(&mut self, _id: u32, _old: String, _new: String) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied)
    }

    async fn setstat(
        &mut self,
        _id: u32,
        _path: String,
        _attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied)
    }

    async fn fsetstat(
        &mut self,
        _id: u32,
        _handle: String,
        _attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied)
    }

    async fn symlink(
        &mut self,
        _id: u32,
        _linkpath: String,
        _targetpath: String,
    ) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// An Ed25519 public key line as ssh-keygen writes it.
    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICM309M/OGHuSHb12Vuvp+xryCvG5NZE2QOG4nhX2ApA alice@host";

    #[test]
    fn public_key_lines_are_read_with_their_fingerprint_and_comment() {
        let keys = parse_public_keys(&format!("# keys\n\n{ED25519}\n{ED25519}\n")).unwrap();
        assert_eq!(keys.len(), 1, "a repeated key counts once");
        assert_eq!(keys[0].algorithm, "ssh-ed25519");
        assert_eq!(keys[0].comment, "alice@host");
        assert!(keys[0].fingerprint.starts_with("SHA256:"), "{}", keys[0].fingerprint);
        assert!(!keys[0].public_key.contains("alice"), "stored without the comment");
        assert!(parse_public_keys("# nothing\n").unwrap().is_empty());
    }

    #[test]
    fn bad_key_lines_are_refused_naming_the_line() {
        let options = format!("{ED25519}\nfrom=\"10.0.0.1\" {ED25519}\n");
        assert_eq!(parse_public_keys(&options).unwrap_err().line, 2);
        let garbage = parse_public_keys("\nssh-ed25519 not-base64!\n").unwrap_err();
        assert_eq!(garbage.line, 2);
        assert!(garbage.to_string().starts_with("line 2: not an OpenSSH public key"), "{garbage}");
        assert_eq!(parse_public_keys("-----BEGIN OPENSSH PRIVATE KEY-----\n").unwrap_err().line, 1);
    }

    proptest::proptest! {
        #[test]
        fn any_key_text_is_read_or_refused_never_a_panic(text in "\\PC{0,300}", bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse_public_keys(&text);
            let _ = parse_public_keys(&format!("ssh-ed25519 {}", String::from_utf8_lossy(&bytes)));
        }
    }

    #[test]
    fn climbing_above_the_root_is_refused() {
        assert_eq!(resolve("/a/b", "../../../etc/passwd"), Err(StatusCode::PermissionDenied));
        assert_eq!(resolve("/a/b", "/../x"), Err(StatusCode::PermissionDenied));
        assert_eq!(resolve("/a/b", "../c/./d").unwrap(), "/a/c/d");
        assert_eq!(resolve("/a/b", ".").unwrap(), "/a/b");
    }
}
