//! The soft token as a CTAP2 authenticator: authenticatorGetInfo,
//! MakeCredential, GetAssertion and Reset answered from the same
//! [`TokenState`] as the U2F [`Applet`], so a credential made over one
//! protocol signs over the other and both hand out values of one counter.
//!
//! Sans-I/O like the applet: [`Authenticator::handle`] takes the CBOR
//! payload, `now` and a random number generator and either answers at once
//! or holds the request until the user is present ([`Authenticator::approve`]),
//! the host cancels ([`Authenticator::cancel`]) or [`USER_ACTION_TIMEOUT`]
//! passes ([`Authenticator::handle_timeout`]). Whatever randomness a held
//! request needs is drawn when it arrives, so finishing it needs none.
//! An [`Answer`] with `persist` set must be saved before it is sent.

use std::time::{Duration, Instant};

use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use rand::CryptoRng;
use zeroize::Zeroizing;

use super::applet::Applet;
use super::credential::{app_param, find_key};
use super::keyhandle::{AppParam, random_signing_key};
use super::packed;
use super::state::{MAX_CREDENTIAL_ID_LEN, Secret};
use crate::ctap2::authdata::{AttestedCredential, AuthenticatorData, flags};
use crate::ctap2::response::{self, GetAssertionResponse, GetInfo, MakeCredentialResponse};
use crate::ctap2::{ES256, GetAssertion, MakeCredential, Options, Request, Status, command};
use crate::ctaphid::{MAX_PAYLOAD, capability};

/// The soft token's AAGUID: names the authenticator model in attested
/// credentials and in the attestation certificate's id-fido-gen-ce-aaguid.
pub const AAGUID: [u8; 16] =
    [0xc7, 0xa4, 0x7f, 0xea, 0xc9, 0xde, 0x40, 0x2b, 0xbe, 0x0b, 0x02, 0xe0, 0x8c, 0xf1, 0xa2, 0x1a];

/// How long a request waits for a touch before it fails with USER_ACTION_TIMEOUT
/// (hosts give up around 30 s too).
pub const USER_ACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Which protocols the token speaks, as a key's "U2F on/off" setting does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// U2F (CTAP1) only: a FIDO U2F key.
    U2f,
    /// CTAP2 only: a FIDO2 key with U2F switched off (NMSG).
    Ctap2,
    /// Both: a FIDO2 key with U2F on, what keys ship as.
    #[default]
    Both,
}

impl Protocol {
    /// The CTAPHID capability bits this protocol choice announces in INIT.
    pub fn capabilities(self) -> u8 {
        match self {
            Protocol::U2f => capability::WINK,
            Protocol::Ctap2 => capability::WINK | capability::CBOR | capability::NMSG,
            Protocol::Both => capability::WINK | capability::CBOR,
        }
    }

    /// The versions authenticatorGetInfo lists.
    fn versions(self) -> Vec<String> {
        match self {
            Protocol::Ctap2 => vec!["FIDO_2_0".to_owned()],
            Protocol::U2f | Protocol::Both => vec!["U2F_V2".to_owned(), "FIDO_2_0".to_owned()],
        }
    }
}

/// One CTAP2 answer, and what the driver must do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status byte and CBOR body: the CTAPHID CBOR response payload.
    pub response: Vec<u8>,
    /// The state changed (a counter value was handed out, or the token was
    /// reset): save it before sending `response`, and send CTAP1_ERR_OTHER
    /// instead if saving fails.
    pub persist: bool,
    /// The CTAP2 command answered (for the log).
    pub command: u8,
    /// The counter value the answer carries, if any (for the log).
    pub counter: Option<u32>,
}

impl Answer {
    /// The answer's status.
    pub fn status(&self) -> Status {
        Status(self.response.first().copied().unwrap_or(Status::OTHER.0))
    }

    fn error(command: u8, status: Status) -> Self {
        Answer { response: response::reply(status, &[]), persist: false, command, counter: None }
    }
}

/// What [`Authenticator::handle`] did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Answered: send it (after saving, when it says so).
    Answer(Answer),
    /// Held until the user is present: tell the host (KEEPALIVE "UP needed")
    /// until [`Authenticator::approve`], [`Authenticator::cancel`] or
    /// [`Authenticator::handle_timeout`] answers it.
    Waiting,
}

