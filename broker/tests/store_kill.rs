//! The durable store through the real `broker` binary: `kill -9` during a
//! stream of confirmed publishes with `--fsync always`, then a restart on
//! the same data directory; and the data directories it must refuse.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::process::BrokerProcess;
use common::v2::{get, hello_client, history, obj, ping, resume, subscribe_with, uint};
use common::Raw;
use protocol::{Format, Message, Method, Value};

impl BrokerProcess {
    fn start(dir: &Path, extra: &[&str]) -> BrokerProcess {
        let mut command = BrokerProcess::command();
        command
            .args(["--addr", "127.0.0.1", "--port", "0", "--history", "100000"])
            .arg("--data-dir")
            .arg(dir)
            .args(extra);
        BrokerProcess::spawn(command)
    }

    fn kill9(&mut self) {
        let status = Command::new("kill")
            .args(["-9", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let _ = self.child.wait();
    }
}

fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lab-store-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn acked(topic: &str, n: i64) -> Message {
    let mut m = Message::publish(topic, Value::Int(n));
    m.attrs.ack = true;
    m.id = Some(format!("m-{n}"));
    m
}

/// The next `PUBACK`'s `(seq, duplicate)`.
fn next_puback(c: &mut Raw) -> (u64, bool) {
    loop {
        let m = c.recv();
        if m.method == Method::PubAck {
            let Value::Dict(entries) = &m.msg else {
                panic!("{m:?}")
            };
            let dup = entries
                .iter()
                .any(|(k, v)| k == "duplicate" && *v == Value::Bool(true));
            return (uint(get(&m.msg, "seq")), dup);
        }
    }
}

/// Reads deliveries until the connection ends (the broker was killed):
/// their `(seq, value)`.
fn drain_deliveries(mut stream: TcpStream) -> Vec<(u64, Value)> {
    let mut got = Vec::new();
    loop {
        let mut header = [0u8; 5];
        if stream.read_exact(&mut header).is_err() {
            return got;
        }
        let len: usize = std::str::from_utf8(&header)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut payload = vec![0; len];
        if stream.read_exact(&mut payload).is_err() {
            return got;
        }
        let m = Format::Json.decode(&payload).expect("a message");
        if m.method == Method::Publish {
            got.push((m.attrs.seq.expect("seq"), m.msg));
        }
    }
}

#[test]
fn kill_9_loses_no_acknowledged_publish_and_numbering_and_resume_go_on() {
    // A few rounds: where the kill lands in the stream varies.
    for round in 0..4 {
        kill_9_round(&scratch_dir(&format!("kill9-{round}")));
    }
}

fn kill_9_round(dir: &Path) {
    let dir = dir.to_owned();
    let mut broker = BrokerProcess::start(&dir, &["--fsync", "always"]);
    let (mut sub, epoch) = hello_client(broker.addr, Format::Json, obj(&[]));
    sub.subscribe("/k");
    ping(&mut sub);
    let (mut publisher, _) =
        hello_client(broker.addr, Format::Json, obj(&[("name", "alice".into())]));
    // A window of 16 publishes in flight, as a confirming publisher keeps.
    let window = 16;
    let mut acks = Vec::new();
    for n in 0..window {
        publisher.send(&acked("/k", n));
    }
    for n in window..300 {
        acks.push(next_puback(&mut publisher).0);
        publisher.send(&acked("/k", n));
    }
    broker.kill9();
    let seen = drain_deliveries(sub.stream.try_clone().expect("clone"));
    let last_seen = seen.last().map_or(0, |d| d.0);
    assert!(acks.len() >= 284 && last_seen > 0, "{} acks", acks.len());

    let broker = BrokerProcess::start(&dir, &["--fsync", "always"]);
    let recovered = broker.early.iter().any(|l| l.contains("records from"));
    assert!(recovered, "the restart logs what it recovered");
    let (mut c, epoch2) = hello_client(broker.addr, Format::Json, obj(&[]));
    assert_eq!(epoch2, epoch, "nothing a client saw was lost: same epoch");
    let kept = history(&mut c, "/k", Value::Null);
    let stored = kept.seqs();
    let top = stored.last().copied().unwrap_or(0);
    assert_eq!(stored, (1..=top).collect::<Vec<_>>(), "an unbroken prefix");
    for (i, seq) in acks.iter().enumerate() {
        let item = kept
            .items
            .get(*seq as usize - 1)
            .unwrap_or_else(|| panic!("PUBACKed message {seq} lost (kept up to {top})"));
        assert_eq!(
            item.msg,
            Value::Int(i as i64),
            "PUBACKed message {seq} kept with its value"
        );
    }
    for (seq, value) in &seen {
        let item = kept.items.get(*seq as usize - 1).unwrap_or_else(|| {
            panic!("delivered message {seq} lost (kept up to {top}): its number will be reused")
        });
        assert_eq!(&item.msg, value, "what was delivered is what is kept");
    }
    // Resume from the last delivery seen: exactly the missed ones.
    let (mut resumer, _) = hello_client(broker.addr, Format::Json, obj(&[]));
    subscribe_with(&mut resumer, "/k", resume(&epoch, &[("/k", last_seen)]));
    let replayed: Vec<u64> = ping(&mut resumer)
        .into_iter()
        .filter(|m| m.method == Method::Publish)
        .map(|m| m.attrs.seq.expect("seq"))
        .collect();
    assert_eq!(replayed, ((last_seen + 1)..=top).collect::<Vec<_>>());
    // The publisher retries what it has no PUBACK for, under the same ids:
    // each message is kept exactly once.
    let (mut publisher, _) =
        hello_client(broker.addr, Format::Json, obj(&[("name", "alice".into())]));
    let mut next = top + 1;
    for n in (acks.len() as i64)..300 {
        publisher.send(&acked("/k", n));
        let (seq, dup) = next_puback(&mut publisher);
        if dup {
            assert!(seq <= top, "a duplicate answers the kept number");
            assert_eq!(kept.items[seq as usize - 1].msg, Value::Int(n));
        } else {
            assert_eq!(seq, next, "numbering goes on from the log");
            next += 1;
        }
    }
    let all = history(&mut c, "/k", Value::Null);
    let values: Vec<Value> = all.items.iter().map(|i| i.msg.clone()).collect();
    assert_eq!(
        values,
        (0..300).map(Value::Int).collect::<Vec<_>>(),
        "exactly once, in order"
    );
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_data_directory_in_use_or_unusable_is_a_clear_error() {
    let dir = scratch_dir("locked");
    let first = BrokerProcess::start(&dir, &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_broker"))
        .args(["--addr", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ERROR") && stderr.contains("in use by another broker"),
        "{stderr}"
    );
    drop(first);

    let file = dir.join("not-a-directory");
    std::fs::write(&file, b"x").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_broker"))
        .args(["--addr", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(file.join("data"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open the store") && stderr.contains("not-a-directory"),
        "{stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_broker"))
        .args(["--port", "0", "--fsync", "sometimes"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("interval=MS"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_data_directory_is_created() {
    let dir = scratch_dir("missing").join("deeper");
    let broker = BrokerProcess::start(&dir, &[]);
    let (mut c, _) = hello_client(broker.addr, Format::Json, obj(&[]));
    c.publish("/x", 1);
    ping(&mut c);
    assert!(dir.is_dir());
    drop(broker);
    let _ = std::fs::remove_dir_all(dir.parent().expect("parent"));
    let _ = Duration::ZERO;
}

#[test]
fn a_full_disk_is_an_error_to_publishers_and_a_log_line_never_a_crash() {
    // The writer thread (`always`) and the reactor's own writes (`never`).
    for policy in ["always", "never"] {
        full_disk_under(policy);
    }
}

fn full_disk_under(policy: &str) {
    let dir = scratch_dir(&format!("full-{policy}"));
    std::fs::create_dir_all(&dir).expect("dir");
    // A 256 KiB file system of its own, in a mount namespace of its own:
    // it goes with the broker.
    let script = format!(
        "mount -t tmpfs -o size=256k tmpfs {0} && exec {1} --addr 127.0.0.1 --port 0 --data-dir {0} --fsync {policy}",
        dir.display(),
        env!("CARGO_BIN_EXE_broker")
    );
    let mut command = Command::new("unshare");
    command.args(["-m", "sh", "-c", &script]);
    let broker = BrokerProcess::spawn(command);
    // A filler takes most of the room (written through the broker's own
    // view of its mounts), so that once it goes what failed fits.
    let filler = PathBuf::from(format!(
        "/proc/{}/root{}/filler",
        broker.child.id(),
        dir.display()
    ));
    std::fs::write(&filler, vec![0u8; 160 * 1024]).expect("filler");
    let big = Value::from("x".repeat(8000));
    let mut flood = Raw::json(broker.addr);
    const FLOOD: usize = 16;
    for _ in 0..FLOOD {
        let mut m = Message::publish("/big", big.clone());
        m.attrs.ack = true;
        flood.send(&m);
    }
    // Each probe on its own connection: one whose publish went into the
    // batch that failed waits (its PUBACK is never sent for a message not
    // on disk), so the next probe is asked.
    let mut refused = None;
    for i in 0..20 {
        let mut probe = Raw::json(broker.addr);
        probe
            .stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let mut m = Message::publish("/probe", Value::Int(i));
        m.attrs.ack = true;
        probe.send(&m);
        let Some(payload) = probe_answer(&mut probe) else {
            continue;
        };
        let answer = Format::Json.decode(&payload).expect("a message");
        if answer.method == Method::Error {
            refused = Some(answer);
            break;
        }
    }
    let refused =
        refused.unwrap_or_else(|| panic!("{policy}: a publish is refused once the disk is full"));
    assert!(
        format!("{:?}", refused.msg).contains("storage unavailable"),
        "{refused:?}"
    );
    // The line may come a moment after the refusal: another thread reads
    // the broker's stderr.
    let deadline = Instant::now() + Duration::from_secs(5);
    let logged = std::iter::from_fn(|| {
        let left = deadline.saturating_duration_since(Instant::now());
        broker.log.recv_timeout(left).ok()
    })
    .any(|l| l.contains("ERROR") && l.contains("cannot write"));
    assert!(logged, "the failure is logged");
    let mut other = Raw::json(broker.addr);
    assert!(
        history(&mut other, "/probe", Value::Null).items.len() < 20,
        "the broker still answers"
    );
    // What the flood got while the disk was full: PUBACKs for the batches
    // written before it filled, nothing for the batch that failed (its
    // output is held, with everything queued after it).
    let mut acked = Vec::new();
    let mut refused_after = 0;
    flood
        .stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    while let Some(payload) = probe_answer(&mut flood) {
        tally(policy, &payload, &mut acked, &mut refused_after);
        assert_eq!(refused_after, 0, "{policy}: held output came out");
    }
    let before_room = acked.len();
    assert!(
        before_room < FLOOD,
        "{policy}: the failed batch's PUBACKs wait"
    );
    // Room again: the failed batch is written at the next retry, its held
    // PUBACKs go out, and publishes are accepted again. Every publish of the
    // flood is answered, in order: PUBACKs, then an ERROR for any read after
    // the batch failed (the broker reads the flood as it arrives, so it may
    // take more than one turn).
    std::fs::remove_file(&filler).expect("filler removed");
    flood
        .stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    while acked.len() + refused_after < FLOOD {
        let Some(payload) = probe_answer(&mut flood) else {
            panic!(
                "{policy}: {} of {FLOOD} publishes answered after the disk has room",
                acked.len() + refused_after
            );
        };
        tally(policy, &payload, &mut acked, &mut refused_after);
    }
    assert!(
        acked.len() > before_room,
        "{policy}: the failed batch's PUBACKs after the disk has room"
    );
    assert_eq!(
        acked,
        (1..=acked.len() as u64).collect::<Vec<_>>(),
        "{policy}"
    );
    let mut m = Message::publish("/after", Value::Int(1));
    m.attrs.ack = true;
    other.send(&m);
    assert_eq!(next_puback(&mut other).0, 1, "{policy}: accepted again");
    // Pages of HISTORY (a frame holds about twelve of these values).
    // Paged to the end: no refused publish may be kept either.
    let mut kept = Vec::new();
    loop {
        let since = kept.last().copied().unwrap_or(0) as i64;
        let page = history(&mut other, "/big", obj(&[("since", Value::Int(since))]));
        if page.items.is_empty() {
            break;
        }
        kept.extend(page.seqs());
    }
    assert_eq!(
        kept, acked,
        "{policy}: exactly the acknowledged messages are kept"
    );
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Counts the flood's answer `payload`: a PUBACK's seq into `acked`, an
/// ERROR (the store cannot write) into `refused`; no PUBACK may follow an
/// ERROR, since answers keep the order of the requests.
fn tally(policy: &str, payload: &[u8], acked: &mut Vec<u64>, refused: &mut usize) {
    let answer = Format::Json.decode(payload).expect("a message");
    match answer.method {
        Method::PubAck => {
            assert_eq!(*refused, 0, "{policy}: a PUBACK after an ERROR");
            acked.push(uint(get(&answer.msg, "seq")));
        }
        Method::Error => {
            let text = format!("{:?}", answer.msg);
            assert!(text.contains("storage unavailable"), "{policy}: {text}");
            *refused += 1;
        }
        _ => panic!("{policy}: {answer:?}"),
    }
}

/// One frame's payload, or `None` when nothing came in time.
fn probe_answer(c: &mut Raw) -> Option<Vec<u8>> {
    let mut header = [0u8; 5];
    c.stream.read_exact(&mut header).ok()?;
    let len: usize = std::str::from_utf8(&header).ok()?.trim().parse().ok()?;
    let mut payload = vec![0; len];
    c.stream.read_exact(&mut payload).ok()?;
    Some(payload)
}

#[test]
fn a_crash_without_fsync_always_starts_a_new_epoch_and_resume_says_so() {
    for policy in ["never", "interval=20"] {
        crash_under(policy);
    }
}

fn crash_under(policy: &str) {
    let dir = scratch_dir(&format!("crash-{policy}"));
    let mut broker = BrokerProcess::start(&dir, &["--fsync", policy]);
    let (mut p, epoch) = hello_client(broker.addr, Format::Json, obj(&[]));
    for n in 0..20 {
        p.send(&acked("/n", n));
        assert_eq!(next_puback(&mut p).0, n as u64 + 1);
    }
    broker.kill9();
    let broker = BrokerProcess::start(&dir, &["--fsync", policy]);
    let (mut c, epoch2) = hello_client(broker.addr, Format::Json, obj(&[]));
    assert_ne!(
        epoch2, epoch,
        "a power loss could have taken what clients saw: new epoch"
    );
    let kept = history(&mut c, "/n", Value::Null);
    assert_eq!(
        kept.seqs(),
        (1..=20).collect::<Vec<_>>(),
        "a crash of the broker alone loses nothing"
    );
    subscribe_with(&mut c, "/n", resume(&epoch, &[("/n", 12)]));
    let answer = ping(&mut c);
    let gap = common::v2::parse_gap(&answer[0]);
    assert_eq!(gap, common::v2::gap("/n", 13, 13, "epoch", &epoch2));
    let replayed: Vec<u64> = answer[1..]
        .iter()
        .map(|m| m.attrs.seq.expect("seq"))
        .collect();
    assert_eq!(replayed, (1..=20).collect::<Vec<_>>());
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}
