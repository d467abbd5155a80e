//! The store against real databases: every case runs on SQLite and on
//! PostgreSQL (the server `scripts/test` starts), each on a fresh database.

use crate::common;

use std::collections::BTreeMap;

use keygate::secrets::{CodeMac, ServerKey, TokenHash};
use keygate::store::{
    AppSettings, AppTokenKind, AuditFilter, ChallengePurpose, CounterUpdate, KeyRemoval, NewApp, NewAppToken,
    NewAuditEntry, NewChallenge, NewCredential, NewSession, NewUser, Redemption, RevokeReason, Store,
    StoreError, TOKEN_KEEP_SECS, Transport, User,
};

crate::on_both_engines!(
    store:
    users_lifecycle,
    challenge_is_consumed_exactly_once_by_200_racers,
    oauth_code_is_consumed_exactly_once_by_200_racers,
    recovery_code_is_consumed_exactly_once_by_200_racers,
    single_use_refusals_are_clean,
    counter_cas_ends_at_the_highest_value,
    sessions_and_call_ids,
    rate_limit_counts_every_concurrent_hit,
    purge_removes_only_expired_rows,
    audit_log_newest_first_and_filtered,
    apps_secrets_and_permissions,
);

crate::on_both_engines!(tampered_values_fail_the_read_as_corrupt);

const NOW: i64 = 1_800_000_000;
const RACERS: usize = 200;

/// A recovery code's stored form under a fixed test key.
fn mac(user_id: i64, code: &str) -> CodeMac {
    ServerKey::from_bytes(&[9; 32]).recovery_code_mac(user_id, code)
}

async fn user(store: &Store, name: &str) -> User {
    store
        .create_user(&NewUser { name, display_name: None, password_hash: "$argon2id$fake" }, NOW)
        .await
        .unwrap()
}

async fn key(store: &Store, user_id: i64, handle: &[u8]) -> i64 {
    let new = NewCredential {
        user_id,
        rp_id: "localhost",
        key_handle: handle,
        public_key: &[4; 65],
        counter: 0,
        label: "yubikey",
        attestation_subject: Some("CN=Test"),
        transports: &[Transport::Usb],
        webauthn: None,
    };
    store.add_credential(&new, NOW).await.unwrap().id
}

/// A pending login `id` of `user_id`, valid for two minutes after NOW.
async fn login_challenge(store: &Store, id: &str, user_id: i64) {
    let new = NewChallenge {
        id,
        purpose: ChallengePurpose::Login,
        user_id,
        session_id: None,
        challenge: b"c",
        for_app: None,
        state: None,
        expires_at: NOW + 120,
    };
    store.create_challenge(&new, NOW).await.unwrap();
}

async fn app(store: &Store, name: &str) -> i64 {
    let new = NewApp {
        name,
        api_key: &format!("key-{name}"),
        secret_sealed: b"sealed",
        desktop: false,
        redirect_uris: &["https://app.example/cb".to_owned()],
        allowed_ips: &[],
        rate_limit_per_min: Some(60),
    };
    store.create_app(&new, NOW).await.unwrap().id
}

/// Runs `RACERS` copies of `f` at once and tallies the outcomes by name.
async fn race<F, Fut>(f: F) -> BTreeMap<String, usize>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
{
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let barrier = barrier.clone();
        let fut = f();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            fut.await
        }));
    }
    let mut tally = BTreeMap::new();
    for task in tasks {
        let outcome = match task.await.expect("racer panicked") {
            Ok(()) => "won".to_owned(),
            Err(StoreError::AlreadyUsed(_)) => "already used".to_owned(),
            Err(other) => format!("unexpected: {other}"),
        };
        *tally.entry(outcome).or_insert(0) += 1;
    }
    tally
}

fn exactly_one_winner(tally: &BTreeMap<String, usize>) {
    let expected = BTreeMap::from([("already used".to_owned(), RACERS - 1), ("won".to_owned(), 1)]);
    assert_eq!(tally, &expected);
}

