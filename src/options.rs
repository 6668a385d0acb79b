// SPDX-License-Identifier: MIT
//! Options, their validation, and the pure arithmetic of windows.

use crate::error::{Result, WalError};
use crate::format::MAX_SEGMENT_RECORDS;
use std::time::Duration;

/// Smallest non-zero `max_segment_bytes`.
pub const MIN_SEGMENT_BYTES: u64 = 64 * 1024;

/// Configuration of a stream, given to [`crate::Wal::open`].
///
/// The original crate's literal `WalOptions { retention, segment_duration }`
/// keeps compiling with `..Default::default()` added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// How long a segment is kept after its window ends. Must be at least
    /// `segment_duration`. Default: 7 days.
    pub retention: Duration,
    /// Width of the clock-aligned window a segment covers. Must be > 0.
    /// Default: 1 hour.
    pub segment_duration: Duration,
    /// Roll to a new segment when the active one would grow past this many
    /// bytes (a record is never split; a single record larger than the cap
    /// gets a segment of its own). 0 = no size cap. Otherwise at least 64 KiB.
    pub max_segment_bytes: u64,
    /// Permission bits of new segment, lock and metadata files. Must include owner
    /// read and write (0o600). Default: 0o600.
    pub file_mode: u32,
    /// Salvage mode for `open`: when the newest segment holds a corrupted
    /// record followed by valid ones, cut the segment at the corruption
    /// (point-in-time recovery, losing what follows) instead of failing with
    /// `CorruptedData`; when neither slot of the stream's metadata file
    /// verifies, start from empty metadata instead of failing with
    /// `CorruptedFile`. Default: false.
    pub salvage: bool,
    /// Index of the first record of a new stream (at least 1). Applies only
    /// when the stream is created (its first segment file); a reopened
    /// stream keeps its indexes. Default: 1.
    pub first_index: u64,
    /// The clock guard: refuse (`ClockSkew`, nothing written) an append
    /// whose `now_ms` lies more than this past the end of the newest window
    /// the log holds. None (the default) keeps every `now_ms`: one far in
    /// the future then sends it and every later record into a segment that
    /// expires that far ahead (rotation only moves forward). Whole
    /// milliseconds, at least `segment_duration` when set (it is measured
    /// from the end of the newest window, so a shorter one would refuse
    /// times of the next window).
    pub max_clock_skew: Option<Duration>,
    /// The size budget: `cleanup` also deletes the oldest sealed segments,
    /// before they expire, while the stream's segment files hold more than
    /// this many bytes (never the active segment). 0 (the default): no
    /// budget.
    pub max_stream_bytes: u64,
    /// A reader hold whose place lies behind more than this many bytes of
    /// segment files (its segment and all after it) is dropped by
    /// `cleanup`, which says so. 0 (the default): no limit.
    pub max_hold_lag_bytes: u64,
    /// A reader hold whose segment's window started more than this before
    /// `cleanup`'s `now_ms` is dropped by it, which says so. None (the
    /// default): no limit.
    pub max_hold_lag: Option<Duration>,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            retention: Duration::from_secs(7 * 24 * 3600),
            segment_duration: Duration::from_secs(3600),
            max_segment_bytes: 0,
            file_mode: 0o600,
            salvage: false,
            first_index: 1,
            max_clock_skew: None,
            max_stream_bytes: 0,
            max_hold_lag_bytes: 0,
            max_hold_lag: None,
        }
    }
}

/// Options checked and converted to the integer milliseconds the engine uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    pub retention_ms: i64,
    pub segment_duration_ms: i64,
    pub max_segment_bytes: u64,
    pub file_mode: u32,
    pub salvage: bool,
    pub first_index: u64,
    /// Records a segment holds: `MAX_SEGMENT_RECORDS` (a test may set less,
    /// see `sys::segment_record_cap`).
    pub max_segment_records: u64,
    pub max_clock_skew_ms: Option<i64>,
    pub max_stream_bytes: u64,
    pub max_hold_lag_bytes: u64,
    pub max_hold_lag_ms: Option<i64>,
}

fn duration_ms(d: Duration, what: &str) -> Result<i64> {
    i64::try_from(d.as_millis())
        .map_err(|_| WalError::InvalidConfig(format!("{what} is too large ({d:?})")))
}

