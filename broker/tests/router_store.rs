//! The router's side of the durable store, without sockets: what a
//! compaction copies, slice by slice with publishes between the slices, is
//! exactly what is live, and the log read back (with or without the
//! segments before the copy) rebuilds the same histories.

#[path = "router/harness.rs"]
mod harness;

use broker::core::{Router, RouterConfig};
use broker::store::record::{self, Read};
use harness::*;
use protocol::Format;

/// A kept message: `(seq, ts, value)`.
type Kept = (u64, u64, String);

/// Every topic's kept messages, in byte order of topics.
fn histories(r: &Router) -> Vec<(String, Vec<Kept>)> {
    r.tree()
        .kept_under("/")
        .map(|(topic, h)| {
            let kept = h
                .after(0)
                .map(|e| (e.seq, e.ts, e.text().to_owned()))
                .collect();
            (topic.to_owned(), kept)
        })
        .filter(|(_, kept): &(String, Vec<Kept>)| !kept.is_empty())
        .collect()
}

/// A router rebuilt from `log`, as recovery does.
fn recovered(log: &[u8], history: usize) -> Router {
    let mut r = Router::new(RouterConfig {
        history,
        ..RouterConfig::default()
    });
    let mut at = log;
    loop {
        match record::read(at) {
            Read::Record(rec, used) => {
                r.restore(&rec);
                at = &at[used..];
            }
            Read::End => return r,
            other => panic!("a damaged log: {other:?}"),
        }
    }
}

#[test]
fn a_compaction_in_slices_copies_exactly_the_live_records() {
    compaction_in_slices(3);
}

#[test]
fn a_long_ring_is_copied_over_several_slices() {
    compaction_in_slices(50);
}

fn compaction_in_slices(history: usize) {
    let mut h = Harness::new();
    h.router = Router::new(RouterConfig {
        history,
        ..RouterConfig::default()
    });
    h.router.keep_journal();
    let p = h.connect(1, Format::Json);
    let topics: Vec<String> = (0..12).map(|i| format!("/t/{i:02}")).collect();
    let mut n = 0;
    let mut publish = |h: &mut Harness, topic: &str| {
        n += 1;
        h.publish(p, topic, n);
    };
    for round in 0..5 {
        for t in &topics {
            h.router.set_clock(1000 + round);
            publish(&mut h, t);
        }
    }
    let old = h.router.take_journal().expect("records").checked();

    h.router.start_compaction();
    let mut copy = Vec::new();
    let mut slices = 0;
    let mut i = 0;
    let mut sevens = 0;
    let copied = loop {
        // Between slices: topics behind the copy, ahead of it, and one
        // published twice before the copy reaches it.
        for t in [
            &topics[i % 12],
            &topics[11 - i % 12],
            &topics[7],
            &topics[7],
        ] {
            sevens += usize::from(*t == topics[7]);
            publish(&mut h, t);
        }
        i += 1;
        let done = h.router.compact_step(150);
        copy.extend_from_slice(&h.router.take_journal().expect("records").checked());
        slices += 1;
        if let Some(copied) = done {
            break copied;
        }
    };
    assert!(slices > 3, "the copy took {slices} slices");
    assert!(copied > 0 && !h.router.compacting());
    publish(&mut h, &topics[3]);
    copy.extend_from_slice(&h.router.take_journal().expect("records").checked());

    let live = histories(&h.router);
    assert_eq!(live.len(), 12);
    assert_eq!(
        histories(&recovered(&copy, history)),
        live,
        "the copy alone rebuilds what is live"
    );
    let whole = [old, copy.clone()].concat();
    assert_eq!(
        histories(&recovered(&whole, history)),
        live,
        "old segments and the copy: repeats are skipped"
    );
    let mut at = &copy[..];
    let mut copied_sevens = 0;
    while let Read::Record(rec, used) = record::read(at) {
        if let record::Record::Message { topic: "/t/07", .. } = rec {
            copied_sevens += 1;
        }
        at = &at[used..];
    }
    // Its ring once (its 5 messages and the first new one, as many as are
    // kept), then each later publish once: not the ring again each time.
    assert_eq!(
        copied_sevens,
        history.min(6) + sevens - 1,
        "/t/07 copied once"
    );
}
