//! keygate-device: the device side and the host side of FIDO U2F over CTAPHID.
//!
//! Everything protocol-shaped here is sans-I/O: framing ([`ctaphid`]), APDUs
//! ([`u2f`]) and the soft token's applet ([`soft`]) take bytes, the current
//! time and a random number generator, and return bytes, decisions and
//! deadlines. Transports ([`transport`]: UDP, Unix datagram sockets,
//! in-process, hidapi) and the host-side [`client`] are thin drivers around
//! those cores.

pub mod client;
pub mod ctap2;
pub mod ctaphid;

/// Size of one CTAPHID report on the wire, without the HID report-id byte.
pub const HID_REPORT_SIZE: usize = 64;
pub mod soft;
pub mod transport;
pub mod u2f;
