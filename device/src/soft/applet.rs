//! The U2F applet: VERSION, REGISTER and AUTHENTICATE answered from a
//! [`TokenState`], with user presence either automatic or held until the
//! driver calls [`Applet::approve`] (how a person's touch is simulated).
//!
//! The applet never writes the state itself. An answer that hands out a
//! counter value comes back as a [`Reply`] with `persist` set: the driver must
//! save the state durably before sending the answer, so a counter value once
//! seen by a host is never seen again, even after a crash.

use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use rand::CryptoRng;

use super::credential::find_key;
use super::keyhandle::{AppParam, KeyWrap, random_signing_key};
use super::state::{Secret, StateError, TokenState};
use crate::u2f::status::response;
use crate::u2f::{CommandApdu, StatusWord, auth_control, ins};

/// How the token decides that its user is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Every request that needs presence gets it at once.
    Auto,
    /// Requests get 6985 until [`Applet::approve`]; one approval covers one request.
    Manual,
}

/// The applet's answer to one APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The response APDU (data and status word).
    pub response: Vec<u8>,
    /// The state changed (a counter value was handed out): save it before
    /// sending `response`, and send [`StatusWord::NO_PRECISE_DIAGNOSIS`] instead if saving fails.
    pub persist: bool,
}

impl Reply {
    fn status(sw: StatusWord) -> Self {
        Reply { response: sw.to_bytes().to_vec(), persist: false }
    }
}

/// A U2F authenticator over a [`TokenState`].
#[derive(Debug)]
pub struct Applet {
    state: TokenState,
    wrap: KeyWrap,
    attestation_key: SigningKey,
    presence: Presence,
    approved: bool,
}

impl Applet {
    /// An applet answering from `state` (validated first).
    pub fn new(state: TokenState, presence: Presence) -> Result<Self, StateError> {
        state.validate()?;
        let wrap = KeyWrap::new(state.master_key.expose())?;
        let attestation_key = state.attestation.signing_key()?;
        Ok(Applet { state, wrap, attestation_key, presence, approved: false })
    }

    /// The state to save when a [`Reply`] asks for it.
    pub fn state(&self) -> &TokenState {
        &self.state
    }

    /// Simulates a touch: the next request needing presence gets it.
    pub fn approve(&mut self) {
        self.approved = true;
    }

    /// Whether an approval is waiting to be used.
    pub fn is_approved(&self) -> bool {
        self.approved
    }

    /// Presence for one request: at once when automatic, else the waiting
    /// approval, if any (shared with the CTAP2 authenticator, so a touch
    /// counts once whichever protocol asks).
    pub(crate) fn take_presence(&mut self) -> bool {
        match self.presence {
            Presence::Auto => true,
            Presence::Manual => std::mem::take(&mut self.approved),
        }
    }

    /// The state, for the CTAP2 authenticator, which hands out counter values
    /// from the same counter (and says when to persist, like [`Reply`]).
    pub(crate) fn state_mut(&mut self) -> &mut TokenState {
        &mut self.state
    }

    /// The key-handle sealer, so CTAP2 credential ids are U2F key handles.
    pub(crate) fn key_wrap(&self) -> &KeyWrap {
        &self.wrap
    }

    /// The key that signs registrations and packed attestations.
    pub(crate) fn attestation_key(&self) -> &SigningKey {
        &self.attestation_key
    }

    /// Forgets every credential: a new master key (so no key handle made so
    /// far opens again) and no imported credentials. The counter stays, so
    /// relying parties never see it go back.
    pub(crate) fn reset(&mut self, master_key: Secret) -> Result<(), StateError> {
        self.wrap = KeyWrap::new(master_key.expose())?;
        self.state.master_key = master_key;
        self.state.credentials.clear();
        Ok(())
    }

