//! The soft token as a real third-party host sees it: python-fido2 drives
//! `keygate soft-token serve` over UDP and over a Unix datagram socket; and
//! `--protocol` decides what the served token speaks, checked over UDP
//! with the device crate's own framing.

use crate::common;
use crate::key_cli::SoftToken;

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use keygate_device::ctap2::authdata::AuthenticatorData;
use keygate_device::ctap2::response::{self, GetAssertionResponse, GetInfo, MakeCredentialResponse};
use keygate_device::ctap2::{
    ES256, GetAssertion, MakeCredential, Options, RelyingParty, Request, User, command as ctap2_command,
    keepalive,
};
use keygate_device::ctaphid::frame::Message;
use keygate_device::ctaphid::{ChannelId, Fragments, Packet, Reassembly, capability, command, error_code};

#[test]
fn python_fido2_drives_the_soft_token() {
    common::pytest("test_soft_token.py", &[]);
}

/// python-fido2's CTAP2 host (`Ctap2`, `Fido2Client` without the CTAP1
/// fallback) against `keygate soft-token serve --protocol ctap2|both`.
#[test]
fn python_fido2_drives_the_soft_token_over_ctap2() {
    common::pytest("test_soft_token_ctap2.py", &[]);
}

/// `keygate soft-token serve` on a UDP port (key_cli's spawner), with a
/// raw CTAPHID host socket connected to it.
struct Served {
    token: SoftToken,
    host: UdpSocket,
}

impl Served {
    /// `protocol` None: the default, no `--protocol` flag.
    fn start(state: &Path, presence: &str, protocol: Option<&str>) -> Served {
        let token = match protocol {
            Some(protocol) => SoftToken::start_with(state, presence, protocol),
            None => SoftToken::start(state, presence),
        };
        let address = token.spec.strip_prefix("udp:").expect("a UDP token");
        let host = UdpSocket::bind("127.0.0.1:0").unwrap();
        host.connect(address).unwrap();
        host.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Served { token, host }
    }

    fn send(&self, channel: ChannelId, cmd: u8, payload: &[u8]) {
        for report in Fragments::new(channel, cmd, payload).unwrap() {
            self.host.send(&report).unwrap();
        }
    }

    fn recv(&self) -> Message {
        let mut buf = [0u8; 64];
        self.host.recv(&mut buf).expect("the token answered");
        let mut r =
            Reassembly::start(&Packet::parse(&buf).unwrap(), Instant::now(), Duration::from_secs(5)).unwrap();
        while !r.is_complete() {
            self.host.recv(&mut buf).unwrap();
            r.push(&Packet::parse(&buf).unwrap(), Instant::now()).unwrap();
        }
        r.into_message()
    }

    /// One request and its answer, passing over KEEPALIVEs.
    fn call(&self, channel: ChannelId, cmd: u8, payload: &[u8]) -> Message {
        self.send(channel, cmd, payload);
        loop {
            let reply = self.recv();
            if reply.command != command::KEEPALIVE {
                return reply;
            }
        }
    }

    /// A channel and the capability byte of the INIT reply.
    fn init(&self) -> (ChannelId, u8) {
        let reply = self.call(ChannelId::BROADCAST, command::INIT, b"12345678");
        (ChannelId(u32::from_be_bytes(reply.payload[8..12].try_into().unwrap())), reply.payload[16])
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.token.pid().to_string()]).status();
        assert!(status.expect("run kill").success());
    }
}

const VERSION_APDU: [u8; 7] = [0, 3, 0, 0, 0, 0, 0];

fn make_credential() -> Vec<u8> {
    Request::MakeCredential(MakeCredential {
        client_data_hash: [1; 32],
        rp: RelyingParty { id: "localhost".into(), name: None },
        user: User { id: vec![7], name: Some("alice".into()), display_name: None },
        algorithms: vec![ES256],
        exclude_list: vec![],
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    })
    .encode()
}

fn get_assertion(credential_id: Vec<u8>) -> Vec<u8> {
    Request::GetAssertion(GetAssertion {
        rp_id: "localhost".into(),
        client_data_hash: [2; 32],
        allow_list: vec![credential_id],
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    })
    .encode()
}

