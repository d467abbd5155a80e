//! The command line end to end: the real `keygate` binary's user, app, key,
//! device, soft-token, config and man commands, on SQLite and PostgreSQL,
//! `serve` over TLS, and the systemd unit that runs it.

#[path = "../common/mod.rs"]
mod common;

mod admin_cli;
mod app_cli;
mod audit_cli;
mod cli;
mod config_cli;
mod devices;
mod key_cli;
mod key_ctap2;
mod man_cli;
mod soft_token;
mod soft_token_attestation;
mod systemd_unit;
mod tls;
mod user_keys_cli;
