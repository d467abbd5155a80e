//! CTAP2 responses: a status byte, then (on success) a CBOR map.
//!
//! The authenticator builds them with `encode` and [`reply`]; the host takes
//! them apart with [`split_status`] and `parse`, which check every field's
//! type and never trust a length the device declares.

use ciborium::Value;

use super::cbor::{self, CborError, IntMap, TextMap, ikey, tstr};
use super::{ES256, Status};

/// Why a device's CTAP2 response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The device answered with an error status.
    #[error("{0}")]
    Status(Status),
    /// The response has no status byte.
    #[error("the key sent an empty CTAP2 response")]
    Empty,
    /// The body is not the CBOR the command answers with.
    #[error("the key sent a malformed CTAP2 response: {0}")]
    Cbor(String),
    /// A required field is absent.
    #[error("the key's CTAP2 response lacks {0}")]
    Missing(&'static str),
    /// A field has the wrong type or size.
    #[error("the key's CTAP2 response has a malformed {0}")]
    Type(&'static str),
}

impl From<CborError> for ResponseError {
    fn from(e: CborError) -> Self {
        match e {
            CborError::Missing(what) => ResponseError::Missing(what),
            CborError::Type(what) => ResponseError::Type(what),
            other => ResponseError::Cbor(other.to_string()),
        }
    }
}

/// What an authenticator sends: the status byte, then the body.
pub fn reply(status: Status, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + body.len());
    out.push(status.0);
    out.extend_from_slice(body);
    out
}

/// The body of a successful response; an error status is returned as such.
pub fn split_status(payload: &[u8]) -> Result<&[u8], ResponseError> {
    match payload.split_first() {
        None => Err(ResponseError::Empty),
        Some((&0, body)) => Ok(body),
        Some((&status, _)) => Err(ResponseError::Status(Status(status))),
    }
}

fn body_map(body: &[u8]) -> Result<Value, ResponseError> {
    let value = cbor::decode(body)?;
    if value.as_map().is_none() {
        return Err(ResponseError::Type("response map"));
    }
    Ok(value)
}

fn texts(value: Option<&Value>, what: &'static str) -> Result<Vec<String>, CborError> {
    value.map_or(Ok(Vec::new()), |v| {
        cbor::array(v, what)?.iter().map(|t| cbor::text(t, what).map(str::to_owned)).collect()
    })
}

fn push_uint(entries: &mut Vec<(Value, Value)>, at: u8, v: Option<u64>) {
    if let Some(v) = v {
        entries.push((ikey(at), Value::Integer(v.into())));
    }
}

fn aaguid(value: &Value) -> Result<[u8; 16], CborError> {
    cbor::bytes(value, "aaguid")?.try_into().map_err(|_| CborError::Type("aaguid"))
}

/// authenticatorGetInfo's answer (CTAP 2.1 §6.4), the fields a host uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetInfo {
    /// "U2F_V2", "FIDO_2_0", "FIDO_2_1"…
    pub versions: Vec<String>,
    /// Extension identifiers.
    pub extensions: Vec<String>,
    /// The model of key.
    pub aaguid: [u8; 16],
    /// Options and whether each is on ("rk", "up", "uv", "plat", "clientPin"…).
    pub options: Vec<(String, bool)>,
    /// Largest message the key takes.
    pub max_msg_size: Option<u64>,
    /// PIN/UV auth protocols supported.
    pub pin_uv_auth_protocols: Vec<u64>,
    /// Most credential ids the key takes in one list.
    pub max_credential_count_in_list: Option<u64>,
    /// Longest credential id the key takes.
    pub max_credential_id_length: Option<u64>,
    /// "usb", "nfc"…
    pub transports: Vec<String>,
    /// COSE algorithms of `public-key` credentials, in order of preference.
    pub algorithms: Vec<i64>,
}

