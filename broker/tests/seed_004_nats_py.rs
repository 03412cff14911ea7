//! Seed 004's TD run unchanged with nats-py against the NATS door: the
//! exercises V.1 to V.4 in `seeds/td_004.py`. The Python that has nats-py
//! comes from `scripts/test.sh` (BROKER_TEST_PYTHON).

mod common;

use broker::doors::Door;
use common::start_broker_with;

#[test]
fn the_td_exercises_pass_with_nats_py() {
    let b = start_broker_with(broker::Config {
        nats: Some("127.0.0.1:0".parse().unwrap()),
        ..broker::Config::default()
    });
    let port = b.door(Door::Nats).port().to_string();
    common::seeds::run("td_004.py", &[port], 4);
}
