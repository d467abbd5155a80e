//! Spans of time in the configuration written as people write them (`400d`,
//! `12h`, `90m`), for settings whose natural unit is days or more, where a
//! count of seconds would be unreadable.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration read with humantime's syntax (`400d`, `1h 30m`, `2weeks`) and
/// written back in the largest unit that divides it (`400d`), so a printed
/// configuration reads as the file did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Whole days.
    pub const fn days(days: u64) -> Self {
        Self(Duration::from_secs(days * 86_400))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        if self.0.subsec_nanos() != 0 {
            return write!(f, "{}", humantime::format_duration(self.0));
        }
        for (unit, name) in [(86_400, "d"), (3_600, "h"), (60, "m")] {
            if secs != 0 && secs.is_multiple_of(unit) {
                return write!(f, "{}{name}", secs / unit);
            }
        }
        write!(f, "{secs}s")
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = HumanDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with its unit, such as \"400d\" or \"12h\"")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<HumanDuration, E> {
                humantime::parse_duration(text).map(HumanDuration).map_err(|e| {
                    E::custom(format!(
                        "{text:?} is not a duration ({e}): write it as \"400d\", \"12h\" or \"90m\""
                    ))
                })
            }

            // A bare number (`30`, or KEYGATE_…=30) could mean seconds or
            // days; refusing it beats guessing wrong by a factor of 86400.
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<HumanDuration, E> {
                Err(E::custom(format!("{n} has no unit: write it as \"{n}d\", \"{n}h\" or \"{n}s\"")))
            }

            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<HumanDuration, E> {
                Err(E::custom(format!("{n} has no unit: write a duration such as \"400d\"")))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Doc {
        span: HumanDuration,
    }

    fn parse(text: &str) -> Result<HumanDuration, String> {
        toml::from_str::<Doc>(text).map(|d| d.span).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_humantime_and_writes_the_largest_whole_unit() {
        assert_eq!(parse("span = \"400d\"").unwrap(), HumanDuration::days(400));
        assert_eq!(parse("span = \"2weeks\"").unwrap(), HumanDuration::days(14));
        assert_eq!(parse("span = \"1h 30m\"").unwrap(), HumanDuration(Duration::from_secs(5400)));
        for (secs, shown) in
            [(400 * 86_400, "400d"), (36 * 3600, "36h"), (5400, "90m"), (61, "61s"), (0, "0s")]
        {
            let span = HumanDuration(Duration::from_secs(secs));
            assert_eq!(span.to_string(), shown);
            let text = toml::to_string(&Doc { span }).unwrap();
            assert_eq!(parse(&text).unwrap(), span, "{text}");
        }
    }

    #[test]
    fn numbers_without_a_unit_and_nonsense_are_refused() {
        let err = parse("span = 30").unwrap_err();
        assert!(err.contains("30 has no unit"), "{err}");
        let err = parse("span = \"forever\"").unwrap_err();
        assert!(err.contains("\"forever\" is not a duration"), "{err}");
    }
}
