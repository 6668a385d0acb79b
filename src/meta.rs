// SPDX-License-Identifier: MIT
//! The metadata store of a stream: a small map of keys to values (and the
//! log's purge point) kept in `{stream}.meta`, beside the segments, so
//! nothing that removes records from the log touches it. The bytes are
//! `format::meta`'s; this module reads the file at open, picks the current
//! slot, and writes each change into the other slot (docs/FORMAT.md,
//! "Metadata file"; the crash states in docs/RELIABILITY.md).
//!
//! A change is durable when it returns `Ok`: one `pwrite` of the whole map
//! into the slot not holding the current value, then `fdatasync` (the first
//! change of a handle uses `fsync` of the file and of the directory
//! instead, so the file's directory entry is durable too). A deferred
//! change (a deferred purge) is the `pwrite` alone: the slot it wrote is
//! *pending*, and every later change writes that same slot again until a
//! sync makes it durable, so the other slot keeps the last synced map
//! whole through any crash. Readers never
//! wait: they load the current map from an `ArcSwap`, replaced after the
//! sync. A failed sync makes the store fail-stop: every later change is
//! refused until the stream is reopened, since what reached the disk is
//! then unknown. The log itself is not affected.

use crate::error::{Result, WalError};
use crate::format::meta::{
    decode_slot, encode_slot, validate_meta_key, validate_meta_value, MetaSlot, PurgePoint,
    MAX_META_KEYS, SLOT_SIZE,
};
use crate::format::names::meta_file_name;
use crate::sys;
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The metadata of one open stream.
#[derive(Debug)]
pub(crate) struct MetaStore {
    path: PathBuf,
    dir: PathBuf,
    file_mode: u32,
    /// Changes serialise on it (through their sync). Taken after any other
    /// lock of the engine, and nothing is locked under it.
    state: Mutex<State>,
    /// The current map, for readers (replaced under `state`, after the sync).
    current: ArcSwap<MetaSlot>,
}

#[derive(Debug)]
struct State {
    /// The file, once it exists.
    file: Option<File>,
    /// The directory, to fsync the file's entry.
    dir_file: File,
    /// Which slot holds the current map (None: no slot verifies).
    slot: Option<u8>,
    /// The current map's slot was written by a deferred change and not
    /// synced since: the other slot holds the last synced map.
    pending: bool,
    /// The file's directory entry is known durable: fsynced by this handle.
    entry_synced: bool,
    /// Set by a failed sync: why changes are refused.
    failed: Option<(String, Option<i32>, io::ErrorKind)>,
    /// Set by shutdown (the stream lock is released after it).
    closed: bool,
}

/// What a metadata file holds.
pub(crate) struct Loaded {
    pub meta: MetaSlot,
    /// The slot it came from (None: empty, no slot verifies).
    pub slot: Option<u8>,
}

/// Read the metadata file at `path`, if there is one (None when it does not
/// exist), and pick its current slot; the file is opened for writing too
/// when `write`. `salvage` treats a file neither of whose slots verifies as
/// empty instead of refusing it.
pub(crate) fn read_file(path: &Path, write: bool, salvage: bool) -> Result<Option<(File, Loaded)>> {
    let mut file = match OpenOptions::new().read(true).write(write).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WalError::io(format!("opening {}", path.display()), e)),
    };
    let mut bytes = Vec::new();
    (&mut file)
        .take(2 * SLOT_SIZE as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| WalError::io(format!("reading {}", path.display()), e))?;
    let loaded = choose(&bytes, path, salvage)?;
    Ok(Some((file, loaded)))
}

/// The current slot of a metadata file's `bytes`: the verifying slot with
/// the higher generation. A slot that does not verify is a torn write when
/// the other verifies; when neither does, the file is a torn creation if
/// slot 1 was never written (absent or zeros), and corrupt otherwise.
pub(crate) fn choose(bytes: &[u8], path: &Path, salvage: bool) -> Result<Loaded> {
    let region = |n: usize| {
        let b = bytes.get(n * SLOT_SIZE..).unwrap_or(&[]);
        &b[..b.len().min(SLOT_SIZE)]
    };
    let corrupted = |detail: String| WalError::CorruptedFile {
        path: path.to_path_buf(),
        detail,
    };
    let loaded = |meta, slot| Ok(Loaded { meta, slot });
    match (decode_slot(region(0), 0), decode_slot(region(1), 1)) {
        (Ok(a), Ok(b)) if a.generation > b.generation => loaded(a, Some(0)),
        (Ok(a), Ok(b)) if b.generation > a.generation => loaded(b, Some(1)),
        (Ok(a), Ok(_)) if !salvage => Err(corrupted(format!(
            "both metadata slots hold generation {}",
            a.generation
        ))),
        (Ok(a), _) => loaded(a, Some(0)),
        (Err(_), Ok(b)) => loaded(b, Some(1)),
        (Err(_), Err(_)) if salvage || region(1).iter().all(|&b| b == 0) => {
            loaded(MetaSlot::default(), None)
        }
        (Err(e0), Err(e1)) => Err(corrupted(format!(
            "neither metadata slot verifies (slot 0: {e0}; slot 1: {e1}); \
             open with the salvage option to start from empty metadata"
        ))),
    }
}

