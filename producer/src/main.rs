//! `producer`: the lab's `producer.py` in Rust. Publishes generated values to
//! the broker and prints each one as `<topic> <value>` (the value as JSON text).
//!
//! | `--type` | topics and values |
//! |---|---|
//! | `currency` | `/currency`: an integer 0 to 40 |
//! | `msg` | `/msg`: a line of text from a built-in list |
//! | `telephony` | `/telephony/orange` 0 to 40, `/telephony/unite` 0 to 100, `/telephony/moldcell` 10000 to 11000, each on its own connection |
//!
//! With `--confirm`, every value is published with an acknowledgement
//! (protocol v2 §15, `Queue::publish_confirmed`): the line is printed once
//! the broker has accepted the value, as `<topic> <value> [<seq>] -> <k>
//! receivers`, and a last line sums up the receivers:
//! `confirmed <n> values: receivers min <a>, avg <b>, max <c>`.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use middleware::{Event, Format, Options, PubAck, Queue, Reconnect, Role, Value};
use rand::seq::IndexedRandom;
use rand::Rng;

/// Publishes generated values to the lab broker, like the lab's producer.py.
///
/// Prints each value it publishes as `<topic> <value>`, the value as JSON text.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Kind of data: currency (/currency, 0 to 40), msg (/msg, a line of
    /// text) or telephony (/telephony/orange 0 to 40, /telephony/unite 0 to
    /// 100, /telephony/moldcell 10000 to 11000)
    #[arg(long = "type", value_enum, default_value_t = DataType::Currency)]
    kind: DataType,
    /// Number of rounds; a telephony round publishes one value on each of its
    /// three topics
    #[arg(long, default_value_t = 10)]
    length: u64,
    /// Pause before each value but the first, in milliseconds
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
    /// Serialization mechanism spoken to the broker
    #[arg(long, value_enum, default_value_t = Serializer::Json)]
    serializer: Serializer,
    /// Broker host
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Broker port
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Have the broker acknowledge every value (protocol v2), sending it
    /// again under the same id until it does (after a lost connection too),
    /// so it is kept exactly once; print each value's number and receivers,
    /// and a summary at the end
    #[arg(long)]
    confirm: bool,
}

/// The kinds of data of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DataType {
    /// /currency: an integer 0 to 40
    Currency,
    /// /msg: a line of text
    Msg,
    /// /telephony/orange, /telephony/unite and /telephony/moldcell
    Telephony,
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

/// How one topic's values are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generator {
    /// A uniform integer in the inclusive range.
    Int(i64, i64),
    /// A line from [`TEXT`].
    Text,
}

/// The lines the `msg` type picks from.
const TEXT: &[&str] = &[
    "Le courtier de messages relaie chaque publication à ses abonnés.",
    "The quick brown fox jumps over the lazy dog.",
    "Un abonné à /telephony reçoit aussi /telephony/orange.",
    "Publish and subscribe decouples producers from consumers.",
    "Chaque trame commence par sa longueur sur cinq octets.",
    "JSON and XML clients exchange the same values.",
    "Le dernier message de chaque sujet est conservé.",
    "Hello from the producer!",
];

impl DataType {
    /// The topics of this kind and how their values are made, in the order
    /// a round publishes them.
    fn streams(self) -> &'static [(&'static str, Generator)] {
        match self {
            DataType::Currency => &[("/currency", Generator::Int(0, 40))],
            DataType::Msg => &[("/msg", Generator::Text)],
            DataType::Telephony => &[
                ("/telephony/orange", Generator::Int(0, 40)),
                ("/telephony/unite", Generator::Int(0, 100)),
                ("/telephony/moldcell", Generator::Int(10_000, 11_000)),
            ],
        }
    }
}

impl Generator {
    fn next(self, rng: &mut impl Rng) -> Value {
        match self {
            Generator::Int(low, high) => Value::Int(rng.random_range(low..=high)),
            Generator::Text => Value::from(*TEXT.choose(rng).unwrap_or(&"")),
        }
    }
}

/// Why the producer stopped early.
#[derive(Debug)]
enum Failure {
    /// Talking to the broker failed.
    Broker(middleware::Error),
    /// Writing to stdout failed.
    Stdout(io::Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Broker(e) => write!(f, "{e}"),
            Failure::Stdout(e) => write!(f, "cannot write to stdout: {e}"),
        }
    }
}

impl From<middleware::Error> for Failure {
    fn from(e: middleware::Error) -> Self {
        Failure::Broker(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Stdout(e)
    }
}

/// How long to wait at the end for the broker to answer the last publishes.
const LINGER: Duration = Duration::from_secs(2);

/// Connects one queue per topic of `args.kind`; with `--confirm`, queues
/// that reconnect after a lost connection (to send unacknowledged values
/// again).
fn connect(args: &Args) -> Result<Vec<(Queue, Generator)>, Failure> {
    let addr = format!("{}:{}", args.host, args.port);
    let options = Options {
        format: args.serializer.into(),
        reconnect: args.confirm.then(Reconnect::default),
        ..Options::default()
    };
    args.kind
        .streams()
        .iter()
        .map(|&(topic, generator)| {
            let queue = Queue::connect_with(&addr, topic, Role::Producer, &options)?;
            Ok((queue, generator))
        })
        .collect()
}

/// The receivers of the acknowledged values, for the `--confirm` summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Receivers {
    /// Values acknowledged.
    count: u64,
    min: u64,
    max: u64,
    sum: u64,
}

