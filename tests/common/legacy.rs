//! Helpers for the legacy REST API tests: a registered app, signed calls sent
//! through the real router, and answers parsed back (XML with quick-xml).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use http_body_util::BodyExt;
use keygate::clock::unix_now;
use keygate::legacy::Params;
use keygate::secrets::{ServerKey, TokenHash, context, random_hex};
use keygate::store::{App, NewApp, NewUser, Store, User};
use keygate::web::{AppState, app};
use quick_xml::Reader;
use quick_xml::events::Event;
use tower::ServiceExt;

/// A registered app and its secret in clear.
#[derive(Clone, Debug)]
pub struct TestApp {
    /// The stored row.
    pub app: App,
    /// The secret calls are signed with.
    pub secret: String,
}

/// Options of a test app.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// Desktop app.
    pub desktop: bool,
    /// Networks calls may come from; empty: any.
    pub allowed_ips: Vec<ipnet::IpNet>,
    /// Calls per minute.
    pub rate_limit: Option<u32>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
}

/// Registers an app the way `keygate app add` does.
pub async fn register(state: &AppState, name: &str, options: AppOptions) -> TestApp {
    let api_key = random_hex(16);
    let secret = random_hex(16);
    let sealed = state.server_key.seal(secret.as_bytes(), &context::app_secret(&api_key));
    let new = NewApp {
        name,
        api_key: &api_key,
        secret_sealed: &sealed,
        desktop: options.desktop,
        redirect_uris: &options.redirect_uris,
        allowed_ips: &options.allowed_ips,
        rate_limit_per_min: options.rate_limit,
    };
    TestApp { app: state.store.create_app(&new, unix_now()).await.unwrap(), secret }
}

/// A user to sign in.
pub async fn user(store: &Store, name: &str) -> User {
    let new = NewUser { name, display_name: None, password_hash: "$argon2id$unused" };
    store.create_user(&new, unix_now()).await.unwrap()
}

/// Completes the login of an auth_token for `user`: what login.php does
/// once the password and the security key are checked.
pub async fn complete_login(store: &Store, app: &TestApp, auth_token: &str, user: &User) {
    assert!(
        store.bind_auth_token(&TokenHash::of(auth_token), app.app.id, user.id, unix_now()).await.unwrap()
    );
}

/// A state on `store` with a fresh server key.
pub fn state(store: Store) -> AppState {
    AppState::new(keygate::config::Config::default(), store, ServerKey::generate())
}

/// One HTTP answer.
#[derive(Clone, Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Content-Type.
    pub content_type: String,
    /// Body.
    pub body: String,
}

impl Answer {
    /// The JSON body (or the JSONP argument) as a value.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `params` plus `sig` made with `secret`, in the given order.
pub fn signed(params: &[(&str, &str)], secret: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> =
        params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let query = form(&pairs);
    let sig = Params::from_request(query.as_bytes(), b"").unwrap().expected_sig(secret);
    pairs.push(("sig".to_owned(), sig));
    pairs
}

/// `params` plus `sig` for a call to `/method/{method}` that does not send
/// a `method` parameter: the path's method is part of the signed string.
pub fn signed_for_path(params: &[(&str, &str)], method: &str, secret: &str) -> Vec<(String, String)> {
    let mut with_method = params.to_vec();
    with_method.push(("method", method));
    let sig = signed(&with_method, secret).pop().expect("sig");
    let mut pairs: Vec<(String, String)> =
        params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    pairs.push(sig);
    pairs
}

/// Form-encodes pairs.
pub fn form(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// Sends a raw request with the client address `peer`.
pub async fn send_raw(
    state: &AppState,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    peer: &str,
) -> Answer {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    let mut request = builder.body(Body::from(body)).unwrap();
    request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Answer { status, content_type, body }
}

/// A signed POST to `/restserver.php` with every parameter in the form body.
pub async fn call(state: &AppState, params: &[(&str, &str)], secret: &str) -> Answer {
    let body = form(&signed(params, secret));
    send_raw(
        state,
        "POST",
        "/restserver.php",
        Some("application/x-www-form-urlencoded"),
        body.into_bytes(),
        "127.0.0.1:5000",
    )
    .await
}

/// A parsed XML element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Qualified name.
    pub name: String,
    /// Attributes as written (qualified names).
    pub attrs: Vec<(String, String)>,
    /// Child elements.
    pub children: Vec<Element>,
    /// Text content (unescaped).
    pub text: String,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> &Element {
        self.children.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no <{name}> in {self:?}"))
    }

    /// An attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Parses an XML document (declaration required) into its root element.
pub fn parse_xml(text: &str) -> Element {
    assert!(text.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#), "declaration: {text}");
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("bad XML ({e}): {text}")) {
            Event::Start(start) => stack.push(element(&start)),
            Event::Empty(start) => {
                let done = element(&start);
                stack.last_mut().expect("empty root").children.push(done);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.unescape().unwrap());
                }
            }
            Event::End(_) => {
                let done = stack.pop().unwrap();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return done,
                }
            }
            Event::Eof => panic!("unterminated XML: {text}"),
            _ => {}
        }
    }
}

fn element(start: &quick_xml::events::BytesStart<'_>) -> Element {
    Element {
        name: String::from_utf8(start.name().as_ref().to_vec()).unwrap(),
        attrs: start
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.unescape_value().unwrap().into_owned(),
                )
            })
            .collect(),
        ..Element::default()
    }
}

/// Checks the root of a legacy XML answer: its name and namespaces.
pub fn assert_facebook_root(root: &Element, name: &str) {
    assert_eq!(root.name, name);
    assert_eq!(root.attr("xmlns"), Some("http://api.facebook.com/1.0/"));
    assert_eq!(root.attr("xmlns:xsi"), Some("http://www.w3.org/2001/XMLSchema-instance"));
    assert_eq!(
        root.attr("xsi:schemaLocation"),
        Some("http://api.facebook.com/1.0/ http://api.facebook.com/1.0/facebook.xsd")
    );
}

/// An XML error answer's code, after checking its shape; `request_args`
/// must echo `expected_args` (key, value) pairs in order.
pub fn xml_error_code(answer: &Answer, expected_args: Option<&[(String, String)]>) -> u16 {
    assert_eq!(answer.status, 200, "{}", answer.body);
    let root = parse_xml(&answer.body);
    assert_facebook_root(&root, "error_response");
    let args = root.child("request_args");
    assert_eq!(args.attr("list"), Some("true"));
    if let Some(expected) = expected_args {
        let got: Vec<(String, String)> = args
            .children
            .iter()
            .map(|a| (a.child("key").text.clone(), a.child("value").text.clone()))
            .collect();
        assert_eq!(got, expected);
    }
    assert!(!root.child("error_msg").text.is_empty());
    root.child("error_code").text.parse().unwrap()
}

/// A JSON error answer's code, after checking its shape.
pub fn json_error_code(value: &serde_json::Value) -> u16 {
    assert!(value["error_msg"].is_string(), "{value}");
    assert!(value["request_args"].is_array(), "{value}");
    u16::try_from(value["error_code"].as_u64().unwrap_or_else(|| panic!("no error_code: {value}"))).unwrap()
}
