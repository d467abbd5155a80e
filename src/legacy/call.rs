//! A legacy REST call, validated: which method, for which app, in which
//! format, with which `call_id` and session — everything that can be checked
//! without the database. The signature is checked once the caller has looked
//! up the secret it must be made with.

use super::call_id::CallId;
use super::error::{ErrorCode, LegacyError};
use super::params::Params;

/// The methods this service implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `auth.createToken`: a token for login.php.
    CreateToken,
    /// `auth.getSession`: exchange a completed token for a session.
    GetSession,
    /// `auth.expireSession`: end the calling session.
    ExpireSession,
    /// `auth.promoteSession`: a session secret for the calling session.
    PromoteSession,
    /// `auth.revokeAuthorization`: end all of the app's sessions for the user.
    RevokeAuthorization,
    /// `auth.revokeExtendedPermission`: withdraw one granted permission.
    RevokeExtendedPermission,
    /// `users.getLoggedInUser`: the uid of the session's user.
    GetLoggedInUser,
}

impl Method {
    const ALL: [Method; 7] = [
        Method::CreateToken,
        Method::GetSession,
        Method::ExpireSession,
        Method::PromoteSession,
        Method::RevokeAuthorization,
        Method::RevokeExtendedPermission,
        Method::GetLoggedInUser,
    ];

    /// Looks a method up by name, with or without the `facebook.` prefix;
    /// names are matched case-insensitively as the old servers did.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.strip_prefix("facebook.").unwrap_or(name);
        Self::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The canonical name, e.g. `auth.createToken`.
    pub fn name(self) -> &'static str {
        match self {
            Self::CreateToken => "auth.createToken",
            Self::GetSession => "auth.getSession",
            Self::ExpireSession => "auth.expireSession",
            Self::PromoteSession => "auth.promoteSession",
            Self::RevokeAuthorization => "auth.revokeAuthorization",
            Self::RevokeExtendedPermission => "auth.revokeExtendedPermission",
            Self::GetLoggedInUser => "users.getLoggedInUser",
        }
    }

    /// Whether the call acts on a session and so needs `session_key`.
    pub(crate) fn needs_session(self) -> bool {
        !matches!(self, Self::CreateToken | Self::GetSession)
    }
}

/// The response format a client asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// The default.
    #[default]
    Xml,
    /// `format=JSON` (any case).
    Json,
}

/// How to render the answer: known as soon as `format` and `callback` are
/// read, so even a refusal comes back in the shape the client asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendering {
    /// XML or JSON.
    pub format: Format,
    /// A JSONP callback (a JavaScript identifier path), if any.
    pub callback: Option<String>,
}

/// A call that passed every check that needs no database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// What to do.
    pub method: Method,
    /// The calling app's api_key.
    pub api_key: String,
    /// The session the call acts on, when the method needs one.
    pub session_key: Option<String>,
    /// `ss=1`: signed with the session secret instead of the app secret.
    pub signed_with_session_secret: bool,
    /// The call's sequence number, when sent.
    pub call_id: Option<CallId>,
    /// How to answer.
    pub rendering: Rendering,
    /// All parameters, for method arguments and the signature.
    pub params: Params,
}

/// A refused call with the rendering to refuse it in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Why.
    pub error: LegacyError,
    /// In which shape to answer.
    pub rendering: Rendering,
}

