// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
*/
import "C"

import "unsafe"

// MaxRangeCount is the most records one ReadRange returns: it bounds the
// memory a call sets aside, whatever maxCount asks.
const MaxRangeCount = 4096

// Read reads the record of one ref, with the checks and errors of
// ReadBatch. It reads into a library buffer the Log keeps for reuse
// (nwal_read_into), so the library allocates nothing per call.
func (l *Log) Read(ref Ref) (Record, error) {
	in := ref.c()
	var rec C.nwal_record
	var out Record
	err := l.do("Read", func(w *C.nwal) C.enum_nwal_status {
		buf := l.takeReadBuf()
		defer l.keepReadBuf(buf)
		st := C.nwal_read_into(w, &in, buf, &rec)
		if st == C.NWAL_OK {
			out = copyRecords([]C.nwal_record{rec})[0]
		}
		return st
	})
	return out, err
}

// takeReadBuf is an idle read buffer of l, or a new one (NULL only if the
// library could not make one: the read then fails with
// ErrInvalidArgument). Called while l is open.
func (l *Log) takeReadBuf() *C.nwal_read_buf {
	select {
	case buf := <-l.readBufs:
		return buf
	default:
	}
	var buf *C.nwal_read_buf
	C.nwal_read_buf_new(&buf)
	return buf
}

// keepReadBuf gives buf back for reuse, or frees it when enough are kept.
func (l *Log) keepReadBuf(buf *C.nwal_read_buf) {
	if buf == nil {
		return
	}
	select {
	case l.readBufs <- buf:
	default:
		C.nwal_read_buf_free(buf)
	}
}

// ReadBatch reads the records of refs, in the order of refs, verifying each
// one's checksum (nwal_read_batch: refs into one segment are read at once).
// A ref into a deleted or unknown segment fails with ErrNotFound, a ref
// that is not exactly a record with ErrCorruptedData or
// ErrInvalidArgument; then nothing is returned.
func (l *Log) ReadBatch(refs []Ref) ([]Record, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	in := make([]C.nwal_entry_ref, len(refs))
	for i, r := range refs {
		in[i] = r.c()
	}
	recs := make([]C.nwal_record, len(refs))
	var buf *C.nwal_read_buf
	err := l.do("ReadBatch", func(w *C.nwal) C.enum_nwal_status {
		return C.nwal_read_batch(w, &in[0], C.size_t(len(in)), &recs[0], &buf)
	})
	if err != nil {
		return nil, err
	}
	defer C.nwal_read_buf_free(buf)
	return copyRecords(recs), nil
}

// ReadIndex reads the record of one index.
func (l *Log) ReadIndex(index uint64) (Entry, error) {
	es, err := l.ReadRange(index, 1, 0)
	if err != nil {
		return Entry{}, err
	}
	return es[0], nil
}

// ReadRange reads the records of indexes from, from+1, ... in order: at
// most maxCount (and at most MaxRangeCount), stopping before their header
// and content bytes would pass maxBytes, but always at least one
// (nwal_read_range). An index outside the log fails with ErrNotFound, a
// maxCount of 0 or less with ErrInvalidArgument.
func (l *Log) ReadRange(from uint64, maxCount int, maxBytes uint64) ([]Entry, error) {
	if maxCount <= 0 {
		return nil, goError(ErrInvalidArgument, "Log.ReadRange: maxCount is %d, it must be at least 1", maxCount)
	}
	if maxCount > MaxRangeCount {
		maxCount = MaxRangeCount
	}
	recs := make([]C.nwal_record, maxCount)
	refs := make([]C.nwal_entry_ref, maxCount)
	var n C.size_t
	var buf *C.nwal_read_buf
	err := l.do("ReadRange", func(w *C.nwal) C.enum_nwal_status {
		return C.nwal_read_range(w, C.uint64_t(from), C.size_t(maxCount), C.uint64_t(maxBytes),
			&recs[0], &refs[0], &n, &buf)
	})
	if err != nil {
		return nil, err
	}
	defer C.nwal_read_buf_free(buf)
	out := make([]Entry, n)
	for i, r := range copyRecords(recs[:n]) {
		out[i] = Entry{refOf(&refs[i]), r}
	}
	return out, nil
}

// cBytes views n bytes of C memory at p (n > 0), to copy from.
func cBytes(p *C.uint8_t, n C.size_t) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// copyRecords copies records that point into library memory into one Go
// buffer, each header and content a capacity-limited slice of it.
func copyRecords(recs []C.nwal_record) []Record {
	total := 0
	for i := range recs {
		total += recordLen(&recs[i])
	}
	buf := make([]byte, 0, total)
	out := make([]Record, len(recs))
	for i := range recs {
		out[i], buf = copyRecord(buf, &recs[i])
	}
	return out
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

// take appends n bytes of C memory at p to buf (which has room for them)
// and returns them as a capacity-limited slice of buf's array, and buf.
func take(buf []byte, p *C.uint8_t, n C.size_t) ([]byte, []byte) {
	start := len(buf)
	if n > 0 {
		buf = append(buf, cBytes(p, n)...)
	}
	return buf[start:len(buf):len(buf)], buf
}
