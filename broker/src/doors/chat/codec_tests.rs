//! The chat codec on a byte stream cut anywhere: every split point decodes
//! to the same actions and answers as the whole.

use super::*;

/// A masked client text frame.
fn frame(text: &str) -> Vec<u8> {
    let mask = [9, 8, 7, 6];
    let mut f = vec![0x81, 0x80 | u8::try_from(text.len()).unwrap()];
    f.extend_from_slice(&mask);
    f.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// What the codec did with `chunks` fed in turn, as the reactor feeds it:
/// the actions and everything it answered.
fn decode_all(chunks: &[&[u8]]) -> (Vec<String>, Vec<u8>) {
    let mut codec = ChatCodec::new("/chat", MAX_MESSAGE);
    let (mut input, mut out, mut actions) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in chunks {
        input.extend_from_slice(chunk);
        while let Ok(Decoded::Unit { used, action }) = codec.decode(&input, &mut out) {
            actions.push(format!("{action:?}"));
            input.drain(..used);
        }
    }
    assert!(input.is_empty());
    (actions, out)
}

#[test]
fn every_split_point_decodes_the_same() {
    let mut stream = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    stream.extend(frame(r#"{"type":"subscribe","room":"r","userId":"u"}"#));
    stream.extend([0x89, 0x81, 0, 0, 0, 0, b'p']); // ping "p"
    stream.extend(frame("not json"));
    stream.extend(frame(r#"{"type":"get_history","room":"r"}"#));
    let whole = decode_all(&[&stream]);
    assert_eq!(whole.0.len(), 5, "{:?}", whole.0);
    assert!(whole.0[1].starts_with("Commands(["), "{}", whole.0[1]);
    for cut in 1..stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(decode_all(&[a, b]), whole, "split at {cut}");
    }
}
