//! Attestation trust: who made the key that is being registered.
//!
//! A U2F registration carries one X.509 certificate, the authenticator
//! model's attestation certificate, and a signature by its key. The policy
//! decides how much of that the service checks:
//!
//! - [`AttestationPolicy::None`]: nothing; any key registers.
//! - [`AttestationPolicy::Verified`] (default): the registration signature
//!   must verify with the certificate's key. Self-signed certificates are
//!   fine; the subject is recorded so an operator can see which models users
//!   enrol.
//! - [`AttestationPolicy::TrustedCa`]: as `Verified`, and the certificate must
//!   be signed by one of the configured roots (vendor roots are often RSA, so
//!   both ECDSA P-256 and RSA PKCS#1 v1.5 with SHA-256 are checked).
//!
//! Validity dates are not checked: the core has no clock, and attestation
//! certificates of keys still in use expired long ago (the specification's
//! own example expired in 2013). Parsing is `x509-cert`'s; the only repair is
//! the one python-u2flib-server applies to a handful of early certificates.

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode, Reader, SliceReader};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use super::error::{Signed, VerifyError};

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// SHA-256 of early U2F attestation certificates whose signature BIT STRING
/// declares unused bits although the RSA signature uses all of them. The list
/// is python-u2flib-server's (`CERTS_TO_FIX`); strict DER parsers reject or
/// misread these certificates, so the byte is reset to 0 before parsing.
const CERTS_TO_FIX: [&str; 6] = [
    "349bca1031f8c82c4ceca38b9cebf1a69df9fb3b94eed99eb3fb9aa3822d26e8",
    "dd574527df608e47ae45fbba75a2afdd5c20fd94a02419381813cd55a2a3398f",
    "1d8764f0f7cd1352df6150045c8f638e517270e8b5dda1c63ade9c2280240cae",
    "d0edc9a91a1677435a953390865d208c55b3183c6759c9b5a7ff494c322558eb",
    "6073c436dcd064a48127ddbf6032ac1a66fd59a0c24434f070d4e564c124c897",
    "ca993121846c464d666096d35f13bf44c1b05af205f9b4a1e00cf6cc10c5e511",
];

/// Resets the unused-bits byte of the 256-byte signature BIT STRING of the
/// certificates whose SHA-256 (lowercase hex) is listed in `known`, as
/// python-u2flib-server's `_fix_cert` does. Other certificates are returned
/// unchanged.
pub fn repair_certificate(der: &[u8], known: &[&str]) -> Vec<u8> {
    let mut out = der.to_vec();
    let digest = hex::encode(Sha256::digest(der));
    if known.contains(&digest.as_str())
        && let Some(at) = out.len().checked_sub(257)
        && let Some(byte) = out.get_mut(at)
    {
        *byte = 0;
    }
    out
}

/// [`repair_certificate`] with the list of known broken U2F certificates.
pub fn repair_known_certificate(der: &[u8]) -> Vec<u8> {
    repair_certificate(der, &CERTS_TO_FIX)
}

/// How much of a registration's attestation the service checks.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum AttestationPolicy {
    /// Do not look at the certificate or the attestation signature.
    None,
    /// The attestation signature must verify with the certificate's key.
    #[default]
    Verified,
    /// As `Verified`, and the certificate must be issued by one of these roots.
    TrustedCa(TrustRoots),
}

/// The policy names operators write in the configuration
/// (`attestation = "none" | "verified" | "trusted-ca"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttestationMode {
    /// See [`AttestationPolicy::None`].
    None,
    /// See [`AttestationPolicy::Verified`].
    #[default]
    Verified,
    /// See [`AttestationPolicy::TrustedCa`].
    TrustedCa,
}

impl std::str::FromStr for AttestationMode {
    type Err = VerifyError;

    fn from_str(name: &str) -> Result<Self, VerifyError> {
        match name {
            "none" => Ok(AttestationMode::None),
            "verified" => Ok(AttestationMode::Verified),
            "trusted-ca" => Ok(AttestationMode::TrustedCa),
            _ => Err(VerifyError::UnknownAttestationMode { got: name.to_string() }),
        }
    }
}

