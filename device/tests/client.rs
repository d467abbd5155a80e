//! Our U2F host against the soft token over UDP, a Unix socket and
//! in-process, and against a scripted device that misbehaves the ways real
//! ones do (keepalives, other channels' frames, BUSY, foreign INIT replies,
//! truncated reports).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::net::UdpSocket;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keygate_device::client::{ClientError, CtapHidClient, U2fClient, Wait};
use keygate_device::ctaphid::{
    ChannelId, Fragments, Packet, REPORT_SIZE, command, error_code, host::HostError,
};
use keygate_device::soft::credential::app_param;
use keygate_device::soft::state::{Attestation, Secret};
use keygate_device::soft::{Presence, SoftToken, TokenState};
use keygate_device::transport::{self, Connection, Control, DeviceSpec, MemoryLink, unix::UnixListener};
use p256::ecdsa::{Signature, VerifyingKey, signature::Verifier};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

fn state() -> TokenState {
    let attestation = Attestation {
        certificate: include_bytes!("../../fixtures/soft-token/attestation.der").to_vec(),
        private_key: Secret::new(include_bytes!("../../fixtures/soft-token/attestation-key.der").to_vec()),
    };
    TokenState::generate(&mut UnwrapErr(SysRng), attestation)
}

/// A soft token served on UDP in a thread; stopped on drop.
struct Served {
    spec: DeviceSpec,
    control: Arc<Control>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Served {
    fn udp(presence: Presence) -> Served {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let spec = DeviceSpec::Udp(socket.local_addr().unwrap().to_string());
        spawn(spec, presence, tempfile::tempdir().unwrap(), move |token, control| {
            transport::serve(&socket, token, control).unwrap()
        })
    }

    fn unix(presence: Presence) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.sock");
        let listener = UnixListener::bind(&path).unwrap();
        spawn(DeviceSpec::Unix(path), presence, dir, move |token, control| {
            transport::serve(&listener, token, control).unwrap()
        })
    }
}

fn spawn<P: Clone + Send + 'static>(
    spec: DeviceSpec,
    presence: Presence,
    dir: tempfile::TempDir,
    serve: impl FnOnce(&mut SoftToken<P>, &Control) + Send + 'static,
) -> Served {
    let control = Arc::new(Control::default());
    let worker = Arc::clone(&control);
    let thread = std::thread::spawn(move || {
        let mut token = SoftToken::in_memory(state(), presence).unwrap();
        serve(&mut token, &worker);
    });
    Served { spec, control, thread: Some(thread), _dir: dir }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.control.stop();
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn client(connection: Box<dyn Connection + Send>) -> U2fClient<Box<dyn Connection + Send>> {
    U2fClient::new(CtapHidClient::open(connection, &mut UnwrapErr(SysRng)).unwrap())
}

/// Register, authenticate twice, check-only, another app: the whole U2F surface.
fn exercise(mut u2f: U2fClient<Box<dyn Connection + Send>>) {
    assert_eq!(u2f.version().unwrap(), "U2F_V2");
    let app = app_param("localhost");
    let reg = u2f.register(&[1; 32], &app, Wait::default()).unwrap();
    assert_eq!(reg.certificate, include_bytes!("../../fixtures/soft-token/attestation.der"));
    let public = VerifyingKey::from_sec1_bytes(&reg.public_key).unwrap();
    let first = u2f.authenticate(&[2; 32], &app, &reg.key_handle, true, Wait::default()).unwrap();
    let second = u2f.authenticate(&[3; 32], &app, &reg.key_handle, true, Wait::default()).unwrap();
    assert_eq!((first.flags, second.counter), (1, first.counter + 1));
    let signed = [&app[..], &second.raw[..5], &[3; 32]].concat();
    public.verify(&signed, &Signature::from_der(&second.signature).unwrap()).unwrap();
    assert!(u2f.knows(&app, &reg.key_handle).unwrap());
    let other = app_param("example.com");
    assert!(!u2f.knows(&other, &reg.key_handle).unwrap());
    assert!(matches!(
        u2f.authenticate(&[4; 32], &other, &reg.key_handle, true, Wait::default()),
        Err(ClientError::UnknownKeyHandle)
    ));
    assert_eq!(u2f.hid().ping(&[9; 1000]).unwrap(), vec![9; 1000]);
    u2f.hid().wink().unwrap();
}

#[test]
fn over_udp() {
    let served = Served::udp(Presence::Auto);
    exercise(client(served.spec.open().unwrap()));
}

#[test]
fn over_a_unix_socket() {
    let served = Served::unix(Presence::Auto);
    exercise(client(served.spec.open().unwrap()));
}

#[test]
fn in_process() {
    let link = MemoryLink::new(SoftToken::in_memory(state(), Presence::Auto).unwrap());
    exercise(client(Box::new(link)));
}

#[test]
fn presence_is_polled_until_approved() {
    let served = Served::udp(Presence::Manual);
    let mut u2f = client(served.spec.open().unwrap());
    let control = Arc::clone(&served.control);
    let started = Instant::now();
    let toucher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        control.approve();
    });
    let reg = u2f.register(&[1; 32], &app_param("localhost"), Wait::default()).unwrap();
    toucher.join().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(700), "registered before the touch");
    assert_eq!(reg.public_key.len(), 65);
}

