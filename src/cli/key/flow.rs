//! The `keygate key` commands: log in (password, then a touch of the key),
//! enroll a key, list, rename and remove keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keygate_device::client::{Authentication, CtapHidClient, Registration, U2fClient};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::KeyServerArgs;
use super::client::ApiClient;
use crate::cli::CliError;
use crate::cli::common::format_time;
use crate::cli::touch::wait_for_touch;

/// A session and whether it may only enroll a first key.
struct Login {
    token: String,
    expires_at: i64,
    enroll_only: bool,
    /// The device signed the login, so it is already registered.
    device_used: bool,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(field: &str, text: &str) -> Result<Vec<u8>, CliError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| CliError::other(format!("the server sent a {field} that is not websafe base64")))
}

fn field<'a>(value: &'a Value, name: &str) -> Result<&'a str, CliError> {
    value[name].as_str().ok_or_else(|| CliError::other(format!("the server's answer lacks {name}")))
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

/// U2F clientData as the FIDO JavaScript API builds it.
fn client_data(typ: &str, challenge: &str, origin: &str) -> Vec<u8> {
    json!({ "typ": typ, "challenge": challenge, "origin": origin }).to_string().into_bytes()
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn handles(value: &Value) -> Result<Vec<Vec<u8>>, CliError> {
    value["registeredKeys"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|k| unb64("keyHandle", k["keyHandle"].as_str().unwrap_or("")))
        .collect()
}

/// Signs the pending second factor `start` (a login's, or a step-up's)
/// with the key on `--device`, after checking that the server's `origin` and
/// `appId` are the ones `--server` names; returns the body of the finish
/// request. The key is opened only once the server passed that check.
async fn sign_pending(api: &ApiClient, args: &KeyServerArgs, start: &Value) -> Result<Value, CliError> {
    api.check_origin(start)?;
    let cd = client_data("navigator.id.getAssertion", field(start, "challenge")?, api.origin.as_str());
    let app = sha256(field(start, "appId")?.as_bytes());
    let challenge = sha256(&cd);
    let known = handles(start)?;
    let connection = args.device.open()?;
    let signed: Option<(Vec<u8>, Authentication)> = wait_for_touch(args.device.timeout(), move |wait| {
        let mut u2f = U2fClient::new(CtapHidClient::open(connection, &mut UnwrapErr(SysRng))?);
        for handle in known {
            if u2f.knows(&app, &handle)? {
                let auth = u2f.authenticate(&challenge, &app, &handle, true, wait)?;
                return Ok(Some((handle, auth)));
            }
        }
        Ok(None)
    })
    .await?;
    let (handle, auth) =
        signed.ok_or_else(|| CliError::other(format!("this key is not registered for {}", args.user)))?;
    Ok(json!({
        "login_id": field(start, "login_id")?,
        "keyHandle": b64(&handle),
        "signatureData": b64(&auth.raw),
        "clientData": b64(&cd),
    }))
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
    let body = sign_pending(api, args, &start).await?;
    let done = api.call(Method::POST, "/api/v1/login/u2f", None, Some(&body)).await?;
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
    let body_of_touch = sign_pending(api, args, &start).await.map_err(|e| {
        CliError::other(format!(
            "{e}; confirm with a registered key: run `keygate key login` with it and pass that session \
             with --session"
        ))
    })?;
    api.call(Method::POST, "/api/v1/reauth/u2f", Some(token), Some(&body_of_touch)).await?;
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
    let start =
        call_with_step_up(&api, args, Method::POST, "/api/v1/keys/register/start", &login.token, None)
            .await?;
    api.check_origin(&start)?;
    let challenge = start["registerRequests"][0]["challenge"]
        .as_str()
        .ok_or_else(|| CliError::other("the server's answer lacks registerRequests[0].challenge"))?;
    let cd = client_data("navigator.id.finishEnrollment", challenge, api.origin.as_str());
    let app = sha256(field(&start, "appId")?.as_bytes());
    let challenge_param = sha256(&cd);
    let existing = handles(&start)?;
    let connection = args.device.open()?;
    let registered: Result<Registration, bool> = wait_for_touch(args.device.timeout(), move |wait| {
        let mut u2f = U2fClient::new(CtapHidClient::open(connection, &mut UnwrapErr(SysRng))?);
        for handle in existing {
            if u2f.knows(&app, &handle)? {
                return Ok(Err(true));
            }
        }
        Ok(Ok(u2f.register(&challenge_param, &app, wait)?))
    })
    .await?;
    let registration = registered
        .map_err(|_| CliError::other(format!("this key is already registered for {}", args.user)))?;
    let label = name.map_or_else(|| format!("key {}", format_time(crate::clock::unix_now())), str::to_owned);
    let body = json!({ "registrationData": b64(&registration.raw), "clientData": b64(&cd), "name": label });
    let key = api.call(Method::POST, "/api/v1/keys/register/finish", Some(&login.token), Some(&body)).await?;
    println!("enrolled key {} ({})", field(&key, "id")?, field(&key, "name")?);
    if let Some(codes) = key["recovery_codes"].as_array() {
        println!("Recovery codes (each works once; store them somewhere safe, they are not shown again):");
        for code in codes {
            println!("  {}", code.as_str().unwrap_or(""));
        }
    }
    Ok(())
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
