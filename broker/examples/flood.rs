//! `flood`: a load client for `scripts/memory-check.sh` (`protocol` and std only).
//!
//! ```text
//! flood publish [--addr A] [--count N] [--topics T] [--size S] [--offset K] [--subscribe-root]
//!     Publishes N messages round-robin over T topics `/t00000`.. (message i,
//!     counting from K, goes to topic (K+i) mod T), each an S-byte string,
//!     pipelined in large batched writes; then confirms with a LIST round
//!     trip. With --subscribe-root, a subscriber on `/` reads everything and
//!     must see all N deliveries.
//! flood idle [--addr A] [--conns N]
//!     Opens N handshaken idle connections (each confirmed by a LIST round
//!     trip), prints `ready N`, and holds them until stdin reaches EOF.
//! ```

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use protocol::{frame, Format, Message, Method, Value};

/// Bytes gathered before each write.
const BATCH: usize = 256 * 1024;

#[derive(Debug)]
struct Args {
    mode: String,
    addr: String,
    count: u64,
    topics: u64,
    size: usize,
    offset: u64,
    subscribe_root: bool,
    conns: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        mode: String::new(),
        addr: "127.0.0.1:18555".into(),
        count: 1_000_000,
        topics: 10_000,
        size: 64,
        offset: 0,
        subscribe_root: false,
        conns: 1000,
    };
    let mut it = std::env::args().skip(1);
    args.mode = it.next().ok_or("usage: flood publish|idle [options]")?;
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--addr" => args.addr = value()?,
            "--count" => args.count = value()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--topics" => args.topics = value()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--size" => args.size = value()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--offset" => args.offset = value()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--conns" => args.conns = value()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--subscribe-root" => args.subscribe_root = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if args.topics == 0 {
        return Err("--topics must be at least 1".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flood: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.mode.as_str() {
        "publish" => publish(&args),
        "idle" => idle(&args),
        other => Err(io::Error::other(format!("unknown mode {other}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flood: {e}");
            ExitCode::FAILURE
        }
    }
}

fn connect(addr: &str) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    Ok(s)
}

fn encode(m: &Message, out: &mut Vec<u8>) -> io::Result<()> {
    Format::Json
        .encode(m, out)
        .map_err(|e| io::Error::other(e.to_string()))
}