fn saved_counter(state: &Path) -> u64 {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    json["counter"].as_u64().unwrap()
}

#[test]
fn a_ctap2_only_token_announces_cbor_and_nmsg_refuses_msg_and_persists_its_counter() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("token.json");
    let token = Served::start(&state, "auto", Some("ctap2"));
    let (cid, capabilities) = token.init();
    assert_eq!(capabilities, capability::WINK | capability::CBOR | capability::NMSG);
    let reply = token.call(cid, command::MSG, &VERSION_APDU);
    assert_eq!((reply.command, reply.payload.as_slice()), (command::ERROR, &[error_code::INVALID_CMD][..]));

    let reply = token.call(cid, command::CBOR, &[ctap2_command::GET_INFO]);
    assert_eq!(reply.command, command::CBOR);
    let info = GetInfo::parse(response::split_status(&reply.payload).unwrap()).unwrap();
    assert_eq!(info.versions, ["FIDO_2_0"]);

    let reply = token.call(cid, command::CBOR, &make_credential());
    let made = MakeCredentialResponse::parse(response::split_status(&reply.payload).unwrap()).unwrap();
    let credential_id = AuthenticatorData::parse(&made.auth_data).unwrap().attested.unwrap().credential_id;
    let reply = token.call(cid, command::CBOR, &get_assertion(credential_id));
    let assertion = GetAssertionResponse::parse(response::split_status(&reply.payload).unwrap()).unwrap();
    let counter = AuthenticatorData::parse(&assertion.auth_data).unwrap().sign_count;
    assert_eq!(counter, 2);
    assert_eq!(saved_counter(&state), 2, "saved before the answer left");
}

#[test]
fn a_u2f_token_refuses_cbor_and_both_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let u2f = Served::start(&dir.path().join("u2f.json"), "auto", Some("u2f"));
    let (cid, capabilities) = u2f.init();
    assert_eq!(capabilities, capability::WINK);
    let reply = u2f.call(cid, command::CBOR, &[ctap2_command::GET_INFO]);
    assert_eq!((reply.command, reply.payload.as_slice()), (command::ERROR, &[error_code::INVALID_CMD][..]));
    assert_eq!(u2f.call(cid, command::MSG, &VERSION_APDU).payload, b"U2F_V2\x90\x00");

    let both = Served::start(&dir.path().join("both.json"), "auto", None);
    let (cid, capabilities) = both.init();
    assert_eq!(capabilities, capability::WINK | capability::CBOR);
    assert_eq!(both.call(cid, command::MSG, &VERSION_APDU).payload, b"U2F_V2\x90\x00");
    let reply = both.call(cid, command::CBOR, &[ctap2_command::GET_INFO]);
    let info = GetInfo::parse(response::split_status(&reply.payload).unwrap()).unwrap();
    assert_eq!(info.versions, ["U2F_V2", "FIDO_2_0"]);
}

#[test]
fn a_manual_token_sends_up_needed_keepalives_until_sigusr1() {
    let dir = tempfile::tempdir().unwrap();
    let token = Served::start(&dir.path().join("token.json"), "manual", None);
    let (cid, _) = token.init();
    token.send(cid, command::CBOR, &make_credential());
    // They keep coming while nobody touches the key, and no faster than
    // one per 100 ms (a late wake-up sends one, not the backlog): bounds
    // that hold however loaded the machine is.
    let started = Instant::now();
    for _ in 0..5 {
        let reply = token.recv();
        assert_eq!(
            (reply.command, reply.payload.as_slice()),
            (command::KEEPALIVE, &[keepalive::UP_NEEDED][..])
        );
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "5 keepalives in {elapsed:?}");
    token.signal("USR1");
    let answer = loop {
        let reply = token.recv();
        if reply.command != command::KEEPALIVE {
            break reply;
        }
    };
    assert_eq!(answer.command, command::CBOR);
    MakeCredentialResponse::parse(response::split_status(&answer.payload).unwrap()).unwrap();
}
