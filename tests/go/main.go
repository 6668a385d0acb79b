// SPDX-License-Identifier: MIT

// Command nanowal-consumer uses the Go module of nano_wal the way a user's
// module does: `require`d in go.mod (replaced by the repository's go/
// directory, so no download), imported by its module path, built against
// the installed library through pkg-config. It writes a small log, reopens
// it, reads it back every way and checks what it gets; it exits 1 naming
// the first mismatch.
package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nano-wal/nano_wal/go/nanowal"
)

func check(cond bool, format string, args ...interface{}) {
	if !cond {
		fmt.Fprintf(os.Stderr, "nanowal-consumer: "+format+"\n", args...)
		os.Exit(1)
	}
}

func must(err error, what string) {
	check(err == nil, "%s: %v", what, err)
}

func main() {
	dir, err := os.MkdirTemp("", "nanowal-consumer")
	must(err, "temp dir")
	defer os.RemoveAll(dir)
	now := time.UnixMilli(1711234567890)
	opts := nanowal.Options{Retention: time.Hour, SegmentDuration: 10 * time.Minute, FirstIndex: 100}

	wal, err := nanowal.Open(dir, "orders", opts)
	must(err, "open")
	first, err := wal.Append(nanowal.Record{Header: []byte("order"), Content: []byte("created")}, now, nanowal.Durable)
	must(err, "append")
	refs, err := wal.AppendBatch([]nanowal.Record{
		{Header: []byte("order"), Content: []byte("paid")},
		{Content: []byte("shipped")},
	}, now, nanowal.Durable)
	must(err, "append batch")
	check(first.Index == 100 && refs[0].Index == 101 && refs[1].Index == 102, "indexes %d %d %d", first.Index, refs[0].Index, refs[1].Index)

	must(wal.MetaPut("raft.term", []byte("3")), "meta put")

	_, err = nanowal.Open(dir, "orders", opts)
	check(errors.Is(err, nanowal.ErrLocked), "second open: %v, want ErrLocked", err)
	var e *nanowal.Error
	check(errors.As(err, &e) && e.Message != "", "second open: no message in %v", err)
	must(wal.Close(), "close")

	wal, err = nanowal.Open(dir, "orders", opts)
	must(err, "reopen")
	defer wal.Close()
	st, err := wal.State()
	must(err, "state")
	check(st == nanowal.LogState{FirstIndex: 100, LastIndex: 102, DurableIndex: 102}, "state %+v", st)

	it, err := wal.ReplayFromIndex(101)
	must(err, "replay")
	var got []string
	for it.Next() {
		got = append(got, fmt.Sprintf("%d:%s", it.Entry().Index, it.Entry().Content))
	}
	must(it.Err(), "iteration")
	must(it.Close(), "iterator close")
	check(fmt.Sprint(got) == "[101:paid 102:shipped]", "replay from 101: %v", got)

	rec, err := wal.Read(first)
	must(err, "read")
	check(string(rec.Header) == "order" && string(rec.Content) == "created", "read %q %q", rec.Header, rec.Content)
	es, err := wal.ReadRange(100, 10, 1<<20)
	must(err, "read range")
	check(len(es) == 3 && es[2].Header == nil && string(es[2].Content) == "shipped", "read range: %d entries", len(es))
	_, err = wal.ReadIndex(103)
	check(errors.Is(err, nanowal.ErrNotFound), "read past the end: %v", err)

	term, err := wal.MetaGet("raft.term")
	check(err == nil && string(term) == "3", "meta get after reopen: %q %v", term, err)
	must(wal.TruncateAfter(101), "truncate")
	_, err = wal.Read(refs[1])
	check(errors.Is(err, nanowal.ErrNotFound), "read of a truncated record: %v", err)
	st, err = wal.State()
	check(err == nil && st.LastIndex == 101, "state after truncation: %+v %v", st, err)

	fmt.Printf("nanowal-consumer: OK (library %s)\n", nanowal.Version())
}
