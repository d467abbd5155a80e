//! The soft token on a UDP socket: each datagram is one report, answers go
//! to the address the datagram came from.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use super::{DatagramSocket, timed_out};

impl DatagramSocket for UdpSocket {
    type Peer = SocketAddr;

    fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<(usize, SocketAddr)>> {
        self.set_read_timeout(Some(timeout))?;
        timed_out(self.recv_from(buf))
    }

    fn send(&self, report: &[u8], peer: &SocketAddr) -> io::Result<()> {
        self.send_to(report, peer).map(drop)
    }
}
