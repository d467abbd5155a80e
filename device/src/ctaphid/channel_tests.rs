//! Tests of the device state machine, driven the way a host would drive it.

use super::*;
use crate::ctaphid::frame::{MAX_PAYLOAD, Reassembly};
use proptest::prelude::*;

type Peer = u8;

fn reports(channel: ChannelId, cmd: u8, payload: &[u8]) -> Vec<[u8; REPORT_SIZE]> {
    Fragments::new(channel, cmd, payload).unwrap().collect()
}

/// Sends a whole message; returns the request it completes.
fn send(
    dev: &mut Device<Peer>,
    now: Instant,
    peer: Peer,
    channel: ChannelId,
    cmd: u8,
    payload: &[u8],
) -> Option<Request<Peer>> {
    let mut request = None;
    for report in reports(channel, cmd, payload) {
        request = dev.handle_report(now, peer, &report);
    }
    request
}

/// Drains the transmit queue into messages, checking each went to `peer`.
fn replies(dev: &mut Device<Peer>, peer: Peer) -> Vec<Message> {
    let mut out = Vec::new();
    let mut current: Option<Reassembly> = None;
    while let Some(t) = dev.poll_transmit() {
        assert_eq!(t.peer, peer, "reply sent to the wrong peer");
        let packet = Packet::parse(&t.report).unwrap();
        match current.as_mut() {
            Some(r) => r.push(&packet, Instant::now()).unwrap(),
            None => current = Some(Reassembly::start(&packet, Instant::now(), MESSAGE_TIMEOUT).unwrap()),
        }
        if current.as_ref().is_some_and(Reassembly::is_complete) {
            out.push(current.take().unwrap().into_message());
        }
    }
    assert!(current.is_none(), "a reply was cut short");
    out
}

fn error_of(messages: &[Message]) -> u8 {
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].command, command::ERROR, "{messages:?}");
    messages[0].payload[0]
}

fn allocate(dev: &mut Device<Peer>, now: Instant, peer: Peer) -> ChannelId {
    let nonce = [peer, 1, 2, 3, 4, 5, 6, 7];
    assert!(send(dev, now, peer, ChannelId::BROADCAST, command::INIT, &nonce).is_none());
    let reply = replies(dev, peer);
    assert_eq!(reply.len(), 1);
    assert_eq!(reply[0].channel, ChannelId::BROADCAST);
    assert_eq!(reply[0].command, command::INIT);
    assert_eq!(reply[0].payload.len(), 17);
    assert_eq!(reply[0].payload[..8], nonce);
    assert_eq!(reply[0].payload[12], PROTOCOL_VERSION);
    let p = &reply[0].payload;
    ChannelId(u32::from_be_bytes([p[8], p[9], p[10], p[11]]))
}

#[test]
fn init_on_broadcast_allocates_distinct_channels() {
    let now = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    let a = allocate(&mut dev, now, 1);
    let b = allocate(&mut dev, now, 2);
    assert_ne!(a, b);
    assert!(a != ChannelId::BROADCAST && a != ChannelId::RESERVED);
    // INIT on an allocated channel resynchronises it and keeps the id.
    send(&mut dev, now, 1, a, command::INIT, &[9; 8]);
    let reply = replies(&mut dev, 1);
    assert_eq!(reply[0].channel, a);
    assert_eq!(reply[0].payload[8..12], a.to_bytes());
}

#[test]
fn ping_echoes_the_largest_message() {
    let now = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    let cid = allocate(&mut dev, now, 1);
    let payload: Vec<u8> = (0..MAX_PAYLOAD).map(|i| i as u8).collect();
    assert!(send(&mut dev, now, 1, cid, command::PING, &payload).is_none());
    let reply = replies(&mut dev, 1);
    assert_eq!(reply, vec![Message { channel: cid, command: command::PING, payload }]);
}

