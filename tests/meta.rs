// SPDX-License-Identifier: MIT
//! The metadata slot through the Rust API: put, get and replace, the key,
//! value and key-count limits (each bad input refused with nothing
//! written), `meta_get_into` and its buffer-too-small error, survival of
//! reopen and retention, a damaged metadata file (a torn slot falls back,
//! two bad slots refuse open unless salvaging), shutdown, concurrent puts,
//! and that the metadata file is a stream's file for the read-only tools.

mod common;

use common::{opts, test_opts, Rng, DUR, T0};
use nano_wal::format::meta::SLOT_SIZE;
use nano_wal::{Wal, WalError, WalOptions};
use std::fs;
use std::path::{Path, PathBuf};

fn meta_path(dir: &Path, stream: &str) -> PathBuf {
    dir.join(format!("{stream}.meta"))
}

#[test]
fn put_get_replace_and_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let wal = Wal::open(dir, "s", test_opts()).unwrap();
        assert_eq!(wal.meta_get("vote").unwrap(), None);
        assert!(
            !meta_path(dir, "s").exists(),
            "no file before the first put"
        );
        wal.meta_put("vote", b"node-1").unwrap();
        wal.meta_put("term", &7u64.to_le_bytes()).unwrap();
        wal.meta_put("empty", b"").unwrap();
        assert_eq!(wal.meta_get("vote").unwrap().unwrap(), b"node-1");
        wal.meta_put("vote", b"node-22").unwrap();
        assert_eq!(wal.meta_get("vote").unwrap().unwrap(), b"node-22");
        assert_eq!(wal.meta_get("empty").unwrap().unwrap(), b"");
        assert_eq!(
            wal.meta_get("Vote").unwrap(),
            None,
            "keys are case-sensitive"
        );
        let keys: Vec<String> = wal.meta_entries().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["empty", "term", "vote"]);
    }
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    assert_eq!(wal.meta_get("vote").unwrap().unwrap(), b"node-22");
    assert_eq!(wal.meta_get("term").unwrap().unwrap(), 7u64.to_le_bytes());
    assert_eq!(wal.meta_get("empty").unwrap().unwrap(), b"");
    // Another stream in the same directory has its own metadata.
    let other = Wal::open(dir, "t", test_opts()).unwrap();
    assert_eq!(other.meta_get("vote").unwrap(), None);
    // The file holds the two slots and nothing more.
    assert!(fs::metadata(meta_path(dir, "s")).unwrap().len() <= 2 * SLOT_SIZE as u64);
}

#[test]
fn values_up_to_4096_bytes_and_64_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    let mut rng = Rng::new(64);
    let mut want = Vec::new();
    for i in 0..64 {
        let key = format!("{i:0>64}");
        let value = rng.bytes(4096);
        wal.meta_put(&key, &value).unwrap();
        want.push((key, value));
    }
    assert_eq!(wal.meta_entries(), want);
    let before = fs::read(meta_path(dir, "s")).unwrap();
    let e = wal.meta_put("one-too-many", b"x").unwrap_err();
    assert!(
        matches!(&e, WalError::InvalidArgument(m) if m.contains("64 keys")),
        "{e}"
    );
    assert_eq!(
        fs::read(meta_path(dir, "s")).unwrap(),
        before,
        "nothing written"
    );
    assert_eq!(wal.meta_get("one-too-many").unwrap(), None);
    // An existing key can still be replaced.
    wal.meta_put(&want[5].0, b"smaller").unwrap();
    want[5].1 = b"smaller".to_vec();
    drop(wal);
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    assert_eq!(wal.meta_entries(), want);
}

#[test]
fn bad_keys_and_values_are_refused_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    let long_key = "k".repeat(65);
    let bad_keys = ["", &long_key, "a/b", "../x", "a b", "a\0b", "é", "key:1"];
    for key in bad_keys {
        let e = wal.meta_put(key, b"v").unwrap_err();
        assert!(
            matches!(&e, WalError::InvalidArgument(m) if m.contains("metadata key")),
            "{key:?}: {e}"
        );
        assert!(matches!(
            wal.meta_get(key),
            Err(WalError::InvalidArgument(_))
        ));
    }
    let e = wal.meta_put("k", &[0; 4097]).unwrap_err();
    assert!(
        matches!(&e, WalError::InvalidArgument(m) if m.contains("4096")),
        "{e}"
    );
    assert!(!meta_path(dir, "s").exists(), "no file for refused puts");
    wal.meta_put("k", b"kept").unwrap();
    let before = fs::read(meta_path(dir, "s")).unwrap();
    assert!(wal.meta_put("k", &[1; 5000]).is_err());
    assert!(wal.meta_put("", b"x").is_err());
    assert_eq!(fs::read(meta_path(dir, "s")).unwrap(), before);
    assert_eq!(wal.meta_get("k").unwrap().unwrap(), b"kept");
    // No key ever names a file.
    let names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["s.lock", "s.meta"]);
}

