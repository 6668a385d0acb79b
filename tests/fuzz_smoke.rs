// SPDX-License-Identifier: MIT
//! A bounded, seeded fuzz run of the targets in tests/fuzzing/mod.rs (the
//! ones fuzz/ runs under libFuzzer), on the stable toolchain with no extra
//! tools: a corpus of real logs written by the engine, mutated with bit
//! flips, byte sets, truncations, cut and duplicated ranges, inserted bytes,
//! zeroed ranges, splices between inputs, random values in frame length and
//! flag fields, and record and header checksums recomputed after a mutation
//! (so that mutated records still verify and reach the deeper paths).
//!
//! `NWAL_FUZZ_ITERS=N` sets the iterations per target (default 5000; the
//! `meta_file` target runs a fifth of them);
//! `NWAL_FUZZ_SEED=S` another seed; `NWAL_FUZZ_CORPUS_OUT=DIR` writes the
//! seed corpus for libFuzzer to `DIR/segment/`, `DIR/recover_dir/` and
//! `DIR/meta_file/`.
//! A failing input is written to the temporary directory and named in the
//! panic message (replay it with `cargo fuzz run <target> <file>`).

mod common;
mod fuzzing;

use common::Rng;
use fuzzing::{segment_header, DirInput, DUR, STREAM, T0};
use nano_wal::format::{
    decode_frame, encode_frame, RECORD_FRAME_SIZE, RECORD_MAGIC, SEGMENT_HEADER_SIZE,
};
use nano_wal::Wal;
use std::path::Path;

