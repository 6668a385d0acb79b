// SPDX-License-Identifier: MIT

package nanowal_test

// Benchmarks of the binding: what a Go caller pays per record through cgo,
// to set beside the C API column of bench/ (BENCHMARKS.md). One op is one
// record, so ns/op compares with the bench's records/s directly. Run with
// bench/go-bench.sh (it builds and installs the library first).

import (
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/nano-wal/nano_wal/go/nanowal"
)

// benchRecords is how many 128-byte records the read benchmarks prefill.
const benchRecords = 200_000

var benchContent = make([]byte, 128)

func benchOpen(b *testing.B) *nanowal.Log {
	b.Helper()
	l, err := nanowal.Open(b.TempDir(), "bench", nanowal.Options{Retention: 24 * time.Hour, SegmentDuration: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// benchFilled is a log of benchRecords records of 128 B and their refs.
func benchFilled(b *testing.B) (*nanowal.Log, []nanowal.Ref) {
	b.Helper()
	l := benchOpen(b)
	batch := make([]nanowal.Record, 1000)
	for i := range batch {
		batch[i] = nanowal.Record{Content: benchContent}
	}
	refs := make([]nanowal.Ref, 0, benchRecords)
	for len(refs) < benchRecords {
		r, err := l.AppendBatch(batch, now, 0)
		if err != nil {
			b.Fatal(err)
		}
		refs = append(refs, r...)
	}
	return l, refs
}

func BenchmarkAppend128(b *testing.B) {
	l := benchOpen(b)
	rec := nanowal.Record{Content: benchContent}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(rec, now, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendBatch100x128(b *testing.B) {
	l := benchOpen(b)
	batch := make([]nanowal.Record, 100)
	for i := range batch {
		batch[i] = nanowal.Record{Content: benchContent}
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += len(batch) {
		if _, err := l.AppendBatch(batch, now, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadRandom128(b *testing.B) {
	l, refs := benchFilled(b)
	rng := rand.New(rand.NewSource(7))
	order := make([]int, 1<<16)
	for i := range order {
		order[i] = rng.Intn(len(refs))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec, err := l.Read(refs[order[i%len(order)]])
		if err != nil || len(rec.Content) != 128 {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadRange1000x128(b *testing.B) {
	l, refs := benchFilled(b)
	b.ResetTimer()
	for done := 0; done < b.N; {
		from := refs[(done/1000*7919)%(len(refs)-1000)].Index
		es, err := l.ReadRange(from, 1000, math.MaxUint64)
		if err != nil || len(es) != 1000 {
			b.Fatal(err)
		}
		done += len(es)
	}
}

// ReadRangeInto with the slices passed back: no allocation per range.
func BenchmarkReadRangeInto1000x128(b *testing.B) {
	l, refs := benchFilled(b)
	var es []nanowal.Entry
	var buf []byte
	var err error
	b.ResetTimer()
	for done := 0; done < b.N; {
		from := refs[(done/1000*7919)%(len(refs)-1000)].Index
		es, buf, err = l.ReadRangeInto(es, buf, from, 1000, math.MaxUint64)
		if err != nil || len(es) != 1000 {
			b.Fatal(err)
		}
		done += len(es)
	}
}

func BenchmarkReplay128(b *testing.B) {
	benchReplay(b, func(it *nanowal.Iter) int { return len(it.Entry().Content) })
}

func BenchmarkReplayView128(b *testing.B) {
	benchReplay(b, func(it *nanowal.Iter) int {
		_, _, c := it.View()
		return len(c)
	})
}

// benchReplay replays b.N records with Next, taking each one with record
// (which returns its content's length).
func benchReplay(b *testing.B, record func(*nanowal.Iter) int) {
	l, _ := benchFilled(b)
	b.ResetTimer()
	for done := 0; done < b.N; {
		it, err := l.Replay()
		if err != nil {
			b.Fatal(err)
		}
		for done < b.N && it.Next() {
			if record(it) != 128 {
				b.Fatal("wrong record")
			}
			done++
		}
		if err := it.Err(); err != nil {
			b.Fatal(err)
		}
		it.Close()
	}
}

func BenchmarkReplayNextViews128(b *testing.B) {
	l, _ := benchFilled(b)
	var batch []nanowal.Entry
	b.ResetTimer()
	for done := 0; done < b.N; {
		it, err := l.Replay()
		if err != nil {
			b.Fatal(err)
		}
		for batch = it.NextViews(batch); done < b.N && len(batch) > 0; batch = it.NextViews(batch) {
			for _, e := range batch {
				if len(e.Content) != 128 {
					b.Fatal("wrong record")
				}
			}
			done += len(batch)
		}
		if err := it.Err(); err != nil {
			b.Fatal(err)
		}
		it.Close()
	}
}
