// SPDX-License-Identifier: MIT
//! C pointers into Rust: input pointers become slices, strings and
//! references (checked for NULL and size), output pointers become `Out`,
//! `OptionalOut` and `OutSlots`, whose writes are safe calls.
//!
//! Each constructor is an `unsafe fn` whose precondition is the exported
//! function's: "NULL or valid for this use". The checks here turn what
//! can be checked (NULL, a size that cannot exist) into
//! `NWAL_ERR_INVALID_ARGUMENT`; messages are built only on failure.

use super::boundary::{Failure, FfiResult};
use std::ffi::{c_char, CStr};
use std::fmt::Display;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// `len` bytes at `ptr`; NULL is allowed only when `len` is 0.
///
/// # Safety
/// If `ptr` is not NULL it must point to `len` readable bytes that stay
/// valid and unmodified for `'a`.
#[inline]
pub(crate) unsafe fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    what: impl Display,
) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null_with_length(what, len));
    }
    if len > isize::MAX as usize {
        return Err(too_large(what, "length", len));
    }
    // SAFETY: non-NULL, length checked above, readability promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// `len` writable bytes at `ptr` (a caller's output buffer); NULL is
/// allowed only when `len` is 0.
///
/// # Safety
/// If `ptr` is not NULL it must point to `len` writable bytes that nothing
/// else reads or writes during `'a`.
#[inline]
pub(crate) unsafe fn bytes_mut<'a>(
    ptr: *mut u8,
    len: usize,
    what: impl Display,
) -> FfiResult<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(null_with_length(what, len));
    }
    if len > isize::MAX as usize {
        return Err(too_large(what, "length", len));
    }
    // SAFETY: non-NULL, length checked above, writability and exclusive
    // access promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// An optional record header: NULL with length 0 is "no header".
///
/// # Safety
/// As for [`bytes`].
#[inline]
pub(crate) unsafe fn header<'a>(
    ptr: *const u8,
    len: usize,
    what: impl Display,
) -> FfiResult<Option<&'a [u8]>> {
    if ptr.is_null() && len == 0 {
        return Ok(None);
    }
    // SAFETY: the caller's guarantee, forwarded.
    unsafe { bytes(ptr, len, what) }.map(Some)
}

/// `count` values of `T` at `ptr`; NULL is allowed only when `count` is 0.
///
/// # Safety
/// If `ptr` is not NULL it must point to `count` initialised, aligned values
/// valid for `'a`.
#[inline]
pub(crate) unsafe fn array<'a, T>(ptr: *const T, count: usize, what: &str) -> FfiResult<&'a [T]> {
    if count == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null_with_count(what, count));
    }
    if !fits::<T>(count) {
        return Err(too_large(what, "count", count));
    }
    // SAFETY: non-NULL, size checked above, validity promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

