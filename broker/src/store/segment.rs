//! Segment files: a header, then records back to back.
//!
//! ```text
//! magic    8 bytes  "LABSTORE"
//! version  u32 LE   the record format's version (FORMAT_VERSION)
//! policy   u8       the fsync policy of the run that wrote it (0 always, 1 interval, 2 never)
//! epoch    u8 length + bytes
//! crc      u32 LE   CRC-32 of everything above
//! ```
//!
//! Segments are named by a number that only grows (`00000000000000000001.seg`),
//! so their order is the order of their names. Each start of the broker
//! writes to a new segment, so the header says the policy and epoch its
//! records were written under.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{FsyncPolicy, StoreError};

/// The first bytes of every segment.
pub const MAGIC: &[u8; 8] = b"LABSTORE";
/// The format this broker writes and reads; a segment with a higher one is
/// refused rather than misread.
pub const FORMAT_VERSION: u32 = 1;
const SUFFIX: &str = ".seg";

/// What a segment's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The numbering epoch its records belong to.
    pub epoch: String,
    /// The fsync policy they were written under.
    pub policy: FsyncPolicy,
}

impl Header {
    /// The header's bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.epoch.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(match self.policy {
            FsyncPolicy::Always => 0,
            FsyncPolicy::Interval(_) => 1,
            FsyncPolicy::Never => 2,
        });
        let epoch = &self.epoch.as_bytes()[..self.epoch.len().min(255)];
        out.push(u8::try_from(epoch.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(epoch);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads the header at the front of `bytes`; answers it and its length.
    ///
    /// # Errors
    /// `Damaged` when it is not a whole, checked header; `NewerFormat` when
    /// it was written by a newer format.
    pub fn decode(path: &Path, bytes: &[u8]) -> Result<(Header, usize), StoreError> {
        let damaged = || StoreError::Damaged {
            path: path.to_owned(),
            why: "no valid segment header",
        };
        if bytes.get(..8) != Some(MAGIC.as_slice()) {
            return Err(damaged());
        }
        let version = u32::from_le_bytes(
            bytes
                .get(8..12)
                .ok_or_else(damaged)?
                .try_into()
                .map_err(|_| damaged())?,
        );
        if version > FORMAT_VERSION {
            return Err(StoreError::NewerFormat {
                path: path.to_owned(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let policy = match bytes.get(12) {
            Some(0) => FsyncPolicy::Always,
            Some(1) => FsyncPolicy::Interval(0),
            Some(2) => FsyncPolicy::Never,
            _ => return Err(damaged()),
        };
        let epoch_len = usize::from(*bytes.get(13).ok_or_else(damaged)?);
        let end = 14 + epoch_len;
        let epoch = bytes.get(14..end).ok_or_else(damaged)?;
        let crc = bytes.get(end..end + 4).ok_or_else(damaged)?;
        if crc32fast::hash(&bytes[..end]).to_le_bytes() != crc {
            return Err(damaged());
        }
        let epoch = std::str::from_utf8(epoch)
            .map_err(|_| damaged())?
            .to_owned();
        Ok((Header { epoch, policy }, end + 4))
    }
}

/// The path of segment `n` in `dir`.
#[must_use]
pub fn path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}{SUFFIX}"))
}

/// The segments in `dir`, by number, oldest first.
///
/// # Errors
/// When the directory cannot be read.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(n) = name
            .to_str()
            .and_then(|s| s.strip_suffix(SUFFIX))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        found.push((n, entry.path()));
    }
    found.sort_unstable();
    Ok(found)
}

/// Creates segment `n` in `dir` with `header`, synced, and the directory
/// synced so the new name survives a crash.
///
/// # Errors
/// As the file system reports.
pub fn create(dir: &Path, n: u64, header: &Header) -> io::Result<File> {
    let mut file = File::options()
        .create_new(true)
        .append(true)
        .open(path(dir, n))?;
    file.write_all(&header.encode())?;
    file.sync_all()?;
    sync_dir(dir)?;
    Ok(file)
}

/// Makes the directory's entries (new or removed files) durable.
///
/// # Errors
/// As the file system reports.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
