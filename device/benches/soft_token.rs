//! Round trip of one U2F register and one authenticate, and of one CTAP2
//! getAssertion, between our host clients and the soft token over a real
//! UDP socket on loopback: framing, APDU or CBOR, P-256 key generation and
//! signing, and the state file's fsync (the counter is saved before every
//! signature leaves the token).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::UdpSocket;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use keygate_device::client::{Ctap2Client, CtapHidClient, U2fClient, Wait};
use keygate_device::ctap2::{GetAssertion, Options};
use keygate_device::soft::credential::app_param;
use keygate_device::soft::state::{Attestation, Secret};
use keygate_device::soft::{Presence, SoftToken};
use keygate_device::transport::{self, Control, DeviceSpec};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

fn round_trips(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("token.json");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let spec = DeviceSpec::Udp(socket.local_addr().unwrap().to_string());
    let control = Arc::new(Control::default());
    let worker = Arc::clone(&control);
    let server = std::thread::spawn(move || {
        let attestation = Attestation {
            certificate: include_bytes!("../../fixtures/soft-token/attestation.der").to_vec(),
            private_key: Secret::new(
                include_bytes!("../../fixtures/soft-token/attestation-key.der").to_vec(),
            ),
        };
        let (mut token, _) =
            SoftToken::open_or_create(&state_path, &mut UnwrapErr(SysRng), attestation, Presence::Auto)
                .unwrap();
        transport::serve(&socket, &mut token, &worker).unwrap();
    });

    let mut u2f = U2fClient::new(CtapHidClient::open(spec.open().unwrap(), &mut UnwrapErr(SysRng)).unwrap());
    let app = app_param("localhost");
    let reg = u2f.register(&[1; 32], &app, Wait::default()).unwrap();
    let mut group = c.benchmark_group("soft_token_udp");
    group.bench_function("register", |b| b.iter(|| u2f.register(&[1; 32], &app, Wait::default()).unwrap()));
    group.bench_function("authenticate", |b| {
        b.iter(|| u2f.authenticate(&[2; 32], &app, &reg.key_handle, true, Wait::default()).unwrap())
    });
    // The same credential, used over CTAP2 on the same transport.
    let mut ctap2 =
        Ctap2Client::new(CtapHidClient::open(spec.open().unwrap(), &mut UnwrapErr(SysRng)).unwrap());
    let request = GetAssertion {
        rp_id: "localhost".into(),
        client_data_hash: [3; 32],
        allow_list: vec![reg.key_handle.clone()],
        options: Options::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    };
    group.bench_function("ctap2_get_assertion", |b| {
        b.iter(|| ctap2.get_assertion(request.clone(), Wait::default()).unwrap())
    });
    group.finish();
    control.stop();
    server.join().unwrap();
}

criterion_group!(benches, round_trips);
criterion_main!(benches);
