// SPDX-License-Identifier: MIT
//! Fuzz targets, shared by `tests/fuzz_smoke.rs` (a bounded, seeded run in
//! the test command, stable toolchain, no extra tools) and `fuzz/`
//! (cargo-fuzz / libFuzzer, coverage-guided, for long runs), which includes
//! this file with `#[path]`. Public APIs only. A target panics when an
//! invariant breaks; nothing else may make it panic.
//!
//! The oracle is a reference decoder: the plainest reading of
//! docs/FORMAT.md (`record_at`, `walk`), built on the public
//! `nano_wal::format` functions, against which the engine's chunked scanner,
//! recovery, replay and reads are compared byte for byte.
#![allow(dead_code)]

use nano_wal::format::{
    decode_frame, encode_frame, verify_record, Position, SegmentHeader, Trailer, RECORD_FRAME_SIZE,
    RECORD_MAGIC, SEGMENT_HEADER_SIZE, TRAILER_SIZE,
};
use nano_wal::inspect::LogView;
use nano_wal::{EntryRef, Record, Wal, WalError, WalOptions};
use std::path::Path;
use std::time::Duration;

/// Base time of the fuzzed logs (aligned to `DUR`).
pub const T0: i64 = 1_700_000_000_000;
/// Window width and retention of the fuzzed logs (ms).
pub const DUR: i64 = 1_000;
pub const RET: i64 = 1_000;
/// Stream name of the fuzzed logs.
pub const STREAM: &str = "f";
const HDR: usize = SEGMENT_HEADER_SIZE;

pub fn options(salvage: bool) -> WalOptions {
    WalOptions {
        segment_duration: Duration::from_millis(DUR as u64),
        retention: Duration::from_millis(RET as u64),
        salvage,
        ..Default::default()
    }
}

/// The header of segment `id` (1-based) as the engine writes it for the
/// windows `T0`, `T0 + DUR`, ... of `options()`, each segment starting at
/// index `id` (as if each segment before it held one record).
pub fn segment_header(id: u64) -> SegmentHeader {
    let window_start_ms = T0 + (id as i64 - 1) * DUR;
    SegmentHeader {
        segment_id: id,
        expiration_ms: window_start_ms + DUR + RET,
        window_start_ms,
        first_index: id,
        resets_log: false,
    }
}

pub fn segment_file_name(id: u64) -> String {
    format!("{STREAM}_{}_{id}.seg", segment_header(id).expiration_ms)
}

/// A record as the reference decoder reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefRecord {
    pub offset: u64,
    pub index: u64,
    pub size: u64,
    pub header: Option<Vec<u8>>,
    pub content: Vec<u8>,
    pub continues: bool,
    pub synced_end: u64,
}

/// The record of segment `seg_id` with index `index` starting at `pos` of
/// `file`, if one verifies there (its frame is valid, it fits, its CRC
/// matches). Also checks that the decoder accepts only what the encoder
/// writes.
pub fn record_at(file: &[u8], pos: usize, seg_id: u64, index: u64) -> Option<RefRecord> {
    let rest = file.get(pos..)?;
    let frame = decode_frame(rest).ok()?;
    let size = frame.total_size();
    if size > rest.len() as u64 {
        return None;
    }
    let bytes = &rest[..size as usize];
    let at = Position {
        offset: pos as u64,
        index,
    };
    let verified = verify_record(bytes, seg_id, at).ok()?;
    assert_eq!(verified, frame, "decode_frame and verify_record disagree");
    let body = RECORD_FRAME_SIZE + frame.header_len;
    let header = frame
        .has_header()
        .then(|| bytes[RECORD_FRAME_SIZE..body].to_vec());
    let content = bytes[body..].to_vec();
    let mut again = [0u8; RECORD_FRAME_SIZE];
    encode_frame(
        &mut again,
        seg_id,
        at,
        frame.synced_end,
        header.as_deref(),
        &content,
        frame.batch_continues(),
    );
    assert_eq!(
        &again[..],
        &bytes[..RECORD_FRAME_SIZE],
        "a frame at {pos} verifies but is not what the encoder writes"
    );
    Some(RefRecord {
        offset: pos as u64,
        index,
        size,
        header,
        content,
        continues: frame.batch_continues(),
        synced_end: frame.synced_end,
    })
}

/// The header's first index of a segment file (1 if it has none).
pub fn first_index(file: &[u8]) -> u64 {
    SegmentHeader::decode(file).map_or(1, |h| h.first_index)
}

