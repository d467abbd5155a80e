//! The soft token behind its real drivers: in-process, UDP and Unix datagram
//! sockets, with several hosts at once, driven by host code built from the
//! same framing module a USB host uses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate_device::ctaphid::frame::Message;
use keygate_device::ctaphid::{ChannelId, Fragments, Packet, REPORT_SIZE, Reassembly, command, error_code};
use keygate_device::soft::state::{Attestation, Secret};
use keygate_device::soft::{Presence, SoftToken, TokenState};
use keygate_device::transport::{self, Control, MemoryLink, unix::UnixListener};
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
