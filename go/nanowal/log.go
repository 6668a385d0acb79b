// SPDX-License-Identifier: MIT

// Package nanowal is the Go binding of nano_wal, a concurrent write-ahead
// log, through cgo over its C API (libnano_wal, found with pkg-config as
// `nano_wal`).
//
// A Log is one stream of records in a directory. Appends return a Ref per
// record (where it lives, with its dense index in the log); reads take refs
// or indexes; an Iter replays the log in order. Every failure is an *Error
// carrying the C status, the library's message and the errno.
//
// The library never reads the clock: every append and cleanup takes the
// caller's time, which picks the segment (a clock-aligned window) and
// decides retention.
//
// Memory: no Go pointer is given to C beyond a call. Records read back are
// copied into Go memory before the library's buffer is reused or released,
// so they stay valid for as long as Go keeps them; only Iter.View and
// Iter.NextViews lend the library's memory, until the Iter moves on. The C
// memory the package keeps between calls (read buffers, an Iter's batch)
// is its own, released by Log.Close and Iter.Close. Batches are passed as
// one byte buffer plus pointer-free spans (nwal_append_batch_packed), since
// cgo forbids passing Go memory that holds Go pointers.
package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
#include <stdlib.h>
*/
import "C"

import (
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Options of Open. The zero value of a field takes the library's default
// (see DefaultOptions).
type Options struct {
	// How long a segment is kept after its window ends (whole
	// milliseconds, >= SegmentDuration). Default: 7 days.
	Retention time.Duration
	// Width of the clock-aligned window of a segment (whole milliseconds).
	// Default: 1 hour.
	SegmentDuration time.Duration
	// Roll to a new segment before the active one passes this many bytes:
	// 0 is no cap, otherwise at least 65,536.
	MaxSegmentBytes uint64
	// Permission bits of created files (must include 0600). Default: 0600.
	FileMode os.FileMode
	// Salvage: when the newest segment holds a corrupted record followed by
	// valid ones, cut it at the corruption instead of failing with
	// ErrCorruptedData (NWAL_OPT_SALVAGE).
	Salvage bool
	// Index of the first record of a new stream (used only when the stream
	// is created). Default: 1.
	FirstIndex uint64
	// The clock guard: appends whose time lies more than this past the end
	// of the newest window fail with ErrClockSkew (whole milliseconds, at
	// least SegmentDuration). 0: off.
	MaxClockSkew time.Duration
	// The size budget: Cleanup also deletes the oldest sealed segments
	// while the stream's files hold more bytes than this. 0: none.
	MaxStreamBytes uint64
	// A reader hold lagging behind more bytes than this is dropped by
	// Cleanup (CleanupResult.DroppedHolds). 0: no limit.
	MaxHoldLagBytes uint64
	// A reader hold whose segment's window started longer than this before
	// Cleanup's time is dropped by it (whole milliseconds). 0: no limit.
	MaxHoldLag time.Duration
}

// DefaultOptions is the library's defaults (nwal_options_default).
func DefaultOptions() Options {
	d := C.nwal_options_default()
	return Options{
		Retention:       time.Duration(d.retention_ms) * time.Millisecond,
		SegmentDuration: time.Duration(d.segment_duration_ms) * time.Millisecond,
		MaxSegmentBytes: uint64(d.max_segment_bytes),
		FileMode:        os.FileMode(d.file_mode),
		Salvage:         d.flags&C.NWAL_OPT_SALVAGE != 0,
		FirstIndex:      uint64(d.first_index),
	}
}

// millis converts a duration option; it must be a non-negative whole
// number of milliseconds.
func millis(name string, d time.Duration) (C.uint64_t, error) {
	if d < 0 || d%time.Millisecond != 0 {
		return 0, goError(ErrInvalidConfig, "Options.%s is %v: it must be a non-negative whole number of milliseconds", name, d)
	}
	return C.uint64_t(d / time.Millisecond), nil
}

// c is o over nwal_options_default(): zero fields keep the default.
func (o Options) c() (C.nwal_options, error) {
	opts := C.nwal_options_default()
	if o.Retention != 0 {
		ms, err := millis("Retention", o.Retention)
		if err != nil {
			return opts, err
		}
		opts.retention_ms = ms
	}
	if o.SegmentDuration != 0 {
		ms, err := millis("SegmentDuration", o.SegmentDuration)
		if err != nil {
			return opts, err
		}
		opts.segment_duration_ms = ms
	}
	if o.MaxSegmentBytes != 0 {
		opts.max_segment_bytes = C.uint64_t(o.MaxSegmentBytes)
	}
	if o.FileMode&^os.ModePerm != 0 {
		return opts, goError(ErrInvalidConfig, "Options.FileMode is %v: only permission bits are allowed", o.FileMode)
	}
	if o.FileMode != 0 {
		opts.file_mode = C.uint32_t(o.FileMode)
	}
	if o.Salvage {
		opts.flags |= C.NWAL_OPT_SALVAGE
	}
	if o.FirstIndex != 0 {
		opts.first_index = C.uint64_t(o.FirstIndex)
	}
	if o.MaxClockSkew != 0 {
		ms, err := millis("MaxClockSkew", o.MaxClockSkew)
		if err != nil {
			return opts, err
		}
		opts.max_clock_skew_ms = ms
	}
	opts.max_stream_bytes = C.uint64_t(o.MaxStreamBytes)
	opts.max_hold_lag_bytes = C.uint64_t(o.MaxHoldLagBytes)
	if o.MaxHoldLag != 0 {
		ms, err := millis("MaxHoldLag", o.MaxHoldLag)
		if err != nil {
			return opts, err
		}
		opts.max_hold_lag_ms = ms
	}
	return opts, nil
}

// Flags of an append.
type Flags uint32

// Durable makes an append return only once its records survive power loss
// (NWAL_DURABLE: a group-committed fdatasync). Without it, a returned
// append survives a crash of the process.
const Durable Flags = C.NWAL_DURABLE

// Ref is where a record lives (nwal_entry_ref): plain data, ordered by
// (SegmentID, Offset) and by Index as the log is. It stays valid until
// Cleanup deletes its segment.
type Ref struct {
	SegmentID uint64 // the segment holding the record
	Offset    uint64 // byte offset of the record in its segment file
	Size      uint64 // length of the whole record on disk
	Index     uint64 // the record's index in the log: dense, one more than the one before
}

func refOf(r *C.nwal_entry_ref) Ref {
	return Ref{uint64(r.segment_id), uint64(r.offset), uint64(r.size), uint64(r.index)}
}

func (r Ref) c() C.nwal_entry_ref {
	return C.nwal_entry_ref{segment_id: C.uint64_t(r.SegmentID), offset: C.uint64_t(r.Offset),
		size: C.uint64_t(r.Size), index: C.uint64_t(r.Index)}
}

// A Ref has the layout of an nwal_entry_ref (the build fails otherwise:
// an index out of range, or a negative constant), so C reads and fills
// []Ref directly (cRefs).
var _ = [1]struct{}{}[unsafe.Sizeof(Ref{})-unsafe.Sizeof(C.nwal_entry_ref{})]
var _ = [1]struct{}{}[unsafe.Offsetof(Ref{}.SegmentID)-unsafe.Offsetof(C.nwal_entry_ref{}.segment_id)]
var _ = [1]struct{}{}[unsafe.Offsetof(Ref{}.Offset)-unsafe.Offsetof(C.nwal_entry_ref{}.offset)]
var _ = [1]struct{}{}[unsafe.Offsetof(Ref{}.Size)-unsafe.Offsetof(C.nwal_entry_ref{}.size)]
var _ = [1]struct{}{}[unsafe.Offsetof(Ref{}.Index)-unsafe.Offsetof(C.nwal_entry_ref{}.index)]

// cRefs is refs (non-empty) as the array of nwal_entry_ref it is laid out
// as: Go memory without pointers, which a C call may borrow.
func cRefs(refs []Ref) *C.nwal_entry_ref {
	return (*C.nwal_entry_ref)(unsafe.Pointer(&refs[0]))
}

// Record is a record's header and content. A nil Header is no header; a
// non-nil empty one is an empty header (appends keep the difference, reads
// return it). Headers are at most 65,535 bytes, contents at most 1 GiB.
type Record struct {
	Header  []byte
	Content []byte
}

// Entry is a record read back with its ref.
type Entry struct {
	Ref
	Record
}

// LogState is where the log's indexes stand (nwal_log_state).
type LogState struct {
	FirstIndex   uint64 // the lowest readable index
	LastIndex    uint64 // the highest appended index; FirstIndex-1 when empty
	DurableIndex uint64 // the highest index known durable; FirstIndex-1 if none
}

// CleanupResult is what Cleanup did (nwal_cleanup_result).
type CleanupResult struct {
	DeletedSegments uint64 // segment files of this stream deleted
	BytesReclaimed  uint64 // their total size
	LiveSegments    uint64 // segment files of this stream left
	// Of DeletedSegments, those deleted before they expired, for
	// Options.MaxStreamBytes.
	DeletedOverBudget uint64
	// Reader holds dropped for lagging past Options.MaxHoldLagBytes or
	// MaxHoldLag.
	DroppedHolds uint64
}

// Log is an open stream (an nwal handle). Its methods may be called from
// any number of goroutines, Close included: Close waits for the calls in
// flight, and a call after Close fails with ErrInvalidArgument.
type Log struct {
	mu sync.RWMutex // read-held by every call on w, held by Close
	w  *C.nwal
	// The library read buffers and C arrays that reads reuse (the _into
	// reads), so a read does not allocate them: slots that a read empties
	// (an atomic swap) and refills (a compare-and-swap), cheaper than a
	// channel; those left are freed by Close.
	readers [keptReaders]atomic.Pointer[reader]
}

// keptReaders is how many idle readers a Log keeps.
const keptReaders = 8

// Open opens (or creates) the stream named stream in dir (created if
// missing), takes its lock (one open Log per stream, across processes) and
// recovers it. Stream names are 1-200 bytes of [A-Za-z0-9._-], not
// starting with '.'.
func Open(dir, stream string, o Options) (*Log, error) {
	opts, err := o.c()
	if err != nil {
		return nil, err
	}
	cdir, err := cString("Open", "dir", dir)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cdir))
	cstream, err := cString("Open", "stream", stream)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cstream))
	var w *C.nwal
	if _, err := call(func() C.enum_nwal_status { return C.nwal_open(cdir, cstream, &opts, &w) }); err != nil {
		return nil, err
	}
	return &Log{w: w}, nil
}

