//! CTAP2 requests (CTAP 2.1 §6): the authenticator commands a U2F-style
//! security key needs — makeCredential, getAssertion, getInfo, reset.
//!
//! [`Request::encode`] is the host's half (command byte, then canonical
//! CBOR); [`Request::parse`] is the authenticator's, and its error is the
//! status to answer. Parsing is structural: which options and algorithms
//! an authenticator supports is its own policy.

use ciborium::Value;

use super::cbor::{self, CborError, IntMap, TextMap, ikey, tstr};
use super::{Status, command};

/// Longest user handle WebAuthn allows.
pub const MAX_USER_ID: usize = 64;

/// The relying party a credential is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// The RP ID (a domain), hashed into the credential's scope.
    pub id: String,
    /// A name to show, if any.
    pub name: Option<String>,
}

/// The account a credential is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user handle (at most [`MAX_USER_ID`] bytes).
    pub id: Vec<u8>,
    /// The account name, if given.
    pub name: Option<String>,
    /// The name to show, if given.
    pub display_name: Option<String>,
}

/// The `options` map; absent keys take the command's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Resident (discoverable) key.
    pub rk: Option<bool>,
    /// User presence (a touch).
    pub up: Option<bool>,
    /// User verification (PIN or biometrics).
    pub uv: Option<bool>,
}

/// authenticatorMakeCredential (0x01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeCredential {
    /// SHA-256 of the clientDataJSON the host built.
    pub client_data_hash: [u8; 32],
    /// The relying party.
    pub rp: RelyingParty,
    /// The account.
    pub user: User,
    /// The COSE algorithms of the `public-key` entries of pubKeyCredParams, in order of preference.
    pub algorithms: Vec<i64>,
    /// Credential ids the key must not already hold (`public-key` entries only).
    pub exclude_list: Vec<Vec<u8>>,
    /// The options.
    pub options: Options,
    /// pinUvAuthParam; a zero-length one asks "touch me" before a PIN prompt.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
}

/// authenticatorGetAssertion (0x02).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAssertion {
    /// The RP ID.
    pub rp_id: String,
    /// SHA-256 of the clientDataJSON the host built.
    pub client_data_hash: [u8; 32],
    /// Credential ids that may sign (`public-key` entries only).
    pub allow_list: Vec<Vec<u8>>,
    /// The options.
    pub options: Options,
    /// pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
}

/// One CTAP2 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Create a credential.
    MakeCredential(MakeCredential),
    /// Sign with a credential.
    GetAssertion(GetAssertion),
    /// Describe the authenticator.
    GetInfo,
    /// Forget every credential.
    Reset,
}

impl Request {
    /// The CTAPHID CBOR payload: command byte, then canonical CBOR parameters.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::MakeCredential(r) => with_command(command::MAKE_CREDENTIAL, &r.to_cbor()),
            Request::GetAssertion(r) => with_command(command::GET_ASSERTION, &r.to_cbor()),
            Request::GetInfo => vec![command::GET_INFO],
            Request::Reset => vec![command::RESET],
        }
    }

    /// Reads a CTAPHID CBOR payload; the error is the status to answer.
    pub fn parse(payload: &[u8]) -> Result<Request, Status> {
        let (&cmd, params) = payload.split_first().ok_or(Status::INVALID_LENGTH)?;
        match cmd {
            command::GET_INFO => Ok(Request::GetInfo),
            command::RESET => Ok(Request::Reset),
            command::MAKE_CREDENTIAL => MakeCredential::from_cbor(&decode_params(params)?)
                .map(Request::MakeCredential)
                .map_err(status),
            command::GET_ASSERTION => {
                GetAssertion::from_cbor(&decode_params(params)?).map(Request::GetAssertion).map_err(status)
            }
            _ => Err(Status::INVALID_COMMAND),
        }
    }
}

fn with_command(cmd: u8, params: &Value) -> Vec<u8> {
    let mut out = vec![cmd];
    out.extend_from_slice(&cbor::encode(params));
    out
}

fn decode_params(params: &[u8]) -> Result<Value, Status> {
    if params.is_empty() {
        return Err(Status::MISSING_PARAMETER);
    }
    cbor::decode(params).map_err(|_| Status::INVALID_CBOR)
}

