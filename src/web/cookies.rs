//! Browser sessions: the pages use the JSON API with an HttpOnly session
//! cookie instead of a Bearer token. Cookie-authenticated requests that
//! change state must echo the page's CSRF token in `X-CSRF-Token`; the token
//! also lives in an HttpOnly cookie (double submit), compared in constant
//! time. A cross-site form can send the cookies but cannot read the token.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method};

use crate::secrets;

/// The session cookie.
pub const SESSION_COOKIE: &str = "keygate_session";
/// The CSRF cookie; its value is also written into each page.
pub const CSRF_COOKIE: &str = "keygate_csrf";
/// The header the page's script echoes the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A cookie's value from the request, if sent.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// True when the request carries the CSRF header and it matches the cookie.
pub fn csrf_ok(headers: &HeaderMap) -> bool {
    let header = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (header, get(headers, CSRF_COOKIE)) {
        (Some(sent), Some(expected)) => secrets::ct_eq(sent.as_bytes(), expected.as_bytes()),
        _ => false,
    }
}

/// Whether a method changes state (and so needs the CSRF token).
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn attributes(secure: bool) -> &'static str {
    if secure { "; Path=/; HttpOnly; SameSite=Lax; Secure" } else { "; Path=/; HttpOnly; SameSite=Lax" }
}

/// Sets the session cookie; it lasts as long as the session.
pub fn set_session(headers: &mut HeaderMap, token: &str, max_age: i64, secure: bool) {
    let cookie = format!("{SESSION_COOKIE}={token}; Max-Age={}{}", max_age.max(0), attributes(secure));
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.append(SET_COOKIE, value);
    }
}

/// Removes the session cookie.
pub fn clear_session(headers: &mut HeaderMap, secure: bool) {
    let cookie = format!("{SESSION_COOKIE}=; Max-Age=0{}", attributes(secure));
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.append(SET_COOKIE, value);
    }
}

/// The page's CSRF token: the browser's existing one, or a new one to set.
pub fn csrf_token(request: &HeaderMap) -> (String, bool) {
    match get(request, CSRF_COOKIE) {
        Some(token) => (token.to_owned(), false),
        None => (secrets::random_token(24), true),
    }
}

/// Sets the CSRF cookie (browser session lifetime).
pub fn set_csrf(headers: &mut HeaderMap, token: &str, secure: bool) {
    let cookie = format!("{CSRF_COOKIE}={token}{}", attributes(secure));
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.append(SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(cookie: &str, header: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
        if let Some(v) = header {
            h.insert(CSRF_HEADER, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = with("a=1; keygate_session=tok; keygate_session_x=no", None);
        assert_eq!(get(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(get(&h, "keygate"), None);
    }

    #[test]
    fn csrf_needs_header_and_cookie_to_match() {
        assert!(csrf_ok(&with("keygate_csrf=abc", Some("abc"))));
        assert!(!csrf_ok(&with("keygate_csrf=abc", Some("abd"))));
        assert!(!csrf_ok(&with("keygate_csrf=abc", None)));
        assert!(!csrf_ok(&with("other=abc", Some("abc"))));
        assert!(!csrf_ok(&with("keygate_csrf=", Some(""))));
    }
}
