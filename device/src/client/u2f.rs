//! U2F requests: VERSION, REGISTER, AUTHENTICATE (enforce, check-only,
//! don't-enforce), as extended APDUs first and short ones once a device has
//! answered 6700 to the extended form; waiting for a touch by polling on
//! 6985 every ~200 ms until the caller's deadline or cancellation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{ClientError, CtapHidClient};
use crate::ctaphid::{capability, command};
use crate::transport::Connection;
use crate::u2f::{CommandApdu, Encoding, StatusWord, auth_control, ins};

/// Pause between presence polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// How long to wait for a touch and how the caller can stop the wait.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wait<'a> {
    /// Give up at this instant (None: wait for ever).
    pub deadline: Option<Instant>,
    /// Set to stop waiting (e.g. from a Ctrl-C handler).
    pub cancel: Option<&'a AtomicBool>,
    /// Set by the client once the key waits for the user (U2F: the first
    /// 6985; CTAP2: KEEPALIVE "user presence needed"), so a prompt shows
    /// only when a touch is really what the key waits for.
    pub touch_needed: Option<&'a AtomicBool>,
}

impl Wait<'_> {
    /// Whether the caller asked to stop.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::SeqCst))
    }

    /// Whether the deadline has passed at `now`.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }

    /// Records that the key waits for a touch.
    pub(crate) fn ask_for_touch(&self) {
        if let Some(flag) = self.touch_needed {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

/// A parsed REGISTER response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The whole response (without status word), as the server wants it.
    pub raw: Vec<u8>,
    /// Uncompressed P-256 public key, 65 bytes.
    pub public_key: Vec<u8>,
    /// The key handle.
    pub key_handle: Vec<u8>,
    /// Attestation certificate, DER.
    pub certificate: Vec<u8>,
    /// Attestation signature, DER.
    pub signature: Vec<u8>,
}

impl Registration {
    /// Splits a REGISTER response into its fields.
    pub fn parse(raw: &[u8]) -> Result<Registration, ClientError> {
        let malformed = |what: &'static str| ClientError::malformed(what);
        if raw.first() != Some(&0x05) {
            return Err(malformed("registration does not start with 0x05"));
        }
        let public_key = raw.get(1..66).ok_or(malformed("public key cut short"))?;
        let len = usize::from(*raw.get(66).ok_or(malformed("key handle length missing"))?);
        let key_handle = raw.get(67..67 + len).ok_or(malformed("key handle cut short"))?;
        let rest = &raw[67 + len..];
        let cert_len = der_length(rest).ok_or(malformed("attestation certificate is not DER"))?;
        let certificate = rest.get(..cert_len).ok_or(malformed("attestation certificate cut short"))?;
        Ok(Registration {
            raw: raw.to_vec(),
            public_key: public_key.to_vec(),
            key_handle: key_handle.to_vec(),
            certificate: certificate.to_vec(),
            signature: rest[cert_len..].to_vec(),
        })
    }
}

/// Total length of the DER element at the start of `der` (header included).
fn der_length(der: &[u8]) -> Option<usize> {
    match der {
        [0x30, n, ..] if *n < 0x80 => Some(2 + usize::from(*n)),
        [0x30, 0x81, n, ..] => Some(3 + usize::from(*n)),
        [0x30, 0x82, a, b, ..] => Some(4 + usize::from(u16::from_be_bytes([*a, *b]))),
        _ => None,
    }
}

/// A parsed AUTHENTICATE response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    /// The whole response (without status word), as the server wants it.
    pub raw: Vec<u8>,
    /// Bit 0: the user was present.
    pub flags: u8,
    /// The signature counter.
    pub counter: u32,
    /// ECDSA signature, DER.
    pub signature: Vec<u8>,
}

/// A U2F session with one device.
#[derive(Debug)]
pub struct U2fClient<C> {
    hid: CtapHidClient<C>,
    encoding: Encoding,
}

impl<C: Connection> U2fClient<C> {
    /// U2F over an open CTAPHID session.
    pub fn new(hid: CtapHidClient<C>) -> Self {
        U2fClient { hid, encoding: Encoding::Extended }
    }

    /// The CTAPHID session, for PING, WINK or CANCEL.
    pub fn hid(&mut self) -> &mut CtapHidClient<C> {
        &mut self.hid
    }

    fn apdu(
        &mut self,
        ins: u8,
        p1: u8,
        data: &[u8],
        cancel: Option<&AtomicBool>,
    ) -> Result<(Vec<u8>, StatusWord), ClientError> {
        loop {
            let apdu = CommandApdu::new(ins, p1, 0, data.to_vec(), self.encoding)
                .encode()
                .map_err(|_| ClientError::malformed("request too long for an APDU"))?;
            let mut response = self.hid.call(command::MSG, &apdu, cancel)?;
            let status = StatusWord::from_response(&response)
                .ok_or_else(|| ClientError::malformed("no status word"))?;
            if status == StatusWord::WRONG_LENGTH && self.encoding == Encoding::Extended && data.len() <= 255
            {
                tracing::debug!("device refused an extended APDU; using short ones");
                self.encoding = Encoding::Short;
                continue;
            }
            response.truncate(response.len() - 2);
            return Ok((response, status));
        }
    }

