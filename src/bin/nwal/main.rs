// SPDX-License-Identifier: MIT
//! `nwal`: inspect, verify, dump and repair a nano_wal log from the shell.
//!
//! Exit status: 0 success; 1 problems found (verify) or repair refused;
//! 2 usage error; 3 the command could not run (missing directory, unknown
//! stream, locked stream, I/O error), including a failed write of its
//! output. A closed pipe on standard output (EPIPE) is not a failure: the
//! output stops quietly (see [`Out`]).

mod text;

use nano_wal::inspect::{list_streams, segment_files, LogView, Problem};
use nano_wal::{DeleteReason, EntryRef, RemovedReason, Retained, Wal, WalError, WalOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "\
nwal - inspect, verify, dump and repair a nano_wal write-ahead log

Usage:
  nwal stat DIR [STREAM] [--now MS] [--max-stream-bytes N]
                                  streams and segments: ids, windows, sizes, records, indexes,
                                  and why each segment is still on disk
  nwal verify DIR STREAM [--all] [--report [--format text|json]]
                                  check every record's CRC and framing, and the index footers;
                                  with --report, what opening the log would cut or remove
  nwal dump DIR STREAM [--from SEG:OFFSET:SIZE:INDEX | --from-index N] [--to-index N] [--limit N] [--format text|json|hex]
                                  records in log order
  nwal repair DIR STREAM [--dry-run] [--force]
                                  cut a torn tail, as opening the log does
  nwal meta DIR STREAM [KEY]      the stream's metadata: keys and value lengths, or one value
  nwal bench DIR [--records N] [--size BYTES]
                                  quick append/read benchmark of this disk
  nwal help [COMMAND]             this text, or a command's help
  nwal --version

Read-only commands (stat, verify, dump, meta) work while a writer holds the stream.
Exit status: 0 ok, 1 problems found or repair refused, 2 usage error,
3 the command could not run (missing directory, unknown or locked stream, I/O,
a failed write of the output). When standard output is a closed pipe (as
`nwal dump ... | head` leaves it), the output stops quietly.
";

const STAT_HELP: &str = "\
nwal stat DIR [STREAM] [--now MS] [--max-stream-bytes N]

Lists the streams in DIR (or only STREAM) and each segment: id, window start,
expiration (UTC), size, record count, first and last index, first and last
ref (SEG:OFFSET:SIZE:INDEX), and totals with the stream's first and last
index. Segments are scanned fully, so this reads the whole log.

Then the stream's reader holds, and for every segment why it is still on
disk, as a cleanup at --now (ms since the Unix epoch; default: this
machine's clock) would judge it: active, not expired until a time, held by a
reader, within the size budget (with --max-stream-bytes, the writer's
budget), or which rule would delete it. Hold lag limits are the writer's
options and are not known here: every hold counts.
";

const VERIFY_HELP: &str = "\
nwal verify DIR STREAM [--all]

Checks every segment header, every record's framing and CRC32C, and the
index footer of every sealed segment (its trailer, the checksum of its ends,
every end against the records). Prints
`ok` and exits 0 when everything verifies; otherwise names the segment and
offset of the first problem and exits 1. With --all, lists every problem.
A torn tail of the newest segment (what a crash leaves, and what opening the
log cuts off) is reported as such.

With --report, then prints what opening the log (without salvage) would do:
the newest segment's length and the length it would keep (with the records
kept and why the rest is cut), the segment files it would remove, and the
durable watermark the records prove, with whether any byte below it would
be cut (never: open refuses that). --format json prints that report as one
JSON object instead ({\"refused\": ...} when open would refuse the stream).
";

const DUMP_HELP: &str = "\
nwal dump DIR STREAM [--from SEG:OFFSET:SIZE:INDEX | --from-index N] [--to-index N]
          [--limit N] [--format text|json|hex]

Prints records in log order with their refs. --from starts at a ref
(inclusive, as printed by dump or stat), --from-index at a record index
(inclusive); --to-index stops after that index. --limit stops after N records.
Formats: text (header and content as text where printable, hex otherwise),
json (one JSON object per line: segment_id, offset, size, index, header_hex or null,
content_hex, and header_text/content_text when printable), hex (hex only).
Stops with an error at the first record that does not verify (exit 1).
";

const REPAIR_HELP: &str = "\
nwal repair DIR STREAM [--dry-run] [--force]

Does what opening the log does: cuts a torn tail of the newest segment and
removes a newest segment whose creation was torn. Refuses to touch corruption
that has valid records after it (exit 1) unless --force, which cuts the
newest segment at the corruption, losing the records after it. --dry-run
says what would be done and changes nothing. Needs the stream lock: fails
(exit 3) while a writer holds the stream. Corruption inside older segments
is reported, never changed.
";

const META_HELP: &str = "\
nwal meta DIR STREAM [KEY]

Without KEY, lists the stream's metadata: its generation and purge point,
then each key (sorted) with its value's length and a preview (text where
printable, hex otherwise, the first 32 bytes). With KEY, writes that value's
bytes to standard output exactly as stored (no newline); a key without a
value exits 1. Reads the metadata file as opening the log would (the newer
slot that verifies); neither slot verifying exits 3. Takes no lock: while a
writer holds the stream, a put being written shows as the value before it.
";

const BENCH_HELP: &str = "\
nwal bench DIR [--records N] [--size BYTES]

Appends N records (default 100000) of BYTES bytes (default 128) to a
temporary stream in DIR, then durable appends, batch appends, random reads
and a replay, and prints a summary table. The stream's files are removed
afterwards. DIR should be on the disk the real log will use.
";

#[derive(Debug)]
enum Failure {
    /// No command given: the usage text goes to stderr.
    NoCommand,
    Usage(String),
    Problems(String),
    Run(String),
}

impl From<WalError> for Failure {
    fn from(e: WalError) -> Self {
        Failure::Run(e.to_string())
    }
}

type CmdResult = Result<(), Failure>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = Out::new();
    let result = run(&args, &mut out);
    // Standard output first, so the command's own message follows it; a
    // failed write, then, is reported last and decides the exit status.
    let flushed = out.finish();
    let status = match result {
        Ok(()) => 0,
        Err(f) => report(f),
    };
    ExitCode::from(match flushed {
        Ok(()) => status,
        Err(f) => report(f),
    })
}

/// Says on stderr what went wrong; the exit status for it.
fn report(f: Failure) -> u8 {
    match f {
        Failure::NoCommand => {
            to_stderr(USAGE);
            2
        }
        Failure::Usage(msg) => {
            to_stderr(&format!("nwal: {msg}\nRun `nwal help` for usage.\n"));
            2
        }
        Failure::Problems(msg) => {
            to_stderr(&format!("nwal: {msg}\n"));
            1
        }
        Failure::Run(msg) => {
            to_stderr(&format!("nwal: error: {msg}\n"));
            3
        }
    }
}

/// Writes to stderr, ignoring failure: there is nowhere left to report it
/// (the exit status still says what happened). `eprint!` would panic.
fn to_stderr(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Standard output, buffered; every command writes through it with
/// `write!`/`writeln!`, which return a [`CmdResult`].
///
/// A write or flush error is a [`Failure::Run`] naming it (exit 3), except
/// a closed pipe (EPIPE, the reader went away, as `head` does): that is no
/// failure. Output stops quietly, later writes are dropped, commands whose
/// work is their output stop early ([`Out::closed`]), and the exit status
/// is the command's own.
struct Out {
    w: std::io::BufWriter<std::io::StdoutLock<'static>>,
    state: OutState,
}

#[derive(Clone, Copy, PartialEq)]
enum OutState {
    Open,
    /// A closed pipe: nobody reads the output.
    Closed,
    /// A write failed; the failure has been returned.
    Failed,
}

impl Out {
    fn new() -> Self {
        Out {
            w: std::io::BufWriter::new(std::io::stdout().lock()),
            state: OutState::Open,
        }
    }

    /// What `write!` and `writeln!` call.
    fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> CmdResult {
        if self.state != OutState::Open {
            return Ok(());
        }
        let r = self.w.write_fmt(args);
        self.check(r)
    }

    /// Raw bytes (errors as for `write_fmt`).
    fn write_bytes(&mut self, bytes: &[u8]) -> CmdResult {
        if self.state != OutState::Open {
            return Ok(());
        }
        let r = self.w.write_all(bytes);
        self.check(r)
    }

    /// Pushes what is buffered to stdout (errors as for writes).
    fn flush(&mut self) -> CmdResult {
        if self.state != OutState::Open {
            return Ok(());
        }
        let r = self.w.flush();
        self.check(r)
    }

    /// Nobody reads the output any more (a closed pipe).
    fn closed(&self) -> bool {
        self.state == OutState::Closed
    }

    /// The final flush; after a failure or a closed pipe, what is still
    /// buffered is dropped, never written later.
    fn finish(mut self) -> CmdResult {
        let r = self.flush();
        let _ = self.w.into_parts();
        r
    }

    fn check(&mut self, r: std::io::Result<()>) -> CmdResult {
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                self.state = OutState::Closed;
                Ok(())
            }
            Err(e) => {
                self.state = OutState::Failed;
                Err(Failure::Run(format!("writing to standard output: {e}")))
            }
        }
    }
}

