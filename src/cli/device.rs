//! `--device` and `--timeout`, the flags of every command that talks to a
//! security key, and opening the chosen device: with several USB keys and
//! `--device usb`, a terminal user picks one; a script gets an error that
//! lists them.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use keygate_device::transport::hid::UsbKey;
use keygate_device::transport::{Connection, DeviceSpec, OpenError};

use super::CliError;

/// Flags of the commands that use a security key.
#[derive(Debug, Clone, Args)]
pub(crate) struct DeviceArgs {
    /// usb (the one key plugged in), usb:PATH, udp:HOST:PORT or unix:PATH (a soft token).
    #[arg(long, value_name = "SPEC", default_value = "usb")]
    pub device: DeviceSpec,
    /// Give up waiting for a touch after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
}

impl DeviceArgs {
    /// The touch timeout as a duration.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout.map(Duration::from_secs)
    }

    /// Opens the device, asking which key when several are plugged in.
    pub(crate) fn open(&self) -> Result<Box<dyn Connection + Send>, CliError> {
        match self.device.open() {
            Ok(connection) => Ok(connection),
            Err(OpenError::Several(keys))
                if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() =>
            {
                let chosen = choose(&keys)?;
                DeviceSpec::UsbPath(chosen.path.clone()).open().map_err(|e| CliError::other(e.to_string()))
            }
            Err(OpenError::Several(keys)) => Err(CliError::other(several(&keys))),
            Err(e) => Err(CliError::other(e.to_string())),
        }
    }
}

fn label(key: &UsbKey) -> String {
    let name = key.product.clone().unwrap_or_else(|| format!("{:04x}:{:04x}", key.vendor_id, key.product_id));
    format!("{name} (usb:{})", key.path)
}

/// The error for a script that did not say which key.
fn several(keys: &[UsbKey]) -> String {
    let list: Vec<String> = keys.iter().map(|k| format!("  {}", label(k))).collect();
    format!("several FIDO security keys found; choose one with --device:\n{}", list.join("\n"))
}

fn choose(keys: &[UsbKey]) -> Result<&UsbKey, CliError> {
    let mut stderr = std::io::stderr();
    for (i, key) in keys.iter().enumerate() {
        let _ = writeln!(stderr, "{}) {}", i + 1, label(key));
    }
    let _ = write!(stderr, "Which security key? [1-{}] ", keys.len());
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::other(format!("cannot read the answer: {e}")))?;
    answer
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| keys.get(i))
        .ok_or_else(|| CliError::other(format!("{:?} is not one of the keys listed", answer.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        device: DeviceArgs,
    }

    #[test]
    fn flags_parse_into_one_spec_type() {
        let cli = Cli::try_parse_from(["t"]).unwrap();
        assert_eq!((&cli.device.device, cli.device.timeout()), (&DeviceSpec::Usb, None));
        let cli = Cli::try_parse_from(["t", "--device", "udp:127.0.0.1:9", "--timeout", "30"]).unwrap();
        assert_eq!(cli.device.device, DeviceSpec::Udp("127.0.0.1:9".into()));
        assert_eq!(cli.device.timeout(), Some(Duration::from_secs(30)));
        assert!(Cli::try_parse_from(["t", "--device", "serial:/dev/x"]).is_err());
    }

    #[test]
    fn scripts_get_the_list_of_keys() {
        let key = |path: &str| UsbKey {
            path: path.into(),
            product: Some("YubiKey".into()),
            manufacturer: None,
            vendor_id: 0x1050,
            product_id: 0x0407,
        };
        let message = several(&[key("/dev/hidraw1"), key("/dev/hidraw4")]);
        assert!(
            message.contains("YubiKey (usb:/dev/hidraw1)") && message.contains("usb:/dev/hidraw4"),
            "{message}"
        );
    }
}
