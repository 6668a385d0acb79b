// SPDX-License-Identifier: MIT
//! The panic boundary every exported function runs behind: `call` for
//! functions without a handle, `with_handle` for those on an `nwal` or an
//! `nwal_iter` (NULL check and poisoning), `release` for those that free
//! an object. Also the thread-local last error and the mapping of engine
//! errors to statuses.

use super::types::nwal_status;
use crate::WalError;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};

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

    #[cold]
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

    #[cold]
    fn poisoned(function: &str, what: &str, release: &str) -> Failure {
        Failure {
            status: nwal_status::NWAL_ERR_PANIC,
            message: format!(
                "{function}: this {what} is poisoned by an earlier panic; only {release} is allowed"
            ),
            os_error: 0,
        }
    }

    #[cold]
    fn null_handle(function: &str, what: &str) -> Failure {
        Failure::invalid(format!("{function}: the {what} is NULL"))
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
        WalError::SegmentNotFound(_)
        | WalError::IndexNotFound { .. }
        | WalError::MetaKeyNotFound(_) => nwal_status::NWAL_ERR_NOT_FOUND,
        WalError::Locked(_) => nwal_status::NWAL_ERR_LOCKED,
        WalError::CorruptedFile { .. } => nwal_status::NWAL_ERR_CORRUPTED_DATA,
        WalError::BufferTooSmall { .. } => nwal_status::NWAL_ERR_BUFFER_TOO_SMALL,
        WalError::ClockSkew { .. } => nwal_status::NWAL_ERR_CLOCK_SKEW,
        WalError::Held { .. } => nwal_status::NWAL_ERR_HELD,
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
#[cold]
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

/// What a call that succeeded returns to C: `NWAL_OK` for `()`, or a
/// status of its own (`NWAL_DONE`).
pub(crate) trait Success {
    fn status(self) -> nwal_status;
}

impl Success for () {
    #[inline]
    fn status(self) -> nwal_status {
        nwal_status::NWAL_OK
    }
}

impl Success for nwal_status {
    #[inline]
    fn status(self) -> nwal_status {
        self
    }
}

/// Run `f` behind the panic boundary: its error (or panic) becomes this
/// thread's last error and the returned status.
///
/// Inlined into each export (it is generic, so each already has its own
/// copy): called per record by `nwal_iter_next`, the separate function cost
/// ~6 ns of a ~45 ns replayed record, its `Result` passed through memory.
#[inline]
pub(crate) fn call<S: Success>(function: &str, f: impl FnOnce() -> FfiResult<S>) -> nwal_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(success)) => success.status(),
        Ok(Err(failure)) => record(failure),
        Err(payload) => record(Failure::panic(function, &*payload)),
    }
}

/// Run `f` behind the panic boundary, returning `fallback` if it panics
/// (for the few functions that cannot fail and return a value).
pub(crate) fn value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// The poisoned flag of a handle, as its borrow reaches it.
pub(crate) trait PoisonFlag {
    fn is_set(&self) -> bool;
    fn set(self);
}

/// A handle shared between threads.
impl PoisonFlag for &AtomicBool {
    #[inline]
    fn is_set(&self) -> bool {
        self.load(Ordering::Acquire)
    }
    fn set(self) {
        self.store(true, Ordering::Release);
    }
}

/// A handle one thread uses at a time.
impl PoisonFlag for &mut bool {
    #[inline]
    fn is_set(&self) -> bool {
        **self
    }
    fn set(self) {
        *self = true;
    }
}

/// An object that C holds between calls and passes back as the first
/// argument of its functions: `nwal` (shared by threads) or `nwal_iter`
/// (one thread at a time). A panic in a call on it poisons it.
pub(crate) trait Handle: Sized {
    /// How messages name it ("handle", "iterator").
    const NAME: &'static str;
    /// The one function a poisoned object still accepts.
    const RELEASE: &'static str;
    /// What the exported function works on: `&Wal`, `&mut Replay`.
    type Target<'a>
    where
        Self: 'a;
    /// How the poisoned flag is reached beside the target.
    type Flag<'a>: PoisonFlag
    where
        Self: 'a;

    /// Borrow the flag and the target.
    ///
    /// # Safety
    /// `this` points to a live object of this type, borrowed as the
    /// header's thread rules allow (shared, or by one thread) for `'a`.
    unsafe fn borrow<'a>(this: NonNull<Self>) -> (Self::Flag<'a>, Self::Target<'a>);
}

/// Run `f` on the object at `ptr`, behind the panic boundary: NULL gives
/// `NWAL_ERR_INVALID_ARGUMENT`, a poisoned object `NWAL_ERR_PANIC`, and a
/// panic inside `f` poisons it.
///
/// `ptr` is trusted as the exported function's precondition states it:
/// NULL, or an object returned by its constructor, not yet released and
/// used as the thread rules allow. Inlined, like [`call`], and with a
/// single `catch_unwind` (the checks before it cannot panic): it runs per
/// record in `nwal_iter_next`, where wrapping it in `call` cost ~13
/// instructions per record (callgrind).
#[inline]
pub(crate) fn with_handle<H: Handle, S: Success>(
    function: &str,
    ptr: *mut H,
    f: impl for<'a> FnOnce(H::Target<'a>) -> FfiResult<S>,
) -> nwal_status {
    let Some(ptr) = NonNull::new(ptr) else {
        return record(Failure::null_handle(function, H::NAME));
    };
    // SAFETY: not NULL, and live and borrowed as the thread rules allow
    // per the exported function's precondition (above).
    let (poisoned, target) = unsafe { H::borrow(ptr) };
    if poisoned.is_set() {
        return record(Failure::poisoned(function, H::NAME, H::RELEASE));
    }
    match catch_unwind(AssertUnwindSafe(|| f(target))) {
        Ok(Ok(success)) => success.status(),
        Ok(Err(failure)) => record(failure),
        Err(payload) => {
            poisoned.set();
            record(Failure::panic(function, &*payload))
        }
    }
}

