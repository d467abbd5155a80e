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

/// A device with the capabilities of a FIDO2 key with U2F on.
fn fido2_device() -> Device<Peer> {
    Device::new(DeviceInfo { version: (0, 1, 0), capabilities: capability::WINK | capability::CBOR })
}

fn keepalive_statuses(messages: &[Message]) -> Vec<u8> {
    messages
        .iter()
        .map(|m| {
            assert_eq!(m.command, command::KEEPALIVE, "{messages:?}");
            m.payload[0]
        })
        .collect()
}

#[test]
fn capabilities_decide_which_of_msg_and_cbor_are_taken() {
    let now = Instant::now();
    let ctap2_only = DeviceInfo {
        version: (0, 1, 0),
        capabilities: capability::WINK | capability::CBOR | capability::NMSG,
    };
    let mut dev = Device::new(ctap2_only);
    let cid = allocate(&mut dev, now, 1);
    assert!(send(&mut dev, now, 1, cid, command::MSG, &[0, 3, 0, 0]).is_none());
    assert_eq!(error_of(&replies(&mut dev, 1)), error_code::INVALID_CMD);
    let request = send(&mut dev, now, 1, cid, command::CBOR, &[4]);
    assert_eq!(request, Some(Request::Cbor { channel: cid, peer: 1, payload: vec![4] }));

    let mut u2f = Device::new(DeviceInfo::default());
    let cid = allocate(&mut u2f, now, 1);
    assert!(send(&mut u2f, now, 1, cid, command::CBOR, &[4]).is_none());
    assert_eq!(error_of(&replies(&mut u2f, 1)), error_code::INVALID_CMD);
}

#[test]
fn a_cbor_answer_is_framed_as_cbor_and_a_msg_answer_as_msg() {
    let now = Instant::now();
    let mut dev = fido2_device();
    let cid = allocate(&mut dev, now, 1);
    let payload: Vec<u8> = (0..300).map(|i| i as u8).collect();
    assert!(matches!(send(&mut dev, now, 1, cid, command::CBOR, &payload), Some(Request::Cbor { .. })));
    dev.respond(cid, &[0, 0xa0]).unwrap();
    assert_eq!(
        replies(&mut dev, 1),
        vec![Message { channel: cid, command: command::CBOR, payload: vec![0, 0xa0] }]
    );
    assert!(matches!(send(&mut dev, now, 1, cid, command::MSG, &[0, 3, 0, 0]), Some(Request::Msg { .. })));
    dev.respond(cid, &[0x90, 0]).unwrap();
    assert_eq!(replies(&mut dev, 1)[0].command, command::MSG);
    assert_eq!(dev.poll_timeout(), None, "no keepalive once answered");
}

#[test]
fn a_waiting_cbor_request_hears_keepalive_every_100_ms_with_the_status_asked_for() {
    let t0 = Instant::now();
    let mut dev = fido2_device();
    let cid = allocate(&mut dev, t0, 1);
    send(&mut dev, t0, 1, cid, command::CBOR, &[1, 0xa0]).unwrap();
    assert_eq!(dev.poll_timeout(), Some(t0 + KEEPALIVE_INTERVAL));
    dev.handle_timeout(t0 + Duration::from_millis(99));
    assert!(dev.poll_transmit().is_none(), "too early");
    dev.handle_timeout(t0 + KEEPALIVE_INTERVAL);
    assert_eq!(keepalive_statuses(&replies(&mut dev, 1)), [crate::ctap2::keepalive::PROCESSING]);
    // The authenticator starts waiting for a touch: one at once, then every 100 ms.
    let t1 = t0 + Duration::from_millis(150);
    dev.keepalive(t1, crate::ctap2::keepalive::UP_NEEDED);
    assert_eq!(keepalive_statuses(&replies(&mut dev, 1)), [crate::ctap2::keepalive::UP_NEEDED]);
    assert_eq!(dev.poll_timeout(), Some(t1 + KEEPALIVE_INTERVAL));
    for tick in 1..=5 {
        dev.handle_timeout(t1 + KEEPALIVE_INTERVAL * tick);
        assert_eq!(keepalive_statuses(&replies(&mut dev, 1)), [crate::ctap2::keepalive::UP_NEEDED]);
    }
    // A late wake-up sends one keepalive, not the backlog.
    dev.handle_timeout(t1 + Duration::from_secs(3));
    assert_eq!(replies(&mut dev, 1).len(), 1);
    assert_eq!(dev.poll_timeout(), Some(t1 + Duration::from_secs(3) + KEEPALIVE_INTERVAL));
    dev.respond(cid, &[0x27]).unwrap();
    assert_eq!(replies(&mut dev, 1)[0].command, command::CBOR);
    assert_eq!(dev.poll_timeout(), None);
}

