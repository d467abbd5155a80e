//! The checks applications make on every request (a session, an access
//! token, an app), which on SQLite read inline beside the writer: raced
//! against the writes that end what they check, against a write left
//! uncommitted, and after the store closed, on both engines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::db::TestDb;
use keygate::secrets::TokenHash;
use keygate::store::{
    AppTokenKind, NewApp, NewAppToken, NewSession, NewUser, RevokeReason, SessionKind, Store, StoreError,
};

crate::on_both_engines!(
    checks_racing_a_revocation_never_see_it_undone,
    an_uncommitted_revocation_neither_holds_up_nor_ends_a_check,
    a_closed_store_refuses_checks,
);

const NOW: i64 = 1_800_000_000;
const READERS: usize = 8;

/// A user with an API session, and an app with a legacy session and an
/// access token of that user: every kind of bearer the hot reads check.
struct Bearers {
    user_id: i64,
    app_id: i64,
    session: TokenHash,
    legacy: TokenHash,
    access: TokenHash,
}

async fn seed(store: &Store) -> Bearers {
    let new = NewUser { name: "alice", display_name: None, password_hash: "$argon2id$fake" };
    let user_id = store.create_user(&new, NOW).await.unwrap().id;
    let app = NewApp {
        name: "news",
        api_key: "key-news",
        secret_sealed: &[1; 44],
        desktop: false,
        redirect_uris: &[],
        allowed_ips: &[],
        rate_limit_per_min: None,
    };
    let app_id = store.create_app(&app, NOW).await.unwrap().id;
    let (session, legacy, access) =
        (TokenHash::of("api session"), TokenHash::of("legacy session"), TokenHash::of("access token"));
    store
        .create_session(&NewSession::new(&session, user_id, SessionKind::Api, NOW + 3600), NOW)
        .await
        .unwrap();
    let legacy_session = NewSession {
        app_id: Some(app_id),
        ..NewSession::new(&legacy, user_id, SessionKind::Legacy, NOW + 3600)
    };
    store.create_session(&legacy_session, NOW).await.unwrap();
    let token = NewAppToken {
        kind: AppTokenKind::AccessToken,
        token_hash: &access,
        app_id,
        user_id: Some(user_id),
        data: "{}",
        expires_at: Some(NOW + 3600),
        issued_from: None,
    };
    store.create_app_token(&token, NOW).await.unwrap();
    Bearers { user_id, app_id, session, legacy, access }
}

/// Whether each bearer is still accepted, as the checks judge them.
async fn accepted(store: &Store, b: &Bearers) -> Result<[bool; 3], StoreError> {
    let session = store.session_and_user(&b.session, NOW + 1).await?.is_some();
    let legacy = matches!(store.app_and_session("key-news", &b.legacy, NOW + 1).await?, Some((_, Some(_))));
    let access = match store.find_app_token(AppTokenKind::AccessToken, &b.access).await? {
        Some(token) => token.revoked_at.is_none(),
        None => false,
    };
    Ok([session, legacy, access])
}

/// Readers check the three bearers in a loop while the main task ends
/// them; no check that started after the revocations returned may accept
/// one, whichever connection it ran on.
async fn checks_racing_a_revocation_never_see_it_undone(db: TestDb) {
    let store = db.store.clone();
    let bearers = Arc::new(seed(&store).await);
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (store, bearers, stop) = (store.clone(), bearers.clone(), stop.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    seen.push((started, accepted(&store, &bearers).await.unwrap()));
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(store.delete_session_by_token(&bearers.session).await.unwrap());
    assert_eq!(store.delete_app_sessions(bearers.user_id, bearers.app_id).await.unwrap(), 1);
    let revoked = store
        .revoke_app_tokens(bearers.user_id, Some(bearers.app_id), RevokeReason::Revoked, NOW)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut before, mut after) = (0, 0);
    for reader in readers {
        for (started, verdict) in reader.await.unwrap() {
            if started > ended {
                after += 1;
                assert_eq!(verdict, [false; 3], "a check that began after the revocations accepted a bearer");
            } else if verdict == [true; 3] {
                before += 1;
            }
        }
    }
    assert!(before > 0, "no check ran while the bearers were good");
    assert!(after > 0, "no check ran after the revocations");
}

/// Another connection ends the session inside a transaction it has not
/// committed: checks neither wait for it (a wait would end as
/// `Unavailable` after the acquire timeout) nor see it; once it commits,
/// the next check refuses.
async fn an_uncommitted_revocation_neither_holds_up_nor_ends_a_check(db: TestDb) {
    let store = db.store.clone();
    let bearers = seed(&store).await;
    let pool = db.pool().await;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("DELETE FROM sessions").execute(&mut *tx).await.unwrap();
    for _ in 0..3 {
        assert_eq!(accepted(&store, &bearers).await.unwrap(), [true; 3]);
    }
    tx.commit().await.unwrap();
    assert_eq!(accepted(&store, &bearers).await.unwrap(), [false, false, true]);
    pool.close().await;
}

/// After `close`, a check fails as the database being unavailable (503),
/// never as "no such token" (401) and never by reopening the file.
async fn a_closed_store_refuses_checks(db: TestDb) {
    let store = db.store.clone();
    let bearers = seed(&store).await;
    assert_eq!(accepted(&store, &bearers).await.unwrap(), [true; 3]);
    store.close().await;
    let refused = store.session_and_user(&bearers.session, NOW + 1).await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_))), "{refused:?}");
    let refused = store.app_by_api_key("key-news").await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_))), "{refused:?}");
}