async fn users_lifecycle(store: Store) {
    let alice = user(&store, "alice").await;
    assert!(matches!(
        store.create_user(&NewUser { name: "alice", display_name: None, password_hash: "x" }, NOW).await,
        Err(StoreError::Conflict("user"))
    ));
    assert_eq!(store.user_by_name("alice").await.unwrap().unwrap(), alice);
    assert_eq!(store.user_by_id(alice.id).await.unwrap().unwrap().name, "alice");
    assert!(store.user_by_name("nobody").await.unwrap().is_none());

    key(&store, alice.id, b"kh-1").await;
    key(&store, alice.id, b"kh-2").await;
    let app_id = app(&store, "shop").await;
    let token = TokenHash::of("session");
    let new = NewSession::new(&token, alice.id, keygate::store::SessionKind::Api, NOW + 3600);
    store.create_session(&new, NOW).await.unwrap();
    let access = TokenHash::of("access");
    let new_token = NewAppToken {
        kind: AppTokenKind::AccessToken,
        token_hash: &access,
        app_id,
        user_id: Some(alice.id),
        data: "{}",
        expires_at: Some(NOW + 7200),
        issued_from: None,
    };
    store.create_app_token(&new_token, NOW).await.unwrap();

    // A password change ends the session and the access token.
    assert_eq!(store.set_password(alice.id, "$argon2id$new", NOW + 10).await.unwrap(), 2);
    let changed = store.user_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!((changed.password_hash.as_str(), changed.password_changed_at), ("$argon2id$new", NOW + 10));
    assert!(store.session_and_user(&token, NOW + 11).await.unwrap().is_none());
    assert!(store.app_token(AppTokenKind::AccessToken, &access, NOW + 11).await.unwrap().is_none());
    // The revoked token is kept with its reason, so OAuth can answer subcode 460.
    let revoked = store.find_app_token(AppTokenKind::AccessToken, &access).await.unwrap().unwrap();
    assert_eq!(
        (revoked.revoked_at, revoked.revoked_reason),
        (Some(NOW + 10), Some(RevokeReason::PasswordChanged))
    );

    let list = store.list_users().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].key_count, list[0].disabled_at), (2, None));

    store.create_session(&new, NOW + 20).await.unwrap();
    assert_eq!(store.disable_user(alice.id, NOW + 30).await.unwrap(), 1);
    assert_eq!(store.disable_user(alice.id, NOW + 40).await.unwrap(), 0);
    assert_eq!(store.user_by_id(alice.id).await.unwrap().unwrap().disabled_at, Some(NOW + 30));
    assert!(store.enable_user(alice.id).await.unwrap());
    assert!(!store.user_by_id(alice.id).await.unwrap().unwrap().is_disabled());
    assert!(!store.enable_user(alice.id).await.unwrap(), "an active user is not enabled twice");
    assert!(matches!(store.enable_user(9999).await, Err(StoreError::NotFound("user"))));

    store.replace_recovery_codes(alice.id, &[mac(alice.id, "a"), mac(alice.id, "b")], NOW).await.unwrap();
    assert_eq!(store.reset_keys(alice.id).await.unwrap(), (2, 2));
    assert_eq!(store.credential_count(alice.id).await.unwrap(), 0);
    assert!(matches!(store.set_password(9999, "x", NOW).await, Err(StoreError::NotFound("user"))));
}