/// A request waiting for a touch, with everything it needs to finish.
#[derive(Debug)]
enum Held {
    MakeCredential {
        app: AppParam,
        client_data_hash: [u8; 32],
        key: Box<SigningKey>,
        credential_id: Vec<u8>,
    },
    GetAssertion {
        app: AppParam,
        client_data_hash: [u8; 32],
        key: Box<SigningKey>,
        credential_id: Vec<u8>,
    },
    Reset {
        master_key: Secret,
    },
    /// A refusal the user must confirm first (CREDENTIAL_EXCLUDED, PIN_NOT_SET),
    /// so a page cannot probe the key silently.
    Refuse(Status),
}

#[derive(Debug)]
struct Pending {
    command: u8,
    held: Held,
    deadline: Instant,
}

/// The CTAP2 authenticator over the U2F [`Applet`]'s keys and counter.
#[derive(Debug)]
pub struct Authenticator {
    protocol: Protocol,
    pending: Option<Pending>,
    list_limit: Option<usize>,
}

impl Authenticator {
    /// An authenticator announcing `protocol`'s versions.
    pub fn new(protocol: Protocol) -> Self {
        Authenticator { protocol, pending: None, list_limit: None }
    }

    /// Takes at most `limit` credential ids per allow or exclude list from
    /// now on, as real keys do (a YubiKey 5 takes 8): announced as
    /// maxCredentialCountInList, longer lists refused with LIMIT_EXCEEDED,
    /// so hosts must split them as browsers do.
    pub fn set_list_limit(&mut self, limit: usize) {
        self.list_limit = Some(limit.max(1));
    }

    /// Announces `protocol` from now on; a request waiting for a touch is dropped.
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
        self.pending = None;
    }

    /// Whether `request` carries a list longer than the limit.
    fn over_limit(&self, request: &Request) -> bool {
        let len = match request {
            Request::MakeCredential(r) => r.exclude_list.len(),
            Request::GetAssertion(r) => r.allow_list.len(),
            Request::GetInfo | Request::Reset => 0,
        };
        self.list_limit.is_some_and(|limit| len > limit)
    }

    /// Whether a request waits for the user.
    pub fn is_waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// Answers one CTAPHID CBOR payload (command byte and parameters), or holds it.
    pub fn handle(
        &mut self,
        applet: &mut Applet,
        now: Instant,
        rng: &mut impl CryptoRng,
        payload: &[u8],
    ) -> Step {
        // Only one request is ever pending (CTAPHID keeps other channels busy);
        // a new one means the host gave up on the old.
        self.pending = None;
        let cmd = payload.first().copied().unwrap_or_default();
        let held = match Request::parse(payload) {
            Err(status) => return Step::Answer(Answer::error(cmd, status)),
            Ok(request) if self.over_limit(&request) => {
                return Step::Answer(Answer::error(cmd, Status::LIMIT_EXCEEDED));
            }
            Ok(Request::GetInfo) => return Step::Answer(self.get_info()),
            Ok(Request::MakeCredential(request)) => make_credential(applet, rng, &request),
            Ok(Request::GetAssertion(request)) => match get_assertion(applet, &request) {
                Ok(Some(held)) => Ok(held),
                Ok(None) => return Step::Answer(assert_now(applet, &request)),
                Err(status) => Err(status),
            },
            Ok(Request::Reset) => {
                let mut master_key = Zeroizing::new(vec![0u8; 32]);
                rng.fill_bytes(&mut master_key);
                Ok(Held::Reset { master_key: Secret::new(master_key.to_vec()) })
            }
        };
        let held = match held {
            Ok(held) => held,
            Err(status) => return Step::Answer(Answer::error(cmd, status)),
        };
        if applet.take_presence() {
            return Step::Answer(finish(applet, cmd, held));
        }
        self.pending = Some(Pending { command: cmd, held, deadline: now + USER_ACTION_TIMEOUT });
        Step::Waiting
    }

    /// The user touched the key: the waiting request's answer, if one waits.
    pub fn approve(&mut self, applet: &mut Applet) -> Option<Answer> {
        let pending = self.pending.take()?;
        Some(finish(applet, pending.command, pending.held))
    }

    /// The host cancelled: the waiting request ends with KEEPALIVE_CANCEL.
    pub fn cancel(&mut self) -> Option<Answer> {
        let pending = self.pending.take()?;
        Some(Answer::error(pending.command, Status::KEEPALIVE_CANCEL))
    }

    /// Ends a request that waited [`USER_ACTION_TIMEOUT`] with USER_ACTION_TIMEOUT.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Answer> {
        let pending = self.pending.take_if(|p| now >= p.deadline)?;
        Some(Answer::error(pending.command, Status::USER_ACTION_TIMEOUT))
    }

    /// When [`Authenticator::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.deadline)
    }

    fn get_info(&self) -> Answer {
        let info = GetInfo {
            versions: self.protocol.versions(),
            extensions: Vec::new(),
            aaguid: AAGUID,
            options: vec![("rk".to_owned(), false), ("up".to_owned(), true), ("plat".to_owned(), false)],
            max_msg_size: Some(MAX_PAYLOAD as u64),
            pin_uv_auth_protocols: Vec::new(),
            max_credential_count_in_list: self.list_limit.map(|n| n as u64),
            // Its own ids are 61 bytes; imported ones may be longer.
            max_credential_id_length: Some(MAX_CREDENTIAL_ID_LEN as u64),
            transports: vec!["usb".to_owned()],
            algorithms: vec![ES256],
        };
        Answer {
            response: response::reply(Status::OK, &info.encode()),
            persist: false,
            command: command::GET_INFO,
            counter: None,
        }
    }
}

