//! `--mode request-reply`: round trips through the broker.
//!
//! One responder subscribes to the request topic (lab `/bench/rr`, NATS
//! `bench.rr`); each of P requesters subscribes to its own inbox (lab
//! `/_INBOX/bench-<random>`, NATS `_INBOX.bench-<random>`). Both are confirmed
//! before the first request. A requester keeps `--window` requests
//! outstanding (1: a closed loop) until it has N/P answers; the responder
//! publishes every request's text back on the request's reply topic,
//! unchanged. The send time travels in the text, so each answer gives one
//! round-trip time: requester → broker → responder → broker → requester.
//!
//! Each connection is read and written by one thread: a handler decodes
//! what arrived, queues what to send, and writes it once per read (the
//! requester its next requests, the responder all answers of that read).

mod peers;
mod report;
mod wire;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use self::peers::{Requester, Responder, Share};
pub use self::report::{cell, print_text, to_json, RrReport};
use self::wire::Exchange;
use crate::args::{Cli, Serializer, Target};
use crate::client::{open_confirmed, Clock};
use crate::{lab, nats, stats, Meter};

/// Runs the round trips and collects the results.
pub fn run(cli: &Cli) -> Result<RrReport, String> {
    if cli.target == Target::Redis {
        return Err(
            "redis pub/sub has no reply subjects, so no request/reply: use --target lab or nats"
                .into(),
        );
    }
    if cli.target == Target::Ws {
        return Err("seed 000's chat has no replies: use --target lab or nats".into());
    }
    if cli.target == Target::Grpc {
        return Err("request-reply mode speaks lab or NATS: use --target lab or nats".into());
    }
    if cli.subs != 1 {
        return Err("request-reply mode has one responder: leave --subs at 1".into());
    }
    if cli.rate.is_some() || cli.filter.is_some() || cli.idle_patterns > 0 || cli.ack {
        return Err("--rate, --filter, --idle-patterns and --ack are for --mode pub-sub".into());
    }
    let proto: Box<dyn Exchange> = match cli.target {
        Target::Nats => Box::new(nats::Nats),
        _ => Box::new(lab::Lab {
            replies: true,
            ..lab::Lab::new(cli.serializer == Serializer::Xml)
        }),
    };
    let proto = &*proto;
    let endpoint = crate::endpoint(cli)?;
    let addr = endpoint.addr;

    let clock = Clock::new();
    let deadline = Instant::now() + Duration::from_secs(cli.timeout_s);
    let mut responder = open_confirmed(addr, proto, &proto.responder_hello(), &clock)
        .map_err(|e| format!("responder's subscription not confirmed: {e}"))?;
    let responder_writer = responder.writer().map_err(|e| e.to_string())?;
    let requesters = (0..cli.pubs)
        .map(|index| {
            let inbox = proto.inbox(&random_token(index));
            let conn = open_confirmed(addr, proto, &proto.requester_hello(&inbox), &clock)
                .map_err(|e| format!("requester's inbox subscription not confirmed: {e}"))?;
            let share = Share {
                index,
                pubs: cli.pubs,
                count: cli.count,
                mine: (cli.count + cli.pubs - 1 - index) / cli.pubs,
                window: cli.window,
            };
            let template = proto.request_template(cli.size, &inbox)?;
            let writer = conn.writer().map_err(|e| e.to_string())?;
            Ok((
                conn,
                Requester::new(share, template, writer, clock, deadline),
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let frame_bytes = requesters.first().map_or(0, |(_, r)| r.frame_bytes());

    let stop = AtomicBool::new(false);
    let mut responder_state = Responder {
        proto,
        writer: responder_writer,
        out: Vec::new(),
        answered: 0,
        strays: 0,
        errors: Vec::new(),
        stop: &stop,
        deadline,
    };
    let meter = Meter::start(endpoint.pid)?;
    let (requesters, responder_end, broker) = thread::scope(|s| {
        let responder_thread = s.spawn(|| responder.run(proto, &clock, &mut responder_state, true));
        let threads: Vec<_> = requesters
            .into_iter()
            .map(|(mut conn, mut requester)| {
                s.spawn(move || {
                    requester.result.end = conn.run(proto, &clock, &mut requester, true);
                    requester.result
                })
            })
            .collect();
        let requesters: Vec<_> = threads.into_iter().map(|t| t.join()).collect();
        let broker = meter.map(Meter::stop).transpose();
        stop.store(true, Ordering::Relaxed);
        (requesters, responder_thread.join(), broker)
    });
    drop(endpoint);
    let (Ok(mut requesters), Ok(responder_end)) = (
        requesters.into_iter().collect::<Result<Vec<_>, _>>(),
        responder_end,
    ) else {
        return Err("a client thread panicked".into());
    };
    let latency = stats::summarize(
        requesters
            .iter_mut()
            .map(|r| std::mem::take(&mut r.latencies))
            .collect(),
    );
    Ok(RrReport {
        addr,
        frame_bytes,
        requesters,
        answered: responder_state.answered,
        strays: responder_state.strays,
        responder_errors: responder_state.errors,
        responder_end,
        latency,
        broker: broker?,
    })
}

/// A random hexadecimal token for requester `index`'s inbox (std's
/// per-process random hash keys: no dependency needed).
fn random_token(index: u64) -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(index);
    format!("{:016x}", hasher.finish())
}
