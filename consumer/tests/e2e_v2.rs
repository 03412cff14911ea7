//! End to end, protocol v2: the `consumer` binary's `[seq]`, `--history`
//! and `--resume` against the real `broker` and `producer` processes (see
//! `common`).

mod common;

use common::{split, Broker};

/// The producer's lines (`/msg <value>`) for `n` values on /msg.
#[track_caller]
fn produce_msgs(broker: &Broker, n: usize) -> Vec<String> {
    let lines = broker
        .client("producer", &["--type", "msg", "--length", &n.to_string()])
        .success();
    assert_eq!(lines.len(), n, "{lines:?}");
    lines
}

#[test]
fn each_message_line_ends_with_its_seq() {
    let broker = Broker::start();
    let mut consumer = broker.consumer(&["--type", "msg", "--count", "3"]);
    let produced = produce_msgs(&broker, 3);
    let got = consumer.success();
    let got: Vec<&String> = got.iter().filter(|l| !l.starts_with("topics: ")).collect();
    let want: Vec<String> = produced
        .iter()
        .zip(1..)
        .map(|(line, seq)| format!("{line} [{seq}]"))
        .collect();
    assert_eq!(got, want.iter().collect::<Vec<_>>());
}

#[test]
fn history_prints_the_last_kept_messages_then_live_ones() {
    let broker = Broker::start();
    let produced = produce_msgs(&broker, 5);
    let mut consumer = broker.consumer(&["--type", "msg", "--history", "3", "--count", "4"]);
    for (i, line) in produced[2..].iter().enumerate() {
        let (topic, value) = split(line);
        assert_eq!(
            consumer.line(),
            format!("{topic} {value} (history) [{}]", i + 3)
        );
    }
    // Live from there, with no retained repeat of the newest kept message.
    let later = produce_msgs(&broker, 1);
    assert_eq!(consumer.line(), format!("{} [6]", later[0]));
    let rest = consumer.success();
    assert!(rest.iter().all(|l| l.starts_with("topics: ")), "{rest:?}");
}

#[test]
fn resume_carries_on_through_a_broker_restart() {
    let mut broker = Broker::start();
    let mut consumer = broker.consumer(&["--type", "msg", "--resume"]);
    let before = produce_msgs(&broker, 2);
    let mut next_message = || loop {
        let line = consumer.line();
        if !line.starts_with("topics: ") {
            return line;
        }
    };
    assert_eq!(next_message(), format!("{} [1]", before[0]));
    assert_eq!(next_message(), format!("{} [2]", before[1]));
    broker.restart(&[]);
    let after = produce_msgs(&broker, 2);
    // The old numbering ended after 2; the new broker's starts at 1.
    assert_eq!(next_message(), "gap: /msg [3..3] (epoch)");
    assert_eq!(next_message(), format!("{} [1]", after[0]));
    assert_eq!(next_message(), format!("{} [2]", after[1]));
    consumer.interrupt();
    let status = consumer.wait();
    assert!(status.success(), "{status}; {}", consumer.stderr_text());
}

#[test]
fn filter_prints_only_the_messages_the_expression_passes() {
    let broker = Broker::start();
    let mut consumer =
        broker.consumer(&["--type", "msg", "--filter", "seq % 2 == 0", "--count", "2"]);
    let produced = produce_msgs(&broker, 5);
    let got: Vec<String> = consumer
        .success()
        .into_iter()
        .filter(|l| !l.starts_with("topics: "))
        .collect();
    assert_eq!(
        got,
        [
            format!("{} [2]", produced[1]),
            format!("{} [4]", produced[3])
        ]
    );
}

#[test]
fn a_filter_that_does_not_compile_is_the_broker_s_error_line() {
    let broker = Broker::start();
    let mut consumer = broker.consumer(&["--type", "msg", "--filter", "msg.nope(", "--count", "1"]);
    let line = loop {
        let line = consumer.line();
        if !line.starts_with("topics: ") {
            break line;
        }
    };
    assert!(
        line.starts_with("error: /msg filter does not compile"),
        "{line}"
    );
    consumer.interrupt();
    assert!(consumer.wait().success());
}

#[test]
fn consumers_of_one_group_share_the_messages() {
    let broker = Broker::start();
    let mut a = broker.consumer(&["--type", "msg", "--group", "workers"]);
    let mut b = broker.consumer(&["--type", "msg", "--group", "workers"]);
    let produced = produce_msgs(&broker, 6);
    let messages = |c: &mut common::Proc| -> Vec<String> {
        (0..3)
            .map(|_| loop {
                let line = c.line();
                if !line.starts_with("topics: ") {
                    break line;
                }
            })
            .collect()
    };
    let mut all = messages(&mut a);
    all.extend(messages(&mut b));
    all.sort();
    let mut want: Vec<String> = produced
        .iter()
        .zip(1..)
        .map(|(line, seq)| format!("{line} [{seq}]"))
        .collect();
    want.sort();
    assert_eq!(all, want, "each message once, three each");
    for c in [&mut a, &mut b] {
        c.interrupt();
        assert!(c.wait().success());
    }
}
