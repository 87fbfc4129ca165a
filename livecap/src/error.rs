//! The one error type of the crate.
//!
//! The daemon logs these with their `Display` alone, so a variant that wraps the kernel's
//! error prints it in its message and keeps it as a plain field (`cause`), never also as
//! the `source` of the chain (which would print it twice under `{:#}`).

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
        "cannot {operation} on {interface}: {cause}; capturing needs CAP_NET_RAW (run as \
         root, or grant the capability: setcap cap_net_raw+ep / AmbientCapabilities=CAP_NET_RAW)"
    )]
    PermissionDenied {
        /// The interface from the configuration.
        interface: String,
        /// What was being done, for example `open AF_PACKET socket`.
        operation: &'static str,
        /// The error the kernel returned.
        cause: io::Error,
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
    #[error("cannot {operation} on {interface}: {cause}")]
    Io {
        /// The interface from the configuration.
        interface: String,
        /// What was being done, for example `set up the receive ring`.
        operation: &'static str,
        /// The error the kernel returned.
        cause: io::Error,
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
    pub(crate) fn os(interface: &str, operation: &'static str, cause: io::Error) -> CaptureError {
        let interface = interface.to_owned();
        if cause.kind() == io::ErrorKind::PermissionDenied {
            CaptureError::PermissionDenied {
                interface,
                operation,
                cause,
            }
        } else {
            CaptureError::Io {
                interface,
                operation,
                cause,
            }
        }
    }

    /// True when the failure is a missing privilege (`CAP_NET_RAW`).
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, CaptureError::PermissionDenied { .. })
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn the_kernel_error_is_printed_once_in_the_message_and_not_chained() {
        let denied = CaptureError::os(
            "eth0",
            "open AF_PACKET socket",
            // EPERM: 1 on every Unix.
            io::Error::from_raw_os_error(1),
        );
        assert!(denied.is_permission_denied());
        let io = CaptureError::os("eth0", "set up the receive ring", io::Error::other("boom"));
        for (err, cause) in [(&denied, "Operation not permitted"), (&io, "boom")] {
            let text = err.to_string();
            assert_eq!(text.matches(cause).count(), 1, "{text}");
            assert!(err.source().is_none(), "{err:?} chains its cause too");
        }
        assert!(denied
            .to_string()
            .starts_with("cannot open AF_PACKET socket on eth0: "));
    }
}
