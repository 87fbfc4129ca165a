//! The agent's configuration file: TOML, with `VTCQ_SECTION__KEY` environment overrides
//! (e.g. `VTCQ_GRAPH__TENANT_ID`), read with the `config` crate into raw sections and
//! validated into typed settings before anything starts. A bad config is exit code 78
//! (EX_CONFIG) with a message naming the key.

use std::path::Path;

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

/// Reads `path` plus the environment.
pub fn load_raw(path: &Path) -> Result<RawConfig, ConfigError> {
    if !path.is_file() {
        return Err(ConfigError(format!(
            "cannot read config {}: no such file",
            path.display()
        )));
    }
    let built = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("VTCQ")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true),
        )
        .build()
        .map_err(|e| ConfigError(format!("config {}: {e}", path.display())))?;
    built
        .try_deserialize()
        .map_err(|e| ConfigError(format!("config {}: {e}", path.display())))
}

/// Reads and validates the reporter's part of the configuration.
pub fn load_reporter(path: &Path) -> Result<ReporterSettings, ConfigError> {
    let raw = load_raw(path)?;
    ReporterSettings::from_sections(&raw.graph, &raw.spool, &raw.retry, &raw.sink)
        .map_err(|e| ConfigError(format!("config {}: {e}", path.display())))
}
