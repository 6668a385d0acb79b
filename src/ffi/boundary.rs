//! The helper layer every exported function goes through (rustls-ffi style):
//! the panic boundary, the thread-local last error, the `WalError` to status
//! mapping, and the checked conversions of C pointers into Rust references.
//!
//! An exported function is then: convert the arguments (each conversion
//! returns `NWAL_ERR_INVALID_ARGUMENT` with a message on a NULL or
//! inconsistent pointer), call the engine, write the outputs.

use super::types::{nwal, nwal_status};
use crate::{Wal, WalError};
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

/// Why a call failed: the status returned to C, the message kept for
/// `nwal_last_error_message`, and the errno kept for `nwal_last_os_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: nwal_status,
    pub message: String,
    pub os_error: i32,
}

pub(crate) type FfiResult<T = ()> = Result<T, Failure>;

impl Failure {
    /// `NWAL_ERR_INVALID_ARGUMENT` with `message`.
    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure {
            status: nwal_status::NWAL_ERR_INVALID_ARGUMENT,
            message: message.into(),
            os_error: 0,
        }
    }

    fn panic(function: &str, payload: &(dyn Any + Send)) -> Failure {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(non-string panic payload)");
        Failure {
            status: nwal_status::NWAL_ERR_PANIC,
            message: format!("{function}: internal panic (a bug in nano_wal): {what}"),
            os_error: 0,
        }
    }

    fn poisoned(function: &str, what: &str) -> Failure {
        Failure {
            status: nwal_status::NWAL_ERR_PANIC,
            message: format!(
                "{function}: this {what} is poisoned by an earlier panic; only closing it is allowed"
            ),
            os_error: 0,
        }
    }
}

/// The status of each engine error. One arm per variant: a new variant must
/// be given its own code here (until then the wildcard maps it to `IO`, the
/// code a caller already treats as "the operation failed, see the message").
pub(crate) fn status_of(e: &WalError) -> nwal_status {
    match e {
        WalError::Io { .. } => nwal_status::NWAL_ERR_IO,
        WalError::InvalidConfig(_) => nwal_status::NWAL_ERR_INVALID_CONFIG,
        WalError::InvalidArgument(_) => nwal_status::NWAL_ERR_INVALID_ARGUMENT,
        WalError::CorruptedData { .. } => nwal_status::NWAL_ERR_CORRUPTED_DATA,
        WalError::HeaderTooLarge { .. } => nwal_status::NWAL_ERR_HEADER_TOO_LARGE,
        WalError::Shutdown => nwal_status::NWAL_ERR_SHUTDOWN,
        WalError::SegmentNotFound(_) => nwal_status::NWAL_ERR_NOT_FOUND,
        WalError::Locked(_) => nwal_status::NWAL_ERR_LOCKED,
        // `WalError` is #[non_exhaustive]: see the comment above.
        #[allow(unreachable_patterns)]
        _ => nwal_status::NWAL_ERR_IO,
    }
}

impl From<WalError> for Failure {
    fn from(e: WalError) -> Failure {
        Failure {
            status: status_of(&e),
            message: e.to_string(),
            os_error: e.os_error().unwrap_or(0),
        }
    }
}

struct LastError {
    message: CString,
    os_error: i32,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError {
        message: CString::default(),
        os_error: 0,
    });
}

/// Keep `f` as this thread's last error and return its status.
fn record(f: Failure) -> nwal_status {
    let message = CString::new(f.message.replace('\0', "\\0")).unwrap_or_default();
    // `try_with` fails only while the thread is being torn down; then the
    // message is dropped but the status still reaches the caller.
    let _ = LAST_ERROR.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            last.message = message;
            last.os_error = f.os_error;
        }
    });
    f.status
}

/// This thread's last error message (`""` if none). Valid until the next
/// failing call on this thread.
pub(crate) fn last_error_message() -> *const c_char {
    LAST_ERROR
        .try_with(|last| last.borrow().message.as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// This thread's last errno (0 if the last failure was not an OS error).
pub(crate) fn last_os_error() -> i32 {
    LAST_ERROR
        .try_with(|last| last.borrow().os_error)
        .unwrap_or(0)
}

/// Run `f` behind the panic boundary: its error (or panic) becomes this
/// thread's last error and the returned status.
///
/// Inlined into each export (it is generic, so each already has its own
/// copy): called per record by `nwal_iter_next`, the separate function cost
/// ~6 ns of a ~45 ns replayed record, its `Result` passed through memory.
#[inline]
pub(crate) fn call(function: &str, f: impl FnOnce() -> FfiResult) -> nwal_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => nwal_status::NWAL_OK,
        Ok(Err(failure)) => record(failure),
        Err(payload) => record(Failure::panic(function, &*payload)),
    }
}

/// Run `f` behind the panic boundary, returning `fallback` if it panics
/// (for the few functions that cannot fail and return a value).
pub(crate) fn value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Run `f` on the handle `w`: NULL gives `NWAL_ERR_INVALID_ARGUMENT`, a
/// poisoned handle `NWAL_ERR_PANIC`, and a panic inside `f` poisons it.
pub(crate) fn with_wal(
    function: &str,
    w: *const nwal,
    f: impl FnOnce(&Wal) -> FfiResult,
) -> nwal_status {
    call(function, || {
        // SAFETY: the caller passes NULL or a handle from `nwal_open` that
        // `nwal_close` has not freed (the header's contract); other threads
        // may use it concurrently, which `&nwal` allows (`nwal` is Sync).
        let handle = unsafe { w.as_ref() }
            .ok_or_else(|| Failure::invalid(format!("{function}: the handle is NULL")))?;
        if handle.poisoned.load(Ordering::Acquire) {
            return Err(Failure::poisoned(function, "handle"));
        }
        match catch_unwind(AssertUnwindSafe(|| f(&handle.wal))) {
            Ok(result) => result,
            Err(payload) => {
                handle.poisoned.store(true, Ordering::Release);
                Err(Failure::panic(function, &*payload))
            }
        }
    })
}