#[test]
fn get_into_copies_or_reports_the_length_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), "s", test_opts()).unwrap();
    wal.meta_put("v", b"hello").unwrap();
    wal.meta_put("e", b"").unwrap();
    let mut buf = [0xEEu8; 8];
    assert_eq!(wal.meta_get_into("v", &mut buf).unwrap(), 5);
    assert_eq!(&buf, b"hello\xEE\xEE\xEE", "bytes past the value untouched");
    let mut exact = [0u8; 5];
    assert_eq!(wal.meta_get_into("v", &mut exact).unwrap(), 5);
    assert_eq!(&exact, b"hello");
    let mut small = [0xEEu8; 4];
    match wal.meta_get_into("v", &mut small) {
        Err(WalError::BufferTooSmall { needed, capacity }) => {
            assert_eq!((needed, capacity), (5, 4))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(small, [0xEE; 4], "nothing copied");
    assert!(matches!(
        wal.meta_get_into("v", &mut []),
        Err(WalError::BufferTooSmall { needed: 5, .. })
    ));
    assert_eq!(wal.meta_get_into("e", &mut []).unwrap(), 0);
    let e = wal.meta_get_into("absent", &mut buf).unwrap_err();
    assert!(
        matches!(&e, WalError::MetaKeyNotFound(k) if k == "absent"),
        "{e}"
    );
    assert!(e.to_string().contains("absent"));
    assert!(matches!(
        wal.meta_get_into("bad key", &mut buf),
        Err(WalError::InvalidArgument(_))
    ));
}

/// The metadata lives beside the segments: deleting every expired
/// segment, writing new ones and reopening leave it as it was.
#[test]
fn metadata_survives_retention_and_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = opts(DUR as u64, DUR as u64);
    {
        let wal = Wal::open(dir, "s", o.clone()).unwrap();
        wal.meta_put("snapshot", b"index=3").unwrap();
        for i in 0..5 {
            wal.append(None, b"r", T0 + i * DUR, true).unwrap();
        }
        let done = wal.cleanup(T0 + 10 * DUR).unwrap();
        assert!(!done.deleted.is_empty());
        assert_eq!(wal.meta_get("snapshot").unwrap().unwrap(), b"index=3");
    }
    let wal = Wal::open(dir, "s", o).unwrap();
    assert_eq!(wal.meta_get("snapshot").unwrap().unwrap(), b"index=3");
    assert_eq!(wal.last_index(), 5, "the log is unchanged by the metadata");
}

#[test]
fn puts_after_shutdown_are_refused_gets_still_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), "s", test_opts()).unwrap();
    wal.meta_put("k", b"v").unwrap();
    wal.shutdown().unwrap();
    assert!(matches!(wal.meta_put("k", b"w"), Err(WalError::Shutdown)));
    assert_eq!(wal.meta_get("k").unwrap().unwrap(), b"v");
    // The next handle (the lock is free) writes.
    let next = Wal::open(tmp.path(), "s", test_opts()).unwrap();
    next.meta_put("k", b"w").unwrap();
    assert_eq!(next.meta_get("k").unwrap().unwrap(), b"w");
}

/// Write `bytes` at `offset` of `path`.
fn overwrite(path: &Path, offset: usize, bytes: &[u8]) {
    let mut file = fs::read(path).unwrap();
    if file.len() < offset + bytes.len() {
        file.resize(offset + bytes.len(), 0);
    }
    file[offset..offset + bytes.len()].copy_from_slice(bytes);
    fs::write(path, file).unwrap();
}

