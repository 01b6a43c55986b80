//! HTTPS for `plusbox serve --tls`: a self-signed certificate made on first start (rcgen, ECDSA
//! P-256), kept in the data directory (`tls/key.pem` mode 0600, `tls/cert.pem`) and reused on
//! later starts, so a phone that trusted it once keeps trusting it. A new certificate is made only
//! when a name the server must answer to (a new LAN address) is missing from the stored one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Errors making or loading the TLS identity.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing the files failed.
    #[error("TLS files in {dir}: {source}")]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The certificate could not be generated.
    #[error("cannot generate the TLS certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The stored files are not a usable certificate and key.
    #[error("the stored TLS certificate or key in {dir} is unusable ({reason}); delete the directory to make a new one")]
    Unusable {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The server's certificate and key.
#[derive(Clone)]
pub struct TlsIdentity {
    cert: CertificateDer<'static>,
    key_pem: Arc<Vec<u8>>,
    /// The names (DNS names and IP addresses) the certificate is valid for.
    pub names: Vec<String>,
    /// Whether this start created it (rather than reusing the stored one).
    pub created: bool,
    /// Where the PEM certificate is (for `curl --cacert`, `openssl x509`).
    pub cert_path: PathBuf,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("fingerprint", &self.fingerprint())
            .field("names", &self.names)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Loads the identity stored under `data_dir/tls`, or makes (and stores) a new one when none
    /// is stored or the stored one lacks one of `names`.
    pub fn load_or_create(data_dir: &Path, names: &[String]) -> Result<TlsIdentity, TlsError> {
        let dir = data_dir.join("tls");
        let io = |source| TlsError::Io { dir: dir.clone(), source };
        let (cert_path, key_path, names_path) =
            (dir.join("cert.pem"), dir.join("key.pem"), dir.join("names.txt"));
        if cert_path.exists() && key_path.exists() {
            let stored: Vec<String> = std::fs::read_to_string(&names_path)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect();
            if names.iter().all(|n| stored.contains(n)) {
                let cert_pem = std::fs::read(&cert_path).map_err(io)?;
                let key_pem = std::fs::read(&key_path).map_err(io)?;
                let cert = CertificateDer::from_pem_slice(&cert_pem)
                    .map_err(|e| TlsError::Unusable { dir: dir.clone(), reason: e.to_string() })?;
                PrivateKeyDer::from_pem_slice(&key_pem)
                    .map_err(|e| TlsError::Unusable { dir: dir.clone(), reason: e.to_string() })?;
                return Ok(TlsIdentity {
                    cert,
                    key_pem: Arc::new(key_pem),
                    names: stored,
                    created: false,
                    cert_path,
                });
            }
        }
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(names.to_vec())?;
        params.distinguished_name.push(rcgen::DnType::CommonName, "Plusbox sandbox");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Plusbox");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(825);
        let cert = params.self_signed(&key)?;
        create_dir_private(&dir).map_err(io)?;
        write_private(&key_path, key.serialize_pem().as_bytes()).map_err(io)?;
        std::fs::write(&cert_path, cert.pem()).map_err(io)?;
        std::fs::write(&names_path, names.join("\n")).map_err(io)?;
        Ok(TlsIdentity {
            cert: cert.der().clone(),
            key_pem: Arc::new(key.serialize_pem().into_bytes()),
            names: names.to_vec(),
            created: true,
            cert_path,
        })
    }

    /// SHA-256 of the DER certificate as upper-case hex pairs joined by `:` — the form
    /// `openssl x509 -noout -fingerprint -sha256` prints, to compare on the phone.
    pub fn fingerprint(&self) -> String {
        fingerprint_of_der(self.cert.as_ref())
    }

    /// A rustls acceptor serving this identity (HTTP/1.1 over TLS 1.2 or 1.3).
    pub(crate) fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
        let unusable = |reason: String| TlsError::Unusable {
            dir: self.cert_path.parent().map(Path::to_path_buf).unwrap_or_default(),
            reason,
        };
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem).map_err(|e| unusable(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| unusable(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], key)
            .map_err(|e| unusable(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// SHA-256 of a DER certificate, as [`TlsIdentity::fingerprint`] prints it.
pub fn fingerprint_of_der(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// SHA-256 of the first certificate of a PEM text (as a web view hands a server's certificate
/// over), or `None` when it holds no readable certificate.
pub fn fingerprint_of_pem(pem: &[u8]) -> Option<String> {
    CertificateDer::from_pem_slice(pem).ok().map(|cert| fingerprint_of_der(cert.as_ref()))
}

/// The names a server listening on `listen` should be reachable by: `localhost`, `127.0.0.1`,
/// `::1`, and — when it listens on all interfaces or on one address — the machine's
/// non-loopback addresses (what a phone on the LAN uses).
pub fn names_for(listen: std::net::SocketAddr) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    if listen.ip().is_unspecified() {
        for ip in lan_addresses() {
            names.push(ip.to_string());
        }
    } else if !listen.ip().is_loopback() {
        names.push(listen.ip().to_string());
    }
    names.dedup();
    names
}

/// The machine's non-loopback IPv4 addresses, private (LAN) ones first.
pub fn lan_addresses() -> Vec<std::net::IpAddr> {
    let mut out: Vec<std::net::IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| !ip.is_loopback() && ip.is_ipv4())
        .collect();
    out.sort_by_key(|ip| match ip {
        std::net::IpAddr::V4(v4) => !v4.is_private(),
        std::net::IpAddr::V6(_) => true,
    });
    out.dedup();
    out
}

fn create_dir_private(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut file =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, bytes)?;
    Ok(())
}

/// Serves `router` over HTTPS with `identity` on `listener` until `stop` turns true, with the
/// sandbox listener's limits (10 s header timeout, 60 s idle timeout, 256 connections). The
/// reference acquirer's merchant page (an entry code is an HTTPS URL, alipayplus-api.md §6) is
/// served this way next to its plain-HTTP POS-driver API.
pub async fn serve_https(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    identity: &TlsIdentity,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), TlsError> {
    let acceptor = identity.acceptor()?;
    let limits = crate::listener::Limits {
        header_timeout: std::time::Duration::from_secs(10),
        idle_timeout: std::time::Duration::from_secs(60),
        max_connections: 256,
    };
    crate::listener::serve(listener, router, limits, Some(acceptor), stop).await;
    Ok(())
}