// do runs one C call on the handle, under the read lock that keeps Close
// out; op names the method in the error of a closed Log.
func (l *Log) do(op string, f func(w *C.nwal) C.enum_nwal_status) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.w == nil {
		return goError(ErrInvalidArgument, "Log.%s on a closed Log", op)
	}
	_, err := call(func() C.enum_nwal_status { return f(l.w) })
	return err
}

// Close shuts the log down (as Shutdown) and releases the handle, once the
// calls in flight have returned. The handle is released whatever the
// result; ErrIO means the final sync failed (appends made without Durable
// may not be durable). Closing a closed Log does nothing.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.w
	l.w = nil
	if w == nil {
		return nil
	}
	_, err := call(func() C.enum_nwal_status { return C.nwal_close(w) })
	for i := range l.readers {
		if r := l.readers[i].Swap(nil); r != nil {
			freeReader(r)
		}
	}
	return err
}

// Shutdown stops taking appends (and cleanups: both then fail with
// ErrShutdown), syncs and releases the stream lock, without releasing the
// handle: reads, replay, Sync and State still work. Calling it again does
// nothing.
func (l *Log) Shutdown() error {
	return l.do("Shutdown", func(w *C.nwal) C.enum_nwal_status { return C.nwal_shutdown(w) })
}

