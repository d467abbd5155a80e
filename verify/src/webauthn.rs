//! WebAuthn assertions (Web Authentication Level 2, §7.2), ES256 only.
//!
//! The browser path signs `authenticatorData || SHA-256(clientDataJSON)`.
//! `authenticatorData` is `rpIdHash (32) || flags (1) || signCount (4, BE)`
//! then extensions when the ED flag is set. Because keygate registers raw
//! U2F keys with the application parameter SHA-256(rp_id), the same
//! [`CredentialKey`] verifies both paths, and the counter rule is shared.

use sha2::{Digest, Sha256};

use super::client_data::{ClientData, ClientDataExpectation, WEBAUTHN_GET};
use super::counter::CounterVerdict;
use super::error::{Signed, VerifyError};
use super::key::{CredentialKey, parse_der_signature};

/// User present.
pub const FLAG_UP: u8 = 0x01;
/// User verified.
pub const FLAG_UV: u8 = 0x04;
/// Attested credential data included (registration only).
pub const FLAG_AT: u8 = 0x40;
/// Extension data included.
pub const FLAG_ED: u8 = 0x80;

/// Length of the fixed part of authenticator data.
pub const AUTHENTICATOR_DATA_MIN_LEN: usize = 37;

/// The authenticator data of an assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatorData<'a> {
    /// SHA-256 of the RP ID the authenticator scoped the credential to.
    pub rp_id_hash: [u8; 32],
    /// The flags byte.
    pub flags: u8,
    /// The signature counter.
    pub sign_count: u32,
    /// CBOR extension outputs, present when ED is set (not interpreted).
    pub extensions: &'a [u8],
}

/// CBOR major type 5, a map: what the extensions of authenticator data are.
const CBOR_MAP_MAJOR_TYPE: u8 = 5;

impl<'a> AuthenticatorData<'a> {
    /// Parses assertion authenticator data: attested credential data is
    /// refused (it belongs to registrations), and bytes after the counter
    /// are only allowed as extensions.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, VerifyError> {
        let Some((fixed, extensions)) = bytes.split_first_chunk::<AUTHENTICATOR_DATA_MIN_LEN>() else {
            return Err(VerifyError::Truncated {
                field: "authenticator data",
                needed: AUTHENTICATOR_DATA_MIN_LEN,
                available: bytes.len(),
            });
        };
        let mut rp_id_hash = [0u8; 32];
        rp_id_hash.copy_from_slice(&fixed[..32]);
        let flags = fixed[32];
        let sign_count = u32::from_be_bytes([fixed[33], fixed[34], fixed[35], fixed[36]]);
        if flags & FLAG_AT != 0 {
            return Err(VerifyError::UnexpectedAttestedCredential { flags });
        }
        if flags & FLAG_ED == 0 && !extensions.is_empty() {
            return Err(VerifyError::TrailingBytes { field: "authenticator data", extra: extensions.len() });
        }
        // ED promises a CBOR map of extension outputs: at least its header.
        if flags & FLAG_ED != 0 && extensions.first().is_none_or(|b| b >> 5 != CBOR_MAP_MAJOR_TYPE) {
            return Err(VerifyError::Truncated {
                field: "authenticator data extensions (a CBOR map, as the ED flag says)",
                needed: AUTHENTICATOR_DATA_MIN_LEN + 1,
                available: bytes.len(),
            });
        }
        Ok(AuthenticatorData { rp_id_hash, flags, sign_count, extensions })
    }
}

/// What the relying party expects of an assertion.
#[derive(Debug, Clone, Copy)]
pub struct AssertionExpectation<'a> {
    /// SHA-256 of the configured RP ID.
    pub rp_id_hash: &'a [u8; 32],
    /// The challenge issued and the origins served.
    pub client_data: ClientDataExpectation<'a>,
    /// Require the UV flag (keygate asks for user presence only).
    pub user_verification_required: bool,
}

/// A verified WebAuthn assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssertionOutcome {
    /// Always true: an assertion without user presence is refused.
    pub user_present: bool,
    /// The UV flag.
    pub user_verified: bool,
    /// The flags byte as signed.
    pub flags: u8,
    /// The counter the authenticator asserted.
    pub counter: u32,
}

impl AssertionOutcome {
    /// Judges the asserted counter against the stored one.
    pub fn counter_verdict(&self, stored: u32) -> CounterVerdict {
        CounterVerdict::judge(stored, self.counter)
    }
}

