//! The reporter's configuration: raw sections as written in TOML (or `VTCQ_...` environment
//! overrides), and their validation into typed settings before anything starts. Every
//! error names the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use uuid::Uuid;

use crate::cloud::{ApiVersion, Cloud, Endpoints};
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::spool::SpoolLimits;
use crate::token::{CertificateCredential, Credential, JwtAlgorithm};

/// `[graph]`: where and as whom to post. Without `tenant_id` and `client_id` (and a
/// credential) records go to the `[sink]` instead.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSection {
    /// `global` (default), `usgov`, `dod`, `china` or `custom`.
    #[serde(default)]
    pub cloud: Option<Cloud>,
    /// Graph root URL, only with `cloud = "custom"`.
    pub graph_root: Option<String>,
    /// Login root URL, only with `cloud = "custom"`.
    pub login_root: Option<String>,
    /// `v1.0` (default) or `beta`.
    pub api_version: Option<ApiVersion>,
    /// The Entra ID tenant (GUID or domain).
    pub tenant_id: Option<String>,
    /// The application (client) id, a GUID.
    pub client_id: Option<String>,
    /// The client secret; meant for the environment (`VTCQ_GRAPH__CLIENT_SECRET`), prefer
    /// `client_secret_file`.
    pub client_secret: Option<String>,
    /// A file holding the client secret (e.g. a systemd credential).
    pub client_secret_file: Option<PathBuf>,
    /// PEM certificate of the application (may also hold the key).
    pub certificate_file: Option<PathBuf>,
    /// PEM private key of the certificate (PKCS#8 or PKCS#1).
    pub private_key_file: Option<PathBuf>,
    /// `ps256` (default, `x5t#S256`) or `rs256` (`x5t`).
    pub certificate_algorithm: Option<String>,
    /// `User-Agent` header (default `vtcq/<version>`).
    pub user_agent: Option<String>,
}

/// `[spool]`: the crash-safe queue of records not yet acknowledged by Graph.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolSection {
    /// Folder (default `/var/lib/vtcq/spool`).
    #[serde(default = "default_spool_dir")]
    pub dir: PathBuf,
    /// Size bound in bytes (default 256 MiB); the oldest records are dropped past it.
    #[serde(default = "default_spool_bytes")]
    pub max_bytes: u64,
    /// Age bound (default 7 days); older records are dropped.
    #[serde(with = "humantime_serde", default = "default_spool_age")]
    pub max_age: Duration,
}

impl Default for SpoolSection {
    fn default() -> Self {
        SpoolSection {
            dir: default_spool_dir(),
            max_bytes: default_spool_bytes(),
            max_age: default_spool_age(),
        }
    }
}

fn default_spool_dir() -> PathBuf {
    PathBuf::from("/var/lib/vtcq/spool")
}
fn default_spool_bytes() -> u64 {
    256 << 20
}
fn default_spool_age() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}

/// Where records go when no Graph credentials are configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// One JSON file per record in `sink.dir` (default).
    #[default]
    File,
    /// Standard output, one JSON document per line.
    Stdout,
}

/// `[sink]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSection {
    /// `file` (default) or `stdout`.
    #[serde(default)]
    pub kind: SinkKind,
    /// Folder of the file sink (default `/var/lib/vtcq/records`).
    #[serde(default = "default_sink_dir")]
    pub dir: PathBuf,
}

impl Default for SinkSection {
    fn default() -> Self {
        SinkSection {
            kind: SinkKind::File,
            dir: default_sink_dir(),
        }
    }
}

fn default_sink_dir() -> PathBuf {
    PathBuf::from("/var/lib/vtcq/records")
}

/// A configuration error: the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SettingsError {
    /// The key, e.g. `graph.client_id`.
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

fn err(key: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        key,
        message: message.into(),
    }
}

/// Validated Graph settings.
#[derive(Debug)]
pub struct GraphSettings {
    /// Where.
    pub endpoints: Endpoints,
    /// Tenant.
    pub tenant_id: String,
    /// Application id.
    pub client_id: String,
    /// Secret or certificate.
    pub credential: Credential,
}

/// Where records go.
#[derive(Debug)]
pub enum Destination {
    /// Microsoft Graph.
    Graph(Box<GraphSettings>),
    /// One JSON file per record in this folder.
    Files(PathBuf),
    /// Standard output.
    Stdout,
}

