//! The CTAP2 (FIDO2) path of `keygate key`: the server's WebAuthn options
//! (`{publicKey}` of webauthn-rs, base64url fields) turned into
//! authenticatorMakeCredential and authenticatorGetAssertion, with the
//! clientDataJSON the CLI builds as a browser would, and the key's answers
//! sent back in the `PublicKeyCredential.toJSON()` shape.
//!
//! As for U2F, the RP ID the server asks for must be `--server`'s host or a
//! registrable suffix of it, checked before the key is opened; the origin
//! in the clientDataJSON is always the one `--server` names.

use keygate_device::client::{ClientError, Ctap2Client};
use keygate_device::ctap2::{AuthenticatorData, GetAssertion, MakeCredential, Options, RelyingParty, User};
use serde_json::{Value, json};

use super::KeyServerArgs;
use super::client::ApiClient;
use super::flow::{b64, field, sha256, unb64};
use super::protocol::Hid;
use crate::cli::CliError;
use crate::cli::touch::wait_for_touch;

/// The clientDataJSON of WebAuthn (§5.8.1), members in the order browsers
/// write them; `typ` is `webauthn.create` or `webauthn.get`.
pub(super) fn client_data_json(typ: &str, challenge: &str, origin: &str) -> Vec<u8> {
    let text = |s: &str| Value::String(s.to_owned()).to_string();
    format!(
        r#"{{"type":{},"challenge":{},"origin":{},"crossOrigin":false}}"#,
        text(typ),
        text(challenge),
        text(origin)
    )
    .into_bytes()
}

/// The `id`s of a list of `PublicKeyCredentialDescriptor`s
/// (`allowCredentials`, `excludeCredentials`) of type `public-key`.
fn credential_ids(list: &Value, name: &str) -> Result<Vec<Vec<u8>>, CliError> {
    list.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|c| c["type"].as_str().is_none_or(|t| t == "public-key"))
        .map(|c| unb64(name, c["id"].as_str().unwrap_or("")))
        .collect()
}

/// A challenge as sent (base64url), checked to decode.
fn challenge(options: &Value) -> Result<String, CliError> {
    let text = field(options, "challenge")?;
    unb64("publicKey.challenge", text)?;
    Ok(text.to_owned())
}

/// The body of a credential's JSON shared by both ceremonies.
fn credential_json(id: &[u8], response: Value) -> Value {
    json!({
        "id": b64(id),
        "rawId": b64(id),
        "type": "public-key",
        "response": response,
        "authenticatorAttachment": "cross-platform",
        "clientExtensionResults": {},
    })
}

/// A pending second factor as WebAuthn request options (the `publicKey`
/// of a `/login` or `/reauth` answer), its RP ID checked.
pub(super) struct AssertionRequest {
    login_id: String,
    rp_id: String,
    client_data: Vec<u8>,
    allow: Vec<Vec<u8>>,
}

impl AssertionRequest {
    /// Reads `start.publicKey`, refusing an RP ID that is not `--server`'s.
    pub(super) fn from_start(api: &ApiClient, start: &Value) -> Result<Self, CliError> {
        let options = &start["publicKey"];
        if !options.is_object() {
            return Err(CliError::other(
                "the server offers no WebAuthn request (publicKey) for a CTAP2 key; try --protocol u2f",
            ));
        }
        let rp_id = field(options, "rpId")?;
        api.origin.check_rp_id(rp_id).map_err(|e| CliError::other(e.to_string()))?;
        Ok(Self {
            login_id: field(start, "login_id")?.to_owned(),
            rp_id: rp_id.to_owned(),
            client_data: client_data_json("webauthn.get", &challenge(options)?, api.origin.as_str()),
            allow: credential_ids(&options["allowCredentials"], "allowCredentials.id")?,
        })
    }

    /// Gets an assertion from the key; returns the body of
    /// `/login/webauthn` (or `/reauth/webauthn`).
    pub(super) async fn sign(self, hid: Hid, args: &KeyServerArgs) -> Result<Value, CliError> {
        let Self { login_id, rp_id, client_data, allow } = self;
        let request = GetAssertion {
            rp_id,
            client_data_hash: sha256(&client_data),
            allow_list: allow,
            options: Options::default(),
            pin_uv_auth_param: None,
            pin_uv_auth_protocol: None,
        };
        let signed = wait_for_touch(args.device.timeout(), move |wait| {
            match Ctap2Client::new(hid).get_assertion(request, wait) {
                Err(ClientError::UnknownKeyHandle) => Ok(None),
                other => other.map(Some),
            }
        })
        .await?;
        let assertion =
            signed.ok_or_else(|| CliError::other(format!("this key is not registered for {}", args.user)))?;
        let id = assertion.credential_id.unwrap_or_default();
        let mut response = json!({
            "clientDataJSON": b64(&client_data),
            "authenticatorData": b64(&assertion.auth_data),
            "signature": b64(&assertion.signature),
        });
        if let Some(user) = &assertion.user_id {
            response["userHandle"] = json!(b64(user));
        }
        Ok(json!({ "login_id": login_id, "credential": credential_json(&id, response) }))
    }
}

