//! The host side of CTAPHID, sans-I/O: what to send for a request, and what
//! each received report means for it.
//!
//! An [`Exchange`] is one request and its response on one channel. Feed it
//! every report read from the device: reports for other channels and
//! KEEPALIVE frames are part of normal life (the exchange says so and keeps
//! waiting), an ERROR frame ends it with the device's code, and anything else
//! out of place ends it with a [`HostError`] naming what was expected.

use std::time::{Duration, Instant};

use super::frame::{Fragments, FrameError, Packet, Reassembly};
use super::{ChannelId, REPORT_SIZE, command, error_code};

/// How long the host waits between packets of one response.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The device answered with a CTAPHID ERROR frame.
    #[error("device reported CTAPHID error {code:#04x}")]
    Device {
        /// The code from [`error_code`].
        code: u8,
    },
    /// Another channel holds the device; retry after a pause.
    #[error("device is busy with another channel")]
    Busy,
    /// The response is for another command than the request.
    #[error("response command {got:#04x}, expected {expected:#04x}")]
    UnexpectedCommand {
        /// The request's command.
        expected: u8,
        /// The command of the response.
        got: u8,
    },
    /// The response could not be reassembled.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The INIT reply does not echo the nonce sent.
    #[error("INIT reply carries the wrong nonce")]
    WrongNonce,
    /// The INIT reply is too short.
    #[error("INIT reply of {got} bytes, expected at least 17")]
    ShortInitReply {
        /// Its length.
        got: usize,
    },
}

/// What one received report meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Not complete yet (or a report for another channel, discarded): read on.
    Pending,
    /// The device is still working (1) or waits for the user (2).
    Keepalive(u8),
    /// The whole response payload.
    Done(Vec<u8>),
}

/// One request/response exchange on one channel.
#[derive(Debug)]
pub struct Exchange {
    channel: ChannelId,
    command: u8,
    response: Option<Reassembly>,
}

impl Exchange {
    /// Starts an exchange; send the returned reports in order.
    pub fn new(
        channel: ChannelId,
        command: u8,
        payload: &[u8],
    ) -> Result<(Exchange, Vec<[u8; REPORT_SIZE]>), FrameError> {
        let reports = Fragments::new(channel, command, payload)?.collect();
        Ok((Exchange { channel, command, response: None }, reports))
    }

    /// Interprets one report read from the device.
    pub fn handle_report(&mut self, now: Instant, report: &[u8]) -> Result<Step, HostError> {
        let packet = Packet::parse(report)?;
        if packet.channel() != self.channel {
            // Another host's traffic (or a stale reply): not ours to judge.
            return Ok(Step::Pending);
        }
        match (&mut self.response, packet) {
            (None, Packet::Init { command: command::KEEPALIVE, data, .. }) => {
                Ok(Step::Keepalive(data.first().copied().unwrap_or_default()))
            }
            (None, Packet::Init { command: command::ERROR, data, .. }) => {
                match data.first().copied().unwrap_or(error_code::OTHER) {
                    error_code::CHANNEL_BUSY => Err(HostError::Busy),
                    code => Err(HostError::Device { code }),
                }
            }
            (None, Packet::Init { command, .. }) if command != self.command => {
                Err(HostError::UnexpectedCommand { expected: self.command, got: command })
            }
            (None, init @ Packet::Init { .. }) => {
                let reassembly = Reassembly::start(&init, now, RESPONSE_TIMEOUT)?;
                self.finish_or_wait(reassembly)
            }
            // A continuation before any start: a leftover of an abandoned exchange.
            (None, Packet::Cont { .. }) => Ok(Step::Pending),
            (Some(reassembly), packet) => {
                reassembly.push(&packet, now)?;
                let reassembly =
                    self.response.take().ok_or(FrameError::ExpectedInit { channel: self.channel })?;
                self.finish_or_wait(reassembly)
            }
        }
    }

