//! [`Log`]: the segment being appended to, and what writing it takes:
//! writes cut back to the last whole batch when they fail, syncs as the
//! policy says, segment rotation and the end of a compaction. It runs on
//! the writer thread, or on the reactor's thread under `--fsync never`
//! (see [`super::writer`]).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{error, info, warn};
use mio::Waker;

use super::record::{Batch, Record};
use super::segment::{self, Header};
use super::{FsyncPolicy, RETRY_AFTER};

/// What the log has done, read by the reactor.
#[derive(Debug, Default)]
pub struct Progress {
    durable: AtomicU64,
    failing: AtomicBool,
}

impl Progress {
    /// The number of the last batch written (and synced, under `always`).
    pub fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// Whether the last write failed and is being retried.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Acquire)
    }
}

/// Where the log is in a compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compacting {
    /// None under way.
    Idle,
    /// The copy is being written from this segment on.
    Copying(u64),
    /// The copy is complete: the segments before this one go once
    /// everything written is synced.
    Done(u64),
}

/// The segment being appended to.
#[derive(Debug)]
pub(super) struct Log {
    dir: PathBuf,
    header: Header,
    policy: FsyncPolicy,
    segment_bytes: u64,
    file: File,
    segment: u64,
    /// Bytes of the current segment that hold whole batches.
    len: u64,
    /// The first batch written since the last sync, and when.
    pub(super) unsynced: Option<Instant>,
    pub(super) progress: Arc<Progress>,
    /// Woken on progress when the reactor waits for it (`None`: the log
    /// runs on the reactor's thread, which sees its progress at once).
    waker: Option<Arc<Waker>>,
    pub(super) compaction: Compacting,
}

impl Log {
    /// The log appending to `file`, segment `segment` of `dir`.
    pub(super) fn new(
        dir: PathBuf,
        header: Header,
        segment_bytes: u64,
        (file, segment): (File, u64),
        waker: Option<Arc<Waker>>,
    ) -> Log {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        Log {
            dir,
            policy: header.policy,
            header,
            segment_bytes,
            file,
            segment,
            len,
            unsynced: None,
            progress: Arc::new(Progress::default()),
            waker,
            compaction: Compacting::Idle,
        }
    }

    /// How long the writer thread waits for the next job: until an
    /// interval sync is due, a failed write is retried, or forever.
    pub(super) fn wait(&self) -> Option<Duration> {
        match (self.policy, self.unsynced) {
            (FsyncPolicy::Interval(ms), Some(t)) => {
                Some((t + Duration::from_millis(ms)).saturating_duration_since(Instant::now()))
            }
            _ if self.progress.failing() => Some(RETRY_AFTER),
            _ => None,
        }
    }

    /// Whether a sync is due for writes since `since`.
    pub(super) fn due(&self, since: Instant) -> bool {
        match self.policy {
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval(ms) => since.elapsed() >= Duration::from_millis(ms),
            FsyncPolicy::Never => false,
        }
    }

    /// Writes `out` (batches up to `last`, checksummed) to the current
    /// segment, starting the next one first when it is full. Answers
    /// whether it was written; if not, `out` is kept for a retry.
    pub(super) fn write(&mut self, out: &mut Vec<u8>, last: u64) -> bool {
        if out.is_empty() {
            return true;
        }
        if self.len >= self.segment_bytes {
            if let Err(e) = self.rotate() {
                return self.failed(&e);
            }
        }
        if let Err(e) = self.file.write_all(out) {
            // Cut back to the last whole batch, so a retry appends after it.
            let _ = self.file.set_len(self.len);
            return self.failed(&e);
        }
        self.len += out.len() as u64;
        out.clear();
        if self.progress.failing.swap(false, Ordering::AcqRel) {
            info!("store: writing again");
        }
        if self.policy == FsyncPolicy::Always {
            self.sync(last);
        } else {
            self.unsynced.get_or_insert_with(Instant::now);
            self.report(last);
        }
        true
    }

