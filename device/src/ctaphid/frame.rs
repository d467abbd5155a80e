//! Splitting a CTAPHID message into 64-byte reports and putting it back
//! together, the same code on the host and on the device.
//!
//! An initialization packet is `CID(4) CMD|0x80(1) BCNT(2) DATA(57)`, a
//! continuation packet `CID(4) SEQ(1) DATA(59)` with SEQ counting 0..=127, so
//! a message holds at most 57 + 128 × 59 = 7609 bytes. [`Fragments`] yields the
//! reports of one message; [`Reassembly`] checks each following report
//! (channel, sequence, deadline) and hands back the message once complete.

use std::time::{Duration, Instant};

use super::{ChannelId, REPORT_SIZE, error_code};

/// Payload bytes carried by an initialization packet.
pub const INIT_DATA_SIZE: usize = REPORT_SIZE - 7;
/// Payload bytes carried by a continuation packet.
pub const CONT_DATA_SIZE: usize = REPORT_SIZE - 5;
/// Largest payload one message can carry: one init and 128 continuation packets.
pub const MAX_PAYLOAD: usize = INIT_DATA_SIZE + 128 * CONT_DATA_SIZE;

/// Why a report could not be framed or a message not rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The report is too short to hold even a channel id and a command byte.
    #[error("report of {got} bytes is too short to carry a CTAPHID header")]
    ReportTooShort {
        /// Bytes received.
        got: usize,
    },
    /// The report is not exactly one 64-byte HID report.
    #[error("report on channel {channel} is {got} bytes, expected {expected}")]
    ReportSize {
        /// The channel the report names.
        channel: ChannelId,
        /// Always [`REPORT_SIZE`].
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// The payload is longer than a CTAPHID message can carry.
    #[error("payload of {got} bytes exceeds the CTAPHID maximum of {max}")]
    PayloadTooLong {
        /// [`MAX_PAYLOAD`].
        max: usize,
        /// Declared or given length.
        got: usize,
    },
    /// A continuation packet came out of order.
    #[error("continuation packet with sequence {got}, expected {expected}")]
    UnexpectedSequence {
        /// The next sequence number due.
        expected: u8,
        /// The one received.
        got: u8,
    },
    /// A continuation packet belongs to a different channel than the message being rebuilt.
    #[error("continuation packet for channel {got} while rebuilding a message on {expected}")]
    WrongChannel {
        /// The channel of the message in progress.
        expected: ChannelId,
        /// The channel of the packet.
        got: ChannelId,
    },
    /// A message needs an initialization packet first.
    #[error("expected an initialization packet on channel {channel}, got a continuation")]
    ExpectedInit {
        /// The channel of the stray packet.
        channel: ChannelId,
    },
    /// An initialization packet arrived while a message was still incomplete.
    #[error("initialization packet on channel {channel} while a message is incomplete")]
    UnexpectedInit {
        /// The channel of the interrupting packet.
        channel: ChannelId,
    },
    /// The rest of the message did not arrive before the deadline.
    #[error("message on channel {channel} timed out waiting for continuation packets")]
    Timeout {
        /// The channel whose message was abandoned.
        channel: ChannelId,
    },
}

impl FrameError {
    /// The CTAPHID ERROR code a device answers this fault with.
    pub fn error_code(&self) -> u8 {
        match self {
            FrameError::ReportTooShort { .. }
            | FrameError::ReportSize { .. }
            | FrameError::PayloadTooLong { .. } => error_code::INVALID_LEN,
            FrameError::UnexpectedSequence { .. }
            | FrameError::ExpectedInit { .. }
            | FrameError::UnexpectedInit { .. } => error_code::INVALID_SEQ,
            FrameError::WrongChannel { .. } => error_code::CHANNEL_BUSY,
            FrameError::Timeout { .. } => error_code::MSG_TIMEOUT,
        }
    }
}

