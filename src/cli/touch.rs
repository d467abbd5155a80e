//! The wait for a touch, as every command that needs one shows it: a spinner
//! "Touch your security key…" on the terminal once the key asks for a touch
//! (U2F: its first "conditions not satisfied"; CTAP2: KEEPALIVE "user
//! presence needed"), Ctrl-C to stop (exit 130, "cancelled"), `--timeout` to
//! give up ("timed out waiting for touch"). U2F leaves nothing pending on the
//! key, so stopping the poll is enough; a CTAP2 request, or a CTAP2-capable
//! key polled over U2F, gets CTAPHID CANCEL from the client.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use keygate_device::client::{ClientError, Wait};
use keygate_device::ctap2::Status;

use super::CliError;

/// What the spinner says.
pub(crate) const PROMPT: &str = "Touch your security key…";

/// Runs `op` (a blocking U2F or CTAP2 request that waits for presence),
/// showing the spinner once the key asks for a touch, stopping on Ctrl-C
/// or after `timeout`.
pub async fn wait_for_touch<T, F>(timeout: Option<Duration>, op: F) -> Result<T, CliError>
where
    T: Send + 'static,
    F: FnOnce(Wait<'_>) -> Result<T, ClientError> + Send + 'static,
{
    // The handler must be in place before the prompt shows: `ctrl_c()`
    // registers only when first polled, and a ^C typed in between would
    // kill the process without cancelling the request on the key.
    #[cfg(unix)]
    let cancelled = {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())
            .map_err(|e| CliError::other(format!("cannot watch for Ctrl-C: {e}")))?;
        async move {
            interrupt.recv().await;
        }
    };
    #[cfg(not(unix))]
    let cancelled = async { drop(tokio::signal::ctrl_c().await) };
    wait_for_touch_or(timeout, cancelled, op).await
}

/// [`wait_for_touch`] with the cancelling event given by the caller (tests,
/// or a UI with its own cancel button).
pub async fn wait_for_touch_or<T, F>(
    timeout: Option<Duration>,
    cancelled: impl Future<Output = ()>,
    op: F,
) -> Result<T, CliError>
where
    T: Send + 'static,
    F: FnOnce(Wait<'_>) -> Result<T, ClientError> + Send + 'static,
{
    let flag = Arc::new(AtomicBool::new(false));
    let asked = Arc::new(AtomicBool::new(false));
    let (worker_flag, worker_asked) = (Arc::clone(&flag), Arc::clone(&asked));
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut worker = tokio::task::spawn_blocking(move || {
        op(Wait { deadline, cancel: Some(&worker_flag), touch_needed: Some(&worker_asked) })
    });
    // The prompt shows once the key says it waits for a touch.
    let mut spinner: Option<ProgressBar> = None;
    let mut look = tokio::time::interval(Duration::from_millis(50));
    let mut cancelled = std::pin::pin!(cancelled);
    let outcome = loop {
        tokio::select! {
            joined = &mut worker => break joined,
            () = &mut cancelled, if !flag.load(Ordering::SeqCst) => flag.store(true, Ordering::SeqCst),
            _ = look.tick(), if spinner.is_none() => {
                if asked.load(Ordering::SeqCst) {
                    spinner = Some(prompt());
                }
            }
        }
    };
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(explain(e)),
        Err(e) => Err(CliError::other(format!("the device request failed: {e}"))),
    }
}

/// The message for a key's refusal, with the way out where there is one.
fn explain(e: ClientError) -> CliError {
    match e {
        ClientError::Cancelled => CliError::cancelled(),
        ClientError::Timeout => CliError::other("timed out waiting for touch"),
        // A CTAP 2.0 key with a PIN set wants it (PIN_REQUIRED, the same
        // code) even for a credential that needs only a touch; keygate
        // enters no PIN, and U2F asks for none.
        ClientError::Ctap2(status) if status == Status::PUAT_REQUIRED => CliError::other(format!(
            "{status}: keygate key does not enter PINs; if the key also speaks U2F, \
                 use --protocol u2f"
        )),
        e => CliError::other(e.to_string()),
    }
}

/// The spinner, drawn on standard error (hidden when it is not a terminal).
fn prompt() -> ProgressBar {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(PROMPT);
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_wants_its_pin_is_pointed_to_u2f() {
        let message = explain(ClientError::Ctap2(Status::PUAT_REQUIRED)).to_string();
        assert!(message.contains("requires a PIN") && message.contains("--protocol u2f"), "{message}");
        let other = explain(ClientError::Ctap2(Status::OPERATION_PENDING)).to_string();
        assert!(!other.contains("--protocol"), "{other}");
    }
}
