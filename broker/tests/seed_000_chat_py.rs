//! Seed 000's chat flows run through the seed's own Python client
//! (`seeds/pubsub_client.py`, unchanged, on `websockets` 13.1) against the
//! WebSocket door: `seeds/chat_000.py`. The Python that has `websockets` and
//! nats-py comes from `scripts/test.sh` (BROKER_TEST_PYTHON).

mod common;

use std::process::Command;

use broker::doors::Door;
use common::start_broker_with;

#[test]
fn the_seed_client_flows_pass_with_python_websockets() {
    // scripts/test.sh says where; after it ran once, its environment is
    // found under target/ by a plain `cargo test` too.
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/pyenv/bin/python");
    let python = std::env::var("BROKER_TEST_PYTHON")
        .ok()
        .or_else(|| std::path::Path::new(venv).exists().then(|| venv.to_owned()))
        .expect("no Python with websockets: run the tests with scripts/test.sh, which installs it");
    let b = start_broker_with(broker::Config {
        ws: Some("127.0.0.1:0".parse().unwrap()),
        nats: Some("127.0.0.1:0".parse().unwrap()),
        ..broker::Config::default()
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seeds/chat_000.py");
    let out = Command::new(python)
        .arg(script)
        .arg(b.door(Door::Ws).port().to_string())
        .arg(b.door(Door::Nats).port().to_string())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ok ")).collect();
    assert_eq!(passed.len(), 5, "{stdout}");
}