/// One parsed report: either the start of a message or a piece of its rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// The first report of a message.
    Init {
        /// Channel the message travels on.
        channel: ChannelId,
        /// Command code, without the 0x80 bit.
        command: u8,
        /// Total payload length the message declares.
        length: u16,
        /// The 57 data bytes of this report (padding included).
        data: &'a [u8],
    },
    /// A following report.
    Cont {
        /// Channel the message travels on.
        channel: ChannelId,
        /// Sequence number, 0..=127.
        seq: u8,
        /// The 59 data bytes of this report (padding included).
        data: &'a [u8],
    },
}

impl<'a> Packet<'a> {
    /// Parses one report; it must be exactly [`REPORT_SIZE`] bytes.
    pub fn parse(report: &'a [u8]) -> Result<Packet<'a>, FrameError> {
        let (Some(cid), Some(&kind)) = (report.get(..4), report.get(4)) else {
            return Err(FrameError::ReportTooShort { got: report.len() });
        };
        let channel = ChannelId(u32::from_be_bytes([cid[0], cid[1], cid[2], cid[3]]));
        if report.len() != REPORT_SIZE {
            return Err(FrameError::ReportSize { channel, expected: REPORT_SIZE, got: report.len() });
        }
        if kind & 0x80 != 0 {
            let length = u16::from_be_bytes([report[5], report[6]]);
            Ok(Packet::Init { channel, command: kind & 0x7f, length, data: &report[7..] })
        } else {
            Ok(Packet::Cont { channel, seq: kind, data: &report[5..] })
        }
    }

    /// The channel this report travels on.
    pub fn channel(&self) -> ChannelId {
        match self {
            Packet::Init { channel, .. } | Packet::Cont { channel, .. } => *channel,
        }
    }
}

/// The reports of one message, in order; built by [`Fragments::new`].
#[derive(Debug, Clone)]
pub struct Fragments<'a> {
    channel: ChannelId,
    command: u8,
    payload: &'a [u8],
    offset: usize,
    seq: u8,
    started: bool,
}

impl<'a> Fragments<'a> {
    /// Prepares the reports carrying `payload` as `command` on `channel`.
    pub fn new(channel: ChannelId, command: u8, payload: &'a [u8]) -> Result<Self, FrameError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(FrameError::PayloadTooLong { max: MAX_PAYLOAD, got: payload.len() });
        }
        Ok(Fragments { channel, command, payload, offset: 0, seq: 0, started: false })
    }
}

impl Iterator for Fragments<'_> {
    type Item = [u8; REPORT_SIZE];

    fn next(&mut self) -> Option<Self::Item> {
        let mut report = [0u8; REPORT_SIZE];
        report[..4].copy_from_slice(&self.channel.to_bytes());
        if !self.started {
            self.started = true;
            report[4] = 0x80 | self.command;
            // Fits: `new` bounded the length to MAX_PAYLOAD < 65536.
            let length = u16::try_from(self.payload.len()).unwrap_or(u16::MAX);
            report[5..7].copy_from_slice(&length.to_be_bytes());
            let n = self.payload.len().min(INIT_DATA_SIZE);
            report[7..7 + n].copy_from_slice(&self.payload[..n]);
            self.offset = n;
            return Some(report);
        }
        if self.offset >= self.payload.len() {
            return None;
        }
        report[4] = self.seq;
        let n = (self.payload.len() - self.offset).min(CONT_DATA_SIZE);
        report[5..5 + n].copy_from_slice(&self.payload[self.offset..self.offset + n]);
        self.offset += n;
        self.seq += 1;
        Some(report)
    }
}

/// A complete CTAPHID message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Channel it travelled on.
    pub channel: ChannelId,
    /// Command code, without the 0x80 bit.
    pub command: u8,
    /// Its payload, exactly as long as the initialization packet declared.
    pub payload: Vec<u8>,
}

/// A message being rebuilt from its reports, with the deadline for the next one.
#[derive(Debug, Clone)]
pub struct Reassembly {
    channel: ChannelId,
    command: u8,
    length: usize,
    payload: Vec<u8>,
    next_seq: u8,
    deadline: Instant,
    timeout: Duration,
}

