//! keygate: a login service that pairs a password with a FIDO U2F security key
//! and hands the result to applications through a Facebook-style token API.
//!
//! The crate is a library first so that integration tests, benches and fuzz
//! targets drive the same code the `keygate` binary runs. The binary itself is
//! a thin shell around [`cli::run`].

pub mod cli;
pub mod clock;
pub mod config;
pub mod legacy;
pub mod oauth;

pub mod auth;
pub mod secrets;
pub mod store;
pub mod telemetry;
/// The verification core, its own crate so that other services can use it.
pub use keygate_verify as verify;
pub mod web;

#[cfg(test)]
mod layering;