/// Prefix an engine error with the function name, keeping its status.
pub(crate) fn engine(function: &str) -> impl Fn(WalError) -> Failure + '_ {
    move |e| {
        let mut f = Failure::from(e);
        f.message = format!("{function}: {}", f.message);
        f
    }
}

/// `len` bytes at `ptr`; NULL is allowed only when `len` is 0.
///
/// # Safety
/// If `ptr` is not NULL it must point to `len` readable bytes that stay
/// valid and unmodified for `'a`.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    what: impl std::fmt::Display,
) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::invalid(format!(
            "{what} is NULL but its length is {len}"
        )));
    }
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!(
            "{what} length {len} is too large"
        )));
    }
    // SAFETY: non-NULL, length checked above, readability promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An optional record header: NULL with length 0 is "no header".
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn header<'a>(
    ptr: *const u8,
    len: usize,
    what: impl std::fmt::Display,
) -> FfiResult<Option<&'a [u8]>> {
    if ptr.is_null() && len == 0 {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { bytes(ptr, len, what) }.map(Some)
}

/// `count` values of `T` at `ptr`; NULL is allowed only when `count` is 0.
///
/// # Safety
/// If `ptr` is not NULL it must point to `count` initialised, aligned values
/// valid for `'a`.
pub(crate) unsafe fn array<'a, T>(ptr: *const T, count: usize, what: &str) -> FfiResult<&'a [T]> {
    if count == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::invalid(format!(
            "{what} is NULL but count is {count}"
        )));
    }
    if count
        .checked_mul(std::mem::size_of::<T>())
        .is_none_or(|n| n > isize::MAX as usize)
    {
        return Err(Failure::invalid(format!(
            "{what} count {count} is too large"
        )));
    }
    // SAFETY: non-NULL, size checked above, validity promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

/// A required output pointer: NULL gives `NWAL_ERR_INVALID_ARGUMENT`.
pub(crate) fn required<T>(ptr: *mut T, what: &str) -> FfiResult<*mut T> {
    if ptr.is_null() {
        Err(Failure::invalid(format!("{what} is NULL")))
    } else {
        Ok(ptr)
    }
}

/// A NUL-terminated C string.
///
/// # Safety
/// If `ptr` is not NULL it must point to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, what: &str) -> FfiResult<&'a CStr> {
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// `NWAL_DURABLE` from an append's flags; any other bit is an error.
pub(crate) fn durable(flags: u32, function: &str) -> FfiResult<bool> {
    let known = super::NWAL_DURABLE;
    if flags & !known != 0 {
        return Err(Failure::invalid(format!(
            "{function}: unknown flag bits {:#x} (only NWAL_DURABLE is defined)",
            flags & !known
        )));
    }
    Ok(flags & super::NWAL_DURABLE != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_engine_error_has_its_own_status() {
        use nwal_status::*;
        let io = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let cases = [
            (WalError::io("writing", io), NWAL_ERR_IO),
            (WalError::InvalidConfig("x".into()), NWAL_ERR_INVALID_CONFIG),
            (
                WalError::InvalidArgument("x".into()),
                NWAL_ERR_INVALID_ARGUMENT,
            ),
            (WalError::corrupted(1, 2, "x"), NWAL_ERR_CORRUPTED_DATA),
            (
                WalError::HeaderTooLarge { size: 1, max: 0 },
                NWAL_ERR_HEADER_TOO_LARGE,
            ),
            (WalError::Shutdown, NWAL_ERR_SHUTDOWN),
            (WalError::SegmentNotFound(3), NWAL_ERR_NOT_FOUND),
            (WalError::Locked("x".into()), NWAL_ERR_LOCKED),
        ];
        for (e, status) in cases {
            assert_eq!(status_of(&e), status, "{e:?}");
        }
    }

    #[test]
    fn failures_set_the_thread_local_message_and_errno() {
        let e = WalError::io("writing", std::io::Error::from_raw_os_error(libc::ENOSPC));
        let status = call("f", || Err(e.into()));
        assert_eq!(status, nwal_status::NWAL_ERR_IO);
        assert_eq!(last_os_error(), libc::ENOSPC);
        // SAFETY: the pointer is this thread's message, valid until the next failure.
        let msg = unsafe { CStr::from_ptr(last_error_message()) };
        assert!(msg.to_str().unwrap().contains("writing"));
        // A success leaves them; another thread has its own.
        assert_eq!(call("f", || Ok(())), nwal_status::NWAL_OK);
        assert_eq!(last_os_error(), libc::ENOSPC);
        std::thread::spawn(|| assert_eq!(last_os_error(), 0))
            .join()
            .unwrap();
    }

    #[test]
    fn a_panic_becomes_a_status() {
        let status = call("f", || panic!("boom"));
        assert_eq!(status, nwal_status::NWAL_ERR_PANIC);
        // SAFETY: as above.
        let msg = unsafe { CStr::from_ptr(last_error_message()) };
        assert!(msg.to_str().unwrap().contains("boom"));
        assert_eq!(value(7, || -> i32 { panic!("boom") }), 7);
    }
}
