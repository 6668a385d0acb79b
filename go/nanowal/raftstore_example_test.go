// SPDX-License-Identifier: MIT

package nanowal_test

// A hashicorp/raft LogStore and StableStore is a short adapter over this
// package. hashicorp/raft is not a dependency: Log, LogType, LogStore and
// StableStore below are declared here exactly as raft declares them (its
// log.go and stable.go), so the adapter has the methods raft calls, with
// their signatures; a program importing raft drops these declarations and
// uses raft's.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nano-wal/nano_wal/go/nanowal"
)

// LogType is raft.LogType.
type LogType uint8

// Some of raft's log types, with its values.
const (
	LogCommand       LogType = 0
	LogNoop          LogType = 1
	LogBarrier       LogType = 4
	LogConfiguration LogType = 5
)

// Log is raft.Log.
type Log struct {
	Index      uint64
	Term       uint64
	Type       LogType
	Data       []byte
	Extensions []byte
	AppendedAt time.Time
}

// LogStore is raft.LogStore.
type LogStore interface {
	FirstIndex() (uint64, error)
	LastIndex() (uint64, error)
	GetLog(index uint64, log *Log) error
	StoreLog(log *Log) error
	StoreLogs(logs []*Log) error
	DeleteRange(min, max uint64) error
}

// MonotonicLogStore is raft.MonotonicLogStore: a store whose indexes
// have no gap says so, and raft then deletes every entry before it stores
// the ones after a snapshot it restored (instead of leaving a gap).
type MonotonicLogStore interface {
	IsMonotonic() bool
}

// StableStore is raft.StableStore.
type StableStore interface {
	Set(key []byte, val []byte) error
	Get(key []byte) ([]byte, error)
	SetUint64(key []byte, val uint64) error
	GetUint64(key []byte) (uint64, error)
}

// ErrLogNotFound is raft.ErrLogNotFound (the same text).
var ErrLogNotFound = errors.New("log not found")

// ErrKeyNotFound is what Get and GetUint64 return for a key never set:
// raft.NewRaft takes a StableStore error whose text is "not found" as "no
// term or vote yet".
var ErrKeyNotFound = errors.New("not found")

// RaftStore is a raft LogStore and StableStore over one nano_wal stream:
// raft's entry of index i is the record of index i (both start at 1), its
// term, type, append time and extensions in the record header, its data
// the content; the stable values are the stream's metadata.
type RaftStore struct {
	wal *nanowal.Log
	// The time each append is filed under (it picks the segment's window,
	// so retention and the size budget see it); the library never reads
	// the clock.
	clock func() time.Time
}

var (
	_ LogStore          = (*RaftStore)(nil)
	_ MonotonicLogStore = (*RaftStore)(nil)
	_ StableStore       = (*RaftStore)(nil)
)

// NewRaftStore is a store over wal, an open stream; appends are filed at
// clock().
func NewRaftStore(wal *nanowal.Log, clock func() time.Time) *RaftStore {
	return &RaftStore{wal: wal, clock: clock}
}

// The record header of an entry: its term (8 bytes, big-endian), its
// append time (8, Unix nanoseconds, 0 for the zero time), its type (1),
// then its extensions.
const entryHeaderLen = 17

func entryHeader(l *Log) []byte {
	h := make([]byte, entryHeaderLen, entryHeaderLen+len(l.Extensions))
	binary.BigEndian.PutUint64(h[0:], l.Term)
	if !l.AppendedAt.IsZero() {
		binary.BigEndian.PutUint64(h[8:], uint64(l.AppendedAt.UnixNano()))
	}
	h[16] = byte(l.Type)
	return append(h, l.Extensions...)
}

func entryOf(e nanowal.Entry, l *Log) error {
	h := e.Header
	if len(h) < entryHeaderLen {
		return fmt.Errorf("raftstore: record %d has a %d-byte header, not a raft entry's", e.Index, len(h))
	}
	*l = Log{Index: e.Index, Term: binary.BigEndian.Uint64(h[0:]), Type: LogType(h[16]), Data: e.Content}
	if ns := int64(binary.BigEndian.Uint64(h[8:])); ns != 0 {
		l.AppendedAt = time.Unix(0, ns)
	}
	if len(h) > entryHeaderLen {
		l.Extensions = h[entryHeaderLen:]
	}
	return nil
}

