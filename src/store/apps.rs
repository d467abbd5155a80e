//! Registered applications: sealed secret, redirect URIs, the networks they
//! may call from, their rate limit. What they hold lives in `app_tokens`.

use std::net::IpAddr;
use std::sync::LazyLock;

use ipnet::IpNet;
use sqlx::AssertSqlSafe;

use super::AppTokenKind;
use super::reads::Bind;
use super::row::{Columns, Fields};
use super::values::{decode_json_list, encode_json_list};
use super::{Store, StoreError};

/// A registered application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// Numeric app id.
    pub id: i64,
    /// Operator's name for it, unique.
    pub name: String,
    /// Public `api_key` / `client_id`.
    pub api_key: String,
    /// AES-GCM sealed app secret (sig checks need it back).
    pub secret_sealed: Vec<u8>,
    /// A desktop app: its sessions always get a session secret.
    pub desktop: bool,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Networks calls may come from; empty: any.
    pub allowed_ips: Vec<IpNet>,
    /// Calls per minute, `None` for unlimited.
    pub rate_limit_per_min: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last secret rotation: app tokens before it are void.
    pub secret_rotated_at: i64,
}

impl App {
    /// Reads an app whose columns a query selected with `prefix` (see
    /// `store::qualified`).
    pub(super) fn read<R: Columns>(row: &R, prefix: &str) -> Result<Self, sqlx::Error> {
        let mut f = Fields::new(row, prefix);
        Ok(Self {
            id: f.get("id")?,
            name: f.get("name")?,
            api_key: f.get("api_key")?,
            secret_sealed: f.get("secret_sealed")?,
            desktop: f.flag("desktop")?,
            redirect_uris: decode_json_list("apps.redirect_uris", &f.get::<String>("redirect_uris")?)?,
            allowed_ips: decode_json_list("apps.allowed_ips", &f.get::<String>("allowed_ips")?)?,
            rate_limit_per_min: f.get("rate_limit_per_min")?,
            created_at: f.get("created_at")?,
            secret_rotated_at: f.get("secret_rotated_at")?,
        })
    }

    /// Whether a call from `source` may act for this app: any address when
    /// no network is listed, else one inside a listed network.
    pub(crate) fn allows_source(&self, source: IpAddr) -> bool {
        self.allowed_ips.is_empty() || self.allowed_ips.iter().any(|net| net.contains(&source))
    }
}

super::row::plain_rows!(App);

/// What registering an app stores.
#[derive(Clone, Debug)]
pub struct NewApp<'a> {
    /// Name.
    pub name: &'a str,
    /// Public api_key.
    pub api_key: &'a str,
    /// Sealed secret.
    pub secret_sealed: &'a [u8],
    /// Desktop app.
    pub desktop: bool,
    /// Redirect URIs.
    pub redirect_uris: &'a [String],
    /// Networks calls may come from; empty: any.
    pub allowed_ips: &'a [IpNet],
    /// Calls per minute.
    pub rate_limit_per_min: Option<u32>,
}

/// The settings of a registered app an operator may change after the
/// fact: everything but its name, api_key and secret.
#[derive(Clone, Debug)]
pub struct AppSettings<'a> {
    /// Desktop app: its sessions always get a session secret.
    pub desktop: bool,
    /// Redirect URIs, replacing the registered ones.
    pub redirect_uris: &'a [String],
    /// Networks calls may come from; empty: any.
    pub allowed_ips: &'a [IpNet],
    /// Calls per minute, `None` for unlimited.
    pub rate_limit_per_min: Option<u32>,
}

pub(super) const APP_COLUMNS: &str = "id, name, api_key, secret_sealed, desktop, redirect_uris, allowed_ips, \
                           rate_limit_per_min, created_at, secret_rotated_at";
impl Store {
    /// Registers an application; `Conflict` when the name or api_key is taken.
    pub async fn create_app(&self, new: &NewApp<'_>, now: i64) -> Result<App, StoreError> {
        sqlx::query_as::<_, App>(AssertSqlSafe(format!(
            "INSERT INTO apps (name, api_key, secret_sealed, desktop, redirect_uris, allowed_ips, \
                 rate_limit_per_min, created_at, secret_rotated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {APP_COLUMNS}"
        )))
        .bind(new.name)
        .bind(new.api_key)
        .bind(new.secret_sealed)
        .bind(i64::from(new.desktop))
        .bind(encode_json_list(new.redirect_uris)?)
        .bind(encode_json_list(new.allowed_ips)?)
        .bind(new.rate_limit_per_min.map(i64::from))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::classify(e, "application"))
    }

    /// The application with this api_key / client_id.
    pub async fn app_by_api_key(&self, api_key: &str) -> Result<Option<App>, StoreError> {
        static QUERY: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {APP_COLUMNS} FROM apps WHERE api_key = $1"));
        self.read_optional(&QUERY, &[Bind::Text(api_key)]).await
    }

    /// The application with this name.
    pub async fn app_by_name(&self, name: &str) -> Result<Option<App>, StoreError> {
        Ok(sqlx::query_as::<_, App>(AssertSqlSafe(format!("SELECT {APP_COLUMNS} FROM apps WHERE name = $1")))
            .bind(name)
            .fetch_optional(self.read())
            .await?)
    }

    /// Every application, by name.
    pub async fn list_apps(&self) -> Result<Vec<App>, StoreError> {
        Ok(sqlx::query_as::<_, App>(AssertSqlSafe(format!("SELECT {APP_COLUMNS} FROM apps ORDER BY name")))
            .fetch_all(self.read())
            .await?)
    }

    /// Replaces an app's settings and returns the app as stored; every
    /// later call is checked against the new ones, on every instance, since
    /// no instance keeps apps in memory. Sessions and tokens already issued
    /// stay valid.
    pub async fn update_app(&self, id: i64, settings: &AppSettings<'_>) -> Result<App, StoreError> {
        sqlx::query_as::<_, App>(AssertSqlSafe(format!(
            "UPDATE apps SET desktop = $1, redirect_uris = $2, allowed_ips = $3, rate_limit_per_min = $4 \
             WHERE id = $5 RETURNING {APP_COLUMNS}"
        )))
        .bind(i64::from(settings.desktop))
        .bind(encode_json_list(settings.redirect_uris)?)
        .bind(encode_json_list(settings.allowed_ips)?)
        .bind(settings.rate_limit_per_min.map(i64::from))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("application"))
    }

    /// Removes an application with its sessions, tokens and grants.
    pub async fn remove_app(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for table in ["sessions", "app_tokens", "permissions"] {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE app_id = $1")))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM apps WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("application"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores a new sealed secret and voids the app tokens issued under the old one.
    pub async fn rotate_app_secret(&self, id: i64, secret_sealed: &[u8], now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE apps SET secret_sealed = $1, secret_rotated_at = $2 WHERE id = $3")
            .bind(secret_sealed)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("application"));
        }
        sqlx::query("DELETE FROM app_tokens WHERE app_id = $1 AND kind = $2")
            .bind(id)
            .bind(AppTokenKind::AppToken.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts one call made for `app` against its per-minute limit (shared
    /// by the legacy and Graph APIs, across instances); false when over it.
    pub(crate) async fn count_app_call(&self, app: &App, now: i64) -> Result<bool, StoreError> {
        let Some(limit) = app.rate_limit_per_min else { return Ok(true) };
        let hit = self.rate_limit_hit(&format!("app:{}", app.id), 60, now).await?;
        Ok(i64::from(hit.hits) <= limit)
    }
}
