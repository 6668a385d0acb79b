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
