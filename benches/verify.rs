//! Placeholder until the verification bench lands.

fn main() {}