/// Every record from `start` (index `index`) up to the first place where
/// none verifies; returns them and that place (`file.len()` when all of it
/// verifies).
pub fn walk(file: &[u8], start: usize, seg_id: u64, index: u64) -> (Vec<RefRecord>, usize) {
    let mut out = Vec::new();
    let mut pos = start;
    while pos < file.len() {
        let index = index + out.len() as u64;
        match record_at(file, pos, seg_id, index) {
            Some(r) => {
                pos += r.size as usize;
                out.push(r);
            }
            None => break,
        }
    }
    (out, pos)
}

/// End of the last record that ends a batch, and the records before it.
pub fn committed(records: &[RefRecord], start: usize) -> (usize, usize) {
    let mut end = start;
    let mut n = 0;
    for (i, r) in records.iter().enumerate() {
        if !r.continues {
            end = (r.offset + r.size) as usize;
            n = i + 1;
        }
    }
    (end, n)
}

/// The first offset after `from` (where a record of index `index` was
/// expected) where a whole record of `seg_id` verifies, with its index: one
/// of those a record there can have (at most one more per frame's length).
pub fn valid_after(file: &[u8], from: usize, seg_id: u64, index: u64) -> Option<(usize, u64)> {
    (from + 1..file.len().saturating_sub(RECORD_FRAME_SIZE - 1))
        .filter(|&p| file[p..].starts_with(&RECORD_MAGIC))
        .find_map(|p| {
            let more = ((p - from) / RECORD_FRAME_SIZE) as u64;
            (index..=index + more)
                .find(|&i| record_at(file, p, seg_id, i).is_some())
                .map(|i| (p, i))
        })
}

/// Does open cut damage at `stop` (followed by a valid record at `next`)?
/// Only when no valid record after it says the segment was synced past
/// `stop`, and some 512-byte-aligned sector ending by `next` is all zeros
/// from `max(its start, stop)` on (a write lost before a machine crash).
pub fn lost_unsynced_write(file: &[u8], stop: usize, next: (usize, u64), seg_id: u64) -> bool {
    let mut proven = 0u64;
    let mut at = Some(next);
    let next = next.0;
    while let Some((p, index)) = at {
        let (recs, bad) = walk(file, p, seg_id, index);
        proven = recs.iter().map(|r| r.synced_end).fold(proven, u64::max);
        let index = index + recs.len() as u64;
        at = (bad < file.len())
            .then(|| valid_after(file, bad, seg_id, index))
            .flatten();
    }
    proven <= stop as u64
        && (stop / 512 * 512..next)
            .step_by(512)
            .any(|s| s + 512 <= next && file[s.max(stop)..s + 512].iter().all(|&b| b == 0))
}

fn same(rec: &Record, want: &RefRecord) -> bool {
    rec.header.as_deref() == want.header.as_deref() && rec.content[..] == want.content[..]
}

fn fresh_dir(scratch: &Path) {
    if scratch.exists() {
        std::fs::remove_dir_all(scratch).unwrap();
    }
    std::fs::create_dir_all(scratch).unwrap();
}

