//! The soft token as transports see it: reports in, reports out. Glues the
//! CTAPHID [`Device`], the U2F [`Applet`], the CTAP2 [`Authenticator`] and
//! the state file, and keeps the one rule that needs them all: an answer
//! carrying a counter value leaves only after the state holding that value
//! is on disk. Which protocols the token speaks is its [`Protocol`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::CryptoRng;

use super::applet::{Applet, Presence};
use super::ctap2::{Answer, Authenticator, Protocol, Step};
use super::file::{self, FileError};
use super::state::{Attestation, StateError, TokenState};
use crate::ctap2::{self, Status};
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

/// A software security key behind a CTAPHID device; `P` identifies peers.
#[derive(Debug)]
pub struct SoftToken<P> {
    device: Device<P>,
    applet: Applet,
    ctap2: Authenticator,
    /// The channel whose CBOR request waits for a touch.
    waiting: Option<ChannelId>,
    path: Option<PathBuf>,
}

fn device<P: Clone>(protocol: Protocol) -> Device<P> {
    Device::new(DeviceInfo { capabilities: protocol.capabilities(), ..DeviceInfo::default() })
}

impl<P: Clone> SoftToken<P> {
    /// A token whose state lives only in memory (for in-process tests),
    /// speaking both protocols.
    pub fn in_memory(state: TokenState, presence: Presence) -> Result<Self, TokenError> {
        Ok(Self::new(Applet::new(state, presence)?, None))
    }

    fn new(applet: Applet, path: Option<PathBuf>) -> Self {
        let protocol = Protocol::default();
        SoftToken {
            device: device(protocol),
            applet,
            ctap2: Authenticator::new(protocol),
            waiting: None,
            path,
        }
    }

    /// The same token speaking only `protocol`'s commands (set before any host talks to it).
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.device = device(protocol);
        self.ctap2.set_protocol(protocol);
        self.waiting = None;
        self
    }

    /// The same token taking at most `limit` credential ids per CTAP2 list
    /// (see [`Authenticator::set_list_limit`]).
    pub fn with_list_limit(mut self, limit: usize) -> Self {
        self.ctap2.set_list_limit(limit);
        self
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
        Ok((Self::new(applet, Some(path.to_owned())), created))
    }

    /// Simulates a touch of the token: answers the CTAP2 request waiting for
    /// one, or else lets the next request that needs presence have it.
    pub fn approve(&mut self) {
        tracing::info!("user presence approved");
        match (self.waiting.take(), self.ctap2.approve(&mut self.applet)) {
            (Some(channel), Some(answer)) => self.answer(channel, answer),
            _ => self.applet.approve(),
        }
    }

    /// The current state (for export and tests).
    pub fn state(&self) -> &TokenState {
        self.applet.state()
    }

    /// Handles one report from `peer`; replies queue up for [`SoftToken::poll_transmit`].
    pub fn handle_report(&mut self, now: Instant, rng: &mut impl CryptoRng, peer: P, report: &[u8]) {
        if let Ok(Packet::Init { channel, command: cmd, length, .. }) = Packet::parse(report)
            && cmd != command::MSG
            && cmd != command::CBOR
        {
            // MSG and CBOR are logged once answered, with their command and status.
            tracing::info!(%channel, command = command_name(cmd), length, "CTAPHID");
        }
        match self.device.handle_report(now, peer, report) {
            Some(Request::Msg { channel, apdu, .. }) => self.message(rng, channel, &apdu),
            Some(Request::Wink { channel }) => tracing::info!(%channel, "wink"),
            Some(Request::Cbor { channel, payload, .. }) => {
                match self.ctap2.handle(&mut self.applet, now, rng, &payload) {
                    Step::Answer(answer) => {
                        self.waiting = None;
                        self.answer(channel, answer);
                    }
                    Step::Waiting => {
                        tracing::info!(%channel, command = ctap2_name(payload.first().copied()), "CTAP2 waiting for a touch");
                        self.waiting = Some(channel);
                        self.device.keepalive(now, ctap2::keepalive::UP_NEEDED);
                    }
                }
            }
            Some(Request::Cancel { channel }) if self.waiting == Some(channel) => {
                self.waiting = None;
                if let Some(answer) = self.ctap2.cancel() {
                    self.answer(channel, answer);
                }
            }
            Some(Request::Cancel { .. }) => {}
            None => {}
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

    /// Sends a CTAP2 answer, saving the state first when it asks for that.
    fn answer(&mut self, channel: ChannelId, answer: Answer) {
        let mut response = answer.response;
        if answer.persist
            && let Some(path) = &self.path
            && let Err(e) = file::save(path, self.applet.state())
        {
            tracing::error!(error = %e, "cannot save the token state; refusing to answer");
            response = ctap2::response::reply(Status::OTHER, &[]);
        }
        let status = Status(response.first().copied().unwrap_or(Status::OTHER.0));
        let name = ctap2_name(Some(answer.command));
        match answer.counter {
            Some(counter) => {
                tracing::info!(%channel, command = name, status = status.name(), counter, "CTAP2")
            }
            None => tracing::info!(%channel, command = name, status = status.name(), "CTAP2"),
        }
        if let Err(e) = self.device.respond(channel, &response) {
            tracing::error!(error = %e, "cannot frame the response");
        }
    }

    /// Expires what timed out: an unfinished message, a LOCK, a CTAP2 request
    /// nobody approved in time; sends KEEPALIVE when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.device.handle_timeout(now);
        if let Some(answer) = self.ctap2.handle_timeout(now)
            && let Some(channel) = self.waiting.take()
        {
            self.answer(channel, answer);
        }
    }

    /// When [`SoftToken::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.device.poll_timeout(), self.ctap2.poll_timeout()].into_iter().flatten().min()
    }

    /// The next report to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<P>> {
        self.device.poll_transmit()
    }
}

/// A CTAP2 command's name for the log.
fn ctap2_name(cmd: Option<u8>) -> &'static str {
    match cmd {
        Some(ctap2::command::MAKE_CREDENTIAL) => "makeCredential",
        Some(ctap2::command::GET_ASSERTION) => "getAssertion",
        Some(ctap2::command::GET_INFO) => "getInfo",
        Some(ctap2::command::RESET) => "reset",
        _ => "other",
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