fn run(args: &[String], out: &mut Out) -> CmdResult {
    let Some(cmd) = args.first() else {
        return Err(Failure::NoCommand);
    };
    let rest = &args[1..];
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        return write!(out, "{}", help_for(cmd).unwrap_or(USAGE));
    }
    match cmd.as_str() {
        "help" | "--help" | "-h" => {
            let text = match rest.first() {
                Some(c) => {
                    help_for(c).ok_or_else(|| Failure::Usage(format!("unknown command {c:?}")))?
                }
                None => USAGE,
            };
            write!(out, "{text}")
        }
        "--version" | "-V" => writeln!(out, "nwal {}", env!("CARGO_PKG_VERSION")),
        "stat" => cmd_stat(
            &Args::parse(rest, 1, 2, &["--now=", "--max-stream-bytes="])?,
            out,
        ),
        "verify" => cmd_verify(
            &Args::parse(rest, 2, 2, &["--all", "--report", "--format="])?,
            out,
        ),
        "dump" => cmd_dump(
            &Args::parse(
                rest,
                2,
                2,
                &[
                    "--from=",
                    "--from-index=",
                    "--to-index=",
                    "--limit=",
                    "--format=",
                ],
            )?,
            out,
        ),
        "repair" => cmd_repair(&Args::parse(rest, 2, 2, &["--dry-run", "--force"])?, out),
        "meta" => cmd_meta(&Args::parse(rest, 2, 3, &[])?, out),
        "bench" => cmd_bench(&Args::parse(rest, 1, 1, &["--records=", "--size="])?, out),
        other => Err(Failure::Usage(format!("unknown command {other:?}"))),
    }
}

