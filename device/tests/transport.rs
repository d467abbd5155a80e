//! The soft token behind its real drivers: in-process, UDP and Unix datagram
//! sockets, with several hosts at once, driven by host code built from the
//! same framing module a USB host uses; over both U2F and CTAP2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate_device::ctap2::authdata::AuthenticatorData;
use keygate_device::ctap2::response::{self, GetInfo, MakeCredentialResponse};
use keygate_device::ctap2::{
    self, ES256, GetAssertion, MakeCredential, Options, RelyingParty, Request, Status, User, keepalive,
};
use keygate_device::ctaphid::frame::Message;
use keygate_device::ctaphid::{
    ChannelId, Fragments, Packet, REPORT_SIZE, Reassembly, capability, command, error_code,
};
use keygate_device::soft::state::{Attestation, Secret};
use keygate_device::soft::{Presence, Protocol, SoftToken, TokenState};
use keygate_device::transport::{self, Control, MemoryLink, unix::UnixListener};
use keygate_device::u2f::ins;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

fn state() -> TokenState {
    let attestation = Attestation {
        certificate: include_bytes!("../../fixtures/soft-token/attestation.der").to_vec(),
        private_key: Secret::new(include_bytes!("../../fixtures/soft-token/attestation-key.der").to_vec()),
    };
    TokenState::generate(&mut UnwrapErr(SysRng), attestation)
}

/// A minimal host over any "send a report / receive a report" pair.
fn call(
    send: &mut dyn FnMut(&[u8; REPORT_SIZE]),
    recv: &mut dyn FnMut() -> [u8; REPORT_SIZE],
    channel: ChannelId,
    cmd: u8,
    payload: &[u8],
) -> Message {
    for report in Fragments::new(channel, cmd, payload).unwrap() {
        send(&report);
    }
    let first = recv();
    let mut r =
        Reassembly::start(&Packet::parse(&first).unwrap(), Instant::now(), Duration::from_secs(5)).unwrap();
    while !r.is_complete() {
        r.push(&Packet::parse(&recv()).unwrap(), Instant::now()).unwrap();
    }
    r.into_message()
}

fn init(send: &mut dyn FnMut(&[u8; REPORT_SIZE]), recv: &mut dyn FnMut() -> [u8; REPORT_SIZE]) -> ChannelId {
    let reply = call(send, recv, ChannelId::BROADCAST, command::INIT, b"nonce!!!");
    assert_eq!(&reply.payload[..8], b"nonce!!!");
    ChannelId(u32::from_be_bytes(reply.payload[8..12].try_into().unwrap()))
}

const VERSION_APDU: [u8; 9] = [0, 3, 0, 0, 0, 0, 0, 0, 0];

#[test]
fn in_process_link_answers_like_a_device() {
    let token = SoftToken::in_memory(state(), Presence::Auto).unwrap();
    let link = std::cell::RefCell::new(MemoryLink::new(token));
    let mut send = |r: &[u8; REPORT_SIZE]| link.borrow_mut().write_report(r);
    let mut recv = || link.borrow_mut().read_report().expect("the token answered");
    let cid = init(&mut send, &mut recv);
    let version = call(&mut send, &mut recv, cid, command::MSG, &VERSION_APDU);
    assert_eq!(version.payload, b"U2F_V2\x90\x00");
    let ping = call(&mut send, &mut recv, cid, command::PING, &[7; 7609]);
    assert_eq!(ping.payload, vec![7; 7609]);
    assert!(link.borrow_mut().read_report().is_none());
}

fn udp_host(server: std::net::SocketAddr) -> UdpSocket {
    let host = UdpSocket::bind("127.0.0.1:0").unwrap();
    host.connect(server).unwrap();
    host.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    host
}

