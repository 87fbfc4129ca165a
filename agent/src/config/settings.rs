//! The raw sections validated into what `vtcq run` uses, one function per section. Every
//! refusal is a [`ConfigError::Invalid`] naming the key; `vtcq validate` runs exactly
//! this, so a file it accepts is one `run` accepts.
//!
//! Validation warns about what is unwise but valid: the config file holding a secret and
//! readable by every user, a secret file readable by others, the control API listening
//! beyond loopback without a bearer token.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vtcq_collector::analyzer::AnalyzerConfig;
use vtcq_collector::calls::LifecycleConfig;
use vtcq_livecap::CaptureConfig;
use vtcq_reporter::secret::Secret;
use vtcq_reporter::settings::ReporterSettings;
use vtcq_reporter::CloudService;

use super::{ConfigError, RawConfig};
use crate::api::{ApiConfig, Listen};

/// Everything `vtcq run` needs, validated.
#[derive(Debug)]
pub struct DaemonSettings {
    /// Destination, spool, retry (`[graph]`, `[spool]`, `[retry]`, `[sink]`).
    pub reporter: ReporterSettings,
    /// `[capture]`.
    pub capture: CaptureSettings,
    /// `[calls]`: the lifecycle (its link speed is the capture's, filled in at start).
    pub lifecycle: LifecycleConfig,
    /// `[calls]`: the analyzer, bounded by `calls.max_flows`.
    pub analyzer: AnalyzerConfig,
    /// `[api]`.
    pub api: ApiConfig,
    /// `[identity]`: the deployment fields sent with every record.
    pub cloud: CloudService,
    /// `daemon.shutdown_grace`.
    pub shutdown_grace: Duration,
    /// `[log]`.
    pub log: LogSettings,
}

/// `[capture]`, validated.
#[derive(Debug)]
pub struct CaptureSettings {
    /// Interface, port filter and ring.
    pub ring: CaptureConfig,
    /// The bot's addresses on the media leg (empty: calls match by local port alone).
    pub local_addresses: Vec<IpAddr>,
    /// `networkLinkSpeedInBytes` override; `None`: the interface's speed.
    pub link_speed_bytes: Option<u64>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per event.
    Json,
}

impl LogFormat {
    /// As written in `log.format`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// `[log]`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// `log.format`.
    pub format: LogFormat,
    /// `log.level`: a tracing filter that parses.
    pub filter: String,
}

impl DaemonSettings {
    /// Validates an already read configuration (reads the secret and certificate files it
    /// names). `path` names the file in errors, and is checked for being readable by
    /// every user while it holds a secret.
    pub fn from_raw(path: &Path, raw: &RawConfig) -> Result<DaemonSettings, ConfigError> {
        super::warn_if_secret_file_is_readable(path);
        let invalid = |key, message| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        let reporter = reporter(path, raw)?;
        let capture = capture(raw).map_err(|(key, message)| invalid(key, message))?;
        let (lifecycle, analyzer) = calls(raw).map_err(|(key, message)| invalid(key, message))?;
        let api = api(raw).map_err(|(key, message)| invalid(key, message))?;
        let log = LogSettings::from_raw(path, raw)?;
        let id = &raw.identity;
        Ok(DaemonSettings {
            reporter,
            capture,
            lifecycle,
            analyzer,
            api,
            cloud: CloudService {
                deployment_environment: id.cloud_service_deployment_environment.clone(),
                deployment_id: id.cloud_service_deployment_id.clone(),
                instance_name: id.cloud_service_instance_name.clone(),
                name: id.cloud_service_name.clone(),
            },
            shutdown_grace: raw.daemon.shutdown_grace,
            log,
        })
    }
}