// FirstIndex is the lowest index stored, 0 when the log is empty.
func (s *RaftStore) FirstIndex() (uint64, error) {
	st, err := s.wal.State()
	if err != nil || st.LastIndex < st.FirstIndex {
		return 0, err
	}
	return st.FirstIndex, nil
}

// LastIndex is the highest index stored, 0 when the log is empty.
func (s *RaftStore) LastIndex() (uint64, error) {
	st, err := s.wal.State()
	if err != nil || st.LastIndex < st.FirstIndex {
		return 0, err
	}
	return st.LastIndex, nil
}

// GetLog reads the entry of index; ErrLogNotFound outside the log.
func (s *RaftStore) GetLog(index uint64, l *Log) error {
	e, err := s.wal.ReadIndex(index)
	if errors.Is(err, nanowal.ErrNotFound) {
		return ErrLogNotFound
	}
	if err != nil {
		return err
	}
	return entryOf(e, l)
}

// StoreLog stores one entry, as StoreLogs.
func (s *RaftStore) StoreLog(l *Log) error {
	return s.StoreLogs([]*Log{l})
}

// StoreLogs appends logs in one durable batch (all or none after a crash).
// nano_wal gives each record the next index, so logs must continue the log
// exactly, each the one before + 1: the first at the last index + 1, or,
// on an empty log, anywhere (a Reset makes it the next index: after a
// snapshot restore raft deletes every entry, then stores from the
// snapshot's index + 1 on).
func (s *RaftStore) StoreLogs(logs []*Log) error {
	if len(logs) == 0 {
		return nil
	}
	st, err := s.wal.State()
	if err != nil {
		return err
	}
	next := st.LastIndex + 1
	if st.LastIndex < st.FirstIndex {
		next = logs[0].Index
	}
	recs := make([]nanowal.Record, len(logs))
	for i, l := range logs {
		if want := next + uint64(i); l.Index != want {
			return fmt.Errorf("raftstore: StoreLogs: entry %d of the batch has index %d, want %d "+
				"(the log's indexes are dense); nothing was stored", i, l.Index, want)
		}
		recs[i] = nanowal.Record{Header: entryHeader(l), Content: l.Data}
	}
	if next != st.LastIndex+1 {
		if err := s.wal.Reset(next); err != nil {
			return err
		}
	}
	_, err = s.wal.AppendBatch(recs, s.clock(), nanowal.Durable)
	return err
}

// IsMonotonic says the store's indexes have no gap (MonotonicLogStore).
func (s *RaftStore) IsMonotonic() bool { return true }

// DeleteRange deletes the entries from min to max, inclusive: a head
// (min at or below the first index: after a snapshot) or a tail (max at
// or above the last: a conflicting suffix). The log never has a hole, so
// a range inside it is refused.
func (s *RaftStore) DeleteRange(min, max uint64) error {
	st, err := s.wal.State()
	if err != nil {
		return err
	}
	switch {
	case min > max:
		return fmt.Errorf("raftstore: DeleteRange(%d, %d): min is above max", min, max)
	case min <= st.FirstIndex:
		if max > st.LastIndex {
			max = st.LastIndex
		}
		return s.wal.PurgeBefore(max + 1)
	case max >= st.LastIndex:
		return s.wal.TruncateAfter(min - 1)
	default:
		return fmt.Errorf("raftstore: DeleteRange(%d, %d) would leave a hole in the log [%d, %d]: "+
			"only its head or its tail can be deleted", min, max, st.FirstIndex, st.LastIndex)
	}
}

// Set stores val under key in the stream's metadata, durably (keys of
// 1-64 bytes of [A-Za-z0-9._-], values of at most 4096 bytes).
func (s *RaftStore) Set(key []byte, val []byte) error {
	return s.wal.MetaPut(string(key), val)
}

// Get is the value of key; ErrKeyNotFound if it was never set.
func (s *RaftStore) Get(key []byte) ([]byte, error) {
	v, err := s.wal.MetaGet(string(key))
	if errors.Is(err, nanowal.ErrNotFound) {
		return nil, ErrKeyNotFound
	}
	return v, err
}

