// Package nanowal is a small Go binding of libnano_wal through cgo, built
// against an installed library (`#cgo pkg-config: nano_wal`). It is the Go
// consumer test of nano_wal (see nanowal_test.go) and shows what a binding
// needs under cgo's pointer rules with Go 1.19 (no runtime.Pinner):
//
//   - Batches go through nwal_append_batch_packed: one Go byte buffer plus a
//     Go slice of pointer-free nwal_span values. An array of nwal_write_entry
//     holding Go pointers cannot be passed (cgo panics, see
//     appendBatchGoPointers).
//   - The error message is thread-local in the library, and a goroutine may
//     move to another OS thread between two cgo calls, so every call runs
//     under runtime.LockOSThread and the message is read before unlocking.
//   - Read results point into library memory: they are copied into Go slices
//     before the read buffer (or the iterator's record) is released.
package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
#include <stdlib.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Status is an nwal_status.
type Status int

// The statuses of the C API.
const (
	OK                 Status = C.NWAL_OK
	ErrIO              Status = C.NWAL_ERR_IO
	ErrInvalidConfig   Status = C.NWAL_ERR_INVALID_CONFIG
	ErrCorruptedData   Status = C.NWAL_ERR_CORRUPTED_DATA
	ErrHeaderTooLarge  Status = C.NWAL_ERR_HEADER_TOO_LARGE
	ErrShutdown        Status = C.NWAL_ERR_SHUTDOWN
	ErrNotFound        Status = C.NWAL_ERR_NOT_FOUND
	ErrLocked          Status = C.NWAL_ERR_LOCKED
	ErrInvalidArgument Status = C.NWAL_ERR_INVALID_ARGUMENT
	ErrPanic           Status = C.NWAL_ERR_PANIC
	Done               Status = C.NWAL_DONE
)

// String is the enumerator's name, e.g. "NWAL_ERR_LOCKED".
func (s Status) String() string { return C.GoString(C.nwal_status_name(C.int(s))) }

// Error is a failed call: its status, the library's message and errno.
type Error struct {
	Status  Status
	Message string
	Errno   int
}

func (e *Error) Error() string { return fmt.Sprintf("%v: %s", e.Status, e.Message) }

// StatusOf is the Status of err (OK for nil, -1 if err is not an *Error).
func StatusOf(err error) Status {
	var e *Error
	if err == nil {
		return OK
	}
	if errors.As(err, &e) {
		return e.Status
	}
	return -1
}

// call runs f, which makes one cgo call, on a locked OS thread and reads the
// thread-local message of a failure on that same thread. NWAL_DONE is not
// an error: it is reported as done.
func call(f func() C.enum_nwal_status) (done bool, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := Status(f())
	switch st {
	case OK:
		return false, nil
	case Done:
		return true, nil
	}
	return false, &Error{
		Status:  st,
		Message: C.GoString(C.nwal_last_error_message()),
		Errno:   int(C.nwal_last_os_error()),
	}
}

// one is a non-NULL pointer for empty slices (a NULL header means "none").
var one = []byte{0}

// ptr is the address of b's bytes (Go memory without pointers: cgo allows
// passing it for the duration of a call).
func ptr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&one[0]))
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

func flags(durable bool) C.uint32_t {
	if durable {
		return C.NWAL_DURABLE
	}
	return 0
}

// Ref is where a record lives (nwal_entry_ref), with its index in the log.
type Ref struct{ SegmentID, Offset, Size, Index uint64 }

func refOf(r C.nwal_entry_ref) Ref {
	return Ref{uint64(r.segment_id), uint64(r.offset), uint64(r.size), uint64(r.index)}
}

func (r Ref) c() C.nwal_entry_ref {
	return C.nwal_entry_ref{segment_id: C.uint64_t(r.SegmentID), offset: C.uint64_t(r.Offset), size: C.uint64_t(r.Size), index: C.uint64_t(r.Index)}
}

// Record is a record copied into Go memory. Header is nil when the record
// has none (and non-nil, possibly empty, when it has one).
type Record struct{ Header, Content []byte }

func recordOf(r *C.nwal_record) Record {
	var out Record
	if r.header != nil {
		out.Header = C.GoBytes(unsafe.Pointer(r.header), C.int(r.header_len))
	}
	out.Content = C.GoBytes(unsafe.Pointer(r.content), C.int(r.content_len))
	return out
}

// Options of Open (zero values take the library's defaults).
type Options struct{ RetentionMs, SegmentDurationMs uint64 }

// Log is an open nwal handle. Its methods may be called from any number of
// goroutines; Close must not race them.
type Log struct{ w *C.nwal }

// Open opens (or creates) stream in dir.
func Open(dir, stream string, o Options) (*Log, error) {
	cdir, cstream := C.CString(dir), C.CString(stream)
	defer C.free(unsafe.Pointer(cdir))
	defer C.free(unsafe.Pointer(cstream))
	opts := C.nwal_options_default()
	if o.RetentionMs != 0 {
		opts.retention_ms = C.uint64_t(o.RetentionMs)
	}
	if o.SegmentDurationMs != 0 {
		opts.segment_duration_ms = C.uint64_t(o.SegmentDurationMs)
	}
	var w *C.nwal
	if _, err := call(func() C.enum_nwal_status { return C.nwal_open(cdir, cstream, &opts, &w) }); err != nil {
		return nil, err
	}
	return &Log{w}, nil
}

// Close shuts the log down and frees the handle.
func (l *Log) Close() error {
	w := l.w
	l.w = nil
	_, err := call(func() C.enum_nwal_status { return C.nwal_close(w) })
	return err
}