fn iterations() -> u64 {
    std::env::var("NWAL_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

fn seed() -> u64 {
    std::env::var("NWAL_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_F022)
}

/// Real logs written by the engine: each is the segment files (ids 1, 2,
/// ...) of one directory.
fn real_logs(base: &Path) -> Vec<Vec<Vec<u8>>> {
    let mut rng = Rng::new(7);
    let mut logs = Vec::new();
    for shape in 0..6u64 {
        let dir = base.join(format!("log{shape}"));
        let wal = Wal::open(&dir, STREAM, fuzzing::options(false)).unwrap();
        let windows = 1 + shape % 3;
        for w in 0..windows as i64 {
            for k in 0..(2 + rng.below(4)) {
                let n = if k % 2 == 1 { 2 + rng.below(3) } else { 1 };
                let items: Vec<(Option<Vec<u8>>, Vec<u8>)> = (0..n)
                    .map(|_| {
                        let h = rng.header();
                        let n = rng.below(if shape == 5 { 600 } else { 80 }) as usize;
                        (h, rng.bytes(n))
                    })
                    .collect();
                wal.append_batch(&common::entries(&items), T0 + w * DUR, k % 3 == 0)
                    .unwrap();
            }
        }
        // Durable appends pre-write 1 MiB of zeros ahead of the records
        // (preallocated space, cut by shutdown: the files are read before
        // it): keep at most 1 KiB of it, so that inputs stay small but the
        // shape is in the corpus.
        let files: Vec<Vec<u8>> = common::seg_files(&dir, STREAM)
            .iter()
            .map(|f| {
                let mut b = std::fs::read(&f.2).unwrap();
                let zeros = b.iter().rev().take_while(|&&x| x == 0).count();
                b.truncate(b.len() - zeros.saturating_sub(1024));
                b
            })
            .collect();
        drop(wal);
        // An empty newest segment (header only) in one of them.
        let mut files = files;
        if shape == 4 {
            files.push(segment_header(files.len() as u64 + 1).encode().to_vec());
        }
        logs.push(files);
    }
    logs
}

/// Offsets of every record magic in `b`.
fn magics(b: &[u8]) -> Vec<usize> {
    b.windows(RECORD_MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == RECORD_MAGIC)
        .map(|(i, _)| i)
        .collect()
}

const INTERESTING: [u64; 10] = [
    0,
    1,
    23,
    24,
    48,
    0xFFFF,
    1 << 30,
    (1 << 30) + 1,
    u64::MAX,
    u64::MAX / 2,
];

/// Mutate `b` once. `seg_id` is the segment the bytes belong to (so that
/// recomputed record checksums verify there) and `base` the file offset of
/// `b[0]` (a segment body starts after the header); `others` are splice
/// sources.
fn mutate(rng: &mut Rng, b: &mut Vec<u8>, (seg_id, base): (u64, usize), others: &[Vec<u8>]) {
    let len = b.len();
    let pick = |rng: &mut Rng, n: usize| {
        if n == 0 {
            0
        } else {
            rng.below(n as u64) as usize
        }
    };
    match rng.below(14) {
        0 if len > 0 => {
            let i = pick(rng, len);
            b[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = pick(rng, len);
            b[i] = [0, 0xFF, rng.next_u64() as u8][pick(rng, 3)];
        }
        2 => b.truncate(pick(rng, len + 1)),
        3 if len > 0 => {
            let i = pick(rng, len);
            let n = 1 + pick(rng, (len - i).min(200));
            b.drain(i..i + n);
        }
        4 => {
            let i = pick(rng, len + 1);
            let n = 1 + rng.below(64) as usize;
            let ins = rng.bytes(n);
            b.splice(i..i, ins);
        }
        5 if len > 0 => {
            let i = pick(rng, len);
            let n = 1 + pick(rng, (len - i).min(300));
            let copy = b[i..i + n].to_vec();
            let at = pick(rng, len + 1);
            b.splice(at..at, copy);
        }
        6 if len > 0 => {
            let i = pick(rng, len);
            let n = 1 + pick(rng, (len - i).min(4096));
            b[i..i + n].fill(0);
        }
        7 if !others.is_empty() => {
            let o = &others[pick(rng, others.len())];
            let cut = pick(rng, len + 1);
            let from = pick(rng, o.len() + 1);
            b.truncate(cut);
            b.extend_from_slice(&o[from..]);
        }
        8 => {
            // A random value in a frame field.
            let m = magics(b);
            if m.is_empty() {
                return;
            }
            let p = m[pick(rng, m.len())];
            let v = if rng.below(2) == 0 {
                INTERESTING[pick(rng, INTERESTING.len())]
            } else {
                rng.below(5000)
            };
            match rng.below(4) {
                0 if p + 8 <= len => b[p + 6..p + 8].copy_from_slice(&(v as u16).to_le_bytes()),
                1 if p + 12 <= len => b[p + 8..p + 12].copy_from_slice(&(v as u32).to_le_bytes()),
                2 if p + 14 <= len => {
                    b[p + 12..p + 14].copy_from_slice(&(1u16 << rng.below(4)).to_le_bytes())
                }
                _ if p + 20 <= len => b[p + 14..p + 20].copy_from_slice(&v.to_le_bytes()[..6]),
                _ => {}
            }
            if rng.below(2) == 0 {
                fix_record_crc(b, p, (seg_id, base));
            }
        }
        9 => {
            // Recompute the CRC of a record that frames correctly.
            let m = magics(b);
            if !m.is_empty() {
                let p = m[pick(rng, m.len())];
                fix_record_crc(b, p, (seg_id, base));
            }
        }
        11 if len >= 1024 => {
            // A lost write: one whole 512-byte sector (of the file, which
            // starts with a 48-byte header) reads as zeros.
            let first = SEGMENT_HEADER_SIZE.div_ceil(512);
            let last = (SEGMENT_HEADER_SIZE + len) / 512;
            if last > first {
                let s = 512 * (first + pick(rng, last - first)) - SEGMENT_HEADER_SIZE;
                b[s..(s + 512).min(len)].fill(0);
            }
        }
        10 if len >= SEGMENT_HEADER_SIZE => {
            // A header field changed and the header checksum recomputed.
            let at = SEGMENT_HEADER_SIZE - 4;
            let i = pick(rng, at);
            b[i] ^= 1 << rng.below(8);
            let crc = crc32c::crc32c(&b[..at]);
            b[at..SEGMENT_HEADER_SIZE].copy_from_slice(&crc.to_le_bytes());
        }
        12 if len >= 40 && b[len - 40..len - 32] == *b"NANOIDX1" => {
            // A field of an index footer's trailer changed (first_index,
            // count, data_end or ends_crc), its trailer CRC recomputed most
            // of the time, so the trailer checks reach past the CRC.
            let t = len - 40;
            let field = [8, 16, 24, 32][pick(rng, 4)];
            let old = u64::from_le_bytes(b[t + field..t + field + 8].try_into().unwrap());
            let v = match rng.below(4) {
                0 => old.wrapping_add(1),
                1 => old.wrapping_sub(1),
                2 => INTERESTING[pick(rng, INTERESTING.len())],
                _ => rng.next_u64(),
            };
            let width = if field == 32 { 4 } else { 8 };
            b[t + field..t + field + width].copy_from_slice(&v.to_le_bytes()[..width]);
            if rng.below(4) != 0 {
                let seed = crc32c::crc32c(&seg_id.to_le_bytes());
                let crc = crc32c::crc32c_append(seed, &b[t..t + 36]);
                b[t + 36..t + 40].copy_from_slice(&crc.to_le_bytes());
            }
        }
        _ => {
            // Flip the batch-continues bit of a record and fix its CRC.
            let m = magics(b);
            if !m.is_empty() {
                let p = m[pick(rng, m.len())];
                if p + 20 <= len {
                    b[p + 12] ^= 1;
                    fix_record_crc(b, p, (seg_id, base));
                }
            }
        }
    }
}

/// The index a record at `p` of `b` (whose file offset is `base`) has: one
/// more than the records the reference decoder finds before it.
fn index_at(b: &[u8], p: usize, (seg_id, base): (u64, usize)) -> u64 {
    let mut file = Vec::new();
    if base == SEGMENT_HEADER_SIZE {
        file.extend_from_slice(&segment_header(seg_id).encode());
    }
    file.extend_from_slice(b);
    let first = fuzzing::first_index(&file);
    let (records, _) = fuzzing::walk(&file, SEGMENT_HEADER_SIZE, seg_id, first);
    first
        + records
            .iter()
            .filter(|r| r.offset < (p + base) as u64)
            .count() as u64
}

/// If the frame at `p` parses and the record fits, rewrite its CRC so it
/// verifies in segment `seg_id` at its offset (`base` + `p`) with the index
/// a record there would have.
fn fix_record_crc(b: &mut [u8], p: usize, (seg_id, base): (u64, usize)) {
    let index = index_at(b, p, (seg_id, base));
    fix_record_crc_as(b, p, (seg_id, base), index);
}

/// [`fix_record_crc`] with the index given.
fn fix_record_crc_as(b: &mut [u8], p: usize, (seg_id, base): (u64, usize), index: u64) {
    let Ok(frame) = decode_frame(&b[p..]) else {
        return;
    };
    let end = p as u64 + frame.total_size();
    if end > b.len() as u64 {
        return;
    }
    let body = p + RECORD_FRAME_SIZE + frame.header_len;
    let header = frame
        .has_header()
        .then(|| b[p + RECORD_FRAME_SIZE..body].to_vec());
    let content = b[body..end as usize].to_vec();
    let mut f = [0u8; RECORD_FRAME_SIZE];
    let at = nano_wal::format::Position {
        offset: (p + base) as u64,
        index,
    };
    encode_frame(
        &mut f,
        seg_id,
        at,
        frame.synced_end,
        header.as_deref(),
        &content,
        frame.batch_continues(),
    );
    b[p..p + RECORD_FRAME_SIZE].copy_from_slice(&f);
}

/// Run `target` on `input`; on a panic, save the input and say where.
fn run_one(name: &str, iter: u64, input: &[u8], target: impl FnOnce(&[u8])) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(input)));
    if r.is_err() {
        let path = std::env::temp_dir().join(format!("nwal-fuzz-{name}-crash-{iter}"));
        std::fs::write(&path, input).unwrap();
        panic!(
            "fuzz target {name} failed at iteration {iter} (seed {}); input saved to {}",
            seed(),
            path.display()
        );
    }
}

fn write_corpus(sub: &str, inputs: &[Vec<u8>]) {
    if let Some(out) = std::env::var_os("NWAL_FUZZ_CORPUS_OUT") {
        let dir = Path::new(&out).join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, c) in inputs.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), c).unwrap();
        }
    }
}

