//! A small client of the JSON API: one method per call the CLI makes, and
//! refusals turned into the one-line messages people read.

use serde_json::Value;

use super::KeyServerArgs;
use super::origin::ServerOrigin;
use crate::cli::CliError;

/// The server and, once logged in, the session.
pub(super) struct ApiClient {
    http: reqwest::Client,
    base: String,
    /// The origin `--server` names: the only one the CLI signs for.
    pub origin: ServerOrigin,
    /// The account (for messages).
    pub user: String,
}

/// A refusal of the API: its code and message.
#[derive(Debug)]
pub(super) struct Refusal {
    /// The `error.code` of the answer.
    pub code: String,
    /// The `error.message` of the answer.
    pub message: String,
}

impl ApiClient {
    /// A client of `--server` (e.g. `http://localhost:8080`) trusting the
    /// system's CAs and those of `--ca-file`; refuses plain HTTP to anything
    /// but this machine before any request.
    pub(super) fn new(args: &KeyServerArgs) -> Result<Self, CliError> {
        let base = args.server.as_str();
        let origin = ServerOrigin::from_server(base).map_err(|e| CliError::other(e.to_string()))?;
        let mut builder = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            // A redirect to another origin would be a relay the origin check never saw.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = &args.ca_file {
            builder = builder.tls_certs_merge(ca_file(path)?);
        }
        let http =
            builder.build().map_err(|e| CliError::other(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned(), origin, user: args.user.clone() })
    }

    /// Refuses an answer whose `origin` or `appId` is missing or not the
    /// server's own (see [`ServerOrigin::check`]).
    pub(super) fn check_origin(&self, answer: &Value) -> Result<(), CliError> {
        let claimed = |name: &str| {
            answer[name].as_str().ok_or_else(|| CliError::other(format!("the server's answer lacks {name}")))
        };
        self.origin.check(claimed("origin")?, claimed("appId")?).map_err(|e| CliError::other(e.to_string()))
    }

    /// Sends one request; `Ok(Err(refusal))` is an API error answer.
    pub(super) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Result<Value, Refusal>, CliError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            if let Some(reason) = certificate_refused(&e) {
                CliError::other(format!(
                    "the certificate of {} is not trusted ({reason}): if it comes from a private \
                     CA, pass that CA's certificate with --ca-file",
                    self.base
                ))
            } else if e.is_connect() || e.is_timeout() {
                CliError::other(format!("cannot reach the keygate server at {}: is it running?", self.base))
            } else {
                CliError::other(format!("request to {} failed: {e}", self.base))
            }
        })?;
        let status = response.status();
        let bytes =
            response.bytes().await.map_err(|e| CliError::other(format!("reading the answer failed: {e}")))?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                CliError::other(format!(
                    "{} answered {status} with something that is not keygate's JSON",
                    self.base
                ))
            })?
        };
        if status.is_success() {
            return Ok(Ok(value));
        }
        let code = value["error"]["code"].as_str().unwrap_or("unknown").to_owned();
        let message = value["error"]["message"].as_str().unwrap_or("no message").to_owned();
        Ok(Err(Refusal { code, message }))
    }

    /// Like [`ApiClient::send`], with refusals turned into messages.
    pub(super) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        self.send(method, path, bearer, body).await?.map_err(|r| self.explain(&r))
    }

    /// The one-line message for a refusal.
    pub(super) fn explain(&self, refusal: &Refusal) -> CliError {
        let user = &self.user;
        CliError::other(match refusal.code.as_str() {
            "bad_credentials" => format!("wrong user name or password for {user}"),
            "unknown_key" => format!("this key is not registered for {user}"),
            "possible_clone" => format!(
                "clone alarm: the key's signature counter went backwards, so it may have been copied; \
                 the server has blocked it for {user} — contact your administrator"
            ),
            "rate_limited" => "too many attempts; wait a few minutes and try again".to_owned(),
            "account_disabled" => format!("the account {user} is disabled"),
            "unauthorized" => "the session is not valid (expired or logged out); log in again".to_owned(),
            "enroll_only" => format!("{user} has no key yet: enroll one first with `keygate key enroll`"),
            "reauth_required" => format!(
                "this needs a touch of a key registered for {user} from the last 5 minutes; \
                 log in again with `keygate key login`"
            ),
            "challenge_expired" => "the login took too long; try again".to_owned(),
            "unavailable" => "the keygate server cannot reach its database; try again later".to_owned(),
            _ => format!("the server refused: {} ({})", refusal.message, refusal.code),
        })
    }
}

/// The certificates of a `--ca-file`: at least one, or an error naming the file.
fn ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, CliError> {
    let unusable = |reason: String| CliError::other(format!("--ca-file {}: {reason}", path.display()));
    let pem = std::fs::read(path).map_err(|e| unusable(e.to_string()))?;
    let roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| unusable(e.to_string()))?;
    if roots.is_empty() {
        return Err(unusable("no PEM CERTIFICATE block in it".to_owned()));
    }
    Ok(roots)
}

/// Why the server's certificate was refused, when that is why `e` happened:
/// the rustls verdict somewhere down the error's sources.
fn certificate_refused(e: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        // An io::Error's source() skips the error it wraps (hyper wraps
        // rustls's error in two of them): look inside each layer too.
        let mut layer = Some(err);
        while let Some(candidate) = layer {
            if let Some(rustls::Error::InvalidCertificate(reason)) = candidate.downcast_ref::<rustls::Error>()
            {
                return Some(describe(reason));
            }
            layer = candidate
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|inner| inner as _);
        }
        source = err.source();
    }
    None
}

/// A certificate problem in words.
fn describe(reason: &rustls::CertificateError) -> String {
    use rustls::CertificateError::*;
    match reason {
        UnknownIssuer => "signed by an unknown CA".to_owned(),
        Expired | ExpiredContext { .. } => "expired".to_owned(),
        NotValidYet | NotValidYetContext { .. } => "not valid yet".to_owned(),
        NotValidForName | NotValidForNameContext { .. } => "issued for another name".to_owned(),
        Revoked => "revoked".to_owned(),
        // webpki's own reasons arrive as text; this one is a self-signed
        // certificate, the usual first try at a private deployment.
        Other(other) if other.to_string().contains("CaUsedAsEndEntity") => {
            "a CA's certificate used as the server's own: self-signed?".to_owned()
        }
        Other(other) => other.to_string(),
        other => format!("{other:?}"),
    }
}
