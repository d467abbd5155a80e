//! `Cookie` and `X-CSRF-Token` are attacker-controlled: any header bytes must
//! parse without a panic, a found cookie value must be a substring of the
//! header, and the CSRF check may pass only when the header equals the
//! cookie's value.
#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use keygate::web::cookies::{CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, csrf_ok, get};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |b| *b == b'\n');
    let (cookie, token) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(cookie) {
        headers.append("cookie", value);
    }
    if let Ok(value) = HeaderValue::from_bytes(token) {
        headers.append(CSRF_HEADER, value);
    }
    if let Some(session) = get(&headers, SESSION_COOKIE) {
        assert!(!session.is_empty() && String::from_utf8_lossy(cookie).contains(session));
    }
    if csrf_ok(&headers) {
        assert_eq!(get(&headers, CSRF_COOKIE).map(str::as_bytes), Some(token));
    }
});
