//! CTAPHID requests over a connection: INIT with a fresh nonce, then
//! exchanges on the allocated channel, retrying with backoff while the device
//! is busy with another host.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::CryptoRng;

use super::ClientError;
use crate::ctaphid::host::{Exchange, HostError, InitReply, RESPONSE_TIMEOUT, Step};
use crate::ctaphid::{ChannelId, Fragments, command};
use crate::transport::Connection;

/// How long the client keeps retrying a device that answers CHANNEL_BUSY.
const BUSY_LIMIT: Duration = Duration::from_secs(5);

/// A CTAPHID session with one device.
#[derive(Debug)]
pub struct CtapHidClient<C> {
    connection: C,
    info: InitReply,
}

impl<C: Connection> CtapHidClient<C> {
    /// Allocates a channel with INIT on the broadcast channel.
    pub fn open(mut connection: C, rng: &mut impl CryptoRng) -> Result<Self, ClientError> {
        let mut nonce = [0u8; 8];
        rng.fill_bytes(&mut nonce);
        let payload =
            exchange(&mut connection, ChannelId::BROADCAST, command::INIT, &nonce, Some(&nonce), None)?;
        let info = InitReply::parse(&nonce, &payload)?;
        Ok(CtapHidClient { connection, info })
    }

    /// What the device said about itself.
    pub fn info(&self) -> &InitReply {
        &self.info
    }

    /// Sends one request and returns the response payload; `cancel` stops waiting.
    pub fn call(
        &mut self,
        cmd: u8,
        payload: &[u8],
        cancel: Option<&AtomicBool>,
    ) -> Result<Vec<u8>, ClientError> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(10);
        loop {
            match exchange(&mut self.connection, self.info.channel, cmd, payload, None, cancel) {
                Err(ClientError::Host(HostError::Busy)) if started.elapsed() < BUSY_LIMIT => {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(250));
                }
                Err(ClientError::Host(HostError::Busy)) => return Err(ClientError::Busy),
                other => return other,
            }
        }
    }

    /// Echoes `data` through the device.
    pub fn ping(&mut self, data: &[u8]) -> Result<Vec<u8>, ClientError> {
        self.call(command::PING, data, None)
    }

    /// Makes the device blink.
    pub fn wink(&mut self) -> Result<(), ClientError> {
        self.call(command::WINK, &[], None).map(drop)
    }

    /// Tells a CTAP2 device to stop waiting for the user; no reply is awaited,
    /// and whatever the device still sends is drained.
    pub fn cancel(&mut self) -> Result<(), ClientError> {
        for report in Fragments::new(self.info.channel, command::CANCEL, &[]).map_err(HostError::from)? {
            self.connection.write_report(&report)?;
        }
        let until = Instant::now() + Duration::from_millis(100);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if self.connection.read_report(left)?.is_none() {
                break;
            }
        }
        Ok(())
    }
}

fn exchange<C: Connection>(
    connection: &mut C,
    channel: ChannelId,
    cmd: u8,
    payload: &[u8],
    init_nonce: Option<&[u8; 8]>,
    cancel: Option<&AtomicBool>,
) -> Result<Vec<u8>, ClientError> {
    let (mut exchange, reports) = Exchange::new(channel, cmd, payload).map_err(HostError::from)?;
    for report in &reports {
        connection.write_report(report)?;
    }
    let mut deadline = Instant::now() + RESPONSE_TIMEOUT;
    loop {
        if cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
            return Err(ClientError::Cancelled);
        }
        let left = deadline.checked_duration_since(Instant::now()).ok_or(ClientError::NoResponse)?;
        let Some(report) = connection.read_report(left.min(Duration::from_millis(100)))? else { continue };
        match exchange.handle_report(Instant::now(), &report)? {
            Step::Pending => {}
            Step::Keepalive(_) => deadline = Instant::now() + RESPONSE_TIMEOUT,
            Step::Done(response) => match init_nonce {
                // On the broadcast channel, INIT replies to other hosts pass by: skip them.
                Some(nonce) if response.get(..8) != Some(&nonce[..]) => {
                    tracing::debug!("skipping an INIT reply for another nonce");
                    let (again, _) = Exchange::new(channel, cmd, payload).map_err(HostError::from)?;
                    exchange = again;
                }
                _ => return Ok(response),
            },
        }
    }
}
