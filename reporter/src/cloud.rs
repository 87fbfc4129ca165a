//! National clouds and API versions: where Graph and its token endpoint are, and whether
//! Graph offers `logTeleconferenceDeviceQuality` there.
//!
//! Availability (`../shared/graph/logTeleconferenceDeviceQuality.reference.md`): v1.0 is
//! available in the global cloud, US Government L4 and L5 (DoD), not in China (21Vianet);
//! beta only in the global cloud (the beta page is global-only, and beta-Fairfax's CSDL
//! lacks the action).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Microsoft cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// The global service: graph.microsoft.com.
    Global,
    /// US Government L4 (GCC High): graph.microsoft.us.
    Usgov,
    /// US Government L5 (DoD): dod-graph.microsoft.us.
    Dod,
    /// China, operated by 21Vianet: microsoftgraph.chinacloudapi.cn.
    China,
    /// Explicit `graph_root` and `login_root`.
    Custom,
}

impl Cloud {
    /// (graph root, login root) of a national cloud; `None` for custom.
    pub fn roots(self) -> Option<(&'static str, &'static str)> {
        match self {
            Cloud::Global => Some((
                "https://graph.microsoft.com",
                "https://login.microsoftonline.com",
            )),
            Cloud::Usgov => Some((
                "https://graph.microsoft.us",
                "https://login.microsoftonline.us",
            )),
            Cloud::Dod => Some((
                "https://dod-graph.microsoft.us",
                "https://login.microsoftonline.us",
            )),
            Cloud::China => Some((
                "https://microsoftgraph.chinacloudapi.cn",
                "https://login.chinacloudapi.cn",
            )),
            Cloud::Custom => None,
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cloud::Global => "global",
            Cloud::Usgov => "usgov",
            Cloud::Dod => "dod",
            Cloud::China => "china",
            Cloud::Custom => "custom",
        })
    }
}

/// Graph API version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ApiVersion {
    /// `v1.0` (default).
    #[default]
    #[serde(rename = "v1.0")]
    V1,
    /// `beta`.
    #[serde(rename = "beta")]
    Beta,
}

impl ApiVersion {
    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

impl FromStr for ApiVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v1.0" => Ok(ApiVersion::V1),
            "beta" => Ok(ApiVersion::Beta),
            other => Err(format!(
                "unknown Graph API version {other:?} (expected v1.0 or beta)"
            )),
        }
    }
}

/// Why a cloud/version combination cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// Graph does not offer the action there.
    #[error("graph.api_version {version} is not available in graph.cloud {cloud}: {reason}")]
    Unavailable {
        /// The cloud.
        cloud: Cloud,
        /// The version.
        version: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// `custom` without both roots, or a root given for a national cloud.
    #[error("{0}")]
    Roots(String),
    /// A root that is not an http(s) URL.
    #[error("{key} must be an http:// or https:// URL, not {value:?}")]
    BadUrl {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
    },
}

/// Where to post and where to get tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// e.g. `https://graph.microsoft.com` (no trailing slash).
    pub graph_root: String,
    /// e.g. `https://login.microsoftonline.com` (no trailing slash).
    pub login_root: String,
    /// API version.
    pub api_version: ApiVersion,
}

fn check_url(key: &'static str, value: &str) -> Result<String, CloudError> {
    let trimmed = value.trim_end_matches('/');
    let ok = (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
        && trimmed
            .split("://")
            .nth(1)
            .is_some_and(|host| !host.is_empty());
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(CloudError::BadUrl {
            key,
            value: value.to_owned(),
        })
    }
}

