//! The durable store: every accepted publish written to an append-only log
//! of checksummed records, so topics, history, numbering, the publish ids
//! of the deduplication window and the epoch survive a restart or a
//! `kill -9` (see docs/store.md).
//!
//! - [`record`]: the record format and [`Batch`], records encoded back to back.
//! - [`segment`]: segment files and their header (format version, epoch,
//!   fsync policy).
//! - [`recover`]: reading the segments at start, cutting a torn or damaged
//!   tail, and deciding whether the epoch can be kept.
//! - [`log`]: the segment being appended to: writes, syncs, rotation and
//!   the end of a compaction.
//! - [`writer`]: where the batches the reactor hands over, one per loop
//!   turn, are written: the writer thread, which writes and syncs them and
//!   says which are durable, or under `--fsync never` the reactor's thread.
//!
//! The reactor thread never waits on `fsync`: it sends a batch per loop
//! turn over a channel and holds the output of that turn until the writer
//! reports the batch durable (see `reactor::durable`). Under `never`, it
//! writes the batch into the page cache itself, which is short.

pub mod log;
pub mod record;
pub mod recover;
pub mod segment;
pub mod writer;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

pub use log::Progress;
pub use record::{Batch, Record};
pub use recover::{Recovered, Recovery};
pub use writer::Writer;

/// When the writer calls `fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every batch (one group commit per reactor loop turn, or fewer
    /// when batches queue up): a `PUBACK` means "on disk".
    Always,
    /// At most this many milliseconds after a batch is written: a power
    /// loss may lose that long of acknowledged publishes, a crash of the
    /// broker alone none (the batches are in the OS's page cache).
    Interval(u64),
    /// Never (the OS writes back when it likes): as `Interval`, with no
    /// bound on what a power loss loses.
    Never,
}

impl FsyncPolicy {
    /// Parses `always`, `never` or `interval=MS`.
    ///
    /// # Errors
    /// A message saying what is accepted.
    pub fn parse(text: &str) -> Result<FsyncPolicy, String> {
        match text {
            "always" => Ok(FsyncPolicy::Always),
            "never" => Ok(FsyncPolicy::Never),
            _ => {
                let ms = text
                    .strip_prefix("interval=")
                    .and_then(|ms| ms.parse::<u64>().ok())
                    .filter(|&ms| ms > 0);
                ms.map(FsyncPolicy::Interval).ok_or_else(|| {
                    format!("{text}: expected always, never or interval=MS (MS > 0)")
                })
            }
        }
    }
}

/// Where and how the store writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The data directory (created if missing).
    pub dir: PathBuf,
    /// When to `fsync`.
    pub fsync: FsyncPolicy,
    /// A segment grows to about this size before the writer starts the next.
    pub segment_bytes: u64,
    /// Bytes of log on disk at most; the kept-bytes bound is lowered so
    /// that the live records, copied forward, fit (see docs/store.md).
    pub max_disk_bytes: u64,
}

impl StoreConfig {
    /// A store in `dir` with the default policy (`always`) and sizes.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            dir: dir.into(),
            fsync: FsyncPolicy::Always,
            segment_bytes: 64 * 1024 * 1024,
            max_disk_bytes: u64::MAX,
        }
    }
}

/// Why the store cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory cannot be created, read or written.
    #[error("data directory {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Another broker holds the directory.
    #[error("data directory {path} is in use by another broker (its lock file is held)")]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// A segment written by a newer broker.
    #[error("{path} was written in store format {found}; this broker reads format {supported} at most: upgrade the broker or use another data directory")]
    NewerFormat {
        /// The segment.
        path: PathBuf,
        /// Its format version.
        found: u32,
        /// The newest this broker reads.
        supported: u32,
    },
    /// A segment that is not one (its header is damaged).
    #[error("{path}: {why}")]
    Damaged {
        /// The segment.
        path: PathBuf,
        /// What is wrong.
        why: &'static str,
    },
}

impl StoreError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}

/// How long the writer waits before retrying a write that failed (a full
/// disk, say).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