/// Scratch space on tmpfs when there is one (the targets write files).
fn scratch_base() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(t) = tempfile::tempdir_in(shm) {
            return t;
        }
    }
    tempfile::tempdir().unwrap()
}

#[test]
fn fuzz_segment_scanner() {
    let base = scratch_base();
    let logs = real_logs(&base.path().join("logs"));
    // Bodies of segments with id 1 (the target gives them a header for id 1).
    let mut corpus: Vec<Vec<u8>> = logs
        .iter()
        .map(|files| files[0][SEGMENT_HEADER_SIZE..].to_vec())
        .collect();
    corpus.push(Vec::new());
    write_corpus("segment", &corpus);
    let scratch = base.path().join("scratch");
    let mut rng = Rng::new(seed());
    for iter in 0..iterations() {
        let mut input = corpus[rng.below(corpus.len() as u64) as usize].clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut input, (1, SEGMENT_HEADER_SIZE), &corpus);
        }
        run_one("segment", iter, &input, |d| fuzzing::segment(&scratch, d));
        // Keep some mutants as new starting points.
        if rng.below(16) == 0 && corpus.len() < 200 {
            corpus.push(input);
        }
    }
}

#[test]
fn fuzz_recover_dir() {
    let base = scratch_base();
    let logs = real_logs(&base.path().join("logs"));
    let mut corpus: Vec<DirInput> = Vec::new();
    for files in &logs {
        for salvage in [false, true] {
            let n = files.len().min(3);
            corpus.push(DirInput {
                salvage,
                files: files[files.len() - n..]
                    .iter()
                    .map(|f| (false, f.clone()))
                    .collect(),
            });
        }
    }
    // The ids of the last files are not 1..n: renumber by rewriting the
    // headers and record checksums for the ids the input gives them.
    for input in &mut corpus {
        for (i, f) in input.files.iter_mut().enumerate() {
            renumber(&mut f.1, i as u64 + 1);
        }
    }
    let encoded: Vec<Vec<u8>> = corpus.iter().map(DirInput::encode).collect();
    write_corpus("recover_dir", &encoded);
    let scratch = base.path().join("scratch");
    let mut rng = Rng::new(seed() ^ 0xD1);
    let all_files: Vec<Vec<u8>> = corpus
        .iter()
        .flat_map(|c| c.files.iter().map(|f| f.1.clone()))
        .collect();
    for iter in 0..iterations() {
        let mut input = corpus[rng.below(corpus.len() as u64) as usize].clone();
        let raw = rng.below(10) == 0;
        let bytes = if raw {
            // Now and then mutate the container bytes themselves.
            let mut b = input.encode();
            mutate(&mut rng, &mut b, (0, 0), &encoded);
            b
        } else {
            for _ in 0..1 + rng.below(3) {
                let k = rng.below(input.files.len() as u64) as usize;
                match rng.below(8) {
                    0 => input.salvage = !input.salvage,
                    1 if input.files.len() > 1 => {
                        input.files.remove(k);
                        for (i, f) in input.files.iter_mut().enumerate() {
                            renumber(&mut f.1, i as u64 + 1);
                        }
                    }
                    _ => mutate(
                        &mut rng,
                        &mut input.files[k].1,
                        (k as u64 + 1, 0),
                        &all_files,
                    ),
                }
            }
            input.encode()
        };
        run_one("recover_dir", iter, &bytes, |d| {
            fuzzing::recover_dir(&scratch, d)
        });
    }
}

