//! Request/reply over the broker (protocol v2 §15; seed 002's
//! "request-response with correlation"): a responder serves a topic, an
//! asker sends requests and waits for each answer.
//!
//! ```sh
//! cargo run --release -p broker                       # terminal 1
//! cargo run -p middleware --example request_reply -- serve          # terminal 2
//! cargo run -p middleware --example request_reply -- ask hello 21   # terminal 3
//! ```
//!
//! `serve` subscribes to the service topic (default `/service/double`) and
//! answers every request: a number doubled, a text upper-cased, anything
//! else as it came, as `{"answer": ..., "by": "<name>"}`. Several servers
//! started with the same `--group` share the requests (a queue group), one
//! answering each. `ask` sends each of its arguments (a number when it
//! parses as one) and prints `<request> -> <answer>`, or why there was none:
//! `no responders` at once when nobody serves the topic, `no reply` after
//! `--timeout-ms`.
//!
//! The correlation is the reply topic: `Queue::request` subscribes a fresh
//! inbox (`/_INBOX/<random>/<n>`) for each request, publishes the request
//! with `reply` set to it, and takes the first message there; the server's
//! `Queue::respond` publishes on the request's reply topic.
//!
//! Options: `--addr host:port` (default `localhost:8000`), `--topic T`,
//! `--name N` and `--group G` (serve), `--timeout-ms MS` (ask, default 2000).

use std::process::ExitCode;
use std::time::Duration;

use middleware::{Error, Event, Hello, Options, Queue, Role, SubscribeOptions, Value};

/// The command line, parsed by hand (the library has no CLI dependency).
#[derive(Debug)]
struct Args {
    serve: bool,
    addr: String,
    topic: String,
    name: String,
    group: Option<String>,
    timeout: Duration,
    values: Vec<String>,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let serve = match args.next().as_deref() {
        Some("serve") => true,
        Some("ask") => false,
        _ => return Err("usage: request_reply serve|ask [options] [values...]".into()),
    };
    let mut parsed = Args {
        serve,
        addr: middleware::DEFAULT_ADDR.to_owned(),
        topic: "/service/double".to_owned(),
        name: format!("server-{}", std::process::id()),
        group: None,
        timeout: Duration::from_millis(2000),
        values: Vec::new(),
    };
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--addr" => parsed.addr = value("--addr")?,
            "--topic" => parsed.topic = value("--topic")?,
            "--name" => parsed.name = value("--name")?,
            "--group" => parsed.group = Some(value("--group")?),
            "--timeout-ms" => {
                let ms = value("--timeout-ms")?;
                let ms: u64 = ms.parse().map_err(|e| format!("--timeout-ms {ms}: {e}"))?;
                parsed.timeout = Duration::from_millis(ms);
            }
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}")),
            _ => parsed.values.push(arg),
        }
    }
    Ok(parsed)
}

/// What the server answers to `request`.
fn answer(request: &Value, name: &str) -> Value {
    let answer = match request {
        Value::Int(n) => Value::Int(n.saturating_mul(2)),
        Value::Float(x) => Value::Float(x * 2.0),
        Value::Str(s) => Value::from(s.to_uppercase()),
        other => other.clone(),
    };
    Value::Dict(vec![
        ("answer".to_owned(), answer),
        ("by".to_owned(), Value::from(name)),
    ])
}

/// Answers requests on the topic until the connection fails.
fn serve(args: &Args) -> Result<(), Error> {
    let options = Options {
        hello: Some(Hello {
            name: Some(args.name.clone()),
            slow: None,
        }),
        subscribe: false,
        ..Options::default()
    };
    let mut queue = Queue::connect_with(&args.addr, &args.topic, Role::Consumer, &options)?;
    let subscription = SubscribeOptions {
        group: args.group.clone(),
        ..SubscribeOptions::default()
    };
    queue.subscribe_with(&args.topic, &subscription)?;
    println!("{} serving {}", args.name, args.topic);
    loop {
        let event = queue.pull()?;
        match &event {
            Event::Publish { topic, value, .. } if event.reply_to().is_some() => {
                let reply = answer(value, &args.name);
                println!(
                    "{topic} {value} -> {reply} (to {})",
                    event.reply_to().unwrap_or_default()
                );
                queue.respond(&event, reply)?;
            }
            Event::Error { topic, reason } => eprintln!("error: {topic} {reason}"),
            // Plain messages on the topic, announcements: not requests.
            _ => {}
        }
    }
}

/// Sends each value as a request and prints its answer.
fn ask(args: &Args) -> Result<bool, Error> {
    let mut queue = Queue::connect(
        &args.addr,
        &args.topic,
        Role::Producer,
        middleware::Format::Json,
    )?;
    let mut all_answered = true;
    for text in &args.values {
        let request = text
            .parse::<i64>()
            .map_or_else(|_| Value::from(text.as_str()), Value::Int);
        match queue.request(&args.topic, request.clone(), args.timeout) {
            Ok(reply) => println!("{request} -> {reply}"),
            Err(e @ (Error::NoResponders { .. } | Error::NoReply { .. })) => {
                println!("{request} -> {e}");
                all_answered = false;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(all_answered)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("request_reply: {e}");
            return ExitCode::from(2);
        }
    };
    let result = if args.serve {
        serve(&args).map(|()| true)
    } else {
        ask(&args)
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("request_reply: {e}");
            ExitCode::FAILURE
        }
    }
}
