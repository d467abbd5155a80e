//! Which server the CLI may sign for. A browser takes the origin from the
//! page it shows, never from what the page says; `keygate key` does the same
//! with `--server`. A relaying (phishing) server at another origin forwards
//! the real server's answers, so the `origin` and `appId` it passes on name
//! the real server: they no longer match `--server`, and the key is never
//! asked to sign. A relay that rewrites them to its own name gets a
//! signature bound to its own origin and application, which the real server
//! refuses. Pure: strings in, a decision out.

use std::net::IpAddr;

use url::{Host, Url};

/// Why the CLI will not sign for a server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(super) enum OriginError {
    /// `--server` is not an http(s) URL with a host.
    #[error("--server {0:?} is not an http:// or https:// URL with a host")]
    BadServer(String),
    /// Plain HTTP to a host other than this machine: anyone on the path
    /// could read the password and the session.
    #[error("refusing plain http:// to {0}: use https://, or a loopback address (localhost, 127.0.0.1, ::1)")]
    PlainHttp(String),
    /// The server claims another origin than the one `--server` names.
    #[error(
        "refusing to sign: the server at {expected} says its origin is {claimed}; a relaying (phishing) \
         server answers with the real server's origin. Give --server the address of the keygate server itself"
    )]
    OriginMismatch {
        /// The origin derived from `--server`.
        expected: String,
        /// What the server sent.
        claimed: String,
    },
    /// The server's application (RP) id is not its host nor a registrable
    /// suffix of it.
    #[error(
        "refusing to sign: the server at {origin} asks for keys of {app_id:?}, which is neither its host \
         nor a registrable domain of it"
    )]
    ForeignAppId {
        /// The origin derived from `--server`.
        origin: String,
        /// What the server sent.
        app_id: String,
    },
}

/// The origin the CLI speaks to, derived from `--server` as a browser
/// derives a page's origin (scheme, host, port; default ports left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ServerOrigin {
    origin: String,
    host: String,
}

