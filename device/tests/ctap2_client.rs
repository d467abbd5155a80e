//! Our CTAP2 host against scripted devices: answers built with the CTAP2
//! core's encoders, KEEPALIVE while the key waits for a touch, CTAPHID
//! CANCEL on timeout and Ctrl-C (answered, or not), every CTAP2 error
//! status the user can meet, and malformed CBOR, which must end in an
//! error and never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keygate_device::client::{CANCEL_GRACE, ClientError, Ctap2Client, CtapHidClient, Wait};
use keygate_device::ctap2::response::reply;
use keygate_device::ctap2::{
    AuthenticatorData, GetAssertion, GetAssertionResponse, GetInfo, MakeCredential, MakeCredentialResponse,
    Options, RelyingParty, Status, User, command as ctap2_command, keepalive,
};
use keygate_device::ctaphid::{ChannelId, Fragments, Packet, REPORT_SIZE, capability, command};
use keygate_device::transport::Connection;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

const CID: ChannelId = ChannelId(0x0102_0304);

/// What the scripted key does with one CBOR request.
enum Act {
    /// Answers at once with this CBOR payload (status byte + body),
    /// after these KEEPALIVE statuses.
    Answer { keepalives: Vec<u8>, payload: Vec<u8> },
    /// Waits for a touch that never comes: KEEPALIVE 2 every read;
    /// answers CANCEL with KEEPALIVE_CANCEL when `answers_cancel`.
    Hold { answers_cancel: bool },
}

/// What the host sent: (CTAPHID command, first payload byte) per request.
type Sent = Arc<Mutex<Vec<(u8, Option<u8>)>>>;

/// A key that follows a script, one [`Act`] per CBOR request.
struct Scripted {
    capabilities: u8,
    acts: VecDeque<Act>,
    out: VecDeque<Vec<u8>>,
    holding: Option<bool>,
    /// The CTAPHID command and first payload byte of every request sent.
    sent: Sent,
}

impl Scripted {
    fn new(acts: impl IntoIterator<Item = Act>) -> Scripted {
        Scripted {
            capabilities: capability::WINK | capability::CBOR,
            acts: acts.into_iter().collect(),
            out: VecDeque::new(),
            holding: None,
            sent: Arc::default(),
        }
    }

    fn queue(&mut self, channel: ChannelId, cmd: u8, payload: &[u8]) {
        self.out.extend(Fragments::new(channel, cmd, payload).unwrap().map(|r| r.to_vec()));
    }
}

impl Connection for Scripted {
    fn write_report(&mut self, report: &[u8; REPORT_SIZE]) -> std::io::Result<()> {
        let Ok(Packet::Init { command: cmd, data, channel, .. }) = Packet::parse(report) else {
            return Ok(()); // continuation of a long request
        };
        self.sent.lock().unwrap().push((cmd, data.first().copied()));
        match cmd {
            command::INIT => {
                let mut payload = data[..8].to_vec();
                payload.extend_from_slice(&CID.to_bytes());
                payload.extend_from_slice(&[2, 1, 0, 0, self.capabilities]);
                self.queue(channel, command::INIT, &payload);
            }
            command::CANCEL => {
                if self.holding.take() == Some(true) {
                    self.queue(CID, command::CBOR, &[Status::KEEPALIVE_CANCEL.0]);
                }
            }
            command::CBOR => match self.acts.pop_front().expect("no act scripted for this request") {
                Act::Answer { keepalives, payload } => {
                    for status in keepalives {
                        self.queue(CID, command::KEEPALIVE, &[status]);
                    }
                    self.queue(CID, command::CBOR, &payload);
                }
                Act::Hold { answers_cancel } => self.holding = Some(answers_cancel),
            },
            other => panic!("unexpected command {other:#04x}"),
        }
        Ok(())
    }

    fn read_report(&mut self, timeout: Duration) -> std::io::Result<Option<Vec<u8>>> {
        if let Some(report) = self.out.pop_front() {
            return Ok(Some(report));
        }
        // A key that waits for a touch says so every 100 ms, as keys do.
        std::thread::sleep(timeout.min(Duration::from_millis(100)));
        Ok(self.holding.is_some().then(|| {
            Fragments::new(CID, command::KEEPALIVE, &[keepalive::UP_NEEDED]).unwrap().next().unwrap().to_vec()
        }))
    }
}

fn client(device: Scripted) -> Ctap2Client<Scripted> {
    let hid = CtapHidClient::open(device, &mut UnwrapErr(SysRng)).unwrap();
    assert!(Ctap2Client::supported(&hid));
    Ctap2Client::new(hid)
}

fn ok(body: Vec<u8>) -> Act {
    Act::Answer { keepalives: vec![], payload: reply(Status::OK, &body) }
}