    fn finish_or_wait(&mut self, reassembly: Reassembly) -> Result<Step, HostError> {
        if reassembly.is_complete() {
            Ok(Step::Done(reassembly.into_message().payload))
        } else {
            self.response = Some(reassembly);
            Ok(Step::Pending)
        }
    }
}

/// What a device tells about itself in its INIT reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitReply {
    /// The channel allocated to this host.
    pub channel: ChannelId,
    /// CTAPHID protocol version (2).
    pub protocol: u8,
    /// Device version: major, minor, build.
    pub version: (u8, u8, u8),
    /// Capability bits ([`super::capability`]).
    pub capabilities: u8,
}

impl InitReply {
    /// Parses an INIT reply, checking it answers `nonce`.
    pub fn parse(nonce: &[u8; 8], payload: &[u8]) -> Result<InitReply, HostError> {
        let Some(p) = payload.get(..17) else {
            return Err(HostError::ShortInitReply { got: payload.len() });
        };
        if &p[..8] != nonce {
            return Err(HostError::WrongNonce);
        }
        Ok(InitReply {
            channel: ChannelId(u32::from_be_bytes([p[8], p[9], p[10], p[11]])),
            protocol: p[12],
            version: (p[13], p[14], p[15]),
            capabilities: p[16],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: ChannelId = ChannelId(7);

    fn frames(channel: ChannelId, cmd: u8, payload: &[u8]) -> Vec<[u8; REPORT_SIZE]> {
        Fragments::new(channel, cmd, payload).unwrap().collect()
    }

    #[test]
    fn other_channels_and_keepalives_are_passed_over() {
        let now = Instant::now();
        let (mut ex, _) = Exchange::new(CID, command::MSG, b"apdu").unwrap();
        assert_eq!(ex.handle_report(now, &frames(ChannelId(8), command::MSG, b"x")[0]), Ok(Step::Pending));
        assert_eq!(ex.handle_report(now, &frames(CID, command::KEEPALIVE, &[2])[0]), Ok(Step::Keepalive(2)));
        let reply = frames(CID, command::MSG, &[5; 100]);
        assert_eq!(ex.handle_report(now, &reply[0]), Ok(Step::Pending));
        assert_eq!(
            ex.handle_report(now, &frames(ChannelId(8), command::MSG, &[1; 100])[1]),
            Ok(Step::Pending)
        );
        assert_eq!(ex.handle_report(now, &reply[1]), Ok(Step::Done(vec![5; 100])));
    }

    #[test]
    fn errors_busy_and_mismatches() {
        let now = Instant::now();
        let (mut ex, _) = Exchange::new(CID, command::MSG, b"").unwrap();
        assert_eq!(ex.handle_report(now, &frames(CID, command::ERROR, &[6])[0]), Err(HostError::Busy));
        assert_eq!(
            ex.handle_report(now, &frames(CID, command::ERROR, &[4])[0]),
            Err(HostError::Device { code: 4 })
        );
        assert_eq!(
            ex.handle_report(now, &frames(CID, command::PING, b"")[0]),
            Err(HostError::UnexpectedCommand { expected: command::MSG, got: command::PING })
        );
        assert!(matches!(ex.handle_report(now, &[0, 0, 0, 7, 0x83]), Err(HostError::Frame(_))));
    }

    #[test]
    fn init_replies_must_echo_the_nonce() {
        let mut payload = b"12345678".to_vec();
        payload.extend_from_slice(&[0, 0, 0, 9, 2, 1, 2, 3, 1]);
        let reply = InitReply::parse(b"12345678", &payload).unwrap();
        assert_eq!((reply.channel, reply.version, reply.capabilities), (ChannelId(9), (1, 2, 3), 1));
        assert_eq!(InitReply::parse(b"87654321", &payload), Err(HostError::WrongNonce));
        assert_eq!(InitReply::parse(b"12345678", &payload[..10]), Err(HostError::ShortInitReply { got: 10 }));
    }
}
