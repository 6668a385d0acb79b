// SPDX-License-Identifier: MIT

package nanowal_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nano-wal/nano_wal/go/nanowal"
)

func TestMetadata(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	long := bytes.Repeat([]byte("v"), 4096) // longer than MetaGet's first buffer
	for key, value := range map[string][]byte{"raft.term": []byte("7"), "empty": {}, "long": long} {
		if err := l.MetaPut(key, value); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	if err := l.MetaPut("raft.term", []byte("8")); err != nil {
		t.Fatal(err)
	}
	_, err := l.MetaGet("missing")
	wantError(t, err, nanowal.ErrNotFound, "missing")
	wantError(t, l.MetaPut("bad key", []byte("x")), nanowal.ErrInvalidArgument, "key")
	wantError(t, l.MetaPut("k", make([]byte, 4097)), nanowal.ErrInvalidArgument, "4097")
	wantError(t, l.MetaPut("k\x00", nil), nanowal.ErrInvalidArgument, "NUL byte at 1")
	_, err = l.MetaGet("")
	wantError(t, err, nanowal.ErrInvalidArgument, "key")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened, the values are there; after Shutdown, gets still work.
	l = open(t, dir)
	defer l.Close()
	for key, want := range map[string][]byte{"raft.term": []byte("8"), "empty": {}, "long": long} {
		got, err := l.MetaGet(key)
		if err != nil || got == nil || !bytes.Equal(got, want) {
			t.Fatalf("get %s after reopen: %d bytes, %v", key, len(got), err)
		}
	}
	if err := l.Shutdown(); err != nil {
		t.Fatal(err)
	}
	wantError(t, l.MetaPut("raft.term", []byte("9")), nanowal.ErrShutdown, "shut down")
	if got, err := l.MetaGet("raft.term"); err != nil || string(got) != "8" {
		t.Fatalf("get after shutdown: %q %v", got, err)
	}
}

// Gets racing puts that grow and shrink a value each return one whole
// value that was put: MetaGet retries at the new length when the value
// outgrew its buffer.
func TestMetaGetRacesPuts(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	value := func(i int) []byte { return []byte(strings.Repeat(fmt.Sprintf("%04d", i), 1+i%3*300)) }
	if err := l.MetaPut("k", value(0)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= 60; i++ {
			if err := l.MetaPut("k", value(i)); err != nil {
				t.Errorf("put %d: %v", i, err)
				return
			}
		}
	}()
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 60; j++ {
				got, err := l.MetaGet("k")
				if err != nil {
					t.Errorf("get: %v", err)
					return
				}
				var i int
				if _, err := fmt.Sscanf(string(got[:4]), "%04d", &i); err != nil || !bytes.Equal(got, value(i)) {
					t.Errorf("get returned %d bytes that no put wrote (%.8q...)", len(got), got)
					return
				}
			}
		}()
	}
	wg.Wait()
}