/// Target 1, the record decoder and the segment scanner. `data` is the body
/// of a segment (records from offset 48 on) with a valid header for id 1.
/// The in-memory decoders must never panic and accept only what the encoder
/// writes; `LogView::check_segment` (the engine's chunked scanner, the scan
/// recovery uses), replay and reads must agree with the reference decoder.
pub fn segment(scratch: &Path, data: &[u8]) {
    // The bare decoders on arbitrary bytes.
    if let Ok(h) = SegmentHeader::decode(data) {
        assert_eq!(
            &h.encode()[..],
            &data[..HDR],
            "a segment header decodes but is not what the encoder writes"
        );
    }
    for i in 0..data.len().min(32) {
        let _ = decode_frame(&data[i..]);
        let at = Position {
            offset: (HDR + i) as u64,
            index: 1,
        };
        let _ = verify_record(&data[i..], 1, at);
    }

    let mut file = segment_header(1).encode().to_vec();
    file.extend_from_slice(data);
    let (records, stop) = walk(&file, HDR, 1, 1);
    let (end, n_committed) = committed(&records, HDR);

    fresh_dir(scratch);
    std::fs::write(scratch.join(segment_file_name(1)), &file).unwrap();
    let view = LogView::open(scratch, STREAM).unwrap();
    let check = view.check_segment(1).unwrap();
    assert_eq!(check.valid_end, end as u64, "valid end");
    assert_eq!(check.records, n_committed as u64, "records");
    assert_eq!(
        check.first,
        records[..n_committed].first().map(|r| entry(1, r))
    );
    assert_eq!(
        check.last,
        records[..n_committed].last().map(|r| entry(1, r))
    );
    // Segment 1 is the newest (the only one): zeros from the end of its
    // records to the end of the file are preallocated space.
    let zero_tail = stop < file.len() && file[stop..].iter().all(|&b| b == 0);
    match &check.problem {
        None => assert!(
            stop == file.len() || zero_tail,
            "scanner missed damage at {stop}"
        ),
        Some(_) if zero_tail => panic!("a zero tail at {stop} reported as damage"),
        Some(p) => {
            assert_eq!(p.offset, stop as u64, "damage offset");
            let next = valid_after(&file, stop, 1, 1 + records.len() as u64);
            assert_eq!(p.next_valid, next.map(|x| x.0 as u64), "next valid record");
            assert_eq!(p.next_valid_index, next.map(|x| x.1), "its index");
            let cut = next.is_none_or(|n| lost_unsynced_write(&file, stop, n, 1));
            assert_eq!(p.torn_tail, cut, "damage at {stop} cut by open");
        }
    }

    // Replay yields every record the reference decoder finds, then an error
    // at the damage (if any), with exactly the bytes on disk. Reads see what
    // open would keep of it (the view counts its committed records).
    let mut it = view.replay(None).unwrap();
    for want in &records {
        let (r, rec) = it.next().expect("replay ended early").expect("replay");
        assert_eq!(r, entry(1, want));
        assert!(same(&rec, want), "replay returned other bytes at {r:?}");
    }
    let stop_at = if zero_tail && !records.last().is_some_and(|r| r.continues) {
        None
    } else {
        replay_stop(&records, stop, file.len())
    };
    match (it.next(), stop_at) {
        (None, None) => {}
        (
            Some(Err(WalError::CorruptedData {
                segment_id: 1,
                offset,
                ..
            })),
            Some(want),
        ) => assert_eq!(offset, want, "replay error place"),
        (other, want) => {
            panic!("replay after the last valid record: {other:?}, expected an error at {want:?}")
        }
    }
    assert!(it.next().is_none(), "replay goes on after an error");
    let committed_records = &records[..n_committed];
    let refs: Vec<EntryRef> = committed_records.iter().map(|r| entry(1, r)).collect();
    let read = view.read_batch(&refs).unwrap();
    for (rec, want) in read.iter().zip(committed_records) {
        assert!(same(rec, want), "read returned other bytes");
    }
    // A ref that is not exactly one record, or names another index, is
    // refused, never misread.
    for want in committed_records.iter().take(4) {
        let bad = EntryRef {
            size: want.size + 1,
            ..entry(1, want)
        };
        if want.offset + want.size < file.len() as u64 {
            assert!(view.read_batch(&[bad]).is_err(), "oversized ref read");
        }
        for index in [want.index - 1, want.index + 1] {
            let bad = EntryRef {
                index,
                ..entry(1, want)
            };
            assert!(
                view.read_batch(&[bad]).is_err(),
                "ref of another index read"
            );
        }
    }
}

fn entry(seg: u64, r: &RefRecord) -> EntryRef {
    EntryRef {
        segment_id: seg,
        offset: r.offset,
        size: r.size,
        index: r.index,
    }
}

/// The input of target 2: up to three segment files of stream `f`
/// (ids 1, 2, 3, names as the engine gives them), each either raw bytes or
/// a fresh valid header followed by the bytes; and the salvage option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirInput {
    pub salvage: bool,
    /// (prepend a fresh header, bytes)
    pub files: Vec<(bool, Vec<u8>)>,
}

impl DirInput {
    /// Byte 0: bits 0-1 number of files - 1 (3 counts as 2), bits 2-4 fresh
    /// headers, bit 5 salvage; then a u16 LE length and the bytes of each
    /// file but the last, which takes the rest.
    pub fn parse(data: &[u8]) -> DirInput {
        let flags = data.first().copied().unwrap_or(0);
        let n = 1 + ((flags & 3) as usize).min(2);
        let mut rest = data.get(1..).unwrap_or(&[]);
        let mut files = Vec::new();
        for i in 0..n {
            let fresh = flags & (4 << i) != 0;
            let len = if i + 1 == n {
                rest.len()
            } else {
                let l = rest
                    .get(..2)
                    .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as usize);
                rest = rest.get(2..).unwrap_or(&[]);
                l.min(rest.len())
            };
            files.push((fresh, rest[..len].to_vec()));
            rest = &rest[len..];
        }
        DirInput {
            salvage: flags & 32 != 0,
            files,
        }
    }

    /// The inverse of `parse` (files of at most 65,535 bytes but the last).
    pub fn encode(&self) -> Vec<u8> {
        let n = self.files.len();
        assert!((1..=3).contains(&n));
        let mut flags = (n - 1) as u8 | if self.salvage { 32 } else { 0 };
        for (i, f) in self.files.iter().enumerate() {
            if f.0 {
                flags |= 4 << i;
            }
        }
        let mut out = vec![flags];
        for (i, (_, bytes)) in self.files.iter().enumerate() {
            if i + 1 < n {
                out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
            }
            out.extend_from_slice(bytes);
        }
        out
    }
}

