//! Whether the token's attestation certificate may sign `packed` attestations
//! with `x5c`: WebAuthn §8.2.1 sets requirements a verifier enforces (version
//! 3; subject C, O, OU "Authenticator Attestation" and CN; CA:FALSE; an
//! id-fido-gen-ce-aaguid extension, if any, not critical and naming the
//! authenticator's AAGUID). A certificate that misses them would get every
//! registration refused, so the token falls back to self attestation instead.

use x509_cert::Certificate;
use x509_cert::der::asn1::{ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::BasicConstraints;

const COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// id-fido-gen-ce-aaguid: the AAGUID of the authenticator model a certificate attests.
pub const FIDO_GEN_CE_AAGUID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.45724.1.1.4");

/// The OU WebAuthn requires, literally.
const ATTESTATION_OU: &str = "Authenticator Attestation";

/// Whether `certificate` (DER) meets the packed-attestation requirements for
/// an authenticator with `aaguid`; the reason when not, for the log.
pub fn check(certificate: &[u8], aaguid: &[u8; 16]) -> Result<(), &'static str> {
    let cert = Certificate::from_der(certificate).map_err(|_| "not a DER X.509 certificate")?;
    let tbs = &cert.tbs_certificate;
    if tbs.version != x509_cert::Version::V3 {
        return Err("not an X.509 v3 certificate");
    }
    let (mut c, mut o, mut ou, mut cn) = (false, false, false, false);
    for attribute in tbs.subject.0.iter().flat_map(|rdn| rdn.0.iter()) {
        match attribute.oid {
            oid if oid == COUNTRY => c = true,
            oid if oid == ORGANIZATION => o = true,
            oid if oid == COMMON_NAME => cn = true,
            oid if oid == ORGANIZATIONAL_UNIT => {
                if attribute.value.value() != ATTESTATION_OU.as_bytes() {
                    return Err("subject OU is not \"Authenticator Attestation\"");
                }
                ou = true;
            }
            _ => {}
        }
    }
    if !(c && o && ou && cn) {
        return Err("subject lacks one of C, O, OU and CN");
    }
    let extensions = tbs.extensions.as_deref().unwrap_or_default();
    let constraints =
        extensions.iter().find(|e| e.extn_id == BASIC_CONSTRAINTS).ok_or("no basic constraints")?;
    let constraints = BasicConstraints::from_der(constraints.extn_value.as_bytes())
        .map_err(|_| "unreadable basic constraints")?;
    if constraints.ca {
        return Err("a CA certificate");
    }
    if let Some(extension) = extensions.iter().find(|e| e.extn_id == FIDO_GEN_CE_AAGUID) {
        if extension.critical {
            return Err("the AAGUID extension is critical");
        }
        let expected = OctetString::new(aaguid.as_slice())
            .and_then(|o| o.to_der())
            .map_err(|_| "cannot encode the AAGUID")?;
        if extension.extn_value.as_bytes() != expected.as_slice() {
            return Err("the AAGUID extension names another authenticator");
        }
    }
    Ok(())
}
