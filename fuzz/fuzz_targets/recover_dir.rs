// SPDX-License-Identifier: MIT
//! libFuzzer target: recovery of a directory of arbitrary bytes
//! (`fuzzing::recover_dir`: the input is one to three segment files).
#![no_main]

#[path = "../../tests/fuzzing/mod.rs"]
mod fuzzing;
mod scratch;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzzing::recover_dir(scratch::scratch("recover_dir"), data);
});
