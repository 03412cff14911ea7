//! Frame decoding and publish templates of the lab protocol.

use super::*;

/// Frames `payload` and decodes it with `lab`.
fn decode_one(lab: &Lab, payload: &str) -> String {
    let mut buf = Vec::new();
    push_frame(&mut buf, payload);
    match lab.decode(&buf) {
        Ok(Some((used, item))) => {
            assert_eq!(used, buf.len());
            match item {
                Item::Delivery(text) => format!("delivery {}", String::from_utf8_lossy(text)),
                other => format!("{other:?}"),
            }
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn json_frames_are_classified() {
    let lab = Lab::new(false);
    assert_eq!(
        decode_one(
            &lab,
            r#"{"method": "PUBLISH", "topic": "/bench", "msg": "t=1 s=2"}"#
        ),
        r#"delivery t=1 s=2"}"#
    );
    assert_eq!(
        decode_one(
            &lab,
            r#"{"msg":"t=1 s=2","method":"PUBLISH","topic":"/bench"}"#
        ),
        r#"delivery t=1 s=2","method":"PUBLISH","topic":"/bench"}"#
    );
    assert_eq!(
        decode_one(
            &lab,
            r#"{"method":"LIST_ACK","topic":"/","msg":["/bench"]}"#
        ),
        "Other"
    );
    assert_eq!(
        decode_one(&lab, r#"{"method":"LIST_ACK","topic":"/","msg":[]}"#),
        "Ack"
    );
    assert_eq!(
        decode_one(&lab, r#"{"method":"LIST_NACK","topic":"/","msg":"No"}"#),
        "Ack"
    );
    assert_eq!(
        decode_one(
            &lab,
            r#"{"method":"LAST_MSG","topic":"/bench","msg":"t=1 s=2"}"#
        ),
        "Other"
    );
    assert!(decode_one(&lab, r#"{"method":"ERROR","topic":"","msg":"bad"}"#).starts_with("Error"));
}

#[test]
fn xml_frames_are_classified() {
    let lab = Lab::new(true);
    assert_eq!(
        decode_one(
            &lab,
            r#"<?xml version="1.0" encoding="UTF-8"?><message method="PUBLISH" topic="/bench"><msg type="str">t=1 s=2</msg></message>"#
        ),
        "delivery t=1 s=2</msg></message>"
    );
    assert_eq!(
        decode_one(
            &lab,
            r#"<message method="PUBLISH" topic="/bench"><msg>t=1 s=2</msg></message>"#
        ),
        "delivery t=1 s=2</msg></message>"
    );
    assert_eq!(
        decode_one(
            &lab,
            r#"<message method="LIST_ACK" topic="/"><msg type="list"><item type="str">/bench</item></msg></message>"#
        ),
        "Other"
    );
    assert_eq!(
        decode_one(
            &lab,
            r#"<message method="LIST_ACK" topic="/"><msg type="list"/></message>"#
        ),
        "Ack"
    );
}

#[test]
fn acks_and_pongs_are_acks() {
    let lab = Lab::new(false);
    assert_eq!(
        decode_one(
            &lab,
            r#"{"method":"PUBACK","topic":"/bench","msg":{"seq":1,"receivers":1}}"#
        ),
        "Ack"
    );
    assert_eq!(
        decode_one(&lab, r#"{"method":"PONG","topic":"/","msg":"sync"}"#),
        "Ack"
    );
    let xml = Lab::new(true);
    assert_eq!(
        decode_one(
            &xml,
            r#"<message method="PUBACK" topic="/bench"><msg type="dict"><item key="seq" type="int">1</item><item key="receivers" type="int">0</item></msg></message>"#
        ),
        "Ack"
    );
}

/// Decodes a framed `payload` with request decoding on.
fn decode_request(xml: bool, payload: &str) -> Option<(String, String)> {
    let lab = Lab {
        replies: true,
        ..Lab::new(xml)
    };
    let mut buf = Vec::new();
    push_frame(&mut buf, payload);
    match lab.decode(&buf) {
        Ok(Some((_, Item::Request { reply, text }))) => Some((
            String::from_utf8_lossy(reply).into_owned(),
            String::from_utf8_lossy(text).into_owned(),
        )),
        _ => None,
    }
}

#[test]
fn deliveries_with_reply_are_requests() {
    let inbox = Some(("/_INBOX/bench-1".to_owned(), "t=1 s=2".to_owned()));
    assert_eq!(
        decode_request(
            false,
            r#"{"method":"PUBLISH","topic":"/bench/rr","msg":"t=1 s=2","seq":1,"ts":17,"reply":"/_INBOX/bench-1"}"#
        ),
        inbox
    );
    assert_eq!(
        decode_request(
            false,
            r#"{"reply" : "/_INBOX/bench-1", "method":"PUBLISH","msg":"t=1 s=2"}"#
        ),
        inbox
    );
    assert_eq!(
        decode_request(
            false,
            r#"{"method":"PUBLISH","topic":"/bench/rr","msg":"a \"q\" \\","reply":"/r"}"#
        ),
        Some(("/r".to_owned(), r#"a \"q\" \\"#.to_owned()))
    );
    assert_eq!(
        decode_request(
            true,
            r#"<message method="PUBLISH" topic="/bench/rr" seq="1" ts="17" reply="/_INBOX/bench-1"><msg type="str">t=1 s=2</msg></message>"#
        ),
        inbox
    );
    assert_eq!(
        decode_request(
            false,
            r#"{"method":"PUBLISH","topic":"/_INBOX/bench-1","msg":"t=1 s=2","seq":1}"#
        ),
        None
    );
    assert_eq!(
        decode_request(
            true,
            r#"<message method="PUBLISH" topic="/x"><msg type="str">t=1 s=2</msg></message>"#
        ),
        None
    );
    // Without request decoding, a reply key changes nothing.
    assert_eq!(
        decode_one(
            &Lab::new(false),
            r#"{"method":"PUBLISH","topic":"/bench/rr","msg":"t=1","reply":"/r"}"#
        ),
        r#"delivery t=1","reply":"/r"}"#
    );
}

#[test]
fn optional_keys_leave_the_text_alone() {
    for xml in [false, true] {
        let plain = Lab::new(xml).publish_frame(128, "/bench", None);
        let acked = Lab {
            ack: true,
            ..Lab::new(xml)
        }
        .publish_frame(128, "/bench", Some("/r"));
        let (Ok((plain, p_at)), Ok((acked, a_at))) = (plain, acked) else {
            panic!("template refused");
        };
        assert_eq!(plain[p_at..], acked[a_at..]);
        let head = String::from_utf8_lossy(&acked[..a_at]).into_owned();
        let keys = if xml {
            [r#" ack="true""#, r#" reply="/r""#]
        } else {
            [r#""ack":true,"#, r#""reply":"/r","#]
        };
        assert!(keys.iter().all(|k| head.contains(k)), "{head}");
        assert!(frame::decode(&acked).is_ok_and(|f| f.is_some_and(|f| f.len == acked.len())));
    }
}

#[test]
fn partial_and_bad_headers() {
    let lab = Lab::new(false);
    assert!(matches!(lab.decode(b"   4"), Ok(None)));
    assert!(matches!(lab.decode(b"   42{}"), Ok(None)));
    assert!(lab.decode(b"  x42{}").is_err());
    assert!(lab.decode(b"    0").is_err());
    assert!(lab.decode(b" 4 2 ").is_err());
}

#[test]
fn publish_template_has_the_requested_size() {
    for xml in [false, true] {
        let lab = Lab::new(xml);
        let Ok((frame, text_at)) = lab.publish_template(128) else {
            panic!("template refused");
        };
        assert_eq!(frame.len(), HEADER_LEN + 128);
        assert!(frame[text_at..].starts_with(b"t=0000"));
        let decoded = lab.decode(&frame);
        assert!(matches!(decoded, Ok(Some((n, Item::Delivery(_)))) if n == frame.len()));
    }
    assert!(Lab::new(false).publish_template(99_990).is_err());
}
