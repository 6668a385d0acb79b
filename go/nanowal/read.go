// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
#include <stdint.h>
#include <stdlib.h>

// What reads need from C, kept by a Log for reuse (Log.readers): a library
// read buffer for the _into reads, and arrays of records and refs in C
// memory, grown to the largest call (cgo checks Go memory passed to C
// pointer by pointer when its type holds pointers, as nwal_record does).
typedef struct {
	nwal_read_buf *buf;
	nwal_record *recs;
	nwal_entry_ref *refs;
	size_t slots; // of recs and refs
	size_t n;     // the out_count of a range
} nwalgo_reader;

// nwal_read_into with the log and the buffer passed as integers and the
// record returned by value: cgo boxes an argument that points to an
// incomplete struct on the Go heap to check it, and makes every pointer
// argument escape there, so each would be an allocation of the read
// besides its copy. Both handles are C memory.
typedef struct {
	nwal_record rec;
	enum nwal_status st;
} nwalgo_read_result;

static nwalgo_read_result nwalgo_read_into(uintptr_t w, nwal_entry_ref ref, uintptr_t buf) {
	nwalgo_read_result r;
	r.st = nwal_read_into((nwal *)w, &ref, (nwal_read_buf *)buf, &r.rec);
	return r;
}

// nwal_read_range_into into the reader r, with the log and r passed as
// integers (for the same reason).
static enum nwal_status nwalgo_read_range_into(uintptr_t w, uint64_t from, size_t max_count, uint64_t max_bytes,
		uintptr_t r) {
	nwalgo_reader *rd = (nwalgo_reader *)r;
	return nwal_read_range_into((nwal *)w, from, max_count, max_bytes, rd->buf, rd->recs, rd->refs, &rd->n);
}
*/
import "C"

import "unsafe"

// MaxRangeCount is the most records one ReadRange returns: it bounds the
// memory a call sets aside, whatever maxCount asks.
const MaxRangeCount = 4096

// keptReadBytes: a reader whose last read brought more record bytes than
// this is freed instead of kept, so that one large read does not stay in
// memory for the life of the Log.
const keptReadBytes = 1 << 20

// reader is the C memory of the reads (see nwalgo_reader).
type reader = C.nwalgo_reader

// Read reads the record of one ref, with the checks and errors of
// ReadBatch. It reads into a library buffer the Log keeps for reuse
// (nwal_read_into), so the library allocates nothing per call, and copies
// the record into one Go allocation.
func (l *Log) Read(ref Ref) (Record, error) {
	var out Record
	err := l.do("Read", func(w *C.nwal) C.enum_nwal_status {
		r := l.takeReader(0)
		res := C.nwalgo_read_into(cHandle(unsafe.Pointer(w)), ref.c(), cHandle(unsafe.Pointer(r.buf)))
		if res.st == C.NWAL_OK {
			out = copyRecordAlone(&res.rec)
		}
		l.keepReader(r, len(out.Header)+len(out.Content))
		return res.st
	})
	return out, err
}

// takeReader is an idle reader of l, or a new one, with room for slots
// records and refs. Its buffer is NULL only if the library could not make
// one: the read then fails with ErrInvalidArgument. Called while l is open.
func (l *Log) takeReader(slots int) *reader {
	var r *reader
	for i := range l.readers {
		if r = l.readers[i].Swap(nil); r != nil {
			break
		}
	}
	if r == nil {
		r = (*reader)(C.malloc(C.size_t(unsafe.Sizeof(reader{}))))
		*r = reader{}
		C.nwal_read_buf_new(&r.buf)
	}
	if int(r.slots) < slots {
		C.free(unsafe.Pointer(r.recs))
		C.free(unsafe.Pointer(r.refs))
		r.recs = (*C.nwal_record)(C.malloc(C.size_t(slots) * C.size_t(unsafe.Sizeof(C.nwal_record{}))))
		r.refs = (*C.nwal_entry_ref)(C.malloc(C.size_t(slots) * C.size_t(unsafe.Sizeof(C.nwal_entry_ref{}))))
		r.slots = C.size_t(slots)
	}
	return r
}

// keepReader gives r back for reuse after a read of bytes record bytes,
// or frees it when enough are kept or it grew past what a Log keeps.
func (l *Log) keepReader(r *reader, bytes int) {
	if bytes <= keptReadBytes && r.slots <= MaxRangeCount {
		for i := range l.readers {
			if l.readers[i].CompareAndSwap(nil, r) {
				return
			}
		}
	}
	freeReader(r)
}

// freeReader releases r and what it holds.
func freeReader(r *reader) {
	C.nwal_read_buf_free(r.buf)
	C.free(unsafe.Pointer(r.recs))
	C.free(unsafe.Pointer(r.refs))
	C.free(unsafe.Pointer(r))
}

