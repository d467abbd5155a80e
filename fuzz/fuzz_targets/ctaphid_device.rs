//! Reports from a host are untrusted: any sequence of datagrams, from any
//! number of peers, at any pace, must give CTAPHID answers, never a panic,
//! and every answer must be a well-formed 64-byte report.
#![no_main]

use std::time::{Duration, Instant};

use keygate_device::ctaphid::{Device, DeviceInfo, Packet, Request};
use keygate_device::u2f::CommandApdu;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut device = Device::<u8>::new(DeviceInfo::default());
    let mut now = Instant::now();
    let mut rest = data;
    // Each record: peer, length (0..=70), delay in 10 ms steps, then the report.
    while let [peer, len, delay, tail @ ..] = rest {
        let len = usize::from(*len % 71).min(tail.len());
        let (report, next) = tail.split_at(len);
        rest = next;
        now += Duration::from_millis(u64::from(*delay) * 10);
        if let Some(Request::Msg { channel, apdu, .. }) = device.handle_report(now, *peer, report) {
            let _ = CommandApdu::parse(&apdu);
            device.respond(channel, &[0x90, 0x00]).expect("a two-byte response always frames");
        }
        device.handle_timeout(now);
        while let Some(transmit) = device.poll_transmit() {
            Packet::parse(&transmit.report).expect("the device only sends well-formed reports");
        }
    }
});