impl GetInfo {
    /// Whether option `name` is present and on.
    pub fn option(&self, name: &str) -> Option<bool> {
        self.options.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The CBOR body.
    pub fn encode(&self) -> Vec<u8> {
        let strings = |list: &[String]| Value::Array(list.iter().map(|s| tstr(s)).collect());
        let mut entries = vec![(ikey(0x01), strings(&self.versions))];
        if !self.extensions.is_empty() {
            entries.push((ikey(0x02), strings(&self.extensions)));
        }
        entries.push((ikey(0x03), Value::Bytes(self.aaguid.to_vec())));
        if !self.options.is_empty() {
            let options = self.options.iter().map(|(n, v)| (tstr(n), Value::Bool(*v))).collect();
            entries.push((ikey(0x04), Value::Map(options)));
        }
        push_uint(&mut entries, 0x05, self.max_msg_size);
        if !self.pin_uv_auth_protocols.is_empty() {
            let list = self.pin_uv_auth_protocols.iter().map(|p| Value::Integer((*p).into())).collect();
            entries.push((ikey(0x06), Value::Array(list)));
        }
        push_uint(&mut entries, 0x07, self.max_credential_count_in_list);
        push_uint(&mut entries, 0x08, self.max_credential_id_length);
        if !self.transports.is_empty() {
            entries.push((ikey(0x09), strings(&self.transports)));
        }
        if !self.algorithms.is_empty() {
            let algs = self
                .algorithms
                .iter()
                .map(|a| {
                    Value::Map(vec![
                        (tstr("alg"), Value::Integer((*a).into())),
                        (tstr("type"), tstr("public-key")),
                    ])
                })
                .collect();
            entries.push((ikey(0x0a), Value::Array(algs)));
        }
        cbor::encode(&Value::Map(entries))
    }

    /// Reads the CBOR body.
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let value = body_map(body)?;
        let map = IntMap::new(&value, "getInfo response")?;
        let options = match map.get(0x04) {
            Some(v) => TextMap::new(v, "options")?
                .entries()
                .map(|(n, v)| cbor::boolean(v, "options").map(|v| (n.to_owned(), v)))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let uint = |at, what| map.get(at).map(|v| cbor::uint(v, what)).transpose();
        let mut algorithms = Vec::new();
        if let Some(list) = map.get(0x0a) {
            for item in cbor::array(list, "algorithms")? {
                let param = TextMap::new(item, "algorithms")?;
                if param.get("type").and_then(Value::as_text) == Some("public-key")
                    && let Some(alg) = param.get("alg")
                {
                    algorithms.push(cbor::int(alg, "algorithms")?);
                }
            }
        }
        Ok(GetInfo {
            versions: texts(Some(map.require(0x01, "versions")?), "versions")?,
            extensions: texts(map.get(0x02), "extensions")?,
            aaguid: aaguid(map.require(0x03, "aaguid")?)?,
            options,
            max_msg_size: uint(0x05, "maxMsgSize")?,
            pin_uv_auth_protocols: map.get(0x06).map_or(Ok(Vec::new()), |v| {
                cbor::array(v, "pinUvAuthProtocols")?
                    .iter()
                    .map(|p| cbor::uint(p, "pinUvAuthProtocols"))
                    .collect()
            })?,
            max_credential_count_in_list: uint(0x07, "maxCredentialCountInList")?,
            max_credential_id_length: uint(0x08, "maxCredentialIdLength")?,
            transports: texts(map.get(0x09), "transports")?,
            algorithms,
        })
    }
}

/// authenticatorMakeCredential's answer: an attestation object in CTAP2's
/// integer-keyed shape.
#[derive(Debug, Clone, PartialEq)]
pub struct MakeCredentialResponse {
    /// Attestation statement format ("packed", "fido-u2f", "none"…).
    pub fmt: String,
    /// The authenticator data, with the attested credential.
    pub auth_data: Vec<u8>,
    /// The attestation statement, in the format's own shape.
    pub att_stmt: Value,
}

impl MakeCredentialResponse {
    /// A `packed` attestation: ES256 signature over authData || clientDataHash,
    /// with the certificate chain `x5c`, or self attestation when it is empty.
    pub fn packed(auth_data: Vec<u8>, sig: Vec<u8>, x5c: Vec<Vec<u8>>) -> Self {
        let mut stmt = vec![(tstr("alg"), Value::Integer(ES256.into())), (tstr("sig"), Value::Bytes(sig))];
        if !x5c.is_empty() {
            stmt.push((tstr("x5c"), Value::Array(x5c.into_iter().map(Value::Bytes).collect())));
        }
        MakeCredentialResponse { fmt: "packed".to_owned(), auth_data, att_stmt: Value::Map(stmt) }
    }

