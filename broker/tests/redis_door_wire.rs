//! The Redis door byte for byte through raw sockets: each request is sent
//! as is and the broker's whole answer compared with what redis-server 7
//! answers to the same bytes (taken from a redis-server 7.0 run; where this
//! broker differs on purpose, the test says why). Malformed RESP gets
//! redis-server's `-ERR Protocol error: ...` and a close; anything else
//! leaves the connection open.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use broker::doors::Door;
use common::{read_raw_until_end, start_broker_with, Ending, TestBroker};

fn broker() -> TestBroker {
    start_broker_with(broker::Config {
        redis: Some("127.0.0.1:0".parse().unwrap()),
        ..broker::Config::default()
    })
}

/// Sends `input` on a new connection and reads everything the broker says
/// until it closes or falls silent.
fn exchange(b: &TestBroker, input: &[u8]) -> (Vec<u8>, Ending) {
    let mut s = TcpStream::connect(b.door(Door::Redis)).unwrap();
    s.write_all(input).unwrap();
    read_raw_until_end(&mut s, Duration::from_millis(300))
}

/// Sends `input` on a new connection and checks the whole answer and how
/// the connection ended.
#[track_caller]
fn expect(b: &TestBroker, input: &[u8], want: &[u8], ending: Ending) {
    let (got, end) = exchange(b, input);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want),
        "for {:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(end, ending);
}

/// The answer, and the connection stays open.
#[track_caller]
fn open(b: &TestBroker, input: &[u8], want: &[u8]) {
    expect(b, input, want, Ending::TimedOut);
}

/// The answer, then a close.
#[track_caller]
fn closed(b: &TestBroker, input: &[u8], want: &[u8]) {
    expect(b, input, want, Ending::Eof);
}

