// SPDX-License-Identifier: MIT
//! libFuzzer target: the metadata file's slot decoder and the choice of
//! its current slot at open (`fuzzing::meta_file`: the input is the two
//! slots' bytes).
#![no_main]

#[path = "../../tests/fuzzing/mod.rs"]
mod fuzzing;
mod scratch;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzzing::meta_file(scratch::scratch("meta_file"), data);
});
