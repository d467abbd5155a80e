//! CTAPHID requests over a connection: INIT with a fresh nonce, then
//! exchanges on the allocated channel, retrying with backoff while the device
//! is busy with another host. A CTAP2 request that waits for the user is
//! stopped the way the specification asks: CTAPHID CANCEL, then the
//! request's own answer (KEEPALIVE_CANCEL) read off the channel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::CryptoRng;

use super::{ClientError, Wait};
use crate::ctap2::keepalive;
use crate::ctaphid::host::{Exchange, HostError, InitReply, RESPONSE_TIMEOUT, Step};
use crate::ctaphid::{ChannelId, Fragments, command};
use crate::transport::Connection;

/// How long the client keeps retrying a device that answers CHANNEL_BUSY.
const BUSY_LIMIT: Duration = Duration::from_secs(5);

/// How long a key has, after CTAPHID CANCEL, to end the cancelled request
/// with its answer before the client stops listening for it.
pub const CANCEL_GRACE: Duration = Duration::from_millis(500);

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
        let channel = self.info.channel;
        retry_busy(|| exchange(&mut self.connection, channel, cmd, payload, None, cancel))
    }

    /// Sends a request the key may hold until the user touches it (a CTAP2
    /// CBOR request) and returns the response payload. KEEPALIVE "user
    /// presence needed" sets `wait.touch_needed`; when the caller cancels
    /// or the deadline passes, the key gets CTAPHID CANCEL and the client
    /// reads the request's answer (at most [`CANCEL_GRACE`]) so the channel
    /// is clean for the next request, then returns `Cancelled` or `Timeout`.
    pub fn call_waiting(&mut self, cmd: u8, payload: &[u8], wait: Wait<'_>) -> Result<Vec<u8>, ClientError> {
        let channel = self.info.channel;
        retry_busy(|| {
            if wait.cancelled() {
                return Err(ClientError::Cancelled);
            }
            exchange_waiting(&mut self.connection, channel, cmd, payload, wait)
        })
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
        send_cancel(&mut self.connection, self.info.channel)?;
        let until = Instant::now() + Duration::from_millis(100);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if self.connection.read_report(left)?.is_none() {
                break;
            }
        }
        Ok(())
    }
}

/// Runs `attempt` again, with backoff, while the device answers CHANNEL_BUSY.
fn retry_busy(mut attempt: impl FnMut() -> Result<Vec<u8>, ClientError>) -> Result<Vec<u8>, ClientError> {
    let started = Instant::now();
    let mut backoff = Duration::from_millis(10);
    loop {
        match attempt() {
            Err(ClientError::Host(HostError::Busy)) if started.elapsed() < BUSY_LIMIT => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(250));
            }
            Err(ClientError::Host(HostError::Busy)) => return Err(ClientError::Busy),
            other => return other,
        }
    }
}

fn send_cancel<C: Connection>(connection: &mut C, channel: ChannelId) -> Result<(), ClientError> {
    for report in Fragments::new(channel, command::CANCEL, &[]).map_err(HostError::from)? {
        connection.write_report(&report)?;
    }
    Ok(())
}

/// One exchange that the caller may stop while the key waits for the user;
/// see [`CtapHidClient::call_waiting`].
fn exchange_waiting<C: Connection>(
    connection: &mut C,
    channel: ChannelId,
    cmd: u8,
    payload: &[u8],
    wait: Wait<'_>,
) -> Result<Vec<u8>, ClientError> {
    let (mut exchange, reports) = Exchange::new(channel, cmd, payload).map_err(HostError::from)?;
    for report in &reports {
        connection.write_report(report)?;
    }
    // The key must speak at least every RESPONSE_TIMEOUT (KEEPALIVE while it waits).
    let mut silent_until = Instant::now() + RESPONSE_TIMEOUT;
    // Once stopping: why, and until when the cancelled request's answer is awaited.
    let mut stopping: Option<(fn() -> ClientError, Instant)> = None;
    loop {
        let now = Instant::now();
        if stopping.is_none() {
            let reason: Option<fn() -> ClientError> = if wait.cancelled() {
                Some(|| ClientError::Cancelled)
            } else if wait.expired(now) {
                Some(|| ClientError::Timeout)
            } else {
                None
            };
            if let Some(reason) = reason {
                tracing::debug!("sending CTAPHID CANCEL");
                send_cancel(connection, channel)?;
                stopping = Some((reason, now + CANCEL_GRACE));
            }
        }
        let until = match stopping {
            Some((_, grace)) => grace.min(silent_until),
            None => wait.deadline.map_or(silent_until, |d| d.min(silent_until)),
        };
        let Some(left) = until.checked_duration_since(now).filter(|d| !d.is_zero()) else {
            match stopping {
                Some((reason, _)) => return Err(reason()),
                None if now >= silent_until => return Err(ClientError::NoResponse),
                None => continue, // the deadline: CANCEL goes out on the next turn
            }
        };
        let Some(report) = connection.read_report(left.min(Duration::from_millis(100)))? else { continue };
        let step = exchange.handle_report(Instant::now(), &report);
        match (step, stopping) {
            // Whatever ends a cancelled request, the caller gave up on it.
            (Ok(Step::Done(_)) | Err(_), Some((reason, _))) => return Err(reason()),
            (Err(e), None) => return Err(e.into()),
            (Ok(Step::Done(response)), None) => return Ok(response),
            (Ok(Step::Keepalive(status)), _) => {
                silent_until = Instant::now() + RESPONSE_TIMEOUT;
                if status == keepalive::UP_NEEDED && stopping.is_none() {
                    wait.ask_for_touch();
                }
            }
            (Ok(Step::Pending), _) => {}
        }
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