/// CTAP 2.1 §6.1.2 step 1-2 (and §6.2.2): a zero-length pinUvAuthParam asks
/// "is a PIN set?" after a touch; a real one needs a protocol this token has
/// (none: it has no PIN).
fn pin_check(param: Option<&Vec<u8>>, protocol: Option<u64>) -> Result<Option<Held>, Status> {
    match (param, protocol) {
        (None, _) => Ok(None),
        (Some(param), _) if param.is_empty() => Ok(Some(Held::Refuse(Status::PIN_NOT_SET))),
        (Some(_), None) => Err(Status::MISSING_PARAMETER),
        (Some(_), Some(_)) => Err(Status::INVALID_PARAMETER),
    }
}

/// Options this token cannot honour: resident keys and user verification.
fn check_options(options: &Options) -> Result<(), Status> {
    if options.rk == Some(true) || options.uv == Some(true) {
        return Err(Status::UNSUPPORTED_OPTION);
    }
    Ok(())
}

fn make_credential(
    applet: &Applet,
    rng: &mut impl CryptoRng,
    request: &MakeCredential,
) -> Result<Held, Status> {
    if let Some(held) = pin_check(request.pin_uv_auth_param.as_ref(), request.pin_uv_auth_protocol)? {
        return Ok(held);
    }
    if !request.algorithms.contains(&ES256) {
        return Err(Status::UNSUPPORTED_ALGORITHM);
    }
    check_options(&request.options)?;
    if request.options.up == Some(false) {
        // MakeCredential always tests presence (CTAP 2.1 §6.1.2 step 5.4).
        return Err(Status::INVALID_OPTION);
    }
    let app = app_param(&request.rp.id);
    if request.exclude_list.iter().any(|id| find_key(applet.state(), &app, id).is_ok()) {
        return Ok(Held::Refuse(Status::CREDENTIAL_EXCLUDED));
    }
    let key = random_signing_key(rng);
    let credential_id = applet.key_wrap().wrap(rng, &app, &key);
    Ok(Held::MakeCredential {
        app,
        client_data_hash: request.client_data_hash,
        key: Box::new(key),
        credential_id,
    })
}

/// Checks a GetAssertion request; `Ok(None)` when it needs no presence.
fn get_assertion(applet: &Applet, request: &GetAssertion) -> Result<Option<Held>, Status> {
    if let Some(held) = pin_check(request.pin_uv_auth_param.as_ref(), request.pin_uv_auth_protocol)? {
        return Ok(Some(held));
    }
    check_options(&request.options)?;
    let (credential_id, key) = find_credential(applet, request)?;
    if request.options.up == Some(false) {
        return Ok(None);
    }
    Ok(Some(Held::GetAssertion {
        app: app_param(&request.rp_id),
        client_data_hash: request.client_data_hash,
        key: Box::new(key),
        credential_id,
    }))
}

