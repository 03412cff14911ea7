//! The `producer` binary's command line. (Having an integration test also
//! makes `cargo test -p producer` build the binary that `consumer`'s
//! end-to-end test runs.)

use std::net::TcpListener;
use std::process::Command;

fn producer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_producer"))
}

#[test]
fn help_lists_the_options() {
    let out = producer().arg("--help").output().expect("run producer");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--type",
        "--length",
        "--interval-ms",
        "--serializer",
        "--host",
        "--port",
        "--confirm",
    ] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
    }
    assert!(help.contains("telephony"), "{help}");
}

#[test]
fn bad_type_is_refused() {
    let out = producer()
        .args(["--type", "weather"])
        .output()
        .expect("run producer");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("weather"));
}

#[test]
fn no_broker_is_a_clear_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("local_addr").port()
    };
    let out = producer()
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .output()
        .expect("run producer");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "producer: cannot connect to broker at 127.0.0.1:{port}: "
        )),
        "{err}"
    );
}