/// Verifies an assertion: client data (type `webauthn.get`, challenge,
/// origin, not cross-origin), rpIdHash, the ES256 signature over
/// `authenticatorData || SHA-256(clientDataJSON)`, then UP (and UV when
/// required).
pub fn verify_assertion(
    key: &CredentialKey,
    authenticator_data: &[u8],
    client_data_json: &[u8],
    signature_der: &[u8],
    expect: &AssertionExpectation<'_>,
) -> Result<AssertionOutcome, VerifyError> {
    let auth = AuthenticatorData::parse(authenticator_data)?;
    let client_data = ClientData::parse_webauthn(client_data_json)?;
    let signature = parse_der_signature(signature_der, Signed::Assertion)?;
    client_data.check(WEBAUTHN_GET, &expect.client_data)?;
    if auth.rp_id_hash != *expect.rp_id_hash {
        return Err(VerifyError::RpIdHash {
            expected: hex::encode(expect.rp_id_hash),
            got: hex::encode(auth.rp_id_hash),
        });
    }
    let digest: [u8; 32] =
        Sha256::new().chain_update(authenticator_data).chain_update(client_data.hash).finalize().into();
    if !key.verify_digest(&digest, &signature) {
        return Err(VerifyError::BadSignature { what: Signed::Assertion });
    }
    if auth.flags & FLAG_UP == 0 {
        return Err(VerifyError::UserNotPresent { flags: auth.flags });
    }
    let user_verified = auth.flags & FLAG_UV != 0;
    if expect.user_verification_required && !user_verified {
        return Err(VerifyError::UserNotVerified { flags: auth.flags });
    }
    Ok(AssertionOutcome { user_present: true, user_verified, flags: auth.flags, counter: auth.sign_count })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_data::WEBSAFE;
    use crate::u2f::app_param;
    use base64::Engine as _;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};

    struct Fixture {
        sk: SigningKey,
        key: CredentialKey,
        rp: [u8; 32],
        origins: Vec<String>,
        challenge: Vec<u8>,
    }

    impl Fixture {
        fn new() -> Self {
            let sk = SigningKey::from_slice(&[5u8; 32]).unwrap();
            let key =
                CredentialKey::from_sec1_uncompressed(sk.verifying_key().to_encoded_point(false).as_bytes())
                    .unwrap();
            Fixture {
                sk,
                key,
                rp: app_param("localhost"),
                origins: vec!["http://localhost:8080".into()],
                challenge: vec![0xab; 32],
            }
        }

        fn expect(&self, uv: bool) -> AssertionExpectation<'_> {
            AssertionExpectation {
                rp_id_hash: &self.rp,
                client_data: ClientDataExpectation {
                    challenge: &self.challenge,
                    allowed_origins: &self.origins,
                },
                user_verification_required: uv,
            }
        }

        fn assertion(
            &self,
            rp: &[u8; 32],
            flags: u8,
            count: u32,
            origin: &str,
        ) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
            let mut auth = rp.to_vec();
            auth.push(flags);
            auth.extend_from_slice(&count.to_be_bytes());
            let cdj = format!(
                r#"{{"type":"webauthn.get","challenge":"{}","origin":"{origin}","crossOrigin":false}}"#,
                WEBSAFE.encode(&self.challenge)
            )
            .into_bytes();
            let mut signed = auth.clone();
            signed.extend_from_slice(&Sha256::digest(&cdj));
            let sig: Signature = self.sk.sign(&signed);
            (auth, cdj, sig.to_der().as_bytes().to_vec())
        }
    }

    #[test]
    fn a_good_assertion_verifies_and_reports_flags() {
        let f = Fixture::new();
        let (auth, cdj, sig) = f.assertion(&f.rp, FLAG_UP | FLAG_UV, 42, "http://localhost:8080");
        let out = verify_assertion(&f.key, &auth, &cdj, &sig, &f.expect(true)).unwrap();
        assert_eq!(out, AssertionOutcome { user_present: true, user_verified: true, flags: 5, counter: 42 });
        assert!(out.counter_verdict(41).is_accept());
    }

    #[test]
    fn each_check_fails_on_its_own() {
        let f = Fixture::new();
        let (auth, cdj, sig) = f.assertion(&app_param("evil.example"), FLAG_UP, 1, "http://localhost:8080");
        let err = verify_assertion(&f.key, &auth, &cdj, &sig, &f.expect(false)).unwrap_err();
        assert!(matches!(err, VerifyError::RpIdHash { .. }), "{err}");

        let (auth, cdj, sig) = f.assertion(&f.rp, 0, 1, "http://localhost:8080");
        let err = verify_assertion(&f.key, &auth, &cdj, &sig, &f.expect(false)).unwrap_err();
        assert_eq!(err, VerifyError::UserNotPresent { flags: 0 });

        let (auth, cdj, sig) = f.assertion(&f.rp, FLAG_UP, 1, "http://localhost:8080");
        let err = verify_assertion(&f.key, &auth, &cdj, &sig, &f.expect(true)).unwrap_err();
        assert_eq!(err, VerifyError::UserNotVerified { flags: FLAG_UP });

        let (auth, cdj, sig) = f.assertion(&f.rp, FLAG_UP, 1, "http://127.0.0.1:8080");
        let err = verify_assertion(&f.key, &auth, &cdj, &sig, &f.expect(false)).unwrap_err();
        assert!(matches!(err, VerifyError::Origin { .. }));

        let (mut auth, cdj, sig) = f.assertion(&f.rp, FLAG_UP, 1, "http://localhost:8080");
        auth[36] ^= 1;
        let err = verify_assertion(&f.key, &auth, &cdj, &sig, &f.expect(false)).unwrap_err();
        assert_eq!(err, VerifyError::BadSignature { what: Signed::Assertion });
    }

    #[test]
    fn authenticator_data_layout() {
        let mut bytes = vec![0u8; 37];
        assert_eq!(AuthenticatorData::parse(&bytes).unwrap().extensions, &[] as &[u8]);
        assert!(matches!(AuthenticatorData::parse(&bytes[..36]), Err(VerifyError::Truncated { .. })));
        bytes.push(0xa0);
        assert!(matches!(AuthenticatorData::parse(&bytes), Err(VerifyError::TrailingBytes { extra: 1, .. })));
        bytes[32] = FLAG_ED | FLAG_UP;
        assert_eq!(AuthenticatorData::parse(&bytes).unwrap().extensions, &[0xa0]);
        // ED without the extensions map, or with something else, is refused.
        assert!(matches!(AuthenticatorData::parse(&bytes[..37]), Err(VerifyError::Truncated { .. })));
        bytes[37] = 0x80;
        assert!(matches!(AuthenticatorData::parse(&bytes), Err(VerifyError::Truncated { .. })));
        bytes[37] = 0xa0;
        bytes[32] = FLAG_AT | FLAG_UP;
        assert!(matches!(
            AuthenticatorData::parse(&bytes),
            Err(VerifyError::UnexpectedAttestedCredential { .. })
        ));
    }
}