/// Rewrite a real segment file as segment `id` of the fuzzed stream:
/// header for `id`, every record's checksum recomputed for `id`.
fn renumber(file: &mut [u8], id: u64) {
    if file.len() < SEGMENT_HEADER_SIZE {
        return;
    }
    let old = nano_wal::format::SegmentHeader::decode(file).ok();
    file[..SEGMENT_HEADER_SIZE].copy_from_slice(&segment_header(id).encode());
    let Some(old) = old else { return };
    let (records, _) = fuzzing::walk(file, SEGMENT_HEADER_SIZE, old.segment_id, old.first_index);
    let first = segment_header(id).first_index;
    for (k, r) in records.iter().enumerate() {
        fix_record_crc_as(file, r.offset as usize, (id, 0), first + k as u64);
    }
}

/// The container of target 2 round-trips.
/// The oracle's own CRC32C and index-footer trailer decoder, against an
/// independent CRC crate and against the footers the engine writes: a
/// sealed segment's trailer decodes to what the log holds, every bit of
/// it matters, and a trailer with a changed field and a recomputed CRC is
/// still refused when the field breaks a rule of docs/FORMAT.md.
#[test]
fn the_reference_footer_decoder_reads_what_the_engine_writes() {
    for data in [&b""[..], b"a", b"123456789", &[0xA5; 1000]] {
        assert_eq!(fuzzing::ref_crc32c(0, data), crc32c::crc32c(data));
        assert_eq!(
            fuzzing::ref_crc32c(0x1234_5678, data),
            crc32c::crc32c_append(0x1234_5678, data)
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), STREAM, fuzzing::options(false)).unwrap();
    for w in 0..3i64 {
        for i in 0..=w {
            let content = vec![i as u8; 10 + 7 * i as usize];
            wal.append(None, &content, T0 + w * DUR, false).unwrap();
        }
    }
    let segs = wal.segments();
    let (sealed, newest) = (&segs[..2], &segs[2]);
    drop(wal);
    let read = |s: &nano_wal::Segment| std::fs::read(s.path()).unwrap();
    let newest_file = read(newest);
    assert_eq!(
        fuzzing::ref_trailer(&newest_file, newest.id(), newest.first_index()),
        None,
        "the newest segment has no footer"
    );
    for s in sealed {
        let f = read(s);
        let t = fuzzing::ref_trailer(&f, s.id(), s.first_index())
            .unwrap_or_else(|| panic!("segment {} has a footer", s.id()));
        assert_eq!(
            (t.first_index, t.count),
            (s.first_index(), s.record_count())
        );
        let ends_at = t.data_end as usize;
        assert_eq!(f.len(), ends_at + 8 * t.count as usize + 40);
        let seed = crc32c::crc32c(&s.id().to_le_bytes());
        let ends = &f[ends_at..f.len() - 40];
        assert_eq!(t.ends_crc, crc32c::crc32c_append(seed, ends));
        assert_eq!(
            u64::from_le_bytes(ends[ends.len() - 8..].try_into().unwrap()),
            t.data_end,
            "the last end is where the data ends"
        );
        // Every bit of the trailer counts.
        for bit in 0..40 * 8 {
            let mut bad = f.clone();
            let at = f.len() - 40 + bit / 8;
            bad[at] ^= 1 << (bit % 8);
            assert_eq!(
                fuzzing::ref_trailer(&bad, s.id(), s.first_index()),
                None,
                "bit {bit}"
            );
        }
        assert_eq!(
            fuzzing::ref_trailer(&f, s.id() + 1, s.first_index()),
            None,
            "seed"
        );
        assert_eq!(
            fuzzing::ref_trailer(&f, s.id(), s.first_index() + 1),
            None,
            "first index"
        );
        // Rules past the CRC: a changed field with its CRC recomputed.
        let resealed = |field: usize, v: u64| {
            let mut g = f.clone();
            let t = g.len() - 40;
            g[t + field..t + field + 8].copy_from_slice(&v.to_le_bytes());
            let crc = crc32c::crc32c_append(seed, &g[t..t + 36]);
            g[t + 36..].copy_from_slice(&crc.to_le_bytes());
            fuzzing::ref_trailer(&g, s.id(), s.first_index())
        };
        assert_eq!(
            resealed(16, t.count),
            Some(t),
            "recomputing alone changes nothing"
        );
        assert_eq!(resealed(8, t.first_index + 1), None, "first index");
        assert_eq!(resealed(16, t.count + 1), None, "count against the length");
        assert_eq!(
            resealed(24, t.data_end - 8),
            None,
            "data_end against the length"
        );
        let too_many = nano_wal::format::MAX_SEGMENT_RECORDS + 1;
        assert_eq!(resealed(16, too_many), None, "count over the cap");
    }
    // data_end below the header: a header and a trailer (104 bytes) whose
    // numbers add up (32 + 8 x 4 + 40), the "ends" being header bytes.
    let mut g = segment_header(1).encode().to_vec();
    let seed = crc32c::crc32c(&1u64.to_le_bytes());
    let mut t = b"NANOIDX1".to_vec();
    for v in [1u64, 4, 32] {
        t.extend_from_slice(&v.to_le_bytes());
    }
    t.extend_from_slice(&crc32c::crc32c_append(seed, &g[32..64]).to_le_bytes());
    let crc = crc32c::crc32c_append(seed, &t);
    t.extend_from_slice(&crc.to_le_bytes());
    g.extend_from_slice(&t);
    assert_eq!(g.len(), 32 + 8 * 4 + 40);
    assert_eq!(fuzzing::ref_trailer(&g, 1, 1), None, "data_end under 64");
    let mut h = g.clone();
    let t = h.len() - 40;
    h[t + 24..t + 32].copy_from_slice(&64u64.to_le_bytes());
    h[t + 16..t + 24].copy_from_slice(&0u64.to_le_bytes());
    let crc = crc32c::crc32c_append(seed, &h[t..t + 36]);
    h[t + 36..].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        fuzzing::ref_trailer(&h, 1, 1).map(|t| (t.count, t.data_end)),
        Some((0, 64)),
        "an empty sealed segment's footer"
    );
}