    /// Answers one command APDU.
    pub fn handle_apdu(&mut self, rng: &mut impl CryptoRng, apdu: &[u8]) -> Reply {
        let apdu = match CommandApdu::parse(apdu) {
            Ok(apdu) => apdu,
            Err(e) => {
                tracing::debug!(error = %e, "malformed APDU");
                return Reply::status(StatusWord::WRONG_LENGTH);
            }
        };
        if apdu.cla != 0 {
            return Reply::status(StatusWord::CLA_NOT_SUPPORTED);
        }
        match apdu.ins {
            ins::VERSION if apdu.data.is_empty() => {
                Reply { response: response(crate::u2f::VERSION, StatusWord::NO_ERROR), persist: false }
            }
            ins::VERSION => Reply::status(StatusWord::WRONG_LENGTH),
            ins::REGISTER => self.register(rng, &apdu.data),
            ins::AUTHENTICATE => self.authenticate(apdu.p1, &apdu.data),
            _ => Reply::status(StatusWord::INS_NOT_SUPPORTED),
        }
    }

    fn register(&mut self, rng: &mut impl CryptoRng, data: &[u8]) -> Reply {
        let (Some(challenge), Some(app)) = (data.get(..32), data.get(32..)) else {
            return Reply::status(StatusWord::WRONG_LENGTH);
        };
        let Ok(app) = AppParam::try_from(app) else {
            return Reply::status(StatusWord::WRONG_LENGTH);
        };
        if !self.take_presence() {
            return Reply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        let key = random_signing_key(rng);
        let handle = self.wrap.wrap(rng, &app, &key);
        let public = key.verifying_key().to_encoded_point(false);
        let mut signed = Vec::with_capacity(1 + 32 + 32 + handle.len() + 65);
        signed.push(0x00);
        signed.extend_from_slice(&app);
        signed.extend_from_slice(challenge);
        signed.extend_from_slice(&handle);
        signed.extend_from_slice(public.as_bytes());
        let signature: Signature = self.attestation_key.sign(&signed);

        let mut out = vec![0x05];
        out.extend_from_slice(public.as_bytes());
        out.push(handle.len() as u8);
        out.extend_from_slice(&handle);
        out.extend_from_slice(&self.state.attestation.certificate);
        out.extend_from_slice(signature.to_der().as_bytes());
        Reply { response: response(&out, StatusWord::NO_ERROR), persist: false }
    }

    fn authenticate(&mut self, control: u8, data: &[u8]) -> Reply {
        let (Some(challenge), Some(app), Some(&len)) = (data.get(..32), data.get(32..64), data.get(64))
        else {
            return Reply::status(StatusWord::WRONG_LENGTH);
        };
        let Some(handle) = data.get(65..).filter(|h| h.len() == usize::from(len)) else {
            return Reply::status(StatusWord::WRONG_LENGTH);
        };
        let Ok(app) = AppParam::try_from(app) else {
            return Reply::status(StatusWord::WRONG_LENGTH);
        };
        let key = match find_key(&self.state, &app, handle) {
            Ok(key) => key,
            Err(e) => {
                tracing::debug!(error = %e, "key handle refused");
                return Reply::status(StatusWord::WRONG_DATA);
            }
        };
        let flags = match control {
            auth_control::CHECK_ONLY => return Reply::status(StatusWord::CONDITIONS_NOT_SATISFIED),
            auth_control::ENFORCE_USER_PRESENCE if !self.take_presence() => {
                return Reply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
            }
            auth_control::ENFORCE_USER_PRESENCE => 0x01,
            auth_control::DONT_ENFORCE_USER_PRESENCE => 0x00,
            _ => return Reply::status(StatusWord::WRONG_DATA),
        };
        let Ok(counter) = self.state.next_counter() else {
            return Reply::status(StatusWord::NO_PRECISE_DIAGNOSIS);
        };
        let mut signed = Vec::with_capacity(32 + 1 + 4 + 32);
        signed.extend_from_slice(&app);
        signed.push(flags);
        signed.extend_from_slice(&counter.to_be_bytes());
        signed.extend_from_slice(challenge);
        let signature: Signature = key.sign(&signed);

        let mut out = vec![flags];
        out.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(signature.to_der().as_bytes());
        Reply { response: response(&out, StatusWord::NO_ERROR), persist: true }
    }
}

#[cfg(test)]
#[path = "applet_tests.rs"]
mod tests;