#[test]
fn a_pending_msg_makes_other_channels_busy_and_the_answer_goes_to_its_sender() {
    let now = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    let a = allocate(&mut dev, now, 1);
    let b = allocate(&mut dev, now, 2);
    let request = send(&mut dev, now, 1, a, command::MSG, &[0, 3, 0, 0]).unwrap();
    assert_eq!(request, Request::Msg { channel: a, peer: 1, apdu: vec![0, 3, 0, 0] });
    send(&mut dev, now, 2, b, command::PING, b"hi");
    assert_eq!(error_of(&replies(&mut dev, 2)), error_code::CHANNEL_BUSY);
    // A broadcast INIT is still answered while busy.
    allocate(&mut dev, now, 2);
    dev.respond(a, b"U2F_V2\x90\x00").unwrap();
    let reply = replies(&mut dev, 1);
    assert_eq!(reply[0].payload, b"U2F_V2\x90\x00");
    send(&mut dev, now, 2, b, command::PING, b"hi");
    assert_eq!(replies(&mut dev, 2)[0].payload, b"hi");
}

#[test]
fn a_message_being_reassembled_makes_other_channels_busy() {
    let now = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    let a = allocate(&mut dev, now, 1);
    let b = allocate(&mut dev, now, 2);
    let long = reports(a, command::PING, &[1; 200]);
    dev.handle_report(now, 1, &long[0]);
    send(&mut dev, now, 2, b, command::PING, b"x");
    assert_eq!(error_of(&replies(&mut dev, 2)), error_code::CHANNEL_BUSY);
    // Host B's continuation packets are ignored, and A's message is unharmed.
    dev.handle_report(now, 2, &reports(b, command::PING, &[2; 100])[1]);
    for report in &long[1..] {
        dev.handle_report(now, 1, report);
    }
    assert_eq!(replies(&mut dev, 1)[0].payload, vec![1; 200]);
}

#[test]
fn channel_errors() {
    let now = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    send(&mut dev, now, 1, ChannelId(0x1234), command::PING, b"x");
    assert_eq!(error_of(&replies(&mut dev, 1)), error_code::INVALID_CHANNEL);
    send(&mut dev, now, 1, ChannelId::BROADCAST, command::PING, b"x");
    assert_eq!(error_of(&replies(&mut dev, 1)), error_code::INVALID_CHANNEL);
    send(&mut dev, now, 1, ChannelId::RESERVED, command::INIT, &[0; 8]);
    assert_eq!(error_of(&replies(&mut dev, 1)), error_code::INVALID_CHANNEL);
}

#[test]
fn command_and_length_errors() {
    let now = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    let cid = allocate(&mut dev, now, 1);
    for (cmd, payload, code) in [
        (0x55, &b""[..], error_code::INVALID_CMD),
        (command::CBOR, &[4][..], error_code::INVALID_CMD),
        (command::WINK, &[1][..], error_code::INVALID_LEN),
        (command::LOCK, &[][..], error_code::INVALID_LEN),
        (command::LOCK, &[11][..], error_code::INVALID_PAR),
    ] {
        send(&mut dev, now, 1, cid, cmd, payload);
        assert_eq!(error_of(&replies(&mut dev, 1)), code, "command {cmd:#x}");
    }
    send(&mut dev, now, 1, ChannelId::BROADCAST, command::INIT, &[0; 7]);
    assert_eq!(error_of(&replies(&mut dev, 1)), error_code::INVALID_LEN);
    // A truncated INIT report.
    let report = reports(ChannelId::BROADCAST, command::INIT, &[0; 8]);
    dev.handle_report(now, 1, &report[0][..10]);
    assert_eq!(error_of(&replies(&mut dev, 1)), error_code::INVALID_LEN);
    // Too short to name a channel: nobody to answer.
    dev.handle_report(now, 1, &report[0][..3]);
    assert!(dev.poll_transmit().is_none());
}

#[test]
fn wink_is_answered_and_reported() {
    let now = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    let cid = allocate(&mut dev, now, 1);
    assert_eq!(send(&mut dev, now, 1, cid, command::WINK, &[]), Some(Request::Wink { channel: cid }));
    assert_eq!(replies(&mut dev, 1)[0].command, command::WINK);
}

