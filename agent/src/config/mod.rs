//! The agent's configuration file: TOML, with `VTCQ_SECTION__KEY` environment overrides
//! (e.g. `VTCQ_GRAPH__TENANT_ID`), read with the `config` crate into the raw sections
//! below, then validated into typed settings ([`DaemonSettings`]) before anything starts.
//! A bad config is exit code 78 (EX_CONFIG) with a message naming the file and the key.
//!
//! Defaults are written once, where the thing they configure lives: the call lifecycle's
//! and the flow bound's in `vtcq-collector`, the ring's in `vtcq-livecap`, the control
//! API's in [`crate::api`], the reporter's sections in `vtcq-reporter`. The raw sections
//! take them from there; `deploy/config/vtcq.example.toml` documents them.
//!
//! Validation warns about what is unwise but valid (a config file holding a secret
//! readable by every user, and see `settings.rs`). `main` starts logging before the file
//! is read, so whatever warns reaches stderr; the daemon applies `[log]` before it
//! validates the rest, so the warnings come in the format the operator chose.

mod settings;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use vtcq_collector::analyzer::DEFAULT_MAX_FLOWS;
use vtcq_collector::calls::LifecycleConfig;
use vtcq_reporter::retry::RetryPolicy;
use vtcq_reporter::settings::{GraphSection, ReporterSettings, SinkSection, SpoolSection};

pub use settings::{CaptureSettings, DaemonSettings, LogFormat, LogSettings};

/// Exit code of a configuration error (sysexits.h EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;

/// Default of `log.level`: also the daemon's filter before its configuration is read.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// Default of `daemon.shutdown_grace`.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The raw file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[graph]`.
    #[serde(default)]
    pub graph: GraphSection,
    /// `[spool]`.
    #[serde(default)]
    pub spool: SpoolSection,
    /// `[retry]`.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// `[sink]`.
    #[serde(default)]
    pub sink: SinkSection,
    /// `[capture]`.
    #[serde(default)]
    pub capture: CaptureSection,
    /// `[calls]`.
    #[serde(default)]
    pub calls: CallsSection,
    /// `[api]`.
    #[serde(default)]
    pub api: ApiSection,
    /// `[log]`.
    #[serde(default)]
    pub log: LogSection,
    /// `[daemon]`.
    #[serde(default)]
    pub daemon: DaemonSection,
    /// `[identity]`: optional deployment fields sent with every record.
    #[serde(default)]
    pub identity: IdentitySection,
}

/// `[capture]`: where the VTC media leg is captured.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSection {
    /// Interface to capture on (required by `vtcq run`).
    pub interface: Option<String>,
    /// The bot's addresses on that leg; empty = calls are matched by local port alone.
    #[serde(default)]
    pub local_addresses: Vec<IpAddr>,
    /// UDP port ranges passed by the kernel filter, e.g. ["10000-20000"]; empty = all UDP.
    #[serde(default)]
    pub port_ranges: Vec<String>,
    /// Link speed in bytes per second for `networkLinkSpeedInBytes` (default: the
    /// interface's /sys/class/net/IF/speed).
    pub link_speed_bytes: Option<u64>,
    /// Ring: block size in bytes (default: `vtcq_livecap::CaptureConfig::DEFAULT_BLOCK_SIZE`).
    pub ring_block_size: Option<u32>,
    /// Ring blocks (default: `vtcq_livecap::CaptureConfig::DEFAULT_BLOCK_COUNT`).
    pub ring_block_count: Option<u32>,
}

/// `[calls]`: call lifecycle. Defaults: the collector's [`LifecycleConfig`] and
/// [`DEFAULT_MAX_FLOWS`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallsSection {
    /// A call with no packet for this long ends.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A call ends at this age at the latest.
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    /// How long an ended call answers a repeated DELETE with its record.
    #[serde(with = "humantime_serde")]
    pub ended_retention: Duration,
    /// Most unregistered flows kept at once.
    pub max_unregistered_flows: usize,
    /// Most calls registered at once; past it a registration is answered 503.
    pub max_active_calls: usize,
    /// Most flows (endpoint pairs) measured at once, registered or not. Past it, a new
    /// flow evicts the oldest one that never carried valid RTP (a flood's), else it is
    /// refused; both are counted in /metrics.
    pub max_flows: usize,
}

impl Default for CallsSection {
    fn default() -> Self {
        let lifecycle = LifecycleConfig::default();
        CallsSection {
            idle_timeout: lifecycle.idle_timeout,
            max_duration: lifecycle.max_duration,
            ended_retention: lifecycle.ended_retention,
            max_unregistered_flows: lifecycle.max_unregistered_flows,
            max_active_calls: lifecycle.max_active_calls,
            max_flows: DEFAULT_MAX_FLOWS,
        }
    }
}