/// What open must do with a directory, from the reference decoder.
#[derive(Debug)]
enum Expect {
    /// Open fails with `CorruptedData` at (segment, offset).
    Corrupted(u64, u64),
    /// Open succeeds; replay yields these records (segment, record), then
    /// fails at (segment, offset) if `error` is set.
    Opens {
        records: Vec<(u64, RefRecord)>,
        error: Option<(u64, u64)>,
    },
}

fn header_ok(file: &[u8], id: u64) -> bool {
    // Recovery checks the id and expiration against the file name (the
    // window is not in the name).
    let want = segment_header(id);
    SegmentHeader::decode(file)
        .is_ok_and(|h| h.segment_id == id && h.expiration_ms == want.expiration_ms)
}

/// A newest segment whose creation was torn: open removes it.
fn torn(file: &[u8]) -> bool {
    file.len() <= HDR && SegmentHeader::decode(file).is_err()
}

/// docs/FORMAT.md, "Recovery", read plainly.
fn expect(files: &[Vec<u8>], salvage: bool) -> Expect {
    let mut newest: Option<(u64, usize)> = None; // (id, committed end)
    let mut k = files.len();
    while k > 0 {
        let (id, f) = (k as u64, &files[k - 1]);
        k -= 1;
        if !header_ok(f, id) {
            if torn(f) || salvage {
                continue; // removed, or left alone by salvage
            }
            return Expect::Corrupted(id, 0);
        }
        newest = Some((id, 0));
        break;
    }
    // Headers first (older segments), then the newest segment's records:
    // open checks everything before it changes anything.
    for (i, f) in files[..k].iter().enumerate() {
        if !header_ok(f, i as u64 + 1) && !salvage {
            return Expect::Corrupted(i as u64 + 1, 0);
        }
    }
    // From the newest back, a segment holds the indexes below the lowest
    // first index after it: one that holds none is dropped (a truncation
    // after it), as is every segment before one that resets the log.
    let headers: Vec<u64> = (0..k)
        .filter(|&i| header_ok(&files[i], i as u64 + 1))
        .map(|i| i as u64 + 1)
        .collect();
    let mut kept = Vec::new();
    if let Some((newest_id, _)) = newest {
        let header = |id: u64| SegmentHeader::decode(&files[id as usize - 1]).unwrap();
        let (mut limit, mut reset) = (header(newest_id).first_index, header(newest_id).resets_log);
        for &id in headers.iter().rev() {
            let h = header(id);
            if !reset && h.first_index < limit {
                kept.push(id);
            }
            limit = limit.min(h.first_index);
            reset |= h.resets_log;
        }
        kept.reverse();
    }
    if let Some((id, end)) = &mut newest {
        let f = &files[*id as usize - 1];
        let index = first_index(f);
        let (records, stop) = walk(f, HDR, *id, index);
        let next = (stop < f.len())
            .then(|| valid_after(f, stop, *id, index + records.len() as u64))
            .flatten();
        if let Some(next) = next {
            if !salvage && !lost_unsynced_write(f, stop, next, *id) {
                return Expect::Corrupted(*id, stop as u64);
            }
        }
        *end = committed(&records, HDR).0;
    }
    let mut records = Vec::new();
    let live: Vec<(u64, &[u8])> = kept
        .iter()
        .map(|&id| (id, &files[id as usize - 1][..]))
        .chain(newest.map(|(id, end)| (id, &files[id as usize - 1][..end])))
        .collect();
    for (n, &(id, f)) in live.iter().enumerate() {
        let index = first_index(f);
        let f = match live.get(n + 1) {
            Some(&(_, next)) => sealed_data(f, id, first_index(next) - index),
            None => f,
        };
        let (mut recs, stop) = walk(f, HDR, id, index);
        let mut error = replay_stop(&recs, stop, f.len());
        // A sealed segment holds the indexes below its successor's first: a
        // record past them ends the replay; a successor right after it must
        // start where its indexes end. When it holds exactly the records
        // found, its end is theirs even inside a batch (a truncation cut it).
        if let Some(&(next_id, next)) = live.get(n + 1) {
            let next_first = first_index(next);
            if stop >= f.len() && index + recs.len() as u64 == next_first {
                error = None;
            }
            if let Some(k) = recs.iter().position(|r| r.index >= next_first) {
                error = Some(recs[k].offset);
                recs.truncate(k);
            } else if error.is_none()
                && next_id == id + 1
                && index + recs.len() as u64 != next_first
            {
                error = Some(f.len() as u64);
            }
        }
        records.extend(recs.into_iter().map(|r| (id, r)));
        if let Some(offset) = error {
            return Expect::Opens {
                records,
                error: Some((id, offset)),
            };
        }
    }
    Expect::Opens {
        records,
        error: None,
    }
}

