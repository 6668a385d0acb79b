// SPDX-License-Identifier: MIT
//! A full disk, for real: a file-size limit (RLIMIT_FSIZE gives EFBIG) and a
//! tiny tmpfs (ENOSPC), each in a child process so the limit or the mount
//! namespace does not touch the other tests. The append that does not fit
//! returns an I/O error with its errno, every earlier ref still reads back,
//! and once space returns the log goes on with no ref pointing at wrong
//! bytes. A metadata put that does not fit fails with its errno and keeps
//! the old value; once space returns puts work and survive reopen.

use nano_wal::{EntryRef, Wal, WalError, WalOptions, WriteEntry};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;
const CHILD_ENV: &str = "NWAL_FULL_DISK_CHILD";

fn opts() -> WalOptions {
    WalOptions {
        segment_duration: Duration::from_secs(1),
        retention: Duration::from_secs(3600),
        ..Default::default()
    }
}

/// Append (singles and batches, rolling windows) until an append fails;
/// return what was acknowledged and the error.
fn fill(wal: &Wal) -> (Vec<(EntryRef, Vec<u8>)>, WalError) {
    let mut acked = Vec::new();
    for i in 0u32.. {
        let now = T0 + i64::from(i / 50) * 1000;
        let content = vec![(i % 251) as u8; 300 + (i as usize * 7) % 900];
        let result = if i % 5 == 0 {
            let second = vec![1u8; 200];
            wal.append_batch(
                &[
                    WriteEntry {
                        header: Some(b"b"),
                        content: &content,
                    },
                    WriteEntry {
                        header: None,
                        content: &second,
                    },
                ],
                now,
                i % 3 == 0,
            )
            .map(|refs| {
                acked.push((refs[0], content.clone()));
                acked.push((refs[1], second.clone()));
            })
        } else {
            wal.append(None, &content, now, i % 3 == 0)
                .map(|r| acked.push((r, content.clone())))
        };
        if let Err(e) = result {
            return (acked, e);
        }
    }
    unreachable!()
}

fn check_all(wal: &Wal, acked: &[(EntryRef, Vec<u8>)]) {
    for (r, c) in acked {
        assert_eq!(&wal.read(*r).unwrap().content[..], &c[..], "{r:?}");
    }
    let replayed: Vec<EntryRef> = wal.replay(None).unwrap().map(|x| x.unwrap().0).collect();
    assert_eq!(replayed, acked.iter().map(|a| a.0).collect::<Vec<_>>());
}

/// The scenario run inside the child, with `free_space` making room again.
/// `meta_fails`: a metadata put into slot 1 (at 264 KiB) fails too while
/// the disk is full (true under the file-size limit; on the full tmpfs
/// whether a page is left after the failed appends were cut back is not
/// known).
fn scenario(dir: &Path, errno: i32, meta_fails: bool, free_space: impl FnOnce()) {
    let wal = Wal::open(dir, "full", opts()).unwrap();
    wal.meta_put("k", b"before").unwrap(); // slot 0, at offset 0
    let (mut acked, err) = fill(&wal);
    assert!(acked.len() > 20, "some appends fit ({})", acked.len());
    assert_eq!(err.os_error(), Some(errno), "{err}");
    assert!(matches!(err, WalError::Io { .. }));
    check_all(&wal, &acked);
    // Still full: fails again, loses nothing.
    let big = vec![9u8; 64 * 1024];
    assert_eq!(
        wal.append(None, &big, T0 + 1_000_000, false)
            .unwrap_err()
            .os_error(),
        Some(errno)
    );
    check_all(&wal, &acked);
    let value = vec![7u8; 4096];
    if meta_fails {
        let e = wal.meta_put("k", &value).unwrap_err();
        assert_eq!(e.os_error(), Some(errno), "{e}");
        assert_eq!(wal.meta_get("k").unwrap().unwrap(), b"before");
    }
    free_space();
    wal.meta_put("k", &value).unwrap();
    // Space is back: appends work in the current segment and in new ones.
    let last = acked.last().unwrap().0;
    let now_last = T0 + 1_000_000;
    for (i, c) in [b"back 1".to_vec(), b"back 2".to_vec(), big.clone()]
        .into_iter()
        .enumerate()
    {
        let r = wal
            .append(None, &c, now_last + i as i64 * 1000, true)
            .unwrap();
        assert!(r > last);
        acked.push((r, c));
    }
    check_all(&wal, &acked);
    drop(wal);
    let wal = Wal::open(dir, "full", opts()).unwrap();
    check_all(&wal, &acked);
    assert_eq!(wal.meta_get("k").unwrap().unwrap(), value);
}

fn run_child(test: &str, dir: &Path, wrapper: &[&str]) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = if wrapper.is_empty() {
        Command::new(&exe)
    } else {
        let mut c = Command::new(wrapper[0]);
        c.args(&wrapper[1..]).arg(&exe);
        c
    };
    let out = cmd
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(text.contains("1 passed"), "child ran the scenario:\n{text}");
}

fn child_dir() -> Option<PathBuf> {
    std::env::var_os(CHILD_ENV).map(PathBuf::from)
}

#[test]
fn file_size_limit_gives_efbig_and_the_log_recovers_when_it_is_raised() {
    let Some(dir) = child_dir() else {
        let tmp = tempfile::tempdir().unwrap();
        run_child(
            "file_size_limit_gives_efbig_and_the_log_recovers_when_it_is_raised",
            tmp.path(),
            &[],
        );
        return;
    };
    // SAFETY: plain libc calls on this process's own signal disposition and
    // resource limits, made in a child process that runs only this test.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut lim: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim), 0);
        let hard = lim.rlim_max;
        lim.rlim_cur = 40 * 1024;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
        scenario(&dir, libc::EFBIG, true, || {
            let raised = libc::rlimit {
                rlim_cur: hard,
                rlim_max: hard,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &raised), 0);
        });
    }
}

#[test]
fn tiny_tmpfs_gives_enospc_and_the_log_recovers_when_space_is_freed() {
    let Some(dir) = child_dir() else {
        // A 256 KiB tmpfs in a private mount namespace, then the child.
        let tmp = tempfile::tempdir().unwrap();
        let mnt = tmp.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let script = format!(
            "mount -t tmpfs -o size=256k tmpfs '{m}' && exec \"$0\" \"$@\"",
            m = mnt.display()
        );
        run_child(
            "tiny_tmpfs_gives_enospc_and_the_log_recovers_when_space_is_freed",
            &mnt,
            &[
                "unshare",
                "--user",
                "--map-root-user",
                "--mount",
                "sh",
                "-c",
                &script,
            ],
        );
        return;
    };
    // Ballast that is deleted to make space again.
    let ballast = dir.join("ballast");
    std::fs::write(&ballast, vec![0u8; 96 * 1024]).unwrap();
    let wal_dir = dir.join("wal");
    scenario(&wal_dir, libc::ENOSPC, false, || {
        std::fs::remove_file(&ballast).unwrap()
    });
}