/// One value the caller lends for reading; NULL gives
/// `NWAL_ERR_INVALID_ARGUMENT` naming `what`.
///
/// # Safety
/// If `ptr` is not NULL it must point to an initialised, aligned value
/// valid for `'a`.
#[inline]
pub(crate) unsafe fn reference<'a, T>(ptr: *const T, what: &str) -> FfiResult<&'a T> {
    // SAFETY: NULL or valid for `'a`, as the caller promises.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// An object of the library's that the caller passes in to be changed (a
/// read buffer); NULL gives `NWAL_ERR_INVALID_ARGUMENT` naming `what`.
///
/// # Safety
/// If `ptr` is not NULL it must point to a live object of type `T`, used by
/// no one else during `'a`.
#[inline]
pub(crate) unsafe fn object_mut<'a, T>(ptr: *mut T, what: &str) -> FfiResult<&'a mut T> {
    // SAFETY: NULL or live and exclusive for `'a`, as the caller promises.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// A NUL-terminated C string; NULL gives `NWAL_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// If `ptr` is not NULL it must point to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, what: &str) -> FfiResult<&'a CStr> {
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's guarantee.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// A required output: checked non-NULL when the arguments are converted,
/// written (once) when the call has succeeded.
pub(crate) struct Out<'a, T> {
    ptr: NonNull<T>,
    _slot: PhantomData<&'a mut T>,
}

impl<'a, T> Out<'a, T> {
    /// NULL gives `NWAL_ERR_INVALID_ARGUMENT` naming `what`.
    ///
    /// # Safety
    /// If `ptr` is not NULL it must be valid for an aligned write of a `T`
    /// during `'a`.
    #[inline]
    pub unsafe fn required(ptr: *mut T, what: &str) -> FfiResult<Self> {
        match NonNull::new(ptr) {
            Some(ptr) => Ok(Out {
                ptr,
                _slot: PhantomData,
            }),
            None => Err(Failure::invalid(format!("{what} is NULL"))),
        }
    }

    /// Store `value` (the previous content is not dropped: it is C memory).
    #[inline]
    pub fn write(self, value: T) {
        // SAFETY: non-NULL (checked in `required`) and writable for `'a`
        // (its caller's guarantee).
        unsafe { self.ptr.as_ptr().write(value) }
    }

    /// Store `value` if there is one (an output some outcomes leave alone).
    #[inline]
    pub fn write_some(self, value: Option<T>) {
        if let Some(value) = value {
            self.write(value);
        }
    }
}

impl<T> Out<'_, *mut T> {
    /// Hand `value` over to C: it now owns the object until it passes the
    /// pointer to the object's release function ([`super::boundary::release`]).
    #[inline]
    pub fn write_box(self, value: Box<T>) {
        self.write(Box::into_raw(value));
    }
}

/// An output the caller may decline with NULL.
pub(crate) struct OptionalOut<'a, T> {
    ptr: Option<NonNull<T>>,
    _slot: PhantomData<&'a mut T>,
}

impl<'a, T> OptionalOut<'a, T> {
    /// # Safety
    /// As for [`Out::required`].
    #[inline]
    pub unsafe fn new(ptr: *mut T) -> Self {
        OptionalOut {
            ptr: NonNull::new(ptr),
            _slot: PhantomData,
        }
    }

    /// Store `value` unless the pointer was NULL.
    #[inline]
    pub fn write(self, value: T) {
        if let Some(ptr) = self.ptr {
            // SAFETY: non-NULL and writable for `'a` (its caller's guarantee).
            unsafe { ptr.as_ptr().write(value) }
        }
    }

    /// Store `value` if there is one, unless the pointer was NULL.
    #[inline]
    pub fn write_some(self, value: Option<T>) {
        if let Some(value) = value {
            self.write(value);
        }
    }
}

/// An output array of `count` slots (NULL: the caller declined it, allowed
/// when it is optional or `count` is 0).
pub(crate) struct OutSlots<'a, T> {
    ptr: Option<NonNull<T>>,
    count: usize,
    _slots: PhantomData<&'a mut [T]>,
}

impl<'a, T> OutSlots<'a, T> {
    /// Slots the caller may decline with NULL.
    ///
    /// # Safety
    /// If `ptr` is not NULL it must be valid for aligned writes of `count`
    /// values of `T` during `'a`.
    #[inline]
    pub unsafe fn optional(ptr: *mut T, count: usize, what: &str) -> FfiResult<Self> {
        if !ptr.is_null() && !fits::<T>(count) {
            return Err(too_large(what, "count", count));
        }
        Ok(OutSlots {
            ptr: NonNull::new(ptr),
            count,
            _slots: PhantomData,
        })
    }

    /// Slots the caller must provide: NULL only when `count` is 0.
    ///
    /// # Safety
    /// As for [`OutSlots::optional`].
    #[inline]
    pub unsafe fn required(ptr: *mut T, count: usize, what: &str) -> FfiResult<Self> {
        if ptr.is_null() && count != 0 {
            return Err(null_with_count(what, count));
        }
        // SAFETY: the caller's guarantee, forwarded.
        unsafe { Self::optional(ptr, count, what) }
    }

