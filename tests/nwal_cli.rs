// SPDX-License-Identifier: MIT
//! The `nwal` operator tool, run as a child process on logs made by the
//! library (clean, torn, corrupted, and held by a live writer).

mod common;

use common::{flip_byte, seg_path};
use nano_wal::{EntryRef, Wal, WalOptions, WriteEntry};
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const T0: i64 = 1_711_234_567_890; // 2024-03-23T22:56:07.890Z
const MINUTE: i64 = 60_000;

fn nwal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nwal"))
        .args(args)
        .output()
        .expect("run nwal")
}

/// `nwal` with its stdout given (stderr captured).
fn nwal_out(args: &[&str], out: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nwal"))
        .args(args)
        .stdout(out)
        .output()
        .expect("run nwal")
}

/// `/dev/full`: every write fails with ENOSPC.
fn dev_full() -> Stdio {
    Stdio::from(
        OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full"),
    )
}

/// The write end of a pipe whose read end is already closed: every write
/// fails with EPIPE, whatever the size of the output.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Stdio::from(writer)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn opts() -> WalOptions {
    WalOptions {
        segment_duration: Duration::from_secs(60),
        retention: Duration::from_secs(3600),
        ..Default::default()
    }
}

/// A log with stream "s" of three segments (minutes 0, 1, 2), 5 records
/// each, and a second stream "s_1" (whose name has "s" as a prefix).
/// Cut the last 3 bytes of the newest segment of `make_log`'s log (a torn
/// tail); returns its path and its length before the cut.
fn tear_newest(dir: &Path, refs: &[(EntryRef, Vec<u8>)]) -> (PathBuf, u64) {
    let newest = seg_path(dir, "s", refs.last().unwrap().0.segment_id);
    let len = std::fs::metadata(&newest).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&newest)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    (newest, len)
}

fn make_log(dir: &Path) -> Vec<(EntryRef, Vec<u8>)> {
    let wal = Wal::open(dir, "s", opts()).unwrap();
    let mut refs = Vec::new();
    for seg in 0..3i64 {
        for i in 0..5 {
            let content = format!("seg{seg}-rec{i}").into_bytes();
            let header = (i % 2 == 0).then_some(&b"hdr"[..]);
            let r = wal
                .append(header, &content, T0 + seg * MINUTE, false)
                .unwrap();
            refs.push((r, content));
        }
    }
    wal.append_batch(
        &[
            WriteEntry {
                header: None,
                content: &[0, 1, 2, 255],
            },
            WriteEntry {
                header: Some(b""),
                content: b"tail",
            },
        ],
        T0 + 2 * MINUTE,
        true,
    )
    .unwrap()
    .into_iter()
    .zip([vec![0, 1, 2, 255], b"tail".to_vec()])
    .for_each(|(r, c)| refs.push((r, c)));
    drop(wal);
    let other = Wal::open(dir, "s_1", opts()).unwrap();
    other.append(None, b"other stream", T0, true).unwrap();
    refs
}

