//! `consumer`: the lab's `consumer.py` in Rust. Subscribes to a topic (and so
//! to everything under it), prints the topic list, then one line per event
//! until Ctrl-C, when it cancels its subscription and exits 0.
//!
//! Output lines, each flushed at once:
//!
//! ```text
//! topics: /telephony /telephony/orange      the list, first; later, each change announced
//! topics: (none)                            no topics yet
//! /telephony/orange 27 [5]                  a live message (value as JSON text) and its seq
//! /telephony/orange 12 (retained) [4]       a retained message replayed on subscribe
//! /telephony/orange 9 (history) [2]         a kept message, with --history
//! gap: /telephony/orange [3..7] (history)   messages 3 to 7 will not come (the reason last)
//! error: /telephony/x <reason>              the broker refused a request
//! ```
//!
//! The `[seq]` is the message's number on its topic (absent from a v1
//! broker). `--history N` prints the topic's last N kept messages before
//! the live ones, and subscribes resuming after them, so none is lost or
//! printed twice in between. `--resume` reconnects whenever the connection
//! is lost, for as long as the consumer runs, and carries on after the last
//! message printed: a broker restart shows as a `gap: ... (epoch)` line per
//! topic, then the new numbering. `--filter EXPR` prints only the messages
//! a CEL expression passes, and `--group NAME` shares the topic's messages
//! with the other consumers of that group (one gets each).

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use middleware::{Error, Event, Format, Hello, Options, Queue, Reconnect, Role, SubscribeOptions};

/// Subscribes to a topic of the lab broker and prints what it delivers, like
/// the lab's consumer.py.
///
/// Prints `topics: ...` first, then `<topic> <value> [seq]` per live
/// message, `<topic> <value> (retained) [seq]` per retained one,
/// `gap: <topic> [from..to] (reason)` per gap, `topics: ...` per topic
/// announcement and `error: <topic> <reason>` per broker refusal. Ctrl-C
/// cancels the subscription and exits 0.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Topic to subscribe to: /currency, /msg, /telephony, or / for everything
    #[arg(long = "type", value_enum, default_value_t = DataType::Currency)]
    kind: DataType,
    /// Any other topic, such as /a/b (overrides --type)
    #[arg(long)]
    topic: Option<String>,
    /// Serialization mechanism spoken to the broker
    #[arg(long, value_enum, default_value_t = Serializer::Json)]
    serializer: Serializer,
    /// Broker host
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Broker port
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Exit (after cancelling the subscription) once this many messages,
    /// live, retained or from history, have been printed
    #[arg(long)]
    count: Option<u64>,
    /// First print the last N messages the broker keeps of the topic (protocol
    /// v2), then go live without losing or repeating one
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    history: Option<u64>,
    /// Reconnect whenever the connection is lost and resume after the last
    /// message printed (protocol v2); a broker restart shows as a gap
    #[arg(long)]
    resume: bool,
    /// Only messages this CEL expression is true for, over msg, topic and seq,
    /// e.g. 'msg.type == "order" && msg.value > 100' (protocol v2)
    #[arg(long, value_name = "EXPR")]
    filter: Option<String>,
    /// Join this queue group: each message goes to one member of the group
    /// (protocol v2); a member gets no retained message
    #[arg(long, value_name = "NAME")]
    group: Option<String>,
}

/// The topics of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DataType {
    /// /currency
    Currency,
    /// /msg
    Msg,
    /// /telephony and its operators
    Telephony,
    /// every topic
    #[value(name = "/")]
    Root,
}

/// The serialization mechanism (`JSONQueue` or `XMLQueue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Serializer {
    /// JSON (JSONQueue)
    Json,
    /// XML (XMLQueue)
    Xml,
}

impl From<Serializer> for Format {
    fn from(s: Serializer) -> Format {
        match s {
            Serializer::Json => Format::Json,
            Serializer::Xml => Format::Xml,
        }
    }
}

impl Args {
    /// The subscription's options.
    fn subscribe_options(&self) -> SubscribeOptions {
        SubscribeOptions {
            filter: self.filter.clone(),
            group: self.group.clone(),
            ..SubscribeOptions::default()
        }
    }

