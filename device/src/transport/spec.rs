//! `--device usb|usb:PATH|udp:HOST:PORT|unix:PATH`: one type every command
//! parses its device choice into, and the one place that opens it.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;

use super::connection::{Connection, UdpConnection, UnixConnection};
use super::hid::{self, HidConnection, UsbKey};

/// Which device a command talks to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// The one FIDO key on USB (several: the caller must choose).
    #[default]
    Usb,
    /// The USB key at this hidraw path.
    UsbPath(String),
    /// A soft token on UDP.
    Udp(String),
    /// A soft token on a Unix datagram socket.
    Unix(PathBuf),
}

/// Why a device spec does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceSpecError {
    /// Not one of the four forms.
    #[error("{0:?} is not usb, usb:PATH, udp:HOST:PORT or unix:PATH")]
    Unknown(String),
    /// A form without its argument.
    #[error("{0:?} lacks its address")]
    Empty(String),
}

impl FromStr for DeviceSpec {
    type Err = DeviceSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = s.split_once(':').unwrap_or((s, ""));
        let arg = |rest: &str| {
            if rest.is_empty() { Err(DeviceSpecError::Empty(s.to_owned())) } else { Ok(rest.to_owned()) }
        };
        match scheme {
            "usb" if !s.contains(':') => Ok(DeviceSpec::Usb),
            "usb" => Ok(DeviceSpec::UsbPath(arg(rest)?)),
            "udp" => match rest.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(DeviceSpec::Udp(rest.to_owned()))
                }
                _ => Err(DeviceSpecError::Empty(s.to_owned())),
            },
            "unix" => Ok(DeviceSpec::Unix(arg(rest)?.into())),
            _ => Err(DeviceSpecError::Unknown(s.to_owned())),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Usb => f.write_str("usb"),
            DeviceSpec::UsbPath(path) => write!(f, "usb:{path}"),
            DeviceSpec::Udp(addr) => write!(f, "udp:{addr}"),
            DeviceSpec::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Why a device could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// No FIDO key on USB.
    #[error("no FIDO security keys found")]
    NoKeys,
    /// Several keys and no path: the caller picks one of these.
    #[error("{} FIDO security keys found; choose one with --device usb:PATH", .0.len())]
    Several(Vec<UsbKey>),
    /// The operating system refused.
    #[error("cannot open {spec}: {source}")]
    Io {
        /// What was being opened.
        spec: String,
        /// The OS error.
        source: io::Error,
    },
}

impl DeviceSpec {
    /// Opens the device.
    pub fn open(&self) -> Result<Box<dyn Connection + Send>, OpenError> {
        let io = |source| OpenError::Io { spec: self.to_string(), source };
        Ok(match self {
            DeviceSpec::Usb => {
                let mut keys = hid::list().map_err(io)?;
                match keys.len() {
                    0 => return Err(OpenError::NoKeys),
                    1 => Box::new(HidConnection::open(&keys.remove(0).path).map_err(io)?),
                    _ => return Err(OpenError::Several(keys)),
                }
            }
            DeviceSpec::UsbPath(path) => Box::new(HidConnection::open(path).map_err(io)?),
            DeviceSpec::Udp(addr) => Box::new(UdpConnection::connect(addr).map_err(io)?),
            DeviceSpec::Unix(path) => Box::new(UnixConnection::connect(path).map_err(io)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_and_prints_back() {
        for text in ["usb", "usb:/dev/hidraw3", "udp:127.0.0.1:9000", "udp:[::1]:9", "unix:/tmp/t.sock"] {
            assert_eq!(text.parse::<DeviceSpec>().unwrap().to_string(), text);
        }
        assert_eq!("usb".parse(), Ok(DeviceSpec::Usb));
        assert!(matches!("usb:".parse::<DeviceSpec>(), Err(DeviceSpecError::Empty(_))));
        assert!(matches!("udp:host".parse::<DeviceSpec>(), Err(DeviceSpecError::Empty(_))));
        assert!(matches!("bluetooth:x".parse::<DeviceSpec>(), Err(DeviceSpecError::Unknown(_))));
    }
}
