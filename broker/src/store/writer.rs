//! The writer thread: it takes the batches the reactor sends (one per loop
//! turn that accepted messages), writes every batch that is waiting with one
//! `write`, syncs as the policy says (one `fsync` for all of them: a group
//! commit), then publishes the number of the last durable batch and wakes
//! the reactor. The reactor never waits for it.
//!
//! A write that fails (a full disk) is undone (the segment is cut back to
//! its last whole batch), logged, reported as [`Progress::failing`], and
//! retried every [`RETRY_AFTER`] with whatever came since, in order: nothing
//! is skipped, so numbering on disk never has a hole.

use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::{error, info, warn};
use mio::Waker;

use super::record::{self, Batch, Record};
use super::recover::Recovery;
use super::segment::{self, Header};
use super::{FsyncPolicy, StoreConfig, StoreError, RETRY_AFTER};

/// What the writer has done, read by the reactor when woken.
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

enum Job {
    /// Records to append, numbered.
    Append(u64, Vec<u8>),
    /// A compaction starts: the copy of the live records goes to a new
    /// segment.
    StartCompaction,
    /// The copy is complete: once it is on disk, the segments before it go.
    EndCompaction,
    /// A clean stop.
    Close,
}

/// The reactor's side of the writer.
#[derive(Debug)]
pub struct Writer {
    jobs: Sender<Job>,
    progress: Arc<Progress>,
    thread: Option<JoinHandle<()>>,
    /// Numbers the batches sent.
    sent: u64,
    /// Bytes of log written since the last compaction (or found at start).
    log_bytes: u64,
    _lock: File,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Append(n, b) => write!(f, "Append({n}, {} bytes)", b.len()),
            Job::StartCompaction => f.write_str("StartCompaction"),
            Job::EndCompaction => f.write_str("EndCompaction"),
            Job::Close => f.write_str("Close"),
        }
    }
}

impl Writer {
    /// Starts writing a new segment under `epoch` after `recovery`, and
    /// the thread that writes it; `waker` wakes the reactor on progress.
    ///
    /// # Errors
    /// When the new segment cannot be created.
    pub fn start(
        recovery: Recovery,
        epoch: &str,
        config: &StoreConfig,
        waker: Arc<Waker>,
    ) -> Result<Writer, StoreError> {
        let header = Header {
            epoch: epoch.to_owned(),
            policy: config.fsync,
        };
        let dir = recovery.dir.clone();
        let n = recovery.next_segment;
        let file =
            segment::create(&dir, n, &header).map_err(StoreError::io(segment::path(&dir, n)))?;
        for path in &recovery.empty {
            fs::remove_file(path).map_err(StoreError::io(path))?;
        }
        let progress = Arc::new(Progress::default());
        let (jobs, rx) = mpsc::channel();
        let mut thread = WriterThread {
            dir,
            header,
            policy: config.fsync,
            segment_bytes: config.segment_bytes,
            file,
            segment: n,
            len: 0,
            unsynced: None,
            progress: Arc::clone(&progress),
            waker,
            compaction: Compacting::Idle,
        };
        thread.len = thread.file.metadata().map(|m| m.len()).unwrap_or(0);
        let thread = thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || thread.run(&rx))
            .map_err(StoreError::io(&recovery.dir))?;
        Ok(Writer {
            jobs,
            progress,
            thread: Some(thread),
            sent: 0,
            log_bytes: recovery.recovered.bytes,
            _lock: recovery.lock,
        })
    }

    /// Hands `batch` to the writer; answers its number.
    pub fn append(&mut self, batch: Batch) -> u64 {
        self.send(batch, Job::Append)
    }

    /// Starts a compaction: the batches that follow (the copy of the live
    /// records, with the new messages between its slices) go to a new
    /// segment.
    pub fn start_compaction(&mut self) {
        self.log_bytes = 0;
        self.tell(Job::StartCompaction);
    }

    /// Ends a compaction: once everything sent is on disk, the segments
    /// before the compaction started are removed.
    pub fn end_compaction(&mut self) {
        self.tell(Job::EndCompaction);
    }

    fn send(&mut self, batch: Batch, job: fn(u64, Vec<u8>) -> Job) -> u64 {
        self.sent += 1;
        let bytes = batch.into_bytes();
        self.log_bytes += bytes.len() as u64;
        self.tell(job(self.sent, bytes));
        self.sent
    }

    fn tell(&self, job: Job) {
        if let Err(e) = self.jobs.send(job) {
            error!("the store writer is gone: {:?} not done", e.0);
        }
    }

    /// The writer's progress.
    #[must_use]
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// The number of the last batch sent.
    #[must_use]
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Bytes of log written since the last compaction.
    #[must_use]
    pub fn log_bytes(&self) -> u64 {
        self.log_bytes
    }

    /// Writes a `Close` record after everything sent, syncs, and waits for
    /// the thread to end.
    pub fn close(&mut self) {
        let _ = self.jobs.send(Job::Close);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

struct WriterThread {
    dir: PathBuf,
    header: Header,
    policy: FsyncPolicy,
    segment_bytes: u64,
    file: File,
    segment: u64,
    /// Bytes of the current segment that hold whole batches.
    len: u64,
    /// The first batch written since the last sync, and when.
    unsynced: Option<Instant>,
    progress: Arc<Progress>,
    waker: Arc<Waker>,
    /// The first segment of the compaction under way: those before it go
    /// once the copy is on disk.
    compaction: Compacting,
}

/// Where the writer is in a compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compacting {
    /// None under way.
    Idle,
    /// The copy is being written from this segment on.
    Copying(u64),
    /// The copy is complete: the segments before this one go once
    /// everything written is synced.
    Done(u64),
}

