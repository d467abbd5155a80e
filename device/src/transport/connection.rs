//! The host's end of a link to a device: write one report, read one report
//! with a timeout. USB (hidapi), UDP and Unix sockets (to the soft token) and
//! the in-process link all look the same to the CTAPHID client above.

use std::io;
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ctaphid::REPORT_SIZE;

use super::MemoryLink;

/// A link to one CTAPHID device, as the host sees it.
pub trait Connection {
    /// Sends one 64-byte report.
    fn write_report(&mut self, report: &[u8; REPORT_SIZE]) -> io::Result<()>;
    /// Reads one report, waiting at most `timeout`; `Ok(None)` if none came.
    /// Reports of the wrong size are returned as they are, for the framing to judge.
    fn read_report(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>>;
}

impl<C: Connection + ?Sized> Connection for Box<C> {
    fn write_report(&mut self, report: &[u8; REPORT_SIZE]) -> io::Result<()> {
        (**self).write_report(report)
    }

    fn read_report(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        (**self).read_report(timeout)
    }
}

/// One datagram, or `None` when the socket's read timeout passed first.
fn recv_with(recv: impl FnOnce(&mut [u8]) -> io::Result<usize>) -> io::Result<Option<Vec<u8>>> {
    let mut buf = [0u8; 2 * REPORT_SIZE];
    match recv(&mut buf) {
        Ok(n) => Ok(Some(buf[..n].to_vec())),
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A host socket connected to a soft token's UDP address.
#[derive(Debug)]
pub struct UdpConnection {
    socket: UdpSocket,
}

impl UdpConnection {
    /// Connects (binds an ephemeral port and fixes the peer) to `addr`.
    pub fn connect(addr: &str) -> io::Result<Self> {
        let target = std::net::ToSocketAddrs::to_socket_addrs(addr)?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{addr} resolves to nothing")))?;
        let local = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
        let socket = UdpSocket::bind(local)?;
        socket.connect(target)?;
        Ok(UdpConnection { socket })
    }
}

impl Connection for UdpConnection {
    fn write_report(&mut self, report: &[u8; REPORT_SIZE]) -> io::Result<()> {
        self.socket.send(report).map(drop)
    }

    fn read_report(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        self.socket.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        recv_with(|buf| self.socket.recv(buf))
    }
}

/// A host socket, bound to a temporary path so the token can answer,
/// connected to a soft token's Unix datagram socket.
#[derive(Debug)]
pub struct UnixConnection {
    socket: UnixDatagram,
    own_path: PathBuf,
}

impl UnixConnection {
    /// Connects to the token at `path`.
    pub fn connect(path: &Path) -> io::Result<Self> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let own_path = std::env::temp_dir().join(format!("keygate-host-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&own_path);
        let socket = UnixDatagram::bind(&own_path)?;
        let connected = socket.connect(path);
        if let Err(e) = connected {
            let _ = std::fs::remove_file(&own_path);
            return Err(e);
        }
        Ok(UnixConnection { socket, own_path })
    }
}

impl Drop for UnixConnection {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.own_path);
    }
}

impl Connection for UnixConnection {
    fn write_report(&mut self, report: &[u8; REPORT_SIZE]) -> io::Result<()> {
        self.socket.send(report).map(drop)
    }

    fn read_report(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        self.socket.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        recv_with(|buf| self.socket.recv(buf))
    }
}

impl Connection for MemoryLink {
    fn write_report(&mut self, report: &[u8; REPORT_SIZE]) -> io::Result<()> {
        MemoryLink::write_report(self, report);
        Ok(())
    }

    fn read_report(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        match MemoryLink::read_report(self) {
            Some(report) => Ok(Some(report.to_vec())),
            None => {
                // Nothing will arrive in-process without a write; honour the wait anyway
                // so pollers behave as with a real device.
                std::thread::sleep(timeout.min(Duration::from_millis(10)));
                Ok(None)
            }
        }
    }
}
