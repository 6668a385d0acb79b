// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
*/
import "C"

import "time"

// Append appends one record at the caller's time now and returns its ref.
// flags is 0 or Durable.
func (l *Log) Append(rec Record, now time.Time, flags Flags) (Ref, error) {
	var ref C.nwal_entry_ref
	err := l.do("Append", func(w *C.nwal) C.enum_nwal_status {
		return C.nwal_append(w, headerPtr(rec.Header), C.size_t(len(rec.Header)),
			bytesPtr(rec.Content), C.size_t(len(rec.Content)), C.int64_t(now.UnixMilli()), C.uint32_t(flags), &ref)
	})
	if err != nil {
		return Ref{}, err
	}
	return refOf(&ref), nil
}

// AppendBatch appends recs atomically (after a crash the log holds all of
// them or none), contiguous and in order, and returns their refs. It copies
// them into one buffer and calls AppendPacked (the nwal_append_batch of Go:
// cgo cannot pass an array of pointers into Go memory). An empty batch does
// nothing.
func (l *Log) AppendBatch(recs []Record, now time.Time, flags Flags) ([]Ref, error) {
	size := 0
	for _, r := range recs {
		size += len(r.Header) + len(r.Content)
	}
	buf := make([]byte, 0, size)
	spans := make([]Span, len(recs))
	for i, r := range recs {
		if r.Header != nil {
			spans[i].HasHeader = true
			spans[i].HeaderOff, spans[i].HeaderLen = uint64(len(buf)), uint64(len(r.Header))
			buf = append(buf, r.Header...)
		}
		spans[i].ContentOff, spans[i].ContentLen = uint64(len(buf)), uint64(len(r.Content))
		buf = append(buf, r.Content...)
	}
	return l.AppendPacked(buf, spans, now, flags)
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
	err := l.do("AppendPacked", func(w *C.nwal) C.enum_nwal_status {
		return C.nwal_append_batch_packed(w, bytesPtr(buf), C.size_t(len(buf)), &cs[0], C.size_t(len(cs)),
			C.int64_t(now.UnixMilli()), C.uint32_t(flags), &out[0])
	})
	if err != nil {
		return nil, err
	}
	refs := make([]Ref, len(out))
	for i := range out {
		refs[i] = refOf(&out[i])
	}
	return refs, nil
}
