// SPDX-License-Identifier: MIT
//! Three openraft nodes in one process, each with its log in its own
//! nano_wal directory, over an in-process network that can cut a node off.
//!
//! 10,000 acknowledged writes; on the way the leader is cut off while it
//! holds entries nobody else has, the others elect a new leader, and when
//! the old one rejoins its conflicting tail is truncated (counted); then a
//! follower is stopped, its log directory reopened, and it catches up. At
//! the end every node's state machine holds exactly the acknowledged writes.

// openraft's RPC errors are what the network returns; they are large.
#![allow(clippy::result_large_err)]

mod common;

use common::{Config, KvStateMachine, NodeId, Set};
use nano_wal::WalOptions;
use nano_wal_openraft::{LogStore, StoreStats};
use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Raft, RaftNetwork, RaftNetworkFactory, ServerState, SnapshotPolicy};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A bound on every wait for the cluster to reach a state: reaching it is
/// the test, the bound only turns a hang into a failure.
const PATIENCE: Duration = Duration::from_secs(60);

/// The in-process network: the running nodes, and the nodes cut off.
#[derive(Clone, Default)]
struct Router {
    nodes: Arc<Mutex<BTreeMap<NodeId, Raft<Config>>>>,
    cut_off: Arc<Mutex<BTreeSet<NodeId>>>,
}

impl Router {
    /// The node `to`, if `from` can reach it.
    fn route<E: std::error::Error>(
        &self,
        from: NodeId,
        to: NodeId,
    ) -> Result<Raft<Config>, RPCError<NodeId, BasicNode, E>> {
        let cut_off = self.cut_off.lock().unwrap();
        let node = if cut_off.contains(&from) || cut_off.contains(&to) {
            None
        } else {
            self.nodes.lock().unwrap().get(&to).cloned()
        };
        node.ok_or_else(|| {
            let e = std::io::Error::other(format!("node {to} is unreachable from {from}"));
            RPCError::Unreachable(Unreachable::new(&e))
        })
    }
}

/// One node's view of the network.
struct Network {
    router: Router,
    from: NodeId,
}

struct Connection {
    router: Router,
    from: NodeId,
    to: NodeId,
}

impl RaftNetworkFactory<Config> for Network {
    type Network = Connection;

    async fn new_client(&mut self, to: NodeId, _node: &BasicNode) -> Connection {
        Connection {
            router: self.router.clone(),
            from: self.from,
            to,
        }
    }
}

impl RaftNetwork<Config> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<Config>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let node = self.router.route(self.from, self.to)?;
        node.append_entries(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.to, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<Config>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let node = self.router.route(self.from, self.to)?;
        node.install_snapshot(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.to, e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let node = self.router.route(self.from, self.to)?;
        node.vote(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.to, e)))
    }
}

/// A node: its Raft handle, its state machine (which outlives a restart,
/// as a persistent one would), its log directory and its store's counts.
struct Node {
    raft: Raft<Config>,
    state_machine: KvStateMachine,
    dir: PathBuf,
    stats: Arc<StoreStats>,
}

fn raft_config() -> Arc<openraft::Config> {
    let config = openraft::Config {
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
        // Snapshots, and purges behind them, happen during the test.
        snapshot_policy: SnapshotPolicy::LogsSinceLast(2_000),
        max_in_snapshot_log_to_keep: 500,
        purge_batch_size: 256,
        ..Default::default()
    };
    Arc::new(config.validate().expect("a valid Raft configuration"))
}

async fn start_node(
    id: NodeId,
    dir: &Path,
    state_machine: KvStateMachine,
    router: &Router,
) -> Node {
    // Open the node's log (a new one, or the one it left).
    let store: LogStore<Config> =
        LogStore::open(dir, "raft", WalOptions::default()).expect("the log store opens");
    let stats = store.stats();
    let network = Network {
        router: router.clone(),
        from: id,
    };
    let raft = Raft::new(id, raft_config(), network, store, state_machine.clone())
        .await
        .expect("the node starts");
    router.nodes.lock().unwrap().insert(id, raft.clone());
    Node {
        raft,
        state_machine,
        dir: dir.to_path_buf(),
        stats,
    }
}

/// Wait until `node` sees a leader among `candidates`; returns it.
async fn leader_among(node: &Raft<Config>, candidates: &[NodeId]) -> NodeId {
    let metrics = node
        .wait(Some(PATIENCE))
        .metrics(
            |m| m.current_leader.is_some_and(|l| candidates.contains(&l)),
            "a leader among the candidates",
        )
        .await
        .expect("a leader is elected");
    metrics.current_leader.unwrap()
}

/// Write `keys` through `leader`, 64 at a time in flight (so appends of
/// several entries and shared fsyncs happen); every write must be
/// acknowledged.
async fn write_all(leader: &Raft<Config>, keys: std::ops::Range<u64>) {
    let mut in_flight = tokio::task::JoinSet::new();
    for i in keys {
        if in_flight.len() >= 64 {
            in_flight.join_next().await.unwrap().unwrap();
        }
        let raft = leader.clone();
        in_flight.spawn(async move {
            let set = Set {
                key: format!("k{i:05}"),
                value: format!("v{i}"),
            };
            raft.client_write(set)
                .await
                .expect("the write is acknowledged");
        });
    }
    while let Some(done) = in_flight.join_next().await {
        done.unwrap();
    }
}

