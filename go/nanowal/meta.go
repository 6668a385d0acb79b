// SPDX-License-Identifier: MIT

package nanowal

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
#include <stdlib.h>
*/
import "C"

import (
	"errors"
	"unsafe"
)

// MetaPut sets key to value in the stream's metadata (a few small values
// kept beside the log: keys of 1-64 bytes of [A-Za-z0-9._-], values of at
// most 4096 bytes, at most 64 keys), replacing any value it had. It is
// atomic and durable once it returns nil; retention, truncation and reset
// of the log never touch it.
func (l *Log) MetaPut(key string, value []byte) error {
	ckey, err := cString("Log.MetaPut", "key", key)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(ckey))
	return l.do("MetaPut", func(w *C.nwal) C.enum_nwal_status {
		return C.nwal_meta_put(w, ckey, bytesPtr(value), C.size_t(len(value)))
	})
}

// metaGetFirst is the buffer size MetaGet tries first; a longer value
// costs a second call with a buffer of its length.
const metaGetFirst = 256

// MetaGet is the value of key (non-nil, possibly empty), ErrNotFound if
// it has none.
func (l *Log) MetaGet(key string) ([]byte, error) {
	ckey, err := cString("Log.MetaGet", "key", key)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(ckey))
	buf := make([]byte, metaGetFirst)
	for {
		var n C.size_t
		err := l.do("MetaGet", func(w *C.nwal) C.enum_nwal_status {
			return C.nwal_meta_get(w, ckey, bytesPtr(buf), C.size_t(len(buf)), &n)
		})
		if errors.Is(err, ErrBufferTooSmall) {
			// A put may have grown the value since: try again at its length.
			buf = make([]byte, int(n))
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n:n], nil
	}
}