impl Call {
    /// Validates the parameters. `path_method` is the `{method}` of
    /// `/method/{method}`: the signature must cover it, so a captured call
    /// cannot be replayed as another method. A `method` parameter must then
    /// name the same method (the `facebook.` prefix aside); without one,
    /// `method=<path method>` is part of the signed string.
    pub fn parse(mut params: Params, path_method: Option<&str>) -> Result<Self, Refusal> {
        let rendering = Rendering::from_params(&params)?;
        let refuse = |error: LegacyError| Refusal { error, rendering: rendering.clone() };
        let name = match (path_method, params.raw("method")) {
            (Some(path), Some(param)) if param.is_empty() || Method::parse(path) != Method::parse(param) => {
                return Err(refuse(LegacyError::invalid("method differs from the path")));
            }
            (Some(path), Some(_)) => path.to_owned(),
            (Some(path), None) => {
                params.imply("method", path);
                path.to_owned()
            }
            (None, _) => match params.get("method") {
                Some(param) => param.to_owned(),
                None => return Err(refuse(LegacyError::invalid("method is required"))),
            },
        };
        let name = name.as_str();
        let method = Method::parse(name).ok_or_else(|| refuse(ErrorCode::UnknownMethod.into()))?;
        let api_key =
            params.get("api_key").ok_or_else(|| refuse(ErrorCode::InvalidApiKey.into()))?.to_owned();
        match params.get("v") {
            Some("1.0") => {}
            Some(_) => return Err(refuse(LegacyError::invalid("v must be 1.0"))),
            None => return Err(refuse(LegacyError::invalid("v is required"))),
        }
        if params.get("sig").is_none() {
            return Err(refuse(ErrorCode::IncorrectSignature.into()));
        }
        let call_id = match params.get("call_id") {
            Some(text) => Some(
                CallId::parse(text)
                    .ok_or_else(|| refuse(LegacyError::invalid("call_id must be a number")))?,
            ),
            None => None,
        };
        let signed_with_session_secret = match params.get("ss") {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => return Err(refuse(LegacyError::invalid("ss must be 0 or 1"))),
        };
        let session_key = params.get("session_key").map(str::to_owned);
        if method.needs_session() && session_key.is_none() {
            return Err(refuse(LegacyError::invalid("session_key is required")));
        }
        if signed_with_session_secret && session_key.is_none() {
            return Err(refuse(LegacyError::invalid("ss=1 needs a session_key")));
        }
        Ok(Self { method, api_key, session_key, signed_with_session_secret, call_id, rendering, params })
    }
}

impl Rendering {
    /// Reads `format` and `callback`; a bad value of either is error 100,
    /// rendered as plain XML or JSON (never as JSONP with a bad callback).
    pub(crate) fn from_params(params: &Params) -> Result<Self, Refusal> {
        let format = match params.get("format") {
            None => Format::Xml,
            Some(f) if f.eq_ignore_ascii_case("xml") => Format::Xml,
            Some(f) if f.eq_ignore_ascii_case("json") => Format::Json,
            Some(_) => {
                return Err(Refusal {
                    error: LegacyError::invalid("format must be XML or JSON"),
                    rendering: Rendering::default(),
                });
            }
        };
        let callback = match params.get("callback") {
            None => None,
            Some(cb) if is_js_identifier_path(cb) => Some(cb.to_owned()),
            Some(_) => {
                return Err(Refusal {
                    error: LegacyError::invalid(
                        "callback must be a JavaScript identifier such as cb or app.done",
                    ),
                    rendering: Rendering { format, callback: None },
                });
            }
        };
        Ok(Self { format, callback })
    }
}

