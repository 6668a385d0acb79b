// SPDX-License-Identifier: MIT
//! Stream names, and the names of a stream's files in the log directory:
//! `{stream}_{expiration_ms}_{segment_id}.seg` for each segment and
//! `{stream}.lock` for the advisory lock, `{stream}.meta` for its metadata.
//! Built and parsed only here, so
//! recovery and the read-only inspection agree on which files are whose.

use crate::error::{Result, WalError};

/// Longest stream name, in bytes.
pub const MAX_STREAM_NAME_LEN: usize = 200;

/// Check a stream name: 1-200 bytes of `[A-Za-z0-9._-]`, not starting with `.`.
pub fn validate_stream_name(stream: &str) -> Result<()> {
    if !is_stream_name(stream) {
        return Err(WalError::InvalidConfig(format!(
            "invalid stream name {stream:?}: must be 1-{MAX_STREAM_NAME_LEN} bytes of [A-Za-z0-9._-] not starting with '.'"
        )));
    }
    Ok(())
}

/// What [`validate_stream_name`] accepts.
fn is_stream_name(stream: &str) -> bool {
    let ok_len = !stream.is_empty() && stream.len() <= MAX_STREAM_NAME_LEN;
    let ok_chars = stream
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    ok_len && ok_chars && !stream.starts_with('.')
}

/// File name of a segment: `{stream}_{expiration_ms}_{segment_id}.seg`.
pub(crate) fn segment_file_name(stream: &str, expiration_ms: i64, segment_id: u64) -> String {
    format!("{stream}_{expiration_ms}_{segment_id}.seg")
}

/// Name of the advisory lock file of a stream.
pub(crate) fn lock_file_name(stream: &str) -> String {
    format!("{stream}.lock")
}

/// Name of the metadata file of a stream.
pub(crate) fn meta_file_name(stream: &str) -> String {
    format!("{stream}.meta")
}

/// A file of a stream in a log directory, as its name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamFile<'a> {
    Segment {
        stream: &'a str,
        expiration_ms: i64,
        segment_id: u64,
    },
    Lock {
        stream: &'a str,
    },
    Meta {
        stream: &'a str,
    },
}

impl StreamFile<'_> {
    /// The stream the file belongs to.
    pub fn stream(&self) -> &str {
        match self {
            StreamFile::Segment { stream, .. }
            | StreamFile::Lock { stream }
            | StreamFile::Meta { stream } => stream,
        }
    }
}

/// The stream file named `file_name`, if it is one: a segment, lock or
/// metadata file name of a valid stream name (the suffix says which). A segment name is parsed from the right, so
/// the files of a stream whose name is a prefix of another's (`a` and
/// `a_1`) are never taken for the other's.
pub(crate) fn parse_file_name(file_name: &str) -> Option<StreamFile<'_>> {
    let file = if let Some(rest) = file_name.strip_suffix(".seg") {
        parse_segment_name(rest)?
    } else if let Some(stream) = file_name.strip_suffix(".meta") {
        StreamFile::Meta { stream }
    } else {
        StreamFile::Lock {
            stream: file_name.strip_suffix(".lock")?,
        }
    };
    is_stream_name(file.stream()).then_some(file)
}

/// `{stream}_{expiration_ms}_{segment_id}` (the `.seg` already cut).
fn parse_segment_name(rest: &str) -> Option<StreamFile<'_>> {
    let (rest, id) = rest.rsplit_once('_')?;
    let (stream, exp) = rest.rsplit_once('_')?;
    if id.is_empty() || !id.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let exp_digits = exp.strip_prefix('-').unwrap_or(exp);
    if exp_digits.is_empty() || !exp_digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(StreamFile::Segment {
        stream,
        expiration_ms: exp.parse().ok()?,
        segment_id: id.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names() {
        for good in ["a", "stream-0", "A.b_c-9", &"x".repeat(200)] {
            validate_stream_name(good).unwrap();
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "../x",
            "a\0b",
            "sp ace",
            "é",
            &"x".repeat(201),
        ] {
            assert!(
                matches!(validate_stream_name(bad), Err(WalError::InvalidConfig(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn file_names_parse_from_the_right() {
        let segment = |stream, expiration_ms, segment_id| {
            Some(StreamFile::Segment {
                stream,
                expiration_ms,
                segment_id,
            })
        };
        let n = segment_file_name("a_1", -42, 7);
        assert_eq!(n, "a_1_-42_7.seg");
        assert_eq!(parse_file_name(&n), segment("a_1", -42, 7));
        assert_eq!(parse_file_name("a_5_6.seg"), segment("a", 5, 6));
        assert_eq!(parse_file_name("a_5_6.seg.tmp"), None);
        assert_eq!(parse_file_name("a_x_6.seg"), None);
        assert_eq!(parse_file_name("a_5_+6.seg"), None);
        assert_eq!(parse_file_name("a_5_.seg"), None);
        assert_eq!(parse_file_name("_5_6.seg"), None);
        assert_eq!(parse_file_name(".a_5_6.seg"), None);
        assert_eq!(
            parse_file_name(&lock_file_name("a_1")),
            Some(StreamFile::Lock { stream: "a_1" })
        );
        assert_eq!(parse_file_name(".lock"), None);
        assert_eq!(meta_file_name("a_1"), "a_1.meta");
        assert_eq!(
            parse_file_name(&meta_file_name("a.meta")),
            Some(StreamFile::Meta { stream: "a.meta" })
        );
        assert_eq!(
            parse_file_name("a.lock.meta"),
            Some(StreamFile::Meta { stream: "a.lock" })
        );
        assert_eq!(parse_file_name(".meta"), None);
        assert_eq!(parse_file_name(".x.meta"), None);
        assert_eq!(parse_file_name("a"), None);
    }
}
