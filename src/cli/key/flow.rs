//! The `keygate key` commands: log in (password, then a touch of the key),
//! enroll a key, list, rename and remove keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::KeyServerArgs;
use super::client::ApiClient;
use super::ctap2::{AssertionRequest, CreationRequest};
use super::protocol::{self, Protocol, Speaks};
use super::u2f::{RegisterRequest, SignRequest};
use crate::cli::CliError;
use crate::cli::common::format_time;

/// A session and whether it may only enroll a first key.
struct Login {
    token: String,
    expires_at: i64,
    enroll_only: bool,
    /// The device signed the login, so it is already registered.
    device_used: bool,
}

/// Base64url without padding, as every binary field of the API.
pub(super) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a base64url field of the server's answer (padding tolerated).
pub(super) fn unb64(field: &str, text: &str) -> Result<Vec<u8>, CliError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| CliError::other(format!("the server sent a {field} that is not websafe base64")))
}

/// A text member of the server's answer, or an error naming it.
pub(super) fn field<'a>(value: &'a Value, name: &str) -> Result<&'a str, CliError> {
    value[name].as_str().ok_or_else(|| CliError::other(format!("the server's answer lacks {name}")))
}

/// SHA-256, the hash of every clientData and application id.
pub(super) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

async fn read_password(args: &KeyServerArgs) -> Result<String, CliError> {
    let from_stdin = args.password.password_stdin;
    let prompt = format!("Password for {}: ", args.user);
    tokio::task::spawn_blocking(move || {
        if from_stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| CliError::other(format!("cannot read the password from standard input: {e}")))?;
            return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
        }
        rpassword::prompt_password(prompt)
            .map_err(|e| CliError::other(format!("cannot prompt for a password ({e}); use --password-stdin")))
    })
    .await
    .map_err(|e| CliError::other(format!("password prompt failed: {e}")))?
}

/// A signed second factor: the finish request's body and the endpoint
/// family it goes to (`u2f` or `webauthn`).
struct Signed {
    body: Value,
    endpoint: &'static str,
}

/// Signs the pending second factor `start` (a login's, or a step-up's)
/// with the key on `--device`, over U2F or CTAP2 as `--protocol` and the
/// key decide. The server's `origin`, `appId` and WebAuthn `rpId` are
/// checked against `--server` before the key is opened.
async fn sign_pending(api: &ApiClient, args: &KeyServerArgs, start: &Value) -> Result<Signed, CliError> {
    api.check_origin(start)?;
    let u2f = SignRequest::from_start(api, start)?;
    // A server without WebAuthn options can still be answered over U2F.
    let ctap2 = AssertionRequest::from_start(api, start);
    if let Err(e) = &ctap2
        && start["publicKey"].is_object()
    {
        return Err(CliError::other(e.to_string()));
    }
    let (hid, speaks) = protocol::open(args).await?;
    Ok(match speaks {
        Speaks::U2f => Signed { body: u2f.sign(hid, args).await?, endpoint: "u2f" },
        Speaks::Ctap2 => Signed { body: ctap2?.sign(hid, args).await?, endpoint: "webauthn" },
    })
}

/// Password, then (if the account has keys) a touch of the key.
async fn password_login(api: &ApiClient, args: &KeyServerArgs) -> Result<Login, CliError> {
    let password = read_password(args).await?;
    let start = api
        .call(
            Method::POST,
            "/api/v1/login",
            None,
            Some(&json!({ "username": args.user, "password": password })),
        )
        .await?;
    api.check_origin(&start)?;
    if start["second_factor"] == "none" {
        return Ok(Login {
            token: field(&start, "session_token")?.to_owned(),
            expires_at: start["expires_at"].as_i64().unwrap_or(0),
            enroll_only: true,
            device_used: false,
        });
    }
    let signed = sign_pending(api, args, &start).await?;
    let path = format!("/api/v1/login/{}", signed.endpoint);
    let done = api.call(Method::POST, &path, None, Some(&signed.body)).await?;
    Ok(Login {
        token: field(&done, "session_token")?.to_owned(),
        expires_at: done["expires_at"].as_i64().unwrap_or(0),
        enroll_only: false,
        device_used: true,
    })
}

