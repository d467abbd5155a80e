//! The soft token as transports see it: reports in, reports out. Glues the
//! CTAPHID [`Device`], the U2F [`Applet`] and the state file, and keeps the
//! one rule that needs all three: an answer carrying a counter value leaves
//! only after the state holding that value is on disk.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::CryptoRng;

use super::applet::{Applet, Presence};
use super::file::{self, FileError};
use super::state::{Attestation, StateError, TokenState};
use crate::ctaphid::{ChannelId, Device, DeviceInfo, Packet, Request, Transmit, command};
use crate::u2f::{StatusWord, ins};

/// Why a soft token could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The state file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// The state is unusable.
    #[error(transparent)]
    State(#[from] StateError),
}

/// A software U2F token behind a CTAPHID device; `P` identifies peers.
#[derive(Debug)]
pub struct SoftToken<P> {
    device: Device<P>,
    applet: Applet,
    path: Option<PathBuf>,
}

impl<P: Clone> SoftToken<P> {
    /// A token whose state lives only in memory (for in-process tests).
    pub fn in_memory(state: TokenState, presence: Presence) -> Result<Self, TokenError> {
        Ok(SoftToken {
            device: Device::new(DeviceInfo::default()),
            applet: Applet::new(state, presence)?,
            path: None,
        })
    }

    /// Opens the token saved at `path`, or creates one there with `attestation`.
    /// Returns whether it was created.
    pub fn open_or_create(
        path: &Path,
        rng: &mut impl CryptoRng,
        attestation: Attestation,
        presence: Presence,
    ) -> Result<(Self, bool), TokenError> {
        let (state, created) = match file::load(path)? {
            Some(state) => (state, false),
            None => {
                let state = TokenState::generate(rng, attestation);
                state.validate()?;
                file::save(path, &state)?;
                (state, true)
            }
        };
        let applet = Applet::new(state, presence)?;
        Ok((
            SoftToken { device: Device::new(DeviceInfo::default()), applet, path: Some(path.to_owned()) },
            created,
        ))
    }

    /// Simulates a touch of the token.
    pub fn approve(&mut self) {
        tracing::info!("user presence approved");
        self.applet.approve();
    }

    /// The current state (for export and tests).
    pub fn state(&self) -> &TokenState {
        self.applet.state()
    }

    /// Handles one report from `peer`; replies queue up for [`SoftToken::poll_transmit`].
    pub fn handle_report(&mut self, now: Instant, rng: &mut impl CryptoRng, peer: P, report: &[u8]) {
        if let Ok(Packet::Init { channel, command: cmd, length, .. }) = Packet::parse(report)
            && cmd != command::MSG
        {
            // MSG is logged once answered, with its U2F instruction and status.
            tracing::info!(%channel, command = command_name(cmd), length, "CTAPHID");
        }
        match self.device.handle_report(now, peer, report) {
            Some(Request::Msg { channel, apdu, .. }) => self.message(rng, channel, &apdu),
            Some(Request::Wink { channel }) => tracing::info!(%channel, "wink"),
            Some(Request::Cbor { channel, .. }) => {
                let _ = self.device.respond(channel, &[crate::ctap2::Status::INVALID_COMMAND.0]);
            }
            Some(Request::Cancel { .. }) | None => {}
        }
    }

    fn message(&mut self, rng: &mut impl CryptoRng, channel: ChannelId, apdu: &[u8]) {
        let reply = self.applet.handle_apdu(rng, apdu);
        let mut response = reply.response;
        if reply.persist
            && let Some(path) = &self.path
            && let Err(e) = file::save(path, self.applet.state())
        {
            // Never hand out a counter value that a restart could hand out again.
            tracing::error!(error = %e, "cannot save the token state; refusing to answer");
            response = StatusWord::NO_PRECISE_DIAGNOSIS.to_bytes().to_vec();
        }
        let instruction = match apdu.get(1) {
            Some(&ins::VERSION) => "VERSION",
            Some(&ins::REGISTER) => "REGISTER",
            Some(&ins::AUTHENTICATE) => "AUTHENTICATE",
            _ => "other",
        };
        let status = StatusWord::from_response(&response).unwrap_or(StatusWord::NO_PRECISE_DIAGNOSIS);
        let p1 = apdu.get(2).copied().unwrap_or_default();
        if reply.persist {
            tracing::info!(%channel, command = instruction, p1, %status, counter = self.applet.state().counter, "U2F");
        } else {
            tracing::info!(%channel, command = instruction, p1, %status, "U2F");
        }
        if let Err(e) = self.device.respond(channel, &response) {
            tracing::error!(error = %e, "cannot frame the response");
        }
    }

    /// Expires what timed out.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.device.handle_timeout(now);
    }

    /// When [`SoftToken::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.device.poll_timeout()
    }

    /// The next report to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<P>> {
        self.device.poll_transmit()
    }
}

/// A CTAPHID command's name for the log.
fn command_name(cmd: u8) -> &'static str {
    match cmd {
        command::PING => "PING",
        command::MSG => "MSG",
        command::LOCK => "LOCK",
        command::INIT => "INIT",
        command::WINK => "WINK",
        command::CBOR => "CBOR",
        command::CANCEL => "CANCEL",
        _ => "unknown",
    }
}