#[test]
fn waiting_for_presence_times_out_and_cancels() {
    let served = Served::udp(Presence::Manual);
    let mut u2f = client(served.spec.open().unwrap());
    let app = app_param("localhost");
    let started = Instant::now();
    let wait = Wait { deadline: Some(started + Duration::from_millis(600)), ..Wait::default() };
    assert!(matches!(u2f.register(&[1; 32], &app, wait), Err(ClientError::Timeout)));
    assert!(started.elapsed() < Duration::from_secs(2));

    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let wait = Wait { cancel: Some(&cancel), ..Wait::default() };
    assert!(matches!(u2f.register(&[1; 32], &app, wait), Err(ClientError::Cancelled)));
    u2f.hid().cancel().unwrap();
    assert_eq!(u2f.version().unwrap(), "U2F_V2", "the session still works after cancelling");
}

/// A device that answers from a script: for each request, a list of raw reports.
struct Scripted {
    channel: ChannelId,
    replies: VecDeque<Vec<Vec<u8>>>,
    pending: VecDeque<Vec<u8>>,
    last_nonce: [u8; 8],
    /// The command of every request the host sent, in order.
    sent: Arc<Mutex<Vec<u8>>>,
    /// Announce WINK only in the INIT reply, not CBOR (a U2F-only key).
    u2f_only: bool,
}

impl Scripted {
    fn new(channel: ChannelId, replies: VecDeque<Vec<Vec<u8>>>) -> Self {
        Scripted {
            channel,
            replies,
            pending: VecDeque::new(),
            last_nonce: [0; 8],
            sent: Arc::default(),
            u2f_only: false,
        }
    }
}

impl Connection for Scripted {
    fn write_report(&mut self, report: &[u8; REPORT_SIZE]) -> std::io::Result<()> {
        if let Ok(Packet::Init { command: command::INIT, data, .. }) = Packet::parse(report) {
            self.last_nonce.copy_from_slice(&data[..8]);
        }
        if let Ok(Packet::Init { command, .. }) = Packet::parse(report) {
            self.sent.lock().unwrap().push(command);
            if command == command::CANCEL {
                return Ok(()); // never answered
            }
            let script = self.replies.pop_front().expect("no reply scripted for this request");
            for mut report in script {
                if report == b"NONCE" {
                    let capabilities = if self.u2f_only { 0x01 } else { 0x05 };
                    report =
                        init_reply_with(ChannelId::BROADCAST, self.last_nonce, self.channel, capabilities);
                }
                self.pending.push_back(report);
            }
        }
        Ok(())
    }

    fn read_report(&mut self, _timeout: Duration) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.pending.pop_front())
    }
}

fn frame(channel: ChannelId, cmd: u8, payload: &[u8]) -> Vec<Vec<u8>> {
    Fragments::new(channel, cmd, payload).unwrap().map(|r| r.to_vec()).collect()
}

fn init_reply(on: ChannelId, nonce: [u8; 8], assigned: ChannelId) -> Vec<u8> {
    init_reply_with(on, nonce, assigned, 0x05)
}

fn init_reply_with(on: ChannelId, nonce: [u8; 8], assigned: ChannelId, capabilities: u8) -> Vec<u8> {
    let mut payload = nonce.to_vec();
    payload.extend_from_slice(&assigned.to_bytes());
    payload.extend_from_slice(&[2, 5, 4, 3, capabilities]);
    frame(on, command::INIT, &payload).remove(0)
}

