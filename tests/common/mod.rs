// SPDX-License-Identifier: MIT
//! Helpers shared by the integration tests: a seeded PRNG, options, record
//! payloads that verify themselves, directory listings, child processes, and
//! temporary directories that know their filesystem.
//!
//! Every test binary includes this module and uses only part of it.
#![allow(dead_code)]

use nano_wal::{EntryRef, Record, Wal, WalOptions, WriteEntry};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// Window width used by most tests (ms).
pub const DUR: i64 = 1_000;
/// Retention used by most tests (ms).
pub const RET: i64 = 4_000;
/// A realistic base time (Nov 2023), aligned to `DUR`.
pub const T0: i64 = 1_700_000_000_000;

/// Size of the segment file header.
pub const SEG_HDR: u64 = nano_wal::format::SEGMENT_HEADER_SIZE as u64;
/// Size of a record frame.
pub const FRAME: u64 = nano_wal::format::RECORD_FRAME_SIZE as u64;

/// splitmix64: tiny, seeded, good enough to pick sizes and orders.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
    /// A record header as appends see them: none, empty, or 1-8 random
    /// bytes, a third each.
    pub fn header(&mut self) -> Option<Vec<u8>> {
        match self.below(3) {
            0 => None,
            1 => Some(Vec::new()),
            _ => {
                let len = 1 + self.below(8) as usize;
                Some(self.bytes(len))
            }
        }
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// Options with the given window and retention (ms).
pub fn opts(dur_ms: u64, ret_ms: u64) -> WalOptions {
    WalOptions {
        segment_duration: Duration::from_millis(dur_ms),
        retention: Duration::from_millis(ret_ms),
        ..Default::default()
    }
}

/// The options most tests use: `DUR` windows, `RET` retention.
pub fn test_opts() -> WalOptions {
    opts(DUR as u64, RET as u64)
}

/// Deterministic content for record `i` of writer `w`: its length and bytes
/// follow from `(w, i)`, so any record found by a read or a replay can be
/// checked against its header alone.
pub fn content_for(w: u64, i: u64, max_len: u64) -> Vec<u8> {
    let mut r = Rng::new(w.wrapping_mul(1_000_003) ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let len = r.below(max_len + 1) as usize;
    r.bytes(len)
}

/// Header naming writer `w`, record `i`.
pub fn header_for(w: u64, i: u64) -> Vec<u8> {
    format!("w{w}-{i}").into_bytes()
}

/// Parse a header made by `header_for`.
pub fn parse_header(h: &[u8]) -> (u64, u64) {
    let s = std::str::from_utf8(h).expect("utf8 header");
    let (w, i) = s
        .strip_prefix('w')
        .and_then(|s| s.split_once('-'))
        .expect("header format");
    (w.parse().unwrap(), i.parse().unwrap())
}

/// On-disk size of a record.
pub fn rec_size(header: Option<&[u8]>, content: &[u8]) -> u64 {
    FRAME + header.map_or(0, |h| h.len() as u64) + content.len() as u64
}

/// Every record of the stream, in replay order; panics on any error.
pub fn replay_all(wal: &Wal) -> Vec<(EntryRef, Record)> {
    wal.replay(None)
        .expect("replay")
        .map(|r| r.expect("replay item"))
        .collect()
}

/// Refs of every record of the stream, in replay order.
pub fn replay_refs(wal: &Wal) -> Vec<EntryRef> {
    replay_all(wal).into_iter().map(|(r, _)| r).collect()
}

/// Environment variable naming the filesystem type (as /proc/self/mountinfo
/// names it: ext4, xfs, btrfs, tmpfs) that `tempdir` must be on.
/// `scripts/test.sh filesystems` sets it with TMPDIR on each of its mounts.
pub const TEST_FS_ENV: &str = "NWAL_TEST_FS";

/// A fresh temporary directory under TMPDIR. With `NWAL_TEST_FS` set, it
/// prints the filesystem the directory is on and panics unless it is that
/// one: a run meant for a filesystem must never quietly fall back to
/// another (an unset or ignored TMPDIR means /tmp).
pub fn tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    if let Some(want) = std::env::var_os(TEST_FS_ENV) {
        let got = fs_type(dir.path());
        eprintln!("test directory {} on {got}", dir.path().display());
        assert_eq!(
            got,
            want.to_string_lossy(),
            "{TEST_FS_ENV}: the test directory {} is on the wrong filesystem",
            dir.path().display()
        );
    }
    dir
}

/// The type of the filesystem holding `path`, as /proc/self/mountinfo names
/// it: that of the mount whose mount point is the longest prefix of the
/// canonical path (the last one mounted there, when several are). Not a
/// match of `st_dev`: a btrfs subvolume's differs from the one mountinfo
/// lists.
pub fn fs_type(path: &Path) -> String {
    let path = std::fs::canonicalize(path).expect("canonical path");
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - TYPE SOURCE ...
        let Some((mount, rest)) = line.split_once(" - ") else {
            continue;
        };
        let (Some(point), Some(fs)) = (mount.split(' ').nth(4), rest.split(' ').next()) else {
            continue;
        };
        let point = PathBuf::from(unescape_mountinfo(point));
        let depth = point.components().count();
        if path.starts_with(&point) && best.as_ref().is_none_or(|(d, _)| depth >= *d) {
            best = Some((depth, fs.to_string()));
        }
    }
    best.expect("a mount holds every path").1
}

