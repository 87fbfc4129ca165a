//! Logging, started first thing in `main`, before any configuration is read: a warning
//! raised while loading the configuration (a secret readable by every user, the control
//! API open beyond loopback without a token) is an event like any other and reaches
//! stderr, which under systemd is the journal.
//!
//! The filter comes from `VTCQ_LOG`, else `-v`/`-vv`, else the command's default. The
//! daemon then re-configures the subscriber from `[log]` once it has read it
//! ([`Logging::apply`]): the format (`text` or `json`) and, unless `VTCQ_LOG` or `-v` said
//! otherwise, the filter. Both live behind `tracing_subscriber::reload` layers, so the one
//! global subscriber is set once and changed in place.

use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Layer, Registry};

use crate::config::{LogFormat, LogSettings};

/// The environment variable that overrides every other filter.
pub const FILTER_VARIABLE: &str = "VTCQ_LOG";

/// How lines look before (and, for one-shot commands, instead of) `[log]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// One-shot commands: the message and its fields, no time, no target.
    Terse,
    /// The daemon: time and target on every line (text until `[log]` says otherwise).
    Daemon,
}

type FilterLayer = reload::Layer<EnvFilter, Registry>;
type WithFilter = Layered<FilterLayer, Registry>;
type FormatLayer = Box<dyn Layer<WithFilter> + Send + Sync>;

/// The process's logging, with the handles to re-configure it.
pub struct Logging {
    filter: reload::Handle<EnvFilter, Registry>,
    format: reload::Handle<FormatLayer, WithFilter>,
    style: Style,
    /// The filter was set from `VTCQ_LOG` or `-v`, which `[log]` does not override.
    filter_from_command_line: bool,
}

impl std::fmt::Debug for Logging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logging")
            .field("style", &self.style)
            .field("filter_from_command_line", &self.filter_from_command_line)
            .finish_non_exhaustive()
    }
}

/// `[log]` could not be applied (the subscriber is gone: never in a running process).
#[derive(Debug, thiserror::Error)]
#[error("cannot re-configure logging")]
pub struct ReloadError(#[source] reload::Error);

impl Logging {
    /// Installs the global subscriber, writing to stderr. `default_filter` applies
    /// without `VTCQ_LOG` and without `-v` (`verbose` counts them: 1 info, 2+ debug).
    /// Only the first call in a process installs anything (tests may call it again).
    pub fn init(verbose: u8, default_filter: &str, style: Style) -> Logging {
        let (filter, filter_from_command_line) = initial_filter(verbose, default_filter);
        let (filter, filter_handle) = reload::Layer::new(filter);
        let (format, format_handle) = reload::Layer::new(format_layer(LogFormat::Text, style));
        // A second subscriber in the same process (a test) is refused, harmlessly.
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(format)
            .try_init();
        Logging {
            filter: filter_handle,
            format: format_handle,
            style,
            filter_from_command_line,
        }
    }

    /// Applies the daemon's `[log]`: its format, and its filter unless `VTCQ_LOG` or `-v`
    /// chose one (they win over the file).
    pub fn apply(&self, settings: &LogSettings) -> Result<(), ReloadError> {
        if !self.filter_from_command_line {
            // Validation parsed it already; a filter that fails here keeps the current one.
            if let Ok(filter) = EnvFilter::try_new(&settings.filter) {
                self.filter.reload(filter).map_err(ReloadError)?;
            }
        }
        self.format
            .reload(format_layer(settings.format, self.style))
            .map_err(ReloadError)
    }
}

/// The filter before any configuration: `VTCQ_LOG`, else `-v`, else the default; and
/// whether it came from the command line (environment or flags).
fn initial_filter(verbose: u8, default_filter: &str) -> (EnvFilter, bool) {
    if let Ok(filter) = EnvFilter::try_from_env(FILTER_VARIABLE) {
        return (filter, true);
    }
    match verbose {
        0 => (EnvFilter::new(default_filter), false),
        1 => (EnvFilter::new("info"), true),
        _ => (EnvFilter::new("debug"), true),
    }
}

fn format_layer(format: LogFormat, style: Style) -> FormatLayer {
    let layer = fmt::layer().with_writer(std::io::stderr);
    match (format, style) {
        (LogFormat::Json, _) => layer.json().boxed(),
        (LogFormat::Text, Style::Daemon) => layer.boxed(),
        (LogFormat::Text, Style::Terse) => layer.with_target(false).without_time().boxed(),
    }
}