async fn challenge_is_consumed_exactly_once_by_200_racers(store: Store) {
    let alice = user(&store, "alice").await;
    let new = NewChallenge {
        id: "login-1",
        purpose: ChallengePurpose::Login,
        user_id: alice.id,
        session_id: None,
        challenge: b"0123456789abcdef0123456789abcdef",
        for_app: None,
        state: Some(r#"{"webauthn":"state"}"#),
        expires_at: NOW + 120,
    };
    store.create_challenge(&new, NOW).await.unwrap();
    let tally = race(|| {
        let store = store.clone();
        async move { store.consume_challenge("login-1", NOW + 1).await.map(|c| assert_eq!(c.user_id, 1)) }
    })
    .await;
    exactly_one_winner(&tally);
}

async fn oauth_code_is_consumed_exactly_once_by_200_racers(store: Store) {
    let alice = user(&store, "alice").await;
    let app_id = app(&store, "shop").await;
    let code = TokenHash::of("the-code");
    let new = NewAppToken {
        kind: AppTokenKind::OauthCode,
        token_hash: &code,
        app_id,
        user_id: Some(alice.id),
        data: r#"{"redirect_uri":"https://app.example/cb"}"#,
        expires_at: Some(NOW + 600),
        issued_from: None,
    };
    store.create_app_token(&new, NOW).await.unwrap();
    let tally = race(|| {
        let store = store.clone();
        async move { store.consume_app_token(AppTokenKind::OauthCode, &code, NOW + 5).await.map(drop) }
    })
    .await;
    exactly_one_winner(&tally);
}

/// 200 logins race to redeem one code: it is burned once, and only the
/// winner's login is consumed (the others stay pending for another try).
async fn recovery_code_is_consumed_exactly_once_by_200_racers(store: Store) {
    let alice = user(&store, "alice").await;
    let codes = [mac(alice.id, "aaaa-bbbb-cccc"), mac(alice.id, "dddd-eeee-ffff")];
    store.replace_recovery_codes(alice.id, &codes, NOW).await.unwrap();
    let legacy = TokenHash::of("aaaa-bbbb-cccc");
    for i in 0..RACERS {
        login_challenge(&store, &format!("login-{i}"), alice.id).await;
    }
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tally = race(|| {
        let store = store.clone();
        let id = format!("login-{}", next.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        async move {
            match store.redeem_recovery_code(&id, alice.id, &codes[0], &legacy, NOW).await? {
                Redemption::Redeemed => Ok(()),
                Redemption::UsedCode => Err(StoreError::AlreadyUsed("recovery code")),
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
    exactly_one_winner(&tally);
    assert_eq!(store.recovery_codes_left(alice.id).await.unwrap(), 1);
    let mut consumed = 0;
    for i in 0..RACERS {
        consumed +=
            usize::from(store.challenge(&format!("login-{i}")).await.unwrap().unwrap().used_at.is_some());
    }
    assert_eq!(consumed, 1, "losers' logins stay pending");
    let wrong = store.redeem_recovery_code("login-0", alice.id, &mac(alice.id, "wrong"), &legacy, NOW).await;
    assert!(matches!(wrong.unwrap(), Redemption::WrongCode | Redemption::LoginUsed));
}

async fn single_use_refusals_are_clean(store: Store) {
    let alice = user(&store, "alice").await;
    let new = NewChallenge {
        id: "short",
        purpose: ChallengePurpose::Register,
        user_id: alice.id,
        session_id: Some(7),
        challenge: b"c",
        for_app: Some(r#"{"oauth":{}}"#),
        state: None,
        expires_at: NOW + 120,
    };
    store.create_challenge(&new, NOW).await.unwrap();
    assert_eq!(store.reserve_attempt("short", 2, NOW).await.unwrap(), 1);
    assert_eq!(store.reserve_attempt("short", 2, NOW).await.unwrap(), 2);
    assert!(matches!(store.reserve_attempt("short", 2, NOW).await, Err(StoreError::Exhausted(_))));
    assert!(matches!(store.reserve_attempt("short", 9, NOW + 120).await, Err(StoreError::Expired(_))));
    assert!(matches!(store.consume_challenge("short", NOW + 120).await, Err(StoreError::Expired(_))));
    assert!(matches!(store.consume_challenge("nope", NOW).await, Err(StoreError::NotFound(_))));
    let got = store.consume_challenge("short", NOW + 119).await.unwrap();
    assert_eq!((got.purpose, got.session_id, got.attempts), (ChallengePurpose::Register, Some(7), 2));

    // An auth_token is not consumable until login.php binds it to a user.
    let app_id = app(&store, "desk").await;
    let token = TokenHash::of("0123456789abcdef0123456789abcdef");
    let new_token = NewAppToken {
        kind: AppTokenKind::AuthToken,
        token_hash: &token,
        app_id,
        user_id: None,
        data: "{}",
        expires_at: Some(NOW + 600),
        issued_from: None,
    };
    store.create_app_token(&new_token, NOW).await.unwrap();
    assert!(matches!(
        store.consume_app_token(AppTokenKind::AuthToken, &token, NOW).await,
        Err(StoreError::Pending(_))
    ));
    assert!(!store.bind_auth_token(&token, app_id + 1, alice.id, NOW).await.unwrap(), "other app");
    assert!(store.bind_auth_token(&token, app_id, alice.id, NOW).await.unwrap());
    assert!(!store.bind_auth_token(&token, app_id, alice.id, NOW).await.unwrap(), "bound once");
    let got = store.consume_app_token(AppTokenKind::AuthToken, &token, NOW + 1).await.unwrap();
    assert_eq!(got.user_id, Some(alice.id));
    assert!(matches!(
        store.consume_app_token(AppTokenKind::AuthToken, &token, NOW + 2).await,
        Err(StoreError::AlreadyUsed(_))
    ));
}

async fn counter_cas_ends_at_the_highest_value(store: Store) {
    let alice = user(&store, "alice").await;
    let id = key(&store, alice.id, b"kh").await;
    // Both zero is allowed (keys without a counter).
    assert_eq!(store.update_counter(id, 0, NOW).await.unwrap(), CounterUpdate::Advanced);

    let mut values: Vec<u32> = (1..=RACERS as u32).collect();
    // A fixed shuffle: high values arrive before low ones.
    values.reverse();
    values.swap(0, 100);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(values.len()));
    let tasks: Vec<_> = values
        .into_iter()
        .map(|v| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.update_counter(id, v, NOW + 1).await
            })
        })
        .collect();
    for task in tasks {
        let outcome = task.await.unwrap().expect("no database error under concurrency");
        assert!(matches!(outcome, CounterUpdate::Advanced | CounterUpdate::Regressed { .. }));
    }
    let stored = store.credential(alice.id, id).await.unwrap().unwrap();
    assert_eq!((stored.counter, stored.last_used_at), (RACERS as i64, Some(NOW + 1)));

    assert_eq!(
        store.update_counter(id, 150, NOW + 2).await.unwrap(),
        CounterUpdate::Regressed { stored: 200 }
    );
    assert_eq!(
        store.update_counter(id, 200, NOW + 2).await.unwrap(),
        CounterUpdate::Regressed { stored: 200 }
    );
    store.mark_possible_clone(id).await.unwrap();
    assert_eq!(
        store.update_counter(id, 500, NOW + 3).await.unwrap(),
        CounterUpdate::Regressed { stored: 200 }
    );
    assert!(store.credential(alice.id, id).await.unwrap().unwrap().possible_clone);

    // Cleared by an administrator: accepted again above the stored counter.
    let bob = user(&store, "bob").await;
    assert!(matches!(store.clear_possible_clone(bob.id, id).await, Err(StoreError::NotFound(_))));
    assert!(store.clear_possible_clone(alice.id, id).await.unwrap());
    assert!(!store.clear_possible_clone(alice.id, id).await.unwrap(), "not flagged any more");
    assert!(matches!(store.clear_possible_clone(alice.id, id + 99).await, Err(StoreError::NotFound(_))));
    assert_eq!(
        store.update_counter(id, 200, NOW + 4).await.unwrap(),
        CounterUpdate::Regressed { stored: 200 }
    );
    assert_eq!(store.update_counter(id, 201, NOW + 4).await.unwrap(), CounterUpdate::Advanced);
    store.mark_possible_clone(id).await.unwrap();

    // Keys: lookup by handle, rename, duplicates, removal.
    assert_eq!(store.credential_by_handle("localhost", b"kh").await.unwrap().unwrap().id, id);
    assert!(store.credential_by_handle("example.org", b"kh").await.unwrap().is_none());
    let dup = NewCredential {
        user_id: alice.id,
        rp_id: "localhost",
        key_handle: b"kh",
        public_key: &[4; 65],
        counter: 0,
        label: "again",
        attestation_subject: None,
        transports: &[],
        webauthn: None,
    };
    assert!(matches!(store.add_credential(&dup, NOW).await, Err(StoreError::Conflict(_))));
    store.rename_credential(alice.id, id, "work key").await.unwrap();
    assert_eq!(store.credentials_for_user(alice.id).await.unwrap()[0].label, "work key");
    assert!(matches!(store.remove_credential(alice.id + 1, id, true).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.remove_credential(alice.id, id, false).await.unwrap(), KeyRemoval::LastKey);
    assert!(
        matches!(store.remove_credential(alice.id, id, true).await.unwrap(), KeyRemoval::Removed(k) if k.id == id)
    );
    assert!(matches!(store.update_counter(id, 1, NOW).await, Err(StoreError::NotFound(_))));
}

async fn sessions_and_call_ids(store: Store) {
    let alice = user(&store, "alice").await;
    let app_id = app(&store, "desk").await;
    let token = TokenHash::of("sk");
    let new = NewSession {
        app_id: Some(app_id),
        secret_sealed: Some(b"sealed secret"),
        user_agent: Some("minifb"),
        ..NewSession::new(&token, alice.id, keygate::store::SessionKind::Legacy, NOW + 86400)
    };
    let session = store.create_session(&new, NOW).await.unwrap();
    let (seen, _) = store.session_and_user(&token, NOW + 5).await.unwrap().unwrap();
    assert_eq!(
        (seen.id, seen.last_seen_at, seen.secret_sealed.as_deref()),
        (session.id, NOW, Some(&b"sealed secret"[..])),
        "a check within a minute of the last use reads without writing"
    );
    let resolution = keygate::store::SEEN_RESOLUTION_SECS;
    let later = NOW + resolution;
    assert_eq!(store.session_and_user(&token, later).await.unwrap().unwrap().0.last_seen_at, later);
    let (again, user) = store.session_and_user(&token, later + 5).await.unwrap().unwrap();
    assert_eq!((again.last_seen_at, user.id, user.name.as_str()), (later, alice.id, "alice"));

    // The joined reads of the hot paths: a session with its user's keys
    // (none, then two in order), a legacy session with its app.
    let (_, _, none) = store.session_user_and_keys(&token, later).await.unwrap().unwrap();
    assert!(none.is_empty());
    let first = key(&store, alice.id, b"handle-1").await;
    let second = key(&store, alice.id, b"handle-2").await;
    let (s, u, keys) = store.session_user_and_keys(&token, later).await.unwrap().unwrap();
    assert_eq!((s.id, u.id), (session.id, alice.id));
    assert_eq!(keys.iter().map(|k| k.id).collect::<Vec<_>>(), vec![first, second]);
    assert!(store.session_user_and_keys(&token, NOW + 86400).await.unwrap().is_none(), "expired");
    let (found_app, found) = store.app_and_session("key-desk", &token, later).await.unwrap().unwrap();
    assert_eq!((found_app.id, found.map(|s| s.id)), (app_id, Some(session.id)));
    let (_, none) = store.app_and_session("key-desk", &TokenHash::of("other"), later).await.unwrap().unwrap();
    assert!(none.is_none());
    assert!(store.app_and_session("no such app", &token, later).await.unwrap().is_none());
    assert!(store.session_and_user(&token, NOW + 86400).await.unwrap().is_none(), "expired");

    let advance = |text: &'static str| {
        let (store, id) = (store.clone(), session.id);
        async move {
            let call_id = keygate::legacy::CallId::parse(text).unwrap();
            store.advance_call_id(id, &call_id.to_string(), |last| call_id.follows(last)).await.unwrap()
        }
    };
    assert!(advance("1732384512.1453").await);
    assert!(!advance("1732384512.1453").await, "replay");
    assert!(!advance("10").await);
    // A float would round these two to the same value.
    assert!(advance("1732384512.14530000000000001").await);
    assert!(advance("1732384513").await);

    store.set_session_secret(session.id, b"new").await.unwrap();
    assert_eq!(store.sessions_for_user(alice.id, NOW).await.unwrap().len(), 1);
    assert_eq!(store.delete_app_sessions(alice.id, app_id).await.unwrap(), 1);
    assert!(!store.delete_session_by_token(&token).await.unwrap());
}

async fn rate_limit_counts_every_concurrent_hit(store: Store) {
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.rate_limit_hit("pw:user:alice", 60, NOW).await })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap().expect("no database error").hits);
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<u32>>(), "each hit sees its own count");
    let hit = store.rate_limit_hit("pw:user:alice", 60, NOW).await.unwrap();
    assert!(hit.exceeds(50));
    assert_eq!(hit.window_ends, NOW - NOW.rem_euclid(60) + 60);
    // The next window starts from one; a reset clears the bucket.
    assert_eq!(store.rate_limit_hit("pw:user:alice", 60, NOW + 60).await.unwrap().hits, 1);
    store.rate_limit_reset("pw:user:alice").await.unwrap();
    assert_eq!(store.rate_limit_hit("pw:user:alice", 60, NOW + 61).await.unwrap().hits, 1);
}

