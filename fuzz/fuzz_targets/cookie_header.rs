//! `Cookie` and `X-CSRF-Token` are attacker-controlled: any header bytes must
//! parse without a panic, a found cookie value must be a substring of the
//! header, and the CSRF check may pass only when the header equals the
//! cookie's value.
#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use keygate::web::cookies::{CSRF_HEADER, Cookies, get};
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
    for jar in [Cookies { secure: false }, Cookies { secure: true }] {
        if let Some(session) = jar.session(&headers) {
            assert!(!session.is_empty() && String::from_utf8_lossy(cookie).contains(session));
        }
        if jar.csrf_ok(&headers) {
            assert_eq!(get(&headers, jar.csrf_name()).map(str::as_bytes), Some(token));
        }
    }
});