/// `[api]`: the bot's control API. Defaults: [`crate::api::ApiConfig`]'s.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSection {
    /// `127.0.0.1:9477` (default), any `IP:PORT`, or `unix:/path/to.sock`.
    pub listen: String,
    /// File holding the bearer token the bot must send (none: no token required).
    pub bearer_token_file: Option<PathBuf>,
    /// Largest request body.
    pub max_body_bytes: usize,
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), crate::api::DEFAULT_PORT)
                .to_string(),
            bearer_token_file: None,
            max_body_bytes: crate::api::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// `[log]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `text` (default) or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` (default) or `vtcq=debug,info`; VTCQ_LOG overrides.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: LogFormat::Text.as_str().to_owned(),
            level: DEFAULT_LOG_FILTER.to_owned(),
        }
    }
}

/// `[daemon]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonSection {
    /// Time allowed after SIGTERM to end calls, spool them and try to deliver.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for DaemonSection {
    fn default() -> Self {
        DaemonSection {
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// `[identity]`: the CVI service's deployment fields, sent with every record when set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    /// `cloudServiceDeploymentEnvironment`.
    pub cloud_service_deployment_environment: Option<String>,
    /// `cloudServiceDeploymentId`.
    pub cloud_service_deployment_id: Option<String>,
    /// `cloudServiceInstanceName`.
    pub cloud_service_instance_name: Option<String>,
    /// `cloudServiceName`.
    pub cloud_service_name: Option<String>,
}

/// Why a configuration cannot be used: the file, and the key when one is to blame.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not exist (or is not a file).
    #[error("cannot read config {}: no such file", path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file (or the environment) is not TOML of the configuration's shape: a syntax
    /// error, an unknown key, a value of the wrong type. The `config` crate's reason,
    /// which names the key, is the source.
    #[error("config {}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: config::ConfigError,
    },
    /// A value the daemon cannot run with.
    #[error("config {}: {key}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, e.g. `capture.interface`.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// The key to blame, when there is one.
    pub fn key(&self) -> Option<&'static str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::NotFound { .. } | ConfigError::Parse { .. } => None,
        }
    }
}

/// The `VTCQ_SECTION__KEY` variables only: other `VTCQ_*` variables (such as `VTCQ_LOG`,
/// the log filter) are not configuration keys and must not be read as such.
fn section_variables() -> config::Map<String, String> {
    std::env::vars()
        .filter(|(name, _)| {
            name.strip_prefix("VTCQ_")
                .is_some_and(|rest| rest.contains("__"))
        })
        .collect()
}

/// Reads `path` plus the environment.
pub fn load_raw(path: &Path) -> Result<RawConfig, ConfigError> {
    if !path.is_file() {
        return Err(ConfigError::NotFound {
            path: path.to_path_buf(),
        });
    }
    build_raw(
        config::File::from(path).format(config::FileFormat::Toml),
        section_variables(),
        path,
    )
}

/// Parses `text` as the configuration file with `env` as the `VTCQ_SECTION__KEY`
/// variables, exactly as [`load_raw`] does with a file and the process environment;
/// `origin` only names the file in errors. For the fuzz targets and tests.
pub fn parse_raw(
    text: &str,
    env: config::Map<String, String>,
    origin: &Path,
) -> Result<RawConfig, ConfigError> {
    build_raw(
        config::File::from_str(text, config::FileFormat::Toml),
        env,
        origin,
    )
}

fn build_raw(
    file: impl config::Source + Send + Sync + 'static,
    env: config::Map<String, String>,
    origin: &Path,
) -> Result<RawConfig, ConfigError> {
    let parse_error = |source| ConfigError::Parse {
        path: origin.to_path_buf(),
        source,
    };
    config::Config::builder()
        .add_source(file)
        .add_source(
            config::Environment::with_prefix("VTCQ")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        )
        .build()
        .map_err(parse_error)?
        .try_deserialize()
        .map_err(parse_error)
}

/// A config file that holds a secret itself (`graph.client_secret`) must not be readable by
/// every user. A warning, like the secret files' (see `warn_if_readable_by_others`).
pub(crate) fn warn_if_secret_file_is_readable(path: &Path) {
    // The merged configuration cannot tell the file's secret from the environment's, so
    // the file is read on its own; only when others can read it, which is rare.
    if !vtcq_reporter::settings::is_readable_by_others(path) {
        return;
    }
    let holds_secret = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .build()
        .is_ok_and(|file| file.get_string("graph.client_secret").is_ok());
    if holds_secret {
        tracing::warn!(
            path = %path.display(),
            "the config file holds graph.client_secret and is readable by every user; chmod o-r it, or move the secret to graph.client_secret_file"
        );
    }
}

/// Reads and validates the whole configuration of `vtcq run` (reads the secret and
/// certificate files it names).
pub fn load(path: &Path) -> Result<DaemonSettings, ConfigError> {
    DaemonSettings::from_raw(path, &load_raw(path)?)
}

/// Reads and validates the reporter's part of the configuration (`vtcq post`, `vtcq spool`).
pub fn load_reporter(path: &Path) -> Result<ReporterSettings, ConfigError> {
    let raw = load_raw(path)?;
    warn_if_secret_file_is_readable(path);
    settings::reporter(path, &raw)
}
