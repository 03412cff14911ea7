//! `consumer`: the lab's `consumer.py` in Rust. Subscribes to a topic (and so
//! to everything under it), prints the topic list, then one line per event
//! until Ctrl-C, when it cancels its subscription and exits 0.
//!
//! Output lines, each flushed at once:
//!
//! ```text
//! topics: /telephony /telephony/orange      the list, first; later, each change announced
//! topics: (none)                            no topics yet
//! /telephony/orange 27                      a live message (value as JSON text)
//! /telephony/orange 12 (retained)           a retained message replayed on subscribe
//! gap: /telephony/orange [3..7] (history)    messages 3 to 7 will not come (v2)
//! error: /telephony/x <reason>              the broker refused a request
//! ```

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use middleware::{Error, Event, Format, Queue, Role};

/// Subscribes to a topic of the lab broker and prints what it delivers, like
/// the lab's consumer.py.
///
/// Prints `topics: ...` first, then `<topic> <value>` per live message,
/// `<topic> <value> (retained)` per retained one, `topics: ...` per topic
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
    /// live or retained, have been printed
    #[arg(long)]
    count: Option<u64>,
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

/// The line printed for an event.
fn event_line(event: &Event) -> String {
    match event {
        Event::Publish { topic, value, .. } => format!("{topic} {}", value),
        Event::LastMsg { topic, value, .. } => format!("{topic} {} (retained)", value),
        Event::Gap {
            topic,
            from,
            to,
            reason,
        } => format!("gap: {topic} [{from}..{to}] ({reason})"),
        Event::Topics(topics) => topics_line(topics),
        Event::Error { topic, reason } => format!("error: {topic} {reason}"),
    }
}

/// Writes one line and flushes it (stdout is often a pipe).
fn emit(out: &mut impl Write, line: &str) -> io::Result<()> {
    writeln!(out, "{line}")?;
    out.flush()
}

/// Prints the topic list, then events until `stop` is set or `count`
/// messages were printed; then cancels the subscription.
fn consume(
    queue: &mut Queue,
    count: Option<u64>,
    stop: &AtomicBool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    queue.set_timeout(Some(LIST_TIMEOUT));
    let topics = queue.list_topics()?;
    queue.set_timeout(None);
    emit(out, &topics_line(&topics))?;
    let mut last_topics = topics;
    let mut seen = 0u64;
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
    let topic = queue.topic().to_owned();
    queue.cancel_sub(&topic)?;
    Ok(())
}

/// Connects, consumes, and says goodbye.
fn run(args: &Args, stop: &AtomicBool, out: &mut impl Write) -> Result<(), Failure> {
    let addr = format!("{}:{}", args.host, args.port);
    let mut queue = Queue::connect(&addr, &args.topic(), Role::Consumer, args.serializer.into())?;
    consume(&mut queue, args.count, stop, out)?;
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
        };
        assert_eq!(event_line(&live), r#"/msg "hi there""#);
        let retained = Event::LastMsg {
            topic: "/c".into(),
            value: Value::Int(3),
            seq: None,
            ts: None,
        };
        assert_eq!(event_line(&retained), "/c 3 (retained)");
        let error = Event::Error {
            topic: "/".into(),
            reason: "cannot publish to /".into(),
        };
        assert_eq!(event_line(&error), "error: / cannot publish to /");
    }
}