/// The status an authenticator answers for a structural error.
fn status(e: CborError) -> Status {
    match e {
        CborError::Invalid(_) | CborError::DuplicateKey => Status::INVALID_CBOR,
        CborError::Type(_) => Status::CBOR_UNEXPECTED_TYPE,
        CborError::Missing(_) => Status::MISSING_PARAMETER,
    }
}

fn hash(value: &Value) -> Result<[u8; 32], CborError> {
    // A hash of another length is a wrong value, not a wrong type; both are refused.
    cbor::bytes(value, "clientDataHash")?.try_into().map_err(|_| CborError::Type("clientDataHash"))
}

fn opt_text(map: &TextMap<'_>, name: &'static str) -> Result<Option<String>, CborError> {
    map.get(name).map(|v| cbor::text(v, name).map(str::to_owned)).transpose()
}

/// `public-key` credential descriptors' ids; descriptors of other types are skipped.
fn descriptors(value: Option<&Value>, what: &'static str) -> Result<Vec<Vec<u8>>, CborError> {
    let Some(value) = value else { return Ok(Vec::new()) };
    let mut ids = Vec::new();
    for item in cbor::array(value, what)? {
        let d = TextMap::new(item, what)?;
        let kind = cbor::text(d.get("type").ok_or(CborError::Missing(what))?, what)?;
        let id = cbor::bytes(d.get("id").ok_or(CborError::Missing(what))?, what)?;
        if kind == "public-key" {
            ids.push(id.to_vec());
        }
    }
    Ok(ids)
}

fn descriptors_to_cbor(ids: &[Vec<u8>]) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| {
                Value::Map(vec![(tstr("id"), Value::Bytes(id.clone())), (tstr("type"), tstr("public-key"))])
            })
            .collect(),
    )
}

impl Options {
    fn from_cbor(value: Option<&Value>) -> Result<Options, CborError> {
        let mut options = Options::default();
        let Some(value) = value else { return Ok(options) };
        for (name, v) in TextMap::new(value, "options")?.entries() {
            let slot = match name {
                "rk" => &mut options.rk,
                "up" => &mut options.up,
                "uv" => &mut options.uv,
                // Options this crate does not know are the authenticator's to ignore.
                _ => continue,
            };
            *slot = Some(cbor::boolean(v, "options")?);
        }
        Ok(options)
    }

    fn to_cbor(self) -> Option<Value> {
        let entries: Vec<(Value, Value)> = [("rk", self.rk), ("up", self.up), ("uv", self.uv)]
            .into_iter()
            .filter_map(|(name, v)| v.map(|v| (tstr(name), Value::Bool(v))))
            .collect();
        (!entries.is_empty()).then_some(Value::Map(entries))
    }
}

fn pin_fields(
    map: &IntMap<'_>,
    param: u8,
    protocol: u8,
) -> Result<(Option<Vec<u8>>, Option<u64>), CborError> {
    Ok((
        map.get(param).map(|v| cbor::bytes(v, "pinUvAuthParam").map(<[u8]>::to_vec)).transpose()?,
        map.get(protocol).map(|v| cbor::uint(v, "pinUvAuthProtocol")).transpose()?,
    ))
}

fn push_pin_fields(
    entries: &mut Vec<(Value, Value)>,
    at: u8,
    param: &Option<Vec<u8>>,
    protocol: Option<u64>,
) {
    if let Some(param) = param {
        entries.push((ikey(at), Value::Bytes(param.clone())));
    }
    if let Some(protocol) = protocol {
        entries.push((ikey(at + 1), Value::Integer(protocol.into())));
    }
}

