//! The page layer in-process: security headers on every page, the CSRF
//! token and its cookie, error pages for requests that cannot succeed
//! (never a redirect to an unregistered address), the dialog's cancel, and
//! escaping of names that reach the HTML.

use crate::common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use common::legacy::{AppOptions, register, state};
use http_body_util::BodyExt;
use keygate::store::Store;
use keygate::web::{AppState, app};
use tower::ServiceExt;

async fn get(state: &AppState, uri: &str, cookie: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut builder = Request::builder().uri(uri);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    let mut request = builder.body(Body::empty()).unwrap();
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

async fn fixture() -> (AppState, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&common::db::sqlite_url(&dir.path().join("k.db"))).await.unwrap();
    let state = state(store);
    let options =
        AppOptions { redirect_uris: vec!["https://app.example/cb".to_owned()], ..AppOptions::default() };
    let app = register(&state, "<script>alert(1)</script> & co", options).await;
    (state, app.app.api_key, dir)
}

#[tokio::test]
async fn pages_send_the_security_headers_and_a_csrf_token() {
    let (state, key, _dir) = fixture().await;
    let dialog = format!("/v3.1/dialog/oauth?client_id={key}&redirect_uri=https://app.example/cb&state=s");
    for uri in ["/sign-in", "/login.php/done", dialog.as_str(), "/login.php?api_key=x&auth_token=y"] {
        let (_, headers, _) = get(&state, uri, None).await;
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{uri}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{uri}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    }
    let (status, headers, body) = get(&state, "/sign-in", None).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("keygate_csrf=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax")
    );
    assert!(!cookie.contains("Secure"), "no Secure flag over plain http");
    let token = cookie.trim_start_matches("keygate_csrf=").split(';').next().unwrap();
    assert!(body.contains(&format!(r#"<meta name="csrf-token" content="{token}">"#)));
    assert!(!body.contains("<script>") || body.matches("<script").count() == 1, "only the page's own script");
    // The browser's token is kept, not replaced.
    let (_, headers, body) = get(&state, "/sign-in", Some(&format!("keygate_csrf={token}"))).await;
    assert!(headers.get("set-cookie").is_none());
    assert!(body.contains(token));
    // The account page needs a session.
    let (status, headers, _) = get(&state, "/account", Some("keygate_session=nothing")).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/sign-in"));
}

#[tokio::test]
async fn names_are_escaped_and_bad_requests_get_error_pages() {
    let (state, key, _dir) = fixture().await;
    let uri = format!("/dialog/oauth?client_id={key}&redirect_uri=https://app.example/cb&scope=email");
    let (status, _, body) = get(&state, &uri, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"), "{body}");
    assert!(!body.contains("<script>alert"));
    assert!(body.contains("will be allowed: email"));
    for bad in [
        "https://app.example/cb/",
        "https://app.example/cb?x=1",
        "https://evil.example/cb",
        "https://app.example.evil.example/cb",
        "https://app.example@evil.example/cb",
        "javascript:alert(1)",
        "data:text/html,hi",
    ] {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("client_id", key.as_str()), ("redirect_uri", bad), ("state", "s")])
            .finish();
        for path in ["/dialog/oauth", "/v25.0/dialog/oauth", "/dialog/oauth/cancel"] {
            let (status, headers, body) = get(&state, &format!("{path}?{query}"), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {bad}");
            assert!(headers.get("location").is_none() && body.contains("191"), "{path} {bad}");
        }
    }
    let (status, _, body) =
        get(&state, "/dialog/oauth?client_id=nope&redirect_uri=https://app.example/cb", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Unknown application"));
    let (status, _, _) = get(&state, "/v2.x/dialog/oauth", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Cancel goes back to the registered URI with access_denied and the state.
    let cancel =
        format!("/dialog/oauth/cancel?client_id={key}&redirect_uri=https://app.example/cb&state=a%26b");
    let (status, headers, _) = get(&state, &cancel, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = url::Url::parse(headers["location"].to_str().unwrap()).unwrap();
    let pairs: Vec<(String, String)> = to.query_pairs().into_owned().collect();
    assert!(to.as_str().starts_with("https://app.example/cb?"));
    assert!(pairs.contains(&("error".into(), "access_denied".into())));
    assert!(pairs.contains(&("state".into(), "a&b".into())));
    let (status, _, body) = get(&state, &format!("/login.php?api_key={key}&auth_token=0123"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("expired or was already used"));
}