    /// The WebAuthn attestationObject (`{fmt, attStmt, authData}`), canonical,
    /// as a server expects it from `navigator.credentials.create`.
    pub fn attestation_object(&self) -> Vec<u8> {
        cbor::encode(&Value::Map(vec![
            (tstr("fmt"), tstr(&self.fmt)),
            (tstr("attStmt"), self.att_stmt.clone()),
            (tstr("authData"), Value::Bytes(self.auth_data.clone())),
        ]))
    }

    /// The CBOR body.
    pub fn encode(&self) -> Vec<u8> {
        cbor::encode(&Value::Map(vec![
            (ikey(0x01), tstr(&self.fmt)),
            (ikey(0x02), Value::Bytes(self.auth_data.clone())),
            (ikey(0x03), self.att_stmt.clone()),
        ]))
    }

    /// Reads the CBOR body.
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let value = body_map(body)?;
        let map = IntMap::new(&value, "makeCredential response")?;
        let att_stmt = map.require(0x03, "attStmt")?;
        TextMap::new(att_stmt, "attStmt")?;
        Ok(MakeCredentialResponse {
            fmt: cbor::text(map.require(0x01, "fmt")?, "fmt")?.to_owned(),
            auth_data: cbor::bytes(map.require(0x02, "authData")?, "authData")?.to_vec(),
            att_stmt: att_stmt.clone(),
        })
    }
}

/// authenticatorGetAssertion's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAssertionResponse {
    /// The credential that signed (optional when the allow list had one entry).
    pub credential_id: Option<Vec<u8>>,
    /// The authenticator data.
    pub auth_data: Vec<u8>,
    /// ECDSA signature (DER) over authData || clientDataHash.
    pub signature: Vec<u8>,
    /// The user handle, for discoverable credentials.
    pub user_id: Option<Vec<u8>>,
    /// How many credentials matched, for discoverable credentials.
    pub number_of_credentials: Option<u64>,
}

impl GetAssertionResponse {
    /// The CBOR body.
    pub fn encode(&self) -> Vec<u8> {
        let mut entries = Vec::new();
        if let Some(id) = &self.credential_id {
            entries.push((
                ikey(0x01),
                Value::Map(vec![(tstr("id"), Value::Bytes(id.clone())), (tstr("type"), tstr("public-key"))]),
            ));
        }
        entries.push((ikey(0x02), Value::Bytes(self.auth_data.clone())));
        entries.push((ikey(0x03), Value::Bytes(self.signature.clone())));
        if let Some(user) = &self.user_id {
            entries.push((ikey(0x04), Value::Map(vec![(tstr("id"), Value::Bytes(user.clone()))])));
        }
        if let Some(n) = self.number_of_credentials {
            entries.push((ikey(0x05), Value::Integer(n.into())));
        }
        cbor::encode(&Value::Map(entries))
    }

    /// Reads the CBOR body.
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let value = body_map(body)?;
        let map = IntMap::new(&value, "getAssertion response")?;
        let credential_id = match map.get(0x01) {
            Some(c) => {
                let c = TextMap::new(c, "credential")?;
                Some(
                    cbor::bytes(c.get("id").ok_or(CborError::Missing("credential.id"))?, "credential.id")?
                        .to_vec(),
                )
            }
            None => None,
        };
        let user_id = match map.get(0x04) {
            Some(u) => {
                let u = TextMap::new(u, "user")?;
                Some(cbor::bytes(u.get("id").ok_or(CborError::Missing("user.id"))?, "user.id")?.to_vec())
            }
            None => None,
        };
        Ok(GetAssertionResponse {
            credential_id,
            auth_data: cbor::bytes(map.require(0x02, "authData")?, "authData")?.to_vec(),
            signature: cbor::bytes(map.require(0x03, "signature")?, "signature")?.to_vec(),
            user_id,
            number_of_credentials: map.get(0x05).map(|v| cbor::uint(v, "numberOfCredentials")).transpose()?,
        })
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
