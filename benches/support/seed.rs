//! What the API benches put in the database before they measure: one app
//! with a secret they know, one user, and the sessions and tokens they
//! present. Included by each bench with `#[path]`, as benches share no crate.

use keygate::secrets::{ServerKey, TokenHash, context, random_hex};
use keygate::store::{App, AppTokenKind, NewApp, NewAppToken, NewSession, NewUser, SessionKind, Store, User};

/// The app and user every bench signs requests for.
pub struct Seeded {
    /// The app, as stored.
    pub app: App,
    /// Its secret in the clear, for signatures and app access tokens.
    pub secret: String,
    /// The user its sessions and tokens speak for.
    pub user: User,
}

/// Registers an app sealed under `key` (the key the measured server uses)
/// and a user.
pub async fn app_and_user(store: &Store, key: &ServerKey, now: i64) -> Seeded {
    let (api_key, secret) = (random_hex(16), random_hex(16));
    let sealed = key.seal(secret.as_bytes(), &context::app_secret(&api_key));
    let app = NewApp {
        name: "bench",
        api_key: &api_key,
        secret_sealed: &sealed,
        desktop: false,
        redirect_uris: &[],
        allowed_ips: &[],
        rate_limit_per_min: None,
    };
    let app = store.create_app(&app, now).await.unwrap_or_else(|e| panic!("app: {e}"));
    let user = NewUser { name: "alice", display_name: None, password_hash: "$argon2id$unused" };
    let user = store.create_user(&user, now).await.unwrap_or_else(|e| panic!("user: {e}"));
    Seeded { app, secret, user }
}

impl Seeded {
    /// Stores a day-long session of `kind` under `token` (a legacy one
    /// belongs to the app).
    pub async fn session(&self, store: &Store, token: &str, kind: SessionKind, now: i64) {
        let hash = TokenHash::of(token);
        let new = NewSession {
            app_id: (kind == SessionKind::Legacy).then_some(self.app.id),
            verified_at: (kind == SessionKind::Api).then_some(now),
            ..NewSession::new(&hash, self.user.id, kind, now + 86_400)
        };
        store.create_session(&new, now).await.unwrap_or_else(|e| panic!("session: {e}"));
    }

    /// Stores a day-long user access token for the app under `token`.
    pub async fn access_token(&self, store: &Store, token: &str, now: i64) {
        let new = NewAppToken {
            kind: AppTokenKind::AccessToken,
            token_hash: &TokenHash::of(token),
            app_id: self.app.id,
            user_id: Some(self.user.id),
            data: r#"{"scope":["public_profile"]}"#,
            expires_at: Some(now + 86_400),
            issued_from: None,
        };
        store.create_app_token(&new, now).await.unwrap_or_else(|e| panic!("access token: {e}"));
    }
}