impl WalOptions {
    pub(crate) fn validate(&self) -> Result<Config> {
        let segment_duration_ms = duration_ms(self.segment_duration, "segment_duration")?;
        let retention_ms = duration_ms(self.retention, "retention")?;
        if segment_duration_ms <= 0 {
            return Err(WalError::InvalidConfig(format!(
                "segment_duration must be at least 1 ms (got {:?})",
                self.segment_duration
            )));
        }
        if retention_ms < segment_duration_ms {
            return Err(WalError::InvalidConfig(format!(
                "retention ({retention_ms} ms) must be >= segment_duration ({segment_duration_ms} ms)"
            )));
        }
        if retention_ms.checked_add(segment_duration_ms).is_none() {
            return Err(WalError::InvalidConfig(
                "retention + segment_duration overflows i64 milliseconds".into(),
            ));
        }
        if self.max_segment_bytes != 0 && self.max_segment_bytes < MIN_SEGMENT_BYTES {
            return Err(WalError::InvalidConfig(format!(
                "max_segment_bytes must be 0 (no cap) or at least {MIN_SEGMENT_BYTES} (got {})",
                self.max_segment_bytes
            )));
        }
        if self.file_mode & !0o777 != 0 || self.file_mode & 0o600 != 0o600 {
            return Err(WalError::InvalidConfig(format!(
                "file_mode {:#o} must be permission bits (<= 0o777) including owner read+write (0o600)",
                self.file_mode
            )));
        }
        if self.first_index == 0 || self.first_index > crate::format::MAX_FIRST_INDEX {
            return Err(WalError::InvalidConfig(format!(
                "first_index {} must be from 1 (0 is the index before an empty log) to 2^63",
                self.first_index
            )));
        }
        let max_clock_skew_ms = match self.max_clock_skew {
            None => None,
            // Measured from the end of the newest window: a skew shorter than
            // a window would refuse the next window's times.
            Some(d) => match duration_ms(d, "max_clock_skew")? {
                ms if ms < segment_duration_ms => {
                    return Err(WalError::InvalidConfig(format!(
                        "max_clock_skew ({ms} ms) must be at least segment_duration \
                         ({segment_duration_ms} ms), or None to turn the guard off"
                    )))
                }
                ms => Some(ms),
            },
        };
        let max_hold_lag_ms = match self.max_hold_lag {
            None => None,
            Some(d) => Some(duration_ms(d, "max_hold_lag")?),
        };
        Ok(Config {
            max_hold_lag_bytes: self.max_hold_lag_bytes,
            max_hold_lag_ms,
            max_clock_skew_ms,
            max_stream_bytes: self.max_stream_bytes,
            first_index: self.first_index,
            retention_ms,
            segment_duration_ms,
            max_segment_bytes: self.max_segment_bytes,
            file_mode: self.file_mode,
            salvage: self.salvage,
            max_segment_records: MAX_SEGMENT_RECORDS,
        })
    }
}

impl Config {
    /// Start of the window holding time `t` (floor division, so negative
    /// times fall in the window before zero). Near `i64::MIN` the floor can
    /// lie below `i64::MIN`: that time is out of range (a plain multiply
    /// would panic in debug builds and wrap to a far-future window in release).
    pub fn window_start(&self, t: i64) -> Result<i64> {
        t.div_euclid(self.segment_duration_ms)
            .checked_mul(self.segment_duration_ms)
            .ok_or_else(|| {
                WalError::InvalidArgument(format!(
                    "time out of range: the window holding {t} ms starts before i64::MIN"
                ))
            })
    }

    /// Expiration of the segment for the window starting at `window_start`,
    /// or an error when it does not fit in i64.
    pub fn expiration(&self, window_start: i64) -> Result<i64> {
        window_start
            .checked_add(self.segment_duration_ms)
            .and_then(|e| e.checked_add(self.retention_ms))
            .ok_or_else(|| {
                WalError::InvalidArgument(format!(
                    "time out of range: the expiration of the window starting at {window_start} ms overflows i64"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dur: i64, ret: i64) -> Config {
        WalOptions {
            segment_duration: Duration::from_millis(dur as u64),
            retention: Duration::from_millis(ret as u64),
            ..Default::default()
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn windows_use_floor_division() {
        let c = cfg(600_000, 3_600_000);
        assert_eq!(c.window_start(0).unwrap(), 0);
        assert_eq!(c.window_start(599_999).unwrap(), 0);
        assert_eq!(c.window_start(600_000).unwrap(), 600_000);
        assert_eq!(c.window_start(-1).unwrap(), -600_000);
        assert_eq!(c.window_start(-600_000).unwrap(), -600_000);
        assert_eq!(c.window_start(-600_001).unwrap(), -1_200_000);
        assert_eq!(c.expiration(-600_000).unwrap(), 3_600_000);
        assert!(matches!(
            c.window_start(i64::MIN),
            Err(WalError::InvalidArgument(_))
        ));
        let lowest = i64::MIN / 600_000 * 600_000;
        assert_eq!(c.window_start(lowest).unwrap(), lowest);
        assert!(matches!(
            c.expiration(i64::MAX - 10),
            Err(WalError::InvalidArgument(_))
        ));
    }

    #[test]
    fn options_are_validated() {
        let bad = |o: WalOptions| match o.validate() {
            Err(WalError::InvalidConfig(m)) => m,
            other => panic!("expected InvalidConfig, got {other:?}"),
        };
        let d = WalOptions::default();
        assert!(bad(WalOptions {
            segment_duration: Duration::ZERO,
            ..d.clone()
        })
        .contains("segment_duration"));
        assert!(bad(WalOptions {
            retention: Duration::from_secs(1),
            ..d.clone()
        })
        .contains("retention"));
        assert!(bad(WalOptions {
            max_segment_bytes: 100,
            ..d.clone()
        })
        .contains("max_segment_bytes"));
        assert!(bad(WalOptions {
            file_mode: 0o400,
            ..d.clone()
        })
        .contains("file_mode"));
        assert!(bad(WalOptions {
            file_mode: 0o1600,
            ..d.clone()
        })
        .contains("file_mode"));
        assert!(WalOptions {
            max_segment_bytes: MIN_SEGMENT_BYTES,
            ..d
        }
        .validate()
        .is_ok());
    }
}
