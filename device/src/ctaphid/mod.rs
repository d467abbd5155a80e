//! CTAPHID, the framing FIDO keys speak over USB HID (CTAP 2.1 §11.2).
//!
//! A message (command byte plus up to [`MAX_PAYLOAD`] bytes) travels as one
//! initialization packet followed by continuation packets, each one 64-byte
//! report tagged with a 4-byte channel id. [`frame`] splits and rebuilds
//! messages and is shared by both ends; [`channel`] is the device side's state
//! machine (channel allocation, busy handling, timeouts); [`host`] is the
//! host side's view of one request and its response. Nothing here touches
//! a clock or a socket: callers pass `now` and carry the reports.

pub mod channel;
pub mod frame;
pub mod host;

use std::fmt;

pub use channel::{Device, DeviceInfo, KEEPALIVE_INTERVAL, Request, Transmit};
pub use frame::{CONT_DATA_SIZE, Fragments, FrameError, INIT_DATA_SIZE, MAX_PAYLOAD, Packet, Reassembly};

/// Size of one CTAPHID report, without the HID report-id byte.
pub const REPORT_SIZE: usize = crate::HID_REPORT_SIZE;

/// A CTAPHID channel id: the 4 bytes that let several hosts share one device.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

impl ChannelId {
    /// The broadcast channel: only INIT may use it, to ask for a channel of one's own.
    pub const BROADCAST: ChannelId = ChannelId(0xffff_ffff);
    /// Channel 0 is reserved and never valid.
    pub const RESERVED: ChannelId = ChannelId(0);

    /// The id as it travels on the wire (big-endian).
    pub fn to_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }
}

impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({:#010x})", self.0)
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// CTAPHID command codes (without the 0x80 initialization-packet bit).
pub mod command {
    /// Echo the payload back (a liveness and throughput check).
    pub const PING: u8 = 0x01;
    /// A U2F (CTAP1) APDU and its response.
    pub const MSG: u8 = 0x03;
    /// Reserve the device for one channel for a few seconds.
    pub const LOCK: u8 = 0x04;
    /// Allocate a channel (on broadcast) or resynchronise one.
    pub const INIT: u8 = 0x06;
    /// Make the device blink so the user can tell which key it is.
    pub const WINK: u8 = 0x08;
    /// A CTAP2 CBOR request and its response.
    pub const CBOR: u8 = 0x10;
    /// Abort the pending request on this channel; never answered.
    pub const CANCEL: u8 = 0x11;
    /// Sent by the device while it waits for the user (status 1 processing, 2 user presence needed).
    pub const KEEPALIVE: u8 = 0x3b;
    /// An error reply; the payload is one of [`super::error_code`].
    pub const ERROR: u8 = 0x3f;
}

/// The one-byte codes carried by an ERROR reply.
pub mod error_code {
    /// The command byte is not one the device knows.
    pub const INVALID_CMD: u8 = 0x01;
    /// A parameter in the payload is out of range.
    pub const INVALID_PAR: u8 = 0x02;
    /// The declared or actual payload length is wrong for the command.
    pub const INVALID_LEN: u8 = 0x03;
    /// A continuation packet arrived out of order.
    pub const INVALID_SEQ: u8 = 0x04;
    /// The rest of a message did not arrive in time.
    pub const MSG_TIMEOUT: u8 = 0x05;
    /// Another channel holds the device; retry later.
    pub const CHANNEL_BUSY: u8 = 0x06;
    /// The channel id was not allocated by INIT (or is reserved).
    pub const INVALID_CHANNEL: u8 = 0x0b;
    /// Anything else.
    pub const OTHER: u8 = 0x7f;
}

/// Capability bits announced in the INIT reply.
pub mod capability {
    /// The device implements WINK.
    pub const WINK: u8 = 0x01;
    /// The device implements CBOR (CTAP2).
    pub const CBOR: u8 = 0x04;
    /// The device does NOT implement MSG (CTAP1): a CTAP2-only key.
    pub const NMSG: u8 = 0x08;
}
