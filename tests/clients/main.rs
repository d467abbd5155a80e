//! Real third-party clients against a real `keygate serve`: python-fido2,
//! minifb and facebook-sdk from the test venv, and Chromium through
//! Playwright.

#[path = "../common/mod.rs"]
mod common;

mod api_python;
mod browser;
mod legacy_python;
mod oauth_python;
