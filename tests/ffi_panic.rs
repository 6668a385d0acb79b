// SPDX-License-Identifier: MIT
//! With the cargo feature `test-panic`: a panic inside an exported function
//! returns NWAL_ERR_PANIC (the process goes on) and poisons the handle; only
//! nwal_close is still accepted. Run: cargo test --features test-panic --test ffi_panic
#![cfg(feature = "test-panic")]

use nano_wal::ffi::*;
use std::ffi::{CStr, CString};
use std::ptr;

#[test]
fn panic_returns_status_and_poisons_the_handle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CString::new(tmp.path().to_str().unwrap()).unwrap();
    let mut w: *mut nwal = ptr::null_mut();
    // SAFETY: valid C strings and out pointer; the handle is used on this thread only.
    unsafe {
        assert_eq!(
            nwal_open(dir.as_ptr(), c"s".as_ptr(), ptr::null(), &mut w),
            nwal_status::NWAL_OK
        );
        assert_eq!(nwal_test_panic(w), nwal_status::NWAL_ERR_PANIC);
        let msg = CStr::from_ptr(nwal_last_error_message()).to_str().unwrap();
        assert!(msg.contains("deliberate panic"), "{msg}");
        let content = b"x";
        assert_eq!(
            nwal_append(
                w,
                ptr::null(),
                0,
                content.as_ptr(),
                1,
                0,
                0,
                ptr::null_mut()
            ),
            nwal_status::NWAL_ERR_PANIC
        );
        assert_eq!(nwal_sync(w), nwal_status::NWAL_ERR_PANIC);
        assert_eq!(nwal_close(w), nwal_status::NWAL_OK);
    }
}
