//! Robustness through real sockets (spec §6): bad topics get an ERROR that
//! echoes them as received, and leave the connection usable.

mod common;

use common::wire::assert_each_refused_connection_usable;
use common::{encode_frame, start_broker, Raw};
use protocol::{Format, Message, Method};

// ---------------------------------------------------------------------------
// Bad topics (spec §6)
// ---------------------------------------------------------------------------

#[test]
fn bad_topics_get_error_and_connection_stays_usable() {
    let too_many_segments = "/s".repeat(33);
    let too_long = format!("/{}", "x".repeat(1024));
    let bad: Vec<String> = vec![
        "".into(),
        "a".into(),
        "a/b".into(),
        "/a b".into(),
        "/a\tb".into(),
        "/a\nb".into(),
        "/a\u{1}".into(),
        "/a\u{7f}".into(),
        "/a\u{85}".into(),
        "/a\u{a0}b".into(),
        // `/a/*` is a pattern, valid for SUBSCRIBE and CANCEL_SUB since v2
        // (wire_v2_patterns.rs); a `*` inside a segment never is.
        "/a*b".into(),
        "/*a".into(),
        "/a/>".into(),
        "/#".into(),
        "/a+b".into(),
        "/\u{3000}".into(),
        too_many_segments,
        too_long,
    ];
    for format in Format::ALL {
        let mut cases: Vec<(String, Vec<u8>, bool)> = Vec::new();
        for topic in &bad {
            for method in [Method::Publish, Method::Subscribe, Method::CancelSub] {
                let m = if method == Method::CancelSub {
                    Message::cancel_sub(topic.as_str())
                } else {
                    Message::new(method, topic.as_str(), 1)
                };
                let mut payload = Vec::new();
                // XML cannot carry some of these in an attribute; the JSON
                // run covers them.
                if format.encode(&m, &mut payload).is_ok() {
                    payload.drain(..5);
                    cases.push((format!("{method} {topic:?}"), payload, false));
                }
            }
        }
        for root in ["/", "//", "///"] {
            let mut payload = encode_frame(format, &Message::publish(root, 1));
            payload.drain(..5);
            cases.push((format!("PUBLISH {root:?}"), payload, false));
        }
        let missing = match format {
            Format::Json => vec![
                br#"{"method":"PUBLISH","msg":1}"#.to_vec(),
                br#"{"method":"SUBSCRIBE"}"#.to_vec(),
                br#"{"method":"SUBSCRIBE","topic":5}"#.to_vec(),
                br#"{"method":"PUBLISH","topic":["/a"],"msg":1}"#.to_vec(),
                br#"{"method":"CANCEL_SUB","topic":null,"msg":null}"#.to_vec(),
            ],
            Format::Xml => vec![
                br#"<message method="PUBLISH"><msg>1</msg></message>"#.to_vec(),
                br#"<message method="SUBSCRIBE"/>"#.to_vec(),
                br#"<message method="CANCEL_SUB"/>"#.to_vec(),
            ],
        };
        for payload in missing {
            cases.push((
                format!("missing topic {:?}", String::from_utf8_lossy(&payload)),
                payload,
                false,
            ));
        }
        assert_each_refused_connection_usable(format, &cases);
    }
}

#[test]
fn errors_for_bad_topics_echo_the_topic_as_received() {
    let b = start_broker();
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for topic in ["a/b", "/a b", "/a/*", "/#", "/", "//"] {
            c.publish(topic, 1);
            let m = c.expect_error();
            assert_eq!(m.topic, topic, "{format:?}: {m:?}");
        }
        let long = format!("/{}", "x".repeat(1024));
        c.subscribe(&long);
        assert_eq!(c.expect_error().topic, long);
    }
}
