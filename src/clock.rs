//! The one place the service reads the wall clock. Everything below the edges
//! (store, verification, login state) takes `now` as an argument instead, so
//! tests decide what time it is.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 if the clock is set before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
