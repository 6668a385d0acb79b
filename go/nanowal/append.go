// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
#include <stdint.h>

// nwal_append with the log passed as an integer and the ref returned by
// value: cgo boxes an argument that points to an incomplete struct on the
// Go heap to check it, and makes every pointer argument escape there, so an
// append would allocate twice. The log is C memory.
typedef struct {
	nwal_entry_ref ref;
	enum nwal_status st;
} nwalgo_append_result;

static nwalgo_append_result nwalgo_append(uintptr_t w, const uint8_t *header, size_t header_len,
		const uint8_t *content, size_t content_len, int64_t now_ms, uint32_t flags) {
	nwalgo_append_result r;
	r.st = nwal_append((nwal *)w, header, header_len, content, content_len, now_ms, flags, &r.ref);
	return r;
}
*/
import "C"

import (
	"sync"
	"time"
	"unsafe"
)

// Append appends one record at the caller's time now and returns its ref.
// flags is 0 or Durable.
func (l *Log) Append(rec Record, now time.Time, flags Flags) (Ref, error) {
	var ref C.nwal_entry_ref
	err := l.do("Append", func(w *C.nwal) C.enum_nwal_status {
		r := C.nwalgo_append(cHandle(unsafe.Pointer(w)), headerPtr(rec.Header), C.size_t(len(rec.Header)),
			bytesPtr(rec.Content), C.size_t(len(rec.Content)), C.int64_t(now.UnixMilli()), C.uint32_t(flags))
		ref = r.ref
		return r.st
	})
	if err != nil {
		return Ref{}, err
	}
	return refOf(&ref), nil
}

// packing is the buffer and spans a batch is packed into for
// nwal_append_batch_packed, which borrows them for the call only: they are
// reused through packings.
type packing struct {
	buf   []byte
	spans []C.nwal_span
}

var packings = sync.Pool{New: func() interface{} { return new(packing) }}

// keptPackingBytes: a packing that grew past this many bytes is left to
// the garbage collector instead of kept for the next batch.
const keptPackingBytes = 1 << 20

// release gives p, holding buf and spans, back to packings.
func (p *packing) release(buf []byte, spans []C.nwal_span) {
	if cap(buf) > keptPackingBytes || cap(spans)*int(unsafe.Sizeof(C.nwal_span{})) > keptPackingBytes {
		return
	}
	p.buf, p.spans = buf[:0], spans[:0]
	packings.Put(p)
}

// AppendBatch appends recs atomically (after a crash the log holds all of
// them or none), contiguous and in order, and returns their refs. It copies
// them into one buffer, which it reuses, and calls
// nwal_append_batch_packed (the nwal_append_batch of Go: cgo cannot pass an
// array of pointers into Go memory). An empty batch does nothing.
func (l *Log) AppendBatch(recs []Record, now time.Time, flags Flags) ([]Ref, error) {
	if len(recs) == 0 {
		return l.AppendPacked(nil, nil, now, flags)
	}
	size := 0
	for i := range recs {
		size += len(recs[i].Header) + len(recs[i].Content)
	}
	p := packings.Get().(*packing)
	buf, spans := p.buf[:0], p.spans[:0]
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	if cap(spans) < len(recs) {
		spans = make([]C.nwal_span, 0, len(recs))
	}
	for i := range recs {
		r := &recs[i]
		var s C.nwal_span
		if r.Header != nil {
			s.has_header = 1
			s.header_off, s.header_len = C.uint64_t(len(buf)), C.uint64_t(len(r.Header))
			buf = append(buf, r.Header...)
		}
		s.content_off, s.content_len = C.uint64_t(len(buf)), C.uint64_t(len(r.Content))
		buf = append(buf, r.Content...)
		spans = append(spans, s)
	}
	refs, err := l.appendPacked("AppendBatch", buf, spans, now, flags)
	p.release(buf, spans)
	return refs, err
}

// Span locates one record of AppendPacked in its buffer (nwal_span).
type Span struct {
	HeaderOff, HeaderLen   uint64 // the header's range (HeaderLen 0 if !HasHeader)
	ContentOff, ContentLen uint64 // the content's range
	HasHeader              bool   // false: no header
}

// AppendPacked appends the records that spans locate in buf, atomically, as
// AppendBatch does, without copying them first (nwal_append_batch_packed).
// A span outside buf fails with ErrInvalidArgument naming it, and nothing
// of the batch is appended.
func (l *Log) AppendPacked(buf []byte, spans []Span, now time.Time, flags Flags) ([]Ref, error) {
	if len(spans) == 0 {
		return nil, l.do("AppendPacked", func(w *C.nwal) C.enum_nwal_status {
			return C.nwal_append_batch_packed(w, nil, 0, nil, 0, C.int64_t(now.UnixMilli()), C.uint32_t(flags), nil)
		})
	}
	p := packings.Get().(*packing)
	cs := p.spans[:0]
	if cap(cs) < len(spans) {
		cs = make([]C.nwal_span, 0, len(spans))
	}
	for _, s := range spans {
		c := C.nwal_span{
			header_off: C.uint64_t(s.HeaderOff), header_len: C.uint64_t(s.HeaderLen),
			content_off: C.uint64_t(s.ContentOff), content_len: C.uint64_t(s.ContentLen),
		}
		if s.HasHeader {
			c.has_header = 1
		}
		cs = append(cs, c)
	}
	refs, err := l.appendPacked("AppendPacked", buf, cs, now, flags)
	p.release(p.buf, cs)
	return refs, err
}

// appendPacked is nwal_append_batch_packed of spans (non-empty) into buf,
// with the refs written by C into the []Ref it returns.
func (l *Log) appendPacked(op string, buf []byte, spans []C.nwal_span, now time.Time, flags Flags) ([]Ref, error) {
	refs := make([]Ref, len(spans))
	err := l.do(op, func(w *C.nwal) C.enum_nwal_status {
		return C.nwal_append_batch_packed(w, bytesPtr(buf), C.size_t(len(buf)), &spans[0], C.size_t(len(spans)),
			C.int64_t(now.UnixMilli()), C.uint32_t(flags), cRefs(refs))
	})
	if err != nil {
		return nil, err
	}
	return refs, nil
}
