// SPDX-License-Identifier: MIT

package nanowal_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/nano-wal/nano_wal/go/nanowal"
)

func Example() {
	dir, err := os.MkdirTemp("", "nanowal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	wal, err := nanowal.Open(dir, "orders", nanowal.Options{SegmentDuration: 10 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer wal.Close()

	now := time.UnixMilli(1711234567890) // the caller's clock
	if _, err := wal.Append(nanowal.Record{Header: []byte("k1"), Content: []byte("first")}, now, nanowal.Durable); err != nil {
		log.Fatal(err)
	}
	batch := []nanowal.Record{{Content: []byte("second")}, {Header: []byte("k3"), Content: []byte("third")}}
	if _, err := wal.AppendBatch(batch, now, 0); err != nil {
		log.Fatal(err)
	}

	it, err := wal.Replay()
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		e := it.Entry()
		fmt.Printf("%d %q %s\n", e.Index, e.Header, e.Content)
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}

	_, err = nanowal.Open(dir, "orders", nanowal.Options{})
	fmt.Println(errors.Is(err, nanowal.ErrLocked))
	// Output:
	// 1 "k1" first
	// 2 "" second
	// 3 "k3" third
	// true
}

// exampleLog is a new log of 1,000 records, "event 0" to "event 999", and
// what removes it.
func exampleLog() (*nanowal.Log, func()) {
	dir, err := os.MkdirTemp("", "nanowal-example")
	if err != nil {
		log.Fatal(err)
	}
	wal, err := nanowal.Open(dir, "events", nanowal.Options{SegmentDuration: 10 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	recs := make([]nanowal.Record, 1000)
	for i := range recs {
		recs[i].Content = []byte(fmt.Sprintf("event %d", i))
	}
	if _, err := wal.AppendBatch(recs, time.UnixMilli(1711234567890), 0); err != nil {
		log.Fatal(err)
	}
	return wal, func() { wal.Close(); os.RemoveAll(dir) }
}

// NextViews hands out a replay a batch at a time, each record lent until
// the next call: only what must outlive the batch is copied.
func ExampleIter_NextViews() {
	wal, done := exampleLog()
	defer done()
	it, err := wal.Replay()
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	records, bytes := 0, 0
	var last []byte
	var batch []nanowal.Entry
	for batch = it.NextViews(batch); len(batch) > 0; batch = it.NextViews(batch) {
		for _, e := range batch {
			records++
			bytes += len(e.Content)
		}
		last = append(last[:0], batch[len(batch)-1].Content...) // a copy, to keep
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(records, bytes, string(last))
	// Output: 1000 8890 event 999
}

// Log.ReadRangeInto reads ranges into slices the caller passes back, so
// that reading on allocates nothing once they are large enough.
func Example_readRangeInto() {
	wal, done := exampleLog()
	defer done()
	var entries []nanowal.Entry
	var buf []byte
	var err error
	bytes := 0
	for from := uint64(1); from <= 1000; from += uint64(len(entries)) {
		entries, buf, err = wal.ReadRangeInto(entries, buf, from, 100, 1<<20)
		if err != nil {
			log.Fatal(err)
		}
		for _, e := range entries {
			bytes += len(e.Content)
		}
	}
	fmt.Println(bytes, string(entries[len(entries)-1].Content))
	// Output: 8890 event 999
}
