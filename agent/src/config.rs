//! The agent's configuration file: TOML, with `VTCQ_SECTION__KEY` environment overrides
//! (e.g. `VTCQ_GRAPH__TENANT_ID`), read with the `config` crate into raw sections and
//! validated into typed settings before anything starts. A bad config is exit code 78
//! (EX_CONFIG) with a message naming the key.

use std::path::Path;

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use vtcq_reporter::retry::RetryPolicy;
use vtcq_reporter::settings::{GraphSection, ReporterSettings, SinkSection, SpoolSection};

/// Exit code of a configuration error (sysexits.h EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;

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
    /// Ring: block size in bytes (default 256 KiB) and number of blocks (default 32).
    pub ring_block_size: Option<u32>,
    /// Ring blocks.
    pub ring_block_count: Option<u32>,
}

/// `[calls]`: call lifecycle.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsSection {
    /// A call with no packet for this long ends.
    #[serde(with = "humantime_serde", default = "d30s")]
    pub idle_timeout: Duration,
    /// A call ends at this age at the latest.
    #[serde(with = "humantime_serde", default = "d12h")]
    pub max_duration: Duration,
    /// How long an ended call answers a repeated DELETE with its record.
    #[serde(with = "humantime_serde", default = "d10m")]
    pub ended_retention: Duration,
    /// Most unregistered flows kept at once.
    #[serde(default = "d4096")]
    pub max_unregistered_flows: usize,
    /// Most calls registered at once; past it a registration is answered 503.
    #[serde(default = "d1024")]
    pub max_active_calls: usize,
    /// Most flows (endpoint pairs) measured at once, registered or not. Past it, a new
    /// flow evicts the oldest one that never carried valid RTP (a flood's), else it is
    /// refused; both are counted in /metrics.
    #[serde(default = "d8192")]
    pub max_flows: usize,
}

impl Default for CallsSection {
    fn default() -> Self {
        CallsSection {
            idle_timeout: d30s(),
            max_duration: d12h(),
            ended_retention: d10m(),
            max_unregistered_flows: d4096(),
            max_active_calls: d1024(),
            max_flows: d8192(),
        }
    }
}

fn d30s() -> Duration {
    Duration::from_secs(30)
}
fn d12h() -> Duration {
    Duration::from_secs(12 * 3600)
}
fn d10m() -> Duration {
    Duration::from_secs(600)
}
fn d4096() -> usize {
    4096
}
fn d1024() -> usize {
    1024
}
fn d8192() -> usize {
    8192
}

/// `[api]`: the bot's control API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// `127.0.0.1:9477` (default), any `IP:PORT`, or `unix:/path/to.sock`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// File holding the bearer token the bot must send (none: no token required).
    pub bearer_token_file: Option<PathBuf>,
    /// Largest request body (default 65536).
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            listen: default_listen(),
            bearer_token_file: None,
            max_body_bytes: default_body(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:9477".to_owned()
}
fn default_body() -> usize {
    65_536
}

/// `[log]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `text` (default) or `json`.
    #[serde(default = "default_log_format")]
    pub format: String,
    /// A tracing filter, e.g. `info` (default) or `vtcq=debug,info`; VTCQ_LOG overrides.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

fn default_log_format() -> String {
    "text".to_owned()
}
fn default_log_level() -> String {
    "info".to_owned()
}

/// `[daemon]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonSection {
    /// Time allowed after SIGTERM to end calls, spool them and try to deliver (default 10 s).
    #[serde(with = "humantime_serde", default = "d10s")]
    pub shutdown_grace: Duration,
}

impl Default for DaemonSection {
    fn default() -> Self {
        DaemonSection {
            shutdown_grace: d10s(),
        }
    }
}

fn d10s() -> Duration {
    Duration::from_secs(10)
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

/// Parses `"10000-20000"` or `"5004"`.
pub fn parse_port_range(text: &str) -> Result<RangeInclusive<u16>, String> {
    let parse = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{text:?} is not a port or a port range like 10000-20000"))
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if a > b {
                return Err(format!("{text:?}: the range is backwards"));
            }
            Ok(a..=b)
        }
        None => {
            let p = parse(text)?;
            Ok(p..=p)
        }
    }
}

/// A configuration error, already phrased for the operator.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

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
        return Err(ConfigError(format!(
            "cannot read config {}: no such file",
            path.display()
        )));
    }
    warn_if_secret_file_is_readable(path);
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
    let built = config::Config::builder()
        .add_source(file)
        .add_source(
            config::Environment::with_prefix("VTCQ")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        )
        .build()
        .map_err(|e| ConfigError(format!("config {}: {e}", origin.display())))?;
    built
        .try_deserialize()
        .map_err(|e| ConfigError(format!("config {}: {e}", origin.display())))
}

/// A config file that holds a secret itself (`graph.client_secret`) must not be readable by
/// every user. A warning, like the secret files' (see `warn_if_readable_by_others`).
fn warn_if_secret_file_is_readable(path: &Path) {
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

/// Reads and validates the reporter's part of the configuration.
pub fn load_reporter(path: &Path) -> Result<ReporterSettings, ConfigError> {
    let raw = load_raw(path)?;
    ReporterSettings::from_sections(&raw.graph, &raw.spool, &raw.retry, &raw.sink)
        .map_err(|e| ConfigError(format!("config {}: {e}", path.display())))
}