// ReadBatch reads the records of refs, in the order of refs, verifying each
// one's checksum (nwal_read_batch: refs into one segment are read at once).
// A ref into a deleted or unknown segment fails with ErrNotFound, a ref
// that is not exactly a record with ErrCorruptedData or
// ErrInvalidArgument; then nothing is returned. The records share one Go
// allocation.
func (l *Log) ReadBatch(refs []Ref) ([]Record, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	var out []Record
	err := l.do("ReadBatch", func(w *C.nwal) C.enum_nwal_status {
		r := l.takeReader(len(refs))
		st := C.nwal_read_batch_into(w, cRefs(refs), C.size_t(len(refs)), r.buf, r.recs)
		bytes := 0
		if st == C.NWAL_OK {
			recs := unsafe.Slice(r.recs, len(refs))
			for i := range recs {
				bytes += recordLen(&recs[i])
			}
			buf := make([]byte, 0, bytes)
			out = make([]Record, len(refs))
			for i := range recs {
				out[i], buf = copyRecord(buf, &recs[i])
			}
		}
		l.keepReader(r, bytes)
		return st
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadIndex reads the record of one index.
func (l *Log) ReadIndex(index uint64) (Entry, error) {
	var one [1]Entry
	es, _, err := l.readRange("ReadIndex", one[:0], nil, index, 1, 0)
	if err != nil {
		return Entry{}, err
	}
	return es[0], nil
}

// ReadRange reads the records of indexes from, from+1, ... in order: at
// most maxCount (and at most MaxRangeCount), stopping before their header
// and content bytes would pass maxBytes, but always at least one
// (nwal_read_range). An index outside the log fails with ErrNotFound, a
// maxCount of 0 or less with ErrInvalidArgument. The entries' headers and
// contents share one Go allocation.
func (l *Log) ReadRange(from uint64, maxCount int, maxBytes uint64) ([]Entry, error) {
	es, _, err := l.readRange("ReadRange", nil, nil, from, maxCount, maxBytes)
	return es, err
}

// ReadRangeInto is ReadRange into memory the caller keeps: the entries in
// dst[:0] and their headers and contents in buf[:0], each grown (into a new
// array) when too short; it returns both. A loop that passes back what it
// got allocates nothing once they are large enough. The entries' bytes are
// Go memory, but they are buf's: the next call that is given buf (or what
// came back as buf) overwrites them, so copy what must outlive it. On an
// error it returns dst[:0] and buf[:0].
func (l *Log) ReadRangeInto(dst []Entry, buf []byte, from uint64, maxCount int, maxBytes uint64) ([]Entry, []byte, error) {
	return l.readRange("ReadRangeInto", dst, buf, from, maxCount, maxBytes)
}

func (l *Log) readRange(op string, dst []Entry, buf []byte, from uint64, maxCount int, maxBytes uint64) ([]Entry, []byte, error) {
	dst, buf = dst[:0], buf[:0]
	if maxCount <= 0 {
		return dst, buf, goError(ErrInvalidArgument, "Log.%s: maxCount is %d, it must be at least 1", op, maxCount)
	}
	if maxCount > MaxRangeCount {
		maxCount = MaxRangeCount
	}
	err := l.do(op, func(w *C.nwal) C.enum_nwal_status {
		r := l.takeReader(maxCount)
		st := C.nwalgo_read_range_into(cHandle(unsafe.Pointer(w)), C.uint64_t(from), C.size_t(maxCount),
			C.uint64_t(maxBytes), cHandle(unsafe.Pointer(r)))
		bytes := 0
		if st == C.NWAL_OK {
			recs, refs := unsafe.Slice(r.recs, int(r.n)), unsafe.Slice(r.refs, int(r.n))
			for i := range recs {
				bytes += recordLen(&recs[i])
			}
			if cap(dst) < len(recs) {
				dst = make([]Entry, 0, len(recs))
			}
			if buf == nil || cap(buf) < bytes {
				buf = make([]byte, 0, bytes)
			}
			for i := range recs {
				e := Entry{Ref: refOf(&refs[i])}
				e.Record, buf = copyRecord(buf, &recs[i])
				dst = append(dst, e)
			}
		}
		l.keepReader(r, bytes)
		return st
	})
	return dst, buf, err
}

// cBytes views n bytes of C memory at p (n > 0), to copy from.
func cBytes(p *C.uint8_t, n C.size_t) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// recordLen is the bytes of r's header and content.
func recordLen(r *C.nwal_record) int {
	return int(r.header_len) + int(r.content_len)
}

// copyRecord appends the header and content of r (library memory) to buf,
// which has room for them, and returns the record as capacity-limited
// slices of buf's array (the header nil when r has none, the content never
// nil), and buf.
func copyRecord(buf []byte, r *C.nwal_record) (Record, []byte) {
	var rec Record
	if r.header != nil {
		rec.Header, buf = take(buf, r.header, r.header_len)
	}
	rec.Content, buf = take(buf, r.content, r.content_len)
	return rec, buf
}

// copyRecordAlone copies r into a Go allocation of its own.
func copyRecordAlone(r *C.nwal_record) Record {
	rec, _ := copyRecord(make([]byte, 0, recordLen(r)), r)
	return rec
}

// take appends n bytes of C memory at p to buf (which has room for them)
// and returns them as a capacity-limited slice of buf's array, and buf.
func take(buf []byte, p *C.uint8_t, n C.size_t) ([]byte, []byte) {
	start := len(buf)
	if n > 0 {
		buf = append(buf, cBytes(p, n)...)
	}
	return buf[start:len(buf):len(buf)], buf
}
