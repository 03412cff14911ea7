//! The log's line formats: env_logger's text (the default), or one JSON
//! object per line (`--log-format json`) for log collectors.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// env_logger's text: time, level, module, message.
    #[default]
    Text,
    /// `{"ts_ms":..,"level":"INFO","target":"broker::reactor","msg":".."}`.
    Json,
}

/// Starts the logger in `format`, at `info` unless `RUST_LOG` says otherwise.
pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if format == LogFormat::Json {
        builder.format(|buf, record| {
            let ts_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let line = serde_json::json!({
                "ts_ms": ts_ms,
                "level": record.level().as_str(),
                "target": record.target(),
                "msg": record.args().to_string(),
            });
            writeln!(buf, "{line}")
        });
    }
    builder.init();
}