    /// The protocol version ("U2F_V2").
    pub fn version(&mut self) -> Result<String, ClientError> {
        match self.apdu(ins::VERSION, 0, &[], None)? {
            (data, StatusWord::NO_ERROR) => Ok(String::from_utf8_lossy(&data).into_owned()),
            (_, status) => Err(ClientError::Status { ins: ins::VERSION, status }),
        }
    }

    /// Stops waiting for a touch. A U2F request leaves nothing pending on the
    /// key, but a CTAP2-capable key may still be blinking for it: it gets
    /// CTAPHID CANCEL (no reply awaited, stray frames drained). A failure to
    /// send it changes nothing for the caller, who is giving up anyway.
    fn abandon(&mut self) {
        if self.hid.info().capabilities & capability::CBOR != 0 {
            let _ = self.hid.cancel();
        }
    }

    /// Polls `ins` until the user touches the key, the deadline passes or the caller cancels.
    fn with_presence(
        &mut self,
        ins: u8,
        p1: u8,
        data: &[u8],
        wait: Wait<'_>,
    ) -> Result<Vec<u8>, ClientError> {
        loop {
            match self.apdu(ins, p1, data, wait.cancel)? {
                (out, StatusWord::NO_ERROR) => return Ok(out),
                (_, StatusWord::CONDITIONS_NOT_SATISFIED) => wait.ask_for_touch(),
                (_, StatusWord::WRONG_DATA) => return Err(ClientError::UnknownKeyHandle),
                (_, status) => return Err(ClientError::Status { ins, status }),
            }
            let next = Instant::now() + POLL_INTERVAL;
            if wait.deadline.is_some_and(|d| next > d) {
                self.abandon();
                return Err(ClientError::Timeout);
            }
            while Instant::now() < next {
                if wait.cancelled() {
                    self.abandon();
                    return Err(ClientError::Cancelled);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Creates a key pair for `app`, waiting for a touch.
    pub fn register(
        &mut self,
        challenge: &[u8; 32],
        app: &[u8; 32],
        wait: Wait<'_>,
    ) -> Result<Registration, ClientError> {
        let data = [&challenge[..], &app[..]].concat();
        Registration::parse(&self.with_presence(ins::REGISTER, 0, &data, wait)?)
    }

    /// Signs `challenge` with the key behind `key_handle`, waiting for a touch
    /// (or not, with `enforce_presence` false).
    pub fn authenticate(
        &mut self,
        challenge: &[u8; 32],
        app: &[u8; 32],
        key_handle: &[u8],
        enforce_presence: bool,
        wait: Wait<'_>,
    ) -> Result<Authentication, ClientError> {
        let p1 = if enforce_presence {
            auth_control::ENFORCE_USER_PRESENCE
        } else {
            auth_control::DONT_ENFORCE_USER_PRESENCE
        };
        let raw = self.with_presence(ins::AUTHENTICATE, p1, &auth_data(challenge, app, key_handle)?, wait)?;
        let [flags, a, b, c, d, signature @ ..] = raw.as_slice() else {
            return Err(ClientError::malformed("authentication response cut short"));
        };
        Ok(Authentication {
            flags: *flags,
            counter: u32::from_be_bytes([*a, *b, *c, *d]),
            signature: signature.to_vec(),
            raw,
        })
    }

    /// Whether the key knows `key_handle` for `app` (check-only, no touch needed).
    pub fn knows(&mut self, app: &[u8; 32], key_handle: &[u8]) -> Result<bool, ClientError> {
        match self.apdu(
            ins::AUTHENTICATE,
            auth_control::CHECK_ONLY,
            &auth_data(&[0; 32], app, key_handle)?,
            None,
        )? {
            (_, StatusWord::CONDITIONS_NOT_SATISFIED) => Ok(true),
            (_, StatusWord::WRONG_DATA) => Ok(false),
            (_, status) => Err(ClientError::Status { ins: ins::AUTHENTICATE, status }),
        }
    }
}

fn auth_data(challenge: &[u8; 32], app: &[u8; 32], key_handle: &[u8]) -> Result<Vec<u8>, ClientError> {
    let len =
        u8::try_from(key_handle.len()).map_err(|_| ClientError::malformed("key handle over 255 bytes"))?;
    Ok([&challenge[..], &app[..], &[len], key_handle].concat())
}