/// WebAuthn creation options (`/keys/webauthn/register/start`), their RP
/// ID checked.
pub(super) struct CreationRequest {
    rp: RelyingParty,
    user: User,
    algorithms: Vec<i64>,
    exclude: Vec<Vec<u8>>,
    client_data: Vec<u8>,
}

impl CreationRequest {
    /// Reads the `{publicKey}` answer, refusing an RP ID that is not
    /// `--server`'s.
    pub(super) fn from_start(api: &ApiClient, start: &Value) -> Result<Self, CliError> {
        let options = &start["publicKey"];
        let rp_id = field(&options["rp"], "id")
            .map_err(|_| CliError::other("the server's creation options lack publicKey.rp.id"))?;
        api.origin.check_rp_id(rp_id).map_err(|e| CliError::other(e.to_string()))?;
        let user = &options["user"];
        let user_id = unb64("publicKey.user.id", field(user, "id")?)?;
        let algorithms: Vec<i64> = options["pubKeyCredParams"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|p| p["type"] == "public-key")
            .filter_map(|p| p["alg"].as_i64())
            .collect();
        if algorithms.is_empty() {
            return Err(CliError::other("the server's creation options name no public-key algorithm"));
        }
        let text = |v: &Value| v.as_str().map(str::to_owned);
        Ok(Self {
            rp: RelyingParty { id: rp_id.to_owned(), name: text(&options["rp"]["name"]) },
            user: User { id: user_id, name: text(&user["name"]), display_name: text(&user["displayName"]) },
            algorithms,
            exclude: credential_ids(&options["excludeCredentials"], "excludeCredentials.id")?,
            client_data: client_data_json("webauthn.create", &challenge(options)?, api.origin.as_str()),
        })
    }

    /// Makes a credential on the key; returns the body of
    /// `/keys/webauthn/register/finish`.
    pub(super) async fn register(
        self,
        hid: Hid,
        args: &KeyServerArgs,
        label: &str,
    ) -> Result<Value, CliError> {
        let Self { rp, user, algorithms, exclude, client_data } = self;
        let request = MakeCredential {
            client_data_hash: sha256(&client_data),
            rp,
            user,
            algorithms,
            exclude_list: exclude,
            options: Options::default(),
            pin_uv_auth_param: None,
            pin_uv_auth_protocol: None,
        };
        let made = wait_for_touch(args.device.timeout(), move |wait| {
            match Ctap2Client::new(hid).make_credential(request, wait) {
                Err(ClientError::AlreadyRegistered) => Ok(None),
                other => other.map(Some),
            }
        })
        .await?;
        let made =
            made.ok_or_else(|| CliError::other(format!("this key is already registered for {}", args.user)))?;
        let id = AuthenticatorData::parse(&made.auth_data)
            .ok()
            .and_then(|data| data.attested)
            .map(|attested| attested.credential_id)
            .ok_or_else(|| CliError::other("the key's new credential has no attested credential data"))?;
        let response = json!({
            "clientDataJSON": b64(&client_data),
            "attestationObject": b64(&made.attestation_object()),
            "transports": ["usb"],
        });
        Ok(json!({ "credential": credential_json(&id, response), "name": label }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_data_is_what_a_browser_writes() {
        let cd = client_data_json("webauthn.get", "q83v", "http://localhost:8080");
        assert_eq!(
            String::from_utf8(cd).unwrap(),
            r#"{"type":"webauthn.get","challenge":"q83v","origin":"http://localhost:8080","crossOrigin":false}"#
        );
        let odd = client_data_json("webauthn.create", "a\"b", "https://x");
        let parsed: Value = serde_json::from_slice(&odd).unwrap();
        assert_eq!(parsed["challenge"], "a\"b");
    }

    #[test]
    fn descriptors_of_other_types_are_skipped_and_bad_ids_refused() {
        let list = json!([
            { "type": "public-key", "id": "AQI" },
            { "type": "something-else", "id": "AwQ" },
            { "id": "BQY" },
        ]);
        assert_eq!(credential_ids(&list, "x").unwrap(), [vec![1, 2], vec![5, 6]]);
        assert!(credential_ids(&json!([{ "type": "public-key", "id": "!!" }]), "x").is_err());
        assert!(credential_ids(&Value::Null, "x").unwrap().is_empty());
    }
}
