// SPDX-License-Identifier: MIT

package nanowal_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nano-wal/nano_wal/go/internal/cgorules"
	"github.com/nano-wal/nano_wal/go/nanowal"
)

var now = time.UnixMilli(1711234567890)

var testOptions = nanowal.Options{Retention: time.Hour, SegmentDuration: 10 * time.Minute}

func open(t *testing.T, dir string) *nanowal.Log {
	t.Helper()
	l, err := nanowal.Open(dir, "events", testOptions)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

// wantError checks that err is an *Error of status want whose message holds
// msgPart, and that errors.Is matches that status and no other.
func wantError(t *testing.T, err error, want nanowal.Status, msgPart string) *nanowal.Error {
	t.Helper()
	var e *nanowal.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want an *Error of %v", err, err, want)
	}
	if e.Status != want || !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	if want != nanowal.ErrNotFound && errors.Is(err, nanowal.ErrNotFound) {
		t.Fatalf("%v matches ErrNotFound", err)
	}
	if !strings.Contains(e.Message, msgPart) {
		t.Fatalf("message %q does not contain %q", e.Message, msgPart)
	}
	if e.Error() != want.String()+": "+e.Message {
		t.Fatalf("Error(): %q", e.Error())
	}
	return e
}

func sameRecord(a, b nanowal.Record) bool {
	return (a.Header == nil) == (b.Header == nil) && bytes.Equal(a.Header, b.Header) &&
		bytes.Equal(a.Content, b.Content)
}

func drain(t *testing.T, it *nanowal.Iter, err error) []nanowal.Entry {
	t.Helper()
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	defer it.Close()
	var out []nanowal.Entry
	for it.Next() {
		out = append(out, it.Entry())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iteration: %v", err)
	}
	return out
}

func replayAll(t *testing.T, l *nanowal.Log) []nanowal.Entry {
	t.Helper()
	it, err := l.Replay()
	return drain(t, it, err)
}

