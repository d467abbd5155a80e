//! Revocation is immediate on every instance. Two `keygate serve` processes
//! share one database (SQLite file or PostgreSQL); a bearer is used on B
//! until it is known good, ended through A (or the admin CLI, or the clock),
//! and the very next request on B must refuse it: API sessions (logout,
//! revoked by id, password change, disabled user, expiry), Graph access
//! tokens (`DELETE /me/permissions`, password change, disabled user, expiry,
//! and `debug_token`'s verdict) and legacy `session_key`s
//! (`auth.expireSession`, password change, disabled user). Validations are
//! reads with no cache, and these tests keep it so.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::db::TestDb as Db;
use common::legacy::{AppOptions, TestApp, form, register, signed};
use common::{Server, free_addr, keygate_ok};
use keygate::clock::unix_now;
use keygate::config::Config;
use keygate::secrets::{ServerKey, TokenHash, hash_password, random_hex, random_token};
use keygate::store::{AppTokenKind, NewAppToken, NewSession, NewUser, SessionKind, Store};
use keygate::web::AppState;
use reqwest::StatusCode;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";

crate::on_both_engines!(
    ended_api_sessions_are_refused_at_once_on_the_other_instance,
    revoked_graph_tokens_are_refused_at_once_on_the_other_instance,
    expired_legacy_sessions_are_refused_at_once_on_the_other_instance,
    a_password_change_on_one_instance_ends_every_bearer_on_the_other,
    disabling_a_user_ends_every_bearer_on_both_instances,
);

/// Two instances on one database, sharing the server key, and what it holds.
struct Cluster {
    db: Db,
    a: Server,
    b: Server,
    api_key: String,
    secret: String,
    app_id: i64,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(db: Db) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("keygate.key");
        let key = ServerKey::load(None, &key_file).unwrap();
        // Registered as `keygate app add` does, sealed under the instances' key.
        let state = AppState::new(Config::default(), db.store.clone(), key);
        let TestApp { app, secret } = register(&state, "news", AppOptions::default()).await;
        let (api_key, app_id) = (app.api_key, app.id);
        let a = instance(dir.path(), &db.url, &key_file);
        let b = instance(dir.path(), &db.url, &key_file);
        Self { db, a, b, api_key, secret, app_id, http: reqwest::Client::new(), _dir: dir }
    }

    fn store(&self) -> &Store {
        &self.db.store
    }

    /// A user with the test password; their id.
    async fn user(&self, name: &str) -> i64 {
        let hash = hash_password(PASSWORD.to_owned()).await.unwrap();
        let new = NewUser { name, display_name: None, password_hash: &hash };
        self.store().create_user(&new, unix_now()).await.unwrap().id
    }

    /// A new API session of the user (as a login with a key makes), expiring at `expires_at`.
    async fn api_session(&self, user_id: i64, expires_at: i64) -> String {
        let token = random_token(32);
        self.session(&token, user_id, SessionKind::Api, None, expires_at).await;
        token
    }

    /// A new legacy session of the user with the app; its session_key.
    async fn legacy_session(&self, user_id: i64) -> String {
        let key = random_hex(16);
        self.session(&key, user_id, SessionKind::Legacy, Some(self.app_id), unix_now() + 3600).await;
        key
    }

    async fn session(
        &self,
        token: &str,
        user_id: i64,
        kind: SessionKind,
        app_id: Option<i64>,
        expires_at: i64,
    ) {
        let now = unix_now();
        let hash = TokenHash::of(token);
        let new = NewSession {
            app_id,
            verified_at: Some(now),
            ..NewSession::new(&hash, user_id, kind, expires_at)
        };
        self.store().create_session(&new, now).await.unwrap();
    }

    /// A new Graph access token of the user for the app, expiring at `expires_at`.
    async fn access_token(&self, user_id: i64, expires_at: i64) -> String {
        let token = random_token(48);
        let new = NewAppToken {
            kind: AppTokenKind::AccessToken,
            token_hash: &TokenHash::of(&token),
            app_id: self.app_id,
            user_id: Some(user_id),
            data: r#"{"scope":["public_profile"]}"#,
            expires_at: Some(expires_at),
            issued_from: None,
        };
        self.store().create_app_token(&new, unix_now()).await.unwrap();
        token
    }

    /// `GET /api/v1/keys` with a Bearer session: the status.
    async fn keys(&self, server: &Server, session: &str) -> StatusCode {
        let url = format!("{}/api/v1/keys", server.url());
        self.http.get(url).bearer_auth(session).send().await.unwrap().status()
    }

    /// `GET /me`: the status and the Graph error (code, subcode), if any.
    async fn me(&self, server: &Server, token: &str) -> (StatusCode, Option<(i64, i64)>) {
        let url = format!("{}/v19.0/me?access_token={token}", server.url());
        let answer = self.http.get(url).send().await.unwrap();
        let status = answer.status();
        let body: Value = answer.json().await.unwrap();
        let error = body.get("error").map(|e| {
            (e["code"].as_i64().unwrap_or(-1), e.get("error_subcode").and_then(Value::as_i64).unwrap_or(0))
        });
        (status, error)
    }

    /// `debug_token`'s `is_valid` for a user token, asked as the app.
    async fn debug_valid(&self, server: &Server, token: &str) -> bool {
        let url = format!(
            "{}/debug_token?input_token={token}&access_token={}|{}",
            server.url(),
            self.api_key,
            self.secret
        );
        let body: Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
        body["data"]["is_valid"].as_bool().unwrap_or_else(|| panic!("debug_token answered {body}"))
    }

    /// A legacy call with a session_key, signed with the app secret: the answer.
    async fn legacy(&self, server: &Server, method: &str, session_key: &str) -> Value {
        let pairs = signed(
            &[
                ("method", method),
                ("api_key", &self.api_key),
                ("v", "1.0"),
                ("format", "JSON"),
                ("session_key", session_key),
            ],
            &self.secret,
        );
        let answer = self
            .http
            .post(format!("{}/restserver.php", server.url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&pairs))
            .send()
            .await
            .unwrap();
        answer.json().await.unwrap()
    }

    /// `users.getLoggedInUser`: the uid, or the error code.
    async fn logged_in_user(&self, server: &Server, session_key: &str) -> Result<i64, i64> {
        let body = self.legacy(server, "users.getLoggedInUser", session_key).await;
        match body.as_i64() {
            Some(uid) => Ok(uid),
            None => Err(body["error_code"].as_i64().unwrap_or_else(|| panic!("legacy answer {body}"))),
        }
    }

    /// `auth.expireSession`: whether it answered true.
    async fn expire_legacy(&self, server: &Server, session_key: &str) -> bool {
        self.legacy(server, "auth.expireSession", session_key).await == Value::Bool(true)
    }

    /// Uses every bearer on both instances a few times, so that anything an
    /// instance might remember about them is warm before they end.
    async fn warm(&self, sessions: &[&str], tokens: &[&str], legacy: &[&str], uid: i64) {
        for _ in 0..3 {
            for server in [&self.a, &self.b] {
                for s in sessions {
                    assert_eq!(self.keys(server, s).await, StatusCode::OK);
                }
                for t in tokens {
                    assert_eq!(self.me(server, t).await, (StatusCode::OK, None));
                    assert!(self.debug_valid(server, t).await);
                }
                for l in legacy {
                    assert_eq!(self.logged_in_user(server, l).await, Ok(uid));
                }
            }
        }
    }
}

