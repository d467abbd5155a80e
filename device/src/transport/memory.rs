//! The soft token in the same process: a host writes reports and reads the
//! answers with no socket in between, for tests of host code.

use std::time::Instant;

use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

use crate::ctaphid::REPORT_SIZE;
use crate::soft::SoftToken;

/// An in-process connection to a token.
#[derive(Debug)]
pub struct MemoryLink {
    token: SoftToken<()>,
    inbox: std::collections::VecDeque<[u8; REPORT_SIZE]>,
}

impl MemoryLink {
    /// Connects to `token`.
    pub fn new(token: SoftToken<()>) -> Self {
        MemoryLink { token, inbox: Default::default() }
    }

    /// Delivers one report to the token, as a write to the HID device would.
    pub fn write_report(&mut self, report: &[u8]) {
        self.token.handle_report(Instant::now(), &mut UnwrapErr(SysRng), (), report);
        while let Some(t) = self.token.poll_transmit() {
            self.inbox.push_back(t.report);
        }
    }

    /// The next report the token sent, if any.
    pub fn read_report(&mut self) -> Option<[u8; REPORT_SIZE]> {
        self.token.handle_timeout(Instant::now());
        while let Some(t) = self.token.poll_transmit() {
            self.inbox.push_back(t.report);
        }
        self.inbox.pop_front()
    }

    /// The token, e.g. to approve presence.
    pub fn token_mut(&mut self) -> &mut SoftToken<()> {
        &mut self.token
    }
}