/// Found by `recover_dir` once its mutations rewrote trailer fields with
/// their CRC: a trailer whose data_end is near 2^64 overflowed the length
/// equation in `Trailer::decode` (a panic in debug builds; in release the
/// sum wrapped). Open must not trust it: it scans the segment and every
/// record is there.
#[test]
fn a_footer_whose_data_end_overflows_the_length_is_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, STREAM, fuzzing::options(false)).unwrap();
    let a = wal.append(None, b"first", T0, false).unwrap();
    let b = wal.append(None, b"second", T0 + DUR, false).unwrap();
    let sealed = wal.segments()[0].path().to_path_buf();
    drop(wal);
    let mut f = std::fs::read(&sealed).unwrap();
    let t = f.len() - 40;
    assert_eq!(&f[t..t + 8], b"NANOIDX1");
    f[t + 24..t + 32].copy_from_slice(&u64::MAX.to_le_bytes());
    let seed = crc32c::crc32c(&a.segment_id.to_le_bytes());
    let crc = crc32c::crc32c_append(seed, &f[t..t + 36]);
    f[t + 36..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&sealed, &f).unwrap();
    let wal = Wal::open(dir, STREAM, fuzzing::options(false)).unwrap();
    assert_eq!(&wal.read(a).unwrap().content[..], b"first");
    assert_eq!(&wal.read_index(a.index).unwrap().content[..], b"first");
    assert_eq!(&wal.read(b).unwrap().content[..], b"second");
    let all: Vec<_> = wal.replay(None).unwrap().map(|r| r.unwrap().0).collect();
    assert_eq!(all, vec![a, b]);
}

