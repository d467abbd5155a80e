//! `keygate devices`: FIDO security keys found over USB (hidapi).

use clap::Args;
use keygate_device::client::CtapHidClient;
use keygate_device::ctaphid::capability;
use keygate_device::transport::hid::{self, HidConnection, UsbKey};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

use super::CliError;

/// Arguments of `keygate devices`.
#[derive(Debug, Args)]
pub(crate) struct DevicesArgs {
    /// Make each key blink so you can tell which is which.
    #[arg(long)]
    pub wink: bool,
}

/// What to do when keys are plugged in but invisible: the usual cause on Linux.
const UDEV_HINT: &str = "\
If a key is plugged in, your user may not be allowed to open /dev/hidraw*.
Install the FIDO udev rules (libfido2's 70-u2f.rules, packaged as libu2f-udev
on Debian and Ubuntu) into /etc/udev/rules.d/, run
  sudo udevadm control --reload-rules && sudo udevadm trigger
and plug the key in again.";

pub(super) async fn run(args: DevicesArgs) -> Result<(), CliError> {
    tokio::task::spawn_blocking(move || list(args.wink))
        .await
        .map_err(|e| CliError::other(format!("device discovery failed: {e}")))?
}

fn list(wink: bool) -> Result<(), CliError> {
    let keys = hid::list().unwrap_or_else(|e| {
        eprintln!("keygate: cannot enumerate HID devices: {e}");
        Vec::new()
    });
    if keys.is_empty() {
        println!("no FIDO security keys found");
        println!("{UDEV_HINT}");
        return Ok(());
    }
    for key in &keys {
        println!("{}", describe(key, wink));
    }
    Ok(())
}

fn describe(key: &UsbKey, wink: bool) -> String {
    let name = key.product.clone().unwrap_or_else(|| format!("{:04x}:{:04x}", key.vendor_id, key.product_id));
    let mut line = format!("{name}\n  path: usb:{}", key.path);
    // A key that answers garbage is reported, never panicked on.
    match HidConnection::open(&key.path).map_err(|e| e.to_string()).and_then(|connection| {
        CtapHidClient::open(connection, &mut UnwrapErr(SysRng)).map_err(|e| e.to_string())
    }) {
        Ok(mut client) => {
            let info = *client.info();
            let (major, minor, build) = info.version;
            let mut caps = vec!["U2F"];
            if info.capabilities & capability::CBOR != 0 {
                caps.push("CTAP2");
            }
            if info.capabilities & capability::WINK != 0 {
                caps.push("wink");
            }
            line += &format!(
                "\n  CTAPHID protocol {}, device version {major}.{minor}.{build}\n  capabilities: {}",
                info.protocol,
                caps.join(", ")
            );
            if wink && info.capabilities & capability::WINK != 0 {
                match client.wink() {
                    Ok(()) => line += "\n  winked",
                    Err(e) => line += &format!("\n  wink failed: {e}"),
                }
            }
        }
        Err(e) => line += &format!("\n  cannot talk to it: {e}"),
    }
    line
}