impl ServerOrigin {
    /// Parses `--server`; plain HTTP only to a loopback host.
    pub(super) fn from_server(server: &str) -> Result<Self, OriginError> {
        let bad = || OriginError::BadServer(server.to_owned());
        let url = Url::parse(server).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad());
        }
        let host = url.host().ok_or_else(bad)?;
        let loopback = match &host {
            Host::Domain(name) => {
                let name = name.trim_end_matches('.');
                name.eq_ignore_ascii_case("localhost") || name.to_ascii_lowercase().ends_with(".localhost")
            }
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => ip.is_loopback(),
        };
        let origin = url.origin().ascii_serialization();
        if url.scheme() == "http" && !loopback {
            return Err(OriginError::PlainHttp(origin));
        }
        let host = match host {
            Host::Domain(name) => name.trim_end_matches('.').to_ascii_lowercase(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => ip.to_string(),
        };
        Ok(Self { origin, host })
    }

    /// The origin the CLI puts in every clientData it has signed.
    pub(super) fn as_str(&self) -> &str {
        &self.origin
    }

    /// Checks what the server sent before the key is asked for anything:
    /// its `origin` must be this one, and its `appId` (RP ID) this host or a
    /// registrable suffix of it (`example.com` for `login.example.com`, never
    /// a public suffix such as `com` or `co.uk`).
    pub(super) fn check(&self, claimed_origin: &str, app_id: &str) -> Result<(), OriginError> {
        let claimed = Url::parse(claimed_origin)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| claimed_origin.to_owned());
        if claimed != self.origin {
            return Err(OriginError::OriginMismatch { expected: self.origin.clone(), claimed });
        }
        if !self.may_use_app_id(app_id) {
            return Err(OriginError::ForeignAppId { origin: self.origin.clone(), app_id: app_id.to_owned() });
        }
        Ok(())
    }

    /// Checks a WebAuthn RP ID the server asks the key to sign for (its
    /// creation or request options carry no origin: the clientDataJSON
    /// the CLI builds does): the same rule as [`ServerOrigin::check`]'s
    /// `appId`.
    pub(super) fn check_rp_id(&self, rp_id: &str) -> Result<(), OriginError> {
        if !self.may_use_app_id(rp_id) {
            return Err(OriginError::ForeignAppId { origin: self.origin.clone(), app_id: rp_id.to_owned() });
        }
        Ok(())
    }

    fn may_use_app_id(&self, app_id: &str) -> bool {
        let app_id = app_id.to_ascii_lowercase();
        if app_id == self.host {
            return true;
        }
        if self.host.parse::<IpAddr>().is_ok() || !self.host.ends_with(&format!(".{app_id}")) {
            return false;
        }
        // The suffix must be at least the host's registrable domain.
        match psl::domain_str(&self.host) {
            Some(registrable) => app_id == registrable || app_id.ends_with(&format!(".{registrable}")),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(server: &str) -> ServerOrigin {
        ServerOrigin::from_server(server).expect("valid server")
    }

    #[test]
    fn origins_are_derived_as_browsers_do() {
        assert_eq!(origin("http://localhost:8080").as_str(), "http://localhost:8080");
        assert_eq!(origin("http://LocalHost:8080/keygate/").as_str(), "http://localhost:8080");
        assert_eq!(origin("https://login.example.com:443").as_str(), "https://login.example.com");
        assert_eq!(origin("http://127.0.0.1").as_str(), "http://127.0.0.1");
        assert_eq!(origin("http://[::1]:9000").as_str(), "http://[::1]:9000");
        assert_eq!(origin("http://app.localhost:1").as_str(), "http://app.localhost:1");
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        for server in [
            "http://login.example.com",
            "http://10.0.0.1:8080",
            "http://[2001:db8::1]",
            "http://localhost.evil.com",
        ] {
            assert!(matches!(ServerOrigin::from_server(server), Err(OriginError::PlainHttp(_))), "{server}");
        }
        for server in ["ftp://localhost", "localhost:8080", "not a url", "file:///tmp/x"] {
            assert!(matches!(ServerOrigin::from_server(server), Err(OriginError::BadServer(_))), "{server}");
        }
    }

    #[test]
    fn a_relayed_origin_is_refused_naming_both() {
        let relay = origin("http://127.0.0.1:9999");
        let err = relay.check("http://localhost:8080", "localhost").unwrap_err();
        assert!(matches!(err, OriginError::OriginMismatch { .. }));
        let message = err.to_string();
        assert!(
            message.contains("http://127.0.0.1:9999") && message.contains("http://localhost:8080"),
            "{message}"
        );
        // A relay that rewrites the origin still asks for the real RP's keys.
        assert!(matches!(
            relay.check("http://127.0.0.1:9999", "localhost"),
            Err(OriginError::ForeignAppId { .. })
        ));
        assert!(origin("http://localhost:8080").check("http://localhost:8080/", "localhost").is_ok());
    }

    #[test]
    fn rp_ids_follow_the_app_id_rule() {
        let server = origin("https://login.example.co.uk");
        assert!(server.check_rp_id("example.co.uk").is_ok());
        assert!(server.check_rp_id("login.example.co.uk").is_ok());
        for bad in ["co.uk", "evil.example", "", "localhost"] {
            assert!(matches!(server.check_rp_id(bad), Err(OriginError::ForeignAppId { .. })), "{bad}");
        }
        assert!(origin("http://127.0.0.1:9999").check_rp_id("localhost").is_err());
    }

    #[test]
    fn app_ids_are_the_host_or_a_registrable_suffix() {
        let server = origin("https://login.corp.example.co.uk");
        for ok in ["login.corp.example.co.uk", "corp.example.co.uk", "example.co.uk", "EXAMPLE.co.uk"] {
            assert!(server.check("https://login.corp.example.co.uk", ok).is_ok(), "{ok}");
        }
        for bad in
            ["co.uk", "uk", "other.co.uk", "example.com", "xample.co.uk", "", "login.corp.example.co.uk.evil"]
        {
            assert!(server.check("https://login.corp.example.co.uk", bad).is_err(), "{bad}");
        }
        let ip = origin("http://127.0.0.1:8080");
        assert!(ip.check("http://127.0.0.1:8080", "127.0.0.1").is_ok());
        assert!(ip.check("http://127.0.0.1:8080", "0.0.1").is_err());
        assert!(origin("http://localhost:1").check("http://localhost:1", "localhost").is_ok());
    }

    proptest::proptest! {
        /// Whatever a server sends, the check never panics, and it passes
        /// only for this very origin and an app id that ends the host.
        #[test]
        fn any_answer_is_judged_without_panic(claimed in ".{0,40}", app_id in "[a-zA-Z0-9.:-]{0,30}") {
            let server = origin("https://login.example.com:8443");
            if server.check(&claimed, &app_id).is_ok() {
                let normalized = Url::parse(&claimed).unwrap().origin().ascii_serialization();
                proptest::prop_assert_eq!(normalized, "https://login.example.com:8443");
                proptest::prop_assert!("login.example.com".ends_with(&app_id.to_ascii_lowercase()));
            }
        }

        /// Any `--server` text parses or is refused, never panics; an
        /// accepted plain-HTTP server is on this machine.
        #[test]
        fn any_server_flag_is_judged_without_panic(server in "(https?|ftp)://[a-z0-9.:\\[\\]-]{0,30}(/.{0,10})?") {
            if let Ok(parsed) = ServerOrigin::from_server(&server)
                && parsed.as_str().starts_with("http://")
            {
                let url = Url::parse(parsed.as_str()).unwrap();
                let host = url.host_str().unwrap().trim_end_matches('.');
                proptest::prop_assert!(
                    host == "localhost" || host.ends_with(".localhost") || host.starts_with("127.") || host == "[::1]",
                    "{}", host
                );
            }
        }
    }
}
