// SPDX-License-Identifier: MIT
//! What every system implements, what a measurement returns, and the small
//! tools (fresh directories, payloads, thread fan-out) they share.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Instant;

/// One timed run: `ops` records (or calls) moving `bytes` payload bytes in `secs`.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub ops: u64,
    pub bytes: u64,
    pub secs: f64,
}

impl Sample {
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.secs
    }
    pub fn bytes_per_sec(&self) -> f64 {
        self.bytes as f64 / self.secs
    }
}

/// Why a cell has no number.
#[derive(Debug, Clone)]
pub enum Missing {
    /// The system's API cannot express the workload (the reason goes in the notes).
    NotApplicable(String),
    /// The system failed while running it.
    Failed(String),
}

pub type Cell = Result<Sample, Missing>;

pub fn na<T>(why: &str) -> Result<T, Missing> {
    Err(Missing::NotApplicable(why.to_string()))
}

/// Turn any error into a `Failed` cell, keeping its text.
pub fn fail<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> Missing + '_ {
    move |e| Missing::Failed(format!("{what}: {e}"))
}

/// Reads against a log prefilled by [`System::prefill`]; records are numbered
/// 0..count in append order.
pub trait Reader {
    /// One read call per index.
    fn random(&mut self, idx: &[usize]) -> Cell;
    /// For each start, the records start..start+len, as few calls as the API allows.
    fn runs(&mut self, starts: &[usize], len: usize) -> Cell;
    /// Every record of the log, in order, through the API's replay or scan.
    fn replay(&mut self) -> Cell;
    /// One read call per index, by the record's log index (not a ref or
    /// position the append returned).
    fn random_by_index(&mut self, _idx: &[usize]) -> Cell {
        na("no read by index measured")
    }
    /// For each start, the records start..start+len by log index, one range
    /// read each.
    fn ranges(&mut self, _starts: &[usize], _len: usize) -> Cell {
        na("no range read by index measured")
    }
    /// Get ready, untimed, for reads of `records` records (a reader that
    /// fills what its reads consume does it here).
    fn prepare(&mut self, _records: usize) -> Result<(), Missing> {
        Ok(())
    }
    /// Bytes of the record positions (refs, offsets) the bench keeps for
    /// its reads: the caller's memory, not the system's.
    fn held_bytes(&self) -> u64 {
        0
    }
}

/// A log engine under test, driven through its public API. Every method
/// works in a directory of its own and times only the workload itself (not
/// opening, prefilling or closing). The defaults say "n/a".
pub trait System: Sync {
    fn name(&self) -> &'static str;

    /// `threads` threads each append `per_thread` single records of `size`
    /// bytes; `durable` = each append returns only once it survives power loss.
    fn append(
        &self,
        _dir: &Path,
        _size: usize,
        _threads: usize,
        _per_thread: usize,
        _durable: bool,
    ) -> Cell {
        na("no such API")
    }

    /// One thread appends `batches` non-durable batches of `batch_len` records.
    fn batches(&self, _dir: &Path, _size: usize, _batches: usize, _batch_len: usize) -> Cell {
        na("no batch append API")
    }

    /// Append `count` records of `size` bytes (untimed) and return a reader.
    fn prefill<'a>(
        &'a self,
        _dir: &'a Path,
        _size: usize,
        _count: usize,
    ) -> Result<Box<dyn Reader + 'a>, Missing> {
        na("no read API")
    }

    /// Write a stream of about `bytes` bytes of `size`-byte records and close it.
    fn build(&self, _dir: &Path, _size: usize, _bytes: u64) -> Result<(), Missing> {
        na("not measured")
    }

    /// Open (recover) the stream `build` wrote; the sample's ops = 1 open,
    /// bytes are filled in by the caller.
    fn open(&self, _dir: &Path) -> Cell {
        na("not measured")
    }

    /// Write a stream of `sealed` sealed segments and a newest one, a few
    /// records each, and close it (the many-segments open row).
    fn build_segments(&self, _dir: &Path, _sealed: usize) -> Result<(), Missing> {
        na("not measured: the row measures nano_wal's index footers")
    }

    /// Append `keep + drop` records of 128 B to a new stream in `dir` and
    /// sync them, then time one truncation of its last `drop` records (the
    /// appends and the sync are not timed); the sample's ops = 1
    /// truncation.
    fn truncate_tail(&self, _dir: &Path, _keep: u64, _drop: u64) -> Cell {
        na("not measured: no truncation of the tail by index")
    }

    /// Open the stream `build` wrote and read every record (for peak memory).
    /// Returns the number of records seen.
    fn open_and_replay(&self, _dir: &Path) -> Result<u64, Missing> {
        na("not measured")
    }
}