/// Reads frames from `s` into `buf`, calling `on` with each payload until it
/// returns `false`. Errors at EOF.
fn read_frames(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    mut on: impl FnMut(&[u8]) -> bool,
) -> io::Result<()> {
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let mut used = 0;
        loop {
            match frame::decode(&buf[used..]) {
                Ok(Some(f)) => {
                    used += f.len;
                    if !on(f.payload) {
                        buf.drain(..used);
                        return Ok(());
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(io::Error::other(format!("bad frame from broker: {e}"))),
            }
        }
        buf.drain(..used);
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "broker closed the connection",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Handshakes, sends `extra` and a LIST round trip that no announcement can
/// be mistaken for (cursor `~`, after every topic), and waits for its reply.
fn handshake_and_barrier(s: &mut TcpStream, extra: &[Message]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    frame::encode(b"JSONQueue", &mut out).map_err(|e| io::Error::other(e.to_string()))?;
    for m in extra {
        encode(m, &mut out)?;
    }
    encode(&Message::list(Some("~")), &mut out)?;
    s.write_all(&out)?;
    let mut buf = Vec::new();
    let mut failure = None;
    read_frames(s, &mut buf, |p| match Format::Json.decode(p) {
        Ok(m) if m.method == Method::ListNack => false,
        Ok(m) if m.method == Method::ListAck && m.msg == Value::List(Vec::new()) => false,
        Ok(m) if m.method == Method::Error => {
            failure = Some(format!("{m:?}"));
            false
        }
        _ => true,
    })?;
    match failure {
        Some(f) => Err(io::Error::other(format!("broker refused: {f}"))),
        None => Ok(buf),
    }
}

fn publish(args: &Args) -> io::Result<()> {
    let subscriber = if args.subscribe_root {
        let mut s = connect(&args.addr)?;
        let buf = handshake_and_barrier(&mut s, &[Message::subscribe("/")])?;
        let expect = args.count;
        Some(thread::spawn(move || subscribe_root(s, buf, expect)))
    } else {
        None
    };

    let mut s = connect(&args.addr)?;
    handshake_and_barrier(&mut s, &[])?;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH + 4096);
    let mut sent_bytes = 0usize;
    let filler = "x".repeat(args.size);
    for i in 0..args.count {
        let n = args.offset + i;
        let topic = format!("/t{:05}", n % args.topics);
        // The value starts with the publish number, padded to `size` bytes.
        let mut v = n.to_string();
        v.push(':');
        v.push_str(&filler[..args.size.saturating_sub(v.len())]);
        encode(&Message::publish(topic, v), &mut batch)?;
        if batch.len() >= BATCH {
            s.write_all(&batch)?;
            sent_bytes += batch.len();
            batch.clear();
        }
    }
    encode(&Message::list(None), &mut batch)?;
    s.write_all(&batch)?;
    sent_bytes += batch.len();
    // Only ERRORs and the LIST reply come back to a client without subscriptions.
    let mut errors = 0u64;
    let mut buf = Vec::new();
    read_frames(&mut s, &mut buf, |p| match Format::Json.decode(p) {
        Ok(m) if m.method == Method::Error => {
            errors += 1;
            if errors <= 3 {
                eprintln!("flood: broker error: {m:?}");
            }
            true
        }
        Ok(m) => !matches!(m.method, Method::ListAck | Method::ListNack),
        Err(_) => true,
    })?;
    let elapsed = started.elapsed();
    println!(
        "published {} messages ({:.1} MB) in {:.2} s: {:.0} msg/s, {} errors",
        args.count,
        sent_bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        args.count as f64 / elapsed.as_secs_f64(),
        errors
    );
    if let Some(sub) = subscriber {
        let (got, lists, bytes) = sub
            .join()
            .map_err(|_| io::Error::other("subscriber panicked"))??;
        println!(
            "subscriber on / received {got} deliveries and {lists} LIST_ACK announcements ({:.1} MB) in {:.2} s",
            bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        if got != args.count {
            return Err(io::Error::other(format!(
                "subscriber got {got} of {} deliveries",
                args.count
            )));
        }
    }
    if errors > 0 {
        return Err(io::Error::other(format!("{errors} ERROR replies")));
    }
    Ok(())
}

/// Reads until `expect` deliveries arrived; returns (deliveries, LIST_ACKs, bytes).
fn subscribe_root(mut s: TcpStream, mut buf: Vec<u8>, expect: u64) -> io::Result<(u64, u64, u64)> {
    let (mut got, mut lists, mut bytes) = (0u64, 0u64, 0u64);
    if expect == 0 {
        return Ok((0, 0, 0));
    }
    let result = read_frames(&mut s, &mut buf, |p| {
        bytes += p.len() as u64 + 5;
        match Format::Json.decode_envelope(p).map(|e| e.method) {
            Ok(Method::Publish) => got += 1,
            Ok(Method::ListAck) => lists += 1,
            _ => {}
        }
        got < expect
    });
    if let Err(e) = result {
        return Err(io::Error::other(format!(
            "subscriber on / after {got} deliveries: {e}"
        )));
    }
    Ok((got, lists, bytes))
}

fn idle(args: &Args) -> io::Result<()> {
    let started = Instant::now();
    let mut conns = Vec::with_capacity(args.conns);
    for _ in 0..args.conns {
        let mut s = connect(&args.addr)?;
        let mut out = Vec::new();
        frame::encode(b"JSONQueue", &mut out).map_err(|e| io::Error::other(e.to_string()))?;
        encode(&Message::list(Some("~")), &mut out)?;
        s.write_all(&out)?;
        conns.push(s);
    }
    for s in &mut conns {
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut buf = Vec::new();
        let mut refused = false;
        read_frames(s, &mut buf, |p| {
            match Format::Json.decode(p).map(|m| m.method) {
                Ok(Method::Error) => {
                    refused = true;
                    false
                }
                Ok(Method::ListAck | Method::ListNack) => false,
                _ => true,
            }
        })?;
        if refused {
            return Err(io::Error::other("the broker refused a connection"));
        }
    }
    println!(
        "ready {} connections in {:.2} s",
        conns.len(),
        started.elapsed().as_secs_f64()
    );
    io::stdout().flush()?;
    // Hold them until stdin closes.
    let mut line = String::new();
    while io::stdin().lock().read_line(&mut line)? > 0 {
        line.clear();
    }
    drop(conns);
    Ok(())
}
