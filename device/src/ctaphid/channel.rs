//! The device side of CTAPHID: channel allocation, one transaction at a time,
//! busy answers for everybody else, timeouts, KEEPALIVE while a CBOR request
//! waits for its answer, and the commands the transport layer answers itself
//! (INIT, PING, WINK, LOCK; CANCEL is never answered).
//!
//! Drive it like quinn-proto's endpoint: feed each received report to
//! [`Device::handle_report`] together with who sent it (`P`, the transport's
//! peer address) and the current time; when it returns a [`Request`], let the
//! applet answer and pass the answer to [`Device::respond`]; then drain
//! [`Device::poll_transmit`] and send each report to its peer. Call
//! [`Device::handle_timeout`] once [`Device::poll_timeout`]'s instant passes.
//!
//! Which of MSG (U2F) and CBOR (CTAP2) the device takes follows its
//! [`capability`] bits: CBOR needs [`capability::CBOR`], MSG is refused when
//! [`capability::NMSG`] is set; a refused command is answered INVALID_CMD.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::frame::{Fragments, FrameError, Message, Packet, Reassembly};
use super::{ChannelId, REPORT_SIZE, capability, command, error_code};

/// How long the device waits for the next packet of a message (CTAP leaves
/// the figure to the device; generous, since datagrams cross a busy host).
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest LOCK a host may ask for, in seconds (CTAP §11.2.9.2.2).
pub const MAX_LOCK_SECONDS: u8 = 10;
/// CTAPHID protocol version announced in INIT replies.
pub const PROTOCOL_VERSION: u8 = 2;
/// How often a pending CBOR request's host hears KEEPALIVE (CTAP 2.1
/// §11.2.9.2.4 asks for at least every 100 ms, so hosts never time out on a
/// device that is waiting for its user).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_millis(100);

/// What the device says about itself in INIT replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Major, minor and build version of the device.
    pub version: (u8, u8, u8),
    /// [`capability`] bits.
    pub capabilities: u8,
}

impl Default for DeviceInfo {
    /// A U2F-only device that can wink.
    fn default() -> Self {
        DeviceInfo { version: (0, 1, 0), capabilities: capability::WINK }
    }
}

/// A complete request the layer above must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<P> {
    /// A U2F APDU; answer with [`Device::respond`] (the channel stays busy until then).
    Msg {
        /// Channel to answer on.
        channel: ChannelId,
        /// Who sent it.
        peer: P,
        /// The command APDU.
        apdu: Vec<u8>,
    },
    /// A CTAP2 request (command byte and CBOR); answer with [`Device::respond`].
    /// Until then the channel hears KEEPALIVE every [`KEEPALIVE_INTERVAL`]
    /// and other channels are busy.
    Cbor {
        /// Channel to answer on.
        channel: ChannelId,
        /// Who sent it.
        peer: P,
        /// Command byte followed by the CBOR parameters.
        payload: Vec<u8>,
    },
    /// The host abandoned the CBOR request pending on `channel` (CANCEL, or an
    /// INIT resynchronising the channel). Answer it with CTAP2's
    /// KEEPALIVE_CANCEL through [`Device::respond`]; after a resync that
    /// answer is dropped, as nobody waits for it any more.
    Cancel {
        /// The channel whose request is abandoned.
        channel: ChannelId,
    },
    /// The host asked the device to blink; already answered, shown for logging or a UI.
    Wink {
        /// Channel that asked.
        channel: ChannelId,
    },
}

/// One report to send, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit<P> {
    /// The peer that gets it.
    pub peer: P,
    /// The 64-byte report.
    pub report: [u8; REPORT_SIZE],
}

#[derive(Debug)]
struct Incoming<P> {
    peer: P,
    reassembly: Reassembly,
}

/// The request the layer above is working on.
#[derive(Debug)]
struct Busy<P> {
    channel: ChannelId,
    peer: P,
    /// The request's command, which its answer carries too.
    command: u8,
    /// For CBOR requests: the KEEPALIVE status to send, and when next.
    keepalive: Option<(u8, Instant)>,
}

/// The CTAPHID device state machine; `P` identifies a peer (a socket address, or `()`).
#[derive(Debug)]
pub struct Device<P> {
    info: DeviceInfo,
    next_channel: u32,
    incoming: Option<Incoming<P>>,
    busy: Option<Busy<P>>,
    lock: Option<(ChannelId, Instant)>,
    transmits: VecDeque<Transmit<P>>,
}

impl<P: Clone> Device<P> {
    /// A device with no channels allocated yet.
    pub fn new(info: DeviceInfo) -> Self {
        Device { info, next_channel: 1, incoming: None, busy: None, lock: None, transmits: VecDeque::new() }
    }