impl MakeCredential {
    fn from_cbor(value: &Value) -> Result<Self, CborError> {
        let map = IntMap::new(value, "makeCredential parameters")?;
        let client_data_hash = hash(map.require(0x01, "clientDataHash")?)?;
        let rp = TextMap::new(map.require(0x02, "rp")?, "rp")?;
        let rp = RelyingParty {
            id: cbor::text(rp.get("id").ok_or(CborError::Missing("rp.id"))?, "rp.id")?.to_owned(),
            name: opt_text(&rp, "name")?,
        };
        let user = TextMap::new(map.require(0x03, "user")?, "user")?;
        let id = cbor::bytes(user.get("id").ok_or(CborError::Missing("user.id"))?, "user.id")?;
        if id.len() > MAX_USER_ID {
            return Err(CborError::Type("user.id"));
        }
        let user = User {
            id: id.to_vec(),
            name: opt_text(&user, "name")?,
            display_name: opt_text(&user, "displayName")?,
        };
        let mut algorithms = Vec::new();
        for item in cbor::array(map.require(0x04, "pubKeyCredParams")?, "pubKeyCredParams")? {
            let param = TextMap::new(item, "pubKeyCredParams")?;
            let kind = cbor::text(param.get("type").ok_or(CborError::Missing("type"))?, "type")?;
            let alg = cbor::int(param.get("alg").ok_or(CborError::Missing("alg"))?, "alg")?;
            if kind == "public-key" {
                algorithms.push(alg);
            }
        }
        let exclude_list = descriptors(map.get(0x05), "excludeList")?;
        if let Some(extensions) = map.get(0x06) {
            TextMap::new(extensions, "extensions")?;
        }
        let options = Options::from_cbor(map.get(0x07))?;
        let (pin_uv_auth_param, pin_uv_auth_protocol) = pin_fields(&map, 0x08, 0x09)?;
        Ok(MakeCredential {
            client_data_hash,
            rp,
            user,
            algorithms,
            exclude_list,
            options,
            pin_uv_auth_param,
            pin_uv_auth_protocol,
        })
    }

    fn to_cbor(&self) -> Value {
        let mut rp = vec![(tstr("id"), tstr(&self.rp.id))];
        if let Some(name) = &self.rp.name {
            rp.push((tstr("name"), tstr(name)));
        }
        let mut user = vec![(tstr("id"), Value::Bytes(self.user.id.clone()))];
        if let Some(name) = &self.user.name {
            user.push((tstr("name"), tstr(name)));
        }
        if let Some(name) = &self.user.display_name {
            user.push((tstr("displayName"), tstr(name)));
        }
        let params = self
            .algorithms
            .iter()
            .map(|alg| {
                Value::Map(vec![
                    (tstr("alg"), Value::Integer((*alg).into())),
                    (tstr("type"), tstr("public-key")),
                ])
            })
            .collect();
        let mut entries = vec![
            (ikey(0x01), Value::Bytes(self.client_data_hash.to_vec())),
            (ikey(0x02), Value::Map(rp)),
            (ikey(0x03), Value::Map(user)),
            (ikey(0x04), Value::Array(params)),
        ];
        if !self.exclude_list.is_empty() {
            entries.push((ikey(0x05), descriptors_to_cbor(&self.exclude_list)));
        }
        if let Some(options) = self.options.to_cbor() {
            entries.push((ikey(0x07), options));
        }
        push_pin_fields(&mut entries, 0x08, &self.pin_uv_auth_param, self.pin_uv_auth_protocol);
        Value::Map(entries)
    }
}

impl GetAssertion {
    fn from_cbor(value: &Value) -> Result<Self, CborError> {
        let map = IntMap::new(value, "getAssertion parameters")?;
        let rp_id = cbor::text(map.require(0x01, "rpId")?, "rpId")?.to_owned();
        let client_data_hash = hash(map.require(0x02, "clientDataHash")?)?;
        let allow_list = descriptors(map.get(0x03), "allowList")?;
        if let Some(extensions) = map.get(0x04) {
            TextMap::new(extensions, "extensions")?;
        }
        let options = Options::from_cbor(map.get(0x05))?;
        let (pin_uv_auth_param, pin_uv_auth_protocol) = pin_fields(&map, 0x06, 0x07)?;
        Ok(GetAssertion {
            rp_id,
            client_data_hash,
            allow_list,
            options,
            pin_uv_auth_param,
            pin_uv_auth_protocol,
        })
    }

    fn to_cbor(&self) -> Value {
        let mut entries =
            vec![(ikey(0x01), tstr(&self.rp_id)), (ikey(0x02), Value::Bytes(self.client_data_hash.to_vec()))];
        if !self.allow_list.is_empty() {
            entries.push((ikey(0x03), descriptors_to_cbor(&self.allow_list)));
        }
        if let Some(options) = self.options.to_cbor() {
            entries.push((ikey(0x05), options));
        }
        push_pin_fields(&mut entries, 0x06, &self.pin_uv_auth_param, self.pin_uv_auth_protocol);
        Value::Map(entries)
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
