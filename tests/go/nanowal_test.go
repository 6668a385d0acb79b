package nanowal

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

const now = int64(1711234567890)

func open(t *testing.T, dir string) *Log {
	t.Helper()
	l, err := Open(dir, "events", Options{RetentionMs: 3_600_000, SegmentDurationMs: 600_000})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

func wantStatus(t *testing.T, err error, want Status, msgPart string) {
	t.Helper()
	if StatusOf(err) != want {
		t.Fatalf("got %v, want %v", err, want)
	}
	if !strings.Contains(err.(*Error).Message, msgPart) {
		t.Fatalf("message %q does not contain %q", err.(*Error).Message, msgPart)
	}
}

func sameRecord(a, b Record) bool {
	return (a.Header == nil) == (b.Header == nil) && bytes.Equal(a.Header, b.Header) &&
		bytes.Equal(a.Content, b.Content)
}

func replayAll(t *testing.T, l *Log, from *Ref) ([]Ref, []Record) {
	t.Helper()
	it, err := l.Replay(from)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	defer it.Close()
	var refs []Ref
	var recs []Record
	for {
		ref, rec, ok, err := it.Next()
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		if !ok {
			return refs, recs
		}
		refs = append(refs, ref)
		recs = append(recs, rec)
	}
}

func TestAppendBatchReadReplay(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	want := []Record{
		{[]byte("key-1"), []byte("first")},
		{nil, []byte("no header")},
		{[]byte{}, []byte{}},
		{[]byte("k-a"), []byte("batch a")},
		{nil, []byte("batch b")},
		{[]byte("k-c"), bytes.Repeat([]byte("c"), 100_000)},
	}
	var refs []Ref
	for i, r := range want[:3] {
		ref, err := l.Append(r.Header, r.Content, now, i == 0)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		refs = append(refs, ref)
	}
	batch := make([]Entry, 0, 3)
	for _, r := range want[3:] {
		batch = append(batch, Entry{r.Header, r.Content})
	}
	brefs, err := l.AppendBatch(batch, now, true)
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

	got, err := l.Read(refs)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	for i := range want {
		if !sameRecord(got[i], want[i]) {
			t.Fatalf("record %d: got %q/%d bytes, want %q", i, got[i].Header, len(got[i].Content), want[i].Header)
		}
	}

	rrefs, recs := replayAll(t, l, nil)
	if len(rrefs) != len(refs) {
		t.Fatalf("replayed %d records, want %d", len(rrefs), len(refs))
	}
	for i := range refs {
		if rrefs[i] != refs[i] || !sameRecord(recs[i], want[i]) {
			t.Fatalf("replay %d: %v, want %v", i, rrefs[i], refs[i])
		}
	}
	rrefs, _ = replayAll(t, l, &refs[4])
	if len(rrefs) != 2 || rrefs[0] != refs[4] {
		t.Fatalf("replay from refs[4] (inclusive): %v", rrefs)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// Reopened, the log holds the same records.
	l = open(t, dir)
	defer l.Close()
	rrefs, _ = replayAll(t, l, nil)
	if len(rrefs) != len(refs) || rrefs[5] != refs[5] {
		t.Fatalf("after reopen: %v", rrefs)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	defer l.Close()
	ref, err := l.Append(nil, []byte("x"), now, false)
	if err != nil {
		t.Fatal(err)
	}

	_, err = Open(dir, "events", Options{})
	wantStatus(t, err, ErrLocked, "locked")
	if err.Error() != "NWAL_ERR_LOCKED: "+err.(*Error).Message {
		t.Fatalf("Error(): %q", err.Error())
	}
	_, err = Open(dir, "../escape", Options{})
	wantStatus(t, err, ErrInvalidArgument, "stream name")

	_, err = l.Append(make([]byte, 65536), []byte("x"), now, false)
	wantStatus(t, err, ErrHeaderTooLarge, "65536")

	_, err = l.Read([]Ref{ref, {SegmentID: ref.SegmentID + 1000, Offset: 0, Size: ref.Size}})
	wantStatus(t, err, ErrNotFound, "not found")
	_, err = l.Replay(&Ref{SegmentID: ref.SegmentID + 1000, Offset: 0, Size: ref.Size})
	wantStatus(t, err, ErrNotFound, "not found")

	// A span outside its buffer; nothing of the batch is appended.
	_, err = l.AppendPacked([]byte("abc"), []Span{{ContentOff: 0, ContentLen: 3}, {ContentOff: 2, ContentLen: 2}}, now, false)
	wantStatus(t, err, ErrInvalidArgument, "spans[1]")
	if refs, _ := replayAll(t, l, nil); len(refs) != 1 {
		t.Fatalf("a failed batch left %d records", len(refs)-1)
	}

	if ErrNotFound.String() != "NWAL_ERR_NOT_FOUND" || Status(12345).String() != "NWAL_UNKNOWN_STATUS" {
		t.Fatalf("status names: %v %v", ErrNotFound, Status(12345))
	}
	if Version() == "" {
		t.Fatal("empty version")
	}
}

// An nwal_write_entry array built in Go memory holds Go pointers, which cgo
// refuses to pass (Go 1.19 has no runtime.Pinner): the packed batch is the
// way for Go.
func TestWriteEntriesWithGoPointersAreRefusedByCgo(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	var recovered interface{}
	func() {
		defer func() { recovered = recover() }()
		_ = l.appendBatchGoPointers([]Entry{{nil, []byte("a")}, {nil, []byte("b")}}, now)
	}()
	if recovered == nil || !strings.Contains(fmt.Sprint(recovered), "Go pointer") {
		t.Fatalf("cgo did not refuse Go pointers in the array: %v", recovered)
	}
	if refs, _ := replayAll(t, l, nil); len(refs) != 0 {
		t.Fatalf("%d records appended", len(refs))
	}
}

// Goroutines share one handle: single appends, batches, reads and failing
// calls interleave; each failure's message is the one of that goroutine's
// own call (its header size is in it), so the thread-local message is read
// on the right thread.
func TestGoroutinesShareOneHandle(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	const workers, rounds = 8, 40
	type appended struct {
		ref Ref
		rec Record
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
					entries := []Entry{{hdr, []byte(string(content) + "a")}, {nil, []byte(string(content) + "b")}}
					refs, err := l.AppendBatch(entries, now, i%8 == 7)
					if err != nil {
						t.Errorf("g%d batch: %v", g, err)
						return
					}
					for j, e := range entries {
						results[g] = append(results[g], appended{refs[j], Record{e.Header, e.Content}})
					}
				} else {
					ref, err := l.Append(hdr, content, now, false)
					if err != nil {
						t.Errorf("g%d append: %v", g, err)
						return
					}
					results[g] = append(results[g], appended{ref, Record{hdr, content}})
				}
				_, err := l.Append(tooLarge, content, now, false)
				if StatusOf(err) != ErrHeaderTooLarge ||
					!strings.Contains(err.(*Error).Message, fmt.Sprintf("header of %d bytes", 65536+g)) {
					t.Errorf("g%d: want this goroutine's HEADER_TOO_LARGE, got %v", g, err)
					return
				}
				last := results[g][len(results[g])-1]
				got, err := l.Read([]Ref{last.ref})
				if err != nil || !sameRecord(got[0], last.rec) {
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

	byRef := map[Ref]Record{}
	var all []Ref
	for _, rs := range results {
		for _, a := range rs {
			byRef[a.ref] = a.rec
			all = append(all, a.ref)
		}
	}
	if len(byRef) != workers*rounds*5/4 {
		t.Fatalf("%d distinct refs, want %d", len(byRef), workers*rounds*5/4)
	}
	got, err := l.Read(all)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range all {
		if !sameRecord(got[i], byRef[r]) {
			t.Fatalf("ref %v: wrong record", r)
		}
	}
	refs, recs := replayAll(t, l, nil)
	if len(refs) != len(byRef) {
		t.Fatalf("replayed %d, want %d", len(refs), len(byRef))
	}
	for i := range refs {
		if i > 0 && !(refs[i].SegmentID > refs[i-1].SegmentID ||
			refs[i].SegmentID == refs[i-1].SegmentID && refs[i].Offset > refs[i-1].Offset) ||
			i > 0 && refs[i].Index != refs[i-1].Index+1 {
			t.Fatalf("replay out of log order at %d", i)
		}
		if want, ok := byRef[refs[i]]; !ok || !sameRecord(recs[i], want) {
			t.Fatalf("replayed record %v was never acknowledged as this", refs[i])
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
