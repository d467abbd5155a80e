//! Registering a key from a browser with WebAuthn. webauthn-rs builds the
//! creation options and checks the attestation statement (`fido-u2f`,
//! `packed`); its ceremony state is kept in the challenges table so any
//! instance can finish it. keygate's own attestation policy is applied on
//! top, and only credentials that also work over raw U2F are accepted
//! (ES256, id ≤ 255 bytes, no credProtect above level 1): they are stored
//! exactly like a key enrolled by `keygate key enroll`.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticatorAttachment, AuthenticatorTransport, COSEAlgorithm,
    COSEKeyType, CreationChallengeResponse, Credential, CredentialProtectionPolicy, ExtnState,
    RegisterPublicKeyCredential, RegistrationState, SerialisableAttestationData, UserVerificationPolicy,
};

use super::keys::{Registered, check_label};
use super::session::Caller;
use super::{Auth, AuthError, Ceremony};
use crate::store::{AuditEvent, NewCredential, Transport};
use crate::verify::{AttestationCertificate, AttestationPolicy, ClientData, VerifyError};

/// The longest credential id a U2F key handle can carry (its length byte).
pub(crate) const MAX_CREDENTIAL_ID_LEN: usize = 255;

impl Auth {
    fn webauthn_core(&self) -> Result<WebauthnCore, AuthError> {
        let origins = self
            .settings
            .origins
            .iter()
            .map(|o| {
                url::Url::parse(o)
                    .map_err(|e| AuthError::InvalidRequest(format!("configured origin {o}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let timeout = Duration::from_secs(u64::try_from(self.settings.challenge_ttl_secs).unwrap_or(120));
        Ok(WebauthnCore::new_unsafe_experts_only(
            "keygate",
            &self.settings.rp_id,
            origins,
            timeout,
            None,
            None,
        ))
    }

    /// Creation options for a new security key: cross-platform, user
    /// presence only, ES256 only, direct attestation, the user's keys
    /// excluded: the `{publicKey}` options the browser passes to
    /// `navigator.credentials.create`.
    pub(crate) async fn webauthn_register_start(
        &self,
        caller: &Caller,
        now: i64,
    ) -> Result<CreationChallengeResponse, AuthError> {
        let keys = self.may_add_key(caller, now).await?;
        let core = self.webauthn_core()?;
        let user = &caller.user;
        let display = user.display_name.clone().unwrap_or_else(|| user.name.clone());
        let builder = core
            .new_challenge_register_builder(&user.id.to_be_bytes(), &user.name, &display)
            .map_err(webauthn_error)?
            .attestation(AttestationConveyancePreference::Direct)
            .user_verification_policy(UserVerificationPolicy::Discouraged_DO_NOT_USE)
            .credential_algorithms(vec![COSEAlgorithm::ES256])
            .authenticator_attachment(Some(AuthenticatorAttachment::CrossPlatform))
            .require_resident_key(false)
            .exclude_credentials(Some(keys.into_iter().map(|k| k.key_handle).collect()));
        let (options, state) = core.generate_challenge_register(builder).map_err(webauthn_error)?;
        let challenge: Vec<u8> = options.public_key.challenge.to_vec();
        let state = serde_json::to_string(&state).map_err(|e| AuthError::InvalidRequest(e.to_string()))?;
        let id = URL_SAFE_NO_PAD.encode(&challenge);
        let ceremony = Ceremony::Register { session_id: caller.session.id, webauthn_state: Some(&state) };
        self.open_challenge(&id, caller.user.id, ceremony, &challenge, now).await?;
        Ok(options)
    }

    /// Checks a browser's registration against the pending ceremony, applies
    /// the attestation policy and the U2F-compatibility rules, and stores
    /// the key; the first key comes with recovery codes.
    pub(crate) async fn webauthn_register_finish(
        &self,
        caller: &Caller,
        credential: &RegisterPublicKeyCredential,
        name: &str,
        source: IpAddr,
        now: i64,
    ) -> Result<Registered, AuthError> {
        let label = check_label(name)?;
        let who = Some((caller.user.id, caller.user.name.as_str()));
        self.may_add_key(caller, now).await?;
        let client_data = ClientData::parse_webauthn(&credential.response.client_data_json)
            .map_err(AuthError::BadClientData)?;
        let pending = self.pending_registration(caller, &client_data.challenge, now).await?;
        let state: RegistrationState = pending
            .state
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or(AuthError::UnknownLogin)?;
        let checked = self
            .webauthn_core()
            .and_then(|core| core.register_credential(credential, &state, None).map_err(webauthn_error))
            .and_then(|registered| self.u2f_compatible(registered));
        let (registered, public_key, attestation_subject) = match checked {
            Ok(found) => found,
            Err(e) => {
                self.audit(who, AuditEvent::EnrollFailed, &e.to_string(), Some(source), now).await;
                return Err(e);
            }
        };
        super::login::consume(&self.store, &pending.id, now).await?;
        let mut transports: Vec<Transport> =
            registered.transports.iter().flatten().filter_map(transport).collect();
        if transports.is_empty() {
            transports.push(Transport::Usb);
        }
        let stored = serde_json::to_string(&registered).ok();
        let new = NewCredential {
            user_id: caller.user.id,
            rp_id: &self.settings.rp_id,
            key_handle: registered.cred_id.as_ref(),
            public_key: &public_key,
            counter: registered.counter,
            label: &label,
            attestation_subject: attestation_subject.as_deref(),
            transports: &transports,
            webauthn: stored.as_deref(),
        };
        let how = match (&attestation_subject, registered.attestation.data.clone().into()) {
            (Some(subject), _) => format!("registered over WebAuthn, attested by {subject}"),
            (None, SerialisableAttestationData::Self_) => {
                "registered over WebAuthn, self attestation".to_owned()
            }
            (None, _) => "registered over WebAuthn, no attestation (none)".to_owned(),
        };
        self.store_new_key(caller, &new, &how, source, now).await
    }

    /// The checks that keep a WebAuthn credential usable over raw U2F, and
    /// the configured attestation policy; returns the SEC1 public key and
    /// the attestation subject.
    fn u2f_compatible(
        &self,
        registered: Credential,
    ) -> Result<(Credential, Vec<u8>, Option<String>), AuthError> {
        let refuse = |m: String| AuthError::InvalidRequest(m);
        if registered.cred_id.len() > MAX_CREDENTIAL_ID_LEN {
            return Err(refuse(format!(
                "credential id of {} bytes: a U2F key handle holds at most {MAX_CREDENTIAL_ID_LEN}",
                registered.cred_id.len()
            )));
        }
        let protected = match &registered.extensions.cred_protect {
            ExtnState::Set(p) | ExtnState::Unsolicited(p) => Some(*p),
            _ => None,
        };
        if protected.is_some_and(|p| p != CredentialProtectionPolicy::UserVerificationOptional) {
            return Err(refuse("credProtect above level 1 would hide the key from U2F sign-in".into()));
        }
        let public_key = match (&registered.cred.type_, &registered.cred.key) {
            (COSEAlgorithm::ES256, COSEKeyType::EC_EC2(ec)) if ec.x.len() == 32 && ec.y.len() == 32 => {
                let mut sec1 = Vec::with_capacity(65);
                sec1.push(0x04);
                sec1.extend_from_slice(&ec.x);
                sec1.extend_from_slice(&ec.y);
                sec1
            }
            (alg, _) => return Err(refuse(format!("only ES256 (P-256) keys are accepted, not {alg:?}"))),
        };
        self.credential_key(&public_key).map_err(AuthError::BadSignature)?;
        let serialisable: SerialisableAttestationData = registered.attestation.data.clone().into();
        let subject = self.attestation_trust(&serialisable)?;
        Ok((registered, public_key, subject))
    }

    /// Applies the configured policy to the attestation webauthn-rs has
    /// verified. `none` and `verified` accept a key that attests with a
    /// certificate, attests itself (self attestation) or declines to attest
    /// (`none`: a user who says no to "share make and model", most platform
    /// and phone authenticators); `trusted-ca` accepts only a certificate
    /// issued by a configured root. Returns the certificate's subject.
    fn attestation_trust(
        &self,
        attestation: &SerialisableAttestationData,
    ) -> Result<Option<String>, AuthError> {
        let policy = &self.settings.attestation;
        let refuse = |what: &str| {
            AuthError::BadSignature(VerifyError::WebAuthnRegistration {
                reason: format!(
                    "the key sent {what}, and the trusted-ca policy requires a certificate from a trusted root"
                ),
            })
        };
        let leaf = match attestation {
            SerialisableAttestationData::Basic(chain)
            | SerialisableAttestationData::AttCa(chain)
            | SerialisableAttestationData::AnonCa(chain) => chain.first(),
            _ => None,
        };
        let Some(leaf) = leaf else {
            return match (policy, attestation) {
                (AttestationPolicy::TrustedCa(_), SerialisableAttestationData::Self_) => {
                    Err(refuse("self attestation"))
                }
                (AttestationPolicy::TrustedCa(_), _) => Err(refuse("no attestation certificate")),
                (_, SerialisableAttestationData::Self_ | SerialisableAttestationData::None) => Ok(None),
                (AttestationPolicy::None, _) => Ok(None),
                (_, other) => Err(AuthError::BadSignature(VerifyError::WebAuthnRegistration {
                    reason: format!("unsupported attestation {other:?}"),
                })),
            };
        };
        let cert = AttestationCertificate::parse(leaf).map_err(AuthError::BadSignature)?;
        if let AttestationPolicy::TrustedCa(roots) = policy {
            roots.check_issued(&cert).map_err(AuthError::BadSignature)?;
        }
        Ok(Some(cert.subject()))
    }
}

/// The store's name for a transport a browser reported; the test and
/// unknown values webauthn-rs keeps are not stored.
fn transport(reported: &AuthenticatorTransport) -> Option<Transport> {
    match reported {
        AuthenticatorTransport::Usb => Some(Transport::Usb),
        AuthenticatorTransport::Nfc => Some(Transport::Nfc),
        AuthenticatorTransport::Ble => Some(Transport::Ble),
        AuthenticatorTransport::Internal => Some(Transport::Internal),
        AuthenticatorTransport::Hybrid => Some(Transport::Hybrid),
        AuthenticatorTransport::Test | AuthenticatorTransport::Unknown => None,
    }
}

fn webauthn_error(e: webauthn_rs_core::error::WebauthnError) -> AuthError {
    use webauthn_rs_core::error::WebauthnError as W;
    let reason = format!("{e:?}");
    match e {
        W::InvalidClientDataType | W::MismatchedChallenge | W::InvalidRPOrigin | W::ParseJSONFailure(_) => {
            AuthError::BadClientData(VerifyError::ClientDataSyntax { reason })
        }
        _ => AuthError::BadSignature(VerifyError::WebAuthnRegistration { reason }),
    }
}
