//! The durable store across clean restarts, through real sockets: retained
//! messages, history with its numbers and times, the epoch and named
//! clients' publish ids come back; compaction keeps exactly the live
//! entries while old segments go.

mod common;

use std::path::{Path, PathBuf};

use broker::store::{FsyncPolicy, StoreConfig};
use broker::Config;
use common::v2::{get, hello_client, history, obj, ping, resume, subscribe_with, uint, Item};
use common::{start_broker_with, Raw, TestBroker};
use protocol::{Format, Message, Method, Value};

fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lab-store-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn broker_on(dir: &Path, history: usize, segment_bytes: u64, fsync: FsyncPolicy) -> TestBroker {
    start_broker_with(Config {
        history,
        store: Some(StoreConfig {
            fsync,
            segment_bytes,
            ..StoreConfig::new(dir)
        }),
        ..Config::default()
    })
}

fn acked(topic: &str, value: Value, id: &str) -> Message {
    let mut m = Message::publish(topic, value);
    m.attrs.ack = true;
    m.id = Some(id.to_owned());
    m
}

/// Publishes with an id and returns the `PUBACK`'s msg.
fn publish_acked(c: &mut Raw, topic: &str, value: Value, id: &str) -> Value {
    c.send(&acked(topic, value, id));
    loop {
        let m = c.recv();
        if m.method == Method::PubAck {
            return m.msg;
        }
    }
}

#[test]
fn a_restart_keeps_history_numbers_epoch_and_publish_ids() {
    let dir = scratch_dir("restart");
    let (epoch, before_a, before_b) = {
        let b = broker_on(&dir, 5, 1 << 20, FsyncPolicy::Never);
        let (mut p, epoch) = hello_client(b.addr, Format::Json, obj(&[("name", "alice".into())]));
        for i in 1..=8 {
            publish_acked(&mut p, "/a", Value::Int(i), &format!("a{i}"));
        }
        let x = Value::from("<x a=\"1\">é</x>");
        publish_acked(&mut p, "/b/c", obj(&[("text", x)]), "b1");
        let mut c = Raw::json(b.addr);
        let a = history(&mut c, "/a", Value::Null).items;
        let bc = history(&mut c, "/b/c", Value::Null).items;
        (epoch, a, bc)
    };
    let b = broker_on(&dir, 5, 1 << 20, FsyncPolicy::Never);
    let (mut c, again) = hello_client(b.addr, Format::Json, obj(&[]));
    assert_eq!(again, epoch, "a clean restart keeps the epoch");
    let after_a: Vec<Item> = history(&mut c, "/a", Value::Null).items;
    assert_eq!(after_a, before_a, "history with numbers, times and values");
    assert_eq!(
        after_a.iter().map(|i| i.seq).collect::<Vec<_>>(),
        [4, 5, 6, 7, 8]
    );
    assert_eq!(history(&mut c, "/b/c", Value::Null).items, before_b);
    // v1's retained message comes back as LAST_MSG.
    c.subscribe("/b");
    let last = c.recv_skipping_lists();
    assert_eq!(
        (last.method, last.topic.as_str()),
        (Method::LastMsg, "/b/c")
    );
    // The id used before the restart is still in the window.
    let (mut p, _) = hello_client(b.addr, Format::Json, obj(&[("name", "alice".into())]));
    let dup = publish_acked(&mut p, "/a", Value::Int(99), "a8");
    assert_eq!(uint(get(&dup, "seq")), 8);
    assert_eq!(get(&dup, "duplicate"), &Value::Bool(true));
    let next = publish_acked(&mut p, "/a", Value::Int(9), "a9");
    assert_eq!(uint(get(&next, "seq")), 9, "numbering goes on");
    // Resume across the restart: exactly what was missed.
    let (mut r, _) = hello_client(b.addr, Format::Json, obj(&[]));
    subscribe_with(&mut r, "/a", resume(&epoch, &[("/a", 6)]));
    let seqs: Vec<u64> = ping(&mut r)
        .into_iter()
        .filter(|m| m.method == Method::Publish)
        .map(|m| m.attrs.seq.expect("seq"))
        .collect();
    assert_eq!(seqs, [7, 8, 9]);
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compaction_keeps_exactly_the_live_entries_and_old_segments_go() {
    // The writer thread (`always`) and the reactor's own writes (`never`),
    // whose copy is synced and whose old segments are removed by a thread.
    for policy in [FsyncPolicy::Always, FsyncPolicy::Never] {
        compaction_under(policy);
    }
}

fn compaction_under(policy: FsyncPolicy) {
    let dir = scratch_dir("compact");
    // Enough topics that each compaction's copy takes several loop turns,
    // with publishes between its slices, and a topic published once.
    let mut topics: Vec<String> = (0..30).map(|i| format!("/c/{i:02}")).collect();
    topics.push("/c/rare".into());
    let busy = topics.len() - 1;
    let mut expected = Vec::new();
    {
        let b = broker_on(&dir, 3, 4096, policy);
        let (mut p, _) = hello_client(b.addr, Format::Json, obj(&[("name", "bob".into())]));
        publish_acked(&mut p, "/c/rare", Value::from("once"), "r");
        for i in 0..3000 {
            let topic = &topics[i % busy];
            let pad = "p".repeat(i % 40);
            let value = obj(&[("i", Value::Int(i as i64)), ("pad", pad.into())]);
            if i >= 2990 {
                publish_acked(&mut p, topic, value, &format!("i{i}"));
            } else {
                let mut m = Message::publish(topic.as_str(), value);
                m.attrs.ack = true;
                p.send(&m);
            }
            if i % 20 == 19 {
                // Many loop turns, so copies and publishes interleave.
                ping(&mut p);
            }
        }
        ping(&mut p);
        // About 330 KB were written; what is live is a few KB. The writer
        // removes old segments once a copy is on disk, which may be after
        // the PUBACKs of the batches before.
        let bound = 64 * 1024;
        let deadline = std::time::Instant::now() + common::WAIT;
        let first = dir.join(format!("{:020}.seg", 1));
        while (disk_bytes(&dir) > bound || first.exists()) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            disk_bytes(&dir) <= bound,
            "{} bytes on disk",
            disk_bytes(&dir)
        );
        assert!(!first.exists(), "the first segment was compacted away");
        let mut c = Raw::json(b.addr);
        for t in &topics {
            expected.push(history(&mut c, t, Value::Null));
        }
    }
    let b = broker_on(&dir, 3, 4096, policy);
    let mut c = Raw::json(b.addr);
    for (t, want) in topics.iter().zip(&expected) {
        let got = history(&mut c, t, Value::Null);
        assert_eq!((got.seq, &got.items), (want.seq, &want.items), "{t}");
        assert_eq!(got.items.len(), if t == "/c/rare" { 1 } else { 3 }, "{t}");
    }
    assert_eq!(expected[0].seq, 100);
    let (mut p, _) = hello_client(b.addr, Format::Json, obj(&[("name", "bob".into())]));
    let dup = publish_acked(&mut p, &topics[2999 % busy], Value::Null, "i2999");
    assert_eq!(
        uint(get(&dup, "seq")),
        100,
        "publish ids are copied forward"
    );
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .map(|e| e.metadata().expect("meta").len())
        .sum()
}