// SetUint64 stores val under key, 8 bytes big-endian.
func (s *RaftStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 is the value SetUint64 stored under key; ErrKeyNotFound if it
// was never set.
func (s *RaftStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("raftstore: GetUint64(%q): the value has %d bytes, not 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func Example_raftLogStore() {
	dir, err := os.MkdirTemp("", "nanowal-raft")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	wal, err := nanowal.Open(dir, "raft", nanowal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer wal.Close()
	store := NewRaftStore(wal, time.Now)

	for i := uint64(1); i <= 5; i++ {
		if err := store.StoreLog(&Log{Index: i, Term: 1, Data: []byte(fmt.Sprint("cmd ", i))}); err != nil {
			log.Fatal(err)
		}
	}
	// A conflicting suffix from a new leader replaces 4 and 5.
	if err := store.DeleteRange(4, 5); err != nil {
		log.Fatal(err)
	}
	if err := store.StoreLogs([]*Log{{Index: 4, Term: 2, Data: []byte("new 4")}}); err != nil {
		log.Fatal(err)
	}
	// A snapshot covers 1 and 2.
	if err := store.DeleteRange(1, 2); err != nil {
		log.Fatal(err)
	}
	first, _ := store.FirstIndex()
	last, _ := store.LastIndex()
	var e Log
	if err := store.GetLog(4, &e); err != nil {
		log.Fatal(err)
	}
	fmt.Println(first, last, e.Term, string(e.Data))
	fmt.Println(store.GetLog(2, &e) == ErrLogNotFound)
	fmt.Println(store.StoreLog(&Log{Index: 9, Term: 2}))
	// Output:
	// 3 4 2 new 4
	// true
	// raftstore: StoreLogs: entry 0 of the batch has index 9, want 5 (the log's indexes are dense); nothing was stored
}

// raftStore is a store over the stream "raft" in dir, appending at now.
func raftStore(t *testing.T, dir string) (*RaftStore, *nanowal.Log) {
	t.Helper()
	wal, err := nanowal.Open(dir, "raft", testOptions)
	if err != nil {
		t.Fatal(err)
	}
	return NewRaftStore(wal, func() time.Time { return now }), wal
}

// testLogs are raft entries from index `from` on: of every type, with and
// without data, extensions and an append time.
func testLogs(from, n uint64, term uint64) []*Log {
	types := []LogType{LogCommand, LogNoop, LogBarrier, LogConfiguration}
	logs := make([]*Log, n)
	for i := range logs {
		idx := from + uint64(i)
		l := &Log{Index: idx, Term: term, Type: types[i%len(types)], Data: []byte(fmt.Sprintf("data %d", idx))}
		if i%2 == 0 {
			l.Extensions = []byte{0, byte(idx), 0xff}
			l.AppendedAt = now.Add(time.Duration(idx) * time.Nanosecond)
		}
		if i%3 == 2 {
			l.Data = nil
		}
		logs[i] = l
	}
	return logs
}

func sameLog(a, b *Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type && bytes.Equal(a.Data, b.Data) &&
		bytes.Equal(a.Extensions, b.Extensions) && a.AppendedAt.Equal(b.AppendedAt)
}

// wantIndexes checks FirstIndex and LastIndex.
func wantIndexes(t *testing.T, s *RaftStore, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if f != first || l != last {
		t.Fatalf("FirstIndex, LastIndex = %d, %d; want %d, %d", f, l, first, last)
	}
}

// wantLogs checks that GetLog returns each of logs, and ErrLogNotFound
// just below and above them.
func wantLogs(t *testing.T, s *RaftStore, logs []*Log) {
	t.Helper()
	for _, want := range logs {
		var got Log
		if err := s.GetLog(want.Index, &got); err != nil || !sameLog(&got, want) {
			t.Fatalf("GetLog(%d) = %+v, %v; want %+v", want.Index, got, err, *want)
		}
	}
	below, above := logs[0].Index-1, logs[len(logs)-1].Index+1
	for _, i := range []uint64{below, above} {
		if err := s.GetLog(i, &Log{}); err != ErrLogNotFound {
			t.Fatalf("GetLog(%d) = %v, want ErrLogNotFound", i, err)
		}
	}
}

func TestRaftStoreStoreGetFirstLast(t *testing.T) {
	s, wal := raftStore(t, t.TempDir())
	defer wal.Close()
	wantIndexes(t, s, 0, 0)
	if err := s.GetLog(1, &Log{}); err != ErrLogNotFound {
		t.Fatalf("GetLog on an empty log: %v", err)
	}
	logs := testLogs(1, 10, 1)
	if err := s.StoreLog(logs[0]); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, s, 1, 1)
	if err := s.StoreLogs(logs[1:]); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, s, 1, 10)
	wantLogs(t, s, logs)
	if err := s.StoreLogs(nil); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, s, 1, 10)
}

