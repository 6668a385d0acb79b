// SPDX-License-Identifier: MIT
//! How Raft values become bytes: postcard (serde) for entries and for the
//! metadata values, and the mapping between Raft log indexes and the
//! indexes of the nano_wal stream.

use openraft::{AnyError, StorageError, StorageIOError};
use serde::{de::DeserializeOwned, Serialize};

/// The offset between a Raft index and its record's index in the stream.
/// Raft's first entry has index 0; a nano_wal stream's indexes start at 1
/// (0 is "before the first record": an empty log's last index).
pub(crate) const INDEX_OFFSET: u64 = 1;

/// The stream index of the record holding Raft index `raft_index`.
pub(crate) fn to_wal(raft_index: u64) -> u64 {
    raft_index + INDEX_OFFSET
}

/// The Raft index held by the stream's record `wal_index` (>= 1).
pub(crate) fn to_raft(wal_index: u64) -> u64 {
    wal_index - INDEX_OFFSET
}

/// The highest Raft index the store can hold (its record's index must fit
/// a u64).
pub const MAX_RAFT_INDEX: u64 = u64::MAX - INDEX_OFFSET;

/// Encode `value`, appending to `out`.
pub(crate) fn encode_into<T: Serialize, NID: openraft::NodeId>(
    value: &T,
    out: Vec<u8>,
) -> Result<Vec<u8>, StorageError<NID>> {
    postcard::to_extend(value, out).map_err(|e| StorageIOError::write(AnyError::new(&e)).into())
}

/// Encode `value` into a new buffer.
pub(crate) fn encode<T: Serialize, NID: openraft::NodeId>(
    value: &T,
) -> Result<Vec<u8>, StorageError<NID>> {
    encode_into(value, Vec::new())
}

/// Decode a whole value: bytes left over mean the record is not what the
/// store wrote, and are refused like any other decoding error.
pub(crate) fn decode<T: DeserializeOwned, NID: openraft::NodeId>(
    bytes: &[u8],
) -> Result<T, StorageError<NID>> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(StorageIOError::read(AnyError::error(format!(
            "{} bytes after the encoded value",
            rest.len()
        )))
        .into()),
        Err(e) => Err(StorageIOError::read(AnyError::new(&e)).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_map_both_ways() {
        assert_eq!(to_wal(0), 1);
        assert_eq!(to_raft(1), 0);
        assert_eq!(to_raft(to_wal(MAX_RAFT_INDEX)), MAX_RAFT_INDEX);
    }

    #[test]
    fn decode_refuses_trailing_and_truncated_bytes() {
        let bytes = encode::<_, u64>(&(7u64, String::from("abc"))).unwrap();
        let back: (u64, String) = decode::<_, u64>(&bytes).unwrap();
        assert_eq!(back, (7, "abc".into()));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<(u64, String), u64>(&longer).is_err());
        assert!(decode::<(u64, String), u64>(&bytes[..bytes.len() - 1]).is_err());
    }
}
