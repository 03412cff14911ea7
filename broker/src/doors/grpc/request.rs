//! A Session request to the core's commands, with the checks the lab door
//! makes on the same requests (v2 §17): a bad topic, name, id, reply,
//! value or enum number refuses the request with `INVALID_ARGUMENT`, and
//! nothing of it reaches the router.

use std::borrow::Cow;
use std::collections::HashMap;

use protocol::{Pattern, Topic};
use tonic::Code;

use super::value;
use crate::core::command::PublishKeys;
use crate::core::{
    Command, Filter, Hello, HistoryQuery, List, Publish, Resume, SlowPolicy, SubTag, Subscribe,
    SubscribeOptions, TopicArg,
};
use crate::doors::lab::{check_name, MAX_HISTORY_LIMIT};
use crate::proto::{self, session_request::Kind};

/// Longest publish id, in bytes (v2 §15).
const MAX_ID_LEN: usize = 128;

/// Why a request is refused: a gRPC status code and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    /// The status code.
    pub code: Code,
    /// Why, for the client.
    pub message: String,
}

impl Refusal {
    fn invalid(message: impl Into<String>) -> Self {
        Refusal {
            code: Code::InvalidArgument,
            message: message.into(),
        }
    }
}

/// The commands of request `id`, or why it is refused. `max_message` bounds
/// a published value's JSON text.
pub(super) fn commands(
    id: u64,
    kind: Option<Kind>,
    max_message: usize,
) -> Result<Vec<Command<'static>>, Refusal> {
    let command = match kind {
        None => return Err(Refusal::invalid("a request needs one of its kinds set")),
        Some(Kind::Hello(h)) => Command::Hello(hello(h)?),
        Some(Kind::Publish(p)) => Command::Publish(publish(p, id != 0, max_message)?),
        Some(Kind::Subscribe(s)) => {
            if id == 0 {
                return Err(Refusal::invalid(
                    "a subscribe needs an id: it is the subscription's number",
                ));
            }
            Command::Subscribe(subscribe(s, SubTag(id))?)
        }
        Some(Kind::Unsubscribe(u)) if u.subscription == 0 => {
            return Err(Refusal::invalid("unsubscribe needs a subscription number"))
        }
        Some(Kind::Unsubscribe(u)) => Command::Unsubscribe(SubTag(u.subscription)),
        Some(Kind::List(l)) => Command::List(List {
            after: (!l.after.is_empty()).then_some(Cow::Owned(l.after)),
        }),
        Some(Kind::History(h)) => Command::History(history(h)?),
        Some(Kind::Who(w)) => Command::Who(topic(w.topic)?),
    };
    Ok(vec![command])
}

/// A topic without patterns, normalized.
fn topic(text: String) -> Result<TopicArg<'static>, Refusal> {
    Topic::parse_cow(Cow::Owned(text))
        .map(|(topic, sent)| TopicArg { topic, sent })
        .map_err(|(text, e)| Refusal::invalid(format!("topic {text:?}: {e}")))
}

/// The slow policy of an enum number; 0 leaves it as it is.
fn slow_policy(n: i32) -> Result<Option<SlowPolicy>, Refusal> {
    match proto::SlowPolicy::try_from(n) {
        Ok(proto::SlowPolicy::Unspecified) => Ok(None),
        Ok(proto::SlowPolicy::Disconnect) => Ok(Some(SlowPolicy::Disconnect)),
        Ok(proto::SlowPolicy::Drop) => Ok(Some(SlowPolicy::Drop)),
        Err(_) => Err(Refusal::invalid(format!("unknown SlowPolicy value {n}"))),
    }
}

fn hello(h: proto::Hello) -> Result<Hello<'static>, Refusal> {
    let name = if h.name.is_empty() {
        None
    } else {
        check_name(&h.name).map_err(Refusal::invalid)?;
        Some(Cow::Owned(h.name))
    };
    Ok(Hello {
        name,
        slow: slow_policy(h.slow)?,
    })
}

