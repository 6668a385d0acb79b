// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"syscall"
)

// Status is an nwal_status: the result of a C call. The failure statuses
// (the Err* constants) are also errors, to be used as sentinels:
//
//	if errors.Is(err, nanowal.ErrLocked) { ... }
type Status int

// The statuses of the C API, with the values of the header.
const (
	StatusOK           Status = C.NWAL_OK     // success (never returned as an error)
	ErrIO              Status = C.NWAL_ERR_IO // an OS call failed; Error.Errno says which errno
	ErrInvalidConfig   Status = C.NWAL_ERR_INVALID_CONFIG
	ErrCorruptedData   Status = C.NWAL_ERR_CORRUPTED_DATA
	ErrHeaderTooLarge  Status = C.NWAL_ERR_HEADER_TOO_LARGE
	ErrShutdown        Status = C.NWAL_ERR_SHUTDOWN
	ErrNotFound        Status = C.NWAL_ERR_NOT_FOUND
	ErrLocked          Status = C.NWAL_ERR_LOCKED
	ErrInvalidArgument Status = C.NWAL_ERR_INVALID_ARGUMENT
	ErrPanic           Status = C.NWAL_ERR_PANIC
	ErrBufferTooSmall  Status = C.NWAL_ERR_BUFFER_TOO_SMALL // a caller's buffer is shorter than the value (Log.MetaGet retries)
	ErrClockSkew       Status = C.NWAL_ERR_CLOCK_SKEW       // an append's time is too far ahead (Options.MaxClockSkew)
	ErrHeld            Status = C.NWAL_ERR_HELD             // a purge past a reader hold (Log.Hold)
	StatusDone         Status = C.NWAL_DONE                 // end of an iteration (Iter.Next returns false)
	StatusTimedOut     Status = C.NWAL_TIMED_OUT            // a wait's timeout passed (not an error)
	StatusCut          Status = C.NWAL_CUT                  // a truncation dropped records a follower returned (not an error)
	StatusGap          Status = C.NWAL_GAP                  // records ahead of a follower were purged (not an error)
)

// String is the enumerator's name as the header spells it, e.g.
// "NWAL_ERR_LOCKED" ("NWAL_UNKNOWN_STATUS" for a value that is none).
func (s Status) String() string { return C.GoString(C.nwal_status_name(C.int(s))) }

// Error makes a Status a sentinel error; it is its name.
func (s Status) Error() string { return s.String() }

// Error is a failed call: its status, the library's message (naming the C
// function and what went wrong) and, for ErrIO, the errno behind it (0
// otherwise). Failures detected by this package before calling C (an
// argument Go cannot pass) are Errors too, with Errno 0.
//
// errors.Is(err, ErrNotFound) matches the Status; errors.Is(err,
// syscall.ENOSPC) or errors.Is(err, fs.ErrPermission) match the Errno,
// which Unwrap returns.
type Error struct {
	Status  Status
	Message string
	Errno   syscall.Errno
}

func (e *Error) Error() string { return fmt.Sprintf("%v: %s", e.Status, e.Message) }

// Is reports whether target is e's Status.
func (e *Error) Is(target error) bool {
	s, ok := target.(Status)
	return ok && s == e.Status
}

// Unwrap is the errno behind an ErrIO failure, nil if there is none.
func (e *Error) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// goError is a failure found on the Go side, before any C call.
func goError(s Status, format string, args ...interface{}) *Error {
	return &Error{Status: s, Message: "nanowal: " + fmt.Sprintf(format, args...)}
}

// call runs f, which makes one C call, on a locked OS thread, and reads the
// message and errno of a failure on that same thread: they are per thread
// in the library, and a goroutine may otherwise move to another thread
// between two cgo calls. NWAL_DONE is not an error: it is reported as done.
func call(f func() C.enum_nwal_status) (done bool, err error) {
	st, err := callOutcome(f)
	return st == StatusDone, err
}

// callOutcome is call for the functions with outcomes that are not errors
// (NWAL_DONE, NWAL_TIMED_OUT, NWAL_CUT, NWAL_GAP): it returns the status of
// a success, or the *Error of a failure.
func callOutcome(f func() C.enum_nwal_status) (Status, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := Status(f())
	if st == StatusOK || st >= StatusDone {
		return st, nil
	}
	return st, &Error{
		Status:  st,
		Message: C.GoString(C.nwal_last_error_message()),
		Errno:   syscall.Errno(C.nwal_last_os_error()),
	}
}

// Version is the library's version, "MAJOR.MINOR.PATCH" (nwal_version):
// the library loaded at run time, which may be newer than the header this
// package was built with (HeaderVersion).
func Version() string { return C.GoString(C.nwal_version()) }

// HeaderVersion is the version of the header this package was compiled
// against (NWAL_VERSION_MAJOR, _MINOR, _PATCH).
func HeaderVersion() (major, minor, patch int) {
	return C.NWAL_VERSION_MAJOR, C.NWAL_VERSION_MINOR, C.NWAL_VERSION_PATCH
}
