//! The soft token as a real third-party host sees it: python-fido2 drives
//! `keygate soft-token serve` over UDP and over a Unix datagram socket.

use crate::common;

#[test]
fn python_fido2_drives_the_soft_token() {
    common::pytest("test_soft_token.py", &[]);
}