impl AttestationPolicy {
    /// Builds the policy from its configured name and the roots loaded by the
    /// caller; `trusted-ca` without a root is a configuration error, not a
    /// service that silently refuses every key.
    pub fn new(mode: AttestationMode, roots: Option<TrustRoots>) -> Result<Self, VerifyError> {
        match (mode, roots) {
            (AttestationMode::None, _) => Ok(AttestationPolicy::None),
            (AttestationMode::Verified, _) => Ok(AttestationPolicy::Verified),
            (AttestationMode::TrustedCa, Some(roots)) if !roots.is_empty() => {
                Ok(AttestationPolicy::TrustedCa(roots))
            }
            (AttestationMode::TrustedCa, _) => Err(VerifyError::TrustRoot {
                reason: "trusted-ca needs at least one root certificate".into(),
            }),
        }
    }
}

/// Certificates the service trusts to issue attestation certificates.
#[derive(Debug, Clone, Default)]
pub struct TrustRoots {
    roots: Vec<Certificate>,
}

impl TrustRoots {
    /// Loads every certificate of a PEM file (the form vendors publish).
    pub fn from_pem(pem: &[u8]) -> Result<Self, VerifyError> {
        let roots = Certificate::load_pem_chain(pem)
            .map_err(|err| VerifyError::TrustRoot { reason: err.to_string() })?;
        if roots.is_empty() {
            return Err(VerifyError::TrustRoot { reason: "no certificate in the PEM input".into() });
        }
        Ok(TrustRoots { roots })
    }

    /// Checks that one of these roots issued `cert`; returns that root's
    /// subject.
    pub fn check_issued(&self, cert: &AttestationCertificate) -> Result<String, VerifyError> {
        let issuer = &cert.cert.tbs_certificate.issuer;
        let mut last_err = None;
        for root in self.roots.iter().filter(|root| root.tbs_certificate.subject == *issuer) {
            match cert.verify_issued_by(&root.tbs_certificate.subject_public_key_info) {
                Ok(()) => return Ok(root.tbs_certificate.subject.to_string()),
                Err(err) => last_err = Some(err),
            }
        }
        Err(last_err.unwrap_or_else(|| VerifyError::UntrustedAttestation { issuer: issuer.to_string() }))
    }

    /// Adds one DER certificate.
    pub fn add_der(&mut self, der: &[u8]) -> Result<(), VerifyError> {
        let root =
            Certificate::from_der(der).map_err(|err| VerifyError::TrustRoot { reason: err.to_string() })?;
        self.roots.push(root);
        Ok(())
    }

    /// How many roots are loaded.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// True when no root is loaded (every registration would fail).
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

/// How far a registration's attestation was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestationTrust {
    /// Policy `none`: not looked at.
    NotChecked,
    /// The attestation signature verifies with the certificate's key.
    Verified,
    /// As `Verified`, and the certificate is issued by this configured root.
    TrustedCa {
        /// The root's subject, RFC 4514 form.
        root_subject: String,
    },
}

/// The outcome of the attestation checks, for the key's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// How far the attestation was checked.
    pub trust: AttestationTrust,
    /// The attestation certificate's subject (RFC 4514), when it was parsed.
    pub subject: Option<String>,
}

/// An attestation certificate parsed by `x509-cert`, with the exact bytes
/// its issuer signed.
#[derive(Debug, Clone)]
pub struct AttestationCertificate {
    cert: Certificate,
    tbs: Vec<u8>,
}

impl AttestationCertificate {
    /// Parses DER (after the known-certificate repair).
    pub fn parse(der: &[u8]) -> Result<Self, VerifyError> {
        let der = repair_known_certificate(der);
        let cert = Certificate::from_der(&der).map_err(cert_error)?;
        let tbs = tbs_bytes(&der).map_err(cert_error)?.to_vec();
        Ok(AttestationCertificate { cert, tbs })
    }

