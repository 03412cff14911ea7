//! Found in review of v2 parts 2 and 3: behaviours that contradict the
//! spec or `docs/protocol.md`, shown through real sockets.

mod common;

use std::time::{Duration, Instant};

use common::v2::{obj, ping, subscribe_with};
use common::{start_broker, Raw};
use protocol::Value;

/// A content filter's evaluation is bounded (docs/protocol.md §11: 25,000
/// units, about 0.5 ms at worst), so one subscriber's filter cannot stall
/// the broker for everyone. But `==` charges only the top-level size of its
/// operands while comparing them to the bottom, and a value built by
/// doubling (`map(a, [a, a])`, halves shared) has 2^k leaves for a few
/// units: one publish keeps the reactor (every connection's) busy for seconds.
#[test]
fn s14_one_filter_evaluation_cannot_stall_the_broker() {
    let b = start_broker();
    let expr = format!("[[0]]{}.all(z, z == z)", ".map(a, [a, a])".repeat(22));
    let mut sub = Raw::json(b.addr);
    subscribe_with(
        &mut sub,
        "/t",
        obj(&[("filter", Value::from(expr.as_str()))]),
    );
    ping(&mut sub);
    let mut p = Raw::json(b.addr);
    ping(&mut p);
    let start = Instant::now();
    p.publish("/t", 1);
    ping(&mut p);
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(500),
        "one publish and a PING took {took:?}: the filter ran unbounded"
    );
}