/// An object handed to C in a `Box` ([`super::ptr::Out::write_box`]) and
/// freed by its own release function.
pub(crate) trait Owned: Sized {
    /// Work before the memory is freed (closing a log syncs it); its error
    /// is the release function's status.
    fn release(&self) -> Result<(), WalError> {
        Ok(())
    }
}

/// Release the object at `ptr` (NULL: nothing to do) and free it, behind
/// the panic boundary. A panic while releasing leaks the object rather
/// than drop it half-released (a log's drop would run the shutdown again).
///
/// `ptr` is trusted as the release function's precondition states it:
/// NULL, or an object returned by its constructor, not yet released, that
/// no other thread is using.
pub(crate) fn release<T: Owned>(function: &str, ptr: *mut T) -> nwal_status {
    call(function, || {
        if ptr.is_null() {
            return Ok(());
        }
        // SAFETY: from `Box::into_raw` (`Out::write_box`), not freed yet and
        // not in use elsewhere, per the precondition (above).
        let object = unsafe { Box::from_raw(ptr) };
        match catch_unwind(AssertUnwindSafe(|| object.release())) {
            Ok(result) => {
                drop(object);
                result.map_err(engine(function))
            }
            Err(payload) => {
                std::mem::forget(object);
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
            (
                WalError::IndexNotFound {
                    index: 9,
                    first: 1,
                    last: 8,
                },
                NWAL_ERR_NOT_FOUND,
            ),
            (WalError::Locked("x".into()), NWAL_ERR_LOCKED),
            (
                WalError::CorruptedFile {
                    path: "s.meta".into(),
                    detail: "x".into(),
                },
                NWAL_ERR_CORRUPTED_DATA,
            ),
            (WalError::MetaKeyNotFound("k".into()), NWAL_ERR_NOT_FOUND),
            (
                WalError::BufferTooSmall {
                    needed: 5,
                    capacity: 4,
                },
                NWAL_ERR_BUFFER_TOO_SMALL,
            ),
            (
                WalError::ClockSkew {
                    now_ms: 10,
                    newest_window_end_ms: 5,
                    max_skew_ms: 1,
                },
                NWAL_ERR_CLOCK_SKEW,
            ),
            (
                WalError::Held {
                    index: 5,
                    hold: "h".into(),
                    held_index: 3,
                },
                NWAL_ERR_HELD,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(status_of(&e), status, "{e:?}");
        }
    }

    #[test]
    fn failures_set_the_thread_local_message_and_errno() {
        let e = WalError::io("writing", std::io::Error::from_raw_os_error(libc::ENOSPC));
        let status = call("f", || -> FfiResult { Err(e.into()) });
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
        let status = call("f", || -> FfiResult { panic!("boom") });
        assert_eq!(status, nwal_status::NWAL_ERR_PANIC);
        // SAFETY: as above.
        let msg = unsafe { CStr::from_ptr(last_error_message()) };
        assert!(msg.to_str().unwrap().contains("boom"));
        assert_eq!(value(7, || -> i32 { panic!("boom") }), 7);
    }

    /// A single-thread handle like `nwal_iter`, to test the generic boundary.
    struct Counter {
        poisoned: bool,
        n: u32,
    }

    impl Handle for Counter {
        const NAME: &'static str = "counter";
        const RELEASE: &'static str = "counter_free";
        type Target<'a> = &'a mut u32;
        type Flag<'a> = &'a mut bool;

        unsafe fn borrow<'a>(this: NonNull<Self>) -> (&'a mut bool, &'a mut u32) {
            // SAFETY: the tests pass a live, unshared Counter.
            let c = unsafe { &mut *this.as_ptr() };
            (&mut c.poisoned, &mut c.n)
        }
    }

    #[test]
    fn a_panic_poisons_the_handle_it_happened_on() {
        let mut c = Counter {
            poisoned: false,
            n: 0,
        };
        let bump = |n: &mut u32| -> FfiResult {
            *n += 1;
            Ok(())
        };
        assert_eq!(with_handle("f", &mut c, bump), nwal_status::NWAL_OK);
        let null = std::ptr::null_mut::<Counter>();
        assert_eq!(
            with_handle("f", null, bump),
            nwal_status::NWAL_ERR_INVALID_ARGUMENT
        );
        let boom = |_: &mut u32| -> FfiResult { panic!("boom") };
        assert_eq!(with_handle("f", &mut c, boom), nwal_status::NWAL_ERR_PANIC);
        assert_eq!(with_handle("g", &mut c, bump), nwal_status::NWAL_ERR_PANIC);
        // SAFETY: as above.
        let msg = unsafe { CStr::from_ptr(last_error_message()) };
        assert!(
            msg.to_str().unwrap().contains("only counter_free"),
            "{msg:?}"
        );
        assert_eq!(c.n, 1);
    }

    struct Failing;

    impl Owned for Failing {
        fn release(&self) -> Result<(), WalError> {
            Err(WalError::Shutdown)
        }
    }

    #[test]
    fn release_reports_the_release_error_and_frees() {
        let ptr = Box::into_raw(Box::new(Failing));
        assert_eq!(release("free_it", ptr), nwal_status::NWAL_ERR_SHUTDOWN);
        // SAFETY: as above.
        let msg = unsafe { CStr::from_ptr(last_error_message()) };
        assert!(msg.to_str().unwrap().starts_with("free_it: "), "{msg:?}");
        assert_eq!(
            release("free_it", std::ptr::null_mut::<Failing>()),
            nwal_status::NWAL_OK
        );
    }
}
