// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
*/
import "C"

import "sync"

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
type Iter struct {
	mu  sync.Mutex
	it  *C.nwal_iter
	cur Entry
	err error
	// Records fetched by the last nwal_iter_next_batch, copied, not yet
	// returned: one cgo call per batch, not per record.
	ahead []Entry
	recs  []C.nwal_record
	refs  []C.nwal_entry_ref
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
	return &Iter{it: it}, nil
}

// Next advances to the next record, copied into Go memory; false at the end
// of the log, after an error (see Err) or after Close.
func (it *Iter) Next() bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	it.cur = Entry{}
	if it.it == nil || it.err != nil {
		return false
	}
	if len(it.ahead) == 0 && !it.fetch() {
		return false
	}
	it.cur, it.ahead[0] = it.ahead[0], Entry{}
	it.ahead = it.ahead[1:]
	return true
}

// fetch copies the next batch of records into it.ahead; false at the end
// or on an error (kept in it.err). Called with it.mu held.
func (it *Iter) fetch() bool {
	if it.recs == nil {
		it.recs = make([]C.nwal_record, iterBatch)
		it.refs = make([]C.nwal_entry_ref, iterBatch)
	}
	var n C.size_t
	done, err := call(func() C.enum_nwal_status {
		return C.nwal_iter_next_batch(it.it, &it.recs[0], &it.refs[0], iterBatch, &n)
	})
	if done || err != nil {
		it.err = err
		return false
	}
	recs := copyRecords(it.recs[:n])
	it.ahead = make([]Entry, n)
	for i := range recs {
		it.ahead[i] = Entry{refOf(&it.refs[i]), recs[i]}
	}
	return true
}

// Entry is the record of the last Next that returned true (zero otherwise).
// It is the caller's: later calls do not change it.
func (it *Iter) Entry() Entry {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.cur
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
	it.ahead = nil
	return nil
}
