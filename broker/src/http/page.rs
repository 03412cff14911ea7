//! The live web view: one HTML page, its script and style embedded in the
//! binary (no build step), and `/api/stream`, the server-sent events that
//! update it once a second.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures::Stream;
use serde_json::json;

use super::api::{server_report, topic_page, MAX_LIMIT};
use super::Shared;
use crate::monitor::Query;

/// How often the stream sends a snapshot.
const TICK: Duration = Duration::from_secs(1);
/// Connections a stream snapshot lists.
const STREAM_CONNECTIONS: usize = 200;

/// `/`.
pub(super) async fn index() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("page/index.html"),
    )
}

/// `/app.js`.
pub(super) async fn script() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("page/app.js"),
    )
}

/// `/style.css`.
pub(super) async fn style() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("page/style.css"),
    )
}

/// `/api/stream`: a snapshot event (server, topics from `/`, connections)
/// at once, then every [`TICK`]; it ends when the broker stops.
pub(super) async fn stream(
    State(shared): State<Shared>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let ticks = futures::stream::unfold((shared, true), |(shared, first)| async move {
        if !first {
            tokio::time::sleep(TICK).await;
        }
        let snapshot = snapshot(&shared).await?;
        Some((
            Ok(Event::default().event("snapshot").data(snapshot)),
            (shared, false),
        ))
    });
    Sse::new(ticks).keep_alive(KeepAlive::default())
}

/// One snapshot as JSON text, `None` once the broker is gone.
async fn snapshot(shared: &Shared) -> Option<String> {
    let server = server_report(shared).await.ok()?;
    let topics = topic_page(shared, "/".to_owned(), None, MAX_LIMIT)
        .await
        .ok()?;
    let connections = shared
        .monitor
        .ask(|reply| Query::Connections {
            after: None,
            limit: STREAM_CONNECTIONS,
            reply,
        })
        .await
        .ok()?;
    Some(
        json!({
            "server": server,
            "topics": topics,
            "connections": connections,
        })
        .to_string(),
    )
}
