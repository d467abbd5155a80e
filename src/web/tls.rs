//! TLS for `keygate serve`: rustls with a certificate that `SIGHUP` replaces
//! without a restart, behind an accept loop an attacker cannot stall.
//!
//! - The certificate sits behind a resolver ([`ReloadableCert`]) rather than
//!   in the `ServerConfig`: a reload swaps one `Arc`, handshakes already
//!   under way and connections already open keep the key they started with,
//!   and every new handshake gets the new one. A reload that fails (a half
//!   copied file, a key that does not match) keeps the old certificate.
//! - Handshakes run concurrently ([`tls_listener`]), each under a deadline,
//!   and at most [`MAX_HANDSHAKES`] at once: a client that connects and says
//!   nothing holds one slot for [`HANDSHAKE_TIMEOUT`], never the listener,
//!   and a flood of them is refused at the door instead of growing memory.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client has to finish the TLS handshake after connecting.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; connections beyond are closed at once.
pub const MAX_HANDSHAKES: usize = 1024;

pub use crate::config::TlsFiles;

/// Why a certificate or key could not be used; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file is missing, unreadable or holds no certificate.
    #[error("cannot use the TLS certificate {}: {reason}", path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file is missing, unreadable or holds no supported key.
    #[error("cannot use the TLS key {}: {reason}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key is fine but belongs to another certificate.
    #[error("the TLS key {} does not belong to the certificate {}", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the settings.
    #[error("TLS setup failed: {0}")]
    Setup(#[from] rustls::Error),
}

/// The provider the whole binary uses: the same aws-lc-rs the HTTP client links.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reads and checks one certificate chain and its key.
pub fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let cert_error = |reason: String| TlsError::Certificate { path: files.cert.clone(), reason };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_error(pem_reason(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(pem_reason(&e)))?;
    if chain.is_empty() {
        return Err(cert_error("no PEM CERTIFICATE block in it".to_owned()));
    }
    let key_error = |reason: String| TlsError::Key { path: files.key.clone(), reason };
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| key_error(pem_reason(&e)))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| key_error(format!("not a supported ECDSA, Ed25519 or RSA key ({e})")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(_)) => {
            Err(TlsError::Mismatch { cert: files.cert.clone(), key: files.key.clone() })
        }
        Err(e) => Err(cert_error(e.to_string())),
    }
}

/// A PEM error in words, without the file's content.
fn pem_reason(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) => io.to_string(),
        Error::NoItemsFound => "no PEM block of the expected kind in it".to_owned(),
        other => format!("not valid PEM ({other:?})"),
    }
}

/// The serving certificate, replaced in place by [`ReloadableCert::reload`].
#[derive(Debug)]
pub struct ReloadableCert {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    /// Loads the files; an error here stops `serve` before it binds.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let provider = provider();
        let current = RwLock::new(Arc::new(load(&files, &provider)?));
        Ok(Arc::new(Self { files, provider, current }))
    }

    /// Reads the files again and serves the new certificate to new
    /// handshakes; on error the old one stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(load(&self.files, &self.provider)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// The files this certificate is read from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// rustls settings serving this certificate: TLS 1.2 and 1.3 with
    /// rustls's safe defaults, HTTP/2 and HTTP/1.1 offered by ALPN.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner)))
    }
}

impl ReloadableCert {
    /// [`ReloadableCert::reload`], with the outcome logged and counted in
    /// `keygate_tls_reloads_total{outcome}`: what SIGHUP runs, where nobody
    /// waits for an answer.
    pub fn reload_logged(&self) {
        match self.reload() {
            Ok(()) => {
                metrics::counter!("keygate_tls_reloads_total", "outcome" => "ok").increment(1);
                tracing::info!(cert = %self.files().cert.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                metrics::counter!("keygate_tls_reloads_total", "outcome" => "error").increment(1);
                tracing::error!(error = %e, "TLS certificate not reloaded; the previous one stays in use");
            }
        }
    }
}

/// A TLS acceptor that refuses at once when [`MAX_HANDSHAKES`] are under way.
#[derive(Clone)]
struct BoundedAcceptor {
    tls: TlsAcceptor,
    slots: Arc<Semaphore>,
}

impl tls_listener::AsyncTls<TcpStream> for BoundedAcceptor {
    type Stream = TlsStream<TcpStream>;
    type Error = io::Error;
    type AcceptFuture = Pin<Box<dyn Future<Output = io::Result<Self::Stream>> + Send>>;

    fn accept(&self, stream: TcpStream) -> Self::AcceptFuture {
        let slot = Arc::clone(&self.slots).try_acquire_owned();
        let tls = self.tls.clone();
        Box::pin(async move {
            let _slot = slot.map_err(|_| io::Error::other(BUSY))?;
            tls.accept(stream).await
        })
    }
}

/// The error text of a connection refused for want of a handshake slot.
const BUSY: &str = "too many TLS handshakes in progress";

/// A TCP listener whose connections come out with TLS done: what
/// `axum::serve` takes in place of a `TcpListener`.
pub struct TlsTcpListener {
    inner: tls_listener::TlsListener<TcpListener, BoundedAcceptor>,
}

impl TlsTcpListener {
    /// Serves `cert` on `listener`.
    pub fn new(listener: TcpListener, cert: &Arc<ReloadableCert>) -> Result<Self, TlsError> {
        let acceptor = BoundedAcceptor {
            tls: TlsAcceptor::from(cert.server_config()?),
            slots: Arc::new(Semaphore::new(MAX_HANDSHAKES)),
        };
        let inner = tls_listener::builder(acceptor).handshake_timeout(HANDSHAKE_TIMEOUT).listen(listener);
        Ok(Self { inner })
    }
}

impl axum::serve::Listener for TlsTcpListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        use tls_listener::Error;
        loop {
            // A failed handshake costs its own connection only: counted,
            // logged at debug (a scanner must not fill the logs), skipped.
            let reason = match self.inner.accept().await {
                Ok(accepted) => return accepted,
                Err(Error::ListenerError(e)) => {
                    accept_failed(e).await;
                    continue;
                }
                Err(Error::HandshakeTimeout { peer_addr, .. }) => {
                    tracing::debug!(peer = %peer_addr, "TLS handshake timed out");
                    "timeout"
                }
                Err(Error::TlsAcceptError { error, peer_addr, .. }) => {
                    tracing::debug!(peer = %peer_addr, error = %error, "TLS handshake failed");
                    if error.to_string() == BUSY { "busy" } else { "handshake" }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "TLS accept failed");
                    "handshake"
                }
            };
            metrics::counter!("keygate_tls_handshake_failures_total", "reason" => reason).increment(1);
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.listener().local_addr()
    }
}

/// What `axum::serve` does when `accept` fails: a reset connection is
/// skipped, anything else (out of file descriptors) logged and retried
/// after a second, so the loop neither spins nor stops.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