#[test]
fn the_disk_bound_behaves_as_the_kept_bytes_bound() {
    let dir = scratch_dir("disk-bound");
    let max = 64 * 1024;
    let b = start_broker_with(Config {
        history: 100_000,
        store: Some(StoreConfig {
            max_disk_bytes: max,
            ..StoreConfig::new(&dir)
        }),
        ..Config::default()
    });
    let mut p = Raw::json(b.addr);
    let value = Value::from("v".repeat(200));
    for i in 0..2000 {
        let mut m = Message::publish(format!("/d/{}", i % 4), value.clone());
        m.attrs.ack = true;
        p.send(&m);
    }
    ping(&mut p);
    // One turn's batch may pass the bound (a turn reads up to 1 MiB per
    // connection); the compaction that follows brings the log back under
    // it, the old segments going once the copy is synced.
    let deadline = std::time::Instant::now() + common::WAIT;
    while disk_bytes(&dir) > max && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let used = disk_bytes(&dir);
    assert!(used <= max, "{used} bytes on disk, bound {max}");
    let mut c = Raw::json(b.addr);
    let kept = history(&mut c, "/d/0", Value::Null);
    assert_eq!(kept.seq, 500, "numbering is not affected");
    assert!(
        kept.first > Some(1),
        "the oldest history left: {:?}",
        kept.first
    );
    assert_eq!(
        kept.items.last().map(|i| i.seq),
        Some(500),
        "the newest never leaves"
    );
    // A message that cannot fit even alone is refused, as at the kept-bytes bound.
    p.publish("/d/huge", "h".repeat(60_000));
    let refused = p.recv_skipping_lists();
    assert_eq!(refused.method, Method::Error, "{refused:?}");
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}
