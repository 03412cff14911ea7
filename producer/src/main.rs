//! `producer`: the lab's `producer.py` in Rust. Publishes generated values to
//! the broker and prints each one as `<topic> <value>` (the value as JSON text).
//!
//! | `--type` | topics and values |
//! |---|---|
//! | `currency` | `/currency`: an integer 0 to 40 |
//! | `msg` | `/msg`: a line of text from a built-in list |
//! | `telephony` | `/telephony/orange` 0 to 40, `/telephony/unite` 0 to 100, `/telephony/moldcell` 10000 to 11000, each on its own connection |

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use middleware::{Event, Format, Queue, Role, Value};
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

/// Connects one queue per topic of `args.kind`.
fn connect(args: &Args) -> Result<Vec<(Queue, Generator)>, Failure> {
    let addr = format!("{}:{}", args.host, args.port);
    args.kind
        .streams()
        .iter()
        .map(|&(topic, generator)| {
            let queue = Queue::connect(&addr, topic, Role::Producer, args.serializer.into())?;
            Ok((queue, generator))
        })
        .collect()
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
    for _ in 0..args.length {
        for (queue, generator) in &mut queues {
            if !first {
                thread::sleep(interval);
            }
            first = false;
            let value = generator.next(&mut rng);
            let line = format!("{} {}", queue.topic(), value);
            queue.push(value)?;
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
