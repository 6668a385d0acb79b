// SPDX-License-Identifier: MIT

package nanowal_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/nano-wal/nano_wal/go/nanowal"
)

// readable reports whether fd is readable now (select with a zero timeout;
// the standard library has no poll).
func readable(t *testing.T, fd int) bool {
	t.Helper()
	var set syscall.FdSet
	set.Bits[fd/64] |= 1 << (uint(fd) % 64)
	n, err := syscall.Select(fd+1, &set, nil, nil, &syscall.Timeval{})
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func next(t *testing.T, f *nanowal.Follower, timeout time.Duration) nanowal.Event {
	t.Helper()
	ev, err := f.Next(timeout)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestWaitDurableAndFollowers(t *testing.T) {
	l := open(t, t.TempDir())
	appendN(t, l, "r", 2) // indexes 1, 2, not durable
	if ok, err := l.WaitDurable(2, 0); ok || err != nil {
		t.Fatalf("a zero timeout only checks: %v %v", ok, err)
	}
	d, err := l.Follow(1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if ev := next(t, d, 0); ev.Kind != nanowal.FollowedTimedOut {
		t.Fatalf("a durable follower before any sync: %+v", ev)
	}
	if ok, err := l.WaitDurable(2, -1); !ok || err != nil {
		t.Fatalf("WaitDurable(2): %v %v", ok, err)
	}
	_, err = l.WaitDurable(3, -1)
	wantError(t, err, nanowal.ErrNotFound, "nwal_wait_durable")
	for i := uint64(1); i <= 2; i++ {
		if ev := next(t, d, 0); ev.Kind != nanowal.FollowedRecord || ev.Entry.Ref.Index != i {
			t.Fatalf("durable follower, record %d: %+v", i, ev)
		}
	}

	// A follower waiting in another goroutine wakes for the append.
	a, err := l.Follow(3, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got := make(chan nanowal.Event)
	go func() { ev, _ := a.Next(-1); got <- ev }()
	appendN(t, l, "late", 1)
	if ev := <-got; ev.Kind != nanowal.FollowedRecord || string(ev.Entry.Content) != "late0" {
		t.Fatalf("woken follower: %+v", ev)
	}
	if err := l.TruncateAfter(1); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, d, 0); ev.Kind != nanowal.FollowedCut || ev.NextIndex != 2 {
		t.Fatalf("after TruncateAfter(1): %+v", ev)
	}

	// The event fd: clear, append, readable.
	fd, err := l.EventFD()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.ClearEvent(); err != nil {
		t.Fatal(err)
	}
	if readable(t, fd) {
		t.Fatal("the event fd is readable after ClearEvent")
	}
	appendN(t, l, "ev", 1)
	if !readable(t, fd) {
		t.Fatal("the event fd is not readable after an append")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, a, -1); ev.Kind != nanowal.FollowedCut || ev.NextIndex != 2 {
		t.Fatalf("the appended follower after the cut: %+v", ev)
	}
	if ev := next(t, a, -1); ev.Kind != nanowal.FollowedRecord || string(ev.Entry.Content) != "ev0" {
		t.Fatalf("after close, the record left: %+v", ev)
	}
	if ev := next(t, a, -1); ev.Kind != nanowal.FollowedDone {
		t.Fatalf("after close: %+v", ev)
	}
	_, err = l.WaitDurable(1, 0)
	wantError(t, err, nanowal.ErrInvalidArgument, "closed Log")
}