/// The first credential of the allow list this token can open for the RP.
fn find_credential(applet: &Applet, request: &GetAssertion) -> Result<(Vec<u8>, SigningKey), Status> {
    let app = app_param(&request.rp_id);
    request
        .allow_list
        .iter()
        .find_map(|id| find_key(applet.state(), &app, id).ok().map(|key| (id.clone(), key)))
        .ok_or(Status::NO_CREDENTIALS)
}

/// A GetAssertion with `up: false`: signed at once, without the UP flag.
fn assert_now(applet: &mut Applet, request: &GetAssertion) -> Answer {
    match find_credential(applet, request) {
        Ok((credential_id, key)) => {
            let app = app_param(&request.rp_id);
            sign_assertion(applet, app, request.client_data_hash, &key, credential_id, 0)
        }
        Err(status) => Answer::error(command::GET_ASSERTION, status),
    }
}

/// Finishes a request once the user is present.
fn finish(applet: &mut Applet, cmd: u8, held: Held) -> Answer {
    match held {
        Held::Refuse(status) => Answer::error(cmd, status),
        Held::MakeCredential { app, client_data_hash, key, credential_id } => {
            attest(applet, app, client_data_hash, &key, credential_id)
        }
        Held::GetAssertion { app, client_data_hash, key, credential_id } => {
            sign_assertion(applet, app, client_data_hash, &key, credential_id, flags::UP)
        }
        Held::Reset { master_key } => match applet.reset(master_key) {
            Ok(()) => Answer {
                response: response::reply(Status::OK, &[]),
                persist: true,
                command: cmd,
                counter: None,
            },
            Err(e) => {
                tracing::error!(error = %e, "cannot reset the token");
                Answer::error(cmd, Status::OTHER)
            }
        },
    }
}

fn attest(
    applet: &mut Applet,
    app: AppParam,
    client_data_hash: [u8; 32],
    key: &SigningKey,
    credential_id: Vec<u8>,
) -> Answer {
    let Ok(counter) = applet.state_mut().next_counter() else {
        return Answer::error(command::MAKE_CREDENTIAL, Status::OTHER);
    };
    let public_key: [u8; 65] =
        key.verifying_key().to_encoded_point(false).as_bytes().try_into().unwrap_or([0; 65]);
    let auth_data = AuthenticatorData {
        rp_id_hash: app,
        flags: flags::UP | flags::AT,
        sign_count: counter,
        attested: Some(AttestedCredential { aaguid: AAGUID, credential_id, public_key }),
        extensions: None,
    }
    .encode();
    let signed = [auth_data.as_slice(), &client_data_hash].concat();
    let certificate = &applet.state().attestation.certificate;
    let made = match packed::check(certificate, &AAGUID) {
        Ok(()) => {
            let signature: Signature = applet.attestation_key().sign(&signed);
            MakeCredentialResponse::packed(
                auth_data,
                signature.to_der().as_bytes().to_vec(),
                vec![certificate.clone()],
            )
        }
        Err(why) => {
            tracing::debug!(why, "attestation certificate unfit for packed attestation; self attestation");
            let signature: Signature = key.sign(&signed);
            MakeCredentialResponse::packed(auth_data, signature.to_der().as_bytes().to_vec(), Vec::new())
        }
    };
    Answer {
        response: response::reply(Status::OK, &made.encode()),
        persist: true,
        command: command::MAKE_CREDENTIAL,
        counter: Some(counter),
    }
}

fn sign_assertion(
    applet: &mut Applet,
    app: AppParam,
    client_data_hash: [u8; 32],
    key: &SigningKey,
    credential_id: Vec<u8>,
    flags: u8,
) -> Answer {
    let Ok(counter) = applet.state_mut().next_counter() else {
        return Answer::error(command::GET_ASSERTION, Status::OTHER);
    };
    let auth_data =
        AuthenticatorData { rp_id_hash: app, flags, sign_count: counter, attested: None, extensions: None }
            .encode();
    let signature: Signature = key.sign(&[auth_data.as_slice(), &client_data_hash].concat());
    let assertion = GetAssertionResponse {
        credential_id: Some(credential_id),
        auth_data,
        signature: signature.to_der().as_bytes().to_vec(),
        user_id: None,
        number_of_credentials: None,
    };
    Answer {
        response: response::reply(Status::OK, &assertion.encode()),
        persist: true,
        command: command::GET_ASSERTION,
        counter: Some(counter),
    }
}

#[cfg(test)]
#[path = "ctap2_tests.rs"]
mod tests;