/// Undo mountinfo's octal escapes (`\040` for a space, and tab, newline and
/// backslash likewise).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) if b[i] == b'\\' => {
                out.push(d.iter().fold(0u8, |v, c| v.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Names of the segment files of `stream` in `dir` (parsed from the right,
/// as docs/FORMAT.md says), sorted by segment id: `(id, expiration, path)`.
pub fn seg_files(dir: &Path, stream: &str) -> Vec<(u64, i64, PathBuf)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        let Some(rest) = name.strip_suffix(".seg") else {
            continue;
        };
        let Some((rest, id)) = rest.rsplit_once('_') else {
            continue;
        };
        let Some((s, exp)) = rest.rsplit_once('_') else {
            continue;
        };
        if s == stream {
            out.push((id.parse().unwrap(), exp.parse().unwrap(), e.path()));
        }
    }
    out.sort_by_key(|f| f.0);
    out
}

/// Every `.seg` file in `dir`, whatever its stream.
pub fn all_seg_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    v.sort();
    v
}

/// Path of the segment file with id `id`.
pub fn seg_path(dir: &Path, stream: &str, id: u64) -> PathBuf {
    seg_files(dir, stream)
        .into_iter()
        .find(|f| f.0 == id)
        .unwrap_or_else(|| panic!("no file for segment {id}"))
        .2
}

/// Copy the files of `from` (a flat log directory) into `to`, creating it:
/// each crash or damage state is made on its own copy.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

pub fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

/// XOR one byte of a file in place.
pub fn flip_byte(p: &Path, offset: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).unwrap();
    b[0] ^= 0x5A;
    f.write_all_at(&b, offset).unwrap();
}

/// Borrow owned `(header, content)` pairs as batch entries.
pub fn entries(items: &[(Option<Vec<u8>>, Vec<u8>)]) -> Vec<WriteEntry<'_>> {
    items
        .iter()
        .map(|(h, c)| WriteEntry {
            header: h.as_deref(),
            content: c,
        })
        .collect()
}

/// Name of the environment variable that turns a `child_*` test into the
/// body of a child process.
pub const CHILD_ENV: &str = "NWAL_CHILD_DIR";

/// Run the single test `test_name` of the current test binary as a child
/// process with `NWAL_CHILD_DIR=dir` (and extra variables), stdin and stdout
/// piped. The child test does its work only when the variable is set.
pub fn spawn_child(test_name: &str, dir: &Path, extra_env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child test process")
}

/// The directory given to a child test, or None when running as a normal test.
pub fn child_dir() -> Option<PathBuf> {
    std::env::var_os(CHILD_ENV).map(PathBuf::from)
}

/// Read lines from a child's stdout until one contains `marker`; returns
/// what follows the marker on that line. (libtest prints `test name ... `
/// without a newline before the body runs, so the marker may not start the
/// line.)
pub fn wait_line(out: &mut BufReader<ChildStdout>, marker: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "child exited before printing {marker:?}");
        if let Some(at) = line.find(marker) {
            return line[at + marker.len()..].trim_end().to_string();
        }
    }
}

/// Collect the refs a child prints as `REF id:offset:size` lines, up to the
/// line containing `end`.
pub fn read_refs_until(out: &mut BufReader<ChildStdout>, end: &str) -> Vec<EntryRef> {
    let mut refs = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "child exited before printing {end:?}");
        if let Some(at) = line.find("REF ") {
            refs.push(parse_ref(line[at + 4..].trim_end()));
        } else if line.contains(end) {
            return refs;
        }
    }
}

/// Drain the child's stdout (so it never dies of a broken pipe), wait for it,
/// and panic with its output unless its exit success is `expect_success`.
pub fn finish_child(child: Child, mut out: BufReader<ChildStdout>, expect_success: bool) {
    use std::io::Read;
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let done = child.wait_with_output().unwrap();
    assert_eq!(
        done.status.success(),
        expect_success,
        "child: {:?}\nstdout (rest):\n{rest}\nstderr:\n{}",
        done.status,
        String::from_utf8_lossy(&done.stderr)
    );
}

/// Format a ref as `id:offset:size:index` for a child's stdout.
pub fn fmt_ref(r: &EntryRef) -> String {
    format!("{}:{}:{}:{}", r.segment_id, r.offset, r.size, r.index)
}

pub fn parse_ref(s: &str) -> EntryRef {
    let mut it = s.split(':').map(|x| x.parse::<u64>().unwrap());
    EntryRef {
        segment_id: it.next().unwrap(),
        offset: it.next().unwrap(),
        size: it.next().unwrap(),
        index: it.next().unwrap(),
    }
}
