//! The WebSocket door's framing through real sockets: the handshake (and
//! its refusal with HTTP 400), ping/pong, close frames and their codes,
//! fragmented and masked frames written by hand, the message size limit
//! (close 1009), and a chat client that never reads (a slow consumer).

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use common::chat::{chat_broker, Chat};
use common::read_raw_until_end;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

/// A client frame written by hand: FIN and opcode in `first`, masked.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![first];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// The close frame the broker sent, after any text before it.
fn close_code(c: &mut Chat) -> u16 {
    loop {
        match c.ws.read().expect("a frame") {
            Message::Close(Some(f)) => return f.code.into(),
            Message::Text(_) | Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[test]
fn a_request_that_is_not_an_upgrade_gets_400() {
    let (_b, addr) = chat_broker(broker::Config::default());
    for request in [
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        "POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_owned(),
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n".to_owned(),
        "\u{16}\u{3}\u{1} a TLS hello?\r\n\r\n".to_owned(),
    ] {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let (bytes, _) = read_raw_until_end(&mut s, Duration::from_secs(5));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{request:?}: {text}");
    }
}

#[test]
fn ping_is_answered_with_pong_and_close_is_echoed() {
    let (_b, addr) = chat_broker(broker::Config::default());
    let mut c = Chat::connect(addr);
    c.ws.send(Message::Ping(b"are you there".to_vec().into()))
        .unwrap();
    match c.ws.read().unwrap() {
        Message::Pong(p) => assert_eq!(&p[..], b"are you there"),
        other => panic!("{other:?}"),
    }
    c.ws.close(Some(CloseFrame {
        code: CloseCode::Library(4000),
        reason: "bye".into(),
    }))
    .unwrap();
    assert_eq!(close_code(&mut c), 4000);
}

#[test]
fn fragmented_masked_frames_with_a_ping_between_make_one_message() {
    let (_b, addr) = chat_broker(broker::Config::default());
    let mut c = Chat::connect(addr);
    let text = br#"{"type":"subscribe","room":"frag","userId":"pieces"}"#;
    let (a, rest) = text.split_at(10);
    let (b, z) = rest.split_at(20);
    let mut bytes = masked(0x01, a); // text, not final
    bytes.extend(masked(0x89, b"p")); // a ping between fragments
    bytes.extend(masked(0x00, b)); // continuation
    bytes.extend(masked(0x80, z)); // continuation, final
                                   // Byte by byte: every split point must decode the same.
    for byte in bytes {
        c.ws.get_mut().write_all(&[byte]).unwrap();
    }
    match c.ws.read().unwrap() {
        Message::Pong(p) => assert_eq!(&p[..], b"p"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.recv_type("presence")["userId"], "pieces");
    assert_eq!(c.recv_type("subscribed")["room"], "frag");
}

#[test]
fn protocol_errors_close_with_their_codes_and_others_go_on() {
    let (_b, addr) = chat_broker(broker::Config {
        ws_max_message: 1024,
        ..broker::Config::default()
    });
    let mut other = Chat::connect(addr);
    other.subscribe("r", "other");

    let mut big = Chat::connect(addr);
    big.ws.send(Message::text("x".repeat(2000))).unwrap();
    assert_eq!(close_code(&mut big), 1009);
    // Fragments count together.
    let mut pieces = Chat::connect(addr);
    let mut bytes = masked(0x01, &[b' '; 600]);
    bytes.extend(masked(0x80, &[b' '; 600]));
    pieces.ws.get_mut().write_all(&bytes).unwrap();
    assert_eq!(close_code(&mut pieces), 1009);

    let mut unmasked = Chat::connect(addr);
    unmasked
        .ws
        .get_mut()
        .write_all(&[0x81, 0x02, b'{', b'}'])
        .unwrap();
    assert_eq!(close_code(&mut unmasked), 1002);

    let mut bad_utf8 = Chat::connect(addr);
    bad_utf8
        .ws
        .get_mut()
        .write_all(&masked(0x81, &[0xc3, 0x28]))
        .unwrap();
    assert_eq!(close_code(&mut bad_utf8), 1007);

    let mut stray = Chat::connect(addr);
    stray.ws.get_mut().write_all(&masked(0x80, b"x")).unwrap();
    assert_eq!(close_code(&mut stray), 1002);

    other.publish("r", "other", "still here");
    assert_eq!(other.recv_type("message")["content"], "still here");
}

#[test]
fn a_chat_client_that_never_reads_is_dropped_and_others_get_everything() {
    const COUNT: usize = 3000;
    let (_b, addr) = chat_broker(broker::Config {
        max_pending_output: 256 * 1024,
        ..broker::Config::default()
    });
    let mut fast = Chat::connect(addr);
    fast.subscribe("flood", "fast");
    let stream = TcpStream::connect(addr).unwrap();
    socket2::SockRef::from(&stream)
        .set_recv_buffer_size(4096)
        .unwrap();
    let mut slow = Chat::over(addr, stream);
    slow.subscribe("flood", "slow");
    fast.recv_type("presence");
    let reader = thread::spawn(move || {
        let (mut seqs, mut left) = (Vec::new(), Vec::new());
        while seqs.len() < COUNT {
            let m = fast.recv();
            match m["type"].as_str() {
                Some("message") => seqs.push(m["sequence"].as_u64().unwrap()),
                Some("presence") => left.push(m["userId"].as_str().unwrap().to_owned()),
                _ => panic!("{m}"),
            }
        }
        (seqs, left)
    });
    let mut publisher = Chat::connect(addr);
    let filler = "f".repeat(4096);
    for _ in 0..COUNT {
        publisher.publish("flood", "p", &filler);
    }
    let (seqs, left) = reader.join().unwrap();
    assert_eq!(seqs, (1..=COUNT as u64).collect::<Vec<_>>());
    // Dropped by the broker (it is still connected, never having read),
    // it left the room.
    assert_eq!(left, ["slow"]);
    drop(slow);
    // The door still serves.
    let mut late = Chat::connect(addr);
    assert_eq!(late.subscribe("flood", "late"), COUNT as u64);
}