func TestRaftStoreRefusesIndexesThatDoNotFollow(t *testing.T) {
	s, wal := raftStore(t, t.TempDir())
	defer wal.Close()
	if err := s.StoreLogs(testLogs(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]*Log{
		testLogs(5, 1, 1), // a gap
		testLogs(3, 1, 1), // an index already stored
		{testLogs(4, 1, 1)[0], testLogs(6, 1, 1)[0]}, // a gap inside the batch
	} {
		err := s.StoreLogs(bad)
		if err == nil || !strings.Contains(err.Error(), "want") || !strings.Contains(err.Error(), "nothing was stored") {
			t.Fatalf("StoreLogs(%d...): %v", bad[0].Index, err)
		}
	}
	wantIndexes(t, s, 1, 3)
	if err := s.StoreLogs(testLogs(4, 2, 1)); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, s, 1, 5)
}

func TestRaftStoreDeleteRange(t *testing.T) {
	dir := t.TempDir()
	s, wal := raftStore(t, dir)
	// Each batch of two in a window of its own: five segments.
	at := now
	s.clock = func() time.Time { at = at.Add(10 * time.Minute); return at }
	logs := testLogs(1, 10, 1)
	for i := 0; i < len(logs); i += 2 {
		if err := s.StoreLogs(logs[i : i+2]); err != nil {
			t.Fatal(err)
		}
	}
	segments := func() int {
		m, err := filepath.Glob(filepath.Join(dir, "raft_*.seg"))
		if err != nil {
			t.Fatal(err)
		}
		return len(m)
	}
	if n := segments(); n != 5 {
		t.Fatalf("%d segment files, want 5", n)
	}
	// A reader hold at 3 stops a compaction past it; released, it goes.
	if err := wal.Hold("follower", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 4); !errors.Is(err, nanowal.ErrHeld) {
		t.Fatalf("DeleteRange(1, 4) past a hold at 3: %v", err)
	}
	wantIndexes(t, s, 1, 10)
	if err := wal.ReleaseHold("follower"); err != nil {
		t.Fatal(err)
	}
	// The head: 1 to 4 (compaction after a snapshot at 4): the two
	// segments holding them are deleted.
	if err := s.DeleteRange(1, 4); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, s, 5, 10)
	wantLogs(t, s, logs[4:])
	if n := segments(); n != 3 {
		t.Fatalf("%d segment files after compacting 1 to 4, want 3", n)
	}
	// The tail: 8 to 10 (a conflicting suffix), then a new leader's 8.
	if err := s.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, s, 5, 7)
	wantLogs(t, s, logs[4:7])
	replaced := testLogs(8, 2, 2)
	if err := s.StoreLogs(replaced); err != nil {
		t.Fatal(err)
	}
	// Inside the log, and backwards: refused, nothing deleted.
	for _, r := range [][2]uint64{{6, 6}, {6, 8}, {9, 7}} {
		if err := s.DeleteRange(r[0], r[1]); err == nil {
			t.Fatalf("DeleteRange(%d, %d) succeeded", r[0], r[1])
		}
	}
	wantIndexes(t, s, 5, 9)
	if err := wal.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened, everything is as it was.
	s, wal = raftStore(t, dir)
	defer wal.Close()
	wantIndexes(t, s, 5, 9)
	wantLogs(t, s, append(append([]*Log{}, logs[4:7]...), replaced...))

	// A head past the last index deletes everything: the store is empty,
	// and goes on at 10 (raft's next entry after a snapshot at 9).
	if err := s.DeleteRange(1, 20); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, s, 0, 0)
	if err := s.GetLog(9, &Log{}); err != ErrLogNotFound {
		t.Fatalf("GetLog(9) after deleting everything: %v", err)
	}
	next := testLogs(10, 2, 3)
	if err := s.StoreLogs(next); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, s, 10, 11)
	wantLogs(t, s, next)
}

