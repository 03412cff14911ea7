//! [`Writer`]: the reactor's side of the log. The reactor hands it one
//! batch per loop turn that accepted messages; where the batch is written
//! depends on the policy:
//!
//! - `always` and `interval`: on the writer thread, which writes every
//!   batch waiting with one `write`, syncs as the policy says (one `fsync`
//!   for all of them: a group commit), then publishes the number of the
//!   last durable batch and wakes the reactor. The reactor never waits for
//!   it: it holds the turn's output until then.
//! - `never`: on the reactor's thread, at the end of the turn. A durable
//!   batch then only means one in the page cache, which a `kill -9` does
//!   not lose, and one turn's `write` there is a copy of about a megabyte
//!   at most (a fraction of a millisecond): cheaper than the hand-over, the
//!   held output and the thread's own wake-ups, which cost a fifth of
//!   scenario a)'s rate on two cores (docs/store.md). The syncs that end a
//!   compaction, which can be long, go to a thread of their own.
//!
//! A write that fails (a full disk) is undone (the segment is cut back to
//! its last whole batch), logged, reported as [`Progress::failing`], and
//! retried every [`RETRY_AFTER`] with whatever came since, in order: nothing
//! is skipped, so numbering on disk never has a hole.

use std::fs::{self, File};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use log::error;
use mio::Waker;

use super::log::{self as segment_log, Compacting, Log, Progress};
use super::record::{self, Batch};
use super::recover::Recovery;
use super::segment::{self, Header};
use super::{FsyncPolicy, StoreConfig, StoreError, RETRY_AFTER};

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

/// Where the batches are written.
#[derive(Debug)]
enum Mode {
    /// On the writer thread (`always`, `interval`).
    Thread {
        jobs: Sender<Job>,
        thread: Option<JoinHandle<()>>,
    },
    /// On the reactor's thread (`never`).
    Inline(Box<Inline>),
}

/// The log written on the reactor's thread.
#[derive(Debug)]
struct Inline {
    log: Log,
    /// Checksummed batches not yet written (after a failed write).
    pending: Vec<u8>,
    /// The number of the last batch in `pending`.
    last: u64,
    /// The thread that syncs a compaction's copy and then removes the
    /// segments it replaces (`None` once closed).
    retire: Option<(Sender<u64>, JoinHandle<()>)>,
}

/// The reactor's side of the writer.
#[derive(Debug)]
pub struct Writer {
    mode: Mode,
    progress: Arc<Progress>,
    /// Numbers the batches sent.
    sent: u64,
    /// Bytes of log written since the last compaction (or found at start).
    log_bytes: u64,
    _lock: File,
}