/// `cb`, `app.done`, `$x._y1`: dot-separated ASCII identifiers, nothing that
/// could run as script.
fn is_js_identifier_path(text: &str) -> bool {
    text.len() <= 128
        && text.split('.').all(|part| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<Call, Refusal> {
        Call::parse(Params::from_request(query.as_bytes(), b"").expect("decodable"), None)
    }

    const BASE: &str = "api_key=k&v=1.0&sig=00";

    #[test]
    fn accepts_prefixed_and_plain_method_names() {
        let call = parse(&format!("method=facebook.auth.createToken&{BASE}")).expect("valid");
        assert_eq!(call.method, Method::CreateToken);
        assert_eq!(call.rendering, Rendering::default());
        assert_eq!(
            parse(&format!("method=auth.createtoken&{BASE}")).expect("valid").method,
            Method::CreateToken
        );
    }

    #[test]
    fn refusals_carry_their_code() {
        let code = |q: &str| parse(q).unwrap_err().error.code;
        assert_eq!(code(&format!("method=auth.nope&{BASE}")), ErrorCode::UnknownMethod);
        assert_eq!(code("method=auth.createToken&v=1.0&sig=00"), ErrorCode::InvalidApiKey);
        assert_eq!(code("method=auth.createToken&api_key=k&v=1.0"), ErrorCode::IncorrectSignature);
        assert_eq!(code("method=auth.createToken&api_key=k&v=2.0&sig=0"), ErrorCode::InvalidParameter);
        assert_eq!(code(&format!("method=auth.expireSession&{BASE}")), ErrorCode::InvalidParameter);
        assert_eq!(
            code(&format!("method=auth.expireSession&session_key=&{BASE}")),
            ErrorCode::InvalidParameter
        );
        assert_eq!(code(&format!("method=auth.createToken&call_id=12a&{BASE}")), ErrorCode::InvalidParameter);
        assert_eq!(code(&format!("method=auth.createToken&ss=1&{BASE}")), ErrorCode::InvalidParameter);
    }

    #[test]
    fn format_and_callback_shape_even_refusals() {
        let refusal = parse(&format!("method=auth.nope&format=json&callback=app.done&{BASE}")).unwrap_err();
        assert_eq!(refusal.rendering, Rendering { format: Format::Json, callback: Some("app.done".into()) });
        let refusal =
            parse(&format!("method=auth.createToken&format=JsOn&callback=alert(1)&{BASE}")).unwrap_err();
        assert_eq!(refusal.error.code, ErrorCode::InvalidParameter);
        assert_eq!(refusal.rendering, Rendering { format: Format::Json, callback: None });
        assert_eq!(
            parse(&format!("method=auth.createToken&format=yaml&{BASE}")).unwrap_err().rendering.format,
            Format::Xml
        );
    }

    #[test]
    fn only_identifier_paths_are_callbacks() {
        for good in ["cb", "app.done", "$", "_x.$y1", "jQuery123_456"] {
            assert!(is_js_identifier_path(good), "{good}");
        }
        for bad in ["", "a..b", ".a", "a.", "1a", "a b", "alert(1)", "a;b", "a[0]", "</script>", "é"] {
            assert!(!is_js_identifier_path(bad), "{bad}");
        }
    }

    #[test]
    fn the_path_method_is_signed() {
        let query = |q: &str| Params::from_request(q.as_bytes(), b"").expect("decodable");
        let call = Call::parse(query(&format!("session_key=s&{BASE}")), Some("users.getLoggedInUser"))
            .expect("valid");
        assert_eq!(call.params.signature_base(), "api_key=kmethod=users.getLoggedInUsersession_key=sv=1.0");
        // The same parameters sent to another path sign another string.
        let other =
            Call::parse(query(&format!("session_key=s&{BASE}")), Some("auth.promoteSession")).expect("valid");
        assert_ne!(call.params.signature_base(), other.params.signature_base());
        // An empty method parameter cannot stand in for the path's.
        let refusal =
            Call::parse(query(&format!("method=&session_key=s&{BASE}")), Some("auth.expireSession"))
                .unwrap_err();
        assert_eq!(refusal.error.code, ErrorCode::InvalidParameter);
    }

    #[test]
    fn path_method_must_agree_with_parameter() {
        let params =
            Params::from_request(format!("method=auth.getSession&{BASE}").as_bytes(), b"").expect("ok");
        assert_eq!(
            Call::parse(params.clone(), Some("auth.createToken")).unwrap_err().error.code,
            ErrorCode::InvalidParameter
        );
        assert_eq!(
            Call::parse(params, Some("facebook.auth.getSession")).expect("agree").method,
            Method::GetSession
        );
    }
}
