// SPDX-License-Identifier: MIT
//! The calls made to be called again and again allocate nothing once their
//! buffers have grown: reads by ref into a kept buffer (`Wal::read_batch_into`,
//! C `nwal_read_into` and `nwal_read_batch_into`), and replay in batches
//! (`Replay::next_batch`, C `nwal_iter_next_batch`) but for one read buffer
//! per chunk of about 1 MiB. Counted by a global allocator that counts the
//! allocations of the thread that asks (this file is its own test binary).

mod common;

use common::*;
use nano_wal::ffi::*;
use nano_wal::{EntryRef, ReadBuf, Wal};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::CString;
use std::ptr;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is a thread-local `Cell` with a const initialiser, which neither
// allocates nor re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations this thread makes while running `f`.
fn allocations<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (ALLOCATIONS.with(Cell::get) - before, out)
}

const RECORDS: u64 = 20_000;

/// A log of 20,000 records of 40-120 bytes in one segment (about 1.6 MB:
/// two read chunks), and its refs.
fn log(dir: &std::path::Path) -> (Wal, Vec<EntryRef>) {
    let w = Wal::open(dir, "s", test_opts()).unwrap();
    let refs = (0..RECORDS)
        .map(|i| {
            let content = content_for(3, i, 80);
            let mut padded = vec![i as u8; 40];
            padded.extend_from_slice(&content);
            w.append(None, &padded, T0, false).unwrap()
        })
        .collect();
    (w, refs)
}

/// The log in `dir` opened through the C API (default options).
fn c_open(dir: &std::path::Path) -> *mut nwal {
    let d = CString::new(dir.to_str().unwrap()).unwrap();
    let mut h = ptr::null_mut();
    // SAFETY: valid C strings, NULL options, valid out pointer.
    let st = unsafe { nwal_open(d.as_ptr(), c"s".as_ptr(), ptr::null(), &mut h) };
    assert_eq!(st, nwal_status::NWAL_OK);
    h
}

fn empty_record() -> nwal_record {
    nwal_record {
        header: ptr::null(),
        header_len: 0,
        content: ptr::null(),
        content_len: 0,
    }
}

#[test]
fn reads_into_a_kept_buffer_allocate_nothing_once_it_has_grown() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, refs) = log(tmp.path());

    // Rust: one ref and 64 refs at a time.
    let mut buf = ReadBuf::new();
    let mut reads = || {
        let mut total = 0;
        for (k, r) in refs.iter().enumerate().step_by(7) {
            w.read_batch_into(&[*r], &mut buf).unwrap();
            total += buf.get(0).unwrap().content.len();
            if k + 64 <= refs.len() && k % 91 == 0 {
                w.read_batch_into(&refs[k..k + 64], &mut buf).unwrap();
                total += buf.iter().map(|r| r.content.len()).sum::<usize>();
            }
        }
        total
    };
    // The first pass grows the buffer to the largest read; the second
    // makes the same reads.
    let (grown, first) = allocations(&mut reads);
    let (n, second) = allocations(&mut reads);
    assert!(grown > 0 && first > 0 && second == first);
    assert_eq!(n, 0, "allocations in ~3,000 reads into a grown ReadBuf");

    // C: nwal_read_into and nwal_read_batch_into on a handle of its own.
    drop(w);
    let h = c_open(tmp.path());
    let crefs: Vec<nwal_entry_ref> = refs.iter().map(|&r| r.into()).collect();
    let mut cbuf = ptr::null_mut();
    // SAFETY: `cbuf` receives the buffer.
    let st = unsafe { nwal_read_buf_new(&mut cbuf) };
    assert_eq!(st, nwal_status::NWAL_OK);
    let mut one = empty_record();
    let mut many = vec![empty_record(); 64];
    let mut reads = || {
        let mut total = 0;
        for (k, r) in crefs.iter().enumerate().step_by(7) {
            // SAFETY: live handle and buffer; refs and record slots of the
            // counts passed.
            unsafe {
                assert_eq!(nwal_read_into(h, r, cbuf, &mut one), nwal_status::NWAL_OK);
                total += one.content_len;
                if k + 64 <= crefs.len() && k % 91 == 0 {
                    let st = nwal_read_batch_into(h, &crefs[k], 64, cbuf, many.as_mut_ptr());
                    assert_eq!(st, nwal_status::NWAL_OK);
                    total += many.iter().map(|r| r.content_len).sum::<usize>();
                }
            }
        }
        total
    };
    let (grown, first) = allocations(&mut reads);
    let (n, second) = allocations(&mut reads);
    assert!(grown > 0 && first > 0 && second == first);
    assert_eq!(n, 0, "allocations in ~3,000 C reads into a kept buffer");
    // SAFETY: from nwal_read_buf_new and nwal_open, released once.
    unsafe {
        nwal_read_buf_free(cbuf);
        assert_eq!(nwal_close(h), nwal_status::NWAL_OK);
    }
}

#[test]
fn replay_in_batches_allocates_per_read_chunk_not_per_call() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, refs) = log(tmp.path());
    let bytes: u64 = refs.iter().map(|r| r.size).sum();
    // One buffer per chunk read (the first two chunks may be read by the
    // first call), and the batch's list once: far below one allocation per
    // call (a call returns at most 64 records).
    let bound = bytes.div_ceil(1 << 20) + 2;

    let mut replay = w.replay(None).unwrap();
    let (n, (records, calls)) = allocations(|| {
        let (mut records, mut calls) = (0u64, 0u64);
        while let Some(batch) = replay.next_batch(64) {
            records += batch.unwrap().len() as u64;
            calls += 1;
        }
        (records, calls)
    });
    assert_eq!(records, RECORDS);
    assert!(calls >= RECORDS / 64);
    assert!(
        n <= bound,
        "{n} allocations in {calls} calls (bound {bound})"
    );

    drop(w);
    let h = c_open(tmp.path());
    let mut it = ptr::null_mut();
    // SAFETY: live handle; `it` receives the iterator.
    let st = unsafe { nwal_iter_open(h, ptr::null(), &mut it) };
    assert_eq!(st, nwal_status::NWAL_OK);
    let mut recs = vec![empty_record(); 64];
    let mut crefs = vec![nwal_entry_ref::from(refs[0]); 64];
    let (n, (records, calls)) = allocations(|| {
        let (mut records, mut calls) = (0u64, 0u64);
        loop {
            let mut got = 0usize;
            // SAFETY: live iterator; 64 record and ref slots.
            let st = unsafe {
                nwal_iter_next_batch(it, recs.as_mut_ptr(), crefs.as_mut_ptr(), 64, &mut got)
            };
            if st == nwal_status::NWAL_DONE {
                break;
            }
            assert_eq!(st, nwal_status::NWAL_OK);
            records += got as u64;
            calls += 1;
        }
        (records, calls)
    });
    assert_eq!(records, RECORDS);
    assert!(
        n <= bound,
        "{n} allocations in {calls} C calls (bound {bound})"
    );
    // SAFETY: released once each.
    unsafe {
        nwal_iter_free(it);
        assert_eq!(nwal_close(h), nwal_status::NWAL_OK);
    }
}
