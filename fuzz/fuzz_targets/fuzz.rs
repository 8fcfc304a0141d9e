//! The libFuzzer binary: runs the target named by `RIVET_FUZZ_TARGET` (see `src/lib.rs`).
#![no_main]

use std::sync::OnceLock;

static TARGET: OnceLock<fn(&[u8])> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let target = TARGET.get_or_init(|| {
        let name = std::env::var("RIVET_FUZZ_TARGET").unwrap_or_default();
        rivet_fuzz::target(&name)
            .unwrap_or_else(|| panic!("RIVET_FUZZ_TARGET must be one of {:?}", rivet_fuzz::names()))
    });
    target(data);
});
