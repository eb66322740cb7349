//! Forwards a plugin's `tracing` events to the host's log sink.
//!
//! A `cdylib` carries its own copy of `tracing`'s global dispatcher, so events a plugin
//! emits never reach the host's subscriber on their own. At init the SDK installs, in
//! the plugin's copy, a subscriber that formats each event and hands it to the sink.
//! Panic messages take the same road instead of the plugin's own stderr hook.

use std::fmt::Write as _;

use abi_stable::std_types::RStr;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

use crate::abi::{LogLevelAbi, LogSinkBox};

/// Installs the bridge as this library's global subscriber. A second call is a no-op.
pub(crate) fn install(sink: LogSinkBox, max_level: LogLevelAbi) {
    let sink = std::sync::Arc::new(sink);
    let panic_sink = sink.clone();
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|location| format!(" at {}:{}", location.file(), location.line()));
        panic_sink.log(
            LogLevelAbi::Error,
            RStr::from("plugin"),
            RStr::from(format!("panic{}", location.unwrap_or_default()).as_str()),
        );
    }));
    let layer = SinkLayer {
        sink,
        max_level: to_level(max_level),
    };
    let _ = tracing::subscriber::set_global_default(Registry::default().with(layer));
}

fn to_level(level: LogLevelAbi) -> Level {
    match level {
        LogLevelAbi::Error => Level::ERROR,
        LogLevelAbi::Warn => Level::WARN,
        LogLevelAbi::Info => Level::INFO,
        LogLevelAbi::Debug => Level::DEBUG,
        LogLevelAbi::Trace => Level::TRACE,
    }
}

fn from_level(level: &Level) -> LogLevelAbi {
    match *level {
        Level::ERROR => LogLevelAbi::Error,
        Level::WARN => LogLevelAbi::Warn,
        Level::INFO => LogLevelAbi::Info,
        Level::DEBUG => LogLevelAbi::Debug,
        _ => LogLevelAbi::Trace,
    }
}

struct SinkLayer {
    sink: std::sync::Arc<LogSinkBox>,
    max_level: Level,
}

impl<S: Subscriber> Layer<S> for SinkLayer {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        // Level's ordering: more verbose is "greater".
        *metadata.level() <= self.max_level
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut text = MessageText::default();
        event.record(&mut text);
        let metadata = event.metadata();
        self.sink.log(
            from_level(metadata.level()),
            RStr::from(metadata.target()),
            RStr::from(text.0.as_str()),
        );
    }
}

/// The event's message followed by its fields as `key=value`.
#[derive(Default)]
struct MessageText(String);

impl Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}{fields}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value}{fields}");
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}
