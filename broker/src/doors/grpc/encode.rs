//! The gRPC door's output: `SessionEvent` messages, each preceded by its
//! length as a varint (prost's length-delimited form), read by the side
//! thread ([`crate::grpc`]).
//!
//! A delivery is encoded once per message as the `Delivery` fields every
//! recipient shares; each recipient's copy is that, behind the event's and
//! the delivery's lengths and its own `subscription` field: protobuf lets
//! fields come in any order, so the per-subscription field is written
//! around shared bytes, as the NATS door writes its `MSG` line around a
//! shared payload.

use prost::encoding::{encode_varint, encoded_len_varint};
use prost::Message;

use super::value;
use crate::core::delivery::{PresenceAction, PresenceEvent};
use crate::core::{Delivery, DeliveryKind, Gap, GapReason, HistoryPage, TopicList};
use crate::proto::{self, answer::Result as Answered, session_event::Kind};

/// Bytes of values or topic names one answer holds at most: well under
/// the 4 MiB a gRPC client accepts by default. A longer answer says `more`.
const ANSWER_BUDGET: usize = 3 * 1024 * 1024;

/// `SessionEvent.delivery`: field 1, length-delimited.
const DELIVERY_KEY: u8 = 1 << 3 | 2;
/// `Delivery.subscription`: field 1, varint.
const SUBSCRIPTION_KEY: u8 = 1 << 3;

/// Appends one event.
pub(super) fn event(kind: Kind, out: &mut Vec<u8>) {
    let event = proto::SessionEvent { kind: Some(kind) };
    out.reserve(event.encoded_len() + 10);
    event
        .encode_length_delimited(out)
        .expect("a Vec grows as needed");
}

/// Appends the answer `result` to request `id`.
pub(super) fn answer(id: u64, result: Answered, out: &mut Vec<u8>) {
    event(
        Kind::Answer(proto::Answer {
            id,
            result: Some(result),
        }),
        out,
    );
}

/// Appends the refusal of request `id`.
pub(super) fn error(id: u64, code: tonic::Code, message: String, out: &mut Vec<u8>) {
    answer(
        id,
        Answered::Error(proto::Error {
            code: code as i32,
            message,
        }),
        out,
    );
}

/// Appends what every recipient of `delivery` shares: its `Delivery`
/// fields but `subscription`.
pub(super) fn delivery_shared(delivery: &Delivery<'_>, out: &mut Vec<u8>) {
    let kind = match delivery.kind {
        DeliveryKind::Live => proto::DeliveryKind::Live,
        DeliveryKind::Retained => proto::DeliveryKind::Retained,
        DeliveryKind::Resumed => proto::DeliveryKind::Resumed,
    };
    let message = proto::Delivery {
        subscription: 0,
        topic: delivery.topic.to_owned(),
        value: Some(value::of_body(delivery.body)),
        seq: delivery.seq,
        ts: delivery.ts,
        kind: kind.into(),
        reply: delivery.reply.unwrap_or_default().to_owned(),
        publisher: delivery.publisher.unwrap_or_default().to_owned(),
    };
    out.reserve(message.encoded_len());
    message.encode(out).expect("a Vec grows as needed");
}

/// Appends one recipient's event: `shared` with its subscription number.
pub(super) fn delivery_for(subscription: u64, shared: &[u8], out: &mut Vec<u8>) {
    let field = if subscription == 0 {
        0
    } else {
        1 + encoded_len_varint(subscription)
    };
    let inner = field + shared.len();
    let event = 1 + encoded_len_varint(inner as u64) + inner;
    out.reserve(event + 10);
    encode_varint(event as u64, out);
    out.push(DELIVERY_KEY);
    encode_varint(inner as u64, out);
    if subscription != 0 {
        out.push(SUBSCRIPTION_KEY);
        encode_varint(subscription, out);
    }
    out.extend_from_slice(shared);
}

/// The topics after `after`, as many as one answer holds.
pub(super) fn topics(list: TopicList<'_>, after: Option<&str>) -> proto::TopicList {
    let (mut topics, mut bytes, mut more) = (Vec::new(), 0, false);
    for topic in list.after(after) {
        if bytes + topic.len() > ANSWER_BUDGET {
            more = true;
            break;
        }
        bytes += topic.len() + 2;
        topics.push(topic.to_owned());
    }
    proto::TopicList { topics, more }
}

/// A `HISTORY` answer, its oldest items first, as many as one answer holds
/// (at least one).
pub(super) fn history(page: &HistoryPage<'_>) -> proto::HistoryReply {
    let (mut items, mut bytes, mut more) = (Vec::new(), 0, false);
    for entry in page.items {
        let item = proto::HistoryItem {
            seq: entry.seq,
            ts: entry.ts,
            value: Some(value::of_body(&entry.body())),
        };
        let len = item.encoded_len();
        if !items.is_empty() && bytes + len > ANSWER_BUDGET {
            more = true;
            break;
        }
        bytes += len;
        items.push(item);
    }
    proto::HistoryReply {
        topic: page.topic.to_owned(),
        seq: page.seq,
        first: page.first.unwrap_or(0),
        items,
        more,
    }
}

/// A gap event.
pub(super) fn gap(gap: &Gap<'_>) -> Kind {
    let reason = match gap.reason {
        GapReason::History => proto::GapReason::History,
        GapReason::Epoch => proto::GapReason::Epoch,
        GapReason::Slow => proto::GapReason::Slow,
        GapReason::Size => proto::GapReason::Size,
    };
    Kind::Gap(proto::Gap {
        topic: gap.topic.to_owned(),
        first: gap.from,
        last: gap.to,
        reason: reason.into(),
        epoch: gap.epoch.to_owned(),
    })
}

/// A presence event.
pub(super) fn presence(event: &PresenceEvent<'_>) -> Kind {
    let action = match event.action {
        PresenceAction::Join => proto::PresenceAction::Join,
        PresenceAction::Leave => proto::PresenceAction::Leave,
        PresenceAction::Away => proto::PresenceAction::Away,
        PresenceAction::Back => proto::PresenceAction::Back,
    };
    Kind::Presence(proto::PresenceEvent {
        topic: event.topic.to_owned(),
        name: event.name.to_owned(),
        id: event.conn.0 as u64,
        action: action.into(),
        ts: event.ts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Body;

    #[test]
    fn a_wrapped_delivery_decodes_with_its_subscription() {
        let body = Body::Json {
            text: "{\"a\":[1,2.5,\"x\"]}".into(),
            xml_len: None,
        };
        let delivery = Delivery {
            kind: DeliveryKind::Live,
            topic: "/t",
            body: &body,
            seq: 7,
            ts: 1_700_000_000_000,
            reply: Some("/_INBOX/r"),
            headers: None,
            publisher: Some("alice"),
        };
        let mut shared = Vec::new();
        delivery_shared(&delivery, &mut shared);
        for subscription in [0, 1, 300, u64::MAX] {
            let mut out = Vec::new();
            delivery_for(subscription, &shared, &mut out);
            let event =
                proto::SessionEvent::decode_length_delimited(out.as_slice()).expect("decodes");
            let Some(Kind::Delivery(d)) = event.kind else {
                panic!("not a delivery: {event:?}");
            };
            assert_eq!(d.subscription, subscription);
            assert_eq!(
                (d.topic.as_str(), d.seq, d.reply.as_str()),
                ("/t", 7, "/_INBOX/r")
            );
            assert_eq!(d.publisher, "alice");
            assert_eq!(value::to_body(d.value).expect("valid"), body);
        }
    }
}