impl LogSettings {
    /// `[log]` alone: the daemon applies it before it validates the rest, so that the
    /// rest's warnings are written the way the operator asked.
    pub fn from_raw(path: &Path, raw: &RawConfig) -> Result<LogSettings, ConfigError> {
        let invalid = |key, message| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        let format = match raw.log.format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "log.format",
                    format!("{other:?} is not text or json"),
                ))
            }
        };
        if tracing_subscriber::EnvFilter::try_new(&raw.log.level).is_err() {
            return Err(invalid(
                "log.level",
                format!("{:?} is not a tracing filter", raw.log.level),
            ));
        }
        Ok(LogSettings {
            format,
            filter: raw.log.level.clone(),
        })
    }
}

/// A key and what is wrong with its value.
type Refusal = (&'static str, String);

/// The reporter's sections, validated by the reporter (its errors name the key).
pub(super) fn reporter(path: &Path, raw: &RawConfig) -> Result<ReporterSettings, ConfigError> {
    ReporterSettings::from_sections(&raw.graph, &raw.spool, &raw.retry, &raw.sink).map_err(|e| {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            key: e.key,
            message: e.message,
        }
    })
}

fn capture(raw: &RawConfig) -> Result<CaptureSettings, Refusal> {
    let section = &raw.capture;
    let interface = section
        .interface
        .clone()
        .filter(|i| !i.trim().is_empty())
        .ok_or((
            "capture.interface",
            "missing: the interface that carries the VTC media leg".to_owned(),
        ))?;
    let mut ring = CaptureConfig::new(interface);
    ring.port_ranges = section
        .port_ranges
        .iter()
        .map(|text| parse_port_range(text).map_err(|m| ("capture.port_ranges", m)))
        .collect::<Result<_, _>>()?;
    if let Some(size) = section.ring_block_size {
        if size < 4096 || size % 4096 != 0 {
            return Err((
                "capture.ring_block_size",
                "must be a multiple of 4096".to_owned(),
            ));
        }
        ring.block_size = size;
    }
    if let Some(count) = section.ring_block_count {
        if count == 0 {
            return Err(("capture.ring_block_count", "must be at least 1".to_owned()));
        }
        ring.block_count = count;
    }
    Ok(CaptureSettings {
        ring,
        local_addresses: section.local_addresses.clone(),
        link_speed_bytes: section.link_speed_bytes,
    })
}

fn calls(raw: &RawConfig) -> Result<(LifecycleConfig, AnalyzerConfig), Refusal> {
    let calls = &raw.calls;
    for (key, value) in [
        ("calls.idle_timeout", calls.idle_timeout),
        ("calls.max_duration", calls.max_duration),
        ("calls.ended_retention", calls.ended_retention),
        ("daemon.shutdown_grace", raw.daemon.shutdown_grace),
    ] {
        if value.is_zero() {
            return Err((key, "must be greater than zero".to_owned()));
        }
    }
    for (key, value) in [
        ("calls.max_active_calls", calls.max_active_calls),
        ("calls.max_flows", calls.max_flows),
    ] {
        if value == 0 {
            return Err((key, "must be at least 1".to_owned()));
        }
    }
    let lifecycle = LifecycleConfig {
        idle_timeout: calls.idle_timeout,
        max_duration: calls.max_duration,
        ended_retention: calls.ended_retention,
        max_unregistered_flows: calls.max_unregistered_flows,
        max_active_calls: calls.max_active_calls,
        link_speed_bytes_per_sec: None,
    };
    let analyzer = AnalyzerConfig {
        max_flows: calls.max_flows,
        ..AnalyzerConfig::default()
    };
    Ok((lifecycle, analyzer))
}

