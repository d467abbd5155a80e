//! The U2F (CTAP1) path of `keygate key`: the server's U2F requests (the
//! FIDO JavaScript API's shapes: `appId`, `challenge`, `registeredKeys`)
//! answered with the key's REGISTER and AUTHENTICATE, and the clientData
//! the CLI builds for them.

use keygate_device::client::{Authentication, Registration, U2fClient};
use serde_json::{Value, json};

use super::KeyServerArgs;
use super::client::ApiClient;
use super::flow::{b64, field, sha256, unb64};
use super::protocol::Hid;
use crate::cli::CliError;
use crate::cli::touch::wait_for_touch;

/// U2F clientData as the FIDO JavaScript API builds it.
fn client_data(typ: &str, challenge: &str, origin: &str) -> Vec<u8> {
    json!({ "typ": typ, "challenge": challenge, "origin": origin }).to_string().into_bytes()
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

/// A pending U2F second factor (a login's or a step-up's), whose `origin`
/// and `appId` the caller has checked.
pub(super) struct SignRequest {
    login_id: String,
    client_data: Vec<u8>,
    app: [u8; 32],
    known: Vec<Vec<u8>>,
}

impl SignRequest {
    /// Reads the U2F half of a `/login` or `/reauth` answer.
    pub(super) fn from_start(api: &ApiClient, start: &Value) -> Result<Self, CliError> {
        Ok(Self {
            login_id: field(start, "login_id")?.to_owned(),
            client_data: client_data(
                "navigator.id.getAssertion",
                field(start, "challenge")?,
                api.origin.as_str(),
            ),
            app: sha256(field(start, "appId")?.as_bytes()),
            known: handles(start)?,
        })
    }

    /// Signs with the first registered handle the key knows; returns the
    /// body of `/login/u2f` (or `/reauth/u2f`).
    pub(super) async fn sign(self, hid: Hid, args: &KeyServerArgs) -> Result<Value, CliError> {
        let Self { login_id, client_data, app, known } = self;
        let challenge = sha256(&client_data);
        let signed: Option<(Vec<u8>, Authentication)> = wait_for_touch(args.device.timeout(), move |wait| {
            let mut u2f = U2fClient::new(hid);
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
            "login_id": login_id,
            "keyHandle": b64(&handle),
            "signatureData": b64(&auth.raw),
            "clientData": b64(&client_data),
        }))
    }
}

/// A U2F registration the server asked for (`/keys/register/start`),
/// whose `origin` and `appId` the caller has checked.
pub(super) struct RegisterRequest {
    client_data: Vec<u8>,
    app: [u8; 32],
    existing: Vec<Vec<u8>>,
}

impl RegisterRequest {
    /// Reads the answer of `/keys/register/start`.
    pub(super) fn from_start(api: &ApiClient, start: &Value) -> Result<Self, CliError> {
        let challenge = start["registerRequests"][0]["challenge"]
            .as_str()
            .ok_or_else(|| CliError::other("the server's answer lacks registerRequests[0].challenge"))?;
        Ok(Self {
            client_data: client_data("navigator.id.finishEnrollment", challenge, api.origin.as_str()),
            app: sha256(field(start, "appId")?.as_bytes()),
            existing: handles(start)?,
        })
    }

    /// Registers the key (after checking, without a touch, that it holds
    /// none of the account's handles); returns the body of
    /// `/keys/register/finish`.
    pub(super) async fn register(
        self,
        hid: Hid,
        args: &KeyServerArgs,
        label: &str,
    ) -> Result<Value, CliError> {
        let Self { client_data, app, existing } = self;
        let challenge = sha256(&client_data);
        let registered: Result<Registration, bool> = wait_for_touch(args.device.timeout(), move |wait| {
            let mut u2f = U2fClient::new(hid);
            for handle in existing {
                if u2f.knows(&app, &handle)? {
                    return Ok(Err(true));
                }
            }
            Ok(Ok(u2f.register(&challenge, &app, wait)?))
        })
        .await?;
        let registration = registered
            .map_err(|_| CliError::other(format!("this key is already registered for {}", args.user)))?;
        Ok(
            json!({ "registrationData": b64(&registration.raw), "clientData": b64(&client_data), "name": label }),
        )
    }
}
