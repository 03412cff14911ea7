//! `bench`: a loopback load generator for the lab broker, with NATS and
//! Redis as yardsticks; `--target ws` speaks seed 000's WebSocket chat (the
//! broker's `--ws` door, or the seed's own Python server).
//!
//! P publishers send N messages in total on one topic; every one of S
//! subscribers must receive all N. Subscriptions are confirmed before the
//! first publish. The run reports delivered messages per second (summed over
//! subscribers, first publish to last delivery), the publish rate, one-way
//! latency percentiles (the send time travels in the message text) and, when
//! the broker's process is known, its CPU time and peak resident memory.
//!
//! `--mode request-reply` measures round trips instead (`request_reply`):
//! requesters send requests with a reply inbox, one responder answers each.

mod args;
mod client;
mod grpc;
mod jetstream;
mod lab;
mod nats;
mod payload;
mod proc_stats;
mod redis;
mod report;
mod request_reply;
mod spawn;
mod stats;
mod ws;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::args::{resolve, Cli, Mode, Output, Serializer, Target};
use crate::client::{Clock, Protocol, Shared};
use crate::report::{cell, print_text, to_json, BrokerUsage, Report};
use crate::spawn::{spawn_broker, SpawnedBroker};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let complete = match cli.mode {
        Mode::PubSub => run(&cli).map(|report| {
            match cli.output {
                Output::Text => print_text(&cli, &report),
                Output::Json => println!("{}", to_json(&cli, &report)),
                Output::Cell => println!("{}", cell(&cli, &report)),
            }
            report.complete()
        }),
        Mode::RequestReply => request_reply::run(&cli).map(|report| {
            match cli.output {
                Output::Text => request_reply::print_text(&cli, &report),
                Output::Json => println!("{}", request_reply::to_json(&cli, &report)),
                Output::Cell => println!("{}", request_reply::cell(&cli, &report)),
            }
            report.complete()
        }),
    };
    match complete {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Checks the options both modes share.
fn check_common(cli: &Cli) -> Result<(), String> {
    if cli.serializer == Serializer::Xml && cli.target != Target::Lab {
        return Err("--serializer xml is for the lab target only".into());
    }
    if cli.spawn_broker.is_some() && cli.target != Target::Lab {
        return Err("--spawn-broker starts the lab broker; use --target lab".into());
    }
    Ok(())
}

/// The broker to talk to: started by us (`--spawn-broker`, stopped when
/// this is dropped) or at `--addr`.
#[derive(Debug)]
struct Endpoint {
    /// The broker we started, if we did: held only to stop it when dropped.
    _spawned: Option<SpawnedBroker>,
    /// Its address.
    addr: SocketAddr,
    /// Its process, when known (spawned, or `--broker-pid`).
    pid: Option<u32>,
}

/// Checks the common options, then starts or locates the broker.
fn endpoint(cli: &Cli) -> Result<Endpoint, String> {
    check_common(cli)?;
    let spawned = cli.spawn_broker.as_deref().map(spawn_broker).transpose()?;
    let addr = match &spawned {
        Some(broker) => broker.addr,
        None => resolve(
            cli.addr.as_deref().unwrap_or("127.0.0.1"),
            cli.target.default_port(),
        )?,
    };
    let pid = spawned.as_ref().map(|b| b.child.id()).or(cli.broker_pid);
    Ok(Endpoint {
        _spawned: spawned,
        addr,
        pid,
    })
}

/// The broker's counters at the start of the measured interval.
#[derive(Debug)]
struct Meter {
    pid: u32,
    before: proc_stats::Sample,
    started: Instant,
}

impl Meter {
    /// Starts measuring process `pid`, if known.
    fn start(pid: Option<u32>) -> Result<Option<Meter>, String> {
        pid.map(|pid| {
            Ok(Meter {
                pid,
                before: proc_stats::sample(pid).map_err(|e| e.to_string())?,
                started: Instant::now(),
            })
        })
        .transpose()
    }

    /// What the broker used since [`Meter::start`].
    fn stop(self) -> Result<BrokerUsage, String> {
        let wall = self.started.elapsed();
        let after = proc_stats::sample(self.pid).map_err(|e| e.to_string())?;
        Ok(BrokerUsage {
            pid: self.pid,
            cpu: after.cpu.saturating_sub(self.before.cpu),
            wall,
            peak_rss_kib: after.peak_rss_kib,
        })
    }
}

/// Sets up the broker and the clients, runs the load and collects results.
fn run(cli: &Cli) -> Result<Report, String> {
    if (cli.filter.is_some() || cli.idle_patterns > 0) && cli.target != Target::Lab {
        return Err("--filter and --idle-patterns are for the lab target only".into());
    }
    if cli.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err("--rate must be a positive number".into());
    }
    if cli.ack && cli.target == Target::Redis {
        return Err(
            "--ack is for the lab and NATS targets (Redis answers every publish anyway)".into(),
        );
    }
    if cli.window != 1 {
        return Err("--window is for --mode request-reply".into());
    }
    if cli.target == Target::Grpc {
        return run_grpc(cli);
    }
    let proto: Box<dyn Protocol> = match cli.target {
        Target::Lab => Box::new(lab::Lab {
            filter: cli.filter.clone(),
            idle_patterns: cli.idle_patterns,
            ack: cli.ack,
            ..lab::Lab::new(cli.serializer == Serializer::Xml)
        }),
        Target::Nats if cli.ack => Box::new(jetstream::JetStream),
        Target::Nats => Box::new(nats::Nats),
        Target::Redis => Box::new(redis::Redis),
        Target::Ws => Box::new(ws::Ws),
        Target::Grpc => unreachable!("run_grpc"),
    };
    let proto = &*proto;
    let (template, text_at) = proto.publish_template(cli.size)?;

    let endpoint = endpoint(cli)?;
    let addr = endpoint.addr;
    if cli.ack && cli.target == Target::Nats {
        jetstream::create_stream(addr)?;
    }

    let clock = Clock::new();
    let sub_conns = (0..cli.subs)
        .map(|_| client::subscribe(addr, proto, &clock))
        .collect::<Result<Vec<_>, _>>()?;
    let pub_conns = (0..cli.pubs)
        .map(|_| client::connect_publisher(addr, proto))
        .collect::<Result<Vec<_>, _>>()?;

    let shared = Shared {
        clock,
        count: cli.count,
        pubs: cli.pubs,
        deadline: Instant::now() + Duration::from_secs(cli.timeout_s),
        idle: Duration::from_secs(cli.idle_s),
        pubs_done_ns: AtomicU64::new(0),
    };
    let shared = &shared;
    let template = &template[..];
    let rate = cli.rate.map(|r| r / cli.pubs as f64);
    let meter = Meter::start(endpoint.pid)?;

    let (pubs, subs) = thread::scope(|s| {
        let sub_threads: Vec<_> = sub_conns
            .into_iter()
            .map(|conn| s.spawn(move || client::receive(conn, proto, shared)))
            .collect();
        let pub_threads: Vec<_> = (0..)
            .zip(pub_conns)
            .map(|(i, conn)| {
                s.spawn(move || client::publish(conn, i, rate, template, text_at, proto, shared))
            })
            .collect();
        let pubs = pub_threads
            .into_iter()
            .map(|t| t.join())
            .collect::<Result<Vec<_>, _>>();
        shared
            .pubs_done_ns
            .store(shared.clock.now_ns().max(1), Ordering::Relaxed);
        let subs = sub_threads
            .into_iter()
            .map(|t| t.join())
            .collect::<Result<Vec<_>, _>>();
        (pubs, subs)
    });
    let (Ok(pubs), Ok(mut subs)) = (pubs, subs) else {
        return Err("a client thread panicked".into());
    };

    let broker = meter.map(Meter::stop).transpose()?;
    drop(endpoint);
    let latency = stats::summarize(
        subs.iter_mut()
            .map(|s| std::mem::take(&mut s.latencies))
            .collect(),
    );
    Ok(Report {
        addr,
        frame_bytes: template.len(),
        pubs,
        subs,
        latency,
        broker,
    })
}

/// `--target grpc`: the same load and report through the broker's gRPC API.
fn run_grpc(cli: &Cli) -> Result<Report, String> {
    if cli.ack || cli.filter.is_some() || cli.idle_patterns > 0 {
        return Err("--ack, --filter and --idle-patterns are not for --target grpc (unary Publish calls are acknowledged)".into());
    }
    let endpoint = endpoint(cli)?;
    let shared = Shared {
        clock: Clock::new(),
        count: cli.count,
        pubs: cli.pubs,
        deadline: Instant::now() + Duration::from_secs(cli.timeout_s),
        idle: Duration::from_secs(cli.idle_s),
        pubs_done_ns: AtomicU64::new(0),
    };
    let (pubs, mut subs, meter) =
        grpc::run_load(cli, endpoint.addr, &shared, || Meter::start(endpoint.pid))?;
    let broker = meter.map(Meter::stop).transpose()?;
    let latency = stats::summarize(
        subs.iter_mut()
            .map(|s| std::mem::take(&mut s.latencies))
            .collect(),
    );
    Ok(Report {
        addr: endpoint.addr,
        frame_bytes: cli.size,
        pubs,
        subs,
        latency,
        broker,
    })
}
