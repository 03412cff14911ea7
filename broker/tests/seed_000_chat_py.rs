//! Seed 000's chat flows run through the seed's own Python client
//! (`seeds/pubsub_client.py`, unchanged, on `websockets` 13.1) against the
//! WebSocket door: `seeds/chat_000.py`. The Python that has `websockets` and
//! nats-py comes from `scripts/test.sh` (BROKER_TEST_PYTHON).

mod common;

use broker::doors::Door;
use common::start_broker_with;

#[test]
fn the_seed_client_flows_pass_with_python_websockets() {
    let b = start_broker_with(broker::Config {
        ws: Some("127.0.0.1:0".parse().unwrap()),
        nats: Some("127.0.0.1:0".parse().unwrap()),
        ..broker::Config::default()
    });
    let ports = [Door::Ws, Door::Nats].map(|d| b.door(d).port().to_string());
    common::seeds::run("chat_000.py", &ports, 5);
}