    /// The topic to subscribe to: `--topic`, or `/{type}` as the lab builds it
    /// (`//` for `/`, which the middleware normalizes to `/`).
    fn topic(&self) -> String {
        match &self.topic {
            Some(topic) => topic.clone(),
            None => {
                let name = match self.kind {
                    DataType::Currency => "currency",
                    DataType::Msg => "msg",
                    DataType::Telephony => "telephony",
                    DataType::Root => "/",
                };
                format!("/{name}")
            }
        }
    }
}

/// How long one wait for the broker lasts before the Ctrl-C flag is checked.
const POLL: Duration = Duration::from_millis(100);

/// How long the first topic list may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait, when leaving, for the broker to close its side.
const LINGER: Duration = Duration::from_millis(500);

/// Why the consumer stopped with an error.
#[derive(Debug)]
enum Failure {
    /// Talking to the broker failed.
    Broker(Error),
    /// Writing to stdout failed.
    Stdout(io::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Broker(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Stdout(e)
    }
}

/// The `topics: ...` line.
fn topics_line(topics: &[String]) -> String {
    if topics.is_empty() {
        "topics: (none)".to_owned()
    } else {
        format!("topics: {}", topics.join(" "))
    }
}

/// ` [seq]`, or nothing for a message without one (from a v1 broker).
fn seq_suffix(seq: Option<u64>) -> String {
    seq.map(|s| format!(" [{s}]")).unwrap_or_default()
}

/// The line printed for an event.
fn event_line(event: &Event) -> String {
    match event {
        Event::Publish {
            topic, value, seq, ..
        } => format!("{topic} {value}{}", seq_suffix(*seq)),
        Event::LastMsg {
            topic, value, seq, ..
        } => format!("{topic} {value} (retained){}", seq_suffix(*seq)),
        Event::Gap {
            topic,
            from,
            to,
            reason,
        } => format!("gap: {topic} [{from}..{to}] ({reason})"),
        Event::Topics(topics) => topics_line(topics),
        Event::Error { topic, reason } => format!("error: {topic} {reason}"),
        Event::Presence {
            topic,
            name,
            action,
            ..
        } => format!("presence: {topic} {name} {action}"),
        Event::NoResponders { reply, topic } => format!("no responders: {topic} (reply {reply})"),
    }
}

/// Writes one line and flushes it (stdout is often a pipe).
fn emit(out: &mut impl Write, line: &str) -> io::Result<()> {
    writeln!(out, "{line}")?;
    out.flush()
}

/// Prints the topic's last `n` kept messages, then subscribes resuming
/// after them; returns how many were printed.
fn history(queue: &mut Queue, n: u64, args: &Args, out: &mut impl Write) -> Result<u64, Failure> {
    let count = args.count;
    let topic = queue.topic().to_owned();
    let kept = queue.history(&topic, 0, Some(n))?;
    let mut printed = 0;
    for item in kept.items {
        if count.is_some_and(|c| printed >= c) {
            break;
        }
        let line = format!("{topic} {} (history) [{}]", item.value, item.seq);
        emit(out, &line)?;
        printed += 1;
    }
    queue.subscribe_with(&topic, &args.subscribe_options())?;
    Ok(printed)
}

/// Prints the topic list (and with `history`, the last kept messages),
/// then events until `stop` is set or `count` messages were printed; then
/// cancels the subscription.
fn consume(
    queue: &mut Queue,
    args: &Args,
    stop: &AtomicBool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let count = args.count;
    queue.set_timeout(Some(LIST_TIMEOUT));
    let topics = queue.list_topics()?;
    emit(out, &topics_line(&topics))?;
    let mut seen = match args.history {
        Some(n) => history(queue, n, args, out)?,
        None => 0,
    };
    queue.set_timeout(None);
    let mut last_topics = topics;
    while !stop.load(Ordering::SeqCst) && count.is_none_or(|n| seen < n) {
        match queue.pull_timeout(POLL) {
            Ok(Some(Event::Topics(topics))) => {
                // An announcement always adds a topic, so a list equal to the
                // last one printed is the broker's answer to our LIST arriving
                // after an announcement was taken for it: nothing new.
                if topics != last_topics {
                    emit(out, &topics_line(&topics))?;
                    last_topics = topics;
                }
            }
            Ok(Some(event)) => {
                seen += u64::from(event.is_delivery());
                emit(out, &event_line(&event))?;
            }
            Ok(None) => {}
            // A frame that made no sense was skipped; the connection is fine.
            Err(e @ (Error::Decode(_) | Error::Protocol(_))) => eprintln!("consumer: warning: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
    // A lost connection has no subscription left to cancel (and reconnecting
    // only to cancel would delay the exit).
    if queue.is_connected() {
        let topic = queue.topic().to_owned();
        queue.cancel_sub(&topic)?;
    }
    Ok(())
}

/// Connects, consumes, and says goodbye.
fn run(args: &Args, stop: &AtomicBool, out: &mut impl Write) -> Result<(), Failure> {
    let addr = format!("{}:{}", args.host, args.port);
    let v2 = args.history.is_some() || args.resume;
    let options = Options {
        format: args.serializer.into(),
        hello: v2.then(Hello::default),
        reconnect: args.resume.then(Reconnect::forever),
        // With history, the subscription comes after it; with options, it
        // is made below.
        subscribe: false,
    };
    let mut queue = Queue::connect_with(&addr, &args.topic(), Role::Consumer, &options)?;
    if args.history.is_none() {
        let topic = queue.topic().to_owned();
        queue.subscribe_with(&topic, &args.subscribe_options())?;
    }
    consume(&mut queue, args, stop, out)?;
    // Events still in flight are not printed: the user asked to stop.
    queue.close(LINGER)?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)) {
        eprintln!("consumer: warning: cannot handle Ctrl-C: {e}");
    }
    match run(&args, &stop, &mut io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Stdout(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Stdout(e)) => {
            eprintln!("consumer: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Broker(e)) => {
            eprintln!("consumer: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use middleware::Value;

    #[test]
    fn cli_is_consistent() {
        Args::command().debug_assert();
        let args = Args::try_parse_from(["consumer"]).unwrap();
        assert_eq!(args.topic(), "/currency");
        let args = Args::try_parse_from(["consumer", "--type", "/"]).unwrap();
        assert_eq!(args.topic(), "//");
        let args = Args::try_parse_from(["consumer", "--type", "msg", "--topic", "/a/b"]).unwrap();
        assert_eq!(args.topic(), "/a/b");
        assert!(Args::try_parse_from(["consumer", "--type", "weather"]).is_err());
        let args = Args::try_parse_from(["consumer", "--history", "5", "--resume"]).unwrap();
        assert_eq!((args.history, args.resume), (Some(5), true));
        assert!(Args::try_parse_from(["consumer", "--history", "0"]).is_err());
    }

    #[test]
    fn lines() {
        assert_eq!(topics_line(&[]), "topics: (none)");
        assert_eq!(
            topics_line(&["/a".into(), "/a/b".into()]),
            "topics: /a /a/b"
        );
        let live = Event::Publish {
            topic: "/msg".into(),
            value: Value::from("hi there"),
            seq: None,
            ts: None,
            reply: None,
        };
        assert_eq!(event_line(&live), r#"/msg "hi there""#);
        let numbered = Event::Publish {
            topic: "/msg".into(),
            value: Value::Int(1),
            seq: Some(12),
            ts: Some(1),
            reply: None,
        };
        assert_eq!(event_line(&numbered), "/msg 1 [12]");
        let retained = Event::LastMsg {
            topic: "/c".into(),
            value: Value::Int(3),
            seq: None,
            ts: None,
            reply: None,
        };
        assert_eq!(event_line(&retained), "/c 3 (retained)");
        let gap = Event::Gap {
            topic: "/c".into(),
            from: 4,
            to: 4,
            reason: middleware::GapReason::Epoch,
        };
        assert_eq!(event_line(&gap), "gap: /c [4..4] (epoch)");
        let error = Event::Error {
            topic: "/".into(),
            reason: "cannot publish to /".into(),
        };
        assert_eq!(event_line(&error), "error: / cannot publish to /");
    }
}
