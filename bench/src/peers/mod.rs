// SPDX-License-Identifier: MIT
//! The peers, each through its public API, one module per crate.

pub mod commitlog;
pub mod okaywal;
pub mod orig;
pub mod raft;
pub mod waldb;
pub mod walrus;
