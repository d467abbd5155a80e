//! Request parameters of a legacy REST call: decoded strictly from the query
//! string and the form body, merged, and signed.
//!
//! Old clients split one call between the query (`method`, `api_key`,
//! `session_key`, `v`) and the body (the rest), and sign all of it, so both
//! sources are merged before anything else looks at them.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use super::error::LegacyError;

/// Most parameters one call may carry; real calls have about ten.
pub(crate) const MAX_PARAMS: usize = 64;

/// The merged parameters of one call, keys unique, in arrival order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes and merges the query string and the
    /// `application/x-www-form-urlencoded` body. On refusal the error comes
    /// with the arguments as far as they could be read, for `request_args`.
    pub fn from_request(query: &[u8], body: &[u8]) -> Result<Self, (LegacyError, Vec<(String, String)>)> {
        let raw: Vec<(Vec<u8>, Vec<u8>)> = decode_pairs(query).chain(decode_pairs(body)).collect();
        let lossy = || {
            raw.iter()
                .map(|(k, v)| {
                    (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned())
                })
                .collect::<Vec<_>>()
        };
        if raw.len() > MAX_PARAMS {
            return Err((LegacyError::invalid(format!("more than {MAX_PARAMS} parameters")), Vec::new()));
        }
        let mut pairs: Vec<(String, String)> = Vec::with_capacity(raw.len());
        for (key, value) in &raw {
            let (Ok(key), Ok(value)) = (std::str::from_utf8(key), std::str::from_utf8(value)) else {
                return Err((LegacyError::invalid("parameters must be UTF-8"), lossy()));
            };
            if key.is_empty() {
                return Err((LegacyError::invalid("a parameter has an empty name"), lossy()));
            }
            match pairs.iter().find(|(k, _)| k == key) {
                Some((_, seen)) if seen == value => {}
                Some(_) => return Err((LegacyError::invalid(format!("{key} given twice")), lossy())),
                None => pairs.push((key.to_owned(), value.to_owned())),
            }
        }
        Ok(Self { pairs })
    }

    /// The value of `key`; a parameter sent empty counts as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// The value of `key` as sent, empty included.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Adds a pair the request implied without sending it (the method a
    /// `/method/{name}` path names), so the signature covers it too. A key
    /// already present is left as it is.
    pub(crate) fn imply(&mut self, key: &str, value: &str) {
        if self.raw(key).is_none() {
            self.pairs.push((key.to_owned(), value.to_owned()));
        }
    }

    /// Every pair as received, for echoing back in `request_args`.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The text the MD5 signature covers, without the secret: every `key=value`
    /// except `sig`, sorted by key, concatenated (values as decoded).
    pub(crate) fn signature_base(&self) -> String {
        let mut signed: Vec<&(String, String)> = self.pairs.iter().filter(|(k, _)| k != "sig").collect();
        signed.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        signed.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// The signature a client with `secret` would send for these parameters.
    pub fn expected_sig(&self, secret: &str) -> String {
        let mut md5 = Md5::new();
        md5.update(self.signature_base().as_bytes());
        md5.update(secret.as_bytes());
        hex::encode(md5.finalize())
    }

    /// Whether `sig` matches for `secret`, compared in constant time.
    pub fn sig_matches(&self, secret: &str) -> bool {
        let Some(given) = self.get("sig") else { return false };
        let given = given.to_ascii_lowercase();
        let expected = self.expected_sig(secret);
        given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    }
}

/// Splits `a=1&b=2` into decoded byte pairs: `+` is a space, `%XX` a byte,
/// a malformed escape stays as written (as PHP's decoder does), a segment
/// without `=` is a key with an empty value.
fn decode_pairs(input: &[u8]) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    input.split(|&b| b == b'&').filter(|segment| !segment.is_empty()).map(|segment| {
        let (key, value) = match segment.iter().position(|&b| b == b'=') {
            Some(at) => (&segment[..at], &segment[at + 1..]),
            None => (segment, &[][..]),
        };
        (percent_decode(key), percent_decode(value))
    })
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => match (input.get(i + 1).and_then(|&b| hex(b)), input.get(i + 2).and_then(|&b| hex(b))) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy::ErrorCode;
    use proptest::prelude::*;

    fn params(query: &str, body: &str) -> Params {
        Params::from_request(query.as_bytes(), body.as_bytes()).expect("valid parameters")
    }

    #[test]
    fn merges_query_and_body() {
        let p = params("method=auth.getSession&api_key=k", "auth_token=t%20x&v=1.0");
        assert_eq!(p.get("method"), Some("auth.getSession"));
        assert_eq!(p.get("auth_token"), Some("t x"));
        assert_eq!(p.pairs().len(), 4);
    }

    #[test]
    fn empty_values_are_absent_but_signed() {
        let p = params("session_key=&a=1", "");
        assert_eq!(p.get("session_key"), None);
        assert_eq!(p.signature_base(), "a=1session_key=");
    }

    #[test]
    fn same_value_twice_is_fine_different_is_error_100() {
        assert_eq!(params("a=1", "a=1").pairs().len(), 1);
        let (err, args) = Params::from_request(b"a=1", b"a=2").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameter);
        assert_eq!(args.len(), 2);
    }

    #[test]
    fn invalid_utf8_is_error_100_with_lossy_args() {
        let (err, args) = Params::from_request(b"a=%ff%fe", b"").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameter);
        assert_eq!(args[0].0, "a");
    }

    #[test]
    fn signature_matches_the_documented_algorithm() {
        // md5("api_key=abcmethod=auth.createTokenv=1.0" + "secret")
        let p = params("v=1.0&method=auth.createToken&api_key=abc", "");
        assert_eq!(p.signature_base(), "api_key=abcmethod=auth.createTokenv=1.0");
        let sig = p.expected_sig("secret");
        let mut md5 = Md5::new();
        md5.update(b"api_key=abcmethod=auth.createTokenv=1.0secret");
        assert_eq!(sig, hex::encode(md5.finalize()));
        let signed = params(&format!("v=1.0&method=auth.createToken&api_key=abc&sig={sig}"), "");
        assert!(signed.sig_matches("secret"));
        assert!(!signed.sig_matches("other"));
        let upper =
            params(&format!("v=1.0&method=auth.createToken&api_key=abc&sig={}", sig.to_uppercase()), "");
        assert!(upper.sig_matches("secret"));
    }

    #[test]
    fn malformed_escapes_stay_literal() {
        assert_eq!(params("a=%zz%4", "").get("a"), Some("%zz%4"));
        assert_eq!(params("a", "").pairs()[0], ("a".to_owned(), String::new()));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panic(query in proptest::collection::vec(any::<u8>(), 0..300),
                                          body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Params::from_request(&query, &body);
        }

        #[test]
        fn encoded_pairs_round_trip(pairs in proptest::collection::btree_map("[a-z_]{1,8}", "\\PC{0,12}", 0..8)) {
            let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
            let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
            let p = Params::from_request(query.join("&").as_bytes(), b"").expect("round trip");
            for (k, v) in &pairs {
                prop_assert_eq!(p.pairs().iter().find(|(pk, _)| pk == k).map(|(_, pv)| pv.as_str()), Some(v.as_str()));
            }
        }
    }
}