fn status(status: Status) -> Act {
    Act::Answer { keepalives: vec![], payload: vec![status.0] }
}

fn assertion_request(allow: &[&[u8]]) -> GetAssertion {
    GetAssertion {
        rp_id: "localhost".into(),
        client_data_hash: [7; 32],
        allow_list: allow.iter().map(|a| a.to_vec()).collect(),
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    }
}

fn creation_request() -> MakeCredential {
    MakeCredential {
        client_data_hash: [9; 32],
        rp: RelyingParty { id: "localhost".into(), name: Some("keygate".into()) },
        user: User { id: vec![0, 0, 0, 1], name: Some("alice".into()), display_name: None },
        algorithms: vec![keygate_device::ctap2::ES256],
        exclude_list: vec![vec![1; 16]],
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    }
}

fn auth_data() -> Vec<u8> {
    AuthenticatorData { rp_id_hash: [3; 32], flags: 0x01, sign_count: 5, attested: None, extensions: None }
        .encode()
}

#[test]
fn get_info_and_make_credential_are_parsed() {
    let info = GetInfo {
        versions: vec!["U2F_V2".into(), "FIDO_2_0".into()],
        aaguid: [4; 16],
        options: vec![("rk".into(), false), ("up".into(), true)],
        algorithms: vec![-7],
        ..GetInfo::default()
    };
    let made = MakeCredentialResponse::packed(auth_data(), vec![0x30, 0x00], vec![]);
    let device = Scripted::new([ok(info.encode()), ok(made.encode())]);
    let sent = Arc::clone(&device.sent);
    let mut ctap2 = client(device);
    assert_eq!(ctap2.get_info().unwrap(), info);
    assert_eq!(ctap2.make_credential(creation_request(), Wait::default()).unwrap(), made);
    assert_eq!(
        sent.lock().unwrap()[1..],
        [
            (command::CBOR, Some(ctap2_command::GET_INFO)),
            (command::CBOR, Some(ctap2_command::MAKE_CREDENTIAL))
        ]
    );
}

#[test]
fn keepalives_say_when_the_key_waits_for_a_touch() {
    let answer = GetAssertionResponse {
        credential_id: None,
        auth_data: auth_data(),
        signature: vec![0x30, 0x01, 0x00],
        user_id: None,
        number_of_credentials: None,
    };
    let processing_only =
        Act::Answer { keepalives: vec![keepalive::PROCESSING], payload: reply(Status::OK, &answer.encode()) };
    let with_touch = Act::Answer {
        keepalives: vec![keepalive::PROCESSING, keepalive::UP_NEEDED, keepalive::UP_NEEDED],
        payload: reply(Status::OK, &answer.encode()),
    };
    let mut ctap2 = client(Scripted::new([processing_only, with_touch]));
    let asked = AtomicBool::new(false);
    let wait = Wait { touch_needed: Some(&asked), ..Wait::default() };
    let signed = ctap2.get_assertion(assertion_request(&[b"only one"]), wait).unwrap();
    assert!(!asked.load(Ordering::SeqCst), "processing is not a request for a touch");
    // With a single allowed credential, the key may leave it out: it is filled in.
    assert_eq!(signed.credential_id.as_deref(), Some(&b"only one"[..]));
    assert_eq!(signed.auth_data, auth_data());
    ctap2.get_assertion(assertion_request(&[b"only one"]), wait).unwrap();
    assert!(asked.load(Ordering::SeqCst));
}

#[test]
fn an_assertion_that_names_no_credential_of_several_is_malformed() {
    let answer = GetAssertionResponse {
        credential_id: None,
        auth_data: auth_data(),
        signature: vec![1],
        user_id: None,
        number_of_credentials: None,
    };
    let mut ctap2 = client(Scripted::new([ok(answer.encode())]));
    let err = ctap2.get_assertion(assertion_request(&[b"one", b"two"]), Wait::default()).unwrap_err();
    assert!(matches!(err, ClientError::Malformed { .. }), "{err:?}");
}

#[test]
fn a_deadline_sends_cancel_and_reads_the_keys_answer() {
    let device = Scripted::new([Act::Hold { answers_cancel: true }, ok(GetInfo::default().encode())]);
    let sent = Arc::clone(&device.sent);
    let mut ctap2 = client(device);
    let asked = AtomicBool::new(false);
    let started = Instant::now();
    let wait = Wait {
        deadline: Some(started + Duration::from_millis(400)),
        touch_needed: Some(&asked),
        ..Wait::default()
    };
    let err = ctap2.make_credential(creation_request(), wait).unwrap_err();
    assert!(matches!(err, ClientError::Timeout), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(400), "not before the deadline");
    // Upper bounds catch a wait that never ends, with room for a loaded machine.
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert!(asked.load(Ordering::SeqCst), "the key asked for a touch meanwhile");
    let commands: Vec<u8> = sent.lock().unwrap().iter().map(|(c, _)| *c).collect();
    assert_eq!(commands, [command::INIT, command::CBOR, command::CANCEL]);
    // The cancelled request's answer was read: the next one gets its own.
    assert_eq!(ctap2.get_info().unwrap(), GetInfo::default());
}