    /// Slots the caller must provide, at least one (`count` is the call's
    /// `max_count`): 0 gives `NWAL_ERR_INVALID_ARGUMENT`.
    ///
    /// # Safety
    /// As for [`OutSlots::optional`].
    #[inline]
    pub unsafe fn at_least_one(ptr: *mut T, count: usize, what: &str) -> FfiResult<Self> {
        if count == 0 {
            return Err(Failure::invalid(format!(
                "{what} has room for no record: max_count is 0"
            )));
        }
        // SAFETY: the caller's guarantee, forwarded.
        unsafe { Self::required(ptr, count, what) }
    }

    /// Write the values in order into the slots; never more than `count`;
    /// returns how many were written.
    #[inline]
    pub fn fill_counted(self, values: impl IntoIterator<Item = T>) -> usize {
        let Some(ptr) = self.ptr else {
            return 0;
        };
        let mut n = 0;
        for value in values.into_iter().take(self.count) {
            // SAFETY: `n < count`, and the caller of the constructor
            // guarantees `count` writable slots at `ptr`.
            unsafe { ptr.as_ptr().add(n).write(value) }
            n += 1;
        }
        n
    }

    /// Write the values in order into the slots; never more than `count`.
    #[inline]
    pub fn fill(self, values: impl IntoIterator<Item = T>) {
        self.fill_counted(values);
    }
}

/// Whether `count` values of `T` fit in one object (at most `isize::MAX` bytes).
fn fits<T>(count: usize) -> bool {
    count
        .checked_mul(std::mem::size_of::<T>())
        .is_some_and(|n| n <= isize::MAX as usize)
}

#[cold]
fn null_with_length(what: impl Display, len: usize) -> Failure {
    Failure::invalid(format!("{what} is NULL but its length is {len}"))
}

#[cold]
fn null_with_count(what: &str, count: usize) -> Failure {
    Failure::invalid(format!("{what} is NULL but count is {count}"))
}

#[cold]
fn too_large(what: impl Display, unit: &str, n: usize) -> Failure {
    Failure::invalid(format!("{what} {unit} {n} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_is_allowed_only_without_length() {
        // SAFETY: NULL pointers and an in-bounds buffer.
        unsafe {
            assert_eq!(bytes(std::ptr::null(), 0, "b").unwrap(), &[] as &[u8]);
            assert!(bytes(std::ptr::null(), 1, "b").is_err());
            assert!(bytes_mut(std::ptr::null_mut(), 0, "b").unwrap().is_empty());
            assert!(bytes_mut(std::ptr::null_mut(), 1, "b").is_err());
            assert_eq!(header(std::ptr::null(), 0, "h").unwrap(), None);
            assert_eq!(header(b"x".as_ptr(), 0, "h").unwrap(), Some(&[][..]));
            assert!(array::<u64>(std::ptr::null(), 2, "a").is_err());
            assert!(array(std::ptr::dangling::<u64>(), usize::MAX / 4, "a").is_err());
        }
    }

    #[test]
    fn slots_take_at_most_count_values() {
        let mut slots = [0u32; 3];
        // SAFETY: 2 of the 3 slots are offered.
        let out = unsafe { OutSlots::required(slots.as_mut_ptr(), 2, "s") }.unwrap();
        out.fill(1..);
        assert_eq!(slots, [1, 2, 0]);
        // SAFETY: NULL with a count is refused before any write.
        assert!(unsafe { OutSlots::<u32>::required(std::ptr::null_mut(), 1, "s") }.is_err());
        // SAFETY: declined slots are never written.
        unsafe { OutSlots::<u32>::optional(std::ptr::null_mut(), 5, "s") }
            .unwrap()
            .fill(1..);
    }
}