/// CRC32C (Castagnoli: reflected polynomial 0x82F63B78) of `data`,
/// continuing from the finished CRC `crc` (0 to start), one bit at a time:
/// the oracle's own, shared with no engine code.
pub fn ref_crc32c(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// What a sealed segment's index-footer trailer says (docs/FORMAT.md,
/// "Index footer of a sealed segment").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefTrailer {
    pub first_index: u64,
    pub count: u64,
    pub data_end: u64,
    pub ends_crc: u32,
}

/// The trailer of segment `id`'s file `f` whose header says `first_index`,
/// read from docs/FORMAT.md alone, when open may use it: the last 40 bytes
/// (after the 64-byte header) are the magic `NANOIDX1`, first_index, count,
/// data_end (u64 LE each), ends_crc and trailer_crc (u32 LE each);
/// trailer_crc is the CRC32C of the 36 bytes before it from the segment's
/// seed (the CRC32C of the id as a u64 LE); first_index is the header's;
/// the file is `data_end + 8 * count + 40` bytes with data_end at least 64
/// (the end of the last record, or of the header); count is at most
/// `MAX_SEGMENT_RECORDS`. The successor rule is the caller's.
pub fn ref_trailer(f: &[u8], id: u64, first_index: u64) -> Option<RefTrailer> {
    if f.len() < HDR + 40 {
        return None;
    }
    let t = &f[f.len() - 40..];
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&t[i..i + 8]);
        u64::from_le_bytes(b)
    };
    let u32_at = |i: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&t[i..i + 4]);
        u32::from_le_bytes(b)
    };
    let seed = ref_crc32c(0, &id.to_le_bytes());
    if &t[..8] != b"NANOIDX1" || u32_at(36) != ref_crc32c(seed, &t[..36]) {
        return None;
    }
    let r = RefTrailer {
        first_index: u64_at(8),
        count: u64_at(16),
        data_end: u64_at(24),
        ends_crc: u32_at(32),
    };
    let fills = (r.count as u128) * 8 + r.data_end as u128 + 40 == f.len() as u128;
    let ok = r.first_index == first_index
        && r.count <= nano_wal::format::MAX_SEGMENT_RECORDS
        && r.data_end >= HDR as u64
        && fills;
    ok.then_some(r)
}

/// The part of sealed segment `id`'s file `f` that holds its `count`
/// records as open sees it: up to its index footer when the footer's
/// trailer verifies and counts them (or, when it counts more, up to the
/// end it gives the last of them); else, when a scan finds them all, up
/// to the last of them (the rest is a damaged footer); else the whole file.
/// The trailer is read by the reference ([`ref_trailer`]), which must agree
/// with the engine's `Trailer::decode`.
fn sealed_data(f: &[u8], id: u64, count: u64) -> &[u8] {
    let (len, index) = (f.len() as u64, first_index(f));
    let seed = nano_wal::format::crc_seed(id);
    let engine = f
        .len()
        .checked_sub(TRAILER_SIZE)
        .filter(|&at| at >= HDR)
        .and_then(|at| Trailer::decode(&f[at..], seed, index, len).ok())
        .map(|t| RefTrailer {
            first_index: t.first_index,
            count: t.count,
            data_end: t.data_end,
            ends_crc: t.ends_crc,
        });
    let reference = ref_trailer(f, id, index);
    assert_eq!(
        engine, reference,
        "the engine's trailer decoder and the reference disagree on segment {id}"
    );
    let trailer = reference.filter(|t| t.count >= count);
    // A truncation may have dropped the last records the footer counts:
    // the data ends where the footer says the last one kept ends.
    let footer_end = trailer.and_then(|t| match count {
        0 => Some(HDR as u64),
        c if c == t.count => Some(t.data_end),
        c => {
            let at = (t.data_end + (c - 1) * 8) as usize;
            let end = u64::from_le_bytes(f[at..at + 8].try_into().unwrap());
            (HDR as u64..=t.data_end).contains(&end).then_some(end)
        }
    });
    if let Some(end) = footer_end {
        return &f[..end as usize];
    }
    let (recs, _) = walk(f, HDR, id, index);
    let (_, n) = committed(&recs, HDR);
    match count as usize {
        0 => &f[..HDR],
        c if n >= c => &f[..(recs[c - 1].offset + recs[c - 1].size) as usize],
        _ => f,
    }
}