impl MetaStore {
    /// Open the metadata of `stream` in `dir` (the stream lock held).
    pub fn open(
        dir: &Path,
        dir_file: &File,
        stream: &str,
        file_mode: u32,
        salvage: bool,
    ) -> Result<MetaStore> {
        let path = dir.join(meta_file_name(stream));
        let (file, loaded) = match read_file(&path, true, salvage)? {
            Some((file, loaded)) => (Some(file), loaded),
            None => (
                None,
                Loaded {
                    meta: MetaSlot::default(),
                    slot: None,
                },
            ),
        };
        let dir_file = dir_file
            .try_clone()
            .map_err(|e| WalError::io(format!("duplicating the fd of {}", dir.display()), e))?;
        Ok(MetaStore {
            path,
            dir: dir.to_path_buf(),
            file_mode,
            state: Mutex::new(State {
                file,
                dir_file,
                slot: loaded.slot,
                pending: false,
                entry_synced: false,
                failed: None,
                closed: false,
            }),
            current: ArcSwap::from_pointee(loaded.meta),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under the lock leaves `State` as it was before the change
        // or after it: each field is set in one store after the call it
        // describes.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Set `key` to `value`, atomically and durably.
    pub fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        validate_meta_key(key)?;
        validate_meta_value(value)?;
        let mut st = self.lock();
        let mut next = MetaSlot::clone(&self.current.load());
        if next.entries.len() >= MAX_META_KEYS && !next.entries.contains_key(key) {
            return Err(WalError::InvalidArgument(format!(
                "metadata key {key:?} is new and the stream already holds the maximum of \
                 {MAX_META_KEYS} keys (nothing written)"
            )));
        }
        next.entries.insert(key.to_string(), value.to_vec());
        self.write(&mut st, next, true)
    }

    /// Change the keys with `change` (which may refuse), then write the
    /// result atomically and durably: nothing is written when it refuses
    /// or when the result would hold more than the maximum of keys.
    pub fn update(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.lock();
        let mut next = MetaSlot::clone(&self.current.load());
        let before = next.entries.len();
        change(&mut next.entries)?;
        if next.entries.len() > MAX_META_KEYS.max(before) {
            return Err(WalError::InvalidArgument(format!(
                "the stream already holds the maximum of {MAX_META_KEYS} metadata keys and \
                 reader holds (nothing written)"
            )));
        }
        self.write(&mut st, next, true)
    }

    /// The value of `key`, if it has one.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        validate_meta_key(key)?;
        Ok(self.current.load().entries.get(key).cloned())
    }

    /// Copy the value of `key` into the front of `buf` and return its
    /// length; `BufferTooSmall` (nothing copied) when it does not fit,
    /// `MetaKeyNotFound` when the key has no value.
    pub fn get_into(&self, key: &str, buf: &mut [u8]) -> Result<usize> {
        validate_meta_key(key)?;
        let current = self.current.load();
        let value = current
            .entries
            .get(key)
            .ok_or_else(|| WalError::MetaKeyNotFound(key.to_string()))?;
        let capacity = buf.len();
        let dest = buf.get_mut(..value.len()).ok_or(WalError::BufferTooSmall {
            needed: value.len(),
            capacity,
        })?;
        dest.copy_from_slice(value);
        Ok(value.len())
    }

    /// Every key and value, sorted by key.
    pub fn entries(&self) -> Vec<(String, Vec<u8>)> {
        let current = self.current.load();
        current
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The purge point last set, if any.
    pub fn purge_point(&self) -> Option<PurgePoint> {
        self.current.load().purge
    }

    /// Set the purge point atomically, keeping the keys: durably, or with
    /// `durable` false deferred (written, not synced: a crash before the
    /// next sync may bring back the map of the last sync, never an older
    /// one nor a torn one).
    pub fn set_purge_point(&self, point: PurgePoint, durable: bool) -> Result<()> {
        if point.before == 0 {
            return Err(WalError::InvalidArgument(
                "a purge point is before an index of at least 1".into(),
            ));
        }
        let mut st = self.lock();
        let mut next = MetaSlot::clone(&self.current.load());
        next.purge = Some(point);
        self.write(&mut st, next, durable)
    }

    /// Make a deferred change durable (nothing to do without one). A
    /// failure makes the store fail-stop.
    pub fn sync_pending(&self) -> Result<()> {
        let mut st = self.lock();
        if !st.pending {
            return Ok(());
        }
        Self::check_usable(&st)?;
        self.sync(&mut st)?;
        st.pending = false;
        Ok(())
    }

    /// Refuse every later change (shutdown, before the stream lock goes).
    pub fn close(&self) {
        self.lock().closed = true;
    }

    /// Refuse a change after close or after a failed sync.
    fn check_usable(st: &State) -> Result<()> {
        if st.closed {
            return Err(WalError::Shutdown);
        }
        if let Some((context, errno, kind)) = &st.failed {
            let source = errno.map_or_else(|| io::Error::from(*kind), io::Error::from_raw_os_error);
            return Err(WalError::io(
                format!(
                    "the metadata of this stream is read-only (fail-stop) because {context} \
                     failed earlier; reopen the stream"
                ),
                source,
            ));
        }
        Ok(())
    }

    /// Write `next` (one generation up) into the slot not holding the last
    /// synced map, make it durable (unless deferred), then publish it.
    fn write(&self, st: &mut State, mut next: MetaSlot, durable: bool) -> Result<()> {
        Self::check_usable(st)?;
        next.generation = self.current.load().generation + 1;
        // A pending slot is written again: the other one holds the last
        // synced map, which must stay whole until this one is synced.
        let slot = match (st.slot, st.pending) {
            (Some(s), true) => s,
            (Some(0), false) => 1,
            _ => 0,
        };
        let bytes = encode_slot(&next, slot);
        if st.file.is_none() {
            st.file = Some(self.create()?);
        }
        let file = st.file.as_ref().expect("created above");
        let offset = u64::from(slot) * SLOT_SIZE as u64;
        if let Err(e) = sys::pwritev_all(file, &self.path, &[IoSlice::new(&bytes)], offset) {
            let context = format!("writing metadata slot {slot} of {}", self.path.display());
            if st.pending {
                // The slot held the current map, not yet synced: what is
                // in it now is unknown, so no later sync may call it durable.
                st.failed = Some((context.clone(), e.raw_os_error(), e.kind()));
            }
            return Err(WalError::io(context, e));
        }
        st.slot = Some(slot);
        // A failed sync leaves the store fail-stop: no later change.
        if durable {
            self.sync(st)?;
        }
        st.pending = !durable;
        self.current.store(Arc::new(next));
        Ok(())
    }

    /// `fdatasync` the file, or (until this handle has done it once) fsync
    /// it and the directory, so its entry is durable whoever created it.
    /// A failure makes the store fail-stop.
    fn sync(&self, st: &mut State) -> Result<()> {
        let file = st.file.as_ref().expect("written before the sync");
        let (what, r) = if st.entry_synced {
            ("fdatasync", sys::fdatasync(file, &self.path))
        } else {
            match sys::fsync(file, &self.path) {
                Ok(()) => (
                    "fsync of the directory",
                    sys::fsync(&st.dir_file, &self.dir),
                ),
                Err(e) => ("fsync of the file", Err(e)),
            }
        };
        match r {
            Ok(()) => {
                st.entry_synced = true;
                Ok(())
            }
            Err(e) => {
                let context = format!("the {what} after writing {}", self.path.display());
                st.failed = Some((context.clone(), e.raw_os_error(), e.kind()));
                Err(WalError::io(context, e))
            }
        }
    }

    fn create(&self) -> Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(self.file_mode)
            .open(&self.path)
            .map_err(|e| WalError::io(format!("creating {}", self.path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> MetaStore {
        let dir_file = File::open(dir).unwrap();
        MetaStore::open(dir, &dir_file, "s", 0o600, false).unwrap()
    }

    #[test]
    fn the_purge_point_is_durable_and_keeps_the_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let point = PurgePoint {
            before: 1000,
            segment_id: 7,
        };
        {
            let store = open(tmp.path());
            assert_eq!(store.purge_point(), None);
            store.put("vote", b"n1").unwrap();
            store.set_purge_point(point, true).unwrap();
            assert_eq!(store.purge_point(), Some(point));
            assert_eq!(store.get("vote").unwrap().unwrap(), b"n1");
            let zero = PurgePoint {
                before: 0,
                segment_id: 7,
            };
            assert!(matches!(
                store.set_purge_point(zero, true),
                Err(WalError::InvalidArgument(_))
            ));
            assert_eq!(store.purge_point(), Some(point));
        }
        let store = open(tmp.path());
        assert_eq!(store.purge_point(), Some(point));
        assert_eq!(store.get("vote").unwrap().unwrap(), b"n1");
        // A put keeps the purge point; a later purge point replaces it.
        store.put("term", b"3").unwrap();
        let later = PurgePoint {
            before: 2000,
            segment_id: 9,
        };
        store.set_purge_point(later, true).unwrap();
        drop(store);
        let store = open(tmp.path());
        assert_eq!(store.purge_point(), Some(later));
        assert_eq!(store.entries().len(), 2);
    }

    /// Deferred changes write the pending slot again and again, so the
    /// other slot keeps the synced map byte for byte; once synced, the
    /// next change writes the other slot.
    #[test]
    fn deferred_changes_rewrite_the_pending_slot_until_it_is_synced() {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path());
        let point = |before| PurgePoint {
            before,
            segment_id: 1,
        };
        // Each slot's bytes without the zeros after them (a slot's region
        // is zeros where nothing was written); assert! keeps the 264 KiB
        // regions out of a failure message.
        let slots = || {
            let b = std::fs::read(tmp.path().join("s.meta")).unwrap();
            let trim = |r: &[u8]| {
                let end = r.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
                r[..end].to_vec()
            };
            let (a, z) = b.split_at(SLOT_SIZE.min(b.len()));
            (trim(a), trim(z))
        };
        store.set_purge_point(point(2), true).unwrap();
        let (synced, _) = slots();
        store.set_purge_point(point(3), false).unwrap();
        let (_, pending) = slots();
        store.set_purge_point(point(4), false).unwrap();
        store.put("k", b"v").unwrap();
        let (zero, one) = slots();
        assert!(zero == synced, "the synced slot is untouched");
        assert!(one != pending, "the pending slot was written again");
        // The durable put synced slot 1: the next change goes to slot 0.
        store.set_purge_point(point(5), false).unwrap();
        let (zero, one_after) = slots();
        assert!(zero != synced, "slot 0 written");
        assert!(one_after == one, "slot 1 untouched");
        store.sync_pending().unwrap();
        store.set_purge_point(point(6), false).unwrap();
        assert!(slots().0 == zero, "synced: the other slot is written");
        assert!(slots().1 != one, "synced: the other slot is written");
        store.sync_pending().unwrap();
        drop(store);
        let store = open(tmp.path());
        assert_eq!(store.purge_point(), Some(point(6)));
        assert_eq!(store.get("k").unwrap().unwrap(), b"v");
    }

    #[test]
    fn choose_takes_the_higher_generation_and_knows_a_torn_creation() {
        use crate::format::meta::encode_slot;
        let path = Path::new("s.meta");
        let meta = |generation| MetaSlot {
            generation,
            ..MetaSlot::default()
        };
        let file = |a: &[u8], b: &[u8]| {
            let mut f = a.to_vec();
            if !b.is_empty() {
                f.resize(SLOT_SIZE, 0);
                f.extend_from_slice(b);
            }
            f
        };
        let (s0, s1) = (encode_slot(&meta(4), 0), encode_slot(&meta(5), 1));
        let slot = |bytes: &[u8]| choose(bytes, path, false).map(|l| (l.slot, l.meta.generation));
        assert_eq!(slot(&file(&s0, &s1)).unwrap(), (Some(1), 5));
        let (s0, s1) = (encode_slot(&meta(6), 0), encode_slot(&meta(5), 1));
        assert_eq!(slot(&file(&s0, &s1)).unwrap(), (Some(0), 6));
        assert_eq!(slot(&file(&s0[..10], &s1)).unwrap(), (Some(1), 5));
        assert_eq!(slot(&file(&s0, &s1[..10])).unwrap(), (Some(0), 6));
        // Torn creation: nothing, a prefix of slot 0, zeros after it.
        assert_eq!(slot(b"").unwrap(), (None, 0));
        assert_eq!(slot(&s0[..30]).unwrap(), (None, 0));
        assert_eq!(slot(&[0; 2 * SLOT_SIZE]).unwrap(), (None, 0));
        // Slot 1 written but neither verifies: corruption.
        assert!(slot(&file(&s0[..30], &s1[..30])).is_err());
        assert!(choose(&file(&s0[..30], &s1[..30]), path, true).is_ok());
        // Equal generations cannot be written: corruption.
        let same = file(&encode_slot(&meta(5), 0), &encode_slot(&meta(5), 1));
        assert!(slot(&same).is_err());
    }
}