// Sync makes everything appended so far durable (an fdatasync shared with
// concurrent durable appends). After a failed one the log is poisoned:
// appends and syncs fail with ErrIO until it is reopened.
func (l *Log) Sync() error {
	return l.do("Sync", func(w *C.nwal) C.enum_nwal_status { return C.nwal_sync(w) })
}

// State is where the log's indexes stand. It does not wait for appends.
func (l *Log) State() (LogState, error) {
	var st C.nwal_log_state
	err := l.do("State", func(w *C.nwal) C.enum_nwal_status { return C.nwal_log_state_get(w, &st) })
	if err != nil {
		return LogState{}, err
	}
	return LogState{uint64(st.first_index), uint64(st.last_index), uint64(st.durable_index)}, nil
}

// RecoveryReport is what Open did to recover the stream
// (nwal_recovery_report): the newest segment's length as found and as
// kept, and the files removed.
type RecoveryReport struct {
	// The stream had a segment: the Tail fields describe its newest one.
	// False for a stream without segments (then they are 0).
	HasTail bool
	// A cut byte lay below DurableWatermark: data once synced was cut,
	// which Open refuses unless Options.Salvage is set. False otherwise:
	// the proof that nothing acknowledged as durable was lost.
	CutBelowDurable bool
	TailSegmentID   uint64 // the newest segment
	FoundLen        uint64 // its file length as Open found it
	KeptLen         uint64 // and as Open left it: the end of its last whole record or batch
	RecordsKept     uint64 // the records kept in it
	// The highest offset of it that its records prove was synced.
	DurableWatermark uint64
	// Segment files Open removed (torn creations, segments a truncation,
	// reset or purge had dropped).
	RemovedSegments uint64
}