#[test]
fn ctrl_c_sends_cancel() {
    let device = Scripted::new([Act::Hold { answers_cancel: true }]);
    let sent = Arc::clone(&device.sent);
    let mut ctap2 = client(device);
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        flag.store(true, Ordering::SeqCst);
    });
    let wait = Wait { cancel: Some(&cancel), ..Wait::default() };
    let started = Instant::now();
    let err = ctap2.get_assertion(assertion_request(&[b"k"]), wait).unwrap_err();
    assert!(matches!(err, ClientError::Cancelled), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(sent.lock().unwrap().last().map(|(c, _)| *c), Some(command::CANCEL));
}

#[test]
fn a_key_that_ignores_cancel_is_given_up_on_after_the_grace() {
    let mut ctap2 = client(Scripted::new([Act::Hold { answers_cancel: false }]));
    let started = Instant::now();
    let wait = Wait { deadline: Some(started + Duration::from_millis(200)), ..Wait::default() };
    let err = ctap2.get_assertion(assertion_request(&[b"k"]), wait).unwrap_err();
    assert!(matches!(err, ClientError::Timeout), "{err:?}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200) + CANCEL_GRACE, "{took:?}");
    assert!(took < Duration::from_millis(200) + CANCEL_GRACE + Duration::from_secs(3), "{took:?}");
}

#[test]
fn error_statuses_become_what_they_mean() {
    let cases = [
        (Status::NO_CREDENTIALS, "UnknownKeyHandle"),
        (Status::CREDENTIAL_EXCLUDED, "AlreadyRegistered"),
        (Status::OPERATION_DENIED, "Cancelled"),
        (Status::KEEPALIVE_CANCEL, "Cancelled"),
        (Status::USER_ACTION_TIMEOUT, "Timeout"),
        (Status::PUAT_REQUIRED, "Ctap2"),
        (Status(0xe7), "Ctap2"),
    ];
    let mut ctap2 = client(Scripted::new(cases.iter().map(|(s, _)| status(*s))));
    for (code, expected) in cases {
        let err = ctap2.make_credential(creation_request(), Wait::default()).unwrap_err();
        assert!(format!("{err:?}").starts_with(expected), "{code:?}: {err:?}");
        if expected == "Ctap2" {
            let message = err.to_string();
            assert!(message.contains(&format!("{:#04x}", code.0)), "{message}");
        }
    }
    assert_eq!(
        ClientError::from(Status::PUAT_REQUIRED).to_string(),
        "the security key refused: The key requires a PIN or user verification for this \
         (CTAP2 status 0x36 PUAT_REQUIRED)"
    );
}

#[test]
fn malformed_answers_are_errors() {
    let answers = [
        vec![],                                   // no status byte
        vec![0x00],                               // OK and no body
        vec![0x00, 0xff],                         // not CBOR
        vec![0x00, 0xa1, 0x01],                   // a map cut short
        vec![0x00, 0x01],                         // not a map
        vec![0x00, 0xa1, 0x02, 0x01],             // authData of the wrong type
        vec![0x00, 0xa0, 0x00],                   // trailing bytes
        vec![0x00, 0xa2, 0x02, 0x40, 0x02, 0x40], // a repeated key
    ];
    let mut ctap2 =
        client(Scripted::new(answers.iter().map(|a| Act::Answer { keepalives: vec![], payload: a.clone() })));
    for answer in &answers {
        let err = ctap2.get_assertion(assertion_request(&[b"k"]), Wait::default()).unwrap_err();
        assert!(matches!(err, ClientError::Malformed { .. }), "{answer:02x?}: {err:?}");
        assert!(err.to_string().starts_with("malformed response from the security key"), "{err}");
    }
}

proptest::proptest! {
    /// Whatever bytes a key answers, each request ends in a value or an
    /// error, never a panic.
    #[test]
    fn any_answer_is_judged_without_panic(payload in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let mut ctap2 = client(Scripted::new([
            Act::Answer { keepalives: vec![], payload: payload.clone() },
            Act::Answer { keepalives: vec![], payload: payload.clone() },
            Act::Answer { keepalives: vec![], payload },
        ]));
        let _ = ctap2.get_info();
        let _ = ctap2.make_credential(creation_request(), Wait::default());
        let _ = ctap2.get_assertion(assertion_request(&[b"k"]), Wait::default());
    }
}
