//! A certificate authority made at test time (rcgen) and `keygate serve`
//! over HTTPS with a certificate it signed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType,
};
use sha2::Digest;

use super::Server;

/// A test CA: its certificate file and the key that signs leaves.
pub struct TestCa {
    /// The CA certificate (PEM), what clients trust.
    pub cert: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

/// The key type of a server certificate.
#[derive(Clone, Copy, Debug)]
pub enum KeyKind {
    /// ECDSA P-256.
    Ecdsa,
    /// RSA 2048.
    Rsa,
}

/// A server certificate and its key, as files.
pub struct Leaf {
    /// The certificate (PEM), leaf first then the CA.
    pub cert: PathBuf,
    /// Its private key (PKCS#8 PEM).
    pub key: PathBuf,
    /// Base64 of the SHA-256 of its SubjectPublicKeyInfo (Chromium's
    /// `--ignore-certificate-errors-spki-list` takes these).
    pub spki_sha256: String,
    /// The certificate's DER.
    pub der: Vec<u8>,
}

impl TestCa {
    /// A new CA named `name`, its certificate written to `dir/NAME.pem`.
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("self-sign the CA");
        let path = dir.join(format!("{name}.pem"));
        std::fs::write(&path, cert.pem()).expect("write the CA certificate");
        TestCa { cert: path, issuer: Issuer::new(params, key) }
    }

    /// A server certificate for localhost and 127.0.0.1 signed by this CA,
    /// written to `dir/STEM.pem` and `dir/STEM.key`.
    pub fn leaf(&self, dir: &Path, stem: &str, kind: KeyKind) -> Leaf {
        let key = match kind {
            KeyKind::Ecdsa => KeyPair::generate().expect("leaf key"),
            KeyKind::Rsa => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .expect("RSA leaf key"),
        };
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("leaf params");
        params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).expect("sign the leaf");
        let ca_pem = std::fs::read_to_string(&self.cert).expect("read the CA certificate");
        let leaf = Leaf {
            cert: dir.join(format!("{stem}.pem")),
            key: dir.join(format!("{stem}.key")),
            spki_sha256: base64::engine::general_purpose::STANDARD
                .encode(sha2::Sha256::digest(key.subject_public_key_info())),
            der: cert.der().to_vec(),
        };
        std::fs::write(&leaf.cert, cert.pem() + &ca_pem).expect("write the leaf certificate");
        std::fs::write(&leaf.key, key.serialize_pem()).expect("write the leaf key");
        leaf
    }
}

/// `keygate serve --database DATABASE` over HTTPS with `leaf` on a free
/// loopback port, origin `https://localhost:PORT`; waits until `/healthz`
/// answers to a client trusting `ca`. Returns the server and its URL.
pub fn serve_https(
    dir: &Path,
    database: &str,
    ca: &Path,
    leaf: &Leaf,
    configure: impl FnOnce(&mut Command),
) -> (Server, String) {
    let addr: SocketAddr = super::free_addr();
    let url = format!("https://localhost:{}", addr.port());
    let server = Server::start_https(dir, addr, ca, |cmd| {
        cmd.args(["--database", database, "--listen", &addr.to_string()]);
        cmd.args(["--origin", &url, "--rp-id", "localhost"]);
        cmd.arg("--tls-cert").arg(&leaf.cert).arg("--tls-key").arg(&leaf.key);
        configure(cmd);
    });
    (server, url)
}

/// A blocking HTTP client that trusts `ca` (and nothing else).
pub fn client_trusting(ca: &Path) -> reqwest::blocking::Client {
    let pem = std::fs::read(ca).expect("read the CA certificate");
    let root = reqwest::Certificate::from_pem(&pem).expect("parse the CA certificate");
    reqwest::blocking::Client::builder().tls_certs_only([root]).build().expect("build an HTTPS client")
}
