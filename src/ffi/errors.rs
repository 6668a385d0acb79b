// SPDX-License-Identifier: MIT
//! Errors and version: `nwal_status_name`, `nwal_last_error_message`,
//! `nwal_last_os_error`, `nwal_version` (and the test-only `nwal_test_panic`).

// Doxygen's `@param[in]` is not an intra-doc link.
#![allow(rustdoc::broken_intra_doc_links)]

use super::boundary;
use super::types::nwal_status;
use std::ffi::{c_char, c_int};
#[cfg(feature = "test-panic")]
use {super::boundary::with_handle, super::types::nwal, crate::Wal};

/// Errors and version
/// ==================
///
/// A failed call returns its `nwal_status`; the calling thread keeps the
/// message of its last failure (`nwal_last_error_message`) and, for
/// `NWAL_ERR_IO`, the errno (`nwal_last_os_error`), until its next failure.
///
/// ---
///
/// The name of a status, exactly as the enumerator is spelt (e.g.
/// `"NWAL_ERR_IO"`).
///
/// @param[in] status a status, as an `int` so that any value may be passed.
///
/// @return a static NUL-terminated string, never NULL: values that are not
///         an `nwal_status` give `"NWAL_UNKNOWN_STATUS"`. Never free it.
///
/// Thread-safe.
///
/// @since 0.1 (symbol version NWAL_0.1)
#[no_mangle]
pub extern "C" fn nwal_status_name(status: c_int) -> *const c_char {
    nwal_status::from_c_int(status)
        .map_or(c"NWAL_UNKNOWN_STATUS", nwal_status::name)
        .as_ptr()
}

/// The message of the last failed call on this thread, naming the function
/// and what went wrong; `""` if no call failed yet on this thread. A
/// success does not clear it.
///
/// @return a NUL-terminated string owned by the library, valid until the
///         next failing `nwal_*` call on this thread (or its exit). Never
///         free it; copy it to keep it.
///
/// Thread-safe: each thread has its own.
///
/// @since 0.1 (symbol version NWAL_0.1)
#[no_mangle]
pub extern "C" fn nwal_last_error_message() -> *const c_char {
    boundary::value(c"".as_ptr(), boundary::last_error_message)
}

/// The OS error number (errno) behind the last failed call on this thread,
/// or 0 if that failure was not an OS error (or no call failed yet).
///
/// @return the errno, or 0.
///
/// Thread-safe: each thread has its own.
///
/// @since 0.1 (symbol version NWAL_0.1)
#[no_mangle]
pub extern "C" fn nwal_last_os_error() -> c_int {
    boundary::value(0, boundary::last_os_error)
}

/// The library's version, `"MAJOR.MINOR.PATCH"`: compare it with the
/// `NWAL_VERSION_*` macros of the header the caller was compiled with.
///
/// @return a static NUL-terminated string. Never free it.
///
/// Thread-safe.
///
/// @since 0.1 (symbol version NWAL_0.1)
#[no_mangle]
pub extern "C" fn nwal_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Test-only (cargo feature `test-panic`, never in the header): panics
/// inside the boundary of handle `w`, which must return `NWAL_ERR_PANIC`
/// and poison `w`.
///
/// # Safety
/// - `w` is NULL or a handle returned by `nwal_open` and not yet passed to
///   `nwal_close`.
#[cfg(feature = "test-panic")]
#[no_mangle]
pub unsafe extern "C" fn nwal_test_panic(w: *mut nwal) -> nwal_status {
    with_handle("nwal_test_panic", w, |_: &Wal| -> boundary::FfiResult {
        panic!("deliberate panic from nwal_test_panic")
    })
}
