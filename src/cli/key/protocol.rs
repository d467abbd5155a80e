//! Which protocol `keygate key` speaks to the key: CTAP2 (FIDO2) when the
//! key announces it, U2F (CTAP1) otherwise, unless `--protocol` says which.
//! Keys sold today speak both; old ones only U2F; some only CTAP2 (U2F
//! switched off): the CTAPHID INIT reply's capabilities tell them apart.

use clap::ValueEnum;
use keygate_device::client::CtapHidClient;
use keygate_device::ctaphid::capability;
use keygate_device::transport::Connection;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

use super::KeyServerArgs;
use crate::cli::CliError;

/// `--protocol`: what to speak to the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Protocol {
    /// CTAP2 when the key announces it (CBOR capability), U2F otherwise.
    Auto,
    /// U2F (CTAP1) APDUs, through the U2F endpoints of the API.
    U2f,
    /// CTAP2 (FIDO2), through the WebAuthn endpoints of the API.
    Ctap2,
}

/// The protocol chosen for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Speaks {
    /// U2F: `/login/u2f`, `/keys/register/*`.
    U2f,
    /// CTAP2: `/login/webauthn`, `/keys/webauthn/register/*`.
    Ctap2,
}

/// An open CTAPHID session with the key on `--device`.
pub(super) type Hid = CtapHidClient<Box<dyn Connection + Send>>;

/// What to speak to a key whose INIT reply announced `capabilities`, as
/// `asked` wants; a clear refusal when the key cannot.
pub(super) fn choose(asked: Protocol, capabilities: u8) -> Result<Speaks, CliError> {
    let ctap2 = capabilities & capability::CBOR != 0;
    let u2f = capabilities & capability::NMSG == 0;
    match (asked, u2f, ctap2) {
        (Protocol::Ctap2 | Protocol::Auto, _, true) => Ok(Speaks::Ctap2),
        (Protocol::U2f | Protocol::Auto, true, _) => Ok(Speaks::U2f),
        (Protocol::U2f, false, _) => Err(CliError::other(
            "this key does not speak U2F (CTAP1): it is a FIDO2-only key or has U2F switched off; \
             use --protocol ctap2 (or auto)",
        )),
        (Protocol::Ctap2, _, false) => Err(CliError::other(
            "this key does not speak CTAP2 (FIDO2): it is a U2F-only key; use --protocol u2f (or auto)",
        )),
        (Protocol::Auto, false, false) => {
            Err(CliError::other("this key announces neither U2F nor CTAP2: it is not a FIDO security key"))
        }
    }
}

/// Opens `--device`, allocates a CTAPHID channel and chooses the protocol.
pub(super) async fn open(args: &KeyServerArgs) -> Result<(Hid, Speaks), CliError> {
    let connection = args.device.open()?;
    let hid = tokio::task::spawn_blocking(move || CtapHidClient::open(connection, &mut UnwrapErr(SysRng)))
        .await
        .map_err(|e| CliError::other(format!("the device request failed: {e}")))?
        .map_err(|e| CliError::other(e.to_string()))?;
    let speaks = choose(args.protocol, hid.info().capabilities)?;
    tracing::debug!(?speaks, capabilities = hid.info().capabilities, "protocol chosen");
    Ok((hid, speaks))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINK: u8 = capability::WINK;
    const BOTH: u8 = capability::WINK | capability::CBOR;
    const ONLY_CTAP2: u8 = capability::CBOR | capability::NMSG;

    #[test]
    fn auto_prefers_ctap2_and_falls_back_to_u2f() {
        assert_eq!(choose(Protocol::Auto, BOTH).unwrap(), Speaks::Ctap2);
        assert_eq!(choose(Protocol::Auto, ONLY_CTAP2).unwrap(), Speaks::Ctap2);
        assert_eq!(choose(Protocol::Auto, WINK).unwrap(), Speaks::U2f);
        assert_eq!(choose(Protocol::Auto, 0).unwrap(), Speaks::U2f);
        assert!(choose(Protocol::Auto, capability::NMSG).is_err());
    }

    #[test]
    fn an_explicit_protocol_the_key_lacks_is_refused_clearly() {
        assert_eq!(choose(Protocol::U2f, BOTH).unwrap(), Speaks::U2f);
        assert_eq!(choose(Protocol::Ctap2, BOTH).unwrap(), Speaks::Ctap2);
        let err = choose(Protocol::U2f, ONLY_CTAP2).unwrap_err().to_string();
        assert!(err.contains("does not speak U2F") && err.contains("--protocol ctap2"), "{err}");
        let err = choose(Protocol::Ctap2, WINK).unwrap_err().to_string();
        assert!(err.contains("does not speak CTAP2") && err.contains("--protocol u2f"), "{err}");
    }
}
