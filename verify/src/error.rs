//! The one error type of the verification core.
//!
//! Every variant names the check that failed and, where there is one, the
//! value that was expected next to the value received, so an operator reading
//! a log line knows which byte of which message was wrong. The edges (HTTP,
//! CLI) map these to their own shapes: client-data variants to
//! `bad_client_data`, signature and format variants to `bad_signature`.

use thiserror::Error;

/// Which signed object a signature check was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signed {
    /// The U2F registration response, signed by the attestation key.
    Registration,
    /// The U2F authentication response, signed by the credential key.
    Authentication,
    /// A WebAuthn assertion, signed by the credential key.
    Assertion,
    /// An attestation certificate, signed by its issuer.
    Certificate,
}

impl std::fmt::Display for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signed::Registration => "registration (attestation signature)",
            Signed::Authentication => "authentication response",
            Signed::Assertion => "WebAuthn assertion",
            Signed::Certificate => "attestation certificate",
        })
    }
}

/// Why a message, certificate or client data was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A field runs past the end of the message.
    #[error("{field} truncated: needed {needed} bytes, {available} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes the message still had.
        available: usize,
    },
    /// Bytes follow the last field of a fixed-layout message.
    #[error("{field}: {extra} unexpected trailing bytes")]
    TrailingBytes {
        /// The message that should have ended.
        field: &'static str,
        /// How many bytes were left over.
        extra: usize,
    },
    /// The first byte of a U2F registration response is not 0x05.
    #[error("registration reserved byte: expected 0x{expected:02x}, got 0x{got:02x}")]
    ReservedByte {
        /// The value the specification fixes.
        expected: u8,
        /// The value received.
        got: u8,
    },
    /// A credential public key is not an uncompressed P-256 point on the curve.
    #[error("credential public key: {reason}")]
    InvalidPublicKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A signature is not a DER `ECDSA-Sig-Value` with `r`, `s` in `1..n`.
    #[error("{what} signature is not a valid DER ECDSA signature")]
    MalformedSignature {
        /// The object the signature belongs to.
        what: Signed,
    },
    /// A signature does not verify over the signed data.
    #[error("{what} signature does not verify")]
    BadSignature {
        /// The object whose signature failed.
        what: Signed,
    },
    /// The user-presence flag is clear: nobody touched the key.
    #[error("user presence flag not set (flags 0x{flags:02x})")]
    UserNotPresent {
        /// The flags byte received.
        flags: u8,
    },
    /// The relying party required user verification and the UV flag is clear.
    #[error("user verification required but the UV flag is clear (flags 0x{flags:02x})")]
    UserNotVerified {
        /// The flags byte received.
        flags: u8,
    },
    /// The attestation certificate is not DER the `x509-cert` crate accepts.
    #[error("attestation certificate: {reason}")]
    Certificate {
        /// The parser's account of the problem.
        reason: String,
    },
    /// The attestation certificate holds a key other than P-256 ECDSA.
    #[error("attestation certificate key algorithm {got} is not P-256 ECDSA")]
    UnsupportedAttestationKey {
        /// The algorithm (and curve) OIDs found.
        got: String,
    },
    /// A certificate is signed with an algorithm the core does not check.
    #[error("certificate signature algorithm {got} is not supported")]
    UnsupportedSignatureAlgorithm {
        /// The OID found.
        got: String,
    },
    /// The certificate's outer and inner signature algorithms differ (RFC 5280 §4.1.1.2).
    #[error("certificate signature algorithm mismatch: tbsCertificate says {inner}, outer says {outer}")]
    SignatureAlgorithmMismatch {
        /// From `tbsCertificate.signature`.
        inner: String,
        /// From `Certificate.signatureAlgorithm`.
        outer: String,
    },
    /// The attestation certificate is not issued by any configured root.
    #[error("attestation certificate issued by {issuer} does not chain to a trusted root")]
    UntrustedAttestation {
        /// The issuer named in the certificate.
        issuer: String,
    },
    /// The configured attestation policy name is not one the service knows.
    #[error("attestation policy {got:?} is not one of none, verified, trusted-ca")]
    UnknownAttestationMode {
        /// The name configured.
        got: String,
    },
    /// A trust root could not be loaded.
    #[error("trust root: {reason}")]
    TrustRoot {
        /// What is wrong with it.
        reason: String,
    },
    /// The client data is not the JSON object the protocol defines.
    #[error("client data: {reason}")]
    ClientDataSyntax {
        /// The parser's account of the problem.
        reason: String,
    },
    /// The client data is for another ceremony.
    #[error("client data type: expected {expected:?}, got {got:?}")]
    ClientDataType {
        /// The type this ceremony needs.
        expected: &'static str,
        /// The type received.
        got: String,
    },
    /// The client data carries another challenge than the one issued.
    #[error("client data challenge: expected {expected:?}, got {got:?}")]
    Challenge {
        /// The issued challenge, websafe base64.
        expected: String,
        /// The challenge received.
        got: String,
    },
    /// The client data comes from an origin the service does not serve.
    #[error("client data origin {got:?} is not one of {allowed:?}")]
    Origin {
        /// The origin received.
        got: String,
        /// The origins configured.
        allowed: Vec<String>,
    },
    /// The browser says the ceremony ran in a cross-origin frame.
    #[error("client data says crossOrigin: true")]
    CrossOrigin,
    /// The authenticator data is for another relying party.
    #[error("rpIdHash: expected {expected}, got {got}")]
    RpIdHash {
        /// SHA-256 of the configured RP ID, hex.
        expected: String,
        /// The value received, hex.
        got: String,
    },
    /// The authenticator data of an assertion carries attested credential data.
    #[error("authenticator data of an assertion has the AT flag set (flags 0x{flags:02x})")]
    UnexpectedAttestedCredential {
        /// The flags byte received.
        flags: u8,
    },
    /// webauthn-rs refused a browser registration (attestation statement,
    /// authenticator data, algorithm).
    #[error("registration refused by the WebAuthn checks: {reason}")]
    WebAuthnRegistration {
        /// webauthn-rs's account of the problem.
        reason: String,
    },
}

impl VerifyError {
    /// True when the client data (type, challenge, origin) was at fault, as
    /// opposed to the authenticator's message; the API answers these with
    /// `bad_client_data` rather than `bad_signature`.
    pub fn is_client_data(&self) -> bool {
        matches!(
            self,
            VerifyError::ClientDataSyntax { .. }
                | VerifyError::ClientDataType { .. }
                | VerifyError::Challenge { .. }
                | VerifyError::Origin { .. }
                | VerifyError::CrossOrigin
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_expected_and_got() {
        let err = VerifyError::ReservedByte { expected: 0x05, got: 0x04 };
        assert_eq!(err.to_string(), "registration reserved byte: expected 0x05, got 0x04");
        let err = VerifyError::BadSignature { what: Signed::Authentication };
        assert_eq!(err.to_string(), "authentication response signature does not verify");
        assert!(VerifyError::CrossOrigin.is_client_data());
        assert!(!err.is_client_data());
    }
}
