//! The storage engine comparison of docs/store.md: the broker's segment log
//! against redb, a maintained embedded key-value store, each appending the
//! same records in batches with one durable commit per batch (what
//! `--fsync always` does once per loop turn), then reading them all back
//! (what recovery does).
//!
//! ```sh
//! cargo run --release -p broker --example store_engines -- [COMMITS] [DIR]
//! ```

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use broker::store::record::{self, Batch, Read, Record};
use redb::{Database, ReadableTable, TableDefinition};

/// Records by (topic, seq), as the broker would key them in a table.
const MESSAGES: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("messages");

fn main() {
    let mut args = std::env::args().skip(1);
    let commits: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "target/store-engines".into()));
    let value = format!("\"{}\"", "v".repeat(126));
    println!("| engine | records per commit | commits | appended records/s | per commit | read back records/s |");
    println!("|---|---|---|---|---|---|");
    for per_commit in [1, 64, 1024] {
        let n = commits * per_commit;
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        let (append, read) = segment_log(&dir, commits, per_commit, &value);
        row("segment log", per_commit, commits, n, append, read);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        let (append, read) = redb_table(&dir, commits, per_commit, &value);
        row("redb 2.6", per_commit, commits, n, append, read);
    }
    let _ = fs::remove_dir_all(&dir);
}

fn row(engine: &str, per_commit: u64, commits: u64, n: u64, append: Duration, read: Duration) {
    println!(
        "| {engine} | {per_commit} | {commits} | {:.0} | {:.0} µs | {:.0} |",
        n as f64 / append.as_secs_f64(),
        append.as_secs_f64() * 1e6 / commits as f64,
        n as f64 / read.as_secs_f64(),
    );
}

/// Appends with `write` + `fdatasync` per batch, then reads and checks
/// every record.
fn segment_log(dir: &Path, commits: u64, per_commit: u64, value: &str) -> (Duration, Duration) {
    let path = dir.join("log");
    let mut file = File::options()
        .create(true)
        .append(true)
        .open(&path)
        .expect("open");
    let started = Instant::now();
    let mut seq = 0;
    for _ in 0..commits {
        let mut batch = Batch::default();
        for _ in 0..per_commit {
            seq += 1;
            batch.push(&Record::Message {
                topic: "/bench",
                seq,
                ts: seq,
                value,
            });
        }
        file.write_all(&batch.checked()).expect("write");
        file.sync_data().expect("sync");
    }
    let append = started.elapsed();
    let started = Instant::now();
    let bytes = fs::read(&path).expect("read");
    let (mut at, mut read) = (&bytes[..], 0);
    while let Read::Record(_, used) = record::read(at) {
        at = &at[used..];
        read += 1;
    }
    assert_eq!(read, seq);
    (append, started.elapsed())
}

/// Inserts each batch in one write transaction (durable commit), then
/// iterates the table.
fn redb_table(dir: &Path, commits: u64, per_commit: u64, value: &str) -> (Duration, Duration) {
    let db = Database::create(dir.join("redb")).expect("create");
    let started = Instant::now();
    let mut seq: u64 = 0;
    for _ in 0..commits {
        let tx = db.begin_write().expect("begin");
        {
            let mut table = tx.open_table(MESSAGES).expect("table");
            for _ in 0..per_commit {
                seq += 1;
                let mut row = Vec::with_capacity(8 + value.len());
                row.extend_from_slice(&seq.to_le_bytes());
                row.extend_from_slice(value.as_bytes());
                table
                    .insert(("/bench", seq), row.as_slice())
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    let append = started.elapsed();
    let started = Instant::now();
    let tx = db.begin_read().expect("read");
    let table = tx.open_table(MESSAGES).expect("table");
    let mut read = 0;
    for row in table.iter().expect("iter") {
        let (_, value) = row.expect("row");
        assert!(value.value().len() > 8);
        read += 1;
    }
    assert_eq!(read, seq);
    (append, started.elapsed())
}
