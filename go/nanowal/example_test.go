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
