//! Authenticator data (WebAuthn §6.1): what the key signs besides the
//! client data hash. `rpIdHash(32) || flags(1) || signCount(4)`, then, with
//! the AT flag, the attested credential (`aaguid(16) || idLen(2) || id ||
//! COSE key`), then, with the ED flag, an extensions map.

use ciborium::Value;

use super::cbor::{self, CborError};
use super::cose;

/// The flag bits of authenticator data.
pub mod flags {
    /// User present: somebody touched the key.
    pub const UP: u8 = 0x01;
    /// User verified (PIN or biometrics); never set by a U2F-style key.
    pub const UV: u8 = 0x04;
    /// Attested credential data follows.
    pub const AT: u8 = 0x40;
    /// An extensions map follows.
    pub const ED: u8 = 0x80;
}

/// The credential a registration creates, as the key announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredential {
    /// The model of key (all zero when the key does not say).
    pub aaguid: [u8; 16],
    /// The credential id (for a U2F-compatible key, its key handle).
    pub credential_id: Vec<u8>,
    /// The P-256 public key, SEC1 uncompressed (65 bytes).
    pub public_key: [u8; 65],
}

/// Parsed authenticator data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData {
    /// SHA-256 of the RP ID (equal to U2F's application parameter).
    pub rp_id_hash: [u8; 32],
    /// [`flags`] bits.
    pub flags: u8,
    /// The signature counter.
    pub sign_count: u32,
    /// Present exactly when the AT flag is set.
    pub attested: Option<AttestedCredential>,
    /// The raw extensions map, present exactly when the ED flag is set.
    pub extensions: Option<Vec<u8>>,
}

/// Why authenticator data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthDataError {
    /// Shorter than its fixed part or than a length it declares.
    #[error("authenticator data cut short: {0}")]
    Short(&'static str),
    /// Bytes left over after everything the flags announce.
    #[error("{0} bytes after the end of the authenticator data")]
    Trailing(usize),
    /// The credential public key is not an ES256 COSE key.
    #[error("credential public key: {0}")]
    Key(String),
    /// The extensions are not a CBOR map.
    #[error("authenticator data extensions: {0}")]
    Extensions(CborError),
}

impl AuthenticatorData {
    /// The bytes the key signs (and the host passes on untouched).
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(37 + self.attested.as_ref().map_or(0, |a| 18 + a.credential_id.len() + 77));
        out.extend_from_slice(&self.rp_id_hash);
        let mut flags = self.flags & !(flags::AT | flags::ED);
        if self.attested.is_some() {
            flags |= flags::AT;
        }
        if self.extensions.is_some() {
            flags |= flags::ED;
        }
        out.push(flags);
        out.extend_from_slice(&self.sign_count.to_be_bytes());
        if let Some(attested) = &self.attested {
            out.extend_from_slice(&attested.aaguid);
            // Credential ids this crate makes are far below 64 KiB.
            out.extend_from_slice(&(attested.credential_id.len() as u16).to_be_bytes());
            out.extend_from_slice(&attested.credential_id);
            out.extend_from_slice(&cose::encode_es256(&attested.public_key));
        }
        if let Some(extensions) = &self.extensions {
            out.extend_from_slice(extensions);
        }
        out
    }

    /// Reads authenticator data, checking that the flags and the bytes agree.
    pub fn parse(bytes: &[u8]) -> Result<Self, AuthDataError> {
        let fixed = bytes.get(..37).ok_or(AuthDataError::Short("fewer than 37 bytes"))?;
        let mut rp_id_hash = [0u8; 32];
        rp_id_hash.copy_from_slice(&fixed[..32]);
        let flags = fixed[32];
        let sign_count = u32::from_be_bytes([fixed[33], fixed[34], fixed[35], fixed[36]]);
        let mut rest = &bytes[37..];
        let attested = if flags & flags::AT != 0 {
            let aaguid: [u8; 16] = rest
                .get(..16)
                .and_then(|a| a.try_into().ok())
                .ok_or(AuthDataError::Short("attested credential data"))?;
            let len = rest
                .get(16..18)
                .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
                .ok_or(AuthDataError::Short("credential id length"))?;
            let credential_id = rest.get(18..18 + len).ok_or(AuthDataError::Short("credential id"))?.to_vec();
            rest = &rest[18 + len..];
            let key = cbor::decode_prefix(&mut rest).map_err(|e| AuthDataError::Key(e.to_string()))?;
            let public_key = cose::parse_es256(&key).map_err(|e| AuthDataError::Key(e.to_string()))?;
            Some(AttestedCredential { aaguid, credential_id, public_key })
        } else {
            None
        };
        let extensions = if flags & flags::ED != 0 {
            let start = rest;
            let map = cbor::decode_prefix(&mut rest).map_err(AuthDataError::Extensions)?;
            if !matches!(map, Value::Map(_)) {
                return Err(AuthDataError::Extensions(CborError::Type("extensions")));
            }
            Some(start[..start.len() - rest.len()].to_vec())
        } else {
            None
        };
        if !rest.is_empty() {
            return Err(AuthDataError::Trailing(rest.len()));
        }
        Ok(AuthenticatorData { rp_id_hash, flags, sign_count, attested, extensions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuthenticatorData {
        let mut public_key = [7u8; 65];
        public_key[0] = 4;
        AuthenticatorData {
            rp_id_hash: [1; 32],
            flags: flags::UP,
            sign_count: 0x0102_0304,
            attested: Some(AttestedCredential { aaguid: [9; 16], credential_id: vec![5; 61], public_key }),
            extensions: Some(vec![0xa1, 0x61, b'x', 0xf5]),
        }
    }

    #[test]
    fn round_trips_and_sets_the_flags_from_the_content() {
        let data = sample();
        let bytes = data.encode();
        assert_eq!(bytes[32], flags::UP | flags::AT | flags::ED);
        assert_eq!(&bytes[33..37], &[1, 2, 3, 4]);
        let parsed = AuthenticatorData::parse(&bytes).unwrap();
        assert_eq!(parsed.attested, data.attested);
        assert_eq!(parsed.extensions, data.extensions);
        let plain = AuthenticatorData { attested: None, extensions: None, ..data };
        assert_eq!(AuthenticatorData::parse(&plain.encode()).unwrap().flags, flags::UP);
    }

    #[test]
    fn every_cut_and_every_extra_byte_is_refused() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(AuthenticatorData::parse(&bytes[..len]).is_err(), "{len} bytes");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(AuthenticatorData::parse(&long), Err(AuthDataError::Trailing(1)));
    }
}