#[test]
fn dir_input_round_trip() {
    let d = DirInput {
        salvage: true,
        files: vec![(true, vec![1, 2, 3]), (false, vec![]), (false, vec![9; 70])],
    };
    assert_eq!(DirInput::parse(&d.encode()), d);
    // Arbitrary bytes parse to something.
    for n in 0..40u8 {
        let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ n).collect();
        let _ = DirInput::parse(&bytes);
    }
}

// Regressions found by the targets above, as plain tests (independent of
// the mutation sequence).

fn two_segment_log(dir: &Path) -> Vec<nano_wal::EntryRef> {
    let wal = Wal::open(dir, STREAM, fuzzing::options(false)).unwrap();
    let items: Vec<(Option<Vec<u8>>, Vec<u8>)> = (0..3u8).map(|i| (None, vec![i; 10])).collect();
    let mut refs = wal
        .append_batch(&common::entries(&items), T0, false)
        .unwrap();
    refs.push(wal.append(None, b"second window", T0 + DUR, true).unwrap());
    refs
}

/// A refused open changes nothing: the newest segment's torn tail is not
/// cut when an older segment's header fails (it used to be cut first).
#[test]
fn refused_open_leaves_the_newest_segment_alone() {
    let tmp = tempfile::tempdir().unwrap();
    two_segment_log(tmp.path());
    let files = common::seg_files(tmp.path(), STREAM);
    let newest = &files[1].2;
    let mut bytes = std::fs::read(newest).unwrap();
    bytes.extend_from_slice(b"torn tail garbage");
    std::fs::write(newest, &bytes).unwrap();
    common::flip_byte(&files[0].2, 20); // the older header's segment id
    match Wal::open(tmp.path(), STREAM, fuzzing::options(false)) {
        Err(nano_wal::WalError::CorruptedData {
            segment_id: 1,
            offset: 0,
            ..
        }) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert_eq!(
        std::fs::read(newest).unwrap(),
        bytes,
        "refused open cut a file"
    );
}

/// A sealed segment cut at a record boundary inside a batch: replay says
/// so instead of yielding half the batch and moving on.
#[test]
fn replay_refuses_a_segment_that_ends_inside_a_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = two_segment_log(tmp.path());
    let first = &common::seg_files(tmp.path(), STREAM)[0].2;
    let cut = refs[1].offset + refs[1].size;
    std::fs::OpenOptions::new()
        .write(true)
        .open(first)
        .unwrap()
        .set_len(cut)
        .unwrap();
    let wal = Wal::open(tmp.path(), STREAM, fuzzing::options(false)).unwrap();
    let items: Vec<_> = wal.replay(None).unwrap().collect();
    assert_eq!(items.len(), 3, "two records, then the error");
    assert!(items[0].is_ok() && items[1].is_ok());
    match &items[2] {
        Err(nano_wal::WalError::CorruptedData {
            segment_id: 1,
            offset,
            ..
        }) => assert_eq!(*offset, cut),
        other => panic!("{other:?}"),
    }
}

