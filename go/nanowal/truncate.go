// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
*/
import "C"

// TruncateAfter drops every record with an index above index (after a Raft
// conflict, say): the next append gets index+1. index may be as low as
// FirstIndex-1 (empty the log); at or above LastIndex nothing changes. It
// is durable when it returns nil; a crash leaves the log as it was before
// or after, never a mix. A dropped record never comes back: its refs and
// its index fail with ErrNotFound, even once a new record has that index
// (it goes to a new segment). An Iter that was past the cut ends with
// ErrNotFound.
func (l *Log) TruncateAfter(index uint64) error {
	return l.do("TruncateAfter", func(w *C.nwal) C.enum_nwal_status { return C.nwal_truncate_after(w, C.uint64_t(index)) })
}

// TruncateAfterDeferred is TruncateAfter without waiting for the disk, when
// the records it drops all lie in the active segment (otherwise it is
// TruncateAfter): one truncation record written, not synced. Readers see
// the log truncated at once; it becomes durable with the next durable
// append, Sync or Close, and a crash before that may bring the dropped
// records back (never a record appended after it without it). A Raft
// follower truncating a conflicting tail and appending the leader's
// entries durably pays one sync for both.
func (l *Log) TruncateAfterDeferred(index uint64) error {
	return l.do("TruncateAfterDeferred", func(w *C.nwal) C.enum_nwal_status { return C.nwal_truncate_after_deferred(w, C.uint64_t(index)) })
}

// PurgeBefore drops every record with an index below index (once a
// snapshot or checkpoint covers them): FirstIndex becomes index, up to
// LastIndex+1 (every record dropped: the next append gets index), and the
// whole segments below it are deleted. At or below FirstIndex nothing
// changes. The records below index are made durable first; the purge is
// durable and atomic as TruncateAfter.
func (l *Log) PurgeBefore(index uint64) error {
	return l.do("PurgeBefore", func(w *C.nwal) C.enum_nwal_status { return C.nwal_purge_before(w, C.uint64_t(index)) })
}

// PurgeBeforeDeferred is PurgeBefore without waiting for the disk: the purge
// point is written, not synced, and readers see the new FirstIndex at once.
// It becomes durable with the next Sync, durable metadata change, durable
// purge, Reset or Close (not with a durable append); a crash before that
// may bring FirstIndex back down as far as the last synced purge point,
// never lower. A purge that frees whole segments is synced anyway before
// it deletes them.
func (l *Log) PurgeBeforeDeferred(index uint64) error {
	return l.do("PurgeBeforeDeferred", func(w *C.nwal) C.enum_nwal_status { return C.nwal_purge_before_deferred(w, C.uint64_t(index)) })
}

// Reset drops every record (a follower installing a snapshot, say): the
// log is empty with FirstIndex nextIndex, and the next append gets
// nextIndex (1 to 2^63; below, at or above the old indexes). Durable and
// atomic as TruncateAfter; the metadata is kept.
func (l *Log) Reset(nextIndex uint64) error {
	return l.do("Reset", func(w *C.nwal) C.enum_nwal_status { return C.nwal_reset(w, C.uint64_t(nextIndex)) })
}
