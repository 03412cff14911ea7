//! The store's recovery on damaged logs: every cut of the last records and
//! a flipped byte recover to a prefix of what was written, never more.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::record::{Batch, Record};
use super::recover::Recovery;
use super::segment::{self, Header};
use super::FsyncPolicy;

/// A fresh directory under the system's temporary directory.
fn scratch_dir(what: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "lab-store-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn message(seq: u64) -> (String, u64) {
    (
        format!(
            "{{\"n\":{seq},\"pad\":\"{}\"}}",
            "x".repeat(seq as usize % 7)
        ),
        seq,
    )
}

/// A segment of `count` messages on `/t` under policy `always`; returns
/// its bytes and where each record ends.
fn segment_bytes(count: u64) -> (Vec<u8>, Vec<usize>) {
    let header = Header {
        epoch: "e1".into(),
        policy: FsyncPolicy::Always,
    };
    let mut bytes = header.encode();
    let mut ends = Vec::new();
    for seq in 1..=count {
        let (value, _) = message(seq);
        let mut b = Batch::default();
        b.push(&Record::Message {
            topic: "/t",
            seq,
            ts: 1000 + seq,
            value: &value,
        });
        bytes.extend_from_slice(&b.checked());
        ends.push(bytes.len());
    }
    (bytes, ends)
}

/// Recovers `dir`: the sequence numbers read, and the recovery.
fn recover(dir: &Path) -> (Vec<u64>, Recovery) {
    let mut seqs = Vec::new();
    let recovery = Recovery::run(dir, |r| {
        if let Record::Message { seq, value, .. } = r {
            assert_eq!(*value, message(*seq).0, "never a wrong value");
            seqs.push(*seq);
        }
    })
    .expect("recovers");
    (seqs, recovery)
}

#[test]
fn a_log_cut_at_every_offset_of_its_last_records_recovers_to_a_prefix() {
    let (bytes, ends) = segment_bytes(6);
    let from = ends[2];
    for cut in from..=bytes.len() {
        let dir = scratch_dir("cut");
        let path = segment::path(&dir, 1);
        fs::write(&path, &bytes[..cut]).expect("write");
        let (seqs, recovery) = recover(&dir);
        let whole = ends.iter().filter(|&&e| e <= cut).count() as u64;
        assert_eq!(seqs, (1..=whole).collect::<Vec<_>>(), "cut at {cut}");
        let kept_len = ends[whole as usize - 1];
        assert_eq!(
            fs::metadata(&path).expect("meta").len(),
            kept_len as u64,
            "the torn tail is cut off the file"
        );
        assert_eq!(recovery.recovered.cuts, u64::from(cut != kept_len));
        assert_eq!(
            recovery.epoch.as_deref(),
            Some("e1"),
            "under fsync always a torn last batch was never released: the epoch stays"
        );
        drop(recovery);
        let (again, _) = recover(&dir);
        assert_eq!(again, seqs, "a second recovery reads the same");
        let _ = fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_damaged_record_is_cut_with_what_follows_and_the_epoch_changes() {
    let (mut bytes, ends) = segment_bytes(5);
    bytes[ends[2] + 12] ^= 0x20; // inside the fourth record
    let dir = scratch_dir("corrupt");
    fs::write(segment::path(&dir, 1), &bytes).expect("write");
    let (seqs, recovery) = recover(&dir);
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(recovery.recovered.cuts, 1);
    assert_eq!(
        recovery.epoch, None,
        "numbers clients saw may be lost: new epoch"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_newer_format_or_a_locked_directory_is_refused() {
    let dir = scratch_dir("newer");
    let (mut bytes, _) = segment_bytes(1);
    bytes[8..12].copy_from_slice(&(segment::FORMAT_VERSION + 1).to_le_bytes());
    fs::write(segment::path(&dir, 1), &bytes).expect("write");
    let err = Recovery::run(&dir, |_| {}).expect_err("refused");
    assert!(err.to_string().contains("format 2"), "{err}");
    fs::remove_file(segment::path(&dir, 1)).expect("rm");
    let held = Recovery::run(&dir, |_| {}).expect("opens");
    let err = Recovery::run(&dir, |_| {}).expect_err("locked");
    assert!(
        err.to_string().contains("in use by another broker"),
        "{err}"
    );
    drop(held);
    Recovery::run(&dir, |_| {}).expect("free again");
    let _ = fs::remove_dir_all(&dir);
}
