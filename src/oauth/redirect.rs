//! Where a sign-in may send the browser afterwards: only to a redirect URI
//! the app registered (OAuth, exact match) or to a host it registered
//! (login.php's `next`). Everything else — other hosts, look-alike prefixes,
//! `javascript:` and `data:` URLs, credentials in the authority — is refused.

use url::Url;

/// Why a URL was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RedirectError {
    /// Not an absolute URL.
    #[error("not an absolute URL: {0}")]
    NotAbsolute(String),
    /// A scheme other than http or https.
    #[error("scheme {0:?} is not allowed; use http or https")]
    Scheme(String),
    /// `user:pass@` in the authority, a classic way to disguise the host.
    #[error("credentials in a redirect URL are not allowed")]
    Credentials,
    /// A `#fragment`, which would swallow the parameters appended to it.
    #[error("a redirect URL cannot have a fragment")]
    Fragment,
    /// Not among the app's registered redirect URIs.
    #[error("redirect_uri is not registered for this app")]
    NotRegistered,
}

/// Checks a redirect URI an operator registers for an app.
pub(crate) fn validate_registered(uri: &str) -> Result<Url, RedirectError> {
    let url = Url::parse(uri).map_err(|_| RedirectError::NotAbsolute(uri.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(RedirectError::Scheme(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectError::Credentials);
    }
    if url.fragment().is_some() {
        return Err(RedirectError::Fragment);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(RedirectError::NotAbsolute(uri.to_owned()));
    }
    Ok(url)
}

/// The OAuth rule: `redirect_uri` must equal a registered URI character for
/// character (no prefix, case or normalisation games).
pub(crate) fn match_registered<'a>(
    requested: &str,
    registered: &'a [String],
) -> Result<&'a str, RedirectError> {
    registered
        .iter()
        .find(|r| r.as_str() == requested)
        .map(String::as_str)
        .ok_or(RedirectError::NotRegistered)
}

/// The login.php rule: `next` may go to any http(s) URL on a host (and port)
/// of one of the app's registered redirect URIs; `None` when it may not.
pub(crate) fn allowed_next(next: &str, registered: &[String]) -> Option<Url> {
    let url = validate_registered(next).ok()?;
    let same_place = |r: &String| {
        Url::parse(r).ok().is_some_and(|r| {
            r.host_str() == url.host_str() && r.port_or_known_default() == url.port_or_known_default()
        })
    };
    registered.iter().any(same_place).then_some(url)
}

/// Appends query parameters (`code`, `state`, `error`) to a redirect URI,
/// keeping the query it already has.
pub(crate) fn with_params(uri: &str, params: &[(&str, &str)]) -> Result<String, RedirectError> {
    let mut url = validate_registered(uri)?;
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in params {
            query.append_pair(key, value);
        }
    }
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> Vec<String> {
        vec!["https://app.example.com/callback".to_owned(), "http://127.0.0.1:9000/cb?x=1".to_owned()]
    }

    #[test]
    fn oauth_requires_the_exact_string() {
        let reg = registered();
        assert!(match_registered("https://app.example.com/callback", &reg).is_ok());
        for bad in [
            "https://app.example.com/callback/",
            "https://app.example.com/callback?x=1",
            "https://APP.example.com/callback",
            "https://app.example.com/callbackx",
            "https://app.example.com/callback#",
            "https://app.example.com.evil.com/callback",
            "https://app.example.com@evil.com/callback",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
        ] {
            assert_eq!(match_registered(bad, &reg), Err(RedirectError::NotRegistered), "{bad}");
        }
    }

    #[test]
    fn registration_refuses_dangerous_urls() {
        assert!(matches!(validate_registered("javascript:alert(1)"), Err(RedirectError::Scheme(_))));
        assert!(matches!(validate_registered("data:text/html,hi"), Err(RedirectError::Scheme(_))));
        assert_eq!(validate_registered("https://u:p@app.example.com/"), Err(RedirectError::Credentials));
        assert_eq!(validate_registered("https://app.example.com/#x"), Err(RedirectError::Fragment));
        assert!(matches!(validate_registered("/relative"), Err(RedirectError::NotAbsolute(_))));
        assert!(validate_registered("http://localhost:8080/cb").is_ok());
    }

    #[test]
    fn next_must_stay_on_a_registered_host() {
        let reg = registered();
        assert!(allowed_next("https://app.example.com/welcome?a=b", &reg).is_some());
        assert!(allowed_next("http://127.0.0.1:9000/anything", &reg).is_some());
        for bad in [
            "https://app.example.com.evil.com/",
            "https://evil.com/?https://app.example.com/",
            "https://app.example.com@evil.com/",
            "https:\\\\evil.com\\",
            "//evil.com/",
            "/local",
            "javascript:alert(document.cookie)",
            "data:text/html,x",
            "http://127.0.0.1:9001/other-port",
            "https://app.example.com:444/other-port",
        ] {
            assert!(allowed_next(bad, &reg).is_none(), "{bad}");
        }
    }

    #[test]
    fn params_are_appended_and_encoded() {
        let url = with_params("http://127.0.0.1:9000/cb?x=1", &[("code", "a b"), ("state", "s&t=1")])
            .expect("valid");
        assert_eq!(url, "http://127.0.0.1:9000/cb?x=1&code=a+b&state=s%26t%3D1");
    }
}
