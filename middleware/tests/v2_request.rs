//! `Queue::request` and `Queue::respond` against the real broker (see
//! `live`): replies correlated by inbox, no responders, a request nobody
//! answers in time (and its late reply dropped), events kept for `pull`
//! meanwhile.

mod live;

use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use live::{next, open, LiveBroker, TIMEOUT};
use middleware::{Error, Event, Format, Options, Queue, Role, Value};

/// A responder on `topic` in a thread: answers each request with `answer`
/// of its value, `count` times, then returns its queue.
fn responder(
    addr: &str,
    topic: &str,
    format: Format,
    count: usize,
    answer: fn(&Value) -> Value,
) -> JoinHandle<Queue> {
    let options = Options {
        format,
        ..Options::default()
    };
    let mut q = open(addr, topic, Role::Consumer, &options);
    q.ping().expect("subscribed");
    thread::spawn(move || {
        let mut answered = 0;
        while answered < count {
            let event = q.pull().expect("pull");
            let Event::Publish { value, .. } = &event else {
                continue;
            };
            if event.reply_to().is_some() {
                q.respond(&event, answer(value)).expect("respond");
                answered += 1;
            }
        }
        q
    })
}

fn double(v: &Value) -> Value {
    match v {
        Value::Int(n) => Value::Int(n * 2),
        other => Value::List(vec![other.clone(), other.clone()]),
    }
}

#[test]
fn each_request_gets_its_own_reply() {
    let broker = LiveBroker::start();
    let service = responder(&broker.addr(), "/svc/double", Format::Xml, 6, double);
    let mut a = broker.producer("/a");
    let mut b = open(
        &broker.addr(),
        "/b",
        Role::Producer,
        &Options {
            format: Format::Xml,
            ..Options::default()
        },
    );
    for n in 1..=3i64 {
        assert_eq!(
            a.request("/svc/double", n, TIMEOUT).expect("reply"),
            Value::Int(2 * n)
        );
        // Requests on a topic under the service's reach it too.
        assert_eq!(
            b.request("//svc/double/", Value::from("x"), TIMEOUT)
                .expect("reply"),
            Value::List(vec![Value::from("x"), Value::from("x")])
        );
    }
    service.join().expect("responder");
    // Inboxes are neither listed nor kept: nothing to see.
    let topics = a.list_topics().expect("list");
    assert!(
        topics.iter().all(|t| !t.starts_with("/_INBOX")),
        "{topics:?}"
    );
    assert!(matches!(
        a.pull_timeout(Duration::from_millis(100)),
        Ok(None)
    ));
}

#[test]
fn no_responders_is_told_at_once() {
    let broker = LiveBroker::start();
    let mut q = broker.producer("/p");
    let start = Instant::now();
    match q.request("/nobody/home", 1i64, TIMEOUT) {
        Err(Error::NoResponders { topic }) => assert_eq!(topic, "/nobody/home"),
        other => panic!("expected no responders, got {other:?}"),
    }
    assert!(start.elapsed() < TIMEOUT / 2, "{:?}", start.elapsed());
    // The queue is still usable, and nothing is left for pull (not even
    // the announcement of the new topic its inbox subscription got).
    q.ping().expect("ping");
    assert!(matches!(q.pull_timeout(Duration::ZERO), Ok(None)));
    // Bad topics are refused before sending.
    assert!(matches!(
        q.request("/a/*", 1i64, TIMEOUT),
        Err(Error::Topic { .. })
    ));
    assert!(matches!(
        q.request("/", 1i64, TIMEOUT),
        Err(Error::PublishToRoot)
    ));
}

#[test]
fn a_request_nobody_answers_times_out_and_its_late_reply_is_dropped() {
    let broker = LiveBroker::start();
    // Subscribed, so the request is delivered, but it answers only later.
    let mut silent = open(&broker.addr(), "/slow", Role::Consumer, &Options::default());
    silent.ping().expect("subscribed");
    let mut q = broker.producer("/p");
    let start = Instant::now();
    let timeout = Duration::from_millis(300);
    match q.request("/slow", 7i64, timeout) {
        Err(Error::NoReply { topic, timeout: t }) => {
            assert_eq!((topic.as_str(), t), ("/slow", timeout));
        }
        other => panic!("expected no reply, got {other:?}"),
    }
    assert!(start.elapsed() >= timeout);
    let request = next(&mut silent);
    assert!(matches!(
        &request,
        Event::Publish {
            value: Value::Int(7),
            ..
        }
    ));
    assert!(request
        .reply_to()
        .is_some_and(|r| r.starts_with("/_INBOX/")));
    silent.respond(&request, 70i64).expect("late answer");
    silent.ping().expect("answered");
    // The late reply is not an event, and not the next request's reply.
    assert!(matches!(
        q.pull_timeout(Duration::from_millis(200)),
        Ok(None)
    ));
    let service = responder(&broker.addr(), "/slow2", Format::Json, 1, double);
    assert_eq!(
        q.request("/slow2", 8i64, TIMEOUT).expect("reply"),
        Value::Int(16)
    );
    service.join().expect("responder");
}

#[test]
fn deliveries_while_waiting_are_kept_for_pull() {
    let broker = LiveBroker::start();
    let addr = broker.addr();
    // The requester also consumes /news.
    let mut q = open(&addr, "/news", Role::Consumer, &Options::default());
    q.ping().expect("subscribed");
    // A responder that publishes news before it answers.
    let mut svc = open(&addr, "/svc", Role::Consumer, &Options::default());
    svc.ping().expect("subscribed");
    let worker = thread::spawn(move || {
        let mut news = Queue::connect(&addr, "/news", Role::Producer, Format::Json).expect("news");
        let request = next(&mut svc);
        news.push("breaking").expect("news");
        news.ping().expect("published");
        svc.respond(&request, "done").expect("respond");
        svc
    });
    assert_eq!(
        q.request("/svc", Value::Null, TIMEOUT).expect("reply"),
        Value::from("done")
    );
    worker.join().expect("worker");
    match next(&mut q) {
        Event::Publish {
            topic,
            value,
            reply: None,
            ..
        } => assert_eq!((topic.as_str(), value), ("/news", Value::from("breaking"))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn respond_needs_a_request() {
    let broker = LiveBroker::start();
    let mut q = open(
        &broker.addr(),
        "/plain",
        Role::Consumer,
        &Options::default(),
    );
    q.ping().expect("subscribed");
    let mut p = broker.producer("/plain");
    p.push(1i64).expect("push");
    let event = next(&mut q);
    assert_eq!(event.reply_to(), None);
    assert!(matches!(q.respond(&event, 2i64), Err(Error::NotARequest)));
    let topics = Event::Topics(vec![]);
    assert!(matches!(q.respond(&topics, 2i64), Err(Error::NotARequest)));
}
