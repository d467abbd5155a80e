//! `call_id`: a non-negative decimal number, often fractional
//! (`1732384512.1453`), that must grow from call to call within a session.
//!
//! Floats would round long fractions and let a replayed call through, so the
//! value is kept as exact decimal digits and compared digit-wise.

use std::cmp::Ordering;
use std::fmt;

/// An exact non-negative decimal number in canonical form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallId {
    /// Integer digits without leading zeros ("0" for zero).
    int: String,
    /// Fraction digits without trailing zeros (may be empty).
    frac: String,
}

/// Longest accepted `call_id` text; real ones are timestamps or counters.
const MAX_LEN: usize = 64;

impl CallId {
    /// Parses `digits[.digits]`; anything else (signs, exponents, spaces,
    /// overlong text) is refused.
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > MAX_LEN {
            return None;
        }
        let (int, frac) = match text.split_once('.') {
            Some((int, frac)) => (int, frac),
            None => (text, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || (text.contains('.') && frac.is_empty()) {
            return None;
        }
        let int = int.trim_start_matches('0');
        Some(Self {
            int: if int.is_empty() { "0".to_owned() } else { int.to_owned() },
            frac: frac.trim_end_matches('0').to_owned(),
        })
    }
}

impl CallId {
    /// Whether this id comes after `last`, a recorded id's text; `None`
    /// when that text is not a call_id.
    pub fn follows(&self, last: &str) -> Option<bool> {
        Self::parse(last).map(|previous| *self > previous)
    }
}

impl Ord for CallId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.int
            .len()
            .cmp(&other.int.len())
            .then_with(|| self.int.cmp(&other.int))
            .then_with(|| self.frac.cmp(&other.frac))
    }
}

impl PartialOrd for CallId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for CallId {
    /// The canonical text, suitable for storing and parsing back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.frac.is_empty() { f.write_str(&self.int) } else { write!(f, "{}.{}", self.int, self.frac) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(s: &str) -> CallId {
        CallId::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn accepts_integers_and_fractions() {
        assert_eq!(id("42").to_string(), "42");
        assert_eq!(id("0042.5000").to_string(), "42.5");
        assert_eq!(id("1732384512.1453").to_string(), "1732384512.1453");
        assert_eq!(id("0").to_string(), "0");
    }

    #[test]
    fn follows_compares_with_the_recorded_text() {
        assert_eq!(id("1732384512.14530000000000001").follows("1732384512.1453"), Some(true));
        assert_eq!(id("1732384512.1453").follows("1732384512.14530"), Some(false), "the same id");
        assert_eq!(id("10").follows("9.999"), Some(true));
        assert_eq!(id("9").follows("10"), Some(false));
        assert_eq!(id("9").follows("ten"), None, "an unreadable record is not a verdict");
    }

    #[test]
    fn refuses_non_numbers() {
        for bad in ["", "-1", "+1", "1e5", " 1", "1.", ".5", "1.2.3", "abc", "NaN", "１", &"9".repeat(65)] {
            assert!(CallId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn orders_exactly_where_floats_would_not() {
        assert!(id("1732384512.1453") > id("1732384512.1452"));
        assert!(id("1732384512.14530000000000001") > id("1732384512.1453"));
        assert!(id("10") > id("9.999999"));
        assert_eq!(id("5.10").cmp(&id("5.1")), Ordering::Equal);
    }

    proptest! {
        #[test]
        fn order_matches_integers(a in 0u64..u64::MAX, b in 0u64..u64::MAX) {
            prop_assert_eq!(id(&a.to_string()).cmp(&id(&b.to_string())), a.cmp(&b));
        }

        #[test]
        fn canonical_text_round_trips(int in 0u32..1_000_000, frac in "[0-9]{0,12}") {
            let text = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
            let parsed = id(&text);
            prop_assert_eq!(CallId::parse(&parsed.to_string()), Some(parsed));
        }
    }
}