    /// The subject, RFC 4514 form (`CN=Yubico U2F EE Serial 123,...`).
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    /// The certificate's P-256 key; U2F attestation keys are always P-256.
    pub fn verifying_key(&self) -> Result<p256::ecdsa::VerifyingKey, VerifyError> {
        let spki = &self.cert.tbs_certificate.subject_public_key_info;
        let der = spki.to_der().map_err(cert_error)?;
        p256::ecdsa::VerifyingKey::from_public_key_der(&der).map_err(|_| {
            let params =
                spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            VerifyError::UnsupportedAttestationKey {
                got: match params {
                    Some(curve) => format!("{} ({curve})", spki.algorithm.oid),
                    None => spki.algorithm.oid.to_string(),
                },
            }
        })
    }

    /// Checks that `issuer`'s key signed this certificate.
    pub fn verify_issued_by(&self, issuer: &SubjectPublicKeyInfoOwned) -> Result<(), VerifyError> {
        let outer = &self.cert.signature_algorithm;
        let inner = &self.cert.tbs_certificate.signature;
        if outer != inner {
            return Err(VerifyError::SignatureAlgorithmMismatch {
                inner: inner.oid.to_string(),
                outer: outer.oid.to_string(),
            });
        }
        let sig = self.cert.signature.as_bytes().ok_or_else(|| VerifyError::Certificate {
            reason: "signature BIT STRING declares unused bits".into(),
        })?;
        let bad = VerifyError::BadSignature { what: Signed::Certificate };
        let issuer_der = issuer.to_der().map_err(cert_error)?;
        if outer.oid == ECDSA_WITH_SHA256 {
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(&issuer_der).map_err(|_| bad.clone())?;
            let sig = p256::ecdsa::Signature::from_der(sig)
                .map_err(|_| VerifyError::MalformedSignature { what: Signed::Certificate })?;
            key.verify(&self.tbs, &sig).map_err(|_| bad)
        } else if outer.oid == SHA256_WITH_RSA {
            let key = rsa::RsaPublicKey::from_public_key_der(&issuer_der).map_err(|_| bad.clone())?;
            let key = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key);
            let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(|_| bad.clone())?;
            key.verify(&self.tbs, &sig).map_err(|_| bad)
        } else {
            Err(VerifyError::UnsupportedSignatureAlgorithm { got: outer.oid.to_string() })
        }
    }
}

/// Checks a registration's attestation under `policy`: `digest` is SHA-256 of
/// the signed data, `sig` the attestation signature.
pub fn verify_attestation(
    cert_der: &[u8],
    digest: &[u8; 32],
    sig: &p256::ecdsa::Signature,
    policy: &AttestationPolicy,
) -> Result<Attestation, VerifyError> {
    let roots = match policy {
        AttestationPolicy::None => {
            return Ok(Attestation { trust: AttestationTrust::NotChecked, subject: None });
        }
        AttestationPolicy::Verified => None,
        AttestationPolicy::TrustedCa(roots) => Some(roots),
    };
    let cert = AttestationCertificate::parse(cert_der)?;
    let key = cert.verifying_key()?;
    key.verify_prehash(digest, sig).map_err(|_| VerifyError::BadSignature { what: Signed::Registration })?;
    let subject = Some(cert.subject());
    let Some(roots) = roots else {
        return Ok(Attestation { trust: AttestationTrust::Verified, subject });
    };
    let root_subject = roots.check_issued(&cert)?;
    Ok(Attestation { trust: AttestationTrust::TrustedCa { root_subject }, subject })
}

/// The length of the DER element (tag, length and content) at the start of
/// `bytes`, read with `der`'s header decoder: a U2F registration gives no
/// other length for its certificate.
pub fn der_element_len(bytes: &[u8]) -> Result<usize, VerifyError> {
    let mut reader = SliceReader::new(bytes).map_err(cert_error)?;
    let header = der::Header::decode(&mut reader).map_err(cert_error)?;
    let total = (reader.position() + header.length).map_err(cert_error)?;
    usize::try_from(total).map_err(cert_error)
}

/// The exact bytes of `tbsCertificate` inside a certificate's DER.
fn tbs_bytes(der: &[u8]) -> Result<&[u8], der::Error> {
    let mut reader = SliceReader::new(der)?;
    let _outer = der::Header::decode(&mut reader)?;
    reader.tlv_bytes()
}

