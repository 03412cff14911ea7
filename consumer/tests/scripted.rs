//! The `consumer` binary against a scripted broker (a plain TCP listener in
//! the test): what it sends, byte for byte, and what it prints.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(20);

/// The consumer process, killed on drop.
struct Consumer(Child);

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn frame(payload: &str) -> Vec<u8> {
    format!("{:>5}{payload}", payload.len()).into_bytes()
}

#[track_caller]
fn expect(stream: &mut TcpStream, payload: &str) {
    let want = frame(payload);
    let mut got = vec![0; want.len()];
    stream.read_exact(&mut got).expect("read from consumer");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
}

/// Waits for the consumer to exit; fails the test past `TIMEOUT`.
#[track_caller]
fn wait(consumer: &mut Consumer) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = consumer.0.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "consumer still running after {TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[track_caller]
fn line(out: &mut impl BufRead) -> String {
    let mut line = String::new();
    out.read_line(&mut line).expect("read consumer stdout");
    line.trim_end_matches('\n').to_owned()
}

#[test]
fn prints_events_and_cancels_on_sigint() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener
        .local_addr()
        .expect("local_addr")
        .port()
        .to_string();
    let mut consumer = Consumer(
        Command::new(env!("CARGO_BIN_EXE_consumer"))
            .args(["--host", "127.0.0.1", "--port", &port, "--type", "/"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start consumer"),
    );
    let mut out = BufReader::new(consumer.0.stdout.take().expect("stdout"));
    let (mut broker, _) = listener.accept().expect("accept");
    broker.set_read_timeout(Some(TIMEOUT)).expect("timeout");

    // `--type /` is the lab's `//`, normalized.
    expect(&mut broker, "JSONQueue");
    expect(
        &mut broker,
        r#"{"method":"SUBSCRIBE","topic":"/","msg":null}"#,
    );
    expect(&mut broker, r#"{"method":"LIST","topic":"/","msg":null}"#);
    let mut script = Vec::new();
    for payload in [
        r#"{"method":"LIST_NACK","topic":"/","msg":"No topics created yet."}"#,
        r#"{"method":"LAST_MSG","topic":"/a","msg":1}"#,
        r#"{"method":"LIST_ACK","topic":"/","msg":["/a","/a/b"]}"#,
        r#"{"method":"PUBLISH","topic":"/a/b","msg":"x y"}"#,
        r#"{"method":"ERROR","topic":"/a","msg":"bad"}"#,
        r#"{"method":"PUBLISH","topic":"/a","msg":{"k":[1.5,null]}}"#,
    ] {
        script.extend(frame(payload));
    }
    broker.write_all(&script).expect("write");

    let want = [
        "topics: (none)",
        "/a 1 (retained)",
        "topics: /a /a/b",
        r#"/a/b "x y""#,
        "error: /a bad",
        r#"/a {"k":[1.5,null]}"#,
    ];
    for want in want {
        assert_eq!(line(&mut out), want);
    }

    let status = Command::new("kill")
        .args(["-INT", &consumer.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    expect(
        &mut broker,
        r#"{"method":"CANCEL_SUB","topic":"/","msg":"/"}"#,
    );
    // Then it closes its side; the broker closes too.
    let mut rest = Vec::new();
    broker.read_to_end(&mut rest).expect("read to EOF");
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    drop(broker);

    let status = wait(&mut consumer);
    assert!(status.success(), "{status}");
    assert_eq!(line(&mut out), "", "nothing more on stdout");
}

#[test]
fn broker_going_away_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener
        .local_addr()
        .expect("local_addr")
        .port()
        .to_string();
    let consumer = Consumer(
        Command::new(env!("CARGO_BIN_EXE_consumer"))
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--type",
                "msg",
                "--serializer",
                "xml",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start consumer"),
    );
    let (mut broker, _) = listener.accept().expect("accept");
    broker.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    expect(&mut broker, "XMLQueue");
    expect(
        &mut broker,
        r#"<message method="SUBSCRIBE" topic="/msg"><msg type="null"/></message>"#,
    );
    expect(
        &mut broker,
        r#"<message method="LIST" topic="/"><msg type="null"/></message>"#,
    );
    broker
        .write_all(&frame(r#"<message method="LIST_ACK" topic="/"><msg type="list"><item>/msg</item></msg></message>"#))
        .expect("write");
    drop(broker);
    let mut consumer = consumer;
    let status = wait(&mut consumer);
    let mut stdout = String::new();
    let mut stderr = String::new();
    let child = &mut consumer.0;
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("stdout");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    assert_eq!(status.code(), Some(1));
    assert_eq!(stdout, "topics: /msg\n");
    assert_eq!(stderr, "consumer: broker closed the connection\n");
}