#[test]
fn a_spurious_continuation_packet_is_ignored() {
    let now = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    let cid = allocate(&mut dev, now, 1);
    let stray = reports(cid, command::PING, &[0; 100]);
    assert!(dev.handle_report(now, 1, &stray[1]).is_none());
    assert!(dev.poll_transmit().is_none());
    send(&mut dev, now, 1, cid, command::PING, b"still fine");
    assert_eq!(replies(&mut dev, 1)[0].payload, b"still fine");
}

#[test]
fn out_of_order_continuation_is_invalid_seq() {
    let now = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    let cid = allocate(&mut dev, now, 1);
    let r = reports(cid, command::PING, &[0; 200]);
    dev.handle_report(now, 1, &r[0]);
    dev.handle_report(now, 1, &r[2]);
    assert_eq!(error_of(&replies(&mut dev, 1)), error_code::INVALID_SEQ);
    // An INIT-type packet in the middle of a message is a sequence error too.
    dev.handle_report(now, 1, &r[0]);
    dev.handle_report(now, 1, &r[0]);
    assert_eq!(error_of(&replies(&mut dev, 1)), error_code::INVALID_SEQ);
}

#[test]
fn an_unfinished_message_times_out_with_msg_timeout() {
    let t0 = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    let a = allocate(&mut dev, t0, 1);
    let b = allocate(&mut dev, t0, 2);
    dev.handle_report(t0, 1, &reports(a, command::PING, &[0; 100])[0]);
    assert_eq!(dev.poll_timeout(), Some(t0 + MESSAGE_TIMEOUT));
    dev.handle_timeout(t0 + MESSAGE_TIMEOUT + Duration::from_millis(1));
    assert_eq!(error_of(&replies(&mut dev, 1)), error_code::MSG_TIMEOUT);
    assert_eq!(dev.poll_timeout(), None);
    send(&mut dev, t0, 2, b, command::PING, b"free again");
    assert_eq!(replies(&mut dev, 2)[0].payload, b"free again");
}

#[test]
fn lock_holds_other_channels_off_until_it_expires() {
    let t0 = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    let a = allocate(&mut dev, t0, 1);
    let b = allocate(&mut dev, t0, 2);
    send(&mut dev, t0, 1, a, command::LOCK, &[2]);
    assert_eq!(replies(&mut dev, 1)[0].command, command::LOCK);
    send(&mut dev, t0, 2, b, command::PING, b"x");
    assert_eq!(error_of(&replies(&mut dev, 2)), error_code::CHANNEL_BUSY);
    send(&mut dev, t0, 1, a, command::PING, b"owner");
    assert_eq!(replies(&mut dev, 1)[0].payload, b"owner");
    assert_eq!(dev.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    let later = t0 + Duration::from_secs(2);
    send(&mut dev, later, 2, b, command::PING, b"y");
    assert_eq!(replies(&mut dev, 2)[0].payload, b"y");
}

#[test]
fn cancel_is_never_answered() {
    let now = Instant::now();
    let mut dev = Device::new(DeviceInfo::default());
    let cid = allocate(&mut dev, now, 1);
    send(&mut dev, now, 1, cid, command::CANCEL, &[]);
    assert!(dev.poll_transmit().is_none());
}

proptest! {
    #[test]
    fn arbitrary_reports_never_panic(reports in proptest::collection::vec(
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..=70)), 0..40)) {
        let now = Instant::now();
        let mut dev = Device::new(DeviceInfo::default());
        for (peer, mut report) in reports {
            // Steer some reports onto the broadcast and the first channels.
            if report.len() >= 4 && peer % 3 == 0 { report[..4].copy_from_slice(&[0xff; 4]); }
            if report.len() >= 4 && peer % 3 == 1 { report[..4].copy_from_slice(&1u32.to_be_bytes()); }
            if let Some(Request::Msg { channel, .. }) = dev.handle_report(now, peer, &report) {
                dev.respond(channel, &[0x90, 0x00]).unwrap();
            }
            while dev.poll_transmit().is_some() {}
        }
    }
}
