//! `X-Forwarded-For` is attacker-controlled: any header bytes, with or without
//! a trusted proxy in front, must give an address and never panic. A client
//! that is not a trusted proxy must always be taken at its socket address.
#![no_main]

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};
use keygate::web::resolve_client_addr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for part in data.split(|b| *b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(part) {
            headers.append("x-forwarded-for", value);
        }
    }
    let trusted = ["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
    let proxy: IpAddr = "10.0.0.1".parse().unwrap();
    let _ = resolve_client_addr(proxy, &headers, &trusted);
    let outsider: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(resolve_client_addr(outsider, &headers, &trusted), outsider);
});