/// Where replay of a segment of `len` bytes must fail after yielding
/// `recs` (which the reference decoder found up to `stop`): at the first
/// invalid record, or at the end when the segment ends inside a batch (a
/// segment holds whole batches; half a batch is never yielded silently).
fn replay_stop(recs: &[RefRecord], stop: usize, len: usize) -> Option<u64> {
    if stop < len {
        Some(stop as u64)
    } else if recs.last().is_some_and(|r| r.continues) {
        Some(len as u64)
    } else {
        None
    }
}

/// Replay everything; returns the records and the error that ended it.
fn replay_all(wal: &Wal) -> (Vec<(EntryRef, Record)>, Option<WalError>) {
    let mut out = Vec::new();
    for item in wal.replay(None).unwrap() {
        match item {
            Ok(x) => out.push(x),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

fn check_replay(
    wal: &Wal,
    records: &[(u64, RefRecord)],
    error: Option<(u64, u64)>,
    appended: &[(EntryRef, &[u8])],
) {
    let (got, err) = replay_all(wal);
    let n = records.len();
    let want_len = n + if error.is_none() { appended.len() } else { 0 };
    assert_eq!(got.len(), want_len, "replay length; error {err:?}");
    for ((r, rec), (id, want)) in got.iter().zip(records) {
        assert_eq!(*r, entry(*id, want), "replay ref");
        assert!(same(rec, want), "replay returned other bytes at {r:?}");
    }
    for ((r, rec), (a, content)) in got[n..].iter().zip(appended) {
        assert_eq!(r, a);
        assert_eq!(&rec.content[..], *content);
    }
    match (err, error) {
        (None, None) => {}
        (
            Some(WalError::CorruptedData {
                segment_id, offset, ..
            }),
            Some((id, off)),
        ) => assert_eq!((segment_id, offset), (id, off), "replay error place"),
        (e, want) => panic!("replay ended with {e:?}, expected an error at {want:?}"),
    }
    let refs: Vec<EntryRef> = got.iter().map(|g| g.0).collect();
    let read = wal.read_batch(&refs).unwrap();
    for (rec, (_, want)) in read.iter().zip(&got) {
        assert_eq!(rec, want, "read and replay disagree");
    }
}

/// Target 2, recovery of a directory of arbitrary bytes: `Wal::open` must
/// never panic, must succeed or fail with `CorruptedData` exactly as
/// docs/FORMAT.md says, and after it replay and reads must return exactly
/// the bytes on disk; appends must then work and survive a reopen.
pub fn recover_dir(scratch: &Path, data: &[u8]) {
    let input = DirInput::parse(data);
    fresh_dir(scratch);
    let mut files = Vec::new();
    for (i, (fresh, bytes)) in input.files.iter().enumerate() {
        let id = i as u64 + 1;
        let mut f = Vec::new();
        if *fresh {
            f.extend_from_slice(&segment_header(id).encode());
        }
        f.extend_from_slice(bytes);
        std::fs::write(scratch.join(segment_file_name(id)), &f).unwrap();
        files.push(f);
    }
    for f in &files {
        if let Ok(h) = SegmentHeader::decode(f) {
            // A version 2 header is read too; the encoder writes version 3,
            // so the version and the CRC it covers may differ, nothing else.
            let mut written = h.encode();
            if f[8..10] == 2u16.to_le_bytes() {
                written[8..10].copy_from_slice(&f[8..10]);
                let crc = ref_crc32c(0, &written[..HDR - 4]);
                written[HDR - 4..].copy_from_slice(&crc.to_le_bytes());
            }
            assert_eq!(
                &written[..],
                &f[..HDR],
                "a segment header decodes but is not what the encoder writes"
            );
        }
    }
    let want = expect(&files, input.salvage);
    let opts = options(input.salvage);
    let wal = match (Wal::open(scratch, STREAM, opts.clone()), want) {
        (
            Err(WalError::CorruptedData {
                segment_id, offset, ..
            }),
            Expect::Corrupted(id, off),
        ) => {
            assert_eq!((segment_id, offset), (id, off), "open refused elsewhere");
            // Refusing changes nothing.
            for (i, f) in files.iter().enumerate().filter(|(_, f)| !torn(f)) {
                let p = scratch.join(segment_file_name(i as u64 + 1));
                assert_eq!(
                    &std::fs::read(p).unwrap(),
                    f,
                    "a refused open changed a file"
                );
            }
            return;
        }
        (Ok(wal), Expect::Opens { records, error }) => {
            check_replay(&wal, &records, error, &[]);
            let a1 = wal.append(None, b"late", T0, false).unwrap();
            let a2 = wal
                .append(Some(b"h"), b"later", T0 + 100 * DUR, true)
                .unwrap();
            assert_eq!(&wal.read(a1).unwrap().content[..], b"late");
            assert_eq!(&wal.read(a2).unwrap().content[..], b"later");
            drop(wal);
            let wal = Wal::open(scratch, STREAM, opts).expect("reopen after appends");
            check_replay(
                &wal,
                &records,
                error,
                &[(a1, &b"late"[..]), (a2, &b"later"[..])],
            );
            wal
        }
        (got, want) => panic!("open gave {:?}, expected {want:?}", got.map(|_| ())),
    };
    drop(wal);
}

/// A metadata slot as the reference decoder reads it: generation, purge
/// point (`purged_before`, `purge_segment_id`), entries in file order.
pub type RefMeta = (u64, (u64, u64), Vec<(Vec<u8>, Vec<u8>)>);

/// The plainest reading of docs/FORMAT.md, "Metadata file": slot `slot`
/// at the start of `b` (bytes after its CRC ignored), if it verifies.
pub fn meta_slot_at(b: &[u8], slot: u8) -> Option<RefMeta> {
    use nano_wal::format::meta::slot_crc;
    let u16_at = |i: usize| u16::from_le_bytes(b[i..i + 2].try_into().unwrap());
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    if b.len() < 48 || &b[..8] != b"NANOMETA" {
        return None;
    }
    let payload = u32_at(40) as usize;
    if payload > 64 * (3 + 64 + 4096) || b.len() < 44 + payload + 4 {
        return None;
    }
    let end = 44 + payload;
    if slot_crc(slot, &b[..end]) != u32_at(end) || u16_at(8) != 1 || u16_at(10) != 0 {
        return None;
    }
    let count = u32_at(12) as usize;
    let purge = (u64_at(24), u64_at(32));
    if count > 64 || (purge.0 == 0 && purge.1 != 0) {
        return None;
    }
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut p = 44;
    for _ in 0..count {
        let klen = *b[..end].get(p)? as usize;
        let key = b[..end].get(p + 1..p + 1 + klen)?.to_vec();
        let ok_key = (1..=64).contains(&klen)
            && key
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c));
        if !ok_key || entries.last().is_some_and(|(k, _)| *k >= key) {
            return None;
        }
        let at = p + 1 + klen;
        let vlen = u16::from_le_bytes(b[..end].get(at..at + 2)?.try_into().unwrap()) as usize;
        let value = b[..end].get(at + 2..at + 2 + vlen)?.to_vec();
        if vlen > 4096 {
            return None;
        }
        entries.push((key, value));
        p = at + 2 + vlen;
    }
    (p == end).then_some((u64_at(16), purge, entries))
}

/// The input of the `meta_file` target: byte 0 (bit 0: open with salvage;
/// bit 1: the file reaches slot 1), bytes 1-2 the length of slot 0's part
/// (u16 LE), then slot 0's bytes and slot 1's.
pub struct MetaInput {
    pub salvage: bool,
    pub slot0: Vec<u8>,
    /// None: the file ends within slot 0's region.
    pub slot1: Option<Vec<u8>>,
}

impl MetaInput {
    pub fn parse(data: &[u8]) -> MetaInput {
        let flags = data.first().copied().unwrap_or(0);
        let len = data
            .get(1..3)
            .map_or(0, |l| u16::from_le_bytes([l[0], l[1]])) as usize;
        let rest = data.get(3..).unwrap_or(&[]);
        let (a, b) = rest.split_at(len.min(rest.len()));
        MetaInput {
            salvage: flags & 1 != 0,
            slot0: a.to_vec(),
            slot1: (flags & 2 != 0).then(|| b.to_vec()),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let flags = u8::from(self.salvage) | (u8::from(self.slot1.is_some()) << 1);
        let mut out = vec![flags];
        out.extend_from_slice(&(self.slot0.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.slot0);
        out.extend_from_slice(self.slot1.as_deref().unwrap_or(&[]));
        out
    }

    /// The metadata file: slot 0's bytes, then (if present) zeros up to
    /// `SLOT_SIZE` and slot 1's bytes.
    pub fn file(&self) -> Vec<u8> {
        let mut f = self.slot0.clone();
        if let Some(s1) = &self.slot1 {
            f.resize(nano_wal::format::meta::SLOT_SIZE, 0);
            f.extend_from_slice(s1);
        }
        f
    }
}

/// Target 3, the metadata file. `decode_slot` must accept exactly what the
/// reference decoder accepts, with the same content, and exactly what
/// `encode_slot` writes; `Wal::open` must take the verifying slot with the
/// higher generation, start empty from a torn creation (nothing verifies,
/// slot 1 never written) and refuse anything else with `CorruptedFile`
/// (unless salvaging); then a put must be what the next open reads.
pub fn meta_file(scratch: &Path, data: &[u8]) {
    use nano_wal::format::meta::SLOT_SIZE;
    use nano_wal::format::meta::{decode_slot, encode_slot};
    let input = MetaInput::parse(data);
    let file = input.file();
    let mut slots = Vec::new();
    for n in 0..2u8 {
        // The slot's region of the file, as open reads it.
        let from = (n as usize * SLOT_SIZE).min(file.len());
        let bytes = &file[from..file.len().min(from + SLOT_SIZE)];
        let want = meta_slot_at(bytes, n);
        match decode_slot(bytes, n) {
            Ok(m) => {
                let enc = encode_slot(&m, n);
                assert_eq!(&enc[..], &bytes[..enc.len()], "decoded, not as encoded");
                let purge = m.purge.map_or((0, 0), |p| (p.before, p.segment_id));
                let entries = m
                    .entries
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                    .collect();
                assert_eq!(Some((m.generation, purge, entries)), want, "slot {n}");
                slots.push(Some(m));
            }
            Err(_) => {
                assert_eq!(want, None, "slot {n}: the reference decoder accepts it");
                slots.push(None);
            }
        }
    }
    fresh_dir(scratch);
    let path = scratch.join(format!("{STREAM}.meta"));
    std::fs::write(&path, &file).unwrap();
    let expect = match (&slots[0], &slots[1]) {
        (Some(a), Some(b)) if a.generation > b.generation => Some(a),
        (Some(a), Some(b)) if b.generation > a.generation => Some(b),
        (Some(a), Some(_)) => input.salvage.then_some(a),
        (Some(a), None) => Some(a),
        (None, Some(b)) => Some(b),
        (None, None) => None,
    };
    let never_written = input
        .slot1
        .as_ref()
        .is_none_or(|s| s.iter().all(|&b| b == 0));
    let both_bad = slots.iter().all(Option::is_none);
    let opts = options(input.salvage);
    let wal = match Wal::open(scratch, STREAM, opts.clone()) {
        Ok(wal) => wal,
        Err(WalError::CorruptedFile { path: p, .. }) => {
            assert_eq!(p, path);
            assert!(expect.is_none() && !input.salvage, "refused a valid file");
            assert!(!(both_bad && never_written), "refused a torn creation");
            return;
        }
        Err(e) => panic!("open failed: {e}"),
    };
    assert!(
        expect.is_some() || input.salvage || (both_bad && never_written),
        "opened a corrupt metadata file"
    );
    let mut entries: Vec<(String, Vec<u8>)> = expect
        .map(|m| m.entries.clone().into_iter().collect())
        .unwrap_or_default();
    assert_eq!(wal.meta_entries(), entries, "not the current slot's map");
    // A put replaces whichever slot is not current; the next open reads it.
    let key = if entries.len() < 64 {
        "fuzz-key".to_string()
    } else {
        entries[0].0.clone()
    };
    wal.meta_put(&key, b"put").unwrap();
    drop(wal);
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some(e) => e.1 = b"put".to_vec(),
        None => {
            entries.push((key, b"put".to_vec()));
            entries.sort();
        }
    }
    let wal = Wal::open(scratch, STREAM, options(false)).expect("reopen after a put");
    assert_eq!(
        wal.meta_entries(),
        entries,
        "the put is not what open reads"
    );
}
