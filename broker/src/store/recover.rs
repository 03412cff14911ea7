//! Recovery at start: the segments read in order, each record checked and
//! handed to the router, a torn or damaged tail cut off (logged), and the
//! decision whether the numbering's epoch can be kept.
//!
//! The epoch is kept only when no number handed out before can be handed
//! out again for another message: the last run stopped cleanly (its last
//! segment ends with a `Close` record), or it wrote with `fsync always` and
//! lost at most a torn last batch (whose output the reactor never
//! released, so no client saw those numbers). Anything else (a damaged
//! record, a crash under `interval` or `never`, whose last batches a power
//! loss may have taken after clients saw them) starts a new epoch, so
//! resuming clients get a `GAP` rather than a wrong message under a known
//! number.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use log::{info, warn};

use super::record::{self, Read, Record};
use super::segment::{self, Header};
use super::{FsyncPolicy, StoreError};

/// The name of the lock file a running broker holds in its data directory.
pub const LOCK_FILE: &str = "LOCK";

/// What recovery found; [`Recovery::epoch`] and the records already went
/// to the router.
#[derive(Debug)]
pub struct Recovery {
    pub(super) dir: PathBuf,
    /// Held (locked) while the broker runs.
    pub(super) lock: File,
    /// The next segment's number.
    pub(super) next_segment: u64,
    /// Segments that hold no record (a start with nothing published),
    /// removed once the next one exists.
    pub(super) empty: Vec<PathBuf>,
    /// The epoch to keep, if it can be kept.
    pub epoch: Option<String>,
    /// What was read.
    pub recovered: Recovered,
}

/// Figures of a recovery, for the log and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Records handed to the router.
    pub records: u64,
    /// Bytes of log read (headers and records kept).
    pub bytes: u64,
    /// Segments read.
    pub segments: u64,
    /// Tails cut off (torn or damaged).
    pub cuts: u64,
}

/// How the last segment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// With a `Close` record.
    Clean,
    /// Without one, nothing damaged.
    Abrupt,
    /// Inside a record (cut off).
    Torn,
}

impl Recovery {
    /// Opens (creating it if missing) and locks `dir`, then reads every
    /// segment in order, handing each record to `apply`.
    ///
    /// # Errors
    /// The directory cannot be created, read or locked, or holds a segment
    /// of a newer format or with a damaged header.
    pub fn run(dir: &Path, mut apply: impl FnMut(&Record<'_>)) -> Result<Recovery, StoreError> {
        fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(StoreError::io(&lock_path))?;
        match fs4::FileExt::try_lock(&lock) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: dir.to_owned(),
                })
            }
            Err(fs4::TryLockError::Error(e)) => return Err(StoreError::io(&lock_path)(e)),
        }
        let segments = segment::list(dir).map_err(StoreError::io(dir))?;
        let mut recovered = Recovered::default();
        let mut empty = Vec::new();
        let mut damaged = false;
        let mut last: Option<(Header, Ending)> = None;
        for (i, (_, path)) in segments.iter().enumerate() {
            let is_last = i + 1 == segments.len();
            let bytes = fs::read(path).map_err(StoreError::io(path))?;
            let (header, start) = match Header::decode(path, &bytes) {
                Ok(found) => found,
                // A segment created but not yet complete when the broker
                // died: nothing in it was ever acknowledged.
                Err(StoreError::Damaged { .. }) if is_last && bytes.len() < 300 => {
                    warn!("{}: incomplete segment header, removed", path.display());
                    fs::remove_file(path).map_err(StoreError::io(path))?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (ending, used, records) =
                read_records(path, &bytes[start..], &mut apply, &mut recovered);
            let end = start + used;
            if end < bytes.len() {
                recovered.cuts += 1;
                damaged |= ending != Ending::Torn || !is_last;
                cut(path, end as u64)?;
            }
            if records == 0 {
                empty.push(path.clone());
            }
            recovered.segments += 1;
            recovered.bytes += end as u64;
            last = Some((header, ending));
        }
        let epoch = match last {
            None => None,
            Some(_) if damaged => {
                warn!("the store was damaged: starting a new numbering epoch");
                None
            }
            Some((h, Ending::Clean)) => Some(h.epoch),
            Some((h, Ending::Abrupt | Ending::Torn)) if h.policy == FsyncPolicy::Always => {
                Some(h.epoch)
            }
            Some(_) => {
                info!("the last run stopped without closing the store and did not sync every batch: starting a new numbering epoch");
                None
            }
        };
        let next_segment = segments.last().map_or(1, |(n, _)| n + 1);
        Ok(Recovery {
            dir: dir.to_owned(),
            lock,
            next_segment,
            empty,
            epoch,
            recovered,
        })
    }
}

/// Hands the records of one segment (after its header) to `apply`; answers
/// how it ended, the bytes of whole records, and how many records (but a
/// close) it held.
fn read_records(
    path: &Path,
    mut bytes: &[u8],
    apply: &mut impl FnMut(&Record<'_>),
    recovered: &mut Recovered,
) -> (Ending, usize, u64) {
    let mut used = 0;
    let mut records = 0;
    let mut ending = Ending::Abrupt;
    loop {
        match record::read(bytes) {
            Read::Record(r, n) => {
                ending = if r == Record::Close {
                    Ending::Clean
                } else {
                    records += 1;
                    recovered.records += 1;
                    apply(&r);
                    Ending::Abrupt
                };
                used += n;
                bytes = &bytes[n..];
            }
            Read::End => return (ending, used, records),
            Read::Torn => {
                warn!("{}: the last record is incomplete (a write cut short): cut at byte {used} of its records", path.display());
                return (Ending::Torn, used, records);
            }
            Read::Corrupt => {
                warn!("{}: a damaged record (bad length, checksum or fields): cut at byte {used} of its records, {} bytes dropped", path.display(), bytes.len());
                return (Ending::Abrupt, used, records);
            }
        }
    }
}

/// Truncates `path` to `len` bytes, durably.
fn cut(path: &Path, len: u64) -> Result<(), StoreError> {
    let file = File::options()
        .write(true)
        .open(path)
        .map_err(StoreError::io(path))?;
    file.set_len(len).map_err(StoreError::io(path))?;
    file.sync_all().map_err(StoreError::io(path))
}
