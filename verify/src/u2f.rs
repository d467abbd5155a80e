//! U2F registration and authentication responses (FIDO U2F Raw Message
//! Formats, §4.3 and §5.4).
//!
//! Registration: `05 || userPublicKey (65) || L || keyHandle (L) ||
//! attestationCert (DER, its length from its own header) || signature`, the
//! signature by the attestation key over
//! `00 || appParam || challengeParam || keyHandle || userPublicKey`.
//!
//! Authentication: `flags (1) || counter (4, big-endian) || signature`, the
//! signature by the credential key over
//! `appParam || flags || counter || challengeParam`.
//!
//! Parsing checks the whole layout and decodes the signature, so a parsed
//! value is well formed; verifying checks what it says.

use p256::ecdsa::Signature;
use sha2::{Digest, Sha256};

use super::attestation::{Attestation, AttestationPolicy, der_element_len, verify_attestation};
use super::counter::CounterVerdict;
use super::error::{Signed, VerifyError};
use super::key::{CredentialKey, SEC1_UNCOMPRESSED_LEN, parse_der_signature};

/// The reserved first byte of a registration response.
pub const REGISTRATION_RESERVED: u8 = 0x05;
/// The user-presence bit of the authentication flags byte.
pub const USER_PRESENCE: u8 = 0x01;

/// The application parameter for an app ID (U2F) or RP ID (WebAuthn):
/// SHA-256 of its UTF-8 bytes. keygate uses the RP ID, so keys registered
/// over raw U2F also answer WebAuthn assertions.
pub fn app_param(app_id: &str) -> [u8; 32] {
    Sha256::digest(app_id.as_bytes()).into()
}

/// A well-formed U2F registration response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationData {
    /// The new credential's public key.
    pub user_public_key: CredentialKey,
    /// The key handle the authenticator wants back at authentication.
    pub key_handle: Vec<u8>,
    /// The attestation certificate, DER, as received.
    pub attestation_cert_der: Vec<u8>,
    /// The attestation signature.
    pub signature: Signature,
}

/// Splits `n` bytes off the front of `rest`, naming `field` when short.
fn take<'a>(rest: &mut &'a [u8], n: usize, field: &'static str) -> Result<&'a [u8], VerifyError> {
    if rest.len() < n {
        return Err(VerifyError::Truncated { field, needed: n, available: rest.len() });
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

impl RegistrationData {
    /// Parses a registration response (without the status word).
    pub fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        let mut rest = bytes;
        let reserved = take(&mut rest, 1, "reserved byte")?[0];
        if reserved != REGISTRATION_RESERVED {
            return Err(VerifyError::ReservedByte { expected: REGISTRATION_RESERVED, got: reserved });
        }
        let user_public_key = CredentialKey::from_sec1_uncompressed(take(
            &mut rest,
            SEC1_UNCOMPRESSED_LEN,
            "user public key",
        )?)?;
        let handle_len = usize::from(take(&mut rest, 1, "key handle length")?[0]);
        let key_handle = take(&mut rest, handle_len, "key handle")?.to_vec();
        let cert_len = der_element_len(rest)?;
        let attestation_cert_der = take(&mut rest, cert_len, "attestation certificate")?.to_vec();
        let signature = parse_der_signature(rest, Signed::Registration)?;
        Ok(RegistrationData { user_public_key, key_handle, attestation_cert_der, signature })
    }

    /// SHA-256 of `00 || appParam || challengeParam || keyHandle || userPublicKey`.
    pub fn signed_digest(&self, app_param: &[u8; 32], challenge_param: &[u8; 32]) -> [u8; 32] {
        Sha256::new()
            .chain_update([0u8])
            .chain_update(app_param)
            .chain_update(challenge_param)
            .chain_update(&self.key_handle)
            .chain_update(self.user_public_key.sec1_bytes())
            .finalize()
            .into()
    }

    /// Checks the attestation signature and certificate under `policy`.
    pub fn verify(
        &self,
        app_param: &[u8; 32],
        challenge_param: &[u8; 32],
        policy: &AttestationPolicy,
    ) -> Result<Attestation, VerifyError> {
        let digest = self.signed_digest(app_param, challenge_param);
        verify_attestation(&self.attestation_cert_der, &digest, &self.signature, policy)
    }
}

/// Parses and verifies a registration response in one call.
pub fn verify_registration(
    bytes: &[u8],
    app_param: &[u8; 32],
    challenge_param: &[u8; 32],
    policy: &AttestationPolicy,
) -> Result<(RegistrationData, Attestation), VerifyError> {
    let data = RegistrationData::parse(bytes)?;
    let attestation = data.verify(app_param, challenge_param, policy)?;
    Ok((data, attestation))
}

/// A well-formed U2F authentication response ("signatureData").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureData {
    /// The flags byte; bit 0 is user presence.
    pub flags: u8,
    /// The authenticator's signature counter.
    pub counter: u32,
    /// The credential's signature.
    pub signature: Signature,
}