// RecoveryReport is what Open did to recover this stream; it stays the
// same for the life of the Log (also after Shutdown).
func (l *Log) RecoveryReport() (RecoveryReport, error) {
	var r C.nwal_recovery_report
	err := l.do("RecoveryReport", func(w *C.nwal) C.enum_nwal_status { return C.nwal_recovery_report_get(w, &r) })
	if err != nil {
		return RecoveryReport{}, err
	}
	return RecoveryReport{
		HasTail:          r.has_tail != 0,
		CutBelowDurable:  r.cut_below_durable != 0,
		TailSegmentID:    uint64(r.tail_segment_id),
		FoundLen:         uint64(r.found_len),
		KeptLen:          uint64(r.kept_len),
		RecordsKept:      uint64(r.records_kept),
		DurableWatermark: uint64(r.durable_watermark),
		RemovedSegments:  uint64(r.removed_segments),
	}, nil
}

// Cleanup deletes the segments whose retention has passed at now (the
// caller's clock) and, with Options.MaxStreamBytes, the oldest sealed ones
// while the stream's files hold more; never the active one nor one a
// reader hold keeps. Retention says beforehand what it would delete. Refs
// into deleted segments then fail with ErrNotFound.
func (l *Log) Cleanup(now time.Time) (CleanupResult, error) {
	var r C.nwal_cleanup_result
	err := l.do("Cleanup", func(w *C.nwal) C.enum_nwal_status {
		return C.nwal_cleanup(w, C.int64_t(now.UnixMilli()), &r)
	})
	if err != nil {
		return CleanupResult{}, err
	}
	return CleanupResult{uint64(r.deleted_segments), uint64(r.bytes_reclaimed), uint64(r.live_segments), uint64(r.deleted_over_budget), uint64(r.dropped_holds)}, nil
}

// cString is s as a C string (C memory, to free), refused if s holds a NUL
// byte (C would see a shorter string).
func cString(op, name, s string) (*C.char, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return nil, goError(ErrInvalidArgument, "%s: %s %q holds a NUL byte at %d", op, name, s, i)
		}
	}
	return C.CString(s), nil
}

// bytesPtr is the address of b's bytes for the duration of one call (Go
// memory without Go pointers, which cgo allows), or NULL for a nil or empty
// slice.
func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// cHandle is a pointer to C memory (a handle of the library, or memory of
// C.malloc) as the integer that the nwalgo_ wrappers of the hot calls take:
// cgo checks a pointer argument to an incomplete struct, such as *C.nwal,
// as if it could be Go memory, boxing it on the Go heap first.
func cHandle(p unsafe.Pointer) C.uintptr_t { return C.uintptr_t(uintptr(p)) }

// emptyHeader is a non-NULL pointer for an empty (not absent) header.
var emptyHeader = [1]byte{}

// headerPtr is bytesPtr(h), but non-NULL for an empty non-nil header.
func headerPtr(h []byte) *C.uint8_t {
	if h != nil && len(h) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&emptyHeader[0]))
	}
	return bytesPtr(h)
}

// Hold sets or moves the reader hold name to index (from the first index
// to one past the last): Cleanup and PurgeBefore then keep the records from
// index on (PurgeBefore past it fails with ErrHeld), unless it lags past
// Options.MaxHoldLagBytes or MaxHoldLag. Durable, and kept across reopen.
func (l *Log) Hold(name string, index uint64) error {
	cname, err := cString("Hold", "name", name)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cname))
	return l.do("Hold", func(w *C.nwal) C.enum_nwal_status { return C.nwal_hold(w, cname, C.uint64_t(index)) })
}

// ReleaseHold releases the reader hold name (none: nothing to do).
func (l *Log) ReleaseHold(name string) error {
	cname, err := cString("ReleaseHold", "name", name)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cname))
	return l.do("ReleaseHold", func(w *C.nwal) C.enum_nwal_status { return C.nwal_hold_release(w, cname) })
}

// HoldIndex is the index the reader hold name keeps from; ErrNotFound when
// there is no such hold.
func (l *Log) HoldIndex(name string) (uint64, error) {
	cname, err := cString("HoldIndex", "name", name)
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(cname))
	var index C.uint64_t
	err = l.do("HoldIndex", func(w *C.nwal) C.enum_nwal_status { return C.nwal_hold_get(w, cname, &index) })
	return uint64(index), err
}