#[test]
fn other_channels_are_busy_while_a_cbor_request_waits() {
    let now = Instant::now();
    let mut dev = fido2_device();
    let a = allocate(&mut dev, now, 1);
    let b = allocate(&mut dev, now, 2);
    send(&mut dev, now, 1, a, command::CBOR, &[2, 0xa0]).unwrap();
    for cmd in [command::PING, command::CBOR, command::MSG, command::WINK] {
        assert!(send(&mut dev, now, 2, b, cmd, &[]).is_none());
        assert_eq!(error_of(&replies(&mut dev, 2)), error_code::CHANNEL_BUSY, "command {cmd:#x}");
    }
    // CANCEL from another channel neither cancels nor gets an answer.
    assert!(send(&mut dev, now, 2, b, command::CANCEL, &[]).is_none());
    assert!(dev.poll_transmit().is_none());
    // A new host can still get a channel.
    allocate(&mut dev, now, 3);
    dev.respond(a, &[0]).unwrap();
    assert_eq!(replies(&mut dev, 1)[0].command, command::CBOR);
    send(&mut dev, now, 2, b, command::PING, b"free");
    assert_eq!(replies(&mut dev, 2)[0].payload, b"free");
}

#[test]
fn cancel_from_the_owner_reaches_the_authenticator_which_answers_the_request() {
    let now = Instant::now();
    let mut dev = fido2_device();
    let cid = allocate(&mut dev, now, 1);
    send(&mut dev, now, 1, cid, command::CBOR, &[2, 0xa0]).unwrap();
    assert_eq!(send(&mut dev, now, 1, cid, command::CANCEL, &[]), Some(Request::Cancel { channel: cid }));
    assert!(dev.poll_transmit().is_none(), "CANCEL itself is never answered");
    dev.respond(cid, &[crate::ctap2::Status::KEEPALIVE_CANCEL.0]).unwrap();
    let reply = replies(&mut dev, 1);
    assert_eq!((reply[0].command, reply[0].payload.as_slice()), (command::CBOR, &[0x2d][..]));
    // Nothing pending any more: a second CANCEL is a no-op.
    assert!(send(&mut dev, now, 1, cid, command::CANCEL, &[]).is_none());
}

#[test]
fn a_resync_abandons_the_pending_cbor_request() {
    let now = Instant::now();
    let mut dev = fido2_device();
    let cid = allocate(&mut dev, now, 1);
    send(&mut dev, now, 1, cid, command::CBOR, &[2, 0xa0]).unwrap();
    assert_eq!(send(&mut dev, now, 1, cid, command::INIT, &[5; 8]), Some(Request::Cancel { channel: cid }));
    assert_eq!(replies(&mut dev, 1)[0].command, command::INIT);
    // The late answer goes nowhere, and no keepalive is left running.
    dev.respond(cid, &[0x2d]).unwrap();
    assert!(dev.poll_transmit().is_none());
    assert_eq!(dev.poll_timeout(), None);
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
        let mut dev = fido2_device();
        for (peer, mut report) in reports {
            // Steer some reports onto the broadcast and the first channels.
            if report.len() >= 4 && peer % 3 == 0 { report[..4].copy_from_slice(&[0xff; 4]); }
            if report.len() >= 4 && peer % 3 == 1 { report[..4].copy_from_slice(&1u32.to_be_bytes()); }
            if let Some(Request::Msg { channel, .. } | Request::Cbor { channel, .. } | Request::Cancel { channel }) =
                dev.handle_report(now, peer, &report)
            {
                dev.respond(channel, &[0x90, 0x00]).unwrap();
            }
            while dev.poll_transmit().is_some() {}
        }
    }
}
