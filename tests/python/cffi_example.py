# SPDX-License-Identifier: MIT
"""The README's Python example: nano_wal through cffi's ABI mode (no
compiler needed), with the declarations of python/nano_wal.cdef. It
appends, reads back by ref, replays and checks an error status; it raises
on any mismatch.

usage: python3 cffi_example.py CDEF LIBRARY
  CDEF is python/nano_wal.cdef, LIBRARY the path of libnano_wal.so.
"""
import sys
import tempfile

import cffi

CDEF, LIBRARY = sys.argv[1], sys.argv[2]

ffi = cffi.FFI()
with open(CDEF) as f:
    ffi.cdef(f.read())
lib = ffi.dlopen(LIBRARY)


class NwalError(Exception):
    def __init__(self, status):
        # Read on the thread of the failed call: the message is per thread.
        self.status = status
        self.errno = lib.nwal_last_os_error()
        super().__init__("%s: %s" % (ffi.string(lib.nwal_status_name(status)).decode(),
                                     ffi.string(lib.nwal_last_error_message()).decode()))


def check(status):
    if status != lib.NWAL_OK:
        raise NwalError(status)


def replay(w):
    """(index, header or None, content) of every record, in log order."""
    it = ffi.new("nwal_iter **")
    check(lib.nwal_iter_open(w, ffi.NULL, it))
    rec, ref = ffi.new("nwal_record *"), ffi.new("nwal_entry_ref *")
    try:
        while (status := lib.nwal_iter_next(it[0], rec, ref)) != lib.NWAL_DONE:
            check(status)
            header = None if rec.header == ffi.NULL else bytes(ffi.buffer(rec.header, rec.header_len))
            yield ref.index, header, bytes(ffi.buffer(rec.content, rec.content_len))
    finally:
        lib.nwal_iter_free(it[0])


with tempfile.TemporaryDirectory() as d:
    opts = ffi.new("nwal_options *", lib.nwal_options_default())
    opts.segment_duration_ms = 10 * 60 * 1000
    opts.retention_ms = 60 * 60 * 1000
    w = ffi.new("nwal **")
    check(lib.nwal_open(d.encode(), b"orders", opts, w))
    now_ms = 1711234567890
    ref = ffi.new("nwal_entry_ref *")
    check(lib.nwal_append(w[0], b"k1", 2, b"first", 5, now_ms, lib.NWAL_DURABLE, ref))
    check(lib.nwal_append(w[0], ffi.NULL, 0, b"second", 6, now_ms, 0, ffi.NULL))

    records, buf = ffi.new("nwal_record[1]"), ffi.new("nwal_read_buf **")
    check(lib.nwal_read_batch(w[0], ref, 1, records, buf))
    content = bytes(ffi.buffer(records[0].content, records[0].content_len))  # copy, then free
    lib.nwal_read_buf_free(buf[0])
    assert content == b"first", content

    assert list(replay(w[0])) == [(1, b"k1", b"first"), (2, None, b"second")]
    try:
        check(lib.nwal_open(d.encode(), b"orders", ffi.NULL, ffi.new("nwal **")))
        raise AssertionError("a second open of a locked stream succeeded")
    except NwalError as e:
        assert e.status == lib.NWAL_ERR_LOCKED and "locked" in str(e), e
    check(lib.nwal_close(w[0]))
print("cffi example: OK (library %s)" % ffi.string(lib.nwal_version()).decode())