fn d(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

#[test]
fn help_and_usage_errors() {
    let o = nwal(&[]);
    assert_eq!(code(&o), 2, "no command is a usage error");
    assert!(stderr(&o).contains("Usage:"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    let o = nwal(&["help"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Usage:"));
    assert!(stderr(&o).is_empty());
    for cmd in ["stat", "verify", "dump", "repair", "bench"] {
        let o = nwal(&["help", cmd]);
        assert_eq!(code(&o), 0, "{cmd}");
        assert!(
            stdout(&o).starts_with(&format!("nwal {cmd}")),
            "{cmd}: {}",
            stdout(&o)
        );
        let o = nwal(&[cmd, "--help"]);
        assert!(stdout(&o).starts_with(&format!("nwal {cmd}")));
    }
    let o = nwal(&["frobnicate"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("unknown command"));
    let o = nwal(&["verify", "/tmp"]);
    assert_eq!(code(&o), 2, "missing STREAM");
    let o = nwal(&["dump", "/tmp", "s", "--format", "xml"]);
    assert_eq!(code(&o), 2);
    let o = nwal(&["dump", "/tmp", "s", "--from", "1:2"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("SEG:OFFSET:SIZE"));
    let o = nwal(&["--version"]);
    assert_eq!(
        stdout(&o).trim(),
        format!("nwal {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn missing_directory_and_unknown_stream_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    for args in [
        vec!["stat", d(&missing)],
        vec!["verify", d(&missing), "s"],
        vec!["dump", d(&missing), "s"],
    ] {
        let o = nwal(&args);
        assert_eq!(code(&o), 3, "{args:?}");
        assert!(stderr(&o).contains("is not a directory"), "{}", stderr(&o));
    }
    make_log(tmp.path());
    let o = nwal(&["verify", d(tmp.path()), "nosuch"]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("no stream \"nosuch\""),
        "{}",
        stderr(&o)
    );
    let o = nwal(&["dump", d(tmp.path()), "../etc"]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("invalid stream name"), "{}", stderr(&o));
}

#[test]
fn stat_lists_streams_segments_and_totals() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = make_log(tmp.path());
    let o = nwal(&["stat", d(tmp.path())]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("stream \"s\""), "{out}");
    assert!(out.contains("stream \"s_1\""), "{out}");
    assert!(
        out.contains("2024-03-23T22:56:00.000Z"),
        "window start of the first segment: {out}"
    );
    assert!(out.contains("total: 3 segment(s)"), "{out}");
    assert!(out.contains("17 record(s)"), "{out}");
    assert!(
        out.contains("total: 1 segment(s)") && out.contains(" 1 record(s)"),
        "{out}"
    );
    let first = refs[0].0;
    assert!(
        out.contains(&format!(
            "{}:{}:{}:{}",
            first.segment_id, first.offset, first.size, first.index
        )),
        "first ref shown: {out}"
    );
    let o = nwal(&["stat", d(tmp.path()), "s_1"]);
    assert!(!stdout(&o).contains("stream \"s\""));
}

#[test]
fn verify_reports_ok_torn_tails_and_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = make_log(tmp.path());
    let o = nwal(&["verify", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("ok: 3 segment(s), 17 record(s) verified"),
        "{}",
        stdout(&o)
    );

    // A torn tail in the newest segment: repairable.
    tear_newest(tmp.path(), &refs);
    let o = nwal(&["verify", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    let last_batch = refs[refs.len() - 2].0;
    assert!(
        out.contains(&format!(
            "segment {} offset {}: torn tail",
            last_batch.segment_id,
            refs.last().unwrap().0.offset
        )),
        "{out}"
    );
    assert!(out.contains("nwal repair"), "{out}");

    // Corruption in the middle of the first segment too.
    let victim = refs[1].0;
    flip_byte(
        &seg_path(tmp.path(), "s", victim.segment_id),
        victim.offset + 30,
    );
    let o = nwal(&["verify", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stdout(&o).lines().count(),
        1,
        "only the first problem without --all"
    );
    assert!(stdout(&o).contains(&format!(
        "segment {} offset {}: corruption",
        victim.segment_id, victim.offset
    )));
    let o = nwal(&["verify", d(tmp.path()), "s", "--all"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o).lines().count(), 2, "{}", stdout(&o));
    assert!(stderr(&o).contains("2 problem(s)"));
}

#[test]
fn dump_formats_from_and_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = make_log(tmp.path());
    let o = nwal(&["dump", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(lines.len(), refs.len());
    let r0 = refs[0].0;
    assert_eq!(
        lines[0],
        format!(
            "{}:{}:{}:{}  header=\"hdr\"  content=\"seg0-rec0\"",
            r0.segment_id, r0.offset, r0.size, r0.index
        )
    );
    assert!(lines[1].ends_with("header=none  content=\"seg0-rec1\""));
    assert!(
        lines[15].ends_with("header=none  content=0x000102ff"),
        "{}",
        lines[15]
    );
    assert!(
        lines[16].ends_with("header=\"\"  content=\"tail\""),
        "{}",
        lines[16]
    );

    let from = refs[5].0;
    let from_s = format!(
        "{}:{}:{}:{}",
        from.segment_id, from.offset, from.size, from.index
    );
    let o = nwal(&[
        "dump",
        d(tmp.path()),
        "s",
        "--from",
        &from_s,
        "--limit",
        "2",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        format!(
            "{{\"segment_id\":{},\"offset\":{},\"size\":{},\"index\":{},\"header_hex\":\"686472\",\"header_text\":\"hdr\",\"content_hex\":\"{}\",\"content_text\":\"seg1-rec0\"}}",
            from.segment_id,
            from.offset,
            from.size,
            from.index,
            b"seg1-rec0".iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    );
    let o = nwal(&["dump", d(tmp.path()), "s", "--format=hex", "--limit=1"]);
    assert!(stdout(&o).trim_end().ends_with(&format!(
        "header=686472  content={}",
        b"seg0-rec0"
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )));

    // A ref that is not a record is refused; corruption stops the dump with exit 1.
    let o = nwal(&[
        "dump",
        d(tmp.path()),
        "s",
        "--from",
        &format!(
            "{}:{}:{}:{}",
            from.segment_id,
            from.offset + 1,
            from.size,
            from.index
        ),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    flip_byte(
        &seg_path(tmp.path(), "s", refs[3].0.segment_id),
        refs[3].0.offset + 26,
    );
    let o = nwal(&["dump", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stdout(&o).lines().count(),
        3,
        "the records before the corruption"
    );
    assert!(
        stderr(&o).contains(&format!("offset {}", refs[3].0.offset)),
        "{}",
        stderr(&o)
    );
}

#[test]
fn repair_cuts_a_torn_tail_and_refuses_corruption_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = make_log(tmp.path());
    let newest_id = refs.last().unwrap().0.segment_id;
    let newest = seg_path(tmp.path(), "s", newest_id);
    let len = std::fs::metadata(&newest).unwrap().len();
    // Garbage after the last record.
    let f = OpenOptions::new().write(true).open(&newest).unwrap();
    f.write_all_at(&[0xEE; 40], len).unwrap();

    let o = nwal(&["repair", d(tmp.path()), "s", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "would cut segment {newest_id} from {} to {len} bytes",
            len + 40
        )),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        std::fs::metadata(&newest).unwrap().len(),
        len + 40,
        "dry run changes nothing"
    );

    // A writer holds the stream: repair refuses, read-only commands still work.
    {
        let _wal = Wal::open(tmp.path(), "s", opts()).unwrap(); // open itself cuts the tail...
        assert_eq!(std::fs::metadata(&newest).unwrap().len(), len);
        let o = nwal(&["repair", d(tmp.path()), "s"]);
        assert!(stdout(&o).contains("nothing to do"), "{}", stdout(&o));
        f.write_all_at(&[0xEE; 40], len).unwrap();
        let o = nwal(&["repair", d(tmp.path()), "s"]);
        assert_eq!(code(&o), 3, "{}", stdout(&o));
        assert!(stderr(&o).contains("locked"), "{}", stderr(&o));
        for args in [
            vec!["stat", d(tmp.path()), "s"],
            vec!["dump", d(tmp.path()), "s", "--limit", "1"],
        ] {
            assert_eq!(
                code(&nwal(&args)),
                0,
                "{args:?} while a writer holds the stream"
            );
        }
        assert_eq!(
            code(&nwal(&["verify", d(tmp.path()), "s"])),
            1,
            "the garbage is seen"
        );
    }
    // The writer's shutdown does not cut garbage written behind its back;
    // repair does, and verify is clean again.
    let o = nwal(&["repair", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("done"));
    assert_eq!(std::fs::metadata(&newest).unwrap().len(), len);
    assert_eq!(code(&nwal(&["verify", d(tmp.path()), "s"])), 0);

    // Corruption with valid records after it: refused, then forced.
    let victim = refs[refs.len() - 4].0; // inside the newest segment, records follow
    assert_eq!(victim.segment_id, newest_id);
    flip_byte(&newest, victim.offset + 25);
    let o = nwal(&["repair", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("refusing"), "{}", stderr(&o));
    let o = nwal(&["repair", d(tmp.path()), "s", "--force"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::metadata(&newest).unwrap().len(), victim.offset);
    let o = nwal(&["verify", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[test]
fn bench_prints_a_summary_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let o = nwal(&["bench", d(tmp.path()), "--records", "2000", "--size", "64"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    for row in [
        "append",
        "durable append",
        "batch append",
        "random read",
        "replay",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(row)),
            "{row}: {out}"
        );
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "bench files removed"
    );
}

/// A sector lost from the unsynced tail (zeros, valid records after it, no
/// record saying it was synced) is reported as lost writes that open cuts,
/// and `repair` cuts it like a torn tail.
#[test]
fn verify_and_repair_treat_a_lost_unsynced_sector_as_cut_by_open() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), "s", opts()).unwrap();
    let refs: Vec<EntryRef> = (0..20u8)
        .map(|i| wal.append(None, &[i + 1; 100], T0, false).unwrap())
        .collect();
    drop(wal);
    let path = seg_path(tmp.path(), "s", refs[0].segment_id);
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(&[0u8; 512], 1024).unwrap();
    let first_bad = refs.iter().find(|r| r.offset + r.size > 1024).unwrap();

    let o = nwal(&["verify", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 1);
    assert!(
        stdout(&o).contains(&format!(
            "offset {}: lost unsynced writes",
            first_bad.offset
        )) && stdout(&o).contains("cuts it off"),
        "{}",
        stdout(&o)
    );
    let o = nwal(&["repair", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), first_bad.offset);
    let o = nwal(&["verify", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

/// Every command's output, help and version text included, on a stdout
/// whose writes fail (ENOSPC): exit 3 with a message naming the write,
/// never a panic, never success.
#[test]
fn a_failed_write_of_the_output_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    make_log(tmp.path());
    let dir = d(tmp.path());
    let bench_dir = tmp.path().join("bench");
    std::fs::create_dir(&bench_dir).unwrap();
    for args in [
        vec!["dump", dir, "s"],
        vec!["dump", dir, "s", "--format", "json", "--limit", "1"],
        vec!["stat", dir],
        vec!["stat", dir, "s_1"],
        vec!["verify", dir, "s"],
        vec!["repair", dir, "s"],
        vec!["repair", dir, "s", "--dry-run"],
        vec!["bench", d(&bench_dir), "--records", "200", "--size", "16"],
        vec!["help"],
        vec!["help", "dump"],
        vec!["--help"],
        vec!["-h"],
        vec!["verify", "--help"],
        vec!["--version"],
        vec!["-V"],
    ] {
        let o = nwal_out(&args, dev_full());
        let err = stderr(&o);
        assert_eq!(code(&o), 3, "{args:?}: {err}");
        assert!(
            err.contains("nwal: error: writing to standard output: No space left on device"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read_dir(&bench_dir).unwrap().count(),
        0,
        "bench files removed"
    );
}

/// A failed write outranks what the command found, which is still said.
#[test]
fn a_failed_write_outranks_problems_found() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = make_log(tmp.path());
    flip_byte(
        &seg_path(tmp.path(), "s", refs[1].0.segment_id),
        refs[1].0.offset + 30,
    );
    let o = nwal_out(&["verify", d(tmp.path()), "s", "--all"], dev_full());
    let err = stderr(&o);
    assert_eq!(code(&o), 3, "{err}");
    assert!(err.contains("problem(s) found"), "{err}");
    assert!(err.contains("writing to standard output"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Repair writes its plan before it changes anything: a plan that cannot
/// be written repairs nothing.
#[test]
fn repair_changes_nothing_when_its_plan_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = make_log(tmp.path());
    let (newest, len) = tear_newest(tmp.path(), &refs);
    let o = nwal_out(&["repair", d(tmp.path()), "s"], dev_full());
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("writing to standard output"));
    assert_eq!(std::fs::metadata(&newest).unwrap().len(), len - 3);
    assert_eq!(code(&nwal(&["verify", d(tmp.path()), "s"])), 1);
}

/// A closed pipe on stdout (the reader went away, as `head` does) is not an
/// error: the output stops, nothing is said, and the exit status is the
/// command's own.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = make_log(tmp.path());
    let dir = d(tmp.path());
    for args in [
        vec!["dump", dir, "s"],
        vec!["stat", dir],
        vec!["verify", dir, "s"],
        vec!["help"],
        vec!["--help"],
        vec!["dump", "--help"],
        vec!["--version"],
    ] {
        let o = nwal_out(&args, closed_pipe());
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).is_empty(), "{args:?}: {}", stderr(&o));
    }
    // What the command found still sets the status.
    flip_byte(
        &seg_path(tmp.path(), "s", refs[1].0.segment_id),
        refs[1].0.offset + 30,
    );
    let o = nwal_out(&["verify", dir, "s"], closed_pipe());
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("problem(s) found") && !err.contains("writing"),
        "{err}"
    );
}

/// The reader of a pipe goes away while a dump of more than the pipe's
/// 64 KiB buffer is under way: the dump stops quietly with status 0.
#[test]
fn a_dump_stops_quietly_when_its_reader_goes_away() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), "big", opts()).unwrap();
    for i in 0..2000u32 {
        wal.append(None, &[(i % 251) as u8; 256], T0, false)
            .unwrap();
    }
    drop(wal);
    let mut child = Command::new(env!("CARGO_BIN_EXE_nwal"))
        .args(["dump", d(tmp.path()), "big", "--format", "hex"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nwal");
    // ~1 MiB of output: the child blocks on the full pipe or has not
    // written yet; either way its next write after this gets EPIPE.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// A file of the repository.
fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Whether a program is installed (it runs with `--version`).
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The commands of `nwal help` (its `  nwal COMMAND ...` lines) and every
/// `--option` of the usage and of each command's help, as the tool prints
/// them.
fn commands_and_options() -> (Vec<String>, std::collections::BTreeSet<String>) {
    let usage = stdout(&nwal(&["help"]));
    let commands: Vec<String> = usage
        .lines()
        .filter_map(|l| l.strip_prefix("  nwal "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| !w.starts_with('-'))
        .map(String::from)
        .collect();
    assert!(commands.len() >= 6, "{usage}");
    let mut texts = vec![usage];
    for c in commands.iter().filter(|c| *c != "help") {
        let o = nwal(&["help", c]);
        assert_eq!(code(&o), 0, "{c}");
        texts.push(stdout(&o));
    }
    let options = texts
        .iter()
        .flat_map(|t| {
            t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .filter(|w| w.starts_with("--") && w.len() > 2)
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    (commands, options)
}

/// The lines of section `name` of a man page's source.
fn man_section<'a>(man: &'a str, name: &str) -> Vec<&'a str> {
    man.lines()
        .skip_while(|l| *l != format!(".SH {name}"))
        .skip(1)
        .take_while(|l| !l.starts_with(".SH "))
        .collect()
}

/// The tags of a section's `.TP` entries (the line after each `.TP`),
/// with roff's `\-` as `-` and font escapes removed.
fn man_tags(section: &[&str]) -> Vec<String> {
    section
        .windows(2)
        .filter(|w| w[0] == ".TP")
        .map(|w| {
            ["\\fB", "\\fI", "\\fR", "\\fP", "\""]
                .iter()
                .fold(w[1].replace("\\-", "-"), |s, e| s.replace(e, " "))
        })
        .collect()
}

/// man/nwal.1 documents exactly the tool's commands and options, its
/// synopsis is the usage's, its version is the crate's, and groff (and
/// lexgrog, for whatis) read it without a warning.
#[test]
fn the_man_page_is_in_step_with_the_tool() {
    let man = repo_file("man/nwal.1");
    for s in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "COMMANDS",
        "OPTIONS",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        assert!(!man_section(&man, s).is_empty(), "section {s}");
    }
    let th = man.lines().find(|l| l.starts_with(".TH ")).unwrap();
    assert!(
        th.contains(&format!("\"nano_wal {}\"", env!("CARGO_PKG_VERSION"))),
        "{th}"
    );

    let (commands, options) = commands_and_options();
    let documented: Vec<String> = man_tags(&man_section(&man, "COMMANDS"))
        .iter()
        .filter_map(|t| t.split_whitespace().nth(1).map(String::from))
        .collect();
    assert_eq!(documented, commands, "COMMANDS, in the usage's order");
    let documented: std::collections::BTreeSet<String> = man_tags(&man_section(&man, "OPTIONS"))
        .iter()
        .flat_map(|t| {
            t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .filter(|w| w.starts_with('-') && w.len() > 1)
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut expected = options.clone();
    expected.extend(["--help", "-h", "-V"].map(String::from));
    assert_eq!(documented, expected, "OPTIONS");
    // The options the tool takes and their short forms: none is a usage error.
    for o in [vec!["-h"], vec!["-V"], vec!["stat", "-h"]] {
        assert_eq!(code(&nwal(&o)), 0, "{o:?}");
    }

    let mut groff_checked = false;
    if installed("groff") {
        // Warnings (-ww) of the man macros, and no output (-z).
        let o = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/nwal.1"))
            .output()
            .unwrap();
        assert!(o.status.success() && o.stderr.is_empty(), "{}", stderr(&o));
        // The synopsis, rendered as plain text on wide lines, has every
        // usage line of the tool.
        let o = Command::new("groff")
            .args(["-man", "-Tascii", "-P-cbou", "-rLL=200n"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/nwal.1"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        let synopsis: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != "SYNOPSIS")
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with(' '))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        for line in stdout(&nwal(&["help"])).lines() {
            if let Some(rest) = line.strip_prefix("  nwal ") {
                let form = format!("nwal {}", rest.split("  ").next().unwrap().trim_end());
                assert!(
                    synopsis.contains(&form.as_str()),
                    "{form:?} in {synopsis:#?}"
                );
            }
        }
        groff_checked = true;
    }
    if installed("lexgrog") {
        let o = Command::new("lexgrog")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/nwal.1"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains("\"nwal - "), "{}", stdout(&o));
    }
    if !groff_checked {
        println!("note: groff is not installed; the man page's rendering was not checked");
    }
}

/// What the completion function of completions/nwal.bash offers for a
/// command line whose last word is the one completed, sorted.
fn complete(words: &[&str]) -> Vec<String> {
    let script = r#"src=$1; shift; source "$src" || exit 1
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
_nwal || exit 1
((${#COMPREPLY[@]})) && printf '%s\n' "${COMPREPLY[@]}"
exit 0"#;
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", script, "bash"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/nwal.bash"))
        .args(words)
        .output()
        .expect("run bash");
    assert!(o.status.success(), "{words:?}: {}", stderr(&o));
    assert!(o.stderr.is_empty(), "{words:?}: {}", stderr(&o));
    let mut offered: Vec<String> = stdout(&o).lines().map(String::from).collect();
    offered.sort();
    offered
}

#[test]
fn bash_completion_offers_commands_options_formats_dirs_and_streams() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    std::fs::create_dir(&log).unwrap();
    make_log(&log);
    // Streams are found from segment names alone, and from lock files alone;
    // other files, and names no stream can have, are not streams.
    for f in ["s.lock", "s_1.lock"] {
        let _ = std::fs::remove_file(log.join(f));
    }
    for f in [
        "lonely.lock",
        "only-meta.meta",
        "notes.txt",
        "x_y.seg",
        ".hidden.lock",
        "a_1_b.seg",
    ] {
        std::fs::write(log.join(f), b"").unwrap();
    }
    std::fs::create_dir(tmp.path().join("logs-old")).unwrap();
    let l = d(&log);
    let v = |items: &[&str]| -> Vec<String> { items.iter().map(|s| s.to_string()).collect() };

    let (commands, _) = commands_and_options();
    let mut all = commands.clone();
    all.extend(["--help", "--version"].map(String::from));
    all.sort();
    assert_eq!(complete(&["nwal", ""]), all);
    assert_eq!(complete(&["nwal", "re"]), v(&["repair"]));
    let mut sorted = commands.clone();
    sorted.sort();
    assert_eq!(complete(&["nwal", "help", ""]), sorted);

    // DIR: directories.
    let prefix = format!("{}/log", d(tmp.path()));
    let dirs = complete(&["nwal", "stat", &prefix]);
    assert_eq!(dirs, v(&[&prefix, &format!("{prefix}s-old")]));
    // STREAM: the streams of DIR.
    let streams = v(&["lonely", "only-meta", "s", "s_1"]);
    assert_eq!(complete(&["nwal", "dump", l, ""]), streams);
    assert_eq!(complete(&["nwal", "verify", l, "s_"]), v(&["s_1"]));
    assert_eq!(complete(&["nwal", "dump", "--limit", "5", l, ""]), streams);
    assert_eq!(
        complete(&["nwal", "dump", l, "--format", "=", "hex", ""]),
        streams
    );
    assert_eq!(complete(&["nwal", "dump", l, "s", ""]), v(&[]));
    assert_eq!(complete(&["nwal", "bench", l, ""]), v(&[]));
    // --format VALUE and --format=VALUE (split at '=' by bash).
    let formats = v(&["hex", "json", "text"]);
    assert_eq!(complete(&["nwal", "dump", l, "s", "--format", ""]), formats);
    assert_eq!(
        complete(&["nwal", "dump", l, "s", "--format", "="]),
        formats
    );
    assert_eq!(
        complete(&["nwal", "dump", l, "s", "--format", "=", "j"]),
        v(&["json"])
    );
    assert_eq!(complete(&["nwal", "dump", l, "s", "--limit", ""]), v(&[]));

    // Each command's options are those of its help, and --help.
    for cmd in commands.iter().filter(|c| *c != "help") {
        let help = stdout(&nwal(&["help", cmd]));
        let mut expected: Vec<String> = help
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(String::from)
            .collect();
        expected.push("--help".into());
        expected.sort();
        expected.dedup();
        assert_eq!(complete(&["nwal", cmd, l, "--"]), expected, "{cmd}");
    }
}

#[test]
fn stat_and_dump_show_indexes_and_dump_takes_an_index_range() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = make_log(tmp.path());
    let o = nwal(&["stat", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("first idx") && out.contains("last idx"),
        "{out}"
    );
    let n = refs.len();
    assert!(out.contains(&format!("indexes 1 to {n}")), "{out}");
    let o = nwal(&[
        "dump",
        d(tmp.path()),
        "s",
        "--from-index",
        "4",
        "--to-index",
        "7",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (line, (r, _)) in lines.iter().zip(&refs[3..7]) {
        let shown = format!("{}:{}:{}:{}", r.segment_id, r.offset, r.size, r.index);
        assert!(line.starts_with(&shown), "{line} for {shown}");
    }
    let o = nwal(&["dump", d(tmp.path()), "s", "--from-index", "99"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let o = nwal(&[
        "dump",
        d(tmp.path()),
        "s",
        "--from-index",
        "1",
        "--from",
        "1:64:1:1",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn verify_checks_the_index_footers_of_sealed_segments() {
    for at_end in [20u64, 40 + 8 * 2] {
        let tmp = tempfile::tempdir().unwrap();
        make_log(tmp.path());
        let o = nwal(&["verify", d(tmp.path()), "s"]);
        assert_eq!(code(&o), 0, "{}", stdout(&o));
        // A byte of segment 1's trailer, or of one of its ends.
        let p = &common::seg_files(tmp.path(), "s")[0].2;
        let len = std::fs::metadata(p).unwrap().len();
        common::flip_byte(p, len - at_end);
        let o = nwal(&["verify", d(tmp.path()), "s"]);
        assert_eq!(code(&o), 1, "{}", stdout(&o));
        assert!(stdout(&o).contains("index footer"), "{}", stdout(&o));
        // The records are still right: dump reads them all.
        let o = nwal(&["dump", d(tmp.path()), "s"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
}

/// A truncation that a crash interrupted before it deleted the segments it
/// dropped: `stat` marks them, `verify` finds the log sound, `dump` shows
/// only the records left, and the next open deletes the files.
#[test]
fn stat_verify_and_dump_see_a_truncation_whose_dropped_files_are_still_there() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = make_log(tmp.path());
    let newest = refs.last().unwrap().0.segment_id;
    let saved = std::fs::read(seg_path(tmp.path(), "s", newest)).unwrap();
    let saved_name = seg_path(tmp.path(), "s", newest);
    let wal = Wal::open(tmp.path(), "s", opts()).unwrap();
    wal.truncate_after(7).unwrap();
    drop(wal);
    std::fs::write(&saved_name, &saved).unwrap(); // the unlink never happened
    let o = nwal(&["stat", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("dropped (no record left"), "{out}");
    assert!(out.contains("indexes 1 to 7"), "{out}");
    let o = nwal(&["verify", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let o = nwal(&["dump", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(lines.len(), 7, "{lines:?}");
    for (line, (r, _)) in lines.iter().zip(&refs[..7]) {
        let shown = format!("{}:{}:{}:{}", r.segment_id, r.offset, r.size, r.index);
        assert!(line.starts_with(&shown), "{line} for {shown}");
    }
    drop(Wal::open(tmp.path(), "s", opts()).unwrap());
    assert!(!saved_name.exists(), "open deletes the dropped segment");
}

#[test]
fn meta_lists_keys_and_prints_a_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = d(tmp.path());
    let long: Vec<u8> = (0..100u8).collect();
    let wal = Wal::open(tmp.path(), "s", opts()).unwrap();
    wal.meta_put("raft.vote", b"node-1").unwrap();
    wal.meta_put("raft.term", &long).unwrap();
    wal.meta_put("empty", b"").unwrap();
    // Read while the writer holds the stream.
    let o = nwal(&["meta", dir, "s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("3 metadata key(s), generation 3"), "{out}");
    assert!(out.contains("purge point: none"), "{out}");
    let keys: Vec<&str> = out
        .lines()
        .skip(3)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(keys, ["empty", "raft.term", "raft.vote"], "{out}");
    let vote = out.lines().find(|l| l.contains("raft.vote")).unwrap();
    assert!(vote.contains(" 6  \"node-1\""), "{vote}");
    let term = out.lines().find(|l| l.contains("raft.term")).unwrap();
    assert!(term.contains("100  0x000102"), "{term}");
    assert!(term.ends_with("1e1f ..."), "{term}");

    let o = nwal(&["meta", dir, "s", "raft.term"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, long, "the value's bytes, exactly");
    let o = nwal(&["meta", dir, "s", "empty"]);
    assert_eq!((code(&o), o.stdout.len()), (0, 0));
    let o = nwal(&["meta", dir, "s", "absent"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no metadata key \"absent\""),
        "{}",
        stderr(&o)
    );
    let o = nwal(&["meta", dir, "s", "bad/key"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = nwal(&["meta", dir, "nope"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    drop(wal);

    // A stream without metadata has none; a metadata file neither of whose
    // slots verifies is an error naming it.
    Wal::open(tmp.path(), "bare", opts()).unwrap();
    let o = nwal(&["meta", dir, "bare"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("0 metadata key(s)"), "{}", stdout(&o));
    let meta = tmp.path().join("s.meta");
    let slot_size = nano_wal::format::meta::SLOT_SIZE as u64;
    flip_byte(&meta, 0);
    flip_byte(&meta, slot_size);
    let o = nwal(&["meta", dir, "s"]);
    assert_eq!(code(&o), 3, "{}", stdout(&o));
    assert!(stderr(&o).contains("s.meta"), "{}", stderr(&o));
}

/// After a purge inside a segment, `stat` counts only the records left and
/// `dump` starts at the first index left.
#[test]
fn stat_and_dump_start_at_the_first_index_a_purge_left() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = make_log(tmp.path());
    let wal = Wal::open(tmp.path(), "s", opts()).unwrap();
    wal.purge_before(8).unwrap();
    drop(wal);
    let o = nwal(&["stat", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let n = refs.len();
    assert!(out.contains(&format!("indexes 8 to {n}")), "{out}");
    assert!(out.contains("(+2 purged)"), "{out}");
    assert!(out.contains(&format!("{} record(s)", n - 7)), "{out}");
    let o = nwal(&["dump", d(tmp.path()), "s"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let first = stdout(&o).lines().next().unwrap().to_string();
    let r = refs[7].0;
    let shown = format!("{}:{}:{}:{}", r.segment_id, r.offset, r.size, r.index);
    assert!(first.starts_with(&shown), "{first} for {shown}");
}

/// `nwal stat` says why each segment is still on disk at `--now`: a
/// hold, an expiration, the size budget, the active segment.
#[test]
fn stat_explains_why_each_segment_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    make_log(tmp.path());
    let wal = Wal::open(tmp.path(), "s", opts()).unwrap();
    wal.hold("replica", 7).unwrap(); // in the second segment
    drop(wal);
    // Every window has expired an hour and three minutes after T0.
    let late = (T0 + 63 * MINUTE).to_string();
    let o = nwal(&["stat", d(tmp.path()), "s", "--now", &late]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("hold \"replica\": keeps index 7 on"), "{out}");
    let lines: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.contains("retention at"))
        .skip(1)
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].contains("cleanup deletes it: expired"), "{out}");
    assert!(
        lines[1].contains("kept: held by \"replica\" (from 7)"),
        "{out}"
    );
    assert!(lines[2].contains("kept: active; held by"), "{out}");
    // Early, with a budget of one byte: the budget would take the first.
    let o = nwal(&[
        "stat",
        d(tmp.path()),
        "s",
        "--now",
        &T0.to_string(),
        "--max-stream-bytes=1",
    ]);
    let out = stdout(&o);
    assert!(out.contains("size budget 1 bytes"), "{out}");
    assert!(
        out.contains("cleanup deletes it: over the size budget"),
        "{out}"
    );
    assert!(out.contains("not expired until"), "{out}");
    let o = nwal(&["stat", d(tmp.path()), "--now", "soon"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

/// `nwal verify --report` predicts what open will do (text and JSON), and
/// open then does exactly that.
#[test]
fn verify_report_says_what_open_would_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = make_log(tmp.path());
    let (newest, len) = tear_newest(tmp.path(), &refs);
    let o = nwal(&["verify", d(tmp.path()), "s", "--report"]);
    assert_eq!(code(&o), 1, "the torn tail is a problem: {}", stderr(&o));
    let out = stdout(&o);
    let last = &refs[refs.len() - 3].0; // the torn batch goes whole
    let kept = last.offset + last.size;
    let seg = refs.last().unwrap().0.segment_id;
    assert!(
        out.contains(&format!(
            "newest segment {seg}: keeps {kept} of {} bytes",
            len - 3
        )),
        "{out}"
    );
    assert!(
        out.contains("nothing acknowledged as durable is cut"),
        "{out}"
    );
    let o = nwal(&["verify", d(tmp.path()), "s", "--report", "--format", "json"]);
    let json = stdout(&o);
    let line = json.lines().last().unwrap();
    assert!(
        line.starts_with(&format!(
            "{{\"tail\":{{\"segment_id\":{seg},\"found_len\":{},\"kept_len\":{kept},",
            len - 3
        )),
        "{line}"
    );
    assert!(line.ends_with("\"cut_below_durable\":false}"), "{line}");
    // Open does what was predicted.
    let wal = Wal::open(tmp.path(), "s", opts()).unwrap();
    let report = wal.recovery_report();
    assert_eq!(report.tail.as_ref().unwrap().kept_len, kept);
    assert_eq!(std::fs::metadata(&newest).unwrap().len(), kept);
    drop(wal);
    let o = nwal(&["verify", d(tmp.path()), "s", "--report", "--format", "hex"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}
