//! Browser sessions: the pages use the JSON API with an HttpOnly session
//! cookie instead of a Bearer token. Cookie-authenticated requests that
//! change state must echo the page's CSRF token in `X-CSRF-Token`; the token
//! also lives in an HttpOnly cookie (double submit), compared in constant
//! time. A cross-site form can send the cookies but cannot read the token.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method};

use crate::secrets;

/// The session cookie over plain HTTP (localhost).
pub(crate) const SESSION_COOKIE: &str = "keygate_session";
/// The CSRF cookie over plain HTTP; its value is also written into each page.
pub(crate) const CSRF_COOKIE: &str = "keygate_csrf";
/// The session cookie under TLS: the `__Host-` prefix makes the browser
/// refuse it unless it is Secure, for this host only and for every path, so
/// a sibling subdomain or a plain-HTTP page cannot plant or shadow it.
pub(crate) const SECURE_SESSION_COOKIE: &str = "__Host-keygate_session";
/// The CSRF cookie under TLS.
pub(crate) const SECURE_CSRF_COOKIE: &str = "__Host-keygate_csrf";
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

/// Whether a method changes state (and so needs the CSRF token).
pub(crate) fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The cookies of one deployment: their names and attributes follow from
/// whether the service is reached over TLS (its origin is `https://`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cookies {
    /// Under TLS: `Secure` and the `__Host-` prefix.
    pub secure: bool,
}

impl Cookies {
    /// The cookies for a service at `origin`.
    pub(crate) fn for_origin(origin: &str) -> Self {
        Self { secure: origin.starts_with("https://") }
    }

    /// The session cookie's name.
    pub(crate) fn session_name(self) -> &'static str {
        if self.secure { SECURE_SESSION_COOKIE } else { SESSION_COOKIE }
    }

    /// The CSRF cookie's name.
    pub fn csrf_name(self) -> &'static str {
        if self.secure { SECURE_CSRF_COOKIE } else { CSRF_COOKIE }
    }

    fn attributes(self) -> &'static str {
        if self.secure {
            "; Path=/; HttpOnly; SameSite=Lax; Secure"
        } else {
            "; Path=/; HttpOnly; SameSite=Lax"
        }
    }

    /// The session token the browser sent, if any.
    pub fn session(self, headers: &HeaderMap) -> Option<&str> {
        get(headers, self.session_name())
    }

    /// True when the request carries the CSRF header and it matches the cookie.
    pub fn csrf_ok(self, headers: &HeaderMap) -> bool {
        let header = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        match (header, get(headers, self.csrf_name())) {
            (Some(sent), Some(expected)) => secrets::ct_eq(sent.as_bytes(), expected.as_bytes()),
            _ => false,
        }
    }

    /// Sets the session cookie; it lasts as long as the session.
    pub(crate) fn set_session(self, headers: &mut HeaderMap, token: &str, max_age: i64) {
        let cookie =
            format!("{}={token}; Max-Age={}{}", self.session_name(), max_age.max(0), self.attributes());
        append(headers, &cookie);
    }

    /// Removes the session cookie.
    pub(crate) fn clear_session(self, headers: &mut HeaderMap) {
        append(headers, &format!("{}=; Max-Age=0{}", self.session_name(), self.attributes()));
    }

    /// The page's CSRF token: the browser's existing one, or a new one to set.
    pub(crate) fn csrf_token(self, request: &HeaderMap) -> (String, bool) {
        match get(request, self.csrf_name()) {
            Some(token) => (token.to_owned(), false),
            None => (secrets::random_token(24), true),
        }
    }

    /// Sets the CSRF cookie (browser session lifetime).
    pub(crate) fn set_csrf(self, headers: &mut HeaderMap, token: &str) {
        append(headers, &format!("{}={token}{}", self.csrf_name(), self.attributes()));
    }
}

fn append(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
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
        let plain = Cookies { secure: false };
        assert!(plain.csrf_ok(&with("keygate_csrf=abc", Some("abc"))));
        assert!(!plain.csrf_ok(&with("keygate_csrf=abc", Some("abd"))));
        assert!(!plain.csrf_ok(&with("keygate_csrf=abc", None)));
        assert!(!plain.csrf_ok(&with("other=abc", Some("abc"))));
        assert!(!plain.csrf_ok(&with("keygate_csrf=", Some(""))));
    }

    #[test]
    fn under_tls_only_host_prefixed_secure_cookies_count() {
        let tls = Cookies::for_origin("https://login.example");
        assert!(tls.secure);
        assert!(!tls.csrf_ok(&with("keygate_csrf=abc", Some("abc"))), "an unprefixed cookie is ignored");
        assert!(tls.csrf_ok(&with("__Host-keygate_csrf=abc", Some("abc"))));
        assert_eq!(tls.session(&with("keygate_session=planted", None)), None);
        assert_eq!(tls.session(&with("__Host-keygate_session=tok", None)), Some("tok"));
        let mut headers = HeaderMap::new();
        tls.set_session(&mut headers, "tok", 60);
        tls.set_csrf(&mut headers, "c");
        let set: Vec<&str> = headers.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(set[0], "__Host-keygate_session=tok; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure");
        assert_eq!(set[1], "__Host-keygate_csrf=c; Path=/; HttpOnly; SameSite=Lax; Secure");
        assert!(!Cookies::for_origin("http://localhost:8080").secure);
    }
}