fn publish(
    p: proto::PublishRequest,
    may_ack: bool,
    max: usize,
) -> Result<Publish<'static>, Refusal> {
    let topic = topic(p.topic)?;
    if !p.id.is_empty() && p.id.len() > MAX_ID_LEN {
        return Err(Refusal::invalid(format!(
            "id must be 1 to {MAX_ID_LEN} bytes, not {}",
            p.id.len()
        )));
    }
    let reply = if p.reply.is_empty() {
        None
    } else {
        match Topic::parse(&p.reply) {
            Ok(t) if t.is_root() => return Err(Refusal::invalid("reply cannot be the root topic")),
            Ok(t) => Some(t.as_str().to_owned()),
            Err(e) => return Err(Refusal::invalid(format!("reply {:?}: {e}", p.reply))),
        }
    };
    let body = value::to_body(p.value).map_err(Refusal::invalid)?;
    if let protocol::Body::Json { text, .. } = &body {
        if text.len() > max {
            return Err(Refusal {
                code: Code::ResourceExhausted,
                message: format!(
                    "message too large: {} bytes of JSON, over the limit of {max}",
                    text.len()
                ),
            });
        }
    }
    let keys = (!p.id.is_empty() || reply.is_some()).then(|| {
        Box::new(PublishKeys {
            id: (!p.id.is_empty()).then_some(p.id),
            reply,
            headers: None,
        })
    });
    Ok(Publish {
        topic,
        body,
        ack: p.ack && may_ack,
        keys,
    })
}

/// A subscription tagged `tag`; its `name` and `slow` are the Subscribe
/// call's (sent as a `Hello` before it), so they are not looked at here.
fn subscribe(s: proto::SubscribeRequest, tag: SubTag) -> Result<Subscribe<'static>, Refusal> {
    let pattern = s.topic.contains('*');
    if s.presence && pattern {
        return Err(Refusal::invalid(
            "presence is for an exact topic, not a pattern",
        ));
    }
    if !s.group.is_empty() {
        check_name(&s.group).map_err(|e| Refusal::invalid(format!("group: {e}")))?;
    }
    if s.resume.is_some() && !s.group.is_empty() {
        return Err(Refusal::invalid(
            "resume and group do not combine: a group member gets no replay",
        ));
    }
    let filter = if pattern {
        Filter::Pattern(
            Pattern::parse_cow(Cow::Owned(s.topic.clone()))
                .map_err(|(text, e)| Refusal::invalid(format!("topic {text:?}: {e}")))?,
        )
    } else {
        Filter::Subtree(topic(s.topic.clone())?.topic)
    };
    let resume = s.resume.map(resume).transpose()?;
    let options = (resume.is_some() || !s.group.is_empty() || !s.filter.is_empty() || s.presence)
        .then(|| {
            Box::new(SubscribeOptions {
                resume,
                group: (!s.group.is_empty()).then_some(s.group),
                content: (!s.filter.is_empty()).then_some(s.filter),
                presence: s.presence,
            })
        });
    Ok(Subscribe {
        filter,
        sent: Cow::Owned(s.topic),
        tag,
        options,
    })
}

fn resume(r: proto::Resume) -> Result<Resume, Refusal> {
    let mut seen = HashMap::with_capacity(r.seen.len());
    for (text, seq) in r.seen {
        let topic = Topic::parse(&text)
            .map_err(|e| Refusal::invalid(format!("resume topic {text:?}: {e}")))?;
        seen.insert(topic.as_str().to_owned(), seq);
    }
    Ok(Resume {
        epoch: r.epoch,
        seen,
    })
}

fn history(h: proto::HistoryRequest) -> Result<HistoryQuery<'static>, Refusal> {
    let limit = match u64::from(h.limit) {
        0 => None,
        n if n > MAX_HISTORY_LIMIT => {
            return Err(Refusal::invalid(format!(
                "limit must be from 1 to {MAX_HISTORY_LIMIT}, not {n}"
            )))
        }
        n => usize::try_from(n).ok(),
    };
    Ok(HistoryQuery {
        topic: topic(h.topic)?,
        since: h.since,
        limit,
    })
}