impl SignatureData {
    /// Parses an authentication response (without the status word).
    pub fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        let mut rest = bytes;
        let flags = take(&mut rest, 1, "user presence flags")?[0];
        let counter = take(&mut rest, 4, "counter")?;
        let counter = u32::from_be_bytes([counter[0], counter[1], counter[2], counter[3]]);
        let signature = parse_der_signature(rest, Signed::Authentication)?;
        Ok(SignatureData { flags, counter, signature })
    }

    /// SHA-256 of `appParam || flags || counter || challengeParam`.
    pub fn signed_digest(&self, app_param: &[u8; 32], challenge_param: &[u8; 32]) -> [u8; 32] {
        Sha256::new()
            .chain_update(app_param)
            .chain_update([self.flags])
            .chain_update(self.counter.to_be_bytes())
            .chain_update(challenge_param)
            .finalize()
            .into()
    }

    /// Checks the signature, then user presence.
    pub fn verify(
        &self,
        key: &CredentialKey,
        app_param: &[u8; 32],
        challenge_param: &[u8; 32],
    ) -> Result<AuthenticationOutcome, VerifyError> {
        let digest = self.signed_digest(app_param, challenge_param);
        if !key.verify_digest(&digest, &self.signature) {
            return Err(VerifyError::BadSignature { what: Signed::Authentication });
        }
        if self.flags & USER_PRESENCE == 0 {
            return Err(VerifyError::UserNotPresent { flags: self.flags });
        }
        Ok(AuthenticationOutcome { user_present: true, flags: self.flags, counter: self.counter })
    }
}

/// A verified U2F authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticationOutcome {
    /// Always true: a response without user presence is refused.
    pub user_present: bool,
    /// The flags byte as signed.
    pub flags: u8,
    /// The counter the authenticator asserted.
    pub counter: u32,
}

impl AuthenticationOutcome {
    /// Judges the asserted counter against the stored one.
    pub fn counter_verdict(&self, stored: u32) -> CounterVerdict {
        CounterVerdict::judge(stored, self.counter)
    }
}

/// Parses and verifies an authentication response in one call.
pub fn verify_authentication(
    bytes: &[u8],
    key: &CredentialKey,
    app_param: &[u8; 32],
    challenge_param: &[u8; 32],
) -> Result<AuthenticationOutcome, VerifyError> {
    SignatureData::parse(bytes)?.verify(key, app_param, challenge_param)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::hazmat::PrehashSigner;

    fn signed_response(sk: &SigningKey, flags: u8, counter: u32, app: &[u8; 32], chal: &[u8; 32]) -> Vec<u8> {
        let unsigned = SignatureData {
            flags,
            counter,
            signature: Signature::from_scalars([1u8; 32], [1u8; 32]).unwrap(),
        };
        let sig: Signature = sk.sign_prehash(&unsigned.signed_digest(app, chal)).unwrap();
        let mut out = vec![flags];
        out.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(sig.to_der().as_bytes());
        out
    }

    #[test]
    fn user_presence_is_required() {
        let sk = SigningKey::from_slice(&[3u8; 32]).unwrap();
        let key =
            CredentialKey::from_sec1_uncompressed(sk.verifying_key().to_encoded_point(false).as_bytes())
                .unwrap();
        let (app, chal) = (app_param("example.com"), [9u8; 32]);
        let ok = verify_authentication(&signed_response(&sk, 1, 7, &app, &chal), &key, &app, &chal).unwrap();
        assert_eq!(ok, AuthenticationOutcome { user_present: true, flags: 1, counter: 7 });
        assert_eq!(ok.counter_verdict(7), CounterVerdict::PossibleClone { stored: 7, asserted: 7 });
        let err =
            verify_authentication(&signed_response(&sk, 0, 8, &app, &chal), &key, &app, &chal).unwrap_err();
        assert_eq!(err, VerifyError::UserNotPresent { flags: 0 });
        let err =
            verify_authentication(&signed_response(&sk, 1, 8, &app, &chal), &key, &chal, &app).unwrap_err();
        assert_eq!(err, VerifyError::BadSignature { what: Signed::Authentication });
    }

    #[test]
    fn layout_errors_name_the_field() {
        assert_eq!(
            RegistrationData::parse(&[0x04]),
            Err(VerifyError::ReservedByte { expected: 0x05, got: 0x04 })
        );
        assert_eq!(
            RegistrationData::parse(&[0x05, 0x04]),
            Err(VerifyError::Truncated { field: "user public key", needed: 65, available: 1 })
        );
        assert_eq!(
            SignatureData::parse(&[1, 0, 0]),
            Err(VerifyError::Truncated { field: "counter", needed: 4, available: 2 })
        );
        assert_eq!(
            SignatureData::parse(&[1, 0, 0, 0, 1]),
            Err(VerifyError::MalformedSignature { what: Signed::Authentication })
        );
    }
}
