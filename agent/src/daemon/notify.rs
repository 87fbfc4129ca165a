//! systemd's notification protocol without libsystemd (as ntpd-rs does): a datagram to
//! `$NOTIFY_SOCKET` for `READY=1` (the API is bound and every loop runs), `WATCHDOG=1`
//! (every half `$WATCHDOG_USEC`, from the tick) and `STOPPING=1`. Without
//! `$NOTIFY_SOCKET` (not under systemd) every call does nothing.

use std::time::Duration;

/// Start-up is complete.
pub(super) fn ready() {
    send("READY=1");
}

/// Still alive (the watchdog).
pub(super) fn watchdog() {
    send("WATCHDOG=1");
}

/// Shutdown has begun.
pub(super) fn stopping() {
    send("STOPPING=1");
}

/// How often to ping the watchdog: half of `$WATCHDOG_USEC`, as sd_watchdog_enabled(3)
/// advises; `None` when systemd set no watchdog.
pub(super) fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

fn send(message: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(socket) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let result = match path.strip_prefix('@') {
        // An abstract socket: the name without the '@'.
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                .and_then(|addr| socket.send_to_addr(message.as_bytes(), &addr))
        }
        None => socket.send_to(message.as_bytes(), &path),
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}
