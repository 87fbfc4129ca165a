//! The one error type of the crate.

use std::io;

/// Why opening or reading a capture failed. Every message names the interface.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The configuration cannot work (bad interface name, ring geometry, ...).
    #[error("cannot capture on {interface:?}: {reason}")]
    InvalidConfig {
        /// The interface from the configuration.
        interface: String,
        /// What is wrong with it.
        reason: String,
    },
    /// There is no network interface of that name (in this network namespace).
    #[error("cannot capture on {interface}: no such network interface")]
    NoSuchInterface {
        /// The interface from the configuration.
        interface: String,
    },
    /// The kernel refused for lack of privilege (`EPERM` / `EACCES`).
    #[error(
        "cannot {operation} on {interface}: {source}; capturing needs CAP_NET_RAW (run as \
         root, or grant the capability: setcap cap_net_raw+ep / AmbientCapabilities=CAP_NET_RAW)"
    )]
    PermissionDenied {
        /// The interface from the configuration.
        interface: String,
        /// What was being done, for example `open AF_PACKET socket`.
        operation: &'static str,
        /// The error the kernel returned.
        source: io::Error,
    },
    /// The device is of a kind whose frames the agent cannot decode.
    #[error(
        "cannot capture on {interface}: unsupported device type (ARPHRD {hardware_type}); \
         only Ethernet-like, loopback and raw-IP devices are supported"
    )]
    UnsupportedLinkType {
        /// The interface from the configuration.
        interface: String,
        /// The device's `ARPHRD_*` hardware type.
        hardware_type: u16,
    },
    /// The interface went down. Reported once; the capture resumes by itself when the
    /// interface comes back up, so the caller may keep calling.
    #[error("capture on {interface} interrupted: the interface is down")]
    InterfaceDown {
        /// The interface from the configuration.
        interface: String,
    },
    /// Any other failure of a system call.
    #[error("cannot {operation} on {interface}: {source}")]
    Io {
        /// The interface from the configuration.
        interface: String,
        /// What was being done, for example `set up the receive ring`.
        operation: &'static str,
        /// The error the kernel returned.
        source: io::Error,
    },
    /// Live capture is implemented for Linux only.
    #[error("cannot capture on {interface}: live capture needs Linux (AF_PACKET)")]
    Unsupported {
        /// The interface from the configuration.
        interface: String,
    },
}

impl CaptureError {
    /// Wraps a failed system call, turning `EPERM` and `EACCES` into
    /// [`CaptureError::PermissionDenied`].
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn os(interface: &str, operation: &'static str, source: io::Error) -> CaptureError {
        let interface = interface.to_owned();
        if source.kind() == io::ErrorKind::PermissionDenied {
            CaptureError::PermissionDenied {
                interface,
                operation,
                source,
            }
        } else {
            CaptureError::Io {
                interface,
                operation,
                source,
            }
        }
    }

    /// True when the failure is a missing privilege (`CAP_NET_RAW`).
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, CaptureError::PermissionDenied { .. })
    }
}