func TestAppendBatchReadReplay(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	want := []nanowal.Record{
		{Header: []byte("key-1"), Content: []byte("first")},
		{Header: nil, Content: []byte("no header")},
		{Header: []byte{}, Content: []byte{}},
		{Header: []byte("k-a"), Content: []byte("batch a")},
		{Header: nil, Content: []byte("batch b")},
		{Header: []byte("k-c"), Content: bytes.Repeat([]byte("c"), 100_000)},
	}
	var refs []nanowal.Ref
	for i, r := range want[:3] {
		flags := nanowal.Flags(0)
		if i == 0 {
			flags = nanowal.Durable
		}
		ref, err := l.Append(r, now, flags)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		refs = append(refs, ref)
	}
	brefs, err := l.AppendBatch(want[3:], now, nanowal.Durable)
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	refs = append(refs, brefs...)
	for i := 1; i < len(refs); i++ {
		if refs[i].SegmentID != refs[0].SegmentID || refs[i].Offset <= refs[i-1].Offset ||
			refs[i].Index != refs[i-1].Index+1 {
			t.Fatalf("refs out of order: %v", refs)
		}
	}
	if refs[0].Index != 1 {
		t.Fatalf("first index %d, want the default 1", refs[0].Index)
	}
	if empty, err := l.AppendBatch(nil, now, 0); err != nil || empty != nil {
		t.Fatalf("empty batch: %v %v", empty, err)
	}

	got, err := l.ReadBatch(refs)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	for i := range want {
		if !sameRecord(got[i], want[i]) {
			t.Fatalf("record %d: got %q/%d bytes, want %q", i, got[i].Header, len(got[i].Content), want[i].Header)
		}
	}
	// The records read back share one buffer, but each is capacity-limited:
	// appending to one does not overwrite the next.
	_ = append(got[0].Content, "XXXX"...)
	if again, _ := l.ReadBatch(refs[:2]); !sameRecord(got[1], again[1]) || !sameRecord(got[1], want[1]) {
		t.Fatalf("appending to a read record changed the next one: %q", got[1].Content)
	}
	one, err := l.Read(refs[5])
	if err != nil || !sameRecord(one, want[5]) {
		t.Fatalf("read one: %v", err)
	}

	entries := replayAll(t, l)
	if len(entries) != len(refs) {
		t.Fatalf("replayed %d records, want %d", len(entries), len(refs))
	}
	for i := range refs {
		if entries[i].Ref != refs[i] || !sameRecord(entries[i].Record, want[i]) {
			t.Fatalf("replay %d: %v, want %v", i, entries[i].Ref, refs[i])
		}
	}
	it, err := l.ReplayFrom(refs[4])
	if e := drain(t, it, err); len(e) != 2 || e[0].Ref != refs[4] || !sameRecord(e[1].Record, want[5]) {
		t.Fatalf("replay from refs[4] (inclusive): %v", e)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// Reopened, the log holds the same records, all durable.
	l = open(t, dir)
	defer l.Close()
	if e := replayAll(t, l); len(e) != len(refs) || e[5].Ref != refs[5] || !sameRecord(e[5].Record, want[5]) {
		t.Fatalf("after reopen: %d records", len(e))
	}
	if st, err := l.State(); err != nil || st != (nanowal.LogState{FirstIndex: 1, LastIndex: 6, DurableIndex: 6}) {
		t.Fatalf("state after reopen: %+v %v", st, err)
	}
}

func TestReadsByIndexStateAndSync(t *testing.T) {
	o := testOptions
	o.FirstIndex = 1000
	l, err := nanowal.Open(t.TempDir(), "idx", o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if st, err := l.State(); err != nil || st != (nanowal.LogState{FirstIndex: 1000, LastIndex: 999, DurableIndex: 999}) {
		t.Fatalf("empty state: %+v %v", st, err)
	}
	var recs []nanowal.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, nanowal.Record{Header: []byte{byte(i)}, Content: bytes.Repeat([]byte{'a' + byte(i)}, 100)})
	}
	refs, err := l.AppendBatch(recs, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.State()
	if err != nil || st.FirstIndex != 1000 || st.LastIndex != 1009 || st.DurableIndex > st.LastIndex {
		t.Fatalf("state: %+v %v", st, err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(); st.DurableIndex != 1009 {
		t.Fatalf("after Sync: %+v", st)
	}

	e, err := l.ReadIndex(1003)
	if err != nil || e.Ref != refs[3] || !sameRecord(e.Record, recs[3]) {
		t.Fatalf("ReadIndex(1003): %+v %v", e.Ref, err)
	}
	// A budget of 250 bytes holds two records of 101 bytes.
	es, err := l.ReadRange(1002, 5, 250)
	if err != nil || len(es) != 2 || es[0].Ref != refs[2] || es[1].Ref != refs[3] || !sameRecord(es[1].Record, recs[3]) {
		t.Fatalf("ReadRange(1002, 5, 250): %d entries, %v", len(es), err)
	}
	// The first record comes whatever its size; maxCount caps the rest.
	if es, err := l.ReadRange(1000, 3, 0); err != nil || len(es) != 1 {
		t.Fatalf("ReadRange budget 0: %d %v", len(es), err)
	}
	if es, err := l.ReadRange(1007, 100, 1<<20); err != nil || len(es) != 3 || es[2].Ref != refs[9] {
		t.Fatalf("ReadRange to the end: %d %v", len(es), err)
	}

	wantError(t, func() error { _, err := l.ReadIndex(999); return err }(), nanowal.ErrNotFound, "999")
	wantError(t, func() error { _, err := l.ReadIndex(1010); return err }(), nanowal.ErrNotFound, "1010")
	wantError(t, func() error { _, err := l.ReadRange(1000, 0, 0); return err }(), nanowal.ErrInvalidArgument, "maxCount is 0")

	it, err := l.ReplayFromIndex(1008)
	if e := drain(t, it, err); len(e) != 2 || e[0].Ref != refs[8] {
		t.Fatalf("replay from index 1008: %v", e)
	}
	_, err = l.ReplayFromIndex(5)
	wantError(t, err, nanowal.ErrNotFound, "5")

	// From one past the last index, the iterator returns what is appended
	// before it reaches the end.
	it, err = l.ReplayFromIndex(1010)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	ref, err := l.Append(nanowal.Record{Content: []byte("later")}, now, nanowal.Durable)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() || it.Entry().Ref != ref || string(it.Entry().Content) != "later" || it.Entry().Header != nil {
		t.Fatalf("iterator from the end: %v %+v", it.Err(), it.Entry())
	}
	if it.Next() || it.Err() != nil || it.Entry().Ref != (nanowal.Ref{}) {
		t.Fatalf("iterator past the end: %v", it.Err())
	}
}

func TestOptionsShutdownCleanup(t *testing.T) {
	d := nanowal.DefaultOptions()
	if d.Retention != 7*24*time.Hour || d.SegmentDuration != time.Hour || d.FileMode != 0o600 ||
		d.FirstIndex != 1 || d.MaxSegmentBytes != 0 || d.Salvage {
		t.Fatalf("defaults: %+v", d)
	}
	dir := t.TempDir()
	l, err := nanowal.Open(dir, "retained", nanowal.Options{
		Retention: time.Minute, SegmentDuration: time.Minute, FileMode: 0o640, MaxSegmentBytes: 1 << 16,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	old, err := l.Append(nanowal.Record{Content: []byte("old")}, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(10 * time.Minute)
	fresh, err := l.Append(nanowal.Record{Content: []byte("fresh")}, later, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.SegmentID == old.SegmentID {
		t.Fatalf("10 minutes later with 1-minute segments, same segment %d", old.SegmentID)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() && strings.Contains(f, "retained") &&
			fi.Mode().Perm() != 0o640 {
			t.Fatalf("%s has mode %v, want 0640", f, fi.Mode().Perm())
		}
	}

	if r, err := l.Cleanup(now); err != nil || r.DeletedSegments != 0 || r.LiveSegments != 2 {
		t.Fatalf("cleanup before expiry: %+v %v", r, err)
	}
	r, err := l.Cleanup(later)
	if err != nil || r.DeletedSegments != 1 || r.LiveSegments != 1 || r.BytesReclaimed == 0 {
		t.Fatalf("cleanup: %+v %v", r, err)
	}
	wantError(t, func() error { _, err := l.Read(old); return err }(), nanowal.ErrNotFound, "not found")
	if rec, err := l.Read(fresh); err != nil || string(rec.Content) != "fresh" {
		t.Fatalf("read fresh: %v", err)
	}

	if err := l.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := l.Shutdown(); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	_, err = l.Append(nanowal.Record{Content: []byte("x")}, later, 0)
	wantError(t, err, nanowal.ErrShutdown, "shut down")
	_, err = l.Cleanup(later)
	wantError(t, err, nanowal.ErrShutdown, "shut down")
	// Reads, replay and Sync still work, and the stream lock is released.
	if e := replayAll(t, l); len(e) != 1 || e[0].Ref != fresh {
		t.Fatalf("replay after shutdown: %v", e)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l2, err := nanowal.Open(dir, "retained", nanowal.Options{Retention: time.Minute, SegmentDuration: time.Minute})
	if err != nil {
		t.Fatalf("reopen after shutdown: %v", err)
	}
	l2.Close()
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	ref, err := l.Append(nanowal.Record{Content: []byte("x")}, now, 0)
	if err != nil {
		t.Fatal(err)
	}

	_, err = nanowal.Open(dir, "events", nanowal.Options{})
	if e := wantError(t, err, nanowal.ErrLocked, "locked"); e.Errno != 0 || errors.Unwrap(err) != nil {
		t.Fatalf("LOCKED has errno %v", e.Errno)
	}
	_, err = nanowal.Open(dir, "../escape", nanowal.Options{})
	wantError(t, err, nanowal.ErrInvalidArgument, "stream name")
	_, err = nanowal.Open(dir, "s", nanowal.Options{Retention: time.Minute, SegmentDuration: time.Hour})
	wantError(t, err, nanowal.ErrInvalidConfig, "retention")
	_, err = nanowal.Open(dir, "s", nanowal.Options{MaxSegmentBytes: 100})
	wantError(t, err, nanowal.ErrInvalidConfig, "65536")
	_, err = nanowal.Open(dir, "s", nanowal.Options{FileMode: 0o400})
	wantError(t, err, nanowal.ErrInvalidConfig, "mode")

	// An OS error carries its errno, which errors.Is finds.
	_, err = nanowal.Open("/dev/null/wal", "s", nanowal.Options{})
	if e := wantError(t, err, nanowal.ErrIO, ""); e.Errno != syscall.ENOTDIR || !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("errno %v (%d), want ENOTDIR", e.Errno, e.Errno)
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatal("ENOTDIR matches fs.ErrNotExist")
	}

	// Found in Go before any C call: nothing is opened or appended.
	_, err = nanowal.Open(dir, "ev\x00il", nanowal.Options{})
	wantError(t, err, nanowal.ErrInvalidArgument, "NUL byte at 2")
	_, err = nanowal.Open(dir, "s", nanowal.Options{Retention: -time.Hour})
	wantError(t, err, nanowal.ErrInvalidConfig, "Options.Retention is -1h0m0s")
	_, err = nanowal.Open(dir, "s", nanowal.Options{SegmentDuration: 1500 * time.Microsecond})
	wantError(t, err, nanowal.ErrInvalidConfig, "whole number of milliseconds")
	_, err = nanowal.Open(dir, "s", nanowal.Options{FileMode: os.ModeDir | 0o600})
	wantError(t, err, nanowal.ErrInvalidConfig, "only permission bits")
	if _, err := os.Stat(filepath.Join(dir, "s")); err == nil {
		t.Fatal("a refused open created something")
	}

	_, err = l.Append(nanowal.Record{Header: make([]byte, 65536), Content: []byte("x")}, now, 0)
	wantError(t, err, nanowal.ErrHeaderTooLarge, "65536")
	_, err = l.Append(nanowal.Record{Content: []byte("x")}, now, 2)
	wantError(t, err, nanowal.ErrInvalidArgument, "unknown flag bits 0x2")
	_, err = l.AppendBatch([]nanowal.Record{{Content: []byte("ok")}, {Header: make([]byte, 70000)}}, now, 0)
	wantError(t, err, nanowal.ErrHeaderTooLarge, "70000")

	_, err = l.ReadBatch([]nanowal.Ref{ref, {SegmentID: ref.SegmentID + 1000, Offset: 0, Size: ref.Size}})
	wantError(t, err, nanowal.ErrNotFound, "not found")
	_, err = l.Read(nanowal.Ref{SegmentID: ref.SegmentID, Offset: ref.Offset, Size: 0, Index: ref.Index})
	wantError(t, err, nanowal.ErrInvalidArgument, "size")
	_, err = l.Read(nanowal.Ref{SegmentID: ref.SegmentID, Offset: ref.Offset, Size: ref.Size - 1, Index: ref.Index})
	wantError(t, err, nanowal.ErrCorruptedData, "")
	_, err = l.ReplayFrom(nanowal.Ref{SegmentID: ref.SegmentID + 1000, Offset: 0, Size: ref.Size})
	wantError(t, err, nanowal.ErrNotFound, "not found")

	// A span outside its buffer; nothing of the batch is appended.
	_, err = l.AppendPacked([]byte("abc"), []nanowal.Span{{ContentOff: 0, ContentLen: 3}, {ContentOff: 2, ContentLen: 2}}, now, 0)
	wantError(t, err, nanowal.ErrInvalidArgument, "spans[1]")
	if e := replayAll(t, l); len(e) != 1 {
		t.Fatalf("failed batches left %d records", len(e)-1)
	}

	if nanowal.ErrNotFound.String() != "NWAL_ERR_NOT_FOUND" || nanowal.Status(12345).String() != "NWAL_UNKNOWN_STATUS" ||
		nanowal.StatusDone.String() != "NWAL_DONE" || nanowal.ErrLocked.Error() != "NWAL_ERR_LOCKED" {
		t.Fatalf("status names: %v %v", nanowal.ErrNotFound, nanowal.Status(12345))
	}
	major, minor, patch := nanowal.HeaderVersion()
	if nanowal.Version() != fmt.Sprintf("%d.%d.%d", major, minor, patch) {
		t.Fatalf("library %s, header %d.%d.%d", nanowal.Version(), major, minor, patch)
	}

	// After Close every call fails, naming the method; Close again is a no-op.
	it, err := l.Replay()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	_, err = l.Append(nanowal.Record{Content: []byte("x")}, now, 0)
	wantError(t, err, nanowal.ErrInvalidArgument, "Log.Append on a closed Log")
	_, err = l.State()
	wantError(t, err, nanowal.ErrInvalidArgument, "Log.State on a closed Log")
	_, err = l.ReplayFromIndex(1)
	wantError(t, err, nanowal.ErrInvalidArgument, "Log.ReplayFromIndex on a closed Log")
	// An iterator outlives its log.
	if e := drain(t, it, nil); len(e) != 1 || e[0].Ref != ref {
		t.Fatalf("iterator after close: %v", e)
	}
	if it.Next() {
		t.Fatal("Next after Close")
	}
}

// An nwal_write_entry array built in Go memory holds Go pointers, which cgo
// refuses to pass (Go 1.19 has no runtime.Pinner): AppendPacked is the way
// for Go.
func TestWriteEntriesWithGoPointersAreRefusedByCgo(t *testing.T) {
	recovered, last := cgorules.AppendBatchGoPointers(t.TempDir(), "ptrs", [][]byte{[]byte("a"), []byte("b")})
	if recovered == nil || !strings.Contains(fmt.Sprint(recovered), "Go pointer") {
		t.Fatalf("cgo did not refuse Go pointers in the array: %v", recovered)
	}
	if last != 0 {
		t.Fatalf("records appended up to index %d", last)
	}
}

// The suite runs with the full cgo pointer checks: a Go pointer stored into
// C memory kills a child process running this test binary.
func TestFullCgoChecksAreOn(t *testing.T) {
	if os.Getenv("NANOWAL_STORE_GO_POINTER") == "1" {
		cgorules.StoreGoPointerInCMemory()
		return
	}
	if !strings.Contains(os.Getenv("GODEBUG"), "cgocheck=2") && !strings.Contains(os.Getenv("GOEXPERIMENT"), "cgocheck2") {
		t.Skip("run with GODEBUG=cgocheck=2 (Go <= 1.20) or GOEXPERIMENT=cgocheck2 (Go >= 1.21)")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullCgoChecksAreOn$")
	cmd.Env = append(os.Environ(), "NANOWAL_STORE_GO_POINTER=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Go pointer stored into non-Go memory") {
		t.Fatalf("storing a Go pointer into C memory went unnoticed (%v):\n%s", err, out)
	}
}

// Goroutines share one handle: single appends, batches, reads and failing
// calls interleave; each failure's message is the one of that goroutine's
// own call (its header size is in it), so the thread-local message is read
// on the right thread.
func TestGoroutinesShareOneHandle(t *testing.T) {
	l := open(t, t.TempDir())
	const workers, rounds = 8, 40
	type appended struct {
		ref nanowal.Ref
		rec nanowal.Record
	}
	results := make([][]appended, workers)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			tooLarge := make([]byte, 65536+g)
			for i := 0; i < rounds; i++ {
				hdr := []byte(fmt.Sprintf("g%d", g))
				content := []byte(fmt.Sprintf("g%d-r%d", g, i))
				if i%4 == 3 {
					batch := []nanowal.Record{{Header: hdr, Content: append(content, 'a')}, {Content: append(content, 'b')}}
					flags := nanowal.Flags(0)
					if i%8 == 7 {
						flags = nanowal.Durable
					}
					refs, err := l.AppendBatch(batch, now, flags)
					if err != nil {
						t.Errorf("g%d batch: %v", g, err)
						return
					}
					for j, r := range batch {
						results[g] = append(results[g], appended{refs[j], r})
					}
				} else {
					rec := nanowal.Record{Header: hdr, Content: content}
					ref, err := l.Append(rec, now, 0)
					if err != nil {
						t.Errorf("g%d append: %v", g, err)
						return
					}
					results[g] = append(results[g], appended{ref, rec})
				}
				_, err := l.Append(nanowal.Record{Header: tooLarge, Content: content}, now, 0)
				var e *nanowal.Error
				if !errors.As(err, &e) || e.Status != nanowal.ErrHeaderTooLarge ||
					!strings.Contains(e.Message, fmt.Sprintf("header of %d bytes", 65536+g)) {
					t.Errorf("g%d: want this goroutine's HEADER_TOO_LARGE, got %v", g, err)
					return
				}
				last := results[g][len(results[g])-1]
				got, err := l.Read(last.ref)
				if err != nil || !sameRecord(got, last.rec) {
					t.Errorf("g%d read back: %v", g, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	byRef := map[nanowal.Ref]nanowal.Record{}
	var all []nanowal.Ref
	for _, rs := range results {
		for _, a := range rs {
			byRef[a.ref] = a.rec
			all = append(all, a.ref)
		}
	}
	if len(byRef) != workers*rounds*5/4 {
		t.Fatalf("%d distinct refs, want %d", len(byRef), workers*rounds*5/4)
	}
	got, err := l.ReadBatch(all)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range all {
		if !sameRecord(got[i], byRef[r]) {
			t.Fatalf("ref %v: wrong record", r)
		}
	}
	entries := replayAll(t, l)
	if len(entries) != len(byRef) {
		t.Fatalf("replayed %d, want %d", len(entries), len(byRef))
	}
	for i, e := range entries {
		if i > 0 && e.Index != entries[i-1].Index+1 {
			t.Fatalf("replay out of log order at %d", i)
		}
		if want, ok := byRef[e.Ref]; !ok || !sameRecord(e.Record, want) {
			t.Fatalf("replayed record %v was never acknowledged as this", e.Ref)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// Close may race other calls: it waits for those in flight, later ones
// fail as calls on a closed Log, and every append acknowledged before is in
// the log when it is reopened.
func TestCloseRacesCalls(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	var wg sync.WaitGroup
	acked := make([][]nanowal.Ref, 4)
	start := make(chan struct{})
	for g := range acked {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			for i := 0; ; i++ {
				ref, err := l.Append(nanowal.Record{Content: []byte(fmt.Sprintf("%d-%d", g, i))}, now, 0)
				if err != nil {
					wantError(t, err, nanowal.ErrInvalidArgument, "Log.Append on a closed Log")
					return
				}
				acked[g] = append(acked[g], ref)
				if g == 0 && i == 50 {
					if err := l.Close(); err != nil {
						t.Errorf("close: %v", err)
					}
				}
			}
		}(g)
	}
	close(start)
	wg.Wait()
	l = open(t, dir)
	defer l.Close()
	for g, refs := range acked {
		recs, err := l.ReadBatch(refs)
		if err != nil {
			t.Fatalf("g%d: %v", g, err)
		}
		for i, r := range recs {
			if string(r.Content) != fmt.Sprintf("%d-%d", g, i) {
				t.Fatalf("g%d record %d: %q", g, i, r.Content)
			}
		}
	}
}

// ReadRange returns at most MaxRangeCount records, whatever maxCount asks;
// the next call goes on from there.
func TestReadRangeIsBounded(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	recs := make([]nanowal.Record, nanowal.MaxRangeCount+1)
	for i := range recs {
		recs[i].Content = []byte(fmt.Sprint(i))
	}
	refs, err := l.AppendBatch(recs, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	es, err := l.ReadRange(1, math.MaxInt, math.MaxUint64)
	if err != nil || len(es) != nanowal.MaxRangeCount || es[len(es)-1].Ref != refs[nanowal.MaxRangeCount-1] {
		t.Fatalf("ReadRange(1, MaxInt): %d entries, %v", len(es), err)
	}
	es, err = l.ReadRange(es[len(es)-1].Index+1, math.MaxInt, math.MaxUint64)
	if err != nil || len(es) != 1 || es[0].Ref != refs[nanowal.MaxRangeCount] || string(es[0].Content) != fmt.Sprint(nanowal.MaxRangeCount) {
		t.Fatalf("the rest: %d entries, %v", len(es), err)
	}
}

// ReadRangeInto returns what ReadRange does, into the caller's slices:
// their arrays are reused when large enough (then nothing is allocated),
// grown when not, and the entries' bytes are those of the buffer it
// returns. On an error both come back empty.
func TestReadRangeInto(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	recs := appendMixed(t, l, 300)
	want, err := l.ReadRange(1, 300, math.MaxUint64)
	if err != nil || len(want) != 300 {
		t.Fatalf("ReadRange: %d entries, %v", len(want), err)
	}
	same := func(what string, got []nanowal.Entry, want []nanowal.Entry) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
		}
		for i := range want {
			if got[i].Ref != want[i].Ref || !sameRecord(got[i].Record, want[i].Record) ||
				!sameRecord(got[i].Record, recs[got[i].Index-1]) {
				t.Fatalf("%s, entry %d: %v %q %q", what, i, got[i].Ref, got[i].Header, got[i].Content)
			}
		}
	}

	dst, buf, err := l.ReadRangeInto(nil, nil, 1, 300, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	same("into nil", dst, want)
	// Every header and content byte is buf's.
	for i := range buf {
		buf[i] ^= 0xff
	}
	for _, e := range dst {
		for j, b := range e.Content {
			if b != recs[e.Index-1].Content[j]^0xff {
				t.Fatalf("entry %d: content byte %d is not buf's", e.Index, j)
			}
		}
	}

	// Passed back, the arrays are reused: nothing is allocated.
	d0, b0 := &dst[0], &buf[0]
	dst, buf, err = l.ReadRangeInto(dst, buf, 1, 300, math.MaxUint64)
	if err != nil || &dst[0] != d0 || &buf[0] != b0 {
		t.Fatalf("passed back: new arrays (%v)", err)
	}
	same("passed back", dst, want)
	allocs := testing.AllocsPerRun(20, func() {
		dst, buf, err = l.ReadRangeInto(dst, buf, 101, 100, math.MaxUint64)
	})
	if err != nil || allocs != 0 {
		t.Fatalf("a range into arrays large enough: %v allocations, %v", allocs, err)
	}
	same("a shorter range", dst, want[100:200])

	// Too short, they are grown; the budget and the bound of maxCount hold.
	dst, buf, err = l.ReadRangeInto(make([]nanowal.Entry, 0, 2), make([]byte, 0, 3), 11, 50, 200)
	if err != nil || len(dst) >= 50 || len(dst) < 2 {
		t.Fatalf("grown: %d entries, %v", len(dst), err)
	}
	same("grown", dst, want[10:10+len(dst)])

	// Errors: empty slices, the arrays kept.
	keptDst, keptBuf := cap(dst), cap(buf)
	dst, buf, err = l.ReadRangeInto(dst, buf, 301, 10, math.MaxUint64)
	wantError(t, err, nanowal.ErrNotFound, "301")
	if len(dst) != 0 || len(buf) != 0 || cap(dst) != keptDst || cap(buf) != keptBuf {
		t.Fatalf("after an error: %d/%d entries, %d/%d bytes", len(dst), cap(dst), len(buf), cap(buf))
	}
	_, _, err = l.ReadRangeInto(dst, buf, 1, 0, 0)
	wantError(t, err, nanowal.ErrInvalidArgument, "Log.ReadRangeInto: maxCount is 0")
}

// What the per-record calls allocate: an append and a replayed record
// lent by View or NextViews nothing, a read its copy only.
func TestCallsAllocateOnlyWhatTheyReturn(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	rec := nanowal.Record{Header: []byte("h"), Content: bytes.Repeat([]byte("c"), 128)}
	var ref nanowal.Ref
	var err error
	if a := testing.AllocsPerRun(100, func() { ref, err = l.Append(rec, now, 0) }); err != nil || a != 0 {
		t.Fatalf("Append: %v allocations, %v", a, err)
	}
	if a := testing.AllocsPerRun(100, func() { _, err = l.Read(ref) }); err != nil || a != 1 {
		t.Fatalf("Read: %v allocations, %v", a, err)
	}
	for i := 0; i < 2000; i++ {
		if _, err := l.Append(rec, now, 0); err != nil {
			t.Fatal(err)
		}
	}
	it, err := l.Replay()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	it.Next()
	if a := testing.AllocsPerRun(500, func() { it.Next(); it.View() }); a != 0 {
		t.Fatalf("Next and View: %v allocations", a)
	}
	var batch []nanowal.Entry
	batch = it.NextViews(batch)
	if a := testing.AllocsPerRun(5, func() { batch = it.NextViews(batch) }); len(batch) == 0 || a != 0 {
		t.Fatalf("NextViews: %v allocations, %d records", a, len(batch))
	}
}

// Records larger than what a Log keeps of a read buffer read back whole,
// again and again, by every read, and small reads go on after them.
func TestReadsOfLargeRecords(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	large := nanowal.Record{Header: []byte("large"), Content: bytes.Repeat([]byte("L"), 3<<20)}
	small := nanowal.Record{Content: []byte("small")}
	refs, err := l.AppendBatch([]nanowal.Record{small, large, small}, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		if r, err := l.Read(refs[1]); err != nil || !sameRecord(r, large) {
			t.Fatalf("round %d, Read: %v", round, err)
		}
		if rs, err := l.ReadBatch(refs); err != nil || !sameRecord(rs[1], large) || !sameRecord(rs[2], small) {
			t.Fatalf("round %d, ReadBatch: %v", round, err)
		}
		if es, err := l.ReadRange(1, 3, math.MaxUint64); err != nil || len(es) != 3 || !sameRecord(es[1].Record, large) {
			t.Fatalf("round %d, ReadRange: %d entries, %v", round, len(es), err)
		}
		if r, err := l.Read(refs[2]); err != nil || !sameRecord(r, small) {
			t.Fatalf("round %d, a small Read after: %v", round, err)
		}
	}
	if e := replayAll(t, l); len(e) != 3 || !sameRecord(e[1].Record, large) {
		t.Fatalf("replay: %d records", len(e))
	}
}

// AppendBatch and AppendPacked reuse the buffer and spans a batch is
// packed into: batches of many sizes one after the other, with packed and
// failed ones between them, read back as appended, at dense indexes.
func TestBatchesReuseTheirPacking(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	var want []nanowal.Record
	var refs []nanowal.Ref
	for i, size := range []int{5, 1, 300, 2, 40, 1, 3000, 7} {
		batch := make([]nanowal.Record, size)
		for j := range batch {
			batch[j].Content = bytes.Repeat([]byte{byte('a' + (i+j)%26)}, (i*7+j)%50)
			switch j % 3 {
			case 1:
				batch[j].Header = []byte{}
			case 2:
				batch[j].Header = []byte(fmt.Sprintf("b%d-%d", i, j))
			}
		}
		rs, err := l.AppendBatch(batch, now, 0)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		refs, want = append(refs, rs...), append(want, batch...)
		packed := []byte(fmt.Sprintf("packed %d", i))
		rs, err = l.AppendPacked(packed, []nanowal.Span{{HasHeader: true, HeaderLen: 6, ContentOff: 7, ContentLen: uint64(len(packed) - 7)}}, now, 0)
		if err != nil {
			t.Fatalf("packed %d: %v", i, err)
		}
		refs, want = append(refs, rs...), append(want, nanowal.Record{Header: packed[:6], Content: packed[7:]})
		_, err = l.AppendBatch([]nanowal.Record{{Content: []byte("never")}, {Header: make([]byte, 70000)}}, now, 0)
		wantError(t, err, nanowal.ErrHeaderTooLarge, "")
	}
	got, err := l.ReadBatch(refs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if refs[i].Index != uint64(i+1) || !sameRecord(got[i], want[i]) {
			t.Fatalf("record %d (index %d): %q %q, want %q %q", i, refs[i].Index, got[i].Header, got[i].Content, want[i].Header, want[i].Content)
		}
	}
}