/// The reporter's validated settings.
#[derive(Debug)]
pub struct ReporterSettings {
    /// Where records go.
    pub destination: Destination,
    /// Spool folder.
    pub spool_dir: PathBuf,
    /// Spool bounds.
    pub spool_limits: SpoolLimits,
    /// Backoff bounds.
    pub retry: RetryPolicy,
    /// `User-Agent`.
    pub user_agent: String,
}

/// The default `User-Agent`.
pub fn default_user_agent() -> String {
    format!("vtcq/{}", env!("CARGO_PKG_VERSION"))
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn read_secret_file(key: &'static str, path: &Path) -> Result<Secret, SettingsError> {
    let secret = Secret::from_file(path)
        .map_err(|e| err(key, format!("cannot read {}: {e}", path.display())))?;
    if secret.is_empty() {
        return Err(err(key, format!("{} is empty", path.display())));
    }
    warn_if_readable_by_others(key, path);
    Ok(secret)
}

/// A secret file others can read is worth a warning (not an error: containers often
/// mount secrets 0644 inside a private filesystem).
pub fn warn_if_readable_by_others(key: &'static str, path: &Path) {
    if is_readable_by_others(path) {
        tracing::warn!(key, path = %path.display(), "secret file is readable by every user; chmod o-r it");
    }
}

/// True when `path` exists and every user may read it (the "other" read bit).
pub fn is_readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o004 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

impl ReporterSettings {
    /// Validates the raw sections (reads secret and certificate files).
    pub fn from_sections(
        graph: &GraphSection,
        spool: &SpoolSection,
        retry: &RetryPolicy,
        sink: &SinkSection,
    ) -> Result<ReporterSettings, SettingsError> {
        retry.validate().map_err(|m| err("retry", m))?;
        if spool.max_bytes == 0 {
            return Err(err("spool.max_bytes", "must be greater than zero"));
        }
        if spool.max_age.is_zero() {
            return Err(err("spool.max_age", "must be greater than zero"));
        }
        let user_agent = match non_empty(&graph.user_agent) {
            Some(ua) if ua.chars().all(|c| c.is_ascii_graphic() || c == ' ') => ua.to_owned(),
            Some(_) => return Err(err("graph.user_agent", "must be printable ASCII")),
            None => default_user_agent(),
        };
        let destination = Self::destination(graph, sink)?;
        Ok(ReporterSettings {
            destination,
            spool_dir: spool.dir.clone(),
            spool_limits: SpoolLimits {
                max_bytes: spool.max_bytes,
                max_age: spool.max_age,
            },
            retry: *retry,
            user_agent,
        })
    }

    fn destination(graph: &GraphSection, sink: &SinkSection) -> Result<Destination, SettingsError> {
        let tenant = non_empty(&graph.tenant_id);
        let client = non_empty(&graph.client_id);
        let has_credential = graph.client_secret.is_some()
            || graph.client_secret_file.is_some()
            || graph.certificate_file.is_some();
        if tenant.is_none() && client.is_none() && !has_credential {
            return Ok(match sink.kind {
                SinkKind::File => Destination::Files(sink.dir.clone()),
                SinkKind::Stdout => Destination::Stdout,
            });
        }
        let tenant = tenant.ok_or_else(|| {
            err(
                "graph.tenant_id",
                "missing (needed with graph.client_id and a credential)",
            )
        })?;
        if tenant.contains(['/', '?', '#', ' ']) {
            return Err(err(
                "graph.tenant_id",
                "must be a tenant GUID or domain name",
            ));
        }
        let client = client.ok_or_else(|| {
            err(
                "graph.client_id",
                "missing (needed with graph.tenant_id and a credential)",
            )
        })?;
        Uuid::parse_str(client)
            .map_err(|_| err("graph.client_id", "must be the application's GUID"))?;

        let cloud = graph.cloud.unwrap_or(Cloud::Global);
        let endpoints = Endpoints::resolve(
            cloud,
            graph.api_version.unwrap_or_default(),
            graph.graph_root.as_deref(),
            graph.login_root.as_deref(),
        )
        .map_err(|e| err("graph.cloud", e.to_string()))?;

        let given = [
            graph.client_secret.is_some(),
            graph.client_secret_file.is_some(),
            graph.certificate_file.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(err(
                "graph.client_secret",
                "give exactly one of graph.client_secret, graph.client_secret_file and graph.certificate_file",
            ));
        }
        if graph.private_key_file.is_some() && graph.certificate_file.is_none() {
            return Err(err(
                "graph.private_key_file",
                "needs graph.certificate_file",
            ));
        }
        if graph.certificate_algorithm.is_some() && graph.certificate_file.is_none() {
            return Err(err(
                "graph.certificate_algorithm",
                "needs graph.certificate_file",
            ));
        }
        let credential = if let Some(secret) = &graph.client_secret {
            if secret.is_empty() {
                return Err(err("graph.client_secret", "is empty"));
            }
            Credential::Secret(Secret::new(secret.clone()))
        } else if let Some(path) = &graph.client_secret_file {
            Credential::Secret(read_secret_file("graph.client_secret_file", path)?)
        } else if let Some(cert) = &graph.certificate_file {
            let algorithm = match graph
                .certificate_algorithm
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                None | Some("ps256") => JwtAlgorithm::Ps256,
                Some("rs256") => JwtAlgorithm::Rs256,
                Some(other) => {
                    return Err(err(
                        "graph.certificate_algorithm",
                        format!("{other:?} is not ps256 or rs256"),
                    ))
                }
            };
            let key = graph.private_key_file.as_deref().unwrap_or(cert);
            warn_if_readable_by_others("graph.private_key_file", key);
            let credential = CertificateCredential::from_pem_files(
                cert,
                graph.private_key_file.as_deref(),
                algorithm,
            )
            .map_err(|e| {
                err(
                    if graph.private_key_file.is_some() {
                        "graph.private_key_file"
                    } else {
                        "graph.certificate_file"
                    },
                    crate::errors::chain(&e),
                )
            })?;
            Credential::Certificate(credential)
        } else {
            return Err(err(
                "graph.client_secret_file",
                "no credential: give graph.client_secret_file (or VTCQ_GRAPH__CLIENT_SECRET) or graph.certificate_file",
            ));
        };
        Ok(Destination::Graph(Box::new(GraphSettings {
            endpoints,
            tenant_id: tenant.to_owned(),
            client_id: client.to_owned(),
            credential,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(f: impl FnOnce(&mut GraphSection)) -> Result<ReporterSettings, SettingsError> {
        let mut g = GraphSection::default();
        f(&mut g);
        ReporterSettings::from_sections(
            &g,
            &SpoolSection::default(),
            &RetryPolicy::default(),
            &SinkSection::default(),
        )
    }

    #[test]
    fn no_credentials_means_the_sink() {
        let s = graph(|_| {}).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(s.destination, Destination::Files(_)));
        assert_eq!(s.user_agent, default_user_agent());
    }

    #[test]
    fn secret_flow_validates() {
        let s = graph(|g| {
            g.tenant_id = Some("contoso.onmicrosoft.com".into());
            g.client_id = Some("11111111-2222-3333-4444-555555555555".into());
            g.client_secret = Some("s3cret".into());
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(s.destination, Destination::Graph(_)));
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn errors_name_the_key() {
        type Edit = Box<dyn FnOnce(&mut GraphSection)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "graph.tenant_id",
                Box::new(|g| g.client_id = Some("x".into())),
            ),
            (
                "graph.client_id",
                Box::new(|g| {
                    g.tenant_id = Some("t".into());
                    g.client_id = Some("not-a-guid".into());
                    g.client_secret = Some("s".into());
                }),
            ),
            (
                "graph.cloud",
                Box::new(|g| {
                    g.tenant_id = Some("t".into());
                    g.client_id = Some("11111111-2222-3333-4444-555555555555".into());
                    g.client_secret = Some("s".into());
                    g.cloud = Some(Cloud::China);
                }),
            ),
            (
                "graph.client_secret",
                Box::new(|g| {
                    g.tenant_id = Some("t".into());
                    g.client_id = Some("11111111-2222-3333-4444-555555555555".into());
                    g.client_secret = Some("s".into());
                    g.certificate_file = Some("/x.pem".into());
                }),
            ),
            (
                "graph.client_secret_file",
                Box::new(|g| {
                    g.tenant_id = Some("t".into());
                    g.client_id = Some("11111111-2222-3333-4444-555555555555".into());
                    g.client_secret_file = Some("/nonexistent/secret".into());
                }),
            ),
            (
                "graph.certificate_file",
                Box::new(|g| {
                    g.tenant_id = Some("t".into());
                    g.client_id = Some("11111111-2222-3333-4444-555555555555".into());
                    g.certificate_file = Some("/nonexistent/cert.pem".into());
                }),
            ),
        ];
        for (key, f) in cases {
            let e = graph(f).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.starts_with(key), "{key}: {e}");
        }
    }
}
