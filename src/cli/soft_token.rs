//! `keygate soft-token ...`: a software security key served over a socket.
//!
//! `serve` runs the token until SIGINT/SIGTERM; with `--presence manual` each
//! SIGUSR1 stands for one touch, so tests can watch a host poll on 6985 (U2F)
//! or wait on KEEPALIVE (CTAP2). `--protocol` picks what the token speaks.
//! A new token's attestation identity is the test CA's certificate from
//! `fixtures/soft-token/`, built into the binary.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use keygate_device::soft::credential::{self, decode_base64};
use keygate_device::soft::state::{Attestation, Secret};
use keygate_device::soft::{Presence, Protocol, SoftToken, TokenState, file};
use keygate_device::transport::{self, Control, ListenAddr, unix::UnixListener};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

use super::CliError;
use crate::telemetry::{self, LogFormat};

/// The attestation certificate new tokens embed in their registrations.
const ATTESTATION_CERT: &[u8] = include_bytes!("../../fixtures/soft-token/attestation.der");
/// Its private key (test material, PKCS#8 DER).
const ATTESTATION_KEY: &[u8] = include_bytes!("../../fixtures/soft-token/attestation-key.der");

/// The `keygate soft-token` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum SoftTokenCommand {
    /// Serve the token over CTAPHID (one 64-byte report per datagram).
    Serve(SoftTokenServeArgs),
    /// Print a credential in the shape Chromium's WebAuthn.addCredential takes.
    ExportCredential(ExportCredentialArgs),
    /// Read a credential in the shape WebAuthn.getCredentials returns (standard input).
    ImportCredential(ImportCredentialArgs),
}

/// When the token considers its user present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PresenceMode {
    /// At once, for every request.
    Auto,
    /// Only after a SIGUSR1 (one signal, one touch); U2F requests meanwhile
    /// get 6985, CTAP2 requests wait (KEEPALIVE) for up to 30 s.
    Manual,
}

/// Which protocols the served token speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProtocolMode {
    /// U2F only (CTAPHID MSG), like a FIDO U2F key; CBOR requests are refused.
    U2f,
    /// CTAP2 only (CTAPHID CBOR), like a FIDO2 key with U2F switched off; MSG is refused.
    Ctap2,
    /// Both, like a FIDO2 key with U2F on; a credential made over one works over the other.
    Both,
}

/// Arguments of `keygate soft-token serve`.
#[derive(Debug, Args)]
pub(crate) struct SoftTokenServeArgs {
    /// The token's state file (created on first use).
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// udp:HOST:PORT or unix:PATH.
    #[arg(long, value_name = "ADDR")]
    pub listen: ListenAddr,
    /// How user presence is decided.
    #[arg(long, value_enum, default_value_t = PresenceMode::Auto)]
    pub presence: PresenceMode,
    /// Which protocols the token speaks: u2f, ctap2 or both.
    #[arg(long, value_enum, default_value_t = ProtocolMode::Both)]
    pub protocol: ProtocolMode,
    /// Log format: human or json.
    #[arg(long, value_name = "FORMAT", default_value = "human")]
    pub log_format: LogFormat,
}

/// Arguments of `keygate soft-token export-credential`.
#[derive(Debug, Args)]
pub(crate) struct ExportCredentialArgs {
    /// The token's state file.
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// The relying party (U2F app id) the key handle was made for.
    #[arg(long, value_name = "ID")]
    pub rp_id: String,
    /// The key handle (credential id), websafe base64 (which may start with `-`).
    #[arg(long, value_name = "B64", allow_hyphen_values = true)]
    pub key_handle: String,
}

/// Arguments of `keygate soft-token import-credential`.
#[derive(Debug, Args)]
pub(crate) struct ImportCredentialArgs {
    /// The token's state file (created when missing).
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// The relying party, for credentials without an `rpId` (those of
    /// Chromium's `u2f` virtual authenticator).
    #[arg(long, value_name = "ID")]
    pub rp_id: Option<String>,
}

pub(super) async fn run(cmd: SoftTokenCommand) -> Result<(), CliError> {
    match cmd {
        SoftTokenCommand::Serve(args) => serve(args).await,
        SoftTokenCommand::ExportCredential(args) => export(&args),
        SoftTokenCommand::ImportCredential(args) => import(&args),
    }
}