#[test]
fn udp_serves_several_hosts_at_once_and_stops_on_request() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let control = Arc::new(Control::default());
    let stopper = Arc::clone(&control);
    let server = std::thread::spawn(move || {
        let mut token = SoftToken::in_memory(state(), Presence::Auto).unwrap();
        transport::serve(&socket, &mut token, &stopper)
    });

    let hosts: Vec<_> = (0..4u8)
        .map(|i| {
            std::thread::spawn(move || {
                let host = udp_host(addr);
                let mut send = |r: &[u8; REPORT_SIZE]| {
                    host.send(r).unwrap();
                };
                let mut recv = || {
                    let mut buf = [0u8; REPORT_SIZE];
                    assert_eq!(host.recv(&mut buf).unwrap(), REPORT_SIZE);
                    buf
                };
                let cid = init(&mut send, &mut recv);
                let mut done = 0;
                while done < 20 {
                    let payload = vec![i; 300];
                    let reply = call(&mut send, &mut recv, cid, command::PING, &payload);
                    match reply.command {
                        command::PING => {
                            assert_eq!(reply.payload, payload);
                            done += 1;
                        }
                        command::ERROR => {
                            // Another host holds the token; retry after a pause.
                            assert_eq!(reply.payload, [error_code::CHANNEL_BUSY]);
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        other => panic!("unexpected command {other:#x}"),
                    }
                }
                cid
            })
        })
        .collect();
    let results: Vec<_> = hosts.into_iter().map(|h| h.join().unwrap()).collect();
    let mut channels = results;
    channels.sort();
    channels.dedup();
    assert_eq!(channels.len(), 4, "each host got its own channel");
    control.stop();
    server.join().unwrap().unwrap();
}

#[test]
fn unix_socket_answers_each_host_at_its_own_path_and_replaces_a_stale_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.sock");
    drop(UnixDatagram::bind(&path).unwrap()); // a stale socket file, as kill -9 leaves
    let listener = UnixListener::bind(&path).unwrap();
    let control = Arc::new(Control::default());
    let stopper = Arc::clone(&control);
    let server = std::thread::spawn(move || {
        let mut token = SoftToken::in_memory(state(), Presence::Auto).unwrap();
        transport::serve(&listener, &mut token, &stopper)
    });
    for name in ["a.sock", "b.sock"] {
        let host = UnixDatagram::bind(dir.path().join(name)).unwrap();
        host.connect(&path).unwrap();
        host.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut send = |r: &[u8; REPORT_SIZE]| {
            host.send(r).unwrap();
        };
        let mut recv = || {
            let mut buf = [0u8; REPORT_SIZE];
            host.recv(&mut buf).unwrap();
            buf
        };
        let cid = init(&mut send, &mut recv);
        assert_eq!(call(&mut send, &mut recv, cid, command::MSG, &VERSION_APDU).payload, b"U2F_V2\x90\x00");
    }
    control.stop();
    server.join().unwrap().unwrap();
    assert!(!path.exists(), "the socket file is removed on shutdown");
}

/// Reads one whole message from the link.
fn read_message(link: &mut MemoryLink) -> Option<Message> {
    let first = link.read_report()?;
    let mut r =
        Reassembly::start(&Packet::parse(&first).unwrap(), Instant::now(), Duration::from_secs(5)).unwrap();
    while !r.is_complete() {
        r.push(&Packet::parse(&link.read_report().unwrap()).unwrap(), Instant::now()).unwrap();
    }
    Some(r.into_message())
}

fn write_message(link: &mut MemoryLink, channel: ChannelId, cmd: u8, payload: &[u8]) {
    for report in Fragments::new(channel, cmd, payload).unwrap() {
        link.write_report(&report);
    }
}

fn init_link(link: &mut MemoryLink) -> (ChannelId, u8) {
    write_message(link, ChannelId::BROADCAST, command::INIT, b"nonce!!!");
    let reply = read_message(link).unwrap();
    (ChannelId(u32::from_be_bytes(reply.payload[8..12].try_into().unwrap())), reply.payload[16])
}

fn make_credential_request() -> Vec<u8> {
    Request::MakeCredential(MakeCredential {
        client_data_hash: [1; 32],
        rp: RelyingParty { id: "localhost".into(), name: None },
        user: User { id: vec![7], name: None, display_name: None },
        algorithms: vec![ES256],
        exclude_list: vec![],
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    })
    .encode()
}