/// A segment header with non-zero reserved fields and a valid checksum is
/// refused, not read as if the fields meant nothing.
#[test]
fn segment_header_with_reserved_bits_is_refused() {
    let mut h = segment_header(1).encode();
    h[12] = 2; // flags: bit 0 (the log resets here) is the only one known
    let crc = crc32c::crc32c(&h[..60]);
    h[60..64].copy_from_slice(&crc.to_le_bytes());
    assert!(nano_wal::format::SegmentHeader::decode(&h).is_err());
    h[12] = 1;
    let crc = crc32c::crc32c(&h[..60]);
    h[60..64].copy_from_slice(&crc.to_le_bytes());
    assert!(
        nano_wal::format::SegmentHeader::decode(&h)
            .unwrap()
            .resets_log
    );
    let mut h = segment_header(1).encode();
    h[50] = 1; // reserved
    let crc = crc32c::crc32c(&h[..60]);
    h[60..64].copy_from_slice(&crc.to_le_bytes());
    assert!(nano_wal::format::SegmentHeader::decode(&h)
        .unwrap_err()
        .contains("reserved"));
}

/// Recompute the CRC of the metadata slot at the start of `b` (written as
/// slot `slot`) when its payload length fits, so a mutated slot verifies
/// and reaches the checks behind the CRC.
fn fix_meta_crc(b: &mut [u8], slot: u8) {
    if b.len() < 44 {
        return;
    }
    let payload = u32::from_le_bytes(b[40..44].try_into().unwrap()) as usize;
    let end = 44usize.saturating_add(payload);
    if end.saturating_add(4) <= b.len() {
        let crc = nano_wal::format::meta::slot_crc(slot, &b[..end]);
        b[end..end + 4].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Metadata files as the engine writes them (one to three puts, values of
/// 0 to 600 bytes), and slots encoded directly with purge points.
fn real_meta_inputs(base: &Path) -> Vec<fuzzing::MetaInput> {
    use nano_wal::format::meta::{encode_slot, MetaSlot, PurgePoint, SLOT_SIZE};
    let mut rng = Rng::new(11);
    let mut inputs = Vec::new();
    for shape in 0..4u64 {
        let dir = base.join(format!("meta{shape}"));
        let wal = Wal::open(&dir, STREAM, fuzzing::options(false)).unwrap();
        for i in 0..=shape.min(2) {
            let n = rng.below(600) as usize;
            wal.meta_put(&format!("key.{}", i + shape), &rng.bytes(n))
                .unwrap();
        }
        drop(wal);
        let f = std::fs::read(dir.join(format!("{STREAM}.meta"))).unwrap();
        let (a, b) = f.split_at(f.len().min(SLOT_SIZE));
        inputs.push(fuzzing::MetaInput {
            salvage: shape == 3,
            slot0: a[..a.len().min(0xFFFF)].to_vec(),
            slot1: (!b.is_empty()).then(|| b.to_vec()),
        });
    }
    let mut meta = MetaSlot {
        generation: 9,
        purge: Some(PurgePoint {
            before: 1000,
            segment_id: 4,
        }),
        ..MetaSlot::default()
    };
    meta.entries.insert("vote".into(), b"n-2".to_vec());
    let older = MetaSlot {
        generation: 8,
        ..meta.clone()
    };
    inputs.push(fuzzing::MetaInput {
        salvage: false,
        slot0: encode_slot(&older, 0),
        slot1: Some(encode_slot(&meta, 1)),
    });
    inputs.push(fuzzing::MetaInput {
        salvage: false,
        slot0: Vec::new(),
        slot1: None,
    });
    inputs
}

#[test]
fn fuzz_meta_file() {
    let base = scratch_base();
    let corpus: Vec<Vec<u8>> = real_meta_inputs(&base.path().join("logs"))
        .iter()
        .map(|i| i.encode())
        .collect();
    write_corpus("meta_file", &corpus);
    let scratch = base.path().join("scratch");
    let mut rng = Rng::new(seed() ^ 0x3E7A);
    // A fifth of the other targets' count: each input writes a file of up
    // to 264 KiB and opens a log twice (5,000 took 28 s in a debug build).
    for iter in 0..iterations().div_ceil(5) {
        let mut input = fuzzing::MetaInput::parse(&corpus[rng.below(corpus.len() as u64) as usize]);
        for _ in 0..1 + rng.below(3) {
            let slot = rng.below(3);
            input.salvage ^= slot == 2 && rng.below(8) == 0;
            let in_slot1 = slot == 1 && input.slot1.is_some();
            let part = match (in_slot1, &mut input.slot1) {
                (true, Some(s1)) => s1,
                _ => &mut input.slot0,
            };
            let others = corpus.clone();
            mutate(&mut rng, part, (1, 0), &others);
            part.truncate(0xFFFF);
            if rng.below(2) == 0 {
                fix_meta_crc(part, u8::from(in_slot1));
            }
        }
        if rng.below(16) == 0 {
            // A slot 1 written or lost.
            input.slot1 = match input.slot1 {
                Some(_) => None,
                None => Some(input.slot0.clone()),
            };
        }
        let data = input.encode();
        run_one("meta_file", iter, &data, |d| {
            fuzzing::meta_file(&scratch, d)
        });
    }
}

#[test]
fn meta_input_round_trip() {
    let input = fuzzing::MetaInput {
        salvage: true,
        slot0: b"abc".to_vec(),
        slot1: Some(b"de".to_vec()),
    };
    let back = fuzzing::MetaInput::parse(&input.encode());
    assert!(back.salvage);
    assert_eq!(
        (back.slot0, back.slot1),
        (b"abc".to_vec(), Some(b"de".to_vec()))
    );
    assert_eq!(
        input.file().len(),
        nano_wal::format::meta::SLOT_SIZE + 2,
        "slot 1 starts at SLOT_SIZE"
    );
}