fn help_for(cmd: &str) -> Option<&'static str> {
    Some(match cmd {
        "stat" => STAT_HELP,
        "verify" => VERIFY_HELP,
        "dump" => DUMP_HELP,
        "repair" => REPAIR_HELP,
        "meta" => META_HELP,
        "bench" => BENCH_HELP,
        _ => return None,
    })
}

/// Positional arguments plus `--flag` / `--opt VALUE` (or `--opt=VALUE`).
/// `known` lists flags, and options with a trailing `=`.
struct Args {
    positional: Vec<String>,
    options: Vec<(String, String)>,
}

impl Args {
    fn parse(args: &[String], min: usize, max: usize, known: &[&str]) -> Result<Args, Failure> {
        let mut positional = Vec::new();
        let mut options = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if !a.starts_with("--") {
                positional.push(a.clone());
                continue;
            }
            let (name, inline) = match a.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (a.clone(), None),
            };
            if known.contains(&name.as_str()) && inline.is_none() {
                options.push((name, String::new()));
            } else if known.contains(&format!("{name}=").as_str()) {
                let value = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| Failure::Usage(format!("{name} needs a value")))?,
                };
                options.push((name, value));
            } else {
                return Err(Failure::Usage(format!("unknown option {a:?}")));
            }
        }
        if positional.len() < min || positional.len() > max {
            return Err(Failure::Usage(format!(
                "expected {} argument(s), got {}",
                if min == max {
                    min.to_string()
                } else {
                    format!("{min} to {max}")
                },
                positional.len()
            )));
        }
        Ok(Args {
            positional,
            options,
        })
    }

    fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| n == name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, name: &str, default: u64) -> Result<u64, Failure> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| Failure::Usage(format!("{name} takes a number, not {v:?}"))),
        }
    }

    fn dir(&self) -> Result<PathBuf, Failure> {
        let dir = PathBuf::from(&self.positional[0]);
        if !dir.is_dir() {
            return Err(Failure::Run(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        Ok(dir)
    }
}

fn parse_ref(s: &str) -> Result<EntryRef, Failure> {
    let parts: Vec<&str> = s.split(':').collect();
    let nums: Option<Vec<u64>> = parts.iter().map(|p| p.parse().ok()).collect();
    match nums.as_deref() {
        Some(&[segment_id, offset, size, index]) => Ok(EntryRef {
            segment_id,
            offset,
            size,
            index,
        }),
        _ => Err(Failure::Usage(format!(
            "a ref is SEG:OFFSET:SIZE:INDEX, not {s:?}"
        ))),
    }
}

fn show_ref(r: &EntryRef) -> String {
    format!("{}:{}:{}:{}", r.segment_id, r.offset, r.size, r.index)
}

fn describe(p: &Problem) -> String {
    let kind = cut_kind(p).unwrap_or("corruption");
    format!(
        "segment {} offset {}: {kind}: {}",
        p.segment_id, p.offset, p.detail
    )
}

/// What open does at a problem of the newest segment: cut it as a torn
/// tail, cut it as writes lost from the unsynced tail, or (None) refuse.
fn cut_kind(p: &Problem) -> Option<&'static str> {
    match (p.torn_tail, p.next_valid) {
        (true, None) => Some("torn tail"),
        (true, Some(_)) => Some("lost unsynced writes"),
        (false, _) => None,
    }
}

fn cmd_stat(a: &Args, out: &mut Out) -> CmdResult {
    let dir = a.dir()?;
    let now_ms = match a.value("--now") {
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| Failure::Usage(format!("--now takes ms since the epoch, not {v:?}")))?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    };
    let budget = a.number("--max-stream-bytes", 0)?;
    let streams = match a.positional.get(1) {
        Some(s) => vec![s.clone()],
        None => list_streams(&dir)?,
    };
    if streams.is_empty() {
        writeln!(out, "no streams in {}", dir.display())?;
    }
    for stream in streams {
        let view = LogView::open(&dir, &stream)?;
        writeln!(out, "stream {stream:?} in {}", dir.display())?;
        writeln!(
            out,
            "  {:>6}  {:<24}  {:<24}  {:>10}  {:>9}  {:>10}  {:>10}  {:<22}  {:<22}",
            "id",
            "window start",
            "expires",
            "size",
            "records",
            "first idx",
            "last idx",
            "first",
            "last"
        )?;
        let (mut total_size, mut total_records) = (0u64, 0u64);
        let mut stream_indexes: Option<(u64, u64)> = None;
        for info in view.segments() {
            if out.closed() {
                return Ok(()); // nobody reads on: spare the scans
            }
            total_size += info.file_size;
            let mut indexes = ("-".to_string(), "-".to_string());
            let (records, first, last) = match &info.header_problem {
                Some(p) => (format!("bad header: {p}"), String::new(), String::new()),
                None if info.dropped => (
                    "dropped (no record left; open deletes it)".into(),
                    String::new(),
                    String::new(),
                ),
                None => {
                    let check = view.check_segment(info.id)?;
                    // A purge may have dropped the first records.
                    let live_first = view.segment_first_live_index(info.id);
                    let purged = match (info.first_index, live_first) {
                        (Some(f), Some(l)) => (l - f).min(check.records),
                        _ => 0,
                    };
                    total_records += check.records - purged;
                    if let Some(first) = info.first_index {
                        let last = first + check.records - 1;
                        let first = first + purged;
                        indexes = (first.to_string(), last.to_string());
                        let (f, _) = stream_indexes.unwrap_or((first, last));
                        stream_indexes = Some((f, last));
                    }
                    let mut n = (check.records - purged).to_string();
                    if purged > 0 {
                        n.push_str(&format!(" (+{purged} purged)"));
                    }
                    if let Some(p) = &check.problem {
                        n.push_str(&format!(
                            " (+{} at {})",
                            if p.torn_tail { "torn tail" } else { "CORRUPT" },
                            p.offset
                        ));
                    }
                    (
                        n,
                        check
                            .first
                            .as_ref()
                            .map(show_ref)
                            .unwrap_or_else(|| "-".into()),
                        check
                            .last
                            .as_ref()
                            .map(show_ref)
                            .unwrap_or_else(|| "-".into()),
                    )
                }
            };
            writeln!(
                out,
                "  {:>6}  {:<24}  {:<24}  {:>10}  {:>9}  {:>10}  {:>10}  {:<22}  {:<22}",
                info.id,
                info.window_start_ms
                    .map(text::iso_time)
                    .unwrap_or_else(|| "?".into()),
                text::iso_time(info.expiration_ms),
                info.file_size,
                records,
                indexes.0,
                indexes.1,
                first,
                last
            )?;
        }
        writeln!(
            out,
            "  total: {} segment(s), {} ({} bytes), {} record(s), {}",
            view.segments().len(),
            text::bytes(total_size),
            total_size,
            total_records,
            match stream_indexes {
                Some((f, l)) if l >= f => format!("indexes {f} to {l}"),
                _ => "no index".to_string(),
            }
        )?;
        write_retention(out, &view, now_ms, budget)?;
        out.flush()?; // a stream at a time: the scans are slow
    }
    Ok(())
}