impl Endpoints {
    /// Resolves and checks a cloud, an API version and the optional explicit roots.
    pub fn resolve(
        cloud: Cloud,
        api_version: ApiVersion,
        graph_root: Option<&str>,
        login_root: Option<&str>,
    ) -> Result<Endpoints, CloudError> {
        let unavailable = |reason| CloudError::Unavailable {
            cloud,
            version: api_version.as_str(),
            reason,
        };
        match (cloud, api_version) {
            (Cloud::China, ApiVersion::V1) => {
                return Err(unavailable(
                    "the v1.0 action lists China (21Vianet) as not available",
                ))
            }
            (Cloud::China | Cloud::Usgov | Cloud::Dod, ApiVersion::Beta) => {
                return Err(unavailable(
                    "the beta action is available in the global cloud only; use v1.0",
                ))
            }
            _ => {}
        }
        let (graph, login) = match cloud.roots() {
            Some((graph, login)) => {
                if graph_root.is_some() || login_root.is_some() {
                    return Err(CloudError::Roots(format!(
                        "graph.graph_root and graph.login_root are only for graph.cloud = \"custom\" (graph.cloud is {cloud})"
                    )));
                }
                (graph.to_owned(), login.to_owned())
            }
            None => {
                match (graph_root, login_root) {
                    (Some(graph), Some(login)) => (
                        check_url("graph.graph_root", graph)?,
                        check_url("graph.login_root", login)?,
                    ),
                    _ => return Err(CloudError::Roots(
                        "graph.cloud = \"custom\" needs both graph.graph_root and graph.login_root"
                            .to_owned(),
                    )),
                }
            }
        };
        Ok(Endpoints {
            graph_root: graph,
            login_root: login,
            api_version,
        })
    }

    /// `POST` target of the action.
    pub fn action_url(&self) -> String {
        format!(
            "{}/{}/communications/calls/logTeleconferenceDeviceQuality",
            self.graph_root,
            self.api_version.as_str()
        )
    }

    /// The tenant's OAuth2 v2.0 token endpoint.
    pub fn token_url(&self, tenant_id: &str) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.login_root, tenant_id)
    }

    /// The client-credentials scope: `{graph_root}/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.graph_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_clouds_resolve() {
        let e = Endpoints::resolve(Cloud::Dod, ApiVersion::V1, None, None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            e.action_url(),
            "https://dod-graph.microsoft.us/v1.0/communications/calls/logTeleconferenceDeviceQuality"
        );
        assert_eq!(
            e.token_url("t1"),
            "https://login.microsoftonline.us/t1/oauth2/v2.0/token"
        );
        assert_eq!(e.scope(), "https://dod-graph.microsoft.us/.default");
        let g = Endpoints::resolve(Cloud::Global, ApiVersion::Beta, None, None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(g
            .action_url()
            .starts_with("https://graph.microsoft.com/beta/"));
    }

    #[test]
    fn unavailable_combinations_are_config_errors_with_reasons() {
        for (cloud, version) in [
            (Cloud::China, ApiVersion::V1),
            (Cloud::China, ApiVersion::Beta),
            (Cloud::Usgov, ApiVersion::Beta),
            (Cloud::Dod, ApiVersion::Beta),
        ] {
            let err = Endpoints::resolve(cloud, version, None, None)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains("graph.api_version") && err.contains("graph.cloud"),
                "{err}"
            );
        }
    }

    #[test]
    fn custom_needs_both_roots() {
        assert!(Endpoints::resolve(
            Cloud::Custom,
            ApiVersion::V1,
            Some("http://127.0.0.1:1"),
            None
        )
        .is_err());
        assert!(Endpoints::resolve(Cloud::Global, ApiVersion::V1, Some("http://x"), None).is_err());
        assert!(Endpoints::resolve(
            Cloud::Custom,
            ApiVersion::V1,
            Some("ftp://x"),
            Some("http://y")
        )
        .is_err());
        let e = Endpoints::resolve(
            Cloud::Custom,
            ApiVersion::Beta,
            Some("http://127.0.0.1:9/"),
            Some("http://127.0.0.1:8"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.token_url("t"), "http://127.0.0.1:8/t/oauth2/v2.0/token");
        assert_eq!(e.scope(), "http://127.0.0.1:9/.default");
    }
}