/// Sends a request that may need a recent second factor: when the server
/// answers `reauth_required`, the key on `--device` confirms (step-up) and
/// the request is sent once more.
async fn call_with_step_up(
    api: &ApiClient,
    args: &KeyServerArgs,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<Value, CliError> {
    match api.send(method.clone(), path, Some(token), body).await? {
        Ok(value) => return Ok(value),
        Err(refusal) if refusal.code == "reauth_required" => {}
        Err(refusal) => return Err(api.explain(&refusal)),
    }
    eprintln!("The server asks for a touch of a key already registered for {} to confirm.", args.user);
    let start = api.call(Method::POST, "/api/v1/reauth", Some(token), None).await?;
    let touch = sign_pending(api, args, &start).await.map_err(|e| {
        CliError::other(format!(
            "{e}; confirm with a registered key: run `keygate key login` with it and pass that session \
             with --session"
        ))
    })?;
    let finish = format!("/api/v1/reauth/{}", touch.endpoint);
    api.call(Method::POST, &finish, Some(token), Some(&touch.body)).await?;
    api.call(method, path, Some(token), body).await
}

/// The session to use: `--session`, or a fresh login.
async fn session(api: &ApiClient, args: &KeyServerArgs) -> Result<Login, CliError> {
    match &args.session {
        Some(token) => {
            Ok(Login { token: token.clone(), expires_at: 0, enroll_only: false, device_used: false })
        }
        None => password_login(api, args).await,
    }
}

/// `keygate key login`: prints the session.
pub(super) async fn login(args: &KeyServerArgs) -> Result<(), CliError> {
    let api = ApiClient::new(args)?;
    let login = password_login(&api, args).await?;
    println!("session_token: {}", login.token);
    println!("expires_at: {}", format_time(login.expires_at));
    if login.enroll_only {
        println!("(enroll-only: {} has no key yet; run `keygate key enroll`)", args.user);
    }
    Ok(())
}

/// `keygate key enroll`: registers the key on `--device`.
pub(super) async fn enroll(args: &KeyServerArgs, name: Option<&str>) -> Result<(), CliError> {
    let api = ApiClient::new(args)?;
    let login = session(&api, args).await?;
    if login.device_used {
        return Err(CliError::other(format!(
            "this key is already registered for {}; to add another key, pass --session (from \
             `keygate key login` with a registered key) and the new key's --device",
            args.user
        )));
    }
    let label = name.map_or_else(|| format!("key {}", format_time(crate::clock::unix_now())), str::to_owned);
    let key = register(&api, args, &login.token, &label).await?;
    println!("enrolled key {} ({})", field(&key, "id")?, field(&key, "name")?);
    if let Some(codes) = key["recovery_codes"].as_array() {
        println!("Recovery codes (each works once; store them somewhere safe, they are not shown again):");
        for code in codes {
            println!("  {}", code.as_str().unwrap_or(""));
        }
    }
    Ok(())
}

/// Registers the key on `--device`: over CTAP2 through the WebAuthn
/// endpoints, or over U2F. With `--protocol auto` the WebAuthn options are
/// fetched (and their RP ID checked) before the key is opened, and a key
/// without CTAP2 then gets the U2F request instead.
async fn register(
    api: &ApiClient,
    args: &KeyServerArgs,
    token: &str,
    label: &str,
) -> Result<Value, CliError> {
    let step_up_post = |path| call_with_step_up(api, args, Method::POST, path, token, None);
    let creation = match args.protocol {
        Protocol::U2f => None,
        Protocol::Auto | Protocol::Ctap2 => {
            let start = step_up_post("/api/v1/keys/webauthn/register/start").await?;
            Some(CreationRequest::from_start(api, &start)?)
        }
    };
    let (hid, speaks) = protocol::open(args).await?;
    if let (Speaks::Ctap2, Some(creation)) = (speaks, creation) {
        let body = creation.register(hid, args, label).await?;
        return api
            .call(Method::POST, "/api/v1/keys/webauthn/register/finish", Some(token), Some(&body))
            .await;
    }
    let start = step_up_post("/api/v1/keys/register/start").await?;
    api.check_origin(&start)?;
    let body = RegisterRequest::from_start(api, &start)?.register(hid, args, label).await?;
    api.call(Method::POST, "/api/v1/keys/register/finish", Some(token), Some(&body)).await
}

async fn keys(api: &ApiClient, token: &str) -> Result<Vec<Value>, CliError> {
    let list = api.call(Method::GET, "/api/v1/keys", Some(token), None).await?;
    Ok(list["keys"].as_array().cloned().unwrap_or_default())
}

/// `keygate key list`.
pub(super) async fn list(args: &KeyServerArgs) -> Result<(), CliError> {
    let api = ApiClient::new(args)?;
    let login = session(&api, args).await?;
    let keys = keys(&api, &login.token).await?;
    if keys.is_empty() {
        println!("{} has no keys", args.user);
    }
    for key in keys {
        let last = key["last_used_at"].as_i64().map_or_else(|| "never".to_owned(), format_time);
        println!(
            "{}\t{}\tcreated {}\tlast used {}\tcounter {}",
            key["id"].as_str().unwrap_or("?"),
            key["name"].as_str().unwrap_or(""),
            format_time(key["created_at"].as_i64().unwrap_or(0)),
            last,
            key["counter"],
        );
    }
    Ok(())
}

/// The id of the key named by id or label.
async fn resolve(api: &ApiClient, token: &str, key: &str) -> Result<String, CliError> {
    let keys = keys(api, token).await?;
    let by_id = keys.iter().find(|k| k["id"].as_str() == Some(key));
    let by_label: Vec<&Value> = keys.iter().filter(|k| k["name"].as_str() == Some(key)).collect();
    let found = match (by_id, by_label.as_slice()) {
        (Some(k), _) => k,
        (None, [k]) => *k,
        (None, []) => return Err(CliError::other(format!("{} has no key {key:?}", api.user))),
        (None, _) => return Err(CliError::other(format!("several keys are called {key:?}; use the id"))),
    };
    Ok(found["id"].as_str().unwrap_or_default().to_owned())
}

/// `keygate key rename`.
pub(super) async fn rename(args: &KeyServerArgs, key: &str, label: &str) -> Result<(), CliError> {
    let api = ApiClient::new(args)?;
    let login = session(&api, args).await?;
    let id = resolve(&api, &login.token, key).await?;
    let path = format!("/api/v1/keys/{id}");
    let renamed = api.call(Method::PATCH, &path, Some(&login.token), Some(&json!({ "name": label }))).await?;
    println!("key {id} is now {:?}", renamed["name"].as_str().unwrap_or(label));
    Ok(())
}

/// `keygate key remove`.
pub(super) async fn remove(args: &KeyServerArgs, key: &str) -> Result<(), CliError> {
    let api = ApiClient::new(args)?;
    let login = session(&api, args).await?;
    let id = resolve(&api, &login.token, key).await?;
    call_with_step_up(&api, args, Method::DELETE, &format!("/api/v1/keys/{id}"), &login.token, None).await?;
    println!("removed key {id}");
    Ok(())
}