    fn failed(&mut self, e: &std::io::Error) -> bool {
        if !self.progress.failing.swap(true, Ordering::AcqRel) {
            error!(
                "store: cannot write {}: {e}; publishes are refused until it can",
                self.dir.display()
            );
            self.wake();
        }
        false
    }

    /// Syncs the segment; under `always`, batch `last` is then durable.
    pub(super) fn sync(&mut self, last: u64) {
        if let Err(e) = self.file.sync_data() {
            // Linux drops the dirty pages of a failed fsync: the data may
            // be gone, so this cannot be reported durable.
            error!("store: fsync of {} failed: {e}", self.dir.display());
            self.failed(&e);
            return;
        }
        self.unsynced = None;
        self.report(last);
    }

    fn report(&self, last: u64) {
        if last > self.progress.durable() {
            self.progress.durable.store(last, Ordering::Release);
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(Err(e)) = self.waker.as_ref().map(|w| w.wake()) {
            warn!("store: cannot wake the broker: {e}");
        }
    }

    /// Starts the next segment, the current one synced first unless the
    /// policy never syncs (a crash of the broker alone loses nothing in
    /// the page cache, and `never` promises nothing about a power loss).
    pub(super) fn rotate(&mut self) -> std::io::Result<()> {
        if self.policy != FsyncPolicy::Never {
            self.file.sync_data()?;
        }
        let n = self.segment + 1;
        self.file = segment::create(&self.dir, n, &self.header)?;
        self.segment = n;
        self.len = self.file.metadata()?.len();
        Ok(())
    }

    /// A compaction starts: what comes next goes to a new segment.
    pub(super) fn start_compaction(&mut self) {
        match self.rotate() {
            Ok(()) => self.compaction = Compacting::Copying(self.segment),
            Err(e) => warn!("store: compaction not started: {e}"),
        }
    }

    /// The copy is complete: its segments are ready to replace the ones
    /// before them once they are synced.
    pub(super) fn end_compaction(&mut self) {
        if let Compacting::Copying(from) = self.compaction {
            self.compaction = Compacting::Done(from);
        }
    }

    /// The copy is complete and written: once it is synced, the segments
    /// before it go (see [`retire_before`]).
    pub(super) fn finish_compaction(&mut self, from: u64, last: u64) {
        self.compaction = Compacting::Idle;
        let done = self
            .file
            .sync_data()
            .and_then(|()| retire_before(&self.dir, from));
        match done {
            Ok(()) => {
                self.unsynced = None;
                if self.policy == FsyncPolicy::Always {
                    self.report(last);
                }
            }
            Err(e) => error!("store: compaction not finished, older segments kept: {e}"),
        }
    }

    /// Ends the log with a `Close` record, synced.
    pub(super) fn close(&mut self) {
        let mut close = Batch::default();
        close.push(&Record::Close);
        let done = self
            .file
            .write_all(&close.checked())
            .and_then(|()| self.file.sync_data());
        if let Err(e) = done {
            warn!("store: cannot close the log cleanly: {e}");
        }
    }
}

/// Removes the segments of `dir` numbered below `from`, then syncs the
/// directory. The copy of their live records, from `from` on, must be on
/// disk first: a crash at any point then leaves every live record on disk
/// (reading old segments and the copy both is harmless).
pub(super) fn retire_before(dir: &Path, from: u64) -> std::io::Result<()> {
    for (n, path) in segment::list(dir)? {
        if n < from {
            fs::remove_file(path)?;
        }
    }
    segment::sync_dir(dir)
}

/// Syncs the segments of `dir` from `from` on (a compaction's copy written
/// without syncs), then retires those before them.
pub(super) fn sync_and_retire(dir: &Path, from: u64) {
    let done = segment::list(dir).and_then(|segments| {
        for (n, path) in segments {
            if n >= from {
                File::open(path)?.sync_data()?;
            }
        }
        retire_before(dir, from)
    });
    if let Err(e) = done {
        error!("store: compaction not finished, older segments kept: {e}");
    }
}
