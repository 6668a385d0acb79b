// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
*/
import "C"

import (
	"errors"
	"time"
)

// Kept is why a segment stays on disk: a bit set of the Kept* reasons
// (nwal_segment_retention.kept).
type Kept uint32

// The reasons a segment stays.
const (
	KeptActive       Kept = C.NWAL_KEPT_ACTIVE        // appends go to it (never deleted)
	KeptNotExpired   Kept = C.NWAL_KEPT_NOT_EXPIRED   // not expired before its Expiration
	KeptHeld         Kept = C.NWAL_KEPT_HELD          // a reader hold keeps its records (Log.Hold)
	KeptWithinBudget Kept = C.NWAL_KEPT_WITHIN_BUDGET // the stream fits in Options.MaxStreamBytes with it
	KeptAfterKept    Kept = C.NWAL_KEPT_AFTER_KEPT    // an older segment stays, and the log has no hole
)

// DeleteReason is the rule by which a cleanup deletes a segment
// (nwal_segment_retention.deleted_by).
type DeleteReason uint32

// The rules a cleanup deletes by; DeleteNone for a segment it keeps.
const (
	DeleteNone       DeleteReason = 0
	DeleteExpired    DeleteReason = C.NWAL_DELETE_EXPIRED     // its Expiration is at or before the cleanup's time
	DeleteSizeBudget DeleteReason = C.NWAL_DELETE_SIZE_BUDGET // before it expires, for Options.MaxStreamBytes
)

// SegmentRetention is one segment as Log.Retention judges it
// (nwal_segment_retention).
type SegmentRetention struct {
	SegmentID  uint64
	FileSize   uint64    // bytes
	Expiration time.Time // its window's end plus Options.Retention
	// Why it stays; 0 when a cleanup at that time deletes it.
	Kept Kept
	// The rule a cleanup at that time deletes it by; DeleteNone when it
	// stays.
	DeletedBy DeleteReason
	// The reader holds keeping it (within their lag limits), and the one
	// keeping from the lowest index (the first by name among equals):
	// 0 and "" when no hold keeps it.
	Holds     uint64
	HoldIndex uint64
	HoldName  string
}

// retentionFirst is the number of segments Retention makes room for
// first; a stream with more costs a second call at its count.
const retentionFirst = 64

// Retention is why each segment of the stream, in log order, is still on
// disk, or by which rule a Cleanup at now would delete it (nwal_retention).
// It deletes nothing and drops no hold (holds lagging past
// Options.MaxHoldLagBytes or MaxHoldLag at now are left out, as Cleanup
// drops them first). It sizes its buffer itself.
func (l *Log) Retention(now time.Time) ([]SegmentRetention, error) {
	buf := make([]C.nwal_segment_retention, retentionFirst)
	for {
		var n C.size_t
		err := l.do("Retention", func(w *C.nwal) C.enum_nwal_status {
			return C.nwal_retention(w, C.int64_t(now.UnixMilli()), &buf[0], C.size_t(len(buf)), &n)
		})
		if errors.Is(err, ErrBufferTooSmall) {
			// A rotation may add segments before the next call: room for a
			// few more than now.
			buf = make([]C.nwal_segment_retention, int(n)+retentionFirst)
			continue
		}
		if err != nil {
			return nil, err
		}
		out := make([]SegmentRetention, n)
		for i := range out {
			r := &buf[i]
			out[i] = SegmentRetention{
				SegmentID:  uint64(r.segment_id),
				FileSize:   uint64(r.file_size),
				Expiration: time.UnixMilli(int64(r.expiration_ms)),
				Kept:       Kept(r.kept),
				DeletedBy:  DeleteReason(r.deleted_by),
				Holds:      uint64(r.holds),
				HoldIndex:  uint64(r.hold_index),
				HoldName:   C.GoString(&r.hold_name[0]),
			}
		}
		return out, nil
	}
}
