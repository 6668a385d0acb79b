// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
#include <stdint.h>
#include <stdlib.h>

// The most records one nwal_iter_next_batch of an Iter fetches.
#define NWALGO_ITER_BATCH 128

// What nwal_iter_next_batch fills for an Iter, in C memory: cgo checks Go
// memory passed to C pointer by pointer when its type holds pointers, as
// nwal_record does, on every call.
typedef struct {
	nwal_record recs[NWALGO_ITER_BATCH];
	nwal_entry_ref refs[NWALGO_ITER_BATCH];
	size_t n;
} nwalgo_iter_batch;

// nwal_iter_next_batch into b, with the iterator and b passed as integers:
// cgo boxes an argument that points to an incomplete struct on the Go heap
// to check it, and b's arrays given as &b.recs[0] would be checked (and
// copied) whole. Both are C memory.
static enum nwal_status nwalgo_iter_next_batch(uintptr_t it, uintptr_t b) {
	nwalgo_iter_batch *batch = (nwalgo_iter_batch *)b;
	return nwal_iter_next_batch((nwal_iter *)it, batch->recs, batch->refs, NWALGO_ITER_BATCH, &batch->n);
}
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
// it from the library's memory, as bufio.Scanner.Bytes does. NextViews
// lends the rest of the batch at once.
type Iter struct {
	mu  sync.Mutex
	it  *C.nwal_iter
	err error
	// done: the library said NWAL_DONE, so the iteration is over.
	done bool
	// The records of the last nwal_iter_next_batch (C memory, freed by
	// Close), whose bytes are the library's until the next one: n of them,
	// pos the current one (-1: none). n > 0 only while the Iter is open,
	// not done and without an error, and pos >= 0 only while n > 0.
	b   *C.nwalgo_iter_batch
	n   int
	pos int
	// The bytes of the records from the first one Entry copied to the end
	// of the batch, in Go memory (nil until then): record i at at[i].
	copied []byte
	at     [iterBatch]int
}

// iterBatch is the most records one cgo call fetches (a batch also ends
// where the library's read buffer does).
const iterBatch = C.NWALGO_ITER_BATCH

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
	b := (*C.nwalgo_iter_batch)(C.malloc(C.size_t(unsafe.Sizeof(C.nwalgo_iter_batch{}))))
	var it *C.nwal_iter
	if err := l.do(op, func(w *C.nwal) C.enum_nwal_status { return open(w, &it) }); err != nil {
		C.free(unsafe.Pointer(b))
		return nil, err
	}
	return &Iter{it: it, b: b, pos: -1}, nil
}

// Next advances to the next record; false at the end of the log, after an
// error (see Err) or after Close.
func (it *Iter) Next() bool {
	// Within a batch, a step under the lock; the fetch of the next batch
	// has its own function, which checks again.
	it.mu.Lock()
	if it.pos+1 < it.n {
		it.pos++
		it.mu.Unlock()
		return true
	}
	it.mu.Unlock()
	return it.nextBatch()
}

// nextBatch is Next at the end of a batch.
func (it *Iter) nextBatch() bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.pos+1 < it.n {
		it.pos++
		return true
	}
	return it.fetch()
}

// fetch gets the next batch of records and makes its first one current;
// false at the end, on an error (kept in it.err) or once closed. Called
// with it.mu held.
func (it *Iter) fetch() bool {
	it.n, it.pos, it.copied = 0, -1, nil
	if it.it == nil || it.done || it.err != nil {
		return false
	}
	done, err := call(func() C.enum_nwal_status {
		return C.nwalgo_iter_next_batch(cHandle(unsafe.Pointer(it.it)), cHandle(unsafe.Pointer(it.b)))
	})
	if done || err != nil {
		it.done, it.err = done, err
		return false
	}
	it.n, it.pos = int(it.b.n), 0
	return true
}

// Entry is the record of the last Next that returned true (zero otherwise),
// copied into Go memory. It is the caller's: later calls do not change it.
func (it *Iter) Entry() Entry {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.pos < 0 {
		return Entry{}
	}
	if it.copied == nil {
		it.copyRest()
	}
	i := it.pos
	r := &it.b.recs[i]
	start, h, c := it.at[i], int(r.header_len), int(r.content_len)
	var rec Record
	if r.header != nil {
		rec.Header = it.copied[start : start+h : start+h]
	}
	rec.Content = it.copied[start+h : start+h+c : start+h+c]
	return Entry{refOf(&it.b.refs[i]), rec}
}

// copyRest copies the records from the current one to the end of the
// batch into one Go buffer, so that the Entry of each of them is a slice
// of it. Called with it.mu held and a current record.
func (it *Iter) copyRest() {
	total := 0
	for i := it.pos; i < it.n; i++ {
		total += recordLen(&it.b.recs[i])
	}
	buf := make([]byte, 0, total)
	for i := it.pos; i < it.n; i++ {
		it.at[i] = len(buf)
		_, buf = copyRecord(buf, &it.b.recs[i])
	}
	it.copied = buf
}

// View is the record of the last Next that returned true without a copy:
// its header (nil when it has none) and content point into the library's
// memory and are valid only until the next Next or Close (as
// bufio.Scanner.Bytes), so keep a copy of what must outlive that. Zero
// values when there is no current record.
func (it *Iter) View() (ref Ref, header, content []byte) {
	it.mu.Lock()
	if it.pos >= 0 {
		ref, header, content = it.view(it.pos)
	}
	it.mu.Unlock()
	return ref, header, content
}

// view lends record i of the batch. Called with it.mu held.
func (it *Iter) view(i int) (ref Ref, header, content []byte) {
	r := &it.b.recs[i]
	if r.header != nil {
		header = lend(r.header, r.header_len)
	}
	return refOf(&it.b.refs[i]), header, lend(r.content, r.content_len)
}

// lend is n bytes of C memory at p as a slice (non-nil, and never made
// from p when n is 0: the library's pointer may then be any value).
func lend(p *C.uint8_t, n C.size_t) []byte {
	if n == 0 {
		return []byte{}
	}
	return cBytes(p, n)
}

// NextViews advances over the records that Next would return next, up to
// the end of the batch in hand (the rest of it, or all of the next one
// once it is used up), and returns them in dst[:0] (its array reused, or
// a new one when it is too short), each as View lends it: the Header and Content of every
// Entry point into the library's memory and are valid only until the next
// Next, NextViews or Close. It is Next called once per record, with one
// lock and no copy for all of them: afterwards the last of them is the
// current record (for Entry and View). Empty at the end of the log, after
// an error (see Err) or after Close. A loop over the log:
//
//	var batch []nanowal.Entry
//	for batch = it.NextViews(batch); len(batch) > 0; batch = it.NextViews(batch) {
//		for _, e := range batch { ... }
//	}
//	if err := it.Err(); err != nil { ... }
func (it *Iter) NextViews(dst []Entry) []Entry {
	dst = dst[:0]
	it.mu.Lock()
	defer it.mu.Unlock()
	first := it.pos + 1
	if first >= it.n {
		if !it.fetch() {
			return dst
		}
		first = 0
	}
	if count := it.n - first; cap(dst) < count {
		dst = make([]Entry, count)
	} else {
		dst = dst[:count]
	}
	for i := range dst {
		e := &dst[i]
		e.Ref, e.Header, e.Content = it.view(first + i)
	}
	it.pos = it.n - 1
	return dst
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
	C.free(unsafe.Pointer(it.b))
	it.it, it.b = nil, nil
	it.n, it.pos, it.copied = 0, -1, nil
	return nil
}