    /// Handles one report received from `peer` at `now`; returns the request
    /// it completes, if any. Replies (and errors) queue up for [`Device::poll_transmit`].
    pub fn handle_report(&mut self, now: Instant, peer: P, report: &[u8]) -> Option<Request<P>> {
        self.handle_timeout(now);
        let packet = match Packet::parse(report) {
            Ok(packet) => packet,
            Err(FrameError::ReportTooShort { got }) => {
                tracing::debug!(got, "dropping a report too short to name its channel");
                return None;
            }
            Err(e) => {
                if let FrameError::ReportSize { channel, .. } = e {
                    if self.incoming.as_ref().is_some_and(|i| i.reassembly.channel() == channel) {
                        self.incoming = None;
                    }
                    self.error(peer, channel, e.error_code());
                }
                return None;
            }
        };
        let channel = packet.channel();
        match packet {
            Packet::Cont { .. } => self.continuation(now, peer, &packet),
            Packet::Init { command: cmd, length, .. } => {
                if channel == ChannelId::RESERVED
                    || (channel == ChannelId::BROADCAST && cmd != command::INIT)
                    || (channel != ChannelId::BROADCAST && !self.is_allocated(channel))
                {
                    self.error(peer, channel, error_code::INVALID_CHANNEL);
                    return None;
                }
                if cmd == command::INIT {
                    return self.init(peer, &packet, length);
                }
                if cmd == command::CANCEL {
                    // Never answered (CTAP §11.2.9.1.5). Only a CBOR request waits
                    // long enough to be cancelled; a half-received message on the
                    // channel is abandoned too.
                    self.incoming.take_if(|i| i.reassembly.channel() == channel);
                    return self
                        .busy
                        .as_ref()
                        .is_some_and(|b| b.channel == channel && b.command == command::CBOR)
                        .then_some(Request::Cancel { channel });
                }
                if let Some((owner, _)) = self.lock
                    && owner != channel
                {
                    self.error(peer, channel, error_code::CHANNEL_BUSY);
                    return None;
                }
                if let Some(incoming) = &self.incoming {
                    if incoming.reassembly.channel() == channel {
                        // A new message before the last one finished: the host lost sync.
                        self.incoming = None;
                        self.error(peer, channel, error_code::INVALID_SEQ);
                    } else {
                        self.error(peer, channel, error_code::CHANNEL_BUSY);
                    }
                    return None;
                }
                if self.busy.is_some() {
                    self.error(peer, channel, error_code::CHANNEL_BUSY);
                    return None;
                }
                match Reassembly::start(&packet, now, MESSAGE_TIMEOUT) {
                    Ok(reassembly) if reassembly.is_complete() => {
                        self.dispatch(now, peer, reassembly.into_message())
                    }
                    Ok(reassembly) => {
                        self.incoming = Some(Incoming { peer, reassembly });
                        None
                    }
                    Err(e) => {
                        self.error(peer, channel, e.error_code());
                        None
                    }
                }
            }
        }
    }

    /// Sends the applet's answer to the request pending on `channel` (framed
    /// with the request's command, MSG or CBOR) and frees the device. An
    /// answer for a channel that was resynchronised meanwhile is dropped.
    pub fn respond(&mut self, channel: ChannelId, response: &[u8]) -> Result<(), FrameError> {
        match self.busy.take() {
            Some(busy) if busy.channel == channel => self.send(busy.peer, channel, busy.command, response),
            other => {
                self.busy = other;
                tracing::debug!(%channel, "dropping a response nobody waits for");
                Ok(())
            }
        }
    }

    /// Tells the host of the pending request that the device is still working
    /// (status 1) or waiting for the user (status 2), at once; for a CBOR
    /// request, the KEEPALIVEs every [`KEEPALIVE_INTERVAL`] carry `status` from now on.
    pub fn keepalive(&mut self, now: Instant, status: u8) {
        let Some(busy) = self.busy.as_mut() else { return };
        if let Some(keepalive) = busy.keepalive.as_mut() {
            *keepalive = (status, now + KEEPALIVE_INTERVAL);
        }
        let (channel, peer) = (busy.channel, busy.peer.clone());
        // One byte always fits.
        let _ = self.send(peer, channel, command::KEEPALIVE, &[status]);
    }