#[test]
fn a_damaged_slot_falls_back_and_two_refuse_open_unless_salvaging() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let wal = Wal::open(dir, "s", test_opts()).unwrap();
        wal.meta_put("k", b"one").unwrap(); // slot 0
        wal.meta_put("k", b"two").unwrap(); // slot 1
    }
    let path = meta_path(dir, "s");
    let good = fs::read(&path).unwrap();
    // The newest slot (1) damaged: the previous value (limit: bit rot of
    // the newest slot looks like a torn put).
    overwrite(&path, SLOT_SIZE + 20, &[0xFF]);
    {
        let wal = Wal::open(dir, "s", test_opts()).unwrap();
        assert_eq!(wal.meta_get("k").unwrap().unwrap(), b"one");
        // The next put goes into the damaged slot; both verify again.
        wal.meta_put("k", b"three").unwrap();
    }
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    assert_eq!(wal.meta_get("k").unwrap().unwrap(), b"three");
    drop(wal);

    // Both slots damaged: corruption, naming the file.
    fs::write(&path, &good).unwrap();
    overwrite(&path, 20, &[0xFF]);
    overwrite(&path, SLOT_SIZE + 20, &[0xFF]);
    let e = Wal::open(dir, "s", test_opts()).unwrap_err();
    match &e {
        WalError::CorruptedFile { path: p, detail } => {
            assert_eq!(p, &path);
            assert!(detail.contains("neither metadata slot"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("s.meta"), "{e}");
    let salvage = WalOptions {
        salvage: true,
        ..test_opts()
    };
    let wal = Wal::open(dir, "s", salvage).unwrap();
    assert_eq!(wal.meta_get("k").unwrap(), None, "salvage starts empty");
    wal.meta_put("k", b"after salvage").unwrap();
    drop(wal);
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    assert_eq!(wal.meta_get("k").unwrap().unwrap(), b"after salvage");
}

#[test]
fn a_slot_copied_to_the_other_offset_is_not_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let wal = Wal::open(dir, "s", test_opts()).unwrap();
        wal.meta_put("k", b"one").unwrap(); // slot 0, generation 1
        wal.meta_put("k", b"two").unwrap(); // slot 1, generation 2
        wal.meta_put("k", b"three").unwrap(); // slot 0, generation 3
    }
    let path = meta_path(dir, "s");
    let file = fs::read(&path).unwrap();
    // Slot 0 (the newest) copied over slot 1: slot 1 no longer verifies,
    // so slot 0 is still the one taken; copied over slot 1 alone after
    // slot 0 is damaged, nothing verifies.
    let slot0 = file[..SLOT_SIZE.min(file.len())].to_vec();
    overwrite(&path, SLOT_SIZE, &slot0);
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    assert_eq!(wal.meta_get("k").unwrap().unwrap(), b"three");
    drop(wal);
    overwrite(&path, 0, &[0xFF; 8]);
    assert!(matches!(
        Wal::open(dir, "s", test_opts()),
        Err(WalError::CorruptedFile { .. })
    ));
}

#[test]
fn concurrent_puts_each_keep_their_last_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let wal = &wal;
            s.spawn(move || {
                for i in 0..20u8 {
                    wal.meta_put(&format!("thread-{t}"), &[t, i]).unwrap();
                    let got = wal.meta_get(&format!("thread-{t}")).unwrap().unwrap();
                    assert_eq!(got, [t, i], "a thread reads its own last put");
                }
            });
        }
        // A reader alongside: every value it sees is one that was put.
        s.spawn(|| {
            for _ in 0..200 {
                for (k, v) in wal.meta_entries() {
                    let t: u8 = k.strip_prefix("thread-").unwrap().parse().unwrap();
                    assert!(v.len() == 2 && v[0] == t && v[1] < 20, "{k}: {v:?}");
                }
            }
        });
    });
    drop(wal);
    let wal = Wal::open(dir, "s", test_opts()).unwrap();
    for t in 0..4u8 {
        assert_eq!(
            wal.meta_get(&format!("thread-{t}")).unwrap().unwrap(),
            [t, 19]
        );
    }
}

#[test]
fn the_metadata_file_belongs_to_its_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Streams whose names look like another's files.
    for stream in ["a", "a.meta", "a.lock"] {
        let wal = Wal::open(dir, stream, test_opts()).unwrap();
        wal.meta_put("who", stream.as_bytes()).unwrap();
    }
    for stream in ["a", "a.meta", "a.lock"] {
        let wal = Wal::open(dir, stream, test_opts()).unwrap();
        assert_eq!(wal.meta_get("who").unwrap().unwrap(), stream.as_bytes());
        assert_eq!(wal.segments().len(), 0, "no segment made by metadata");
    }
    assert_eq!(
        nano_wal::inspect::list_streams(dir).unwrap(),
        ["a", "a.lock", "a.meta"]
    );
    // A stream with only its metadata file left is still listed and viewable.
    fs::remove_file(dir.join("a.lock")).unwrap();
    assert!(nano_wal::inspect::list_streams(dir)
        .unwrap()
        .contains(&"a".to_string()));
    nano_wal::inspect::LogView::open(dir, "a").unwrap();
}