impl Writer {
    /// Starts writing a new segment under `epoch` after `recovery`, on the
    /// writer thread or the caller's as the policy says; `waker` wakes the
    /// reactor on the writer thread's progress.
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
        let inline = config.fsync == FsyncPolicy::Never;
        let waker = (!inline).then_some(waker);
        let log = Log::new(dir.clone(), header, config.segment_bytes, (file, n), waker);
        let progress = Arc::clone(&log.progress);
        let spawn = |name: &str, run: Box<dyn FnOnce() + Send>| {
            thread::Builder::new()
                .name(name.into())
                .spawn(run)
                .map_err(StoreError::io(&dir))
        };
        let mode = if inline {
            let (tx, rx) = mpsc::channel::<u64>();
            let retire_dir = dir.clone();
            let run = move || {
                for from in rx {
                    segment_log::sync_and_retire(&retire_dir, from);
                }
            };
            let thread = spawn("store-retire", Box::new(run))?;
            Mode::Inline(Box::new(Inline {
                log,
                pending: Vec::new(),
                last: 0,
                retire: Some((tx, thread)),
            }))
        } else {
            let (jobs, rx) = mpsc::channel();
            let thread = spawn("store-writer", Box::new(move || run(log, &rx)))?;
            Mode::Thread {
                jobs,
                thread: Some(thread),
            }
        };
        Ok(Writer {
            mode,
            progress,
            sent: 0,
            log_bytes: recovery.recovered.bytes,
            _lock: recovery.lock,
        })
    }

    /// Hands `batch` to the writer; answers its number. On the reactor's
    /// thread, it is written (or the failure reported) on return.
    pub fn append(&mut self, batch: Batch) -> u64 {
        self.sent += 1;
        let bytes = batch.into_bytes();
        self.log_bytes += bytes.len() as u64;
        let n = self.sent;
        match &mut self.mode {
            Mode::Thread { jobs, .. } => tell(jobs, Job::Append(n, bytes)),
            Mode::Inline(inline) => inline.append(bytes, n),
        }
        n
    }

    /// Retries a write that failed, when the writer runs on the reactor's
    /// thread (the writer thread retries by itself).
    pub fn retry(&mut self) {
        if let Mode::Inline(inline) = &mut self.mode {
            if inline.log.progress.failing() {
                inline.write();
            }
        }
    }

    /// Starts a compaction: the batches that follow (the copy of the live
    /// records, with the new messages between its slices) go to a new
    /// segment.
    pub fn start_compaction(&mut self) {
        self.log_bytes = 0;
        match &mut self.mode {
            Mode::Thread { jobs, .. } => tell(jobs, Job::StartCompaction),
            // After a failed write, what is pending belongs before the
            // copy: the compaction is then not started (as on the thread).
            Mode::Inline(inline) if inline.pending.is_empty() => inline.log.start_compaction(),
            Mode::Inline(_) => error!("store: compaction not started: writes are failing"),
        }
    }

    /// Ends a compaction: once everything sent is on disk, the segments
    /// before the compaction started are removed.
    pub fn end_compaction(&mut self) {
        match &mut self.mode {
            Mode::Thread { jobs, .. } => tell(jobs, Job::EndCompaction),
            Mode::Inline(inline) => {
                inline.log.end_compaction();
                inline.settle();
            }
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
    /// the threads to end.
    pub fn close(&mut self) {
        match &mut self.mode {
            Mode::Thread { jobs, thread } => {
                let _ = jobs.send(Job::Close);
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
            Mode::Inline(inline) => inline.close(),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

fn tell(jobs: &Sender<Job>, job: Job) {
    if let Err(e) = jobs.send(job) {
        error!("the store writer is gone: {:?} not done", e.0);
    }
}

impl Inline {
    /// Writes batch `n` now, unless writes are failing: it then waits for
    /// the next retry, behind those that failed.
    fn append(&mut self, mut bytes: Vec<u8>, n: u64) {
        record::checksum(&mut bytes);
        if self.pending.is_empty() {
            self.pending = bytes;
        } else {
            self.pending.extend_from_slice(&bytes);
        }
        self.last = n;
        if !self.log.progress.failing() {
            self.write();
        }
    }

    fn write(&mut self) {
        if self.log.write(&mut self.pending, self.last) {
            self.settle();
        }
    }

    /// A compaction's copy complete and written: its syncs, and the removal
    /// of the segments it replaces, go to the retiring thread.
    fn settle(&mut self) {
        if let (true, Compacting::Done(from)) = (self.pending.is_empty(), self.log.compaction) {
            self.log.compaction = Compacting::Idle;
            if let Some((tx, _)) = &self.retire {
                let _ = tx.send(from);
            }
        }
    }

    fn close(&mut self) {
        let Some((tx, thread)) = self.retire.take() else {
            return;
        };
        self.write();
        if self.pending.is_empty() {
            self.log.close();
        } else {
            // The disk is failing and the broker is stopping: what could
            // not be written was never acknowledged.
            error!(
                "store: {} bytes could not be written before stopping",
                self.pending.len()
            );
        }
        drop(tx);
        let _ = thread.join();
    }
}

/// The writer thread's loop.
fn run(mut log: Log, jobs: &Receiver<Job>) {
    // Bytes written in one go: the batches waiting, coalesced.
    let mut out = Vec::new();
    let mut last = 0;
    let mut closing = false;
    loop {
        let wait = log.wait();
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
                    if log.write(&mut out, last) {
                        log.start_compaction();
                    }
                }
                Job::EndCompaction => log.end_compaction(),
                Job::Close => closing = true,
            }
        }
        let written = log.write(&mut out, last);
        if log.unsynced.is_some_and(|t| log.due(t) || closing) {
            log.sync(last);
        }
        if let (true, Compacting::Done(from)) = (written, log.compaction) {
            log.finish_compaction(from, last);
        }
        if closing && out.is_empty() {
            log.close();
            return;
        }
        if closing {
            // The disk is failing and the broker is stopping: what could
            // not be written was never acknowledged.
            error!(
                "store: {} bytes could not be written before stopping",
                out.len()
            );
            return;
        }
    }
}
