//! USB security keys through hidapi (the pure-Rust Linux backend, no system
//! libraries): find devices by the FIDO usage page, and talk CTAPHID with
//! the report-id byte hidapi expects in front of every output report.

use std::io;
use std::time::Duration;

use hidapi::{HidApi, HidDevice};

use super::connection::Connection;
use crate::ctaphid::REPORT_SIZE;

/// The HID usage page FIDO authenticators declare.
pub const FIDO_USAGE_PAGE: u16 = 0xf1d0;
/// The FIDO usage for CTAPHID.
pub const FIDO_USAGE: u16 = 0x01;

/// A FIDO key found on the USB bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbKey {
    /// The hidraw path, stable while the key stays plugged in.
    pub path: String,
    /// Product string, when the key gives one.
    pub product: Option<String>,
    /// Manufacturer string, when the key gives one.
    pub manufacturer: Option<String>,
    /// USB vendor id.
    pub vendor_id: u16,
    /// USB product id.
    pub product_id: u16,
}

fn hid_error(e: hidapi::HidError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Lists the FIDO keys hidapi can see (keys the user may not open are still listed).
pub fn list() -> io::Result<Vec<UsbKey>> {
    let api = HidApi::new().map_err(hid_error)?;
    let mut keys: Vec<UsbKey> = api
        .device_list()
        .filter(|d| d.usage_page() == FIDO_USAGE_PAGE && d.usage() == FIDO_USAGE)
        .map(|d| UsbKey {
            path: d.path().to_string_lossy().into_owned(),
            product: d.product_string().map(str::to_owned),
            manufacturer: d.manufacturer_string().map(str::to_owned),
            vendor_id: d.vendor_id(),
            product_id: d.product_id(),
        })
        .collect();
    keys.sort_by(|a, b| a.path.cmp(&b.path));
    keys.dedup_by(|a, b| a.path == b.path);
    Ok(keys)
}

/// An open USB key.
pub struct HidConnection {
    device: HidDevice,
}

impl std::fmt::Debug for HidConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HidConnection")
    }
}

impl HidConnection {
    /// Opens the key at `path` (a hidraw path from [`list`]).
    pub fn open(path: &str) -> io::Result<Self> {
        let api = HidApi::new().map_err(hid_error)?;
        let c_path = std::ffi::CString::new(path)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "device path contains a NUL byte"))?;
        let device = api.open_path(&c_path).map_err(hid_error)?;
        Ok(HidConnection { device })
    }
}

impl Connection for HidConnection {
    fn write_report(&mut self, report: &[u8; REPORT_SIZE]) -> io::Result<()> {
        // hidapi wants the report id first; FIDO keys use none, which is written as 0.
        let mut out = [0u8; REPORT_SIZE + 1];
        out[1..].copy_from_slice(report);
        self.device.write(&out).map(drop).map_err(hid_error)
    }

    fn read_report(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        let mut buf = [0u8; REPORT_SIZE];
        let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX).max(1);
        match self.device.read_timeout(&mut buf, millis).map_err(hid_error)? {
            0 => Ok(None),
            n => Ok(Some(buf[..n].to_vec())),
        }
    }
}
