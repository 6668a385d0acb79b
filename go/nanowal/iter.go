// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
*/
import "C"

import (
	"sync"
	"unsafe"
)

// Iter replays a log in order (an nwal_iter), in the style of
// bufio.Scanner:
//
//	it, err := log.Replay()
//	if err != nil { ... }
//	defer it.Close()
//	for it.Next() {
//		e := it.Entry() // e.Index, e.Ref, e.Header, e.Content
//	}
//	if err := it.Err(); err != nil { ... }
//
// It follows the log as it grows, until it reaches the written end; then
// Next returns false, for good (open a new Iter from the last ref or index
// seen to read what comes later). An Iter may outlive Close of its Log: it
// returns the records written before the close. Its methods are safe for
// concurrent use, but one goroutine at a time is the use it is made for.
//
// Next fetches up to iterBatch records per cgo call (nwal_iter_next_batch)
// and copies nothing: Entry copies the record into Go memory (with the rest
// of its batch, into one buffer, on the first Entry of a batch), View lends
// it from the library's memory, as bufio.Scanner.Bytes does.
type Iter struct {
	mu  sync.Mutex
	it  *C.nwal_iter
	err error
	// The records of the last nwal_iter_next_batch, in the library's
	// memory until the next one; pos is the current one (-1: none).
	recs []C.nwal_record
	refs []C.nwal_entry_ref
	n    int
	pos  int
	// Copies of recs[from:n], made by the first Entry of the batch.
	copies []Record
	from   int
}

// iterBatch is the most records one cgo call fetches (a batch also ends
// where the library's read buffer does).
const iterBatch = 128

// Replay opens an Iter from the first record of the log.
func (l *Log) Replay() (*Iter, error) {
	return l.openIter("Replay", func(w *C.nwal, out **C.nwal_iter) C.enum_nwal_status {
		return C.nwal_iter_open(w, nil, out)
	})
}

// ReplayFrom opens an Iter from the record of ref (inclusive). A ref into
// a segment that does not exist fails with ErrNotFound.
func (l *Log) ReplayFrom(ref Ref) (*Iter, error) {
	from := ref.c()
	return l.openIter("ReplayFrom", func(w *C.nwal, out **C.nwal_iter) C.enum_nwal_status {
		return C.nwal_iter_open(w, &from, out)
	})
}

// ReplayFromIndex opens an Iter from the record of index (inclusive). The
// index may be one past the last one: the Iter then returns the records
// appended before it reaches the end. Any other index outside the log
// fails with ErrNotFound.
func (l *Log) ReplayFromIndex(index uint64) (*Iter, error) {
	return l.openIter("ReplayFromIndex", func(w *C.nwal, out **C.nwal_iter) C.enum_nwal_status {
		return C.nwal_iter_open_at(w, C.uint64_t(index), out)
	})
}

func (l *Log) openIter(op string, open func(*C.nwal, **C.nwal_iter) C.enum_nwal_status) (*Iter, error) {
	var it *C.nwal_iter
	if err := l.do(op, func(w *C.nwal) C.enum_nwal_status { return open(w, &it) }); err != nil {
		return nil, err
	}
	return &Iter{it: it, pos: -1}, nil
}

// Next advances to the next record; false at the end of the log, after an
// error (see Err) or after Close.
func (it *Iter) Next() bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.it == nil || it.err != nil {
		it.pos = -1
		return false
	}
	if it.pos+1 < it.n {
		it.pos++
		return true
	}
	if !it.fetch() {
		it.pos = -1
		return false
	}
	return true
}

// fetch gets the next batch of records; false at the end or on an error
// (kept in it.err). Called with it.mu held.
func (it *Iter) fetch() bool {
	if it.recs == nil {
		it.recs = make([]C.nwal_record, iterBatch)
		it.refs = make([]C.nwal_entry_ref, iterBatch)
	}
	it.n, it.pos, it.copies = 0, -1, nil
	var n C.size_t
	done, err := call(func() C.enum_nwal_status {
		return C.nwal_iter_next_batch(it.it, &it.recs[0], &it.refs[0], iterBatch, &n)
	})
	if done || err != nil {
		it.err = err
		return false
	}
	it.n, it.pos = int(n), 0
	return true
}

// Entry is the record of the last Next that returned true (zero otherwise),
// copied into Go memory. It is the caller's: later calls do not change it.
func (it *Iter) Entry() Entry {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.pos < 0 || it.it == nil {
		return Entry{}
	}
	if it.copies == nil || it.pos < it.from {
		it.copies, it.from = copyRecords(it.recs[it.pos:it.n]), it.pos
	}
	return Entry{refOf(&it.refs[it.pos]), it.copies[it.pos-it.from]}
}

// View is the record of the last Next that returned true without a copy:
// its header (nil when it has none) and content point into the library's
// memory and are valid only until the next Next or Close (as
// bufio.Scanner.Bytes), so keep a copy of what must outlive that. Zero
// values when there is no current record.
func (it *Iter) View() (ref Ref, header, content []byte) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.pos < 0 || it.it == nil {
		return Ref{}, nil, nil
	}
	r := &it.recs[it.pos]
	if r.header != nil {
		header = unsafe.Slice((*byte)(unsafe.Pointer(r.header)), int(r.header_len))
	}
	content = []byte{}
	if r.content_len > 0 {
		content = cBytes(r.content, r.content_len)
	}
	return refOf(&it.refs[it.pos]), header, content
}

// Err is the error that ended the iteration, nil if it reached the end of
// the log (or has not ended). After ErrCorruptedData or ErrIO the Iter is
// finished.
func (it *Iter) Err() error {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.err
}

// Close releases the iterator (nwal_iter_free). Closing it again does
// nothing. It always returns nil; it has the io.Closer signature.
func (it *Iter) Close() error {
	it.mu.Lock()
	defer it.mu.Unlock()
	C.nwal_iter_free(it.it)
	it.it = nil
	it.n, it.pos, it.copies = 0, -1, nil
	return nil
}