fn instance(dir: &Path, url: &str, key_file: &PathBuf) -> Server {
    let addr = free_addr();
    // Starting waits with a blocking client: off the async workers.
    tokio::task::block_in_place(|| {
        Server::start(dir, addr, |cmd| {
            cmd.args(["--database", url, "--listen", &addr.to_string()]).arg("--key-file").arg(key_file);
        })
    })
}

async fn ended_api_sessions_are_refused_at_once_on_the_other_instance(db: Db) {
    let c = Cluster::start(db).await;
    let alice = c.user("alice").await;
    let far = unix_now() + 3600;
    let (logout, by_id, keeper) =
        (c.api_session(alice, far).await, c.api_session(alice, far).await, c.api_session(alice, far).await);
    c.warm(&[&logout, &by_id, &keeper], &[], &[], alice).await;

    let ended =
        c.http.post(format!("{}/api/v1/logout", c.a.url())).bearer_auth(&logout).send().await.unwrap();
    assert!(ended.status().is_success(), "logout on A: {}", ended.status());
    assert_eq!(c.keys(&c.b, &logout).await, StatusCode::UNAUTHORIZED, "B still takes a logged-out session");

    let id = c.store().session_and_user(&TokenHash::of(&by_id), unix_now()).await.unwrap().unwrap().0.id;
    let revoked = c
        .http
        .delete(format!("{}/api/v1/sessions/{id}", c.a.url()))
        .bearer_auth(&keeper)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "revoke on A: {}", revoked.status());
    assert_eq!(c.keys(&c.b, &by_id).await, StatusCode::UNAUTHORIZED, "B still takes a revoked session");
    assert_eq!(c.keys(&c.b, &keeper).await, StatusCode::OK, "the other session is untouched");

    // Expiry: valid on B up to its last second, refused the request after.
    let soon = unix_now() + 2;
    let short = c.api_session(alice, soon).await;
    assert_eq!(c.keys(&c.b, &short).await, StatusCode::OK);
    wait_past(soon).await;
    assert_eq!(c.keys(&c.b, &short).await, StatusCode::UNAUTHORIZED, "B still takes an expired session");
    assert_eq!(c.keys(&c.a, &short).await, StatusCode::UNAUTHORIZED);
}

