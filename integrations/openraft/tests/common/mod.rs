// SPDX-License-Identifier: MIT
//! What the tests run the store with: a Raft type configuration and a
//! small in-memory key-value state machine with snapshots.
#![allow(dead_code)] // each test file uses a part

use openraft::storage::RaftStateMachine;
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, RaftSnapshotBuilder, Snapshot, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex};

/// A write: set `key` to `value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Set {
    pub key: String,
    pub value: String,
}

/// The value `key` had before the write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous(pub Option<String>);

openraft::declare_raft_types!(
    pub Config:
        D = Set,
        R = Previous,
);

pub type NodeId = u64;

/// What the state machine holds, and what a snapshot carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvState {
    pub last_applied: Option<LogId<NodeId>>,
    pub membership: StoredMembership<NodeId, BasicNode>,
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    data: Vec<u8>,
}

/// An in-memory key-value state machine; clones share it, so a test can
/// look at the one a Raft node owns.
#[derive(Debug, Clone, Default)]
pub struct KvStateMachine {
    state: Arc<Mutex<KvState>>,
    snapshot: Arc<Mutex<Option<StoredSnapshot>>>,
    snapshots_built: Arc<Mutex<u64>>,
}

impl KvStateMachine {
    pub fn state(&self) -> KvState {
        self.state.lock().unwrap().clone()
    }
}

fn snapshot_error(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write_snapshot(None, openraft::AnyError::new(&e)).into()
}

impl RaftSnapshotBuilder<Config> for KvStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<Config>, StorageError<NodeId>> {
        let state = self.state();
        let data = postcard::to_allocvec(&state).map_err(snapshot_error)?;
        let n = {
            let mut built = self.snapshots_built.lock().unwrap();
            *built += 1;
            *built
        };
        let meta = SnapshotMeta {
            last_log_id: state.last_applied,
            last_membership: state.membership.clone(),
            snapshot_id: format!("{}-{n}", state.last_applied.map_or(0, |l| l.index)),
        };
        *self.snapshot.lock().unwrap() = Some(StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        });
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<Config> for KvStateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        let state = self.state.lock().unwrap();
        Ok((state.last_applied, state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Previous>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<Config>> + Send,
    {
        let mut state = self.state.lock().unwrap();
        let mut out = Vec::new();
        for entry in entries {
            state.last_applied = Some(entry.log_id);
            out.push(match entry.payload {
                EntryPayload::Blank => Previous(None),
                EntryPayload::Normal(set) => Previous(state.data.insert(set.key, set.value)),
                EntryPayload::Membership(m) => {
                    state.membership = StoredMembership::new(Some(entry.log_id), m);
                    Previous(None)
                }
            });
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot.into_inner();
        let state: KvState = postcard::from_bytes(&data).map_err(snapshot_error)?;
        *self.state.lock().unwrap() = state;
        *self.snapshot.lock().unwrap() = Some(StoredSnapshot {
            meta: meta.clone(),
            data,
        });
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<Config>>, StorageError<NodeId>> {
        Ok(self.snapshot.lock().unwrap().clone().map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}