/// Wait until every node has applied the leader's last log index.
async fn all_caught_up(nodes: &BTreeMap<NodeId, Node>, leader: NodeId) -> u64 {
    let last = nodes[&leader]
        .raft
        .metrics()
        .borrow()
        .last_log_index
        .unwrap();
    for node in nodes.values() {
        node.raft
            .wait(Some(PATIENCE))
            .applied_index_at_least(Some(last), "caught up with the leader")
            .await
            .expect("the node catches up");
    }
    last
}

const WRITES: u64 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_agree_through_a_leader_change_and_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let router = Router::default();
    let mut nodes = BTreeMap::new();
    for id in 1..=3 {
        let dir = tmp.path().join(format!("node-{id}"));
        let node = start_node(id, &dir, KvStateMachine::default(), &router).await;
        nodes.insert(id, node);
    }
    let members: BTreeMap<NodeId, BasicNode> =
        (1..=3).map(|id| (id, BasicNode::default())).collect();
    nodes[&1].raft.initialize(members).await.unwrap();
    let first_leader = leader_among(&nodes[&1].raft, &[1, 2, 3]).await;

    // 1. 5,000 writes.
    write_all(&nodes[&first_leader].raft, 0..5_000).await;

    // 2. Cut the leader off while it appends entries no one else gets.
    let old = &nodes[&first_leader];
    let before = old.raft.metrics().borrow().last_log_index.unwrap();
    router.cut_off.lock().unwrap().insert(first_leader);
    let mut lost = tokio::task::JoinSet::new();
    for i in 0..20 {
        let raft = old.raft.clone();
        lost.spawn(async move {
            let set = Set {
                key: format!("lost{i}"),
                value: "never acknowledged".into(),
            };
            raft.client_write(set).await.is_ok()
        });
    }
    old.raft
        .wait(Some(PATIENCE))
        .metrics(
            |m| m.last_log_index >= Some(before + 20),
            "the cut-off leader appended the entries",
        )
        .await
        .unwrap();

    // 3. The other two elect a new leader and take 200 writes (few enough
    //    that the new leader still holds the entries where the logs part,
    //    so the old leader is repaired by truncation, not by a snapshot).
    let others: Vec<NodeId> = (1..=3).filter(|&id| id != first_leader).collect();
    let new_leader = leader_among(&nodes[&others[0]].raft, &others).await;
    nodes[&new_leader]
        .raft
        .wait(Some(PATIENCE))
        .state(ServerState::Leader, "the new leader leads")
        .await
        .unwrap();
    write_all(&nodes[&new_leader].raft, 5_000..5_200).await;

    // 4. The old leader rejoins: its conflicting tail is truncated.
    router.cut_off.lock().unwrap().clear();
    all_caught_up(&nodes, new_leader).await;
    // Those writes are gone: none was acknowledged (openraft may leave
    // their callers waiting; they are not waited for).
    while let Some(acknowledged) = lost.try_join_next() {
        assert!(
            !acknowledged.unwrap(),
            "a write of the cut-off leader was acknowledged"
        );
    }
    lost.abort_all();
    let old_stats = &nodes[&first_leader].stats;
    let truncations = old_stats
        .truncations
        .load(std::sync::atomic::Ordering::Relaxed);
    let truncated = old_stats
        .truncated_entries
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        truncations >= 1,
        "the old leader's conflicting tail was not truncated"
    );
    assert!(truncated >= 20, "only {truncated} entries were truncated");
    write_all(&nodes[&new_leader].raft, 5_200..7_500).await;

    // 5. Stop a follower, take the last 2,500 writes, restart it from its
    //    log directory; it catches up.
    let follower = *others
        .iter()
        .find(|&&id| id != new_leader)
        .unwrap_or(&first_leader);
    // No replication in flight: what its metrics say it holds is all it
    // will have written when it stops.
    all_caught_up(&nodes, new_leader).await;
    let stopped = nodes.remove(&follower).unwrap();
    router.nodes.lock().unwrap().remove(&follower);
    let left_at = stopped.raft.metrics().borrow().last_log_index.unwrap();
    stopped.raft.shutdown().await.unwrap();
    let Node {
        raft,
        state_machine,
        dir,
        ..
    } = stopped;
    drop(raft);
    write_all(&nodes[&new_leader].raft, 7_500..WRITES).await;
    {
        // What it left on disk is what it had: every entry, durable.
        let store: LogStore<Config> = LogStore::open(&dir, "raft", WalOptions::default()).unwrap();
        assert_eq!(store.wal().last_index(), left_at + 1);
        assert_eq!(store.wal().durable_index(), left_at + 1);
    }
    let restarted = start_node(follower, &dir, state_machine, &router).await;
    nodes.insert(follower, restarted);
    let last = all_caught_up(&nodes, new_leader).await;

    // 6. Every state machine holds exactly the acknowledged writes.
    let expected: BTreeMap<String, String> = (0..WRITES)
        .map(|i| (format!("k{i:05}"), format!("v{i}")))
        .collect();
    for (id, node) in &nodes {
        assert_eq!(
            node.state_machine.state().data,
            expected,
            "node {id}'s state"
        );
    }
    let purges: u64 = nodes
        .values()
        .map(|n| n.stats.purges.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    println!(
        "cluster: {WRITES} writes acknowledged and applied on 3 nodes (last index {last}); \
         leader {first_leader} -> {new_leader}; node {first_leader} truncated {truncated} \
         conflicting entries in {truncations} truncation(s); node {follower} restarted from \
         its log and caught up; {purges} purges after snapshots"
    );
}