/// The holds of `view`'s stream and why each segment stays (`nwal stat`).
fn write_retention(out: &mut Out, view: &LogView, now_ms: i64, budget: u64) -> CmdResult {
    for h in view.holds()? {
        writeln!(out, "  hold {:?}: keeps index {} on", h.name, h.index)?;
    }
    writeln!(
        out,
        "  retention at {}{}:",
        text::iso_time(now_ms),
        match budget {
            0 => String::new(),
            b => format!(", size budget {b} bytes"),
        }
    )?;
    for r in view.retention(now_ms, budget)? {
        let why: Vec<String> = r
            .kept
            .iter()
            .map(|k| match k {
                Retained::Active => "active".to_string(),
                Retained::NotExpired { until_ms } => {
                    format!("not expired until {}", text::iso_time(*until_ms))
                }
                Retained::Held { name, index } => format!("held by {name:?} (from {index})"),
                Retained::WithinBudget => "within the size budget".to_string(),
                Retained::AfterKept => "an older segment is kept".to_string(),
            })
            .collect();
        let line = match r.deleted_by {
            Some(DeleteReason::Expired) => "cleanup deletes it: expired".to_string(),
            Some(DeleteReason::SizeBudget) => "cleanup deletes it: over the size budget".into(),
            None => format!("kept: {}", why.join("; ")),
        };
        writeln!(out, "  {:>6}  {line}", r.segment_id)?;
    }
    Ok(())
}