impl Receivers {
    fn add(&mut self, receivers: u64) {
        self.min = if self.count == 0 {
            receivers
        } else {
            self.min.min(receivers)
        };
        self.max = self.max.max(receivers);
        self.sum = self.sum.saturating_add(receivers);
        self.count += 1;
    }

    /// `confirmed <n> values: receivers min <a>, avg <b>, max <c>`.
    fn summary(&self) -> String {
        if self.count == 0 {
            return "confirmed 0 values".to_owned();
        }
        // Counts far below 2^52: exact as floats.
        #[allow(clippy::cast_precision_loss)]
        let avg = self.sum as f64 / self.count as f64;
        format!(
            "confirmed {} values: receivers min {}, avg {avg:.2}, max {}",
            self.count, self.min, self.max
        )
    }
}

/// The line printed for a value the broker acknowledged.
fn confirmed_line(line: &str, ack: &PubAck) -> String {
    let plural = if ack.receivers == 1 { "" } else { "s" };
    let duplicate = if ack.duplicate { " (duplicate)" } else { "" };
    format!(
        "{line} [{}] -> {} receiver{plural}{duplicate}",
        ack.seq, ack.receivers
    )
}

/// Reports a refusal from the broker on stderr; returns whether it was one.
fn report(event: &Event) -> bool {
    match event {
        Event::Error { topic, reason } => {
            eprintln!("producer: broker refused a message on {topic:?}: {reason}");
            true
        }
        other => {
            eprintln!("producer: ignoring unexpected {other:?}");
            false
        }
    }
}

/// Publishes `args.length` rounds, printing each value to `out`. Returns how
/// many publishes the broker refused.
fn run(args: &Args, out: &mut impl Write) -> Result<usize, Failure> {
    let mut queues = connect(args)?;
    let mut rng = rand::rng();
    let interval = Duration::from_millis(args.interval_ms);
    let mut refused = 0;
    let mut first = true;
    let mut receivers = Receivers::default();
    for _ in 0..args.length {
        for (queue, generator) in &mut queues {
            if !first {
                thread::sleep(interval);
            }
            first = false;
            let value = generator.next(&mut rng);
            let mut line = format!("{} {}", queue.topic(), value);
            if args.confirm {
                match queue.publish_confirmed(value) {
                    Ok(ack) => {
                        receivers.add(ack.receivers);
                        line = confirmed_line(&line, &ack);
                    }
                    Err(middleware::Error::Broker { topic, reason }) => {
                        refused += usize::from(report(&Event::Error { topic, reason }));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            } else {
                queue.push(value)?;
            }
            writeln!(out, "{line}")?;
            out.flush()?;
            // Refusals of earlier publishes, without waiting.
            while let Some(event) = queue.pull_timeout(Duration::ZERO)? {
                refused += usize::from(report(&event));
            }
        }
    }
    for (queue, _) in queues {
        for event in queue.close(LINGER)? {
            refused += usize::from(report(&event));
        }
    }
    if args.confirm {
        writeln!(out, "{}", receivers.summary())?;
        out.flush()?;
    }
    Ok(refused)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args, &mut io::stdout().lock()) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(refused) => {
            eprintln!("producer: the broker refused {refused} message(s)");
            ExitCode::FAILURE
        }
        Err(Failure::Stdout(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("producer: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Args::command().debug_assert();
        let args = Args::try_parse_from(["producer"]).unwrap();
        assert_eq!(args.kind, DataType::Currency);
        assert_eq!((args.length, args.interval_ms, args.port), (10, 100, 8000));
        assert_eq!(
            (args.serializer, args.host.as_str()),
            (Serializer::Json, "localhost")
        );
        let args = Args::try_parse_from(["producer", "--type", "telephony", "--serializer", "xml"])
            .unwrap();
        assert_eq!(
            (args.kind, args.serializer),
            (DataType::Telephony, Serializer::Xml)
        );
        assert!(Args::try_parse_from(["producer", "--type", "weather"]).is_err());
        assert!(!Args::try_parse_from(["producer"]).unwrap().confirm);
        assert!(
            Args::try_parse_from(["producer", "--confirm"])
                .unwrap()
                .confirm
        );
    }

    #[test]
    fn confirmed_lines_and_summary() {
        let ack = |seq, receivers, duplicate| PubAck {
            topic: "/currency".into(),
            seq,
            receivers,
            id: Some("i".into()),
            duplicate,
        };
        assert_eq!(
            confirmed_line("/currency 27", &ack(3, 2, false)),
            "/currency 27 [3] -> 2 receivers"
        );
        assert_eq!(
            confirmed_line("/currency 1", &ack(4, 1, true)),
            "/currency 1 [4] -> 1 receiver (duplicate)"
        );
        let mut r = Receivers::default();
        assert_eq!(r.summary(), "confirmed 0 values");
        for k in [2, 0, 1] {
            r.add(k);
        }
        assert_eq!(
            r.summary(),
            "confirmed 3 values: receivers min 0, avg 1.00, max 2"
        );
    }

    #[test]
    fn values_in_range() {
        let mut rng = rand::rng();
        for kind in [DataType::Currency, DataType::Msg, DataType::Telephony] {
            for &(topic, generator) in kind.streams() {
                for _ in 0..200 {
                    match (generator, generator.next(&mut rng)) {
                        (Generator::Int(low, high), Value::Int(i)) => {
                            assert!((low..=high).contains(&i), "{topic} {i}")
                        }
                        (Generator::Text, Value::Str(s)) => assert!(TEXT.contains(&s.as_str())),
                        (_, v) => panic!("{topic}: unexpected {v:?}"),
                    }
                }
            }
        }
    }
}