fn cert_error(err: der::Error) -> VerifyError {
    VerifyError::Certificate { reason: err.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_from_their_config_names() {
        assert_eq!("trusted-ca".parse::<AttestationMode>(), Ok(AttestationMode::TrustedCa));
        assert_eq!("none".parse::<AttestationMode>(), Ok(AttestationMode::None));
        assert_eq!(AttestationMode::default(), AttestationMode::Verified);
        assert_eq!(
            "trusted_ca".parse::<AttestationMode>(),
            Err(VerifyError::UnknownAttestationMode { got: "trusted_ca".into() })
        );
        assert!(matches!(
            AttestationPolicy::new(AttestationMode::TrustedCa, None),
            Err(VerifyError::TrustRoot { .. })
        ));
        let roots = TrustRoots::from_pem(include_bytes!("../../fixtures/verify/ca-ec.pem")).unwrap();
        let policy = AttestationPolicy::new(AttestationMode::TrustedCa, Some(roots)).unwrap();
        assert!(matches!(policy, AttestationPolicy::TrustedCa(ref r) if r.len() == 1));
        assert_eq!(
            serde_json::from_str::<AttestationMode>("\"trusted-ca\"").unwrap(),
            AttestationMode::TrustedCa
        );
    }

    #[test]
    fn the_fix_list_is_lowercase_sha256_hex() {
        for digest in CERTS_TO_FIX {
            assert_eq!(digest.len(), 64);
            assert!(digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
    }

    #[test]
    fn repair_touches_only_listed_certificates() {
        let mut der = vec![0x30u8; 300];
        der[300 - 257] = 0x07;
        assert_eq!(repair_known_certificate(&der), der);
        let digest = hex::encode(Sha256::digest(&der));
        let fixed = repair_certificate(&der, &[&digest]);
        assert_eq!(fixed[300 - 257], 0);
        assert_eq!(fixed[..43], der[..43]);
        assert_eq!(fixed[44..], der[44..]);
        let short = vec![1u8; 10];
        let digest = hex::encode(Sha256::digest(&short));
        assert_eq!(repair_certificate(&short, &[&digest]), short);
    }

    /// An RSA-signed certificate whose signature BIT STRING declares stray
    /// unused bits, like the early U2F certificates, is refused as it is and
    /// verifies once repaired.
    #[test]
    fn stray_unused_bits_are_refused_unless_repaired() {
        let good = include_bytes!("../../fixtures/verify/attestation-rsa.der");
        let roots = TrustRoots::from_pem(include_bytes!("../../fixtures/verify/ca-rsa.pem")).unwrap();
        let root = &roots.roots[0].tbs_certificate.subject_public_key_info;
        AttestationCertificate::parse(good).unwrap().verify_issued_by(root).unwrap();

        let mut broken = good.to_vec();
        let at = broken.len() - 257;
        assert_eq!(broken[at], 0, "the unused-bits byte of a 2048-bit RSA signature");
        broken[at] = 0x07;
        let err = AttestationCertificate::parse(&broken).unwrap().verify_issued_by(root).unwrap_err();
        assert!(matches!(err, VerifyError::Certificate { .. }), "{err}");

        let digest = hex::encode(Sha256::digest(&broken));
        let repaired = repair_certificate(&broken, &[&digest]);
        assert_eq!(repaired, good.to_vec());
        AttestationCertificate::parse(&repaired).unwrap().verify_issued_by(root).unwrap();
    }

    #[test]
    fn der_element_len_reads_short_and_long_forms() {
        assert_eq!(der_element_len(&[0x30, 0x03, 1, 2, 3, 9, 9]).unwrap(), 5);
        assert_eq!(der_element_len(&[0x30, 0x82, 0x01, 0x3c]).unwrap(), 0x13c + 4);
        assert!(der_element_len(&[0x30]).is_err());
        assert!(der_element_len(&[0x30, 0x81, 0x05]).is_err(), "non-minimal length is not DER");
    }
}
