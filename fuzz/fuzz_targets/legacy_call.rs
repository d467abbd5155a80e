//! Legacy REST parameters come straight from the network: any query and body
//! must decode, validate and render an answer without panicking.
#![no_main]

use keygate::legacy::{Call, Params, render_error};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (query, body) = data.split_at(split);
    match Params::from_request(query, body.get(1..).unwrap_or_default()) {
        Ok(params) => {
            if let Err(refusal) = Call::parse(params.clone(), None) {
                let _ = render_error(&refusal.error, params.pairs(), &refusal.rendering);
            }
            let _ = params.sig_matches("secret");
        }
        Err((error, args)) => {
            let _ = render_error(&error, &args, &Default::default());
        }
    }
});