/// What opening the stream would do (`nwal verify --report`).
fn write_recovery_report(out: &mut Out, view: &LogView, format: &str) -> CmdResult {
    let json = match format {
        "text" => false,
        "json" => true,
        other => {
            return Err(Failure::Usage(format!(
                "--format for verify is text or json, not {other:?}"
            )))
        }
    };
    let report = match view.recovery_report() {
        Ok(r) => r,
        Err(e) if json => {
            return writeln!(out, "{{\"refused\":{}}}", text::json_str(&e.to_string()))
        }
        Err(e) => return writeln!(out, "recovery: open would refuse the stream: {e}"),
    };
    let reason = |r: RemovedReason| match r {
        RemovedReason::TornCreation => "torn_creation",
        RemovedReason::Dropped => "dropped",
        RemovedReason::Purged => "purged",
    };
    if json {
        let tail = match &report.tail {
            None => "null".to_string(),
            Some(t) => format!(
                "{{\"segment_id\":{},\"found_len\":{},\"kept_len\":{},\"records_kept\":{},\"damage\":{}}}",
                t.segment_id,
                t.found_len,
                t.kept_len,
                t.records_kept,
                t.damage.as_deref().map_or("null".into(), text::json_str)
            ),
        };
        let removed: Vec<String> = report
            .removed
            .iter()
            .map(|r| {
                format!(
                    "{{\"segment_id\":{},\"reason\":\"{}\"}}",
                    r.segment_id,
                    reason(r.reason)
                )
            })
            .collect();
        return writeln!(
            out,
            "{{\"tail\":{tail},\"removed\":[{}],\"durable_watermark\":{},\"cut_below_durable\":{}}}",
            removed.join(","),
            report.durable_watermark,
            report.cut_below_durable
        );
    }
    writeln!(out, "recovery (what opening the log would do):")?;
    match &report.tail {
        None => writeln!(out, "  no segment")?,
        Some(t) if t.kept_len == t.found_len => writeln!(
            out,
            "  newest segment {}: keeps all {} bytes ({} record(s))",
            t.segment_id, t.found_len, t.records_kept
        )?,
        Some(t) => writeln!(
            out,
            "  newest segment {}: keeps {} of {} bytes ({} record(s)), cuts {}: {}",
            t.segment_id,
            t.kept_len,
            t.found_len,
            t.records_kept,
            t.found_len - t.kept_len,
            t.damage.as_deref().unwrap_or("pre-written zeros")
        )?,
    }
    for r in &report.removed {
        writeln!(
            out,
            "  removes segment {}: {}",
            r.segment_id,
            reason(r.reason).replace('_', " ")
        )?;
    }
    writeln!(
        out,
        "  durable watermark {}: {}",
        report.durable_watermark,
        if report.cut_below_durable {
            "a byte below it would be cut"
        } else {
            "nothing acknowledged as durable is cut"
        }
    )
}