#[test]
fn malformed_requests_get_redis_servers_error_then_a_close() {
    let b = broker();
    closed(
        &b,
        b"*x\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    closed(
        &b,
        b"*3000000000\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    closed(
        &b,
        b"*1\r\nx4\r\n",
        b"-ERR Protocol error: expected '$', got 'x'\r\n",
    );
    closed(
        &b,
        b"*1\r\n$-1\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    closed(
        &b,
        b"*1\r\n$abc\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    // Over the broker's message limit (1 MiB by default), as over
    // redis-server's proto-max-bulk-len.
    closed(
        &b,
        b"*1\r\n$1048577\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    closed(
        &b,
        b"\"unbalanced\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    closed(
        &b,
        b"\"a\"b\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    closed(
        &b,
        &vec![b'a'; 64 * 1024 + 1],
        b"-ERR Protocol error: too big inline request\r\n",
    );
    let mut long = b"*1\r\n$".to_vec();
    long.extend(vec![b'1'; 64 * 1024 + 1]);
    closed(
        &b,
        &long,
        b"-ERR Protocol error: too big bulk count string\r\n",
    );
    // What came before the bad request is answered first.
    closed(
        &b,
        b"PING\r\n*1\r\n$4\r\nPING\r\n*?\r\n",
        b"+PONG\r\n+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
    );
}

#[test]
fn quirks_redis_server_has_and_so_does_the_door() {
    let b = broker();
    open(&b, b"*-1\r\n*0\r\n  \r\n\r\nPING\r\n", b"+PONG\r\n");
    open(
        &b,
        b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nping\r\n",
        b"+PONG\r\n+PONG\r\n",
    );
    open(&b, b"PING\nping hello\r\n", b"+PONG\r\n$5\r\nhello\r\n");
    open(&b, b"echo \"a\\x41\\n\"\r\n", b"$3\r\naA\n\r\n");
    open(&b, b"echo 'it\\'s'\r\n", b"$4\r\nit's\r\n");
    open(&b, b"ECHO \"\"\r\n", b"$0\r\n\r\n");
    // A request split anywhere is one request.
    let mut s = TcpStream::connect(b.door(Door::Redis)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for byte in b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n" {
        s.write_all(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut got = [0; 11];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"$5\r\nhello\r\n");
}

#[test]
fn unknown_commands_arity_and_subcommands() {
    let b = broker();
    open(
        &b,
        b"foo bar baz\r\nFOO\r\n",
        b"-ERR unknown command 'foo', with args beginning with: 'bar' 'baz' \r\n-ERR unknown command 'FOO', with args beginning with: \r\n",
    );
    open(
        &b,
        b"PUBLISH a\r\nping a b\r\nECHO\r\nSUBSCRIBE\r\nGET\r\nSETEX k 1\r\n",
        b"-ERR wrong number of arguments for 'publish' command\r\n\
-ERR wrong number of arguments for 'ping' command\r\n\
-ERR wrong number of arguments for 'echo' command\r\n\
-ERR wrong number of arguments for 'subscribe' command\r\n\
-ERR wrong number of arguments for 'get' command\r\n\
-ERR wrong number of arguments for 'setex' command\r\n",
    );
    open(
        &b,
        b"PUBSUB\r\nPUBSUB FOO\r\nPUBSUB NUMPAT x\r\nPUBSUB NUMSUB\r\nPUBSUB CHANNELS a b\r\n",
        b"-ERR wrong number of arguments for 'pubsub' command\r\n\
-ERR unknown subcommand 'FOO'. Try PUBSUB HELP.\r\n\
-ERR wrong number of arguments for 'pubsub|numpat' command\r\n\
*0\r\n\
-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.\r\n",
    );
    open(
        &b,
        b"client setname\r\nclient setname \"a b\"\r\nclient\r\nclient foo\r\nCLIENT GETNAME\r\n",
        b"-ERR wrong number of arguments for 'client|setname' command\r\n\
-ERR Client names cannot contain spaces, newlines or special characters.\r\n\
-ERR wrong number of arguments for 'client' command\r\n\
-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n$-1\r\n",
    );
    // This broker has one database (as a redis-server with `databases 1`),
    // and answers CLIENT SETINFO as Redis 7.2 does.
    open(
        &b,
        b"CLIENT SETINFO LIB-NAME redis-py\r\nCLIENT SETINFO LIB-VER 8.1.0\r\nSELECT 0\r\nSELECT 1\r\nSELECT x\r\n",
        b"+OK\r\n+OK\r\n+OK\r\n-ERR DB index is out of range\r\n-ERR value is not an integer or out of range\r\n",
    );
}

#[test]
fn subscribed_mode_in_resp2_and_none_in_resp3() {
    let b = broker();
    open(
        &b,
        b"SUBSCRIBE a b\r\nGET x\r\nPUBSUB NUMPAT\r\nPING\r\nPING x\r\nUNSUBSCRIBE\r\nUNSUBSCRIBE\r\n",
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n\
-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n\
-ERR Can't execute 'pubsub|numpat': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n\
*2\r\n$4\r\npong\r\n$0\r\n\r\n*2\r\n$4\r\npong\r\n$1\r\nx\r\n\
*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n\
*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
    );
    open(
        &b,
        b"UNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nUNSUBSCRIBE a b\r\nPSUBSCRIBE a* b?\r\nPUNSUBSCRIBE\r\n",
        b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n\
*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n\
*3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:1\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\nb?\r\n:2\r\n\
*3\r\n$12\r\npunsubscribe\r\n$2\r\na*\r\n:1\r\n*3\r\n$12\r\npunsubscribe\r\n$2\r\nb?\r\n:0\r\n",
    );
    let (got, _) = exchange(
        &b,
        b"HELLO 3\r\nSUBSCRIBE x\r\nPSUBSCRIBE x*\r\nPUBLISH x hi\r\nPUBSUB NUMPAT\r\nPUBSUB NUMSUB x\r\nPUBSUB CHANNELS\r\nGET k\r\nUNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nUNSUBSCRIBE\r\n",
    );
    let got = String::from_utf8(got).unwrap();
    let after_hello = &got[got.find("*0\r\n").unwrap() + 4..];
    assert_eq!(
        after_hello,
        ">3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n>3\r\n$10\r\npsubscribe\r\n$2\r\nx*\r\n:2\r\n\
>3\r\n$7\r\nmessage\r\n$1\r\nx\r\n$2\r\nhi\r\n>4\r\n$8\r\npmessage\r\n$2\r\nx*\r\n$1\r\nx\r\n$2\r\nhi\r\n:2\r\n\
:1\r\n*2\r\n$1\r\nx\r\n:1\r\n*1\r\n$1\r\nx\r\n_\r\n\
>3\r\n$11\r\nunsubscribe\r\n$1\r\nx\r\n:1\r\n>3\r\n$12\r\npunsubscribe\r\n$2\r\nx*\r\n:0\r\n>3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"
    );
}

#[test]
fn hello_reset_and_quit() {
    let b = broker();
    let (got, _) = exchange(&b, b"HELLO 3\r\n");
    let got = String::from_utf8(got).unwrap();
    let id_at = got.find("$2\r\nid\r\n:").unwrap() + 9;
    let id_end = id_at + got[id_at..].find("\r\n").unwrap();
    assert_eq!(
        format!("{}N{}", &got[..id_at], &got[id_end..]),
        "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:N\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    );
    let (got, _) = exchange(&b, b"HELLO\r\n");
    assert!(
        got.starts_with(b"*14\r\n$6\r\nserver\r\n"),
        "RESP2's map is a flat array"
    );
    open(
        &b,
        b"HELLO 4\r\nHELLO x\r\nHELLO 3 FOO\r\nHELLO 3 AUTH bob pw\r\n",
        b"-NOPROTO unsupported protocol version\r\n\
-ERR Protocol version is not an integer or out of range\r\n\
-ERR Syntax error in HELLO option 'FOO'\r\n\
-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    let (got, _) = exchange(&b, b"HELLO 3\r\nSUBSCRIBE a\r\nRESET\r\nPING\r\nGET k\r\n");
    assert!(
        got.ends_with(b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n+RESET\r\n+PONG\r\n$-1\r\n"),
        "RESET: RESP2, no subscriptions: {}",
        String::from_utf8_lossy(&got)
    );
    closed(&b, b"QUIT\r\nPING\r\n", b"+OK\r\n");
    closed(&b, b"*1\r\n$4\r\nquit\r\n", b"+OK\r\n");
}

#[test]
fn the_key_space_byte_for_byte() {
    let b = broker();
    open(
        &b,
        b"SET k v\r\nGET k\r\nSET k v NX\r\nSET k w XX\r\nGET k\r\nSET k v EX 0\r\nSET k v EX x\r\n\
SET k v EX 10 PX 10\r\nSET k v NX XX\r\nTTL k\r\nTTL nokey\r\nSET k v EX 100\r\nTTL k\r\n\
EXPIRE k 50\r\nTTL k\r\nEXISTS k k nokey\r\nDEL k nokey\r\nEXISTS k\r\nSETEX k 0 v\r\n\
SETEX k 10 v\r\nTTL k\r\nGET k\r\nSETEX k x v\r\nEXPIRE nokey 10\r\nSET k v\r\nEXPIRE k -1\r\nEXISTS k\r\n",
        b"+OK\r\n$1\r\nv\r\n$-1\r\n+OK\r\n$1\r\nw\r\n-ERR invalid expire time in 'set' command\r\n\
-ERR value is not an integer or out of range\r\n-ERR syntax error\r\n-ERR syntax error\r\n:-1\r\n:-2\r\n\
+OK\r\n:100\r\n:1\r\n:50\r\n:2\r\n:1\r\n:0\r\n-ERR invalid expire time in 'setex' command\r\n\
+OK\r\n:10\r\n$1\r\nv\r\n-ERR value is not an integer or out of range\r\n:0\r\n+OK\r\n:1\r\n:0\r\n",
    );
    open(
        &b,
        b"SET k v KEEPTTL\r\nSET k v GET\r\nSET k v PX -5\r\nSET k v\r\nEXPIRE k 9999999999999999\r\n\
EXPIRE k x\r\nEXPIRE k 10 NX XX\r\nEXPIRE k 10 GT LT\r\nEXPIRE k 10 FOO\r\n",
        b"+OK\r\n$1\r\nv\r\n-ERR invalid expire time in 'set' command\r\n+OK\r\n\
-ERR invalid expire time in 'expire' command\r\n-ERR value is not an integer or out of range\r\n\
-ERR NX and XX, GT or LT options at the same time are not compatible\r\n\
-ERR GT and LT options at the same time are not compatible\r\n-ERR Unsupported option FOO\r\n",
    );
}

#[test]
fn invalid_channels_and_patterns_are_refused_and_the_connection_stays() {
    let b = broker();
    let long = format!("PSUBSCRIBE {}\r\n", "*a".repeat(2049));
    open(
        &b,
        long.as_bytes(),
        b"-ERR invalid pattern: longer than 4096 bytes\r\n",
    );
    open(
        &b,
        b"SUBSCRIBE a//b ok\r\n",
        b"-ERR invalid channel 'a//b': empty segments (a channel is a topic without its leading '/')\r\n\
*3\r\n$9\r\nsubscribe\r\n$2\r\nok\r\n:1\r\n",
    );
    open(
        &b,
        b"PUBLISH \"a b\" x\r\nPING\r\n",
        b"-ERR invalid channel 'a b': topic contains forbidden character ' '\r\n+PONG\r\n",
    );
}

#[test]
fn a_full_key_space_refuses_writes_as_maxmemory_does() {
    let b = start_broker_with(broker::Config {
        redis: Some("127.0.0.1:0".parse().unwrap()),
        max_key_bytes: 100,
        ..broker::Config::default()
    });
    let value = "x".repeat(100);
    open(
        &b,
        format!("SET a 1\r\nSET b {value}\r\nGET a\r\n").as_bytes(),
        b"+OK\r\n-OOM command not allowed when used memory > 'maxmemory'.\r\n$1\r\n1\r\n",
    );
}
