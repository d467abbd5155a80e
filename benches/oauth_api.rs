//! Graph endpoint throughput through the real router and a real SQLite
//! database: `/debug_token` (app token check: sealed secret opened and
//! compared; input token looked up with its user and app) and `/me` (token,
//! user), with `/healthz` as the floor in the same run.
//!
//! Run: `cargo bench --bench oauth_api`. Requests go through
//! `tower::ServiceExt::oneshot` one at a time: the cost of one call on one
//! core, without the socket.

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
use keygate::secrets::{ServerKey, random_token};
use keygate::store::Store;
use keygate::web::{AppState, app};
use tower::ServiceExt;

async fn get(router: &Router, uri: &str) -> usize {
    let mut request = Request::builder().uri(uri).body(Body::empty()).unwrap_or_default();
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
    let Ok(response) = router.clone().oneshot(request).await;
    assert!(response.status().is_success(), "{uri}: {}", response.status());
    response.into_body().collect().await.map(|b| b.to_bytes().len()).unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite:{}", dir.path().join("keygate.db").display());
    let (router, app_token, user_token) = rt.block_on(async {
        let store = Store::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
        let state = AppState::new(keygate::config::Config::default(), store.clone(), ServerKey::generate());
        let seeded = seed::app_and_user(&store, &state.server_key, unix_now()).await;
        let user_token = random_token(48);
        seeded.access_token(&store, &user_token, unix_now()).await;
        (app(state), format!("{}|{}", seeded.app.api_key, seeded.secret), user_token)
    });

    let mut group = c.benchmark_group("oauth_api");
    group.throughput(Throughput::Elements(1));
    group.bench_function("healthz", |b| b.iter(|| rt.block_on(get(&router, "/healthz"))));
    let me = format!("/v3.1/me?access_token={user_token}");
    group.bench_function("me", |b| b.iter(|| rt.block_on(get(&router, &me))));
    let debug = format!("/v3.1/debug_token?input_token={user_token}&access_token={app_token}");
    group.bench_function("debug_token", |b| b.iter(|| rt.block_on(get(&router, &debug))));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
