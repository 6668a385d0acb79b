// SPDX-License-Identifier: MIT
//! A stand-in for another Rust component of a C program: it uses std
//! (allocation, formatting) and unwinds (a panic caught inside), so its std
//! and its personality routine are really linked in.

use std::ffi::c_int;

/// Sums `0..n` through a `Vec` and returns it, or -1 for a negative `n`.
#[no_mangle]
pub extern "C" fn other_rust_sum(n: c_int) -> i64 {
    if n < 0 {
        return -1;
    }
    let v: Vec<i64> = (0..i64::from(n)).collect();
    v.iter().sum()
}

/// Panics and catches it inside: 1 when the panic was caught with its
/// message, 0 otherwise. Unwinding goes through this library's own
/// personality routine and unwinding tables.
#[no_mangle]
pub extern "C" fn other_rust_unwinds() -> c_int {
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(|| -> i32 { panic!("{}", format!("other {}", 7)) });
    let _ = std::panic::take_hook();
    match r {
        Err(e) => c_int::from(e.downcast_ref::<String>().map(String::as_str) == Some("other 7")),
        Ok(_) => 0,
    }
}