impl Reassembly {
    /// Starts a message from its initialization packet. `timeout` is how long
    /// each following packet may take, counted from `now`.
    pub fn start(packet: &Packet<'_>, now: Instant, timeout: Duration) -> Result<Self, FrameError> {
        let Packet::Init { channel, command, length, data } = *packet else {
            return Err(FrameError::ExpectedInit { channel: packet.channel() });
        };
        let length = usize::from(length);
        if length > MAX_PAYLOAD {
            return Err(FrameError::PayloadTooLong { max: MAX_PAYLOAD, got: length });
        }
        let mut payload = Vec::with_capacity(length);
        payload.extend_from_slice(&data[..length.min(data.len())]);
        Ok(Reassembly { channel, command, length, payload, next_seq: 0, deadline: now + timeout, timeout })
    }

    /// Adds the next continuation packet. Errors leave the message unusable:
    /// the caller drops it (and, on a device, answers with the error's code).
    pub fn push(&mut self, packet: &Packet<'_>, now: Instant) -> Result<(), FrameError> {
        if now > self.deadline {
            return Err(FrameError::Timeout { channel: self.channel });
        }
        let (channel, seq, data) = match *packet {
            Packet::Init { channel, .. } => return Err(FrameError::UnexpectedInit { channel }),
            Packet::Cont { channel, seq, data } => (channel, seq, data),
        };
        if channel != self.channel {
            return Err(FrameError::WrongChannel { expected: self.channel, got: channel });
        }
        if seq != self.next_seq || self.is_complete() {
            return Err(FrameError::UnexpectedSequence { expected: self.next_seq, got: seq });
        }
        let n = (self.length - self.payload.len()).min(data.len());
        self.payload.extend_from_slice(&data[..n]);
        self.next_seq += 1;
        self.deadline = now + self.timeout;
        Ok(())
    }

    /// Whether every declared byte has arrived.
    pub fn is_complete(&self) -> bool {
        self.payload.len() == self.length
    }

    /// The channel of the message.
    pub fn channel(&self) -> ChannelId {
        self.channel
    }

    /// The command of the message.
    pub fn command(&self) -> u8 {
        self.command
    }