fn api(raw: &RawConfig) -> Result<ApiConfig, Refusal> {
    let section = &raw.api;
    let listen = match section.listen.strip_prefix("unix:") {
        Some(socket) => Listen::Unix(PathBuf::from(socket)),
        None => Listen::Tcp(section.listen.parse::<SocketAddr>().map_err(|_| {
            (
                "api.listen",
                format!("{:?} is not IP:PORT or unix:/path", section.listen),
            )
        })?),
    };
    let bearer_token = match &section.bearer_token_file {
        Some(file) => Some(bearer_token(file)?),
        None => None,
    };
    if let (Listen::Tcp(addr), None) = (&listen, &bearer_token) {
        if !addr.ip().is_loopback() {
            tracing::warn!(
                listen = %addr,
                "the control API listens beyond loopback without api.bearer_token_file: anyone who can reach it can register and end calls"
            );
        }
    }
    if section.max_body_bytes < 1024 {
        return Err(("api.max_body_bytes", "must be at least 1024".to_owned()));
    }
    Ok(ApiConfig {
        listen,
        bearer_token,
        max_body_bytes: section.max_body_bytes,
        ..ApiConfig::default()
    })
}

fn bearer_token(file: &Path) -> Result<Secret, Refusal> {
    const KEY: &str = "api.bearer_token_file";
    let token = Secret::from_file(file)
        .map_err(|e| (KEY, format!("cannot read {}: {e}", file.display())))?;
    if token.is_empty() {
        return Err((KEY, format!("{} is empty", file.display())));
    }
    vtcq_reporter::settings::warn_if_readable_by_others(KEY, file);
    Ok(token)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Result<DaemonSettings, ConfigError> {
        let origin = Path::new("t.toml");
        let raw = super::super::parse_raw(text, Default::default(), origin)?;
        DaemonSettings::from_raw(origin, &raw)
    }

    #[test]
    fn defaults_are_the_components_own() {
        let s = settings("[capture]\ninterface = \"lo\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.lifecycle.idle_timeout,
            LifecycleConfig::default().idle_timeout
        );
        assert_eq!(
            s.lifecycle.max_active_calls,
            LifecycleConfig::default().max_active_calls
        );
        assert_eq!(s.analyzer.max_flows, AnalyzerConfig::default().max_flows);
        assert_eq!(s.capture.ring.block_size, CaptureConfig::DEFAULT_BLOCK_SIZE);
        assert_eq!(s.api, ApiConfig::default());
        assert_eq!(s.shutdown_grace, super::super::DEFAULT_SHUTDOWN_GRACE);
        assert_eq!(
            s.log,
            LogSettings {
                format: LogFormat::Text,
                filter: "info".into()
            }
        );
    }

    #[test]
    fn refusals_name_the_file_and_the_key() {
        for (text, key) in [
            ("[capture]\ninterface = \" \"\n", "capture.interface"),
            (
                "[capture]\ninterface = \"lo\"\nring_block_size = 5000\n",
                "capture.ring_block_size",
            ),
            (
                "[capture]\ninterface = \"lo\"\nring_block_count = 0\n",
                "capture.ring_block_count",
            ),
            (
                "[capture]\ninterface = \"lo\"\n[calls]\nmax_flows = 0\n",
                "calls.max_flows",
            ),
            (
                "[capture]\ninterface = \"lo\"\n[daemon]\nshutdown_grace = \"0s\"\n",
                "daemon.shutdown_grace",
            ),
            (
                "[capture]\ninterface = \"lo\"\n[api]\nmax_body_bytes = 10\n",
                "api.max_body_bytes",
            ),
            (
                "[capture]\ninterface = \"lo\"\n[log]\nlevel = \"=\"\n",
                "log.level",
            ),
            (
                "[capture]\ninterface = \"lo\"\n[spool]\nmax_age = \"0s\"\n",
                "spool.max_age",
            ),
        ] {
            let e = settings(text)
                .err()
                .unwrap_or_else(|| panic!("{key} accepted"));
            assert_eq!(e.key(), Some(key), "{e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("config t.toml: {key}: ")),
                "{e}"
            );
        }
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("5004"), Ok(5004..=5004));
        assert_eq!(parse_port_range(" 10000 - 20000 "), Ok(10000..=20000));
        assert!(parse_port_range("9-1").is_err());
        assert!(parse_port_range("0").is_err());
        assert!(parse_port_range("70000").is_err());
    }
}
