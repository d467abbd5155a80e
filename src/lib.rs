//! keygate: a login service that pairs a password with a FIDO U2F security key
//! and hands the result to applications through a Facebook-style token API.
//!
//! The crate is a library first so that integration tests, benches and fuzz
//! targets drive the same code the `keygate` binary runs. The binary itself is
//! a thin shell around [`cli::run`].
//!
//! What the library offers is what those drivers need, and no more: the
//! store and its records, the HTTP application, configuration, the secrets
//! the tests seal with, the legacy and Graph protocol pieces the fuzz targets
//! parse, and the CLI. The login rules (`auth`) and telemetry stay inside;
//! the verification core is the `keygate-verify` crate.
#![warn(unreachable_pub)]

mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod legacy;
pub mod oauth;
pub mod secrets;
pub mod store;
mod telemetry;
use keygate_verify as verify;
pub mod web;

#[cfg(test)]
mod layering;
