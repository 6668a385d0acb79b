// SPDX-License-Identifier: MIT
//! libFuzzer target: the record decoder and the segment scanner
//! (`fuzzing::segment`: the input is the body of a segment).
#![no_main]

#[path = "../../tests/fuzzing/mod.rs"]
mod fuzzing;
mod scratch;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzzing::segment(scratch::scratch("segment"), data);
});
