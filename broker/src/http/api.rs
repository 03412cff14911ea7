//! The JSON endpoints: `/api/server`, `/api/connections`, `/api/topics`,
//! `/api/topic`, `/api/events`; a 404 for any other path and a 400 with a
//! reason for a bad parameter, both as JSON.
//!
//! Limits are capped here, before the reactor sees the query: a huge
//! `limit` gets [`MAX_LIMIT`] items, not an error.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query as Params, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use log::debug;
use protocol::Topic;
use serde::Serialize;
use serde_json::{json, Value};

use super::Shared;
use crate::monitor::query::Gone;
use crate::monitor::traffic::EVENTS_KEPT;
use crate::monitor::view::{ServerView, TopicPage};
use crate::monitor::Query;

/// Items in a page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// Most items in a page, whatever `limit` asks.
pub const MAX_LIMIT: usize = 1000;

/// What an endpoint answers when it cannot: a status and a reason, sent as
/// `{"error": reason}`.
#[derive(Debug)]
pub(super) struct Failure(pub(super) StatusCode, pub(super) String);

impl Failure {
    fn bad(reason: impl Into<String>) -> Failure {
        Failure(StatusCode::BAD_REQUEST, reason.into())
    }
}

impl From<Gone> for Failure {
    fn from(e: Gone) -> Failure {
        Failure(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

impl From<QueryRejection> for Failure {
    fn from(e: QueryRejection) -> Failure {
        Failure::bad(format!("bad query string: {}", e.body_text()))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        debug!("http: {} {}", self.0, self.1);
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// An endpoint's result.
pub(super) type Answer<T> = Result<Json<T>, Failure>;

/// The query parameters of one request, checked against those its endpoint
/// knows.
pub(super) struct Args(HashMap<String, String>);

impl Args {
    /// `params`, refusing any name not in `known`.
    pub(super) fn new(
        params: Result<Params<HashMap<String, String>>, QueryRejection>,
        known: &[&str],
    ) -> Result<Args, Failure> {
        let Params(params) = params?;
        if let Some(name) = params.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(Failure::bad(format!(
                "unknown parameter '{name}' (this endpoint takes: {})",
                known.join(", ")
            )));
        }
        Ok(Args(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// `limit`: a whole number from 1, capped at `max`; `default` if absent.
    fn limit(&self, default: usize, max: usize) -> Result<usize, Failure> {
        let Some(text) = self.get("limit") else {
            return Ok(default);
        };
        match text.parse::<u128>() {
            Ok(0) => Err(Failure::bad("limit must be at least 1")),
            Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX).min(max)),
            Err(_) => Err(Failure::bad(format!(
                "limit must be a whole number, not '{text}'"
            ))),
        }
    }

    /// Parameter `name` as a topic, normalized.
    fn topic(&self, name: &str) -> Result<Option<String>, Failure> {
        self.get(name)
            .map(|text| {
                Topic::parse_cow(Cow::Borrowed(text))
                    .map(|(topic, _)| topic.as_ref().to_owned())
                    .map_err(|(_, e)| Failure::bad(format!("{name} '{text}' is not a topic: {e}")))
            })
            .transpose()
    }
}

/// The server snapshot with the process's memory, read here.
#[derive(Debug, Serialize)]
pub(super) struct ServerReport {
    #[serde(flatten)]
    pub(super) server: ServerView,
    pub(super) memory: Memory,
}

/// The process's memory, from `/proc/self/status` (zero where it is not
/// available).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(super) struct Memory {
    /// Resident set size.
    pub(super) rss_bytes: u64,
    /// Peak resident set size.
    pub(super) peak_rss_bytes: u64,
}

impl Memory {
    pub(super) fn read() -> Memory {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        Memory {
            rss_bytes: field("VmRSS:"),
            peak_rss_bytes: field("VmHWM:"),
        }
    }
}

/// `/api/server`.
pub(super) async fn server(
    State(shared): State<Shared>,
    params: Result<Params<HashMap<String, String>>, QueryRejection>,
) -> Answer<ServerReport> {
    Args::new(params, &[])?;
    Ok(Json(server_report(&shared).await?))
}

pub(super) async fn server_report(shared: &Shared) -> Result<ServerReport, Gone> {
    let server = shared.monitor.ask(Query::Server).await?;
    Ok(ServerReport {
        server,
        memory: Memory::read(),
    })
}

/// `/api/connections?after=ID&limit=N`.
pub(super) async fn connections(
    State(shared): State<Shared>,
    params: Result<Params<HashMap<String, String>>, QueryRejection>,
) -> Answer<Value> {
    let args = Args::new(params, &["after", "limit"])?;
    let limit = args.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = args
        .get("after")
        .map(|a| {
            a.parse::<usize>()
                .map_err(|_| Failure::bad(format!("after must be a connection id, not '{a}'")))
        })
        .transpose()?;
    let page = shared
        .monitor
        .ask(|reply| Query::Connections {
            after,
            limit,
            reply,
        })
        .await?;
    Ok(Json(json!(page)))
}

/// `/api/topics?prefix=/a&after=/a/b&limit=N`.
pub(super) async fn topics(
    State(shared): State<Shared>,
    params: Result<Params<HashMap<String, String>>, QueryRejection>,
) -> Answer<TopicPage> {
    let args = Args::new(params, &["prefix", "after", "limit"])?;
    let limit = args.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let prefix = args.topic("prefix")?.unwrap_or_else(|| "/".to_owned());
    let after = args.topic("after")?;
    Ok(Json(topic_page(&shared, prefix, after, limit).await?))
}

/// A page of topics with their rates filled in.
pub(super) async fn topic_page(
    shared: &Shared,
    prefix: String,
    after: Option<String>,
    limit: usize,
) -> Result<TopicPage, Gone> {
    let mut page = shared
        .monitor
        .ask(|reply| Query::Topics {
            prefix,
            after,
            limit,
            reply,
        })
        .await?;
    if let Ok(mut rates) = shared.rates.lock() {
        rates.fill(&mut page.topics);
    }
    Ok(page)
}

/// `/api/topic?name=/a/b`: the topic's newest kept message.
pub(super) async fn topic(
    State(shared): State<Shared>,
    params: Result<Params<HashMap<String, String>>, QueryRejection>,
) -> Answer<Value> {
    let args = Args::new(params, &["name"])?;
    let name = args
        .topic("name")?
        .ok_or_else(|| Failure::bad("name is required: a topic"))?;
    let asked = name.clone();
    let found = shared
        .monitor
        .ask(|reply| Query::Topic { name, reply })
        .await?;
    let Some(message) = found else {
        return Err(Failure(StatusCode::NOT_FOUND, format!("no topic {asked}")));
    };
    let value = message
        .json
        .as_deref()
        .map(|text| serde_json::from_str::<Value>(text).unwrap_or_else(|_| json!(text)));
    Ok(Json(json!({
        "topic": message.topic,
        "seq": message.seq,
        "ts": message.ts,
        "value": value,
    })))
}

/// `/api/events?limit=N`: the newest slow-consumer and drop events.
pub(super) async fn events(
    State(shared): State<Shared>,
    params: Result<Params<HashMap<String, String>>, QueryRejection>,
) -> Answer<Value> {
    let args = Args::new(params, &["limit"])?;
    let limit = args.limit(EVENTS_KEPT, EVENTS_KEPT)?;
    let events = shared
        .monitor
        .ask(|reply| Query::Events { limit, reply })
        .await?;
    Ok(Json(json!(events)))
}

/// Any other path.
pub(super) async fn not_found(uri: Uri) -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        format!("no such path: {}", uri.path()),
    )
}
