// SPDX-License-Identifier: MIT

package nanowal_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nano-wal/nano_wal/go/nanowal"
)

func appendN(t *testing.T, l *nanowal.Log, prefix string, n int) []nanowal.Ref {
	t.Helper()
	recs := make([]nanowal.Record, n)
	for i := range recs {
		recs[i].Content = []byte(fmt.Sprintf("%s%d", prefix, i))
	}
	refs, err := l.AppendBatch(recs, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

func TestTruncateAfterPurgeBeforeAndReset(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	old := appendN(t, l, "old", 5) // indexes 1-5
	it, err := l.ReplayFromIndex(5)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()

	if err := l.TruncateAfter(3); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.FirstIndex != 1 || st.LastIndex != 3 {
		t.Fatalf("after TruncateAfter(3): %+v", st)
	}
	for it.Next() {
	}
	if !errors.Is(it.Err(), nanowal.ErrNotFound) {
		t.Fatalf("an iterator past the cut ended with %v, want ErrNotFound", it.Err())
	}
	wantError(t, func() error { _, err := l.Read(old[3]); return err }(), nanowal.ErrNotFound, "")
	fresh := appendN(t, l, "new", 2)
	if fresh[0].Index != 4 || fresh[0].SegmentID == old[3].SegmentID && fresh[0].Offset <= old[4].Offset {
		t.Fatalf("append after the cut: %+v (the dropped one was %+v)", fresh[0], old[3])
	}
	// The dropped ref stays dropped although index 4 exists again.
	wantError(t, func() error { _, err := l.Read(old[3]); return err }(), nanowal.ErrNotFound, "")
	if e, err := l.ReadIndex(4); err != nil || string(e.Content) != "new0" {
		t.Fatalf("index 4 after the cut: %q %v", e.Content, err)
	}
	// Deferred: the same reads at once, durable with the next Sync.
	if err := l.TruncateAfterDeferred(4); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.LastIndex != 4 {
		t.Fatalf("after TruncateAfterDeferred(4): %+v", st)
	}
	wantError(t, func() error { _, err := l.Read(fresh[1]); return err }(), nanowal.ErrNotFound, "")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateAfter(100); err != nil {
		t.Fatalf("TruncateAfter above the last index: %v", err)
	}
	err = l.TruncateAfter(0) // FirstIndex-1: empties the log
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.LastIndex != 0 {
		t.Fatalf("after TruncateAfter(0): %+v", st)
	}

	// Purge the head: 10 records in segments 10 minutes apart, so the
	// purge deletes whole segments.
	var heads []nanowal.Ref
	for i := 0; i < 10; i++ {
		ref, err := l.Append(nanowal.Record{Content: []byte(fmt.Sprint("p", i))}, now.Add(time.Duration(i)*10*time.Minute), 0)
		if err != nil {
			t.Fatal(err)
		}
		heads = append(heads, ref)
	}
	first := heads[0].Index
	if err := l.PurgeBefore(first + 6); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.FirstIndex != first+6 || st.LastIndex != first+9 {
		t.Fatalf("after PurgeBefore(%d): %+v", first+6, st)
	}
	wantError(t, func() error { _, err := l.ReadIndex(first + 5); return err }(), nanowal.ErrNotFound, "")
	wantError(t, func() error { _, err := l.Read(heads[0]); return err }(), nanowal.ErrNotFound, "")
	if e, err := l.ReadIndex(first + 6); err != nil || string(e.Content) != "p6" {
		t.Fatalf("the new first record: %q %v", e.Content, err)
	}
	// Deferred: the same reads at once; Sync makes it durable.
	wantError(t, l.PurgeBeforeDeferred(first+11), nanowal.ErrInvalidArgument, "")
	if err := l.PurgeBeforeDeferred(first + 7); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.FirstIndex != first+7 {
		t.Fatalf("after PurgeBeforeDeferred(%d): %+v", first+7, st)
	}
	wantError(t, func() error { _, err := l.ReadIndex(first + 6); return err }(), nanowal.ErrNotFound, "")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.PurgeBefore(first); err != nil {
		t.Fatalf("PurgeBefore below the first index: %v", err)
	}
	wantError(t, l.PurgeBefore(first+11), nanowal.ErrInvalidArgument, "")
	if err := l.PurgeBefore(first + 10); err != nil { // LastIndex+1: every record
		t.Fatal(err)
	}
	if st, _ := l.State(); st.FirstIndex != first+10 || st.LastIndex != first+9 {
		t.Fatalf("after purging every record: %+v", st)
	}

	if err := l.Reset(1000); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.FirstIndex != 1000 || st.LastIndex != 999 {
		t.Fatalf("after Reset(1000): %+v", st)
	}
	if ref := appendN(t, l, "r", 1)[0]; ref.Index != 1000 {
		t.Fatalf("first append after Reset(1000): index %d", ref.Index)
	}
	wantError(t, l.Reset(0), nanowal.ErrInvalidArgument, "0")
	wantError(t, l.TruncateAfter(5), nanowal.ErrInvalidArgument, "5")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Durable: reopened, the log is what the reset and the append left.
	l = open(t, dir)
	defer l.Close()
	if e := replayAll(t, l); len(e) != 1 || e[0].Index != 1000 || string(e[0].Content) != "r0" {
		t.Fatalf("after reopen: %v", e)
	}
	if err := l.Shutdown(); err != nil {
		t.Fatal(err)
	}
	wantError(t, l.TruncateAfter(1000), nanowal.ErrShutdown, "shut down")
	wantError(t, l.Reset(1), nanowal.ErrShutdown, "shut down")
	wantError(t, l.PurgeBefore(1000), nanowal.ErrShutdown, "shut down")
}
