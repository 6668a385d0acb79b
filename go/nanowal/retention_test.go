// SPDX-License-Identifier: MIT

package nanowal_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nano-wal/nano_wal/go/nanowal"
)

func TestClockGuardAndSizeBudget(t *testing.T) {
	o := testOptions
	o.MaxClockSkew = time.Hour
	o.MaxStreamBytes = 1
	l, err := nanowal.Open(t.TempDir(), "guarded", o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Three windows of ten minutes: two sealed segments and the active one.
	for w := 0; w < 3; w++ {
		if _, err := l.Append(nanowal.Record{Content: []byte("x")}, now.Add(time.Duration(w)*10*time.Minute), 0); err != nil {
			t.Fatal(err)
		}
	}
	_, err = l.Append(nanowal.Record{Content: []byte("far")}, now.Add(24*time.Hour), 0)
	wantError(t, err, nanowal.ErrClockSkew, "max_clock_skew")
	r, err := l.Cleanup(now)
	if err != nil {
		t.Fatal(err)
	}
	if r.DeletedSegments != 2 || r.DeletedOverBudget != 2 || r.LiveSegments != 1 {
		t.Fatalf("cleanup over a 1-byte budget: %+v", r)
	}
}

func TestReaderHolds(t *testing.T) {
	o := testOptions
	l, err := nanowal.Open(t.TempDir(), "held", o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for w := 0; w < 3; w++ {
		if _, err := l.Append(nanowal.Record{Content: []byte("x")}, now.Add(time.Duration(w)*10*time.Minute), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Hold("consumer", 2); err != nil {
		t.Fatal(err)
	}
	if i, err := l.HoldIndex("consumer"); err != nil || i != 2 {
		t.Fatalf("HoldIndex: %d %v", i, err)
	}
	wantError(t, l.PurgeBefore(3), nanowal.ErrHeld, "consumer")
	r, err := l.Cleanup(now.Add(1000 * time.Hour))
	if err != nil || r.DeletedSegments != 1 {
		t.Fatalf("cleanup with a hold at 2: %+v %v", r, err)
	}
	if err := l.ReleaseHold("consumer"); err != nil {
		t.Fatal(err)
	}
	_, err = l.HoldIndex("consumer")
	wantError(t, err, nanowal.ErrNotFound, "consumer")
}

// windowStart is the start of the ten-minute window of testOptions that t
// falls in.
func windowStart(t time.Time) time.Time {
	return t.Truncate(10 * time.Minute)
}

// appendWindows appends one record in each of n consecutive windows from
// now: n segments, record i+1 in segment i.
func appendWindows(t *testing.T, l *nanowal.Log, n int) []nanowal.Ref {
	t.Helper()
	var refs []nanowal.Ref
	for w := 0; w < n; w++ {
		ref, err := l.Append(nanowal.Record{Content: []byte("x")}, now.Add(time.Duration(w)*10*time.Minute), 0)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	return refs
}

// retention is l.Retention(at), checked to describe the segments of refs
// in order (those of appendWindows from window `from` on), with their
// windows' expirations and their files' sizes.
func retention(t *testing.T, l *nanowal.Log, dir string, at time.Time, refs []nanowal.Ref, from int) []nanowal.SegmentRetention {
	t.Helper()
	r, err := l.Retention(at)
	if err != nil {
		t.Fatal(err)
	}
	if len(r) != len(refs) {
		t.Fatalf("retention: %d segments, want %d: %+v", len(r), len(refs), r)
	}
	for i, s := range r {
		expires := windowStart(now).Add(time.Duration(from+i)*10*time.Minute + 10*time.Minute + time.Hour)
		if s.SegmentID != refs[i].SegmentID || !s.Expiration.Equal(expires) || s.FileSize != segmentFileSize(t, dir, s.SegmentID) {
			t.Fatalf("segment %d: %+v, want id %d expiring at %v", i, s, refs[i].SegmentID, expires)
		}
		if (s.Kept == 0) == (s.DeletedBy == nanowal.DeleteNone) {
			t.Fatalf("segment %d: kept %b and deleted by %d", i, s.Kept, s.DeletedBy)
		}
	}
	return r
}

// segmentFileSize is the size of the one segment file of id in dir.
func segmentFileSize(t *testing.T, dir string, id uint64) uint64 {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, fmt.Sprintf("*_%d.seg", id)))
	if err != nil || len(m) != 1 {
		t.Fatalf("segment file %d: %v %v", id, m, err)
	}
	fi, err := os.Stat(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return uint64(fi.Size())
}

func TestRetentionExpiryHoldsAndActive(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	defer l.Close()
	refs := appendWindows(t, l, 3)

	// Now, nothing has expired; the newest segment is the active one.
	r := retention(t, l, dir, now, refs, 0)
	if r[0].Kept != nanowal.KeptNotExpired || r[1].Kept != nanowal.KeptNotExpired ||
		r[2].Kept != nanowal.KeptActive|nanowal.KeptNotExpired {
		t.Fatalf("at now: %+v", r)
	}
	for _, s := range r {
		if s.Holds != 0 || s.HoldIndex != 0 || s.HoldName != "" {
			t.Fatalf("a hold without holds: %+v", s)
		}
	}

	// A hold at index 2 (segment 1), and a time when all have expired.
	if err := l.Hold("consumer", 2); err != nil {
		t.Fatal(err)
	}
	later := now.Add(1000 * time.Hour)
	r = retention(t, l, dir, later, refs, 0)
	if r[0].DeletedBy != nanowal.DeleteExpired || r[0].Kept != 0 || r[0].Holds != 0 {
		t.Fatalf("segment 0: %+v", r[0])
	}
	held := nanowal.SegmentRetention{Kept: nanowal.KeptHeld, Holds: 1, HoldIndex: 2, HoldName: "consumer"}
	if r[1].Kept != held.Kept || r[1].Holds != held.Holds || r[1].HoldIndex != held.HoldIndex || r[1].HoldName != held.HoldName {
		t.Fatalf("segment 1: %+v, want held like %+v", r[1], held)
	}
	if r[2].Kept != nanowal.KeptActive|nanowal.KeptHeld || r[2].HoldName != "consumer" {
		t.Fatalf("segment 2: %+v", r[2])
	}

	// The cleanup at that time does what it said: segment 0 goes.
	c, err := l.Cleanup(later)
	if err != nil || c.DeletedSegments != 1 || c.LiveSegments != 2 {
		t.Fatalf("cleanup: %+v %v", c, err)
	}
	retention(t, l, dir, later, refs[1:], 1)
	if err := l.ReleaseHold("consumer"); err != nil {
		t.Fatal(err)
	}
	r = retention(t, l, dir, later, refs[1:], 1)
	if r[0].DeletedBy != nanowal.DeleteExpired || r[1].Kept != nanowal.KeptActive {
		t.Fatalf("released: %+v", r)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = l.Retention(now)
	wantError(t, err, nanowal.ErrInvalidArgument, "closed")
}

func TestRetentionSizeBudget(t *testing.T) {
	dir := t.TempDir()
	o := testOptions
	o.MaxStreamBytes = 1
	l, err := nanowal.Open(dir, "events", o)
	if err != nil {
		t.Fatal(err)
	}
	refs := appendWindows(t, l, 3)
	// Over a one-byte budget every sealed segment goes before it expires.
	r := retention(t, l, dir, now, refs, 0)
	if r[0].DeletedBy != nanowal.DeleteSizeBudget || r[1].DeletedBy != nanowal.DeleteSizeBudget ||
		r[2].Kept != nanowal.KeptActive|nanowal.KeptNotExpired {
		t.Fatalf("over budget: %+v", r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// A budget of exactly the newest two files keeps them, and says so.
	o.MaxStreamBytes = segmentFileSize(t, dir, refs[1].SegmentID) + segmentFileSize(t, dir, refs[2].SegmentID)
	l, err = nanowal.Open(dir, "events", o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r = retention(t, l, dir, now, refs, 0)
	if r[0].DeletedBy != nanowal.DeleteSizeBudget ||
		r[1].Kept != nanowal.KeptNotExpired|nanowal.KeptWithinBudget ||
		r[2].Kept != nanowal.KeptActive|nanowal.KeptNotExpired|nanowal.KeptWithinBudget {
		t.Fatalf("budget of two files: %+v", r)
	}
	c, err := l.Cleanup(now)
	if err != nil || c.DeletedSegments != 1 || c.DeletedOverBudget != 1 {
		t.Fatalf("cleanup: %+v %v", c, err)
	}
}

// More segments than Retention makes room for at first: it asks again at
// the count the library gives.
func TestRetentionOfManySegments(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	defer l.Close()
	refs := appendWindows(t, l, 70)
	r := retention(t, l, dir, now, refs, 0)
	if r[69].Kept != nanowal.KeptActive|nanowal.KeptNotExpired {
		t.Fatalf("last of 70: %+v", r[69])
	}
}