/// The bench's scratch space: every measurement gets a fresh subdirectory,
/// removed when dropped, so one system's files never warm or slow another's.
pub struct Scratch {
    root: PathBuf,
    next: AtomicUsize,
}

impl Scratch {
    pub fn new(root: PathBuf) -> Scratch {
        Scratch {
            root,
            next: AtomicUsize::new(0),
        }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn fresh(&self, label: &str) -> TempDir {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.root.join(format!("{n:05}-{label}"));
        std::fs::create_dir_all(&path).expect("create scratch dir");
        TempDir { path }
    }
}

pub struct TempDir {
    pub path: PathBuf,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A record payload of `size` bytes; not all zeros so that no layer can
/// shortcut it (sparse files, compression).
pub fn payload(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
        .collect()
}

/// Flush every dirty page of the machine and wait for writeback in flight,
/// before a measurement: each then starts with the disk idle. Without it,
/// `/proc/meminfo` showed ~500 MB under writeback at the start of some
/// repetitions (systems that sync when they close), shared by whichever
/// measurements ran then.
pub fn settle() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() }
}

/// What the kernel did for this process and to its memory around one
/// measurement, for `--trace`: context switches, page faults, and the
/// machine's direct reclaim and compaction (the usual suspects of a
/// measurement far off its row).
#[derive(Clone, Copy, Default)]
pub struct KernelCounters {
    voluntary_switches: i64,
    involuntary_switches: i64,
    minor_faults: i64,
    compact_stalls: i64,
    alloc_stalls: i64,
    direct_scanned: i64,
}

impl KernelCounters {
    pub fn now() -> KernelCounters {
        // SAFETY: rusage is plain integers, so all zeros is a valid value;
        // getrusage writes one rusage struct, which lives here.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a live, writable rusage for the call.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
        let mut c = KernelCounters {
            voluntary_switches: u.ru_nvcsw,
            involuntary_switches: u.ru_nivcsw,
            minor_faults: u.ru_minflt,
            ..Default::default()
        };
        for line in std::fs::read_to_string("/proc/vmstat")
            .unwrap_or_default()
            .lines()
        {
            let Some((key, value)) = line.split_once(' ') else {
                continue;
            };
            let value: i64 = value.parse().unwrap_or(0);
            match key {
                "compact_stall" => c.compact_stalls += value,
                k if k.starts_with("allocstall_") => c.alloc_stalls += value,
                "pgscan_direct" => c.direct_scanned += value,
                _ => {}
            }
        }
        c
    }

    pub fn since(&self, before: &KernelCounters) -> String {
        format!(
            "switches {}+{} inv, minor faults {}, compaction stalls {}, reclaim stalls {}, pages scanned by direct reclaim {}",
            self.voluntary_switches - before.voluntary_switches,
            self.involuntary_switches - before.involuntary_switches,
            self.minor_faults - before.minor_faults,
            self.compact_stalls - before.compact_stalls,
            self.alloc_stalls - before.alloc_stalls,
            self.direct_scanned - before.direct_scanned,
        )
    }
}

/// Longest a capped measurement may run (0 = no cap), in ms. Set by the
/// plan for the fsync-bound rows, where a loaded disk can be 10x slower than
/// a quiet one: a cap keeps the run time bounded and the rate still honest
/// (the sample counts the operations actually done).
static TIME_CAP_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn set_time_cap(cap: Option<std::time::Duration>) {
    TIME_CAP_MS.store(cap.map_or(0, |d| d.as_millis() as u64), Ordering::Relaxed);
}

