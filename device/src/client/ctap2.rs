//! CTAP2 requests over CTAPHID CBOR: authenticatorGetInfo,
//! authenticatorMakeCredential, authenticatorGetAssertion and
//! authenticatorReset. The encoding and the parsing are
//! [`crate::ctap2`]'s; this driver sends the bytes, waits for the touch
//! (KEEPALIVE), stops the key with CTAPHID CANCEL when the caller gives up,
//! and turns error statuses into [`ClientError`]s.

use super::{ClientError, CtapHidClient, Wait};
use crate::ctap2::response::split_status;
use crate::ctap2::{
    GetAssertion, GetAssertionResponse, GetInfo, MakeCredential, MakeCredentialResponse, Request,
};
use crate::ctaphid::{capability, command};
use crate::transport::Connection;

/// A CTAP2 session with one device.
#[derive(Debug)]
pub struct Ctap2Client<C> {
    hid: CtapHidClient<C>,
}

impl<C: Connection> Ctap2Client<C> {
    /// CTAP2 over an open CTAPHID session. Whether the device speaks it is
    /// the caller's choice to check ([`Ctap2Client::supported`]): a
    /// U2F-only key answers CBOR requests with a CTAPHID error.
    pub fn new(hid: CtapHidClient<C>) -> Self {
        Ctap2Client { hid }
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

    /// Creates a credential, waiting for a touch. A key that holds one of
    /// `exclude_list` answers [`ClientError::AlreadyRegistered`].
    pub fn make_credential(
        &mut self,
        request: MakeCredential,
        wait: Wait<'_>,
    ) -> Result<MakeCredentialResponse, ClientError> {
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