// Append appends one record (header nil: none) at the caller's time nowMs.
func (l *Log) Append(header, content []byte, nowMs int64, durable bool) (Ref, error) {
	var hp *C.uint8_t
	if header != nil {
		hp = ptr(header)
	}
	var ref C.nwal_entry_ref
	_, err := call(func() C.enum_nwal_status {
		return C.nwal_append(l.w, hp, C.size_t(len(header)), ptr(content), C.size_t(len(content)),
			C.int64_t(nowMs), flags(durable), &ref)
	})
	return refOf(ref), err
}

// Entry is one record of a batch (Header nil: none).
type Entry struct{ Header, Content []byte }

// Span locates one record of AppendPacked in its buffer (nwal_span).
type Span struct {
	HeaderOff, HeaderLen, ContentOff, ContentLen uint64
	HasHeader                                    bool
}

// AppendBatch appends entries atomically: it packs them into one buffer and
// calls AppendPacked.
func (l *Log) AppendBatch(entries []Entry, nowMs int64, durable bool) ([]Ref, error) {
	var buf []byte
	spans := make([]Span, len(entries))
	for i, e := range entries {
		if e.Header != nil {
			spans[i].HasHeader = true
			spans[i].HeaderOff, spans[i].HeaderLen = uint64(len(buf)), uint64(len(e.Header))
			buf = append(buf, e.Header...)
		}
		spans[i].ContentOff, spans[i].ContentLen = uint64(len(buf)), uint64(len(e.Content))
		buf = append(buf, e.Content...)
	}
	return l.AppendPacked(buf, spans, nowMs, durable)
}

// AppendPacked appends the records that spans locate in buf, atomically,
// through nwal_append_batch_packed: buf, the spans and the refs are Go
// memory holding no Go pointers, which cgo allows.
func (l *Log) AppendPacked(buf []byte, spans []Span, nowMs int64, durable bool) ([]Ref, error) {
	if len(spans) == 0 {
		return nil, nil
	}
	cs := make([]C.nwal_span, len(spans))
	for i, s := range spans {
		cs[i] = C.nwal_span{
			header_off: C.uint64_t(s.HeaderOff), header_len: C.uint64_t(s.HeaderLen),
			content_off: C.uint64_t(s.ContentOff), content_len: C.uint64_t(s.ContentLen),
		}
		if s.HasHeader {
			cs[i].has_header = 1
		}
	}
	out := make([]C.nwal_entry_ref, len(spans))
	_, err := call(func() C.enum_nwal_status {
		return C.nwal_append_batch_packed(l.w, ptr(buf), C.size_t(len(buf)), &cs[0], C.size_t(len(cs)),
			C.int64_t(nowMs), flags(durable), &out[0])
	})
	if err != nil {
		return nil, err
	}
	refs := make([]Ref, len(out))
	for i, r := range out {
		refs[i] = refOf(r)
	}
	return refs, nil
}

// appendBatchGoPointers calls nwal_append_batch with an array of
// nwal_write_entry built in Go memory and pointing to Go memory: cgo
// refuses it (a panic before the call), which is why AppendPacked exists.
func (l *Log) appendBatchGoPointers(entries []Entry, nowMs int64) error {
	in := make([]C.nwal_write_entry, len(entries))
	for i, e := range entries {
		in[i].content, in[i].content_len = ptr(e.Content), C.size_t(len(e.Content))
	}
	_, err := call(func() C.enum_nwal_status {
		return C.nwal_append_batch(l.w, &in[0], C.size_t(len(in)), C.int64_t(nowMs), 0, nil)
	})
	return err
}

// Read reads the records of refs, in order, copied into Go memory.
func (l *Log) Read(refs []Ref) ([]Record, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	in := make([]C.nwal_entry_ref, len(refs))
	for i, r := range refs {
		in[i] = r.c()
	}
	recs := make([]C.nwal_record, len(refs))
	var buf *C.nwal_read_buf
	_, err := call(func() C.enum_nwal_status {
		return C.nwal_read_batch(l.w, &in[0], C.size_t(len(in)), &recs[0], &buf)
	})
	if err != nil {
		return nil, err
	}
	defer C.nwal_read_buf_free(buf)
	out := make([]Record, len(recs))
	for i := range recs {
		out[i] = recordOf(&recs[i])
	}
	return out, nil
}

// Iter replays the log in order (nwal_iter). One goroutine at a time.
type Iter struct{ it *C.nwal_iter }

// Replay opens an iterator from the start (from nil) or from a ref
// (inclusive).
func (l *Log) Replay(from *Ref) (*Iter, error) {
	var cfrom *C.nwal_entry_ref
	if from != nil {
		f := from.c()
		cfrom = &f
	}
	var it *C.nwal_iter
	if _, err := call(func() C.enum_nwal_status { return C.nwal_iter_open(l.w, cfrom, &it) }); err != nil {
		return nil, err
	}
	return &Iter{it}, nil
}

// Next returns the next record and its ref; ok is false at the end of the
// log (or on error).
func (it *Iter) Next() (ref Ref, rec Record, ok bool, err error) {
	var r C.nwal_record
	var cref C.nwal_entry_ref
	done, err := call(func() C.enum_nwal_status { return C.nwal_iter_next(it.it, &r, &cref) })
	if done || err != nil {
		return Ref{}, Record{}, false, err
	}
	return refOf(cref), recordOf(&r), true, nil
}

// Close frees the iterator.
func (it *Iter) Close() {
	C.nwal_iter_free(it.it)
	it.it = nil
}

// Version is the library's version string.
func Version() string { return C.GoString(C.nwal_version()) }
