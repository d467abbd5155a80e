//! keygate-device: the device side and the host side of FIDO U2F over CTAPHID.
//!
//! Everything protocol-shaped here is sans-I/O: framing, APDUs and the soft
//! token's applet take bytes (and the current time) and return bytes,
//! decisions and deadlines. Transports (hidapi, UDP, Unix datagram sockets,
//! in-process) are thin drivers around those cores.

/// Size of one CTAPHID report on the wire, without the HID report-id byte.
pub const HID_REPORT_SIZE: usize = 64;