func TestRaftStoreAfterReset(t *testing.T) {
	s, wal := raftStore(t, t.TempDir())
	defer wal.Close()
	if err := s.StoreLogs(testLogs(1, 5, 1)); err != nil {
		t.Fatal(err)
	}
	// A Reset through the binding: raft sees an empty log.
	if err := wal.Reset(100); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, s, 0, 0)
	if err := s.GetLog(5, &Log{}); err != ErrLogNotFound {
		t.Fatalf("GetLog(5) after the reset: %v", err)
	}
	// Its next index is 100; a batch with a gap inside is still refused.
	err := s.StoreLogs([]*Log{testLogs(100, 1, 2)[0], testLogs(102, 1, 2)[0]})
	if err == nil || !strings.Contains(err.Error(), "want 101") {
		t.Fatalf("StoreLogs(100, 102): %v", err)
	}
	logs := testLogs(100, 3, 2)
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, s, 100, 102)
	wantLogs(t, s, logs)
}

// What raft does to a MonotonicLogStore whose follower restores a
// snapshot past its log: it deletes every entry, then stores from the
// snapshot's index + 1.
func TestRaftStoreAfterSnapshotRestore(t *testing.T) {
	dir := t.TempDir()
	s, wal := raftStore(t, dir)
	if !s.IsMonotonic() {
		t.Fatal("not monotonic")
	}
	if err := s.StoreLogs(testLogs(1, 5, 1)); err != nil {
		t.Fatal(err)
	}
	// Not while entries are there: that would be a gap.
	err := s.StoreLogs(testLogs(101, 1, 4))
	if err == nil || !strings.Contains(err.Error(), "want 6") {
		t.Fatalf("StoreLogs(101) after 5: %v", err)
	}
	if err := s.DeleteRange(1, 5); err != nil {
		t.Fatal(err)
	}
	logs := testLogs(101, 3, 4)
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, s, 101, 103)
	wantLogs(t, s, logs)
	if err := wal.Close(); err != nil {
		t.Fatal(err)
	}
	s, wal = raftStore(t, dir)
	defer wal.Close()
	wantIndexes(t, s, 101, 103)
	wantLogs(t, s, logs)
}

func TestRaftStableStore(t *testing.T) {
	dir := t.TempDir()
	s, wal := raftStore(t, dir)
	if _, err := s.Get([]byte("LastVoteCand")); err != ErrKeyNotFound || err.Error() != "not found" {
		t.Fatalf("Get of a key never set: %v", err)
	}
	if _, err := s.GetUint64([]byte("CurrentTerm")); err != ErrKeyNotFound {
		t.Fatalf("GetUint64 of a key never set: %v", err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("node-2")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("empty"), []byte{}); err != nil {
		t.Fatal(err)
	}
	for _, term := range []uint64{0, 7, math.MaxUint64} {
		if err := s.SetUint64([]byte("CurrentTerm"), term); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetUint64([]byte("CurrentTerm")); err != nil || got != term {
			t.Fatalf("GetUint64 = %d, %v; want %d", got, err, term)
		}
	}
	if _, err := s.GetUint64([]byte("LastVoteCand")); err == nil || !strings.Contains(err.Error(), "6 bytes") {
		t.Fatalf("GetUint64 of a 6-byte value: %v", err)
	}
	if err := s.Set([]byte("bad key"), []byte("x")); !errors.Is(err, nanowal.ErrInvalidArgument) {
		t.Fatalf("Set with a space in the key: %v", err)
	}
	// The stable values live beside the log: deleting entries leaves them.
	if err := s.StoreLogs(testLogs(1, 3, 7)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 3); err != nil {
		t.Fatal(err)
	}
	if err := wal.Close(); err != nil {
		t.Fatal(err)
	}

	s, wal = raftStore(t, dir)
	defer wal.Close()
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-2" {
		t.Fatalf("after reopen: %q %v", v, err)
	}
	if v, err := s.Get([]byte("empty")); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("empty value after reopen: %q %v", v, err)
	}
	if got, err := s.GetUint64([]byte("CurrentTerm")); err != nil || got != math.MaxUint64 {
		t.Fatalf("CurrentTerm after reopen: %d %v", got, err)
	}
}