    /// When the message is abandoned if no further packet arrives.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The rebuilt message; call once [`Reassembly::is_complete`] holds.
    pub fn into_message(self) -> Message {
        Message { channel: self.channel, command: self.command, payload: self.payload }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TIMEOUT: Duration = Duration::from_millis(500);
    const CID: ChannelId = ChannelId(0x0102_0304);

    fn rebuild(reports: &[[u8; REPORT_SIZE]], now: Instant) -> Result<Message, FrameError> {
        let (first, rest) = reports.split_first().expect("at least one report");
        let mut r = Reassembly::start(&Packet::parse(first)?, now, TIMEOUT)?;
        for report in rest {
            r.push(&Packet::parse(report)?, now)?;
        }
        assert!(r.is_complete());
        Ok(r.into_message())
    }

    #[test]
    fn sizes_match_the_specification() {
        assert_eq!(INIT_DATA_SIZE, 57);
        assert_eq!(CONT_DATA_SIZE, 59);
        assert_eq!(MAX_PAYLOAD, 7609);
    }

    #[test]
    fn report_counts_at_the_boundaries() {
        for (len, count) in [(0, 1), (57, 1), (58, 2), (116, 2), (117, 3), (MAX_PAYLOAD, 129)] {
            let payload = vec![0xa5; len];
            assert_eq!(Fragments::new(CID, 1, &payload).unwrap().count(), count, "len {len}");
        }
        let too_long = vec![0; MAX_PAYLOAD + 1];
        assert_eq!(
            Fragments::new(CID, 1, &too_long).unwrap_err(),
            FrameError::PayloadTooLong { max: MAX_PAYLOAD, got: MAX_PAYLOAD + 1 }
        );
    }

    #[test]
    fn declared_length_over_the_maximum_is_invalid_len() {
        let mut report = [0u8; REPORT_SIZE];
        report[..4].copy_from_slice(&CID.to_bytes());
        report[4] = 0x81;
        report[5..7].copy_from_slice(&7610u16.to_be_bytes());
        let err = Reassembly::start(&Packet::parse(&report).unwrap(), Instant::now(), TIMEOUT).unwrap_err();
        assert_eq!(err, FrameError::PayloadTooLong { max: MAX_PAYLOAD, got: 7610 });
        assert_eq!(err.error_code(), error_code::INVALID_LEN);
    }

    #[test]
    fn truncated_reports_are_invalid_len() {
        assert_eq!(Packet::parse(&[1, 2, 3]).unwrap_err(), FrameError::ReportTooShort { got: 3 });
        let err = Packet::parse(&[1, 2, 3, 4, 0x86, 0]).unwrap_err();
        assert_eq!(err, FrameError::ReportSize { channel: CID, expected: 64, got: 6 });
        assert_eq!(err.error_code(), error_code::INVALID_LEN);
    }

    #[test]
    fn a_late_packet_times_out() {
        let payload = vec![7; 100];
        let reports: Vec<_> = Fragments::new(CID, 1, &payload).unwrap().collect();
        let t0 = Instant::now();
        let mut r = Reassembly::start(&Packet::parse(&reports[0]).unwrap(), t0, TIMEOUT).unwrap();
        assert_eq!(r.deadline(), t0 + TIMEOUT);
        let err = r.push(&Packet::parse(&reports[1]).unwrap(), t0 + TIMEOUT * 2).unwrap_err();
        assert_eq!(err.error_code(), error_code::MSG_TIMEOUT);
    }

    proptest! {
        #[test]
        fn any_payload_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD),
                                   command in 0u8..0x80, cid in any::<u32>()) {
            let reports: Vec<_> = Fragments::new(ChannelId(cid), command, &payload).unwrap().collect();
            let message = rebuild(&reports, Instant::now()).unwrap();
            prop_assert_eq!(message.channel, ChannelId(cid));
            prop_assert_eq!(message.command, command);
            prop_assert_eq!(message.payload, payload);
        }

        #[test]
        fn out_of_order_packets_are_invalid_seq(len in 117usize..=MAX_PAYLOAD, swap in any::<prop::sample::Index>()) {
            let payload = vec![0x5a; len];
            let mut reports: Vec<_> = Fragments::new(CID, 3, &payload).unwrap().collect();
            // Swap two adjacent continuation packets (there are at least two).
            let i = 1 + swap.index(reports.len() - 2);
            reports.swap(i, i + 1);
            let err = rebuild(&reports, Instant::now()).unwrap_err();
            prop_assert!(matches!(err, FrameError::UnexpectedSequence { .. }), "{:?}", err);
            prop_assert_eq!(err.error_code(), error_code::INVALID_SEQ);
        }

        #[test]
        fn a_packet_from_another_channel_is_refused(len in 58usize..=MAX_PAYLOAD, other in any::<u32>(), at in any::<prop::sample::Index>()) {
            prop_assume!(other != CID.0);
            let payload = vec![1; len];
            let mut reports: Vec<_> = Fragments::new(CID, 3, &payload).unwrap().collect();
            let i = 1 + at.index(reports.len() - 1);
            reports[i][..4].copy_from_slice(&other.to_be_bytes());
            let err = rebuild(&reports, Instant::now()).unwrap_err();
            prop_assert_eq!(err, FrameError::WrongChannel { expected: CID, got: ChannelId(other) });
        }

        #[test]
        fn arbitrary_reports_never_panic(reports in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..70), 1..8)) {
            let now = Instant::now();
            if let Ok(packet) = Packet::parse(&reports[0])
                && let Ok(mut r) = Reassembly::start(&packet, now, TIMEOUT)
            {
                for report in &reports[1..] {
                    if let Ok(p) = Packet::parse(report)
                        && r.push(&p, now).is_err()
                    {
                        break;
                    }
                }
            }
        }
    }
}