impl WriterThread {
    fn run(mut self, jobs: &Receiver<Job>) {
        // Bytes written in one go: the batches waiting, coalesced.
        let mut out = Vec::new();
        let mut last = 0;
        let mut closing = false;
        loop {
            let wait = self.wait();
            let first = match wait {
                None if out.is_empty() => jobs.recv().map_err(|_| RecvTimeoutError::Disconnected),
                _ => jobs.recv_timeout(wait.unwrap_or(RETRY_AFTER)),
            };
            let mut next = match first {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    closing = true;
                    None
                }
            };
            while let Some(job) = next.take().or_else(|| jobs.try_recv().ok()) {
                match job {
                    Job::Append(n, mut bytes) => {
                        record::checksum(&mut bytes);
                        if out.is_empty() {
                            out = bytes;
                        } else {
                            out.extend_from_slice(&bytes);
                        }
                        last = n;
                    }
                    Job::StartCompaction => {
                        // What came before goes to the old segments.
                        if self.write(&mut out, last) {
                            match self.rotate() {
                                Ok(()) => self.compaction = Compacting::Copying(self.segment),
                                Err(e) => warn!("store: compaction not started: {e}"),
                            }
                        }
                    }
                    Job::EndCompaction => {
                        if let Compacting::Copying(from) = self.compaction {
                            self.compaction = Compacting::Done(from);
                        }
                    }
                    Job::Close => closing = true,
                }
            }
            let written = self.write(&mut out, last);
            if self.unsynced.is_some_and(|t| self.due(t) || closing) {
                self.sync(last);
            }
            if let (true, Compacting::Done(from)) = (written, self.compaction) {
                self.finish_compaction(from, last);
            }
            if closing && out.is_empty() {
                self.close();
                return;
            }
            if closing {
                // The disk is failing and the broker is stopping: what
                // could not be written was never acknowledged.
                error!(
                    "store: {} bytes could not be written before stopping",
                    out.len()
                );
                return;
            }
        }
    }

    /// How long to wait for the next job: until an interval sync is due, a
    /// failed write is retried, or forever.
    fn wait(&self) -> Option<Duration> {
        match (self.policy, self.unsynced) {
            (FsyncPolicy::Interval(ms), Some(t)) => {
                Some((t + Duration::from_millis(ms)).saturating_duration_since(Instant::now()))
            }
            _ if self.progress.failing() => Some(RETRY_AFTER),
            _ => None,
        }
    }

    /// Whether a sync is due for writes since `since`.
    fn due(&self, since: Instant) -> bool {
        match self.policy {
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval(ms) => since.elapsed() >= Duration::from_millis(ms),
            FsyncPolicy::Never => false,
        }
    }

    /// Writes `out` (batches up to `last`) to the current segment, starting
    /// the next one first when it is full. Answers whether it was written;
    /// if not, `out` is kept for a retry.
    fn write(&mut self, out: &mut Vec<u8>, last: u64) -> bool {
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
    fn sync(&mut self, last: u64) {
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
        if let Err(e) = self.waker.wake() {
            warn!("store: cannot wake the broker: {e}");
        }
    }

    /// Starts the next segment, the current one synced first.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file.sync_data()?;
        let n = self.segment + 1;
        self.file = segment::create(&self.dir, n, &self.header)?;
        self.segment = n;
        self.len = self.file.metadata()?.len();
        Ok(())
    }

    /// The copy is complete and written: once it is synced, the segments
    /// before it go (a crash at any point leaves every live record on disk:
    /// reading old segments and the copy both is harmless).
    fn finish_compaction(&mut self, from: u64, last: u64) {
        let done = self.file.sync_data().and_then(|()| {
            for (n, path) in segment::list(&self.dir)? {
                if n < from {
                    fs::remove_file(path)?;
                }
            }
            segment::sync_dir(&self.dir)
        });
        match done {
            Ok(()) => {
                self.compaction = Compacting::Idle;
                self.unsynced = None;
                if self.policy == FsyncPolicy::Always {
                    self.report(last);
                }
            }
            Err(e) => {
                error!("store: compaction not finished, older segments kept: {e}");
                self.compaction = Compacting::Idle;
            }
        }
    }

    /// Ends the log with a `Close` record, synced.
    fn close(&mut self) {
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
