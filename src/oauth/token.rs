//! Token formats of the Graph API that need parsing rather than a lookup.

/// `{app-id}|{secret-or-token}`: an app access token, or an app's id and
/// secret used directly where an app token is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AppCredentials<'a> {
    /// The app id (api_key).
    pub app_id: &'a str,
    /// The part after the bar: an issued app token or the app secret.
    pub secret: &'a str,
}

impl<'a> AppCredentials<'a> {
    /// Splits an app token at its single `|`; `None` for user tokens.
    pub(crate) fn parse(token: &'a str) -> Option<Self> {
        let (app_id, secret) = token.split_once('|')?;
        (!app_id.is_empty() && !secret.is_empty() && !secret.contains('|')).then_some(Self { app_id, secret })
    }
}

/// Whether a path segment is a Graph API version such as `v2.8` or `v25.0`,
/// which every Graph path may start with.
pub(crate) fn is_api_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else { return false };
    let Some((major, minor)) = rest.split_once('.') else { return false };
    let number = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    number(major) && number(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_tokens_split_at_the_bar() {
        assert_eq!(
            AppCredentials::parse("1234|5678"),
            Some(AppCredentials { app_id: "1234", secret: "5678" })
        );
        for not_app in ["EAAB123", "|x", "x|", "a|b|c", ""] {
            assert_eq!(AppCredentials::parse(not_app), None, "{not_app}");
        }
    }

    #[test]
    fn versions() {
        for v in ["v2.8", "v3.1", "v25.0"] {
            assert!(is_api_version(v), "{v}");
        }
        for not in ["2.8", "v2", "v.8", "v2.", "vx.y", "v2.8.1", "oauth", "v1234.0"] {
            assert!(!is_api_version(not), "{not}");
        }
    }
}