async fn revoked_graph_tokens_are_refused_at_once_on_the_other_instance(db: Db) {
    let c = Cluster::start(db).await;
    let alice = c.user("alice").await;
    let token = c.access_token(alice, unix_now() + 3600).await;
    c.warm(&[], &[&token], &[], alice).await;

    let revoked =
        c.http.delete(format!("{}/me/permissions?access_token={token}", c.a.url())).send().await.unwrap();
    assert!(revoked.status().is_success(), "DELETE /me/permissions on A: {}", revoked.status());
    assert_eq!(c.me(&c.b, &token).await.1.map(|e| e.0), Some(190), "B still takes a revoked token");
    assert!(!c.debug_valid(&c.b, &token).await, "debug_token on B calls a revoked token valid");

    let soon = unix_now() + 2;
    let short = c.access_token(alice, soon).await;
    assert_eq!(c.me(&c.b, &short).await, (StatusCode::OK, None));
    wait_past(soon).await;
    assert_eq!(c.me(&c.b, &short).await.1, Some((190, 463)), "B still takes an expired token");
    assert!(!c.debug_valid(&c.b, &short).await);
}

async fn expired_legacy_sessions_are_refused_at_once_on_the_other_instance(db: Db) {
    let c = Cluster::start(db).await;
    let alice = c.user("alice").await;
    let key = c.legacy_session(alice).await;
    c.warm(&[], &[], &[&key], alice).await;
    assert!(c.expire_legacy(&c.a, &key).await, "auth.expireSession on A");
    assert_eq!(c.logged_in_user(&c.b, &key).await, Err(102), "B still takes an expired session_key");
}

async fn a_password_change_on_one_instance_ends_every_bearer_on_the_other(db: Db) {
    let c = Cluster::start(db).await;
    let alice = c.user("alice").await;
    let session = c.api_session(alice, unix_now() + 3600).await;
    let other = c.api_session(alice, unix_now() + 3600).await;
    let token = c.access_token(alice, unix_now() + 3600).await;
    let key = c.legacy_session(alice).await;
    c.warm(&[&session, &other], &[&token], &[&key], alice).await;

    let changed = c
        .http
        .post(format!("{}/api/v1/password", c.a.url()))
        .bearer_auth(&session)
        .json(&serde_json::json!({ "old": PASSWORD, "new": "a new and long passphrase" }))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "password change on A: {}", changed.status());
    assert_eq!(c.keys(&c.b, &other).await, StatusCode::UNAUTHORIZED, "B still takes an older session");
    assert_eq!(c.keys(&c.b, &session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(c.me(&c.b, &token).await.1, Some((190, 460)), "B still takes a token from before the change");
    assert!(!c.debug_valid(&c.b, &token).await);
    assert_eq!(c.logged_in_user(&c.b, &key).await, Err(102), "B still takes an older session_key");
}

async fn disabling_a_user_ends_every_bearer_on_both_instances(db: Db) {
    let c = Cluster::start(db).await;
    let alice = c.user("alice").await;
    let bob = c.user("bob").await;
    let session = c.api_session(alice, unix_now() + 3600).await;
    let token = c.access_token(alice, unix_now() + 3600).await;
    let key = c.legacy_session(alice).await;
    let bobs = c.api_session(bob, unix_now() + 3600).await;
    c.warm(&[&session, &bobs], &[&token], &[&key], alice).await;

    tokio::task::block_in_place(|| keygate_ok(&["user", "disable", "alice", "--database", &c.db.url], ""));
    for server in [&c.a, &c.b] {
        assert_eq!(c.keys(server, &session).await, StatusCode::UNAUTHORIZED, "a disabled user's session");
        assert_eq!(c.me(server, &token).await.1.map(|e| e.0), Some(190), "a disabled user's token");
        assert!(!c.debug_valid(server, &token).await);
        assert_eq!(c.logged_in_user(server, &key).await, Err(102), "a disabled user's session_key");
        assert_eq!(c.keys(server, &bobs).await, StatusCode::OK, "another user is untouched");
    }
}

/// Sleeps until the clock has passed `at` (unix seconds).
async fn wait_past(at: i64) {
    while unix_now() <= at {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
