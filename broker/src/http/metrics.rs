//! `/metrics`: the Prometheus text exposition (OpenMetrics), written by
//! `prometheus-client` from one snapshot per scrape. Labels are doors and
//! the configured prefixes only, so the number of series is bounded.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::api::{Failure, Memory};
use super::Shared;
use crate::monitor::view::MetricsView;
use crate::monitor::{Query, Traffic};

/// The exposition's content type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, String)>;

/// `/metrics`.
pub(super) async fn metrics(State(shared): State<Shared>) -> Result<Response, Failure> {
    let view = shared.monitor.ask(Query::Metrics).await?;
    let mut text = String::new();
    encode(&mut text, &registry(&view, Memory::read())).map_err(|e| {
        Failure(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the metrics: {e}"),
        )
    })?;
    Ok(([(CONTENT_TYPE, OPENMETRICS)], text).into_response())
}

/// A counter family over `labels`, one series per `(labels, value)`.
fn counters(
    registry: &mut Registry,
    name: &str,
    help: &str,
    series: impl Iterator<Item = (Labels, u64)>,
) {
    let family = Family::<Labels, Counter>::default();
    for (labels, value) in series {
        family.get_or_create(&labels).inc_by(value);
    }
    registry.register(name, help, family);
}

/// A gauge family over `labels`.
fn gauges(
    registry: &mut Registry,
    name: &str,
    help: &str,
    series: impl Iterator<Item = (Labels, i64)>,
) {
    let family = Family::<Labels, Gauge>::default();
    for (labels, value) in series {
        family.get_or_create(&labels).set(value);
    }
    registry.register(name, help, family);
}

/// A gauge with no labels.
fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g = Gauge::<i64>::default();
    g.set(value);
    registry.register(name, help, g);
}

/// A number as a gauge's value, saturating.
fn int(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

fn registry(view: &MetricsView, memory: Memory) -> Registry {
    let mut r = Registry::default();
    let server = &view.server;
    let per_door = |f: fn(&Traffic) -> u64| {
        server
            .doors
            .iter()
            .map(move |d| (vec![("door", d.door.to_owned())], f(&d.traffic)))
    };
    counters(
        &mut r,
        "broker_messages_in",
        "Messages published, per door",
        per_door(|t| t.msgs_in),
    );
    counters(
        &mut r,
        "broker_messages_out",
        "Deliveries queued to clients, per door",
        per_door(|t| t.msgs_out),
    );
    counters(
        &mut r,
        "broker_bytes_in",
        "Bytes read from clients, per door",
        per_door(|t| t.bytes_in),
    );
    counters(
        &mut r,
        "broker_bytes_out",
        "Bytes written to clients, per door",
        per_door(|t| t.bytes_out),
    );
    counters(
        &mut r,
        "broker_deliveries_dropped",
        "Deliveries dropped under slow policy drop, per door",
        per_door(|t| t.dropped),
    );
    counters(
        &mut r,
        "broker_slow_consumers_closed",
        "Connections closed as slow consumers, per door",
        per_door(|t| t.slow_closed),
    );
    gauges(
        &mut r,
        "broker_connections",
        "Connections open, per door.",
        server
            .doors
            .iter()
            .map(|d| (vec![("door", d.door.to_owned())], int(d.connections))),
    );
    gauge(&mut r, "broker_topics", "Topics held", int(server.topics));
    gauge(
        &mut r,
        "broker_subscriptions",
        "Subscriptions held",
        int(server.subscriptions),
    );
    gauge(
        &mut r,
        "broker_kept_bytes",
        "Bytes of kept messages",
        int(server.kept_bytes),
    );
    gauge(
        &mut r,
        "broker_resident_memory_bytes",
        "Resident set size",
        int(memory.rss_bytes),
    );
    gauge(
        &mut r,
        "broker_uptime_seconds",
        "Seconds since the start",
        int(server.uptime_s as u64),
    );
    let events = Counter::<u64>::default();
    events.inc_by(server.events);
    r.register(
        "broker_slow_events",
        "Slow-consumer and drop events",
        events,
    );
    let per_prefix = |f: fn(&crate::monitor::view::PrefixView) -> u64| {
        view.prefixes
            .iter()
            .map(move |p| (vec![("prefix", p.prefix.clone())], f(p)))
    };
    counters(
        &mut r,
        "broker_prefix_messages",
        "Messages published under a configured prefix (sum of its topics' numbers)",
        per_prefix(|p| p.messages),
    );
    gauges(
        &mut r,
        "broker_prefix_topics",
        "Topics under a configured prefix",
        per_prefix(|p| p.topics as u64).map(|(l, v)| (l, int(v))),
    );
    gauges(
        &mut r,
        "broker_prefix_retained_bytes",
        "Bytes of retained messages under a configured prefix",
        per_prefix(|p| p.retained_bytes as u64).map(|(l, v)| (l, int(v))),
    );
    gauges(
        &mut r,
        "broker_prefix_subscribers",
        "Subscriptions a message on a configured prefix would match",
        per_prefix(|p| p.subscribers as u64).map(|(l, v)| (l, int(v))),
    );
    r
}
