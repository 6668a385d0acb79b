// SPDX-License-Identifier: MIT

package nanowal_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nano-wal/nano_wal/go/nanowal"
)

// View lends each replayed record from the library's memory: the same ref,
// header (nil when none, empty when empty) and content as Entry copies,
// across batches (more records than one cgo call fetches) and segments;
// zero values before the first Next, after the end and after Close.
func TestIterViewLendsWhatEntryCopies(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	want := appendMixed(t, l, 300)
	it, err := l.Replay()
	if err != nil {
		t.Fatal(err)
	}
	if ref, h, c := it.View(); ref != (nanowal.Ref{}) || h != nil || c != nil {
		t.Fatalf("View before Next: %v %q %q", ref, h, c)
	}
	n := 0
	segments := map[uint64]bool{}
	for it.Next() {
		ref, h, c := it.View()
		e := it.Entry()
		if ref != e.Ref || !bytes.Equal(c, want[n].Content) || !bytes.Equal(c, e.Content) ||
			(h == nil) != (want[n].Header == nil) || !bytes.Equal(h, want[n].Header) {
			t.Fatalf("record %d: view %v %q %q, entry %v, want %q %q", n, ref, h, c, e, want[n].Header, want[n].Content)
		}
		if ref.Index != uint64(n+1) {
			t.Fatalf("record %d has index %d", n, ref.Index)
		}
		segments[ref.SegmentID] = true
		n++
	}
	if err := it.Err(); err != nil || n != len(want) || len(segments) != 3 {
		t.Fatalf("replayed %d of %d in %d segments: %v", n, len(want), len(segments), err)
	}
	if ref, h, c := it.View(); ref != (nanowal.Ref{}) || h != nil || c != nil {
		t.Fatalf("View after the end: %v %q %q", ref, h, c)
	}
	if e := it.Entry(); e.Content != nil {
		t.Fatalf("Entry after the end: %v", e)
	}
	it.Close()
	if ref, _, c := it.View(); ref != (nanowal.Ref{}) || c != nil {
		t.Fatal("View after Close")
	}

	// Entries copied before the next Next stay the caller's; only some
	// records of a batch copied.
	it, err = l.Replay()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var kept []nanowal.Entry
	for i := 0; it.Next(); i++ {
		if i%7 == 3 {
			kept = append(kept, it.Entry())
		}
	}
	for k, e := range kept {
		i := 7*k + 3
		if e.Index != uint64(i+1) || !bytes.Equal(e.Content, want[i].Content) {
			t.Fatalf("kept entry %d: %v", k, e)
		}
	}
}

// appendMixed appends n records over three segments, with no header, an
// empty one or one of their own in turn, and returns them.
func appendMixed(t *testing.T, l *nanowal.Log, n int) []nanowal.Record {
	t.Helper()
	var recs []nanowal.Record
	for i := 0; i < n; i++ {
		rec := nanowal.Record{Content: []byte(fmt.Sprintf("record %d", i))}
		switch i % 3 {
		case 1:
			rec.Header = []byte{}
		case 2:
			rec.Header = []byte(fmt.Sprintf("h%d", i))
		}
		at := now.Add(testOptions.SegmentDuration * time.Duration(3*i/n))
		if _, err := l.Append(rec, at, 0); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// NextViews lends the records Next would return next, to the end of the
// batch in hand: with Next calls mixed in, every record comes once and in
// order, the same as Entry copies (header nil when none, empty when
// empty), across batches and segments. The array of dst is reused; the
// last record lent is then the current one; empty at the end and after
// Close.
func TestIterNextViews(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	want := appendMixed(t, l, 1000)
	it, err := l.Replay()
	if err != nil {
		t.Fatal(err)
	}
	var seen []nanowal.Entry // copies of what Next and NextViews returned, in order
	var batch []nanowal.Entry
	batches, afterNext := 0, 0
	for round := 0; ; round++ {
		if round%3 == 1 {
			if !it.Next() {
				break
			}
			seen = append(seen, it.Entry())
		}
		prev := batch
		batch = it.NextViews(batch)
		if len(batch) == 0 {
			break
		}
		if cap(prev) >= len(batch) && cap(prev) > 0 && &prev[:1][0] != &batch[0] {
			t.Fatalf("batch %d: a new array though dst had room for %d", batches, len(batch))
		}
		if round%3 == 1 {
			afterNext++
		}
		batches++
		for _, e := range batch {
			c := nanowal.Entry{Ref: e.Ref, Record: nanowal.Record{Content: append([]byte{}, e.Content...)}}
			if e.Header != nil {
				c.Header = append([]byte{}, e.Header...)
			}
			seen = append(seen, c)
		}
		last := batch[len(batch)-1]
		if e := it.Entry(); e.Ref != last.Ref || !sameRecord(e.Record, last.Record) {
			t.Fatalf("batch %d: the current record is %v, not the last one lent %v", batches, e.Ref, last.Ref)
		}
		if ref, _, c := it.View(); ref != last.Ref || !bytes.Equal(c, last.Content) {
			t.Fatalf("batch %d: View is %v", batches, ref)
		}
	}
	if err := it.Err(); err != nil || len(seen) != len(want) {
		t.Fatalf("%d records of %d: %v", len(seen), len(want), err)
	}
	if batches < 6 || afterNext == 0 {
		t.Fatalf("%d batches, %d after a Next: the test covers too little", batches, afterNext)
	}
	for i, e := range seen {
		if e.Index != uint64(i+1) || !sameRecord(e.Record, want[i]) {
			t.Fatalf("record %d: %v %q %q, want %q %q", i, e.Ref, e.Header, e.Content, want[i].Header, want[i].Content)
		}
	}
	if b := it.NextViews(batch); len(b) != 0 || it.Next() {
		t.Fatalf("after the end: %d records", len(b))
	}
	it.Close()
	if b := it.NextViews(nil); len(b) != 0 {
		t.Fatalf("after Close: %d records", len(b))
	}
}

// An Iter is safe for concurrent use: goroutines that call Next, Entry,
// View, NextViews and Err on one Iter at once (under the race detector in
// the test command) take every record once between them, and what Entry
// copies is a whole record.
func TestIterConcurrentUse(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	const n = 3000
	appendMixed(t, l, n)
	it, err := l.Replay()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var mu sync.Mutex
	taken := 0
	lent := map[uint64]bool{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			var batch []nanowal.Entry
			for {
				if g%2 == 0 {
					if !it.Next() {
						return
					}
					mu.Lock()
					taken++
					mu.Unlock()
					// Another goroutine may have moved on: the record is
					// then a later one, or none at the end.
					if e := it.Entry(); e.Content != nil && string(e.Content) != fmt.Sprintf("record %d", e.Index-1) {
						t.Errorf("entry %v holds %q", e.Ref, e.Content)
						return
					}
					it.View() // its bytes may be gone before they are read: only the call
				} else {
					batch = it.NextViews(batch)
					if len(batch) == 0 {
						return
					}
					mu.Lock()
					taken += len(batch)
					for _, e := range batch { // the refs are copies; the bytes are not read
						if lent[e.Index] {
							t.Errorf("record %d lent twice", e.Index)
						}
						lent[e.Index] = true
					}
					mu.Unlock()
				}
				if err := it.Err(); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	close(start)
	wg.Wait()
	if taken != n {
		t.Fatalf("%d records taken of %d (%d by NextViews)", taken, n, len(lent))
	}
}
