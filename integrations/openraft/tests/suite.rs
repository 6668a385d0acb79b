// SPDX-License-Identifier: MIT
//! openraft's own storage test suite (`openraft::testing::Suite`) on the
//! store, each of its tests on a new stream in a new directory.

mod common;

use common::{Config, KvStateMachine, NodeId};
use nano_wal::WalOptions;
use nano_wal_openraft::LogStore;
use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;
use tempfile::TempDir;

struct Builder;

impl StoreBuilder<Config, LogStore<Config>, KvStateMachine, TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(TempDir, LogStore<Config>, KvStateMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = LogStore::open(dir.path(), "raft", WalOptions::default())?;
        Ok((dir, store, KvStateMachine::default()))
    }
}

#[test]
fn openraft_storage_suite_passes() {
    Suite::test_all(Builder).unwrap();
}
