//! Legacy REST API throughput through the real router and a real SQLite
//! database: a signed `users.getLoggedInUser` (app lookup, MD5 signature,
//! session lookup, call_id compare-and-set), `auth.createToken` (one token
//! insert) and, as the floor, `/healthz`.
//!
//! Run: `cargo bench --bench legacy_api`. Requests go through
//! `tower::ServiceExt::oneshot` one at a time, so the figures are the cost of
//! one call on one core, without the socket.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

#[allow(dead_code)] // each bench seeds only part of what it offers
#[path = "support/seed.rs"]
mod seed;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::BodyExt;
use keygate::clock::unix_now;
use keygate::legacy::Params;
use keygate::secrets::{ServerKey, random_hex};
use keygate::store::{SessionKind, Store};
use keygate::web::{AppState, app};
use tower::ServiceExt;

fn signed(params: &[(&str, String)], secret: &str) -> String {
    let form = |pairs: &[(&str, String)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
            .finish()
    };
    let unsigned = form(params);
    let sig =
        Params::from_request(unsigned.as_bytes(), b"").map(|p| p.expected_sig(secret)).unwrap_or_default();
    format!("{unsigned}&sig={sig}")
}

async fn send(router: &Router, uri: &str, body: String) -> usize {
    let method = if body.is_empty() { "GET" } else { "POST" };
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap_or_default();
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
    let Ok(response) = router.clone().oneshot(request).await;
    response.into_body().collect().await.map(|b| b.to_bytes().len()).unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite:{}", dir.path().join("keygate.db").display());
    let (router, api_key, secret, session_key) = rt.block_on(async {
        let store = Store::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
        let state = AppState::new(keygate::config::Config::default(), store.clone(), ServerKey::generate());
        let seeded = seed::app_and_user(&store, &state.server_key, unix_now()).await;
        let session_key = random_hex(16);
        seeded.session(&store, &session_key, SessionKind::Legacy, unix_now()).await;
        (app(state), seeded.app.api_key, seeded.secret, session_key)
    });

    let mut group = c.benchmark_group("legacy_api");
    group.throughput(Throughput::Elements(1));
    group.bench_function("healthz", |b| b.iter(|| rt.block_on(send(&router, "/healthz", String::new()))));
    let create = signed(
        &[("method", "auth.createToken".into()), ("api_key", api_key.clone()), ("v", "1.0".into())],
        &secret,
    );
    group.bench_function("auth.createToken", |b| {
        b.iter(|| rt.block_on(send(&router, "/restserver.php", create.clone())))
    });
    let mut call_id = 0u64;
    group.bench_function("users.getLoggedInUser signed, with call_id", |b| {
        b.iter(|| {
            call_id += 1;
            let body = signed(
                &[
                    ("method", "users.getLoggedInUser".into()),
                    ("api_key", api_key.clone()),
                    ("v", "1.0".into()),
                    ("session_key", session_key.clone()),
                    ("call_id", call_id.to_string()),
                ],
                &secret,
            );
            rt.block_on(send(&router, "/restserver.php", body))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