async fn purge_removes_only_expired_rows(store: Store) {
    let alice = user(&store, "alice").await;
    for (id, expires) in [("old", NOW - 1), ("live", NOW + 60)] {
        let new = NewChallenge {
            id,
            purpose: ChallengePurpose::Login,
            user_id: alice.id,
            session_id: None,
            challenge: b"c",
            for_app: None,
            state: None,
            expires_at: expires,
        };
        store.create_challenge(&new, NOW - 100).await.unwrap();
    }
    for (token, expires) in [("old", NOW - 1), ("live", NOW + 60)] {
        let hash = TokenHash::of(token);
        let new = NewSession::new(&hash, alice.id, keygate::store::SessionKind::Api, expires);
        store.create_session(&new, NOW - 100).await.unwrap();
    }
    store.rate_limit_hit("ip:192.0.2.1", 60, NOW - 2 * 86400).await.unwrap();
    // Tokens stay a while after expiry so checks can still say "expired".
    let app_id = app(&store, "shop").await;
    for (token, expires) in [("long gone", NOW - TOKEN_KEEP_SECS - 1), ("just expired", NOW - 1)] {
        let hash = TokenHash::of(token);
        let new = NewAppToken {
            kind: AppTokenKind::AccessToken,
            token_hash: &hash,
            app_id,
            user_id: Some(alice.id),
            data: "{}",
            expires_at: Some(expires),
            issued_from: None,
        };
        store.create_app_token(&new, NOW - TOKEN_KEEP_SECS - 100).await.unwrap();
    }
    let report = store.purge_expired(NOW).await.unwrap();
    assert_eq!((report.challenges, report.sessions, report.app_tokens, report.rate_limits), (1, 1, 1, 1));
    let kept = store.find_app_token(AppTokenKind::AccessToken, &TokenHash::of("just expired")).await.unwrap();
    assert!(kept.is_some());
    assert!(store.challenge("live").await.unwrap().is_some());
    assert!(store.challenge("old").await.unwrap().is_none());
    assert_eq!(store.purge_expired(NOW).await.unwrap(), Default::default());
}

