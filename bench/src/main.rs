//! `bench`: a loopback load generator for the lab broker, with NATS and
//! Redis as yardsticks.
//!
//! P publishers send N messages in total on one topic; every one of S
//! subscribers must receive all N. Subscriptions are confirmed before the
//! first publish. The run reports delivered messages per second (summed over
//! subscribers, first publish to last delivery), the publish rate, one-way
//! latency percentiles (the send time travels in the message text) and, when
//! the broker's process is known, its CPU time and peak resident memory.

mod args;
mod client;
mod lab;
mod nats;
mod payload;
mod proc_stats;
mod redis;
mod report;
mod spawn;
mod stats;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::args::{resolve, Cli, Output, Serializer, Target};
use crate::client::{Clock, Protocol, Shared};
use crate::report::{cell, print_text, to_json, BrokerUsage, Report};
use crate::spawn::spawn_broker;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(report) => {
            match cli.output {
                Output::Text => print_text(&cli, &report),
                Output::Json => println!("{}", to_json(&cli, &report)),
                Output::Cell => println!("{}", cell(&cli, &report)),
            }
            if report.complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sets up the broker and the clients, runs the load and collects results.
fn run(cli: &Cli) -> Result<Report, String> {
    if cli.serializer == Serializer::Xml && cli.target != Target::Lab {
        return Err("--serializer xml is for the lab target only".into());
    }
    if cli.spawn_broker.is_some() && cli.target != Target::Lab {
        return Err("--spawn-broker starts the lab broker; use --target lab".into());
    }
    if (cli.filter.is_some() || cli.idle_patterns > 0) && cli.target != Target::Lab {
        return Err("--filter and --idle-patterns are for the lab target only".into());
    }
    if cli.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err("--rate must be a positive number".into());
    }
    let proto: Box<dyn Protocol> = match cli.target {
        Target::Lab => Box::new(lab::Lab {
            filter: cli.filter.clone(),
            idle_patterns: cli.idle_patterns,
            ..lab::Lab::new(cli.serializer == Serializer::Xml)
        }),
        Target::Nats => Box::new(nats::Nats),
        Target::Redis => Box::new(redis::Redis),
    };
    let proto = &*proto;
    let (template, text_at) = proto.publish_template(cli.size)?;

    let spawned = cli.spawn_broker.as_deref().map(spawn_broker).transpose()?;
    let addr = match &spawned {
        Some(broker) => broker.addr,
        None => resolve(
            cli.addr.as_deref().unwrap_or("127.0.0.1"),
            cli.target.default_port(),
        )?,
    };
    let pid = spawned.as_ref().map(|b| b.child.id()).or(cli.broker_pid);

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
    let before = pid
        .map(proc_stats::sample)
        .transpose()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();

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

    let broker = match (pid, before) {
        (Some(pid), Some(before)) => {
            let wall = started.elapsed();
            let after = proc_stats::sample(pid).map_err(|e| e.to_string())?;
            Some(BrokerUsage {
                pid,
                cpu: after.cpu.saturating_sub(before.cpu),
                wall,
                peak_rss_kib: after.peak_rss_kib,
            })
        }
        _ => None,
    };
    drop(spawned);
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
