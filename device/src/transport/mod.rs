//! Drivers that carry CTAPHID reports between hosts and a [`SoftToken`]:
//! datagram sockets ([`udp`], [`unix`]: one 64-byte report per datagram,
//! answers to the sender's address) and [`memory`] for in-process tests.
//!
//! The host's side of the same links is [`Connection`] (plus [`hid`] for
//! USB keys), chosen from a [`DeviceSpec`] such as `udp:127.0.0.1:9000`.
//!
//! These are the only places that read the clock and the operating system's
//! random number generator; the cores below them get both as arguments.

pub mod connection;
pub mod hid;
pub mod memory;
pub mod spec;
pub mod udp;
pub mod unix;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

use crate::soft::SoftToken;

pub use connection::{Connection, UdpConnection, UnixConnection};
pub use memory::MemoryLink;
pub use spec::{DeviceSpec, DeviceSpecError, OpenError};

/// Where a soft token listens: `udp:HOST:PORT` or `unix:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A UDP socket (`HOST:PORT`, the host may be a name or `[v6]`).
    Udp(String),
    /// A Unix datagram socket at this path.
    Unix(PathBuf),
}

/// Why a listen address does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListenAddrError {
    /// The scheme is neither `udp:` nor `unix:`.
    #[error("{0:?} is not udp:HOST:PORT or unix:PATH")]
    UnknownScheme(String),
    /// `udp:` without a `HOST:PORT`.
    #[error("{0:?} lacks HOST:PORT after udp:")]
    MissingPort(String),
    /// `unix:` without a path.
    #[error("unix: needs a socket path")]
    EmptyPath,
}

impl FromStr for ListenAddr {
    type Err = ListenAddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("udp:") {
            match rest.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(ListenAddr::Udp(rest.to_owned()))
                }
                _ => Err(ListenAddrError::MissingPort(s.to_owned())),
            }
        } else if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() { Err(ListenAddrError::EmptyPath) } else { Ok(ListenAddr::Unix(path.into())) }
        } else {
            Err(ListenAddrError::UnknownScheme(s.to_owned()))
        }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Udp(addr) => write!(f, "udp:{addr}"),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A datagram socket a token can be served on.
pub trait DatagramSocket {
    /// How the socket names a peer.
    type Peer: Clone + fmt::Debug;

    /// Receives one datagram, waiting at most `timeout`; `Ok(None)` when none came.
    fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<(usize, Self::Peer)>>;

    /// Sends one datagram to `peer`.
    fn send(&self, report: &[u8], peer: &Self::Peer) -> io::Result<()>;
}

/// Levers another thread (a signal handler) pulls on a running server.
#[derive(Debug, Default)]
pub struct Control {
    stop: AtomicBool,
    approvals: AtomicU32,
}

impl Control {
    /// Asks the serving loop to return.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Simulates a touch of the token.
    pub fn approve(&self) {
        self.approvals.fetch_add(1, Ordering::SeqCst);
    }
}

/// How long the loop sleeps at most, so [`Control`] requests are seen promptly.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Serves `token` on `socket` until [`Control::stop`]. Fails only when the
/// socket itself fails; a peer that cannot be answered is logged and skipped.
pub fn serve<S: DatagramSocket>(
    socket: &S,
    token: &mut SoftToken<S::Peer>,
    control: &Control,
) -> io::Result<()> {
    let mut buf = [0u8; 2048];
    let mut rng = UnwrapErr(SysRng);
    while !control.stop.load(Ordering::SeqCst) {
        if control.approvals.swap(0, Ordering::SeqCst) > 0 {
            token.approve();
        }
        let now = Instant::now();
        token.handle_timeout(now);
        flush(socket, token);
        let wait = token
            .poll_timeout()
            .map_or(POLL_INTERVAL, |deadline| deadline.saturating_duration_since(now).min(POLL_INTERVAL))
            .max(Duration::from_millis(1));
        if let Some((n, peer)) = socket.recv(&mut buf, wait)? {
            token.handle_report(Instant::now(), &mut rng, peer, &buf[..n]);
            flush(socket, token);
        }
    }
    Ok(())
}

fn flush<S: DatagramSocket>(socket: &S, token: &mut SoftToken<S::Peer>) {
    while let Some(transmit) = token.poll_transmit() {
        if let Err(e) = socket.send(&transmit.report, &transmit.peer) {
            tracing::warn!(peer = ?transmit.peer, error = %e, "cannot answer a host");
        }
    }
}

/// Maps a receive timeout to "nothing arrived".
fn timed_out<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_parse() {
        assert_eq!("udp:127.0.0.1:9000".parse(), Ok(ListenAddr::Udp("127.0.0.1:9000".into())));
        assert_eq!("udp:[::1]:9000".parse(), Ok(ListenAddr::Udp("[::1]:9000".into())));
        assert_eq!("unix:/tmp/t.sock".parse(), Ok(ListenAddr::Unix("/tmp/t.sock".into())));
        assert!(matches!("udp:localhost".parse::<ListenAddr>(), Err(ListenAddrError::MissingPort(_))));
        assert!(matches!("udp::80".parse::<ListenAddr>(), Err(ListenAddrError::MissingPort(_))));
        assert_eq!("unix:".parse::<ListenAddr>(), Err(ListenAddrError::EmptyPath));
        assert!(matches!("tcp:1.2.3.4:5".parse::<ListenAddr>(), Err(ListenAddrError::UnknownScheme(_))));
        assert_eq!(ListenAddr::Unix("/a".into()).to_string(), "unix:/a");
    }
}