/// When a measurement that started at `start` must stop, if capped.
pub fn deadline(start: Instant) -> Option<Instant> {
    match TIME_CAP_MS.load(Ordering::Relaxed) {
        0 => None,
        ms => Some(start + std::time::Duration::from_millis(ms)),
    }
}

/// Run `work(thread, i)` for i in 0..per_thread on each of `threads` threads,
/// all released together (or until the time cap, see [`set_time_cap`]);
/// returns the wall time from release to the last thread's end and the
/// number of calls made, or the first error.
pub fn fan_out<F>(threads: usize, per_thread: usize, work: F) -> Result<(f64, usize), Missing>
where
    F: Fn(usize, usize) -> Result<(), String> + Sync,
{
    let barrier = Barrier::new(threads + 1);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    let done = AtomicUsize::new(0);
    let secs = std::thread::scope(|s| {
        for t in 0..threads {
            let (barrier, work, first_error, done) = (&barrier, &work, &first_error, &done);
            s.spawn(move || {
                barrier.wait();
                let stop = deadline(Instant::now());
                let mut i = 0;
                while i < per_thread && stop.is_none_or(|d| Instant::now() < d) {
                    if let Err(e) = work(t, i) {
                        first_error.lock().unwrap().get_or_insert(e);
                        break;
                    }
                    i += 1;
                }
                done.fetch_add(i, Ordering::Relaxed);
            });
        }
        barrier.wait();
        let start = Instant::now();
        // Scope end joins every thread; time it from here.
        start
    })
    .elapsed()
    .as_secs_f64();
    match first_error.into_inner().unwrap() {
        Some(e) => Err(Missing::Failed(e)),
        None => Ok((secs, done.into_inner())),
    }
}

/// Sample for `ops` records of `size` bytes in `secs`.
pub fn sample(ops: usize, size: usize, secs: f64) -> Sample {
    Sample {
        ops: ops as u64,
        bytes: (ops * size) as u64,
        secs,
    }
}

/// The two systems (or columns) of a side-by-side row in the order of
/// repetition `rep`: each goes first in every other repetition.
pub fn pair_order(rep: usize) -> [usize; 2] {
    [[0, 1], [1, 0]][rep % 2]
}

/// Time a closure that returns how many records it handled and their bytes.
pub fn time<F>(f: F) -> Cell
where
    F: FnOnce() -> Result<(u64, u64), Missing>,
{
    let start = Instant::now();
    let (ops, bytes) = f()?;
    Ok(Sample {
        ops,
        bytes,
        secs: start.elapsed().as_secs_f64(),
    })
}

/// Bytes this thread has read through read system calls so far (`rchar`
/// of /proc/thread-self/io: page-cache hits included, other threads'
/// reads excluded).
pub fn thread_read_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/thread-self/io").ok()?;
    let line = io.lines().find(|l| l.starts_with("rchar:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Raise this process's open-file limit as far as it may go (the hard
/// limit, or more when privileged), and return the soft limit then. A
/// nano_wal stream holds a descriptor per segment.
pub fn raise_open_file_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit, which lives here.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    let want = libc::rlimit {
        rlim_cur: lim.rlim_max.max(1 << 16),
        rlim_max: lim.rlim_max.max(1 << 16),
    };
    // SAFETY: setrlimit reads one rlimit, which lives here; a refusal
    // (unprivileged) leaves the limit as it was.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
        return want.rlim_cur;
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: as above; raising the soft limit to the hard one is allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } == 0 {
        return lim.rlim_cur;
    }
    1024
}

/// File descriptors this process has open.
pub fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

/// Milliseconds since the Unix epoch, for the engines that take the time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Start the clock of the progress lines.
pub fn start_clock() {
    START.get_or_init(Instant::now);
}

/// A progress line on stderr, stamped with the seconds since the start, so
/// a slow row shows where the time of a run goes.
pub fn progress_line(s: String) {
    let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!("[{t:6.1}s] {s}");
}

#[macro_export]
macro_rules! progress {
    ($($t:tt)*) => {
        $crate::harness::progress_line(format!($($t)*))
    };
}