fn cmd_verify(a: &Args, out: &mut Out) -> CmdResult {
    let dir = a.dir()?;
    let view = LogView::open(&dir, &a.positional[1])?;
    let all = a.flag("--all");
    let mut problems: Vec<String> = Vec::new();
    let mut records = 0u64;
    let newest = view.segments().last().map(|s| s.id);
    'segments: for info in view.segments() {
        // Not part of the log: a truncation, reset or purge dropped it.
        if info.dropped {
            continue;
        }
        if let Some(p) = &info.header_problem {
            problems.push(format!(
                "segment {} offset 0: bad segment header: {p}",
                info.id
            ));
            if !all {
                break;
            }
            continue;
        }
        let mut from = nano_wal::inspect::FIRST_RECORD_OFFSET;
        let mut index = view.segment_first_index(info.id).unwrap_or(1);
        loop {
            let check = view.check_segment_from(info.id, from, index)?;
            records += check.records;
            let Some(p) = check.problem else { break };
            let line = match cut_kind(&p) {
                Some(_) if Some(info.id) == newest => format!(
                    "{} (opening the log or `nwal repair` cuts it off)",
                    describe(&p)
                ),
                // Only the newest segment can have lost writes: the others
                // were synced whole before their successor was created.
                Some(kind) => describe(&p).replacen(kind, "corruption (not the newest segment)", 1),
                None => describe(&p),
            };
            problems.push(line);
            if !all {
                break 'segments;
            }
            match p.next_valid.zip(p.next_valid_index) {
                Some((next, next_index)) => (from, index) = (next, next_index),
                None => break,
            }
        }
        if let Some(p) = view.check_footer(info.id)? {
            problems.push(format!("segment {}: {p}", info.id));
            if !all {
                break;
            }
        }
    }
    if problems.is_empty() {
        writeln!(
            out,
            "ok: {} segment(s), {records} record(s) verified",
            view.segments().len()
        )?;
    }
    for p in &problems {
        writeln!(out, "{p}")?;
    }
    if a.flag("--report") {
        write_recovery_report(out, &view, a.value("--format").unwrap_or("text"))?;
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Failure::Problems(format!(
        "{} problem(s) found{}",
        problems.len(),
        if all {
            ""
        } else {
            " (first shown; --all lists every one)"
        }
    )))
}

#[derive(Clone, Copy, PartialEq)]
enum DumpFormat {
    Text,
    Json,
    Hex,
}

