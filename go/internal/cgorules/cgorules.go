// SPDX-License-Identifier: MIT

// Package cgorules holds the two cgo calls that the binding's tests make to
// show the cgo pointer rules the binding is built around; it is not part of
// the API. (Test files cannot use cgo themselves.)
package cgorules

/*
#cgo pkg-config: nano_wal
#include <nano_wal.h>
#include <stdlib.h>
*/
import "C"

import "unsafe"

// AppendBatchGoPointers opens the stream in dir and calls nwal_append_batch
// with an array of nwal_write_entry built in Go memory and pointing into Go
// memory, which cgo refuses (it panics before the call): it returns what
// was recovered, and the last index of the log, read after the attempt.
func AppendBatchGoPointers(dir, stream string, contents [][]byte) (recovered interface{}, lastIndex uint64) {
	cdir, cstream := C.CString(dir), C.CString(stream)
	defer C.free(unsafe.Pointer(cdir))
	defer C.free(unsafe.Pointer(cstream))
	var w *C.nwal
	if C.nwal_open(cdir, cstream, nil, &w) != C.NWAL_OK {
		panic(C.GoString(C.nwal_last_error_message()))
	}
	defer C.nwal_close(w)
	func() {
		defer func() { recovered = recover() }()
		in := make([]C.nwal_write_entry, len(contents))
		for i, c := range contents {
			in[i].content = (*C.uint8_t)(unsafe.Pointer(&c[0]))
			in[i].content_len = C.size_t(len(c))
		}
		C.nwal_append_batch(w, &in[0], C.size_t(len(in)), 0, 0, nil)
	}()
	var st C.nwal_log_state
	C.nwal_log_state_get(w, &st)
	return recovered, uint64(st.last_index)
}

// StoreGoPointerInCMemory stores a Go pointer into C memory, which only the
// full cgo checks (GODEBUG=cgocheck=2 up to Go 1.20, GOEXPERIMENT=cgocheck2
// from 1.21) detect: the process then dies with "Go pointer stored into
// non-Go memory". Without them it returns.
func StoreGoPointerInCMemory() {
	p := C.malloc(C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(p)
	x := new(int)
	*(*unsafe.Pointer)(p) = unsafe.Pointer(x)
}