fn attestation() -> Attestation {
    Attestation { certificate: ATTESTATION_CERT.to_vec(), private_key: Secret::new(ATTESTATION_KEY.to_vec()) }
}

async fn serve(args: SoftTokenServeArgs) -> Result<(), CliError> {
    telemetry::init(args.log_format);
    let presence = match args.presence {
        PresenceMode::Auto => Presence::Auto,
        PresenceMode::Manual => Presence::Manual,
    };
    let protocol = match args.protocol {
        ProtocolMode::U2f => Protocol::U2f,
        ProtocolMode::Ctap2 => Protocol::Ctap2,
        ProtocolMode::Both => Protocol::Both,
    };
    let control = Arc::new(Control::default());
    spawn_signal_handlers(&control)?;
    let worker = Arc::clone(&control);
    let served = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        match &args.listen {
            ListenAddr::Udp(addr) => {
                let socket = std::net::UdpSocket::bind(addr)
                    .with_context(|| format!("cannot listen on udp:{addr}"))?;
                let local = socket.local_addr().context("cannot read the bound address")?;
                let mut token = open(&args.state, presence, protocol)?;
                tracing::info!(address = %format!("udp:{local}"), "soft token listening");
                transport::serve(&socket, &mut token, &worker).context("socket failed")
            }
            ListenAddr::Unix(path) => {
                let socket = UnixListener::bind(path)
                    .with_context(|| format!("cannot listen on unix:{}", path.display()))?;
                let mut token = open(&args.state, presence, protocol)?;
                tracing::info!(address = %args.listen, "soft token listening");
                transport::serve(&socket, &mut token, &worker).context("socket failed")
            }
        }
    });
    served.await.context("the serving thread failed")??;
    tracing::info!("soft token stopped");
    Ok(())
}

fn open<P: Clone>(path: &Path, presence: Presence, protocol: Protocol) -> anyhow::Result<SoftToken<P>> {
    let (token, created) = SoftToken::open_or_create(path, &mut UnwrapErr(SysRng), attestation(), presence)
        .with_context(|| format!("cannot open the token state {}", path.display()))?;
    let token = token.with_protocol(protocol);
    if created {
        tracing::info!(state = %path.display(), "created a new soft token");
    }
    tracing::info!(
        counter = token.state().counter,
        credentials = token.state().credentials.len(),
        protocol = ?protocol,
        "token loaded"
    );
    Ok(token)
}

fn spawn_signal_handlers(control: &Arc<Control>) -> Result<(), CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut usr1 = signal(SignalKind::user_defined1()).context("cannot watch SIGUSR1")?;
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let approvals = Arc::clone(control);
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            approvals.approve();
        }
    });
    let stopper = Arc::clone(control);
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        stopper.stop();
    });
    Ok(())
}

fn export(args: &ExportCredentialArgs) -> Result<(), CliError> {
    let state = file::load(&args.state)
        .context("cannot read the token state")?
        .ok_or_else(|| CliError::other(format!("{} does not exist", args.state.display())))?;
    let handle =
        decode_base64("--key-handle", &args.key_handle).map_err(|e| CliError::other(e.to_string()))?;
    let exported =
        credential::export(&state, &args.rp_id, &handle).map_err(|e| CliError::other(e.to_string()))?;
    let json = serde_json::to_string_pretty(&exported).context("cannot render the credential")?;
    println!("{json}");
    Ok(())
}

fn import(args: &ImportCredentialArgs) -> Result<(), CliError> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).context("cannot read standard input")?;
    let mut state = match file::load(&args.state).context("cannot read the token state")? {
        Some(state) => state,
        None => TokenState::generate(&mut UnwrapErr(SysRng), attestation()),
    };
    let count = credential::import(&mut state, &input, args.rp_id.as_deref())
        .map_err(|e| CliError::other(e.to_string()))?;
    file::save(&args.state, &state).context("cannot save the token state")?;
    eprintln!("imported {count} credential(s) into {}", args.state.display());
    Ok(())
}