#[test]
fn a_scripted_device_that_misbehaves_the_ways_real_ones_do() {
    let cid = ChannelId(0x4242);
    let other = ChannelId(0x9999);
    let version = frame(cid, command::MSG, b"U2F_V2\x90\x00");
    let mut replies = VecDeque::new();
    // INIT: first another host's INIT reply (wrong nonce), then ours.
    replies.push_back(vec![init_reply(ChannelId::BROADCAST, *b"someone!", other), b"NONCE".to_vec()]);
    // VERSION: keepalives and another channel's frames come first.
    let mut noisy = frame(cid, command::KEEPALIVE, &[1]);
    noisy.extend(frame(other, command::MSG, b"not yours\x90\x00"));
    noisy.extend(frame(cid, command::KEEPALIVE, &[2]));
    noisy.extend(version.clone());
    replies.push_back(noisy);
    // VERSION again: BUSY twice, then the answer (the client retries each time).
    replies.push_back(frame(cid, command::ERROR, &[error_code::CHANNEL_BUSY]));
    replies.push_back(frame(cid, command::ERROR, &[error_code::CHANNEL_BUSY]));
    replies.push_back(version);
    // PING: a truncated report.
    replies.push_back(vec![frame(cid, command::PING, b"x")[0][..20].to_vec()]);
    // PING: a device-reported error.
    replies.push_back(frame(cid, command::ERROR, &[error_code::INVALID_LEN]));
    let device = Scripted::new(cid, replies);

    let hid = CtapHidClient::open(device, &mut UnwrapErr(SysRng)).unwrap();
    assert_eq!((hid.info().channel, hid.info().version, hid.info().capabilities), (cid, (5, 4, 3), 0x05));
    let mut u2f = U2fClient::new(hid);
    assert_eq!(u2f.version().unwrap(), "U2F_V2");
    assert_eq!(u2f.version().unwrap(), "U2F_V2");
    assert!(matches!(u2f.hid().ping(b"x"), Err(ClientError::Host(HostError::Frame(_)))));
    assert!(matches!(
        u2f.hid().ping(b"x"),
        Err(ClientError::Host(HostError::Device { code: error_code::INVALID_LEN }))
    ));
}

#[test]
fn a_device_that_only_takes_short_apdus_gets_them_after_6700() {
    let cid = ChannelId(7);
    let mut replies = VecDeque::new();
    replies.push_back(vec![b"NONCE".to_vec()]);
    replies.push_back(frame(cid, command::MSG, &[0x67, 0x00]));
    replies.push_back(frame(cid, command::MSG, b"U2F_V2\x90\x00"));
    let device = Scripted::new(cid, replies);
    let mut u2f = U2fClient::new(CtapHidClient::open(device, &mut UnwrapErr(SysRng)).unwrap());
    assert_eq!(u2f.version().unwrap(), "U2F_V2");
}

#[test]
fn giving_up_on_a_ctap2_capable_key_sends_ctaphid_cancel() {
    let cid = ChannelId(11);
    let mut replies = VecDeque::new();
    replies.push_back(vec![b"NONCE".to_vec()]); // capabilities 0x05: WINK | CBOR
    replies.push_back(frame(cid, command::MSG, &[0x69, 0x85]));
    let device = Scripted::new(cid, replies);
    let sent = Arc::clone(&device.sent);
    let mut u2f = U2fClient::new(CtapHidClient::open(device, &mut UnwrapErr(SysRng)).unwrap());
    let wait = Wait { deadline: Some(Instant::now()), ..Wait::default() };
    assert!(matches!(u2f.register(&[1; 32], &[2; 32], wait), Err(ClientError::Timeout)));
    assert_eq!(*sent.lock().unwrap(), [command::INIT, command::MSG, command::CANCEL]);
}

#[test]
fn giving_up_on_a_u2f_only_key_sends_nothing_more() {
    let cid = ChannelId(12);
    let mut replies = VecDeque::new();
    replies.push_back(vec![b"NONCE".to_vec()]);
    replies.push_back(frame(cid, command::MSG, &[0x69, 0x85]));
    let mut device = Scripted::new(cid, replies);
    device.u2f_only = true;
    let sent = Arc::clone(&device.sent);
    let mut u2f = U2fClient::new(CtapHidClient::open(device, &mut UnwrapErr(SysRng)).unwrap());
    assert_eq!(u2f.hid().info().capabilities & 0x04, 0);
    let wait = Wait { deadline: Some(Instant::now()), ..Wait::default() };
    assert!(matches!(u2f.register(&[1; 32], &[2; 32], wait), Err(ClientError::Timeout)));
    assert_eq!(*sent.lock().unwrap(), [command::INIT, command::MSG]);
}