    /// Expires an incomplete message (answering MSG_TIMEOUT) and a LOCK whose
    /// time is up, and sends the pending CBOR request's KEEPALIVE when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(busy) = self.busy.as_mut()
            && let Some((status, next)) = busy.keepalive.as_mut()
            && now >= *next
        {
            // Keep the cadence, but owe no burst after a late wake-up.
            *next = if now >= *next + KEEPALIVE_INTERVAL {
                now + KEEPALIVE_INTERVAL
            } else {
                *next + KEEPALIVE_INTERVAL
            };
            let (status, channel, peer) = (*status, busy.channel, busy.peer.clone());
            let _ = self.send(peer, channel, command::KEEPALIVE, &[status]);
        }
        if let Some(incoming) = &self.incoming
            && now > incoming.reassembly.deadline()
        {
            let channel = incoming.reassembly.channel();
            let peer = incoming.peer.clone();
            self.incoming = None;
            self.error(peer, channel, error_code::MSG_TIMEOUT);
        }
        if let Some((_, until)) = self.lock
            && now >= until
        {
            self.lock = None;
        }
    }

    /// The next instant [`Device::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let message = self.incoming.as_ref().map(|i| i.reassembly.deadline());
        let lock = self.lock.map(|(_, until)| until);
        let keepalive = self.busy.as_ref().and_then(|b| b.keepalive).map(|(_, next)| next);
        [message, lock, keepalive].into_iter().flatten().min()
    }

    /// The next report to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<P>> {
        self.transmits.pop_front()
    }

    fn is_allocated(&self, channel: ChannelId) -> bool {
        channel.0 >= 1 && channel.0 < self.next_channel
    }

    fn continuation(&mut self, now: Instant, peer: P, packet: &Packet<'_>) -> Option<Request<P>> {
        let channel = packet.channel();
        let Some(mut incoming) = self.incoming.take_if(|i| i.reassembly.channel() == channel) else {
            // CTAP §11.2.5.4: a continuation without its initialization packet is ignored.
            tracing::debug!(%channel, "ignoring a spurious continuation packet");
            return None;
        };
        match incoming.reassembly.push(packet, now) {
            Ok(()) if incoming.reassembly.is_complete() => {
                self.dispatch(now, incoming.peer, incoming.reassembly.into_message())
            }
            Ok(()) => {
                self.incoming = Some(incoming);
                None
            }
            Err(e) => {
                self.error(peer, channel, e.error_code());
                None
            }
        }
    }

    /// Answers INIT; a resynchronised channel's pending CBOR request comes
    /// back as [`Request::Cancel`] so the layer above stops working on it.
    fn init(&mut self, peer: P, packet: &Packet<'_>, length: u16) -> Option<Request<P>> {
        let Packet::Init { channel, data, .. } = *packet else { return None };
        if usize::from(length) != 8 {
            self.error(peer, channel, error_code::INVALID_LEN);
            return None;
        }
        let mut abandoned = None;
        let assigned = if channel == ChannelId::BROADCAST {
            let id = ChannelId(self.next_channel);
            // Wrapping would hand out the broadcast id; start over instead.
            self.next_channel = if self.next_channel >= 0xffff_fffe { 1 } else { self.next_channel + 1 };
            id
        } else {
            // Resynchronise: whatever this channel had going is abandoned.
            self.incoming.take_if(|i| i.reassembly.channel() == channel);
            if let Some(busy) = self.busy.take_if(|b| b.channel == channel)
                && busy.command == command::CBOR
            {
                abandoned = Some(Request::Cancel { channel });
            }
            channel
        };
        let mut reply = [0u8; 17];
        reply[..8].copy_from_slice(&data[..8]);
        reply[8..12].copy_from_slice(&assigned.to_bytes());
        reply[12] = PROTOCOL_VERSION;
        let (major, minor, build) = self.info.version;
        reply[13..16].copy_from_slice(&[major, minor, build]);
        reply[16] = self.info.capabilities;
        let _ = self.send(peer, channel, command::INIT, &reply);
        abandoned
    }

    fn dispatch(&mut self, now: Instant, peer: P, message: Message) -> Option<Request<P>> {
        let Message { channel, command: cmd, payload } = message;
        match cmd {
            command::PING => {
                let _ = self.send(peer, channel, command::PING, &payload);
                None
            }
            command::MSG if self.info.capabilities & capability::NMSG == 0 => {
                self.busy = Some(Busy { channel, peer: peer.clone(), command: cmd, keepalive: None });
                Some(Request::Msg { channel, peer, apdu: payload })
            }
            command::CBOR if self.info.capabilities & capability::CBOR != 0 => {
                let keepalive = Some((crate::ctap2::keepalive::PROCESSING, now + KEEPALIVE_INTERVAL));
                self.busy = Some(Busy { channel, peer: peer.clone(), command: cmd, keepalive });
                Some(Request::Cbor { channel, peer, payload })
            }
            command::WINK if payload.is_empty() => {
                let _ = self.send(peer, channel, command::WINK, &[]);
                Some(Request::Wink { channel })
            }
            command::LOCK => match payload.as_slice() {
                [0] => {
                    self.lock = None;
                    let _ = self.send(peer, channel, command::LOCK, &[]);
                    None
                }
                [seconds] if *seconds <= MAX_LOCK_SECONDS => {
                    self.lock = Some((channel, now + Duration::from_secs(u64::from(*seconds))));
                    let _ = self.send(peer, channel, command::LOCK, &[]);
                    None
                }
                [_] => {
                    self.error(peer, channel, error_code::INVALID_PAR);
                    None
                }
                _ => {
                    self.error(peer, channel, error_code::INVALID_LEN);
                    None
                }
            },
            command::WINK => {
                self.error(peer, channel, error_code::INVALID_LEN);
                None
            }
            _ => {
                self.error(peer, channel, error_code::INVALID_CMD);
                None
            }
        }
    }

    fn error(&mut self, peer: P, channel: ChannelId, code: u8) {
        tracing::debug!(%channel, code, "CTAPHID error");
        let _ = self.send(peer, channel, command::ERROR, &[code]);
    }

    fn send(&mut self, peer: P, channel: ChannelId, cmd: u8, payload: &[u8]) -> Result<(), FrameError> {
        for report in Fragments::new(channel, cmd, payload)? {
            self.transmits.push_back(Transmit { peer: peer.clone(), report });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "channel_tests.rs"]
mod tests;
