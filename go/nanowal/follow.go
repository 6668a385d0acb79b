// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
*/
import "C"

import (
	"sync"
	"time"
)

// timeoutMillis is a C timeout: a negative duration waits without limit,
// 0 only looks; otherwise whole milliseconds, rounded up.
func timeoutMillis(d time.Duration) C.int64_t {
	if d < 0 {
		return -1
	}
	return C.int64_t((d + time.Millisecond - 1) / time.Millisecond)
}

// WaitDurable waits until the record of index is durable, for at most
// timeout (negative: no limit; 0: only check, starting no fdatasync). It
// returns true once it is, false when the timeout passed first. Waiters
// share the group commit's fdatasync with each other and with durable
// appends. ErrNotFound for an index above the last one (also one a
// truncation dropped while waiting); ErrIO on a poisoned log. The call
// holds its OS thread while it waits.
func (l *Log) WaitDurable(index uint64, timeout time.Duration) (bool, error) {
	var st Status
	err := l.doOutcome("WaitDurable", &st, func(w *C.nwal) C.enum_nwal_status {
		return C.nwal_wait_durable(w, C.uint64_t(index), timeoutMillis(timeout))
	})
	return err == nil && st == StatusOK, err
}

// doOutcome is do for the functions with outcomes that are not errors.
func (l *Log) doOutcome(op string, st *Status, f func(w *C.nwal) C.enum_nwal_status) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.w == nil {
		return goError(ErrInvalidArgument, "Log.%s on a closed Log", op)
	}
	var err error
	*st, err = callOutcome(func() C.enum_nwal_status { return f(l.w) })
	return err
}

// Followed says what Follower.Next found.
type Followed int

const (
	FollowedRecord   Followed = iota // the next record (Event.Entry)
	FollowedTimedOut                 // no record before the timeout
	FollowedCut                      // a truncation dropped records it returned; it goes on at Event.NextIndex
	FollowedGap                      // records ahead of it were purged; it goes on at Event.NextIndex
	FollowedDone                     // the log was shut down and everything was returned
)

// Event is one result of Follower.Next.
type Event struct {
	Kind      Followed
	Entry     Entry  // the record, for FollowedRecord (copied into Go memory)
	NextIndex uint64 // where it goes on, for FollowedCut and FollowedGap
}

// Follower reads the log from an index on and, at its end, waits for new
// records (an nwal_follower). With durable set it returns only records
// known durable, so a replica never ships one its source can still lose.
// It may outlive Close of its Log: it then returns what is left, then
// FollowedDone. Its methods are safe for concurrent use; one goroutine at
// a time is the use it is made for.
type Follower struct {
	mu sync.Mutex
	f  *C.nwal_follower
}

// Follow opens a Follower from index (from the first index to one past the
// last one; ErrNotFound otherwise).
func (l *Log) Follow(from uint64, durable bool) (*Follower, error) {
	var flags C.uint32_t
	if durable {
		flags = C.NWAL_FOLLOW_DURABLE
	}
	var f *C.nwal_follower
	err := l.do("Follow", func(w *C.nwal) C.enum_nwal_status {
		return C.nwal_follow_open(w, C.uint64_t(from), flags, &f)
	})
	if err != nil {
		return nil, err
	}
	return &Follower{f: f}, nil
}

// Next returns the next record, or what happened instead, waiting at most
// timeout (negative: no limit; 0: only look) at the end of the log. The
// call holds its OS thread while it waits.
func (fo *Follower) Next(timeout time.Duration) (Event, error) {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	if fo.f == nil {
		return Event{}, goError(ErrInvalidArgument, "Follower.Next on a closed Follower")
	}
	var rec C.nwal_record
	var ref C.nwal_entry_ref
	st, err := callOutcome(func() C.enum_nwal_status {
		return C.nwal_follow_next(fo.f, timeoutMillis(timeout), &rec, &ref)
	})
	switch {
	case err != nil:
		return Event{}, err
	case st == StatusOK:
		return Event{Kind: FollowedRecord, Entry: Entry{refOf(&ref), copyRecordAlone(&rec)}}, nil
	case st == StatusCut:
		return Event{Kind: FollowedCut, NextIndex: uint64(ref.index)}, nil
	case st == StatusGap:
		return Event{Kind: FollowedGap, NextIndex: uint64(ref.index)}, nil
	case st == StatusTimedOut:
		return Event{Kind: FollowedTimedOut}, nil
	}
	return Event{Kind: FollowedDone}, nil
}

// Close releases the follower (nwal_follow_free). Closing it again does
// nothing. It always returns nil; it has the io.Closer signature.
func (fo *Follower) Close() error {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	C.nwal_follow_free(fo.f)
	fo.f = nil
	return nil
}

// EventFD is the log's event fd, for a poll or epoll loop: readable once a
// record was appended, the durable index moved, or a truncation or shutdown
// happened since ClearEvent. It belongs to the log: never read, write or
// close it. The loop: ClearEvent, take every record (Next with a timeout of
// 0 until FollowedTimedOut), then poll.
func (l *Log) EventFD() (int, error) {
	var fd C.int
	err := l.do("EventFD", func(w *C.nwal) C.enum_nwal_status { return C.nwal_event_fd(w, &fd) })
	return int(fd), err
}

// ClearEvent makes the event fd unreadable until the next change.
func (l *Log) ClearEvent() error {
	return l.do("ClearEvent", func(w *C.nwal) C.enum_nwal_status { return C.nwal_event_clear(w) })
}
