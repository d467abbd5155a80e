//! CTAP2 requests over CTAPHID CBOR: authenticatorGetInfo,
//! authenticatorMakeCredential, authenticatorGetAssertion and
//! authenticatorReset. The encoding and the parsing are
//! [`crate::ctap2`]'s; this driver sends the bytes, waits for the touch
//! (KEEPALIVE), stops the key with CTAPHID CANCEL when the caller gives up,
//! and turns error statuses into [`ClientError`]s.

use super::{ClientError, CtapHidClient, Wait};
use crate::ctap2::response::split_status;
use crate::ctap2::{
    GetAssertion, GetAssertionResponse, GetInfo, MakeCredential, MakeCredentialResponse, Options, Request,
};
use crate::ctaphid::{capability, command};
use crate::transport::Connection;

/// A CTAP2 session with one device.
#[derive(Debug)]
pub struct Ctap2Client<C> {
    hid: CtapHidClient<C>,
    /// The key's limits on credential lists, once asked.
    limits: Option<ListLimits>,
}

/// What a key announces about the credential lists it takes.
#[derive(Debug, Clone, Copy)]
struct ListLimits {
    /// maxCredentialCountInList (absent on CTAP 2.0 keys: no limit known).
    count: Option<usize>,
    /// maxCredentialIdLength: longer ids cannot be the key's own.
    id_length: Option<usize>,
}

impl<C: Connection> Ctap2Client<C> {
    /// CTAP2 over an open CTAPHID session. Whether the device speaks it is
    /// the caller's choice to check ([`Ctap2Client::supported`]): a
    /// U2F-only key answers CBOR requests with a CTAPHID error.
    pub fn new(hid: CtapHidClient<C>) -> Self {
        Ctap2Client { hid, limits: None }
    }

    /// Whether the device announced CTAP2 (the CBOR capability) in its INIT reply.
    pub fn supported(hid: &CtapHidClient<C>) -> bool {
        hid.info().capabilities & capability::CBOR != 0
    }

    /// The CTAPHID session, for PING, WINK or CANCEL.
    pub fn hid(&mut self) -> &mut CtapHidClient<C> {
        &mut self.hid
    }

    /// Sends `request` and returns the body of a successful answer.
    fn request(&mut self, request: &Request, wait: Wait<'_>) -> Result<Vec<u8>, ClientError> {
        let payload = self.hid.call_waiting(command::CBOR, &request.encode(), wait)?;
        Ok(split_status(&payload)?.to_vec())
    }

    /// What the key supports: versions, options, limits, algorithms.
    pub fn get_info(&mut self) -> Result<GetInfo, ClientError> {
        let body = self.request(&Request::GetInfo, Wait::default())?;
        Ok(GetInfo::parse(&body)?)
    }

    /// The key's list limits, from getInfo (asked once per session).
    fn limits(&mut self) -> Result<ListLimits, ClientError> {
        if let Some(limits) = self.limits {
            return Ok(limits);
        }
        let info = self.get_info()?;
        let size = |n: Option<u64>| n.map(|n| usize::try_from(n).unwrap_or(usize::MAX).max(1));
        let limits = ListLimits {
            count: size(info.max_credential_count_in_list),
            id_length: size(info.max_credential_id_length),
        };
        self.limits = Some(limits);
        Ok(limits)
    }

    /// Fits a credential list to the key, as browsers do: ids longer than
    /// the key's own are dropped; a list longer than the key takes is
    /// probed in batches with silent (`up: false`) getAssertions, and
    /// becomes the one id the key holds, or none.
    fn fit_list(&mut self, rp_id: &str, ids: &mut Vec<Vec<u8>>) -> Result<(), ClientError> {
        if ids.len() < 2 {
            // Every key takes one id; one it cannot hold is simply not found.
            return Ok(());
        }
        let limits = self.limits()?;
        ids.retain(|id| limits.id_length.is_none_or(|max| id.len() <= max));
        let Some(max) = limits.count.filter(|max| ids.len() > *max) else { return Ok(()) };
        let mut held = Vec::new();
        for batch in ids.chunks(max) {
            let probe = GetAssertion {
                rp_id: rp_id.to_owned(),
                client_data_hash: [0; 32],
                allow_list: batch.to_vec(),
                options: Options { up: Some(false), ..Options::default() },
                pin_uv_auth_param: None,
                pin_uv_auth_protocol: None,
            };
            match self.get_assertion_as_listed(probe, Wait::default()) {
                Ok(found) => {
                    held = found.credential_id.into_iter().collect();
                    break;
                }
                Err(ClientError::UnknownKeyHandle) => {}
                Err(e) => return Err(e),
            }
        }
        *ids = held;
        Ok(())
    }

    /// Creates a credential, waiting for a touch. A key that holds one of
    /// `exclude_list` answers [`ClientError::AlreadyRegistered`] (after the
    /// touch, so a page cannot learn it silently).
    pub fn make_credential(
        &mut self,
        mut request: MakeCredential,
        wait: Wait<'_>,
    ) -> Result<MakeCredentialResponse, ClientError> {
        self.fit_list(&request.rp.id, &mut request.exclude_list)?;
        let body = self.request(&Request::MakeCredential(request), wait)?;
        Ok(MakeCredentialResponse::parse(&body)?)
    }

    /// Signs with one of the request's allowed credentials, waiting for a
    /// touch. A key that holds none of them answers
    /// [`ClientError::UnknownKeyHandle`]. When the allow list has a single
    /// entry and the key leaves the credential out of its answer (as the
    /// specification permits), that entry is filled in.
    pub fn get_assertion(
        &mut self,
        mut request: GetAssertion,
        wait: Wait<'_>,
    ) -> Result<GetAssertionResponse, ClientError> {
        let listed = !request.allow_list.is_empty();
        self.fit_list(&request.rp_id, &mut request.allow_list)?;
        if listed && request.allow_list.is_empty() {
            return Err(ClientError::UnknownKeyHandle);
        }
        self.get_assertion_as_listed(request, wait)
    }

    /// [`Ctap2Client::get_assertion`] with the allow list sent as it is.
    fn get_assertion_as_listed(
        &mut self,
        request: GetAssertion,
        wait: Wait<'_>,
    ) -> Result<GetAssertionResponse, ClientError> {
        let only = match request.allow_list.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        };
        let body = self.request(&Request::GetAssertion(request), wait)?;
        let mut response = GetAssertionResponse::parse(&body)?;
        if response.credential_id.is_none() {
            response.credential_id = Some(
                only.ok_or_else(|| ClientError::malformed("the assertion does not name its credential"))?,
            );
        }
        Ok(response)
    }

    /// Erases every credential on the key; keys accept it only within
    /// seconds of being plugged in, and after a touch.
    pub fn reset(&mut self, wait: Wait<'_>) -> Result<(), ClientError> {
        self.request(&Request::Reset, wait).map(drop)
    }
}
