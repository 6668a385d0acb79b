// SPDX-License-Identifier: MIT
//! The C ABI: `include/nano_wal.h` is generated from this module by cbindgen
//! (see `cbindgen.toml` and `tests/header_fresh.rs`).
//!
//! The exports, one file per group of the header and in its order (cbindgen
//! emits functions in source order): `log` (open, shutdown, close),
//! `append`, `read` (reads by ref and replay), `truncate` (truncation and
//! reset), `maintenance` (sync, waiting for durability, cleanup), `follow`
//! (followers and the event fd), `meta` (the metadata slot),
//! `errors` (status names, last error, version).
//!
//! The helper layer they are written with: `boundary` (panic boundary,
//! handles, last error, status mapping), `ptr` (C pointers into slices,
//! strings and output wrappers), `convert` (C types to and from the
//! engine's), `types` (the C-visible types).
//!
//! Adding an exported function:
//! 1. Put it in the file of its header group (the first function of a group
//!    carries the group's heading in its doc comment).
//! 2. Wrap the body in `with_handle("nwal_x", w, |wal: &Wal| ...)` for a
//!    function on a handle, `call` for one without, `release` for one that
//!    frees an object.
//! 3. Convert each pointer argument in one `unsafe` block under a
//!    `// SAFETY:` line naming its precondition: `bytes`, `header`, `array`,
//!    `c_str`, `as_ref`, and `Out::required`, `OptionalOut::new`,
//!    `OutSlots::{required, optional}` for outputs; C types go through
//!    `convert.rs`.
//! 4. Call the engine with `.map_err(engine("nwal_x"))?`, then write the
//!    outputs with `write`, `fill` or `write_box`, and return `Ok(())`.
//! 5. Document every parameter (`@param[in]`/`[out]`, ownership), every
//!    status it can return (`@retval`), its thread rules and, under
//!    `# Safety`, its preconditions in C terms; regenerate the header
//!    (`NWAL_BLESS=1 cargo test --test header_fresh`) and the ABI baseline
//!    (`scripts/update-abi-baseline.sh`).

// The exports, in header order. One module per group, so that rustfmt,
// which sorts adjacent `mod` lines, keeps this order.
mod log;

mod append;

mod read;

mod replay;

mod truncate;

mod maintenance;

mod follow;

mod meta;

mod errors;

// The helper layer.
mod boundary;
mod convert;
mod ptr;
mod types;

pub use append::*;
pub use errors::*;
pub use follow::*;
pub use log::*;
pub use maintenance::*;
pub use meta::*;
pub use read::*;
pub use replay::*;
pub use truncate::*;
pub use types::*;

/// Major version of the library this header belongs to.
pub const NWAL_VERSION_MAJOR: u32 = 0;
/// Minor version of the library this header belongs to.
pub const NWAL_VERSION_MINOR: u32 = 2;
/// Patch version of the library this header belongs to.
pub const NWAL_VERSION_PATCH: u32 = 0;

/// Append flag: return only once the record(s) survive power loss
/// (group-committed fdatasync, plus a directory fsync after a new segment).
pub const NWAL_DURABLE: u32 = 1;

/// `nwal_follow_open` flag: return only records known durable (a crash can
/// no longer take them back); without it, every record once appended.
pub const NWAL_FOLLOW_DURABLE: u32 = 1;

/// `nwal_options.flags` bit: salvage mode for `nwal_open`. When the newest
/// segment holds a corrupted record followed by valid ones, cut the segment
/// at the corruption (losing what follows) instead of failing with
/// `NWAL_ERR_CORRUPTED_DATA`; when neither slot of the stream's metadata
/// file verifies, start from empty metadata instead.
pub const NWAL_OPT_SALVAGE: u32 = 1;

/// `nwal_segment_retention.kept` bit: the active segment, which appends go
/// to (never deleted).
pub const NWAL_KEPT_ACTIVE: u32 = 1;
/// `nwal_segment_retention.kept` bit: not expired yet (until its
/// `expiration_ms`).
pub const NWAL_KEPT_NOT_EXPIRED: u32 = 2;
/// `nwal_segment_retention.kept` bit: a reader hold keeps its records
/// (`holds`, `hold_index`, `hold_name`).
pub const NWAL_KEPT_HELD: u32 = 4;
/// `nwal_segment_retention.kept` bit: with a size budget
/// (`nwal_options.max_stream_bytes`), the stream fits in it without
/// deleting this (unexpired) segment.
pub const NWAL_KEPT_WITHIN_BUDGET: u32 = 8;
/// `nwal_segment_retention.kept` bit: none of the above, but an older
/// segment is kept, and the log never has a hole.
pub const NWAL_KEPT_AFTER_KEPT: u32 = 16;
/// `nwal_segment_retention.deleted_by`: a cleanup deletes it because it
/// expired (`expiration_ms <= now_ms`).
pub const NWAL_DELETE_EXPIRED: u32 = 1;
/// `nwal_segment_retention.deleted_by`: a cleanup deletes it before it
/// expires, for the size budget (`nwal_options.max_stream_bytes`).
pub const NWAL_DELETE_SIZE_BUDGET: u32 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_cargo() {
        assert_eq!(
            NWAL_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            NWAL_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            NWAL_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
    }
}
