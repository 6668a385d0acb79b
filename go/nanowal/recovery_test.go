// SPDX-License-Identifier: MIT

package nanowal_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/nano-wal/nano_wal/go/nanowal"
)

func TestRecoveryReportAfterATornTail(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	// A stream without segments: nothing to report.
	if r, err := l.RecoveryReport(); err != nil || r != (nanowal.RecoveryReport{}) {
		t.Fatalf("new stream: %+v %v", r, err)
	}
	var refs []nanowal.Ref
	for _, c := range []string{"one", "two", "three"} {
		ref, err := l.Append(nanowal.Record{Content: []byte(c)}, now, nanowal.Durable)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// A clean reopen keeps the whole file.
	l = open(t, dir)
	r, err := l.RecoveryReport()
	if err != nil {
		t.Fatal(err)
	}
	tail := refs[2].SegmentID
	clean := r.HasTail && r.TailSegmentID == tail && r.FoundLen == r.KeptLen && r.RecordsKept == 3 &&
		!r.CutBelowDurable && r.RemovedSegments == 0
	if !clean || r.DurableWatermark == 0 || r.DurableWatermark > r.KeptLen {
		t.Fatalf("clean reopen: %+v", r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// A torn tail: half a record's worth of garbage and zeros after the
	// last record, as a crash in the middle of a write leaves.
	m, err := filepath.Glob(filepath.Join(dir, "events_*.seg"))
	if err != nil || len(m) != 1 {
		t.Fatalf("segment files: %v %v", m, err)
	}
	fi, err := os.Stat(m[0])
	if err != nil {
		t.Fatal(err)
	}
	size := uint64(fi.Size())
	torn := append([]byte{0x2a, 0x00, 0x00, 0x00, 0x99, 0x13}, make([]byte, 40)...)
	f, err := os.OpenFile(m[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(torn); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	l = open(t, dir)
	defer l.Close()
	r, err = l.RecoveryReport()
	if err != nil {
		t.Fatal(err)
	}
	want := nanowal.RecoveryReport{
		HasTail: true, TailSegmentID: tail, FoundLen: size + uint64(len(torn)), KeptLen: size,
		RecordsKept: 3, DurableWatermark: r.DurableWatermark,
	}
	if r != want || r.DurableWatermark == 0 || r.DurableWatermark > size {
		t.Fatalf("torn tail: %+v, want %+v", r, want)
	}
	// Open cut the file back to its last record; the records are all there.
	if fi, err := os.Stat(m[0]); err != nil || uint64(fi.Size()) != size {
		t.Fatalf("after recovery the file is %v bytes (%v), want %d", fi.Size(), err, size)
	}
	e := replayAll(t, l)
	if len(e) != 3 || !bytes.Equal(e[2].Content, []byte("three")) || e[2].Ref != refs[2] {
		t.Fatalf("records after recovery: %+v", e)
	}
	// The report stays what open did, also after Shutdown.
	if err := l.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if again, err := l.RecoveryReport(); err != nil || again != r {
		t.Fatalf("after shutdown: %+v %v", again, err)
	}
}
