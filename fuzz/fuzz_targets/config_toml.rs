//! The config file is operator input: any bytes must give a config or an
//! error, never a panic.
#![no_main]

use figment::Figment;
use figment::providers::{Format, Toml};
use keygate::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Figment::from(Toml::string(text)).extract::<Config>();
    }
});
