// SPDX-License-Identifier: MIT

package nanowal_test

import (
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
