//! Deliveries' `seq` and `ts` (v2 §11), checked and set aside for tests of
//! everything else.

use protocol::{Message, Method};

/// Checks that `m` carries `seq` and `ts` if and only if it is a delivery
/// (v1 clients see them too), and returns it without them.
#[track_caller]
pub fn unstamped(mut m: Message) -> Message {
    let delivery = matches!(m.method, Method::Publish | Method::LastMsg);
    assert_eq!(
        (m.attrs.seq.is_some(), m.attrs.ts.is_some()),
        (delivery, delivery),
        "seq and ts on deliveries only: {m:?}"
    );
    m.attrs.seq = None;
    m.attrs.ts = None;
    m
}
