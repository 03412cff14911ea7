//! The chat server's replies, field for field as seed 000's server sends
//! them (the keys in its order), each in one WebSocket text frame:
//!
//! ```text
//! {"type":"message","id":..,"room":..,"sender":..,"content":..,"sequence":..,"timestamp":..}
//! {"type":"subscribed","room":..,"sequence":..}
//! {"type":"presence","userId":..,"action":"join"|"leave","timestamp":..}
//! {"type":"history","room":..,"messages":[{"id":..,"room":..,"sender":..,"content":..,"sequence":..,"timestamp":..}, ..]}
//! {"error":..}
//! ```

use protocol::format::json::quote;
use protocol::value::push_uint;

use super::frames::write_text;
use super::said::Said;
use crate::core::delivery::PresenceEvent;
use crate::core::HistoryPage;

/// The fields of one message, from `id` to `timestamp`, without braces.
fn message_fields(out: &mut Vec<u8>, said: &Said, room: &str, seq: u64, ts: u64) {
    out.extend_from_slice(b"\"id\":");
    out.extend_from_slice(said.id.as_bytes());
    out.extend_from_slice(b",\"room\":");
    out.extend_from_slice(quote(room).as_bytes());
    out.extend_from_slice(b",\"sender\":");
    out.extend_from_slice(said.sender.as_bytes());
    out.extend_from_slice(b",\"content\":");
    out.extend_from_slice(said.content.as_bytes());
    out.extend_from_slice(b",\"sequence\":");
    push_uint(out, seq);
    out.extend_from_slice(b",\"timestamp\":");
    push_uint(out, ts);
}

/// A live `message`.
pub fn message(out: &mut Vec<u8>, said: &Said, room: &str, seq: u64, ts: u64) {
    write_text(out, |out| {
        out.extend_from_slice(b"{\"type\":\"message\",");
        message_fields(out, said, room, seq, ts);
        out.push(b'}');
    });
}

/// The answer to `subscribe`: the room's current number.
pub fn subscribed(out: &mut Vec<u8>, room: &str, seq: u64) {
    write_text(out, |out| {
        out.extend_from_slice(b"{\"type\":\"subscribed\",\"room\":");
        out.extend_from_slice(quote(room).as_bytes());
        out.extend_from_slice(b",\"sequence\":");
        push_uint(out, seq);
        out.push(b'}');
    });
}

/// A join or leave (the seed has no away or back: those are not told).
pub fn presence(out: &mut Vec<u8>, event: &PresenceEvent<'_>) {
    write_text(out, |out| {
        out.extend_from_slice(b"{\"type\":\"presence\",\"userId\":");
        out.extend_from_slice(quote(event.name).as_bytes());
        out.extend_from_slice(b",\"action\":\"");
        out.extend_from_slice(event.action.as_str().as_bytes());
        out.extend_from_slice(b"\",\"timestamp\":");
        push_uint(out, event.ts);
        out.push(b'}');
    });
}

/// The answer to `get_history`: every kept message of the room, oldest
/// first.
pub fn history(out: &mut Vec<u8>, room: &str, page: &HistoryPage<'_>) {
    write_text(out, |out| {
        out.extend_from_slice(b"{\"type\":\"history\",\"room\":");
        out.extend_from_slice(quote(room).as_bytes());
        out.extend_from_slice(b",\"messages\":[");
        for (i, entry) in page.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // The publisher's name is not kept with a message.
            let said = Said::of(&entry.body(), page.topic, entry.seq, entry.ts, None);
            out.push(b'{');
            message_fields(out, &said, room, entry.seq, entry.ts);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    });
}

/// An error reply.
pub fn error(out: &mut Vec<u8>, text: &str) {
    write_text(out, |out| {
        out.extend_from_slice(b"{\"error\":");
        out.extend_from_slice(quote(text).as_bytes());
        out.push(b'}');
    });
}
