//! The service: the JSON, legacy REST, OAuth/Graph and WebAuthn APIs, pages
//! and the router in-process, the store, and `keygate serve` as a process,
//! each on SQLite and PostgreSQL where the database matters, and attacked.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod api_input;
mod attacks;
mod http;
mod legacy_api;
mod oauth_api;
mod pages;
mod revocation;
mod serve;
mod store;
mod store_reads;
mod webauthn_api;
