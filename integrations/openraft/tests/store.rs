// SPDX-License-Identifier: MIT
//! The store beyond openraft's suite: what survives a reopen, a purge a
//! crash interrupted, flush callbacks only once entries are durable, and
//! the errors of misuse.

mod common;

use common::{Config, NodeId, Set};
use nano_wal::fault::{hold_fdatasync, release_fdatasync, wait_fdatasync_held};
use nano_wal::{Wal, WalOptions, WriteEntry};
use nano_wal_openraft::LogStore;
use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftLogReader, Vote};
use std::path::Path;

const STREAM: &str = "raft";

fn log_id(term: u64, index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn entry(term: u64, index: u64) -> Entry<Config> {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(Set {
            key: format!("k{index}"),
            value: format!("v{term}.{index}"),
        }),
    }
}

fn open(dir: &Path) -> LogStore<Config> {
    LogStore::open(dir, STREAM, WalOptions::default()).unwrap()
}

fn indexes(entries: &[Entry<Config>]) -> Vec<u64> {
    entries.iter().map(|e| e.log_id.index).collect()
}

#[tokio::test]
async fn vote_entries_purge_point_and_committed_id_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut store = open(tmp.path());
        store
            .blocking_append((0..100).map(|i| entry(1, i)))
            .await
            .unwrap();
        store.save_vote(&Vote::new(3, 2)).await.unwrap();
        store.purge(log_id(1, 30)).await.unwrap();
        store.truncate(log_id(1, 90)).await.unwrap();
        store
            .blocking_append((90..95).map(|i| entry(2, i)))
            .await
            .unwrap();
        // The first committed id is saved at once (it is durable).
        store.save_committed(Some(log_id(1, 60))).await.unwrap();
    }
    let mut store = open(tmp.path());
    let state = store.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 30)));
    assert_eq!(state.last_log_id, Some(log_id(2, 94)));
    assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(3, 2)));
    assert_eq!(store.read_committed().await.unwrap(), Some(log_id(1, 60)));
    let entries = store.try_get_log_entries(0..).await.unwrap();
    assert_eq!(indexes(&entries), (31..95).collect::<Vec<_>>());
    let expected: Vec<_> = (31..90)
        .map(|i| entry(1, i))
        .chain((90..95).map(|i| entry(2, i)))
        .collect();
    assert_eq!(entries, expected);
    // Appends go on after the last entry, and the reader sees them.
    store.blocking_append([entry(2, 95)]).await.unwrap();
    let mut reader = store.get_log_reader().await;
    assert_eq!(
        reader.try_get_log_entries(95..=95).await.unwrap(),
        vec![entry(2, 95)]
    );
}

/// Dropping the store releases the log's directory at once, while a reader
/// it handed out lives on (as openraft's replication tasks may after
/// `Raft::shutdown`): the store reopens, and the old reader still reads.
#[tokio::test]
async fn a_dropped_store_can_be_reopened_while_its_readers_live() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = open(tmp.path());
    store
        .blocking_append((0..10).map(|i| entry(1, i)))
        .await
        .unwrap();
    let mut reader = store.get_log_reader().await;
    drop(store);
    let mut store = open(tmp.path());
    assert_eq!(
        store.get_log_state().await.unwrap().last_log_id,
        Some(log_id(1, 9))
    );
    assert_eq!(
        reader.try_get_log_entries(3..5).await.unwrap(),
        vec![entry(1, 3), entry(1, 4)]
    );
    store.blocking_append([entry(1, 10)]).await.unwrap();
}

