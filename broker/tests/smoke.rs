//! The shortest path through the broker: subscribe, publish, receive.

mod common;

use common::{start_broker, Raw};
use protocol::{Message, Method, Value};

#[test]
fn publish_reaches_subscriber() {
    let b = start_broker();
    let mut sub = Raw::json(b.addr);
    sub.subscribe("/telephony");
    let mut publisher = Raw::json(b.addr);
    publisher.publish("/telephony/orange", 27);
    let got = sub.recv_skipping_lists();
    assert_eq!(got, Message::publish("/telephony/orange", 27));
    let mut xml = Raw::xml(b.addr);
    xml.subscribe("/");
    let replay = xml.recv_skipping_lists();
    assert_eq!(replay.method, Method::LastMsg);
    assert_eq!(replay.msg, Value::Int(27));
}
