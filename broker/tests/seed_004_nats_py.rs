//! Seed 004's TD run unchanged with nats-py against the NATS door: the
//! exercises V.1 to V.4 in `seeds/td_004.py`. The Python that has nats-py
//! comes from `scripts/test.sh` (BROKER_TEST_PYTHON).

mod common;

use std::process::Command;

use broker::doors::Door;
use common::start_broker_with;

#[test]
fn the_td_exercises_pass_with_nats_py() {
    // scripts/test.sh says where; after it ran once, its environment is
    // found under target/ by a plain `cargo test` too.
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/pyenv/bin/python");
    let python = std::env::var("BROKER_TEST_PYTHON")
        .ok()
        .or_else(|| std::path::Path::new(venv).exists().then(|| venv.to_owned()))
        .expect("no Python with nats-py: run the tests with scripts/test.sh, which installs it");
    let b = start_broker_with(broker::Config {
        nats: Some("127.0.0.1:0".parse().unwrap()),
        ..broker::Config::default()
    });
    let port = b.door(Door::Nats).port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seeds/td_004.py");
    let out = Command::new(python)
        .arg(script)
        .arg(port.to_string())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ok ")).collect();
    assert_eq!(passed.len(), 4, "{stdout}");
}