/// A purge saves its point in the metadata, then purges the stream: a crash
/// between the two leaves the point saved and the entries there; opening
/// the store completes the purge.
#[tokio::test]
async fn open_completes_a_purge_that_a_crash_interrupted() {
    for (purge_to, first_left, last_log) in
        [(20, Some(21), log_id(1, 49)), (70, None, log_id(1, 70))]
    {
        let tmp = tempfile::tempdir().unwrap();
        {
            let mut store = open(tmp.path());
            store
                .blocking_append((0..50).map(|i| entry(1, i)))
                .await
                .unwrap();
        }
        {
            // The state the crash left: the point saved, nothing purged.
            let wal = Wal::open(tmp.path(), STREAM, WalOptions::default()).unwrap();
            let point = postcard::to_allocvec(&log_id(1, purge_to)).unwrap();
            wal.meta_put("raft.purged", &point).unwrap();
            assert_eq!(wal.first_index(), 1);
        }
        let mut store = open(tmp.path());
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(log_id(1, purge_to)));
        assert_eq!(state.last_log_id, Some(last_log));
        let entries = store.try_get_log_entries(0..).await.unwrap();
        assert_eq!(entries.first().map(|e| e.log_id.index), first_left);
        assert_eq!(
            store.wal().first_index(),
            purge_to + 2,
            "the stream was purged"
        );
        // The next entry comes right after the log or the purge point.
        let next = last_log.index + 1;
        store.blocking_append([entry(2, next)]).await.unwrap();
        assert_eq!(
            store.try_get_log_entries(next..).await.unwrap(),
            vec![entry(2, next)]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flush_callback_waits_until_the_entries_are_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut store = open(&dir);
    store.blocking_append([entry(1, 0)]).await.unwrap();
    assert_eq!(store.wal().durable_index(), 1);

    hold_fdatasync(&dir);
    let appended = tokio::spawn(async move {
        store
            .blocking_append((1..9).map(|i| entry(1, i)))
            .await
            .unwrap();
        store
    });
    // The flusher is inside the fdatasync that would make them durable:
    // the callback has not been called.
    let gate = dir.clone();
    tokio::task::spawn_blocking(move || wait_fdatasync_held(&gate))
        .await
        .unwrap();
    assert!(
        !appended.is_finished(),
        "the callback came before the entries were durable"
    );
    release_fdatasync(&dir);
    let store = appended.await.unwrap();
    assert_eq!(store.wal().durable_index(), 9);
}

#[tokio::test]
async fn misuse_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = open(tmp.path());
    store
        .blocking_append((0..10).map(|i| entry(1, i)))
        .await
        .unwrap();

    // A hole after the last entry.
    let err = store.blocking_append([entry(1, 12)]).await.unwrap_err();
    assert!(err.to_string().contains("hole"), "{err}");
    // Entries that are not consecutive.
    let err = store
        .blocking_append([entry(1, 10), entry(1, 12)])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not consecutive"), "{err}");
    assert_eq!(
        store.get_log_state().await.unwrap().last_log_id,
        Some(log_id(1, 9))
    );

    // A truncation into purged entries.
    store.purge(log_id(1, 4)).await.unwrap();
    let err = store.truncate(log_id(1, 3)).await.unwrap_err();
    assert!(err.to_string().contains("purged"), "{err}");
    assert_eq!(
        indexes(&store.try_get_log_entries(0..).await.unwrap()),
        (5..10).collect::<Vec<_>>()
    );

    // Entries at or below the purge point are covered by it: skipped.
    store
        .blocking_append((3..7).map(|i| entry(2, i)))
        .await
        .unwrap();
    let entries = store.try_get_log_entries(0..).await.unwrap();
    assert_eq!(entries, vec![entry(2, 5), entry(2, 6)]);
}

#[tokio::test]
async fn a_record_that_is_not_an_entry_is_a_read_error() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let wal = Wal::open(tmp.path(), STREAM, WalOptions::default()).unwrap();
        let garbage = [WriteEntry {
            header: None,
            content: &[0xff; 5],
        }];
        wal.append_batch(&garbage, 0, true).unwrap();
    }
    // Open reads the last entry's log id: it is refused, not misread.
    let err = LogStore::<Config>::open(tmp.path(), STREAM, WalOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().to_lowercase().contains("read"), "{err}");
}
