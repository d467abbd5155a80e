//! The signature-counter rule, the one clone signal U2F offers.
//!
//! An authenticator increments its counter on every signature. A counter that
//! does not move forward means the same key material signed somewhere else
//! since the last login: the key may have been cloned. Keys without a counter
//! always send 0, so 0 after 0 is accepted. The value to store is the one the
//! authenticator asserted (it may jump, since one key serves many sites),
//! never `stored + 1`.

/// What to do with a login, judged on its counter alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum CounterVerdict {
    /// The counter moved forward (or both are 0): store `new_counter`.
    Accept {
        /// The value to store, compare-and-set, for this key.
        new_counter: u32,
    },
    /// The counter did not move forward: refuse the login, flag the key.
    PossibleClone {
        /// The counter the store held.
        stored: u32,
        /// The counter the authenticator sent.
        asserted: u32,
    },
}

impl CounterVerdict {
    /// Applies the rule: `asserted > stored`, or both 0.
    pub fn judge(stored: u32, asserted: u32) -> Self {
        if asserted > stored || (asserted == 0 && stored == 0) {
            CounterVerdict::Accept { new_counter: asserted }
        } else {
            CounterVerdict::PossibleClone { stored, asserted }
        }
    }

    /// True when the login may go on.
    pub fn is_accept(&self) -> bool {
        matches!(self, CounterVerdict::Accept { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_rule_at_its_edges() {
        assert_eq!(CounterVerdict::judge(0, 0), CounterVerdict::Accept { new_counter: 0 });
        assert_eq!(CounterVerdict::judge(0, 1), CounterVerdict::Accept { new_counter: 1 });
        assert_eq!(CounterVerdict::judge(5, 900), CounterVerdict::Accept { new_counter: 900 });
        assert_eq!(CounterVerdict::judge(5, 5), CounterVerdict::PossibleClone { stored: 5, asserted: 5 });
        assert_eq!(CounterVerdict::judge(5, 4), CounterVerdict::PossibleClone { stored: 5, asserted: 4 });
        assert_eq!(CounterVerdict::judge(1, 0), CounterVerdict::PossibleClone { stored: 1, asserted: 0 });
        assert!(CounterVerdict::judge(u32::MAX - 1, u32::MAX).is_accept());
        assert!(!CounterVerdict::judge(u32::MAX, u32::MAX).is_accept());
    }

    proptest! {
        #[test]
        fn accepts_exactly_forward_moves(stored: u32, asserted: u32) {
            let verdict = CounterVerdict::judge(stored, asserted);
            let forward = asserted > stored || (asserted == 0 && stored == 0);
            prop_assert_eq!(verdict.is_accept(), forward);
            if let CounterVerdict::Accept { new_counter } = verdict {
                prop_assert_eq!(new_counter, asserted);
            }
        }
    }
}
