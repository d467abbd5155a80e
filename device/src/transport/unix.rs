//! The soft token on a Unix datagram socket: each datagram is one report.
//! A host must bind its own socket to a path, or the token cannot answer it.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::time::Duration;

use super::{DatagramSocket, timed_out};

/// A bound Unix datagram socket that removes its file when dropped.
#[derive(Debug)]
pub struct UnixListener {
    socket: UnixDatagram,
    path: std::path::PathBuf,
}

impl UnixListener {
    /// Binds at `path`, replacing a stale socket file left by a killed server.
    pub fn bind(path: &Path) -> io::Result<Self> {
        use std::os::unix::fs::FileTypeExt;
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
            std::fs::remove_file(path)?;
        }
        Ok(UnixListener { socket: UnixDatagram::bind(path)?, path: path.to_owned() })
    }
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl DatagramSocket for UnixListener {
    type Peer = SocketAddr;

    fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<(usize, SocketAddr)>> {
        self.socket.set_read_timeout(Some(timeout))?;
        timed_out(self.socket.recv_from(buf))
    }

    fn send(&self, report: &[u8], peer: &SocketAddr) -> io::Result<()> {
        let Some(path) = peer.as_pathname() else {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "the host's socket is not bound to a path",
            ));
        };
        self.socket.send_to(report, path).map(drop)
    }
}
