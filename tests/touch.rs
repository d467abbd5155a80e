//! The touch prompt's three endings against an in-process soft token whose
//! user presence is held: a touch, `--timeout`, and Ctrl-C (a real SIGINT).

use std::time::{Duration, Instant};

use keygate::cli::touch::{wait_for_touch, wait_for_touch_or};
use keygate_device::client::{CtapHidClient, U2fClient};
use keygate_device::soft::state::{Attestation, Secret};
use keygate_device::soft::{Presence, SoftToken, TokenState};
use keygate_device::transport::MemoryLink;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

fn held_token() -> MemoryLink {
    let attestation = Attestation {
        certificate: include_bytes!("../fixtures/soft-token/attestation.der").to_vec(),
        private_key: Secret::new(include_bytes!("../fixtures/soft-token/attestation-key.der").to_vec()),
    };
    let state = TokenState::generate(&mut UnwrapErr(SysRng), attestation);
    MemoryLink::new(SoftToken::in_memory(state, Presence::Manual).expect("token"))
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_ends_the_wait_with_the_message() {
    let started = Instant::now();
    // Ctrl-C is left to the test below: a SIGINT reaches every waiter in the process.
    let err = wait_for_touch_or(Some(Duration::from_millis(500)), std::future::pending(), |wait| {
        let mut u2f = U2fClient::new(CtapHidClient::open(held_token(), &mut UnwrapErr(SysRng))?);
        u2f.register(&[0; 32], &[1; 32], wait)
    })
    .await
    .expect_err("nobody touched the key");
    assert_eq!(err.to_string(), "timed out waiting for touch");
    assert_eq!(err.status(), 1);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_touch_ends_the_wait() {
    let done = wait_for_touch_or(None, std::future::pending(), |wait| {
        let mut link = held_token();
        link.token_mut().approve();
        let mut u2f = U2fClient::new(CtapHidClient::open(link, &mut UnwrapErr(SysRng))?);
        u2f.register(&[0; 32], &[1; 32], wait)
    })
    .await
    .expect("registered");
    assert_eq!(done.public_key.len(), 65);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_cancels_with_status_130() {
    let pid = std::process::id();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let status = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()));
    });
    let err = wait_for_touch(None, |wait| {
        let mut u2f = U2fClient::new(CtapHidClient::open(held_token(), &mut UnwrapErr(SysRng))?);
        u2f.register(&[0; 32], &[1; 32], wait)
    })
    .await
    .expect_err("cancelled");
    assert_eq!((err.status(), err.to_string().as_str()), (130, "cancelled"));
}