#[test]
fn a_ctap2_request_waits_for_a_touch_with_keepalives_and_can_be_cancelled() {
    let token = SoftToken::in_memory(state(), Presence::Manual).unwrap();
    let mut link = MemoryLink::new(token);
    let (cid, capabilities) = init_link(&mut link);
    assert_eq!(capabilities, capability::WINK | capability::CBOR, "both protocols by default");

    write_message(&mut link, cid, command::CBOR, &make_credential_request());
    let keepalive = read_message(&mut link).unwrap();
    assert_eq!(
        (keepalive.command, keepalive.payload.as_slice()),
        (command::KEEPALIVE, &[keepalive::UP_NEEDED][..])
    );
    assert!(read_message(&mut link).is_none(), "no answer before the touch");
    link.token_mut().approve();
    let answer = read_message(&mut link).unwrap();
    assert_eq!(answer.command, command::CBOR);
    let body = response::split_status(&answer.payload).unwrap();
    let made = MakeCredentialResponse::parse(body).unwrap();
    let credential_id = AuthenticatorData::parse(&made.auth_data).unwrap().attested.unwrap().credential_id;
    assert_eq!(link.token_mut().state().counter, 1);

    // The same credential over U2F needs no enrolment of its own; the counter goes on.
    let length = (65 + credential_id.len()) as u16;
    let mut apdu = vec![0, ins::AUTHENTICATE, 0x08, 0, 0];
    apdu.extend_from_slice(&length.to_be_bytes());
    apdu.extend_from_slice(&[0; 32]);
    apdu.extend_from_slice(&keygate_device::soft::credential::app_param("localhost"));
    apdu.push(credential_id.len() as u8);
    apdu.extend_from_slice(&credential_id);
    apdu.extend_from_slice(&[0, 0]);
    write_message(&mut link, cid, command::MSG, &apdu);
    let reply = read_message(&mut link).unwrap();
    assert_eq!((reply.command, &reply.payload[reply.payload.len() - 2..]), (command::MSG, &[0x90, 0][..]));
    assert_eq!(u32::from_be_bytes(reply.payload[1..5].try_into().unwrap()), 2);

    // Cancelled while waiting: CANCEL itself gets no answer, the request gets KEEPALIVE_CANCEL.
    let assertion = Request::GetAssertion(GetAssertion {
        rp_id: "localhost".into(),
        client_data_hash: [2; 32],
        allow_list: vec![credential_id],
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    });
    write_message(&mut link, cid, command::CBOR, &assertion.encode());
    assert_eq!(read_message(&mut link).unwrap().command, command::KEEPALIVE);
    write_message(&mut link, cid, command::CANCEL, &[]);
    let answer = read_message(&mut link).unwrap();
    assert_eq!(
        (answer.command, answer.payload.as_slice()),
        (command::CBOR, &[Status::KEEPALIVE_CANCEL.0][..])
    );
    assert!(read_message(&mut link).is_none());
    assert_eq!(link.token_mut().state().counter, 2, "a cancelled request hands out nothing");
}

#[test]
fn a_ctap2_only_token_refuses_msg_and_a_u2f_token_refuses_cbor() {
    let ctap2 = SoftToken::in_memory(state(), Presence::Auto).unwrap().with_protocol(Protocol::Ctap2);
    let mut link = MemoryLink::new(ctap2);
    let (cid, capabilities) = init_link(&mut link);
    assert_eq!(capabilities, capability::WINK | capability::CBOR | capability::NMSG);
    write_message(&mut link, cid, command::MSG, &VERSION_APDU);
    assert_eq!(read_message(&mut link).unwrap().payload, [error_code::INVALID_CMD]);
    write_message(&mut link, cid, command::CBOR, &[ctap2::command::GET_INFO]);
    let info = read_message(&mut link).unwrap();
    let info = GetInfo::parse(response::split_status(&info.payload).unwrap()).unwrap();
    assert_eq!(info.versions, ["FIDO_2_0"]);

    let u2f = SoftToken::in_memory(state(), Presence::Auto).unwrap().with_protocol(Protocol::U2f);
    let mut link = MemoryLink::new(u2f);
    let (cid, capabilities) = init_link(&mut link);
    assert_eq!(capabilities, capability::WINK);
    write_message(&mut link, cid, command::CBOR, &[ctap2::command::GET_INFO]);
    let reply = read_message(&mut link).unwrap();
    assert_eq!((reply.command, reply.payload.as_slice()), (command::ERROR, &[error_code::INVALID_CMD][..]));
    write_message(&mut link, cid, command::MSG, &VERSION_APDU);
    assert_eq!(read_message(&mut link).unwrap().payload, b"U2F_V2\x90\x00");
}