async fn audit_log_newest_first_and_filtered(store: Store) {
    for (at, name, event) in [
        (NOW, "alice", "login.ok"),
        (NOW + 10, "bob", "login.bad_password"),
        (NOW + 20, "alice", "key.enrolled"),
    ] {
        let entry = NewAuditEntry {
            user_id: None,
            user_name: Some(name),
            event,
            detail: "",
            source: Some("192.0.2.1"),
        };
        store.audit(&entry, at).await.unwrap();
    }
    let events =
        |entries: Vec<keygate::store::AuditEntry>| entries.into_iter().map(|e| e.event).collect::<Vec<_>>();
    let all = store.audit_entries(&AuditFilter::default()).await.unwrap();
    assert_eq!(events(all), ["key.enrolled", "login.bad_password", "login.ok"]);
    let alice =
        store.audit_entries(&AuditFilter { user_name: Some("alice"), ..Default::default() }).await.unwrap();
    assert_eq!(events(alice), ["key.enrolled", "login.ok"]);
    let recent = store
        .audit_entries(&AuditFilter { since: Some(NOW + 10), limit: Some(1), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(events(recent), ["key.enrolled"]);
}

async fn apps_secrets_and_permissions(store: Store) {
    let alice = user(&store, "alice").await;
    let app_id = app(&store, "shop").await;
    let new = NewApp {
        name: "shop",
        api_key: "other",
        secret_sealed: b"s",
        desktop: true,
        redirect_uris: &[],
        allowed_ips: &[],
        rate_limit_per_min: None,
    };
    assert!(matches!(store.create_app(&new, NOW).await, Err(StoreError::Conflict("application"))));
    let found = store.app_by_api_key("key-shop").await.unwrap().unwrap();
    assert_eq!((found.id, found.rate_limit_per_min), (app_id, Some(60)));

    let app_token = TokenHash::of("app|tok");
    let new_token = NewAppToken {
        kind: AppTokenKind::AppToken,
        token_hash: &app_token,
        app_id,
        user_id: None,
        data: "{}",
        expires_at: None,
        issued_from: None,
    };
    store.create_app_token(&new_token, NOW).await.unwrap();
    assert!(store.app_token(AppTokenKind::AppToken, &app_token, NOW + 999_999).await.unwrap().is_some());
    store.rotate_app_secret(app_id, b"new sealed", NOW + 1).await.unwrap();
    assert!(store.app_token(AppTokenKind::AppToken, &app_token, NOW + 2).await.unwrap().is_none());
    assert_eq!(store.app_by_name("shop").await.unwrap().unwrap().secret_sealed, b"new sealed");

    // Settings change in place; name, key and secret stay.
    let uris = ["https://shop.example/cb".to_owned()];
    let nets = ["10.0.0.0/8".parse().unwrap()];
    let settings =
        AppSettings { desktop: true, redirect_uris: &uris, allowed_ips: &nets, rate_limit_per_min: None };
    let updated = store.update_app(app_id, &settings).await.unwrap();
    assert_eq!(
        (
            updated.desktop,
            updated.redirect_uris.as_slice(),
            updated.allowed_ips.as_slice(),
            updated.rate_limit_per_min
        ),
        (true, &uris[..], &nets[..], None)
    );
    assert_eq!(store.app_by_api_key("key-shop").await.unwrap().unwrap(), updated);
    assert_eq!((updated.name.as_str(), updated.secret_sealed.as_slice()), ("shop", &b"new sealed"[..]));
    assert!(matches!(store.update_app(app_id + 99, &settings).await, Err(StoreError::NotFound(_))));

    // Revoking the app's tokens for a user (DELETE /me/permissions).
    let access = TokenHash::of("alice-access");
    let new_access = NewAppToken {
        kind: AppTokenKind::AccessToken,
        token_hash: &access,
        app_id,
        user_id: Some(alice.id),
        data: r#"{"scopes":["email"]}"#,
        expires_at: Some(NOW + 7200),
        issued_from: None,
    };
    store.create_app_token(&new_access, NOW).await.unwrap();
    let live = store.live_app_tokens_for_user(alice.id, NOW).await.unwrap();
    assert_eq!(live.iter().map(|t| t.kind).collect::<Vec<_>>(), [AppTokenKind::AccessToken]);
    assert!(store.live_app_tokens_for_user(alice.id, NOW + 7200).await.unwrap().is_empty(), "expired");
    assert_eq!(
        store.revoke_app_tokens(alice.id, Some(app_id + 1), RevokeReason::Revoked, NOW).await.unwrap(),
        0
    );
    assert_eq!(store.revoke_app_tokens(alice.id, Some(app_id), RevokeReason::Revoked, NOW).await.unwrap(), 1);
    assert!(store.app_token(AppTokenKind::AccessToken, &access, NOW).await.unwrap().is_none());
    assert!(store.live_app_tokens_for_user(alice.id, NOW).await.unwrap().is_empty(), "revoked");
    assert_eq!(store.revoke_app_tokens(alice.id, None, RevokeReason::Revoked, NOW).await.unwrap(), 0);

    store.grant_permissions(alice.id, app_id, &["email", "public_profile"], NOW).await.unwrap();
    store.grant_permissions(alice.id, app_id, &["email"], NOW).await.unwrap();
    assert_eq!(store.permissions(alice.id, app_id).await.unwrap(), ["email", "public_profile"]);
    assert!(store.revoke_permission(alice.id, app_id, "email").await.unwrap());
    assert!(!store.revoke_permission(alice.id, app_id, "email").await.unwrap());
    assert_eq!(store.list_apps().await.unwrap().len(), 1);
    store.remove_app(app_id).await.unwrap();
    assert!(store.permissions(alice.id, app_id).await.unwrap().is_empty());
    assert!(matches!(store.remove_app(app_id).await, Err(StoreError::NotFound(_))));
}

/// Two keygate instances on one SQLite file (two pools, as two processes
/// would have): the challenge still goes to exactly one racer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_sqlite_file_share_single_use() {
    let (first, dir) = common::db::sqlite().await;
    let second = Store::open(&common::db::sqlite_url(&dir.path().join("keygate.db"))).await.unwrap();
    let alice = user(&first, "alice").await;
    login_challenge(&first, "shared", alice.id).await;
    let turn = std::sync::atomic::AtomicUsize::new(0);
    let tally = race(|| {
        let store = if turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(2) {
            first.clone()
        } else {
            second.clone()
        };
        async move { store.consume_challenge("shared", NOW).await.map(drop) }
    })
    .await;
    exactly_one_winner(&tally);
}

/// A hand-edited row holding a value keygate never writes fails its read as
/// corrupt: never a session of some other power, never an application whose
/// unreadable network list lets every address in.
async fn tampered_values_fail_the_read_as_corrupt(db: crate::common::db::TestDb) {
    let store = &db.store;
    let alice = user(store, "alice").await;
    let token = TokenHash::of("session");
    let new = NewSession::new(&token, alice.id, keygate::store::SessionKind::Enroll, NOW + 3600);
    store.create_session(&new, NOW).await.unwrap();
    db.execute("UPDATE sessions SET kind = 'admin'").await;
    let read = store.session_and_user(&token, NOW + 1).await;
    assert!(matches!(read, Err(StoreError::Corrupt { .. })), "{read:?}");

    app(store, "shop").await;
    db.execute("UPDATE apps SET allowed_ips = '10.0.0.0/8'").await;
    let read = store.app_by_api_key("key-shop").await;
    assert!(matches!(read, Err(StoreError::Corrupt { .. })), "{read:?}");

    let id = key(store, alice.id, b"kh").await;
    db.execute("UPDATE credentials SET transports = 'usb,carrier-pigeon'").await;
    let read = store.credential(alice.id, id).await;
    assert!(matches!(read, Err(StoreError::Corrupt { .. })), "{read:?}");
}