fn cmd_dump(a: &Args, out: &mut Out) -> CmdResult {
    let from = a.value("--from").map(parse_ref).transpose()?;
    let from_index = a
        .value("--from-index")
        .map(|_| a.number("--from-index", 0))
        .transpose()?;
    if from.is_some() && from_index.is_some() {
        return Err(Failure::Usage(
            "--from and --from-index cannot be given together".into(),
        ));
    }
    let to_index = a.number("--to-index", u64::MAX)?;
    let limit = a.number("--limit", u64::MAX)?;
    let format = match a.value("--format").unwrap_or("text") {
        "text" => DumpFormat::Text,
        "json" => DumpFormat::Json,
        "hex" => DumpFormat::Hex,
        other => {
            return Err(Failure::Usage(format!(
                "unknown format {other:?} (text, json or hex)"
            )))
        }
    };
    let dir = a.dir()?;
    let view = LogView::open(&dir, &a.positional[1])?;
    for info in view.segments() {
        if let Some(p) = &info.header_problem {
            to_stderr(&format!(
                "nwal: warning: segment {} skipped: bad header: {p}\n",
                info.id
            ));
        }
    }
    let replay = match from_index {
        Some(index) => view.replay_from_index(index)?,
        None => view.replay(from)?,
    };
    for (n, item) in replay.enumerate() {
        if n as u64 >= limit || out.closed() {
            break;
        }
        let (r, rec) = match item {
            Ok(x) => x,
            Err(e) => return Err(Failure::Problems(format!("stopped: {e}"))),
        };
        if r.index > to_index {
            break;
        }
        let header = rec.header.as_deref();
        let line = match format {
            DumpFormat::Text => format!(
                "{}  header={}  content={}",
                show_ref(&r),
                header.map(text::show).unwrap_or_else(|| "none".into()),
                text::show(&rec.content)
            ),
            DumpFormat::Hex => format!(
                "{}  header={}  content={}",
                show_ref(&r),
                header.map(text::hex).unwrap_or_else(|| "none".into()),
                text::hex(&rec.content)
            ),
            DumpFormat::Json => {
                let mut j = format!(
                    "{{\"segment_id\":{},\"offset\":{},\"size\":{},\"index\":{},\"header_hex\":{}",
                    r.segment_id,
                    r.offset,
                    r.size,
                    r.index,
                    header
                        .map(|h| text::json_str(&text::hex(h)))
                        .unwrap_or_else(|| "null".into())
                );
                if let Some(h) = header.filter(|h| text::is_printable(h)) {
                    j.push_str(&format!(
                        ",\"header_text\":{}",
                        text::json_str(&String::from_utf8_lossy(h))
                    ));
                }
                j.push_str(&format!(
                    ",\"content_hex\":{}",
                    text::json_str(&text::hex(&rec.content))
                ));
                if text::is_printable(&rec.content) {
                    j.push_str(&format!(
                        ",\"content_text\":{}",
                        text::json_str(&String::from_utf8_lossy(&rec.content))
                    ));
                }
                j.push('}');
                j
            }
        };
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn cmd_repair(a: &Args, out: &mut Out) -> CmdResult {
    let dir = a.dir()?;
    let stream = &a.positional[1];
    let (dry_run, force) = (a.flag("--dry-run"), a.flag("--force"));
    let view = LogView::open(&dir, stream)?;
    let Some(newest) = view.segments().last().cloned() else {
        return writeln!(out, "nothing to do: stream {stream:?} has no segment");
    };
    let mut plan: Vec<String> = Vec::new();
    let mut refused = None;
    let mut target = Some(newest.clone());
    // A newest segment whose creation was torn is removed, then the one
    // before it is the newest: look at it too, as open does.
    while let Some(info) = target.take() {
        match &info.header_problem {
            Some(p) if info.file_size <= nano_wal::inspect::FIRST_RECORD_OFFSET => {
                plan.push(format!(
                    "remove segment {} ({}): header torn: {p}",
                    info.id,
                    info.path.display()
                ));
                target = view
                    .segments()
                    .iter()
                    .rev()
                    .find(|s| s.id < info.id)
                    .cloned();
            }
            Some(p) => {
                refused = Some(format!(
                    "segment {} has a bad header ({p}); not repairable",
                    info.id
                ))
            }
            None => {
                let check = view.check_segment(info.id)?;
                match check.problem {
                    None => {}
                    Some(p) if p.torn_tail || force => plan.push(format!(
                        "cut segment {} from {} to {} bytes ({}): {}",
                        info.id,
                        info.file_size,
                        check.valid_end,
                        cut_kind(&p).unwrap_or("CORRUPTION, --force: records after it are lost"),
                        p.detail
                    )),
                    Some(p) => {
                        refused = Some(format!(
                            "{}; valid records follow at offset {}, so this is not a torn tail: \
                             refusing to cut (--force cuts the segment here, losing them)",
                            describe(&p),
                            p.next_valid.unwrap_or(0)
                        ))
                    }
                }
            }
        }
    }
    for info in view.segments().iter().filter(|s| s.id != newest.id) {
        if let Some(p) = &info.header_problem {
            writeln!(out, "note: older segment {} has a bad header ({p}); repair does not change older segments", info.id)?;
        }
    }
    if let Some(why) = refused {
        return Err(Failure::Problems(why));
    }
    if plan.is_empty() {
        return writeln!(out, "nothing to do: the tail of stream {stream:?} is clean");
    }
    for step in &plan {
        writeln!(out, "{}{step}", if dry_run { "would " } else { "" })?;
    }
    if dry_run {
        return Ok(());
    }
    // The plan is out before anything changes: if it cannot be written,
    // nothing is repaired.
    out.flush()?;
    let options = WalOptions {
        salvage: force,
        ..Default::default()
    };
    let wal = Wal::open(&dir, stream, options)?;
    wal.shutdown()?;
    writeln!(out, "done")
}

fn cmd_meta(a: &Args, out: &mut Out) -> CmdResult {
    let dir = a.dir()?;
    let stream = &a.positional[1];
    let view = LogView::open(&dir, stream)?;
    let meta = view.meta()?.unwrap_or_default();
    if let Some(key) = a.positional.get(2) {
        nano_wal::format::meta::validate_meta_key(key)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        let value = meta.entries.get(key.as_str()).ok_or_else(|| {
            Failure::Problems(format!("no metadata key {key:?} in stream {stream:?}"))
        })?;
        return out.write_bytes(value);
    }
    writeln!(
        out,
        "stream {stream:?} in {}: {} metadata key(s), generation {}",
        dir.display(),
        meta.entries.len(),
        meta.generation
    )?;
    match meta.purge {
        Some(p) => writeln!(
            out,
            "  purge point: indexes before {} are purged (segment {})",
            p.before, p.segment_id
        )?,
        None => writeln!(out, "  purge point: none")?,
    }
    if !meta.entries.is_empty() {
        writeln!(out, "  {:<64}  {:>6}  value", "key", "bytes")?;
    }
    for (key, value) in &meta.entries {
        let preview = text::show(&value[..value.len().min(32)]);
        let more = if value.len() > 32 { " ..." } else { "" };
        writeln!(out, "  {key:<64}  {:>6}  {preview}{more}", value.len())?;
    }
    Ok(())
}

fn cmd_bench(a: &Args, out: &mut Out) -> CmdResult {
    let dir = a.dir()?;
    let records = a.number("--records", 100_000)?.max(1);
    let size = a.number("--size", 128)? as usize;
    let stream = format!("nwal-bench-{}", std::process::id());
    let result = bench(&dir, &stream, records, size, out);
    // Remove the bench stream's files whatever happened (listed by name:
    // opening a view would scan the newest segment).
    for path in segment_files(&dir, &stream).unwrap_or_default() {
        let _ = std::fs::remove_file(path);
    }
    let _ = std::fs::remove_file(dir.join(format!("{stream}.lock")));
    result
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
struct Progress {
    label: &'static str,
    total: u64,
    shown: u64,
    visible: bool,
}

impl Progress {
    fn new(label: &'static str, total: u64) -> Self {
        use std::io::IsTerminal;
        Progress {
            label,
            total,
            shown: u64::MAX,
            visible: std::io::stderr().is_terminal(),
        }
    }
    fn update(&mut self, done: u64) {
        let pct = done * 100 / self.total.max(1);
        if self.visible && pct != self.shown {
            self.shown = pct;
            let bar = "#".repeat((pct / 4) as usize);
            to_stderr(&format!("\r{:<16} [{bar:<25}] {pct:>3}%", self.label));
        }
    }
    fn finish(&mut self) {
        self.update(self.total);
        if self.visible {
            to_stderr("\n");
        }
    }
}

fn bench(dir: &Path, stream: &str, records: u64, size: usize, out: &mut Out) -> CmdResult {
    let wal = Wal::open(dir, stream, WalOptions::default())?;
    let now = 1_700_000_000_000i64;
    let content = vec![0xA5u8; size];
    let mut rows: Vec<(String, u64, f64)> = Vec::new();

    let mut refs = Vec::with_capacity(records as usize);
    let mut p = Progress::new("appends", records);
    let t = Instant::now();
    for i in 0..records {
        refs.push(wal.append(None, &content, now, false)?);
        if i % 1024 == 0 {
            p.update(i);
        }
    }
    p.finish();
    rows.push(("append".into(), records, t.elapsed().as_secs_f64()));

    let durable = (records / 100).clamp(10, 1000);
    let mut p = Progress::new("durable appends", durable);
    let t = Instant::now();
    for i in 0..durable {
        wal.append(None, &content, now, true)?;
        p.update(i);
    }
    p.finish();
    rows.push(("durable append".into(), durable, t.elapsed().as_secs_f64()));

    let batch: Vec<nano_wal::WriteEntry<'_>> = (0..100)
        .map(|_| nano_wal::WriteEntry {
            header: None,
            content: &content,
        })
        .collect();
    let batches = (records / 100).max(1);
    let mut p = Progress::new("batches of 100", batches);
    let t = Instant::now();
    for i in 0..batches {
        wal.append_batch(&batch, now, false)?;
        p.update(i);
    }
    p.finish();
    rows.push((
        "batch append".into(),
        batches * 100,
        t.elapsed().as_secs_f64(),
    ));

    let mut p = Progress::new("random reads", records);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let t = Instant::now();
    for i in 0..records {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let r = refs[(x % refs.len() as u64) as usize];
        wal.read(r)?;
        if i % 1024 == 0 {
            p.update(i);
        }
    }
    p.finish();
    rows.push(("random read".into(), records, t.elapsed().as_secs_f64()));

    let t = Instant::now();
    let mut n = 0u64;
    for item in wal.replay(None)? {
        item?;
        n += 1;
    }
    rows.push(("replay".into(), n, t.elapsed().as_secs_f64()));
    wal.shutdown()?;

    writeln!(
        out,
        "nwal bench: {records} records of {size} bytes in {}",
        dir.display()
    )?;
    writeln!(
        out,
        "  {:<16} {:>10} {:>12} {:>14} {:>12}",
        "operation", "records", "seconds", "records/s", "MB/s"
    )?;
    for (name, count, secs) in rows {
        let rate = count as f64 / secs.max(1e-9);
        writeln!(
            out,
            "  {name:<16} {count:>10} {secs:>12.3} {rate:>14.0} {:>12.1}",
            rate * size as f64 / 1e6
        )?;
    }
    Ok(())
}
