//! The software token: a U2F and CTAP2 authenticator in software, for tests and demos.
//!
//! [`Applet`] answers U2F APDUs from a [`TokenState`] (master key, counter,
//! attestation identity, imported credentials) and says when the state must
//! be saved before its answer leaves; [`Authenticator`] answers CTAP2
//! requests from the same state, so both protocols share credentials and one
//! counter; [`KeyWrap`] turns private keys into key
//! handles bound to their application; [`file`] saves the state atomically;
//! [`credential`] speaks the JSON shapes of Chromium's virtual authenticator;
//! [`SoftToken`] glues the CTAPHID device, the applet and the state file for
//! the transports.

pub mod applet;
pub mod credential;
pub mod ctap2;
pub mod file;
pub mod keyhandle;
pub mod packed;
pub mod state;
pub mod token;

pub use applet::{Applet, Presence, Reply};
pub use ctap2::{Authenticator, Protocol};
pub use keyhandle::{AppParam, KeyHandleError, KeyWrap};
pub use state::{Attestation, ImportedCredential, StateError, TokenState};
pub use token::{SoftToken, TokenError};
