//! Binding and serving: hyper's HTTP/1 connection handling under the limits that keep a
//! client from holding the API hostage (a head timeout, a request timeout, a bound on
//! open connections), and a graceful stop. Binding is separate from serving so that the
//! daemon fails start-up on a busy port before it reports itself ready.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use vtcq_reporter::secret::Secret;

use super::routes::service;
use super::{ApiConfig, CallControl, Listen};

/// A bound control API, ready to [`serve`](ApiServer::serve).
pub struct ApiServer {
    listener: Bound,
    router: Router,
    limits: ConnectionLimits,
}

/// What bounds a client's hold on the server (see [`ApiConfig`]).
#[derive(Clone, Copy, Debug)]
struct ConnectionLimits {
    header_read_timeout: Duration,
    request_timeout: Duration,
    max_connections: usize,
}

enum Bound {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener, PathBuf),
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("ApiServer");
        match &self.listener {
            Bound::Tcp(l) => s.field("tcp", &l.local_addr().ok()),
            Bound::Unix(_, path) => s.field("unix", path),
        };
        s.finish_non_exhaustive()
    }
}

impl ApiServer {
    /// Binds the listening socket. Binding is separate from serving so that the daemon
    /// fails start-up on a busy port before it reports itself ready.
    ///
    /// For a Unix socket, an existing socket file nobody listens on (left by a crash) is
    /// removed; a socket someone still listens on is `AddrInUse`, and a path that is not a
    /// socket is `AlreadyExists` and left alone. The new socket is made 0660 so that the
    /// bot's group can connect and nobody else can.
    pub async fn bind(
        config: ApiConfig,
        control: Arc<dyn CallControl>,
    ) -> std::io::Result<ApiServer> {
        if config.bearer_token.as_ref().is_some_and(Secret::is_empty) {
            // An empty token would make `Authorization: Bearer ` a valid credential.
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the control API bearer token is empty",
            ));
        }
        let listener = match &config.listen {
            Listen::Tcp(addr) => {
                let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
                })?;
                Bound::Tcp(listener)
            }
            Listen::Unix(path) => Bound::Unix(bind_unix(path).await?, path.clone()),
        };
        let limits = ConnectionLimits {
            header_read_timeout: config.header_read_timeout,
            request_timeout: config.request_timeout,
            max_connections: config.max_connections.max(1),
        };
        Ok(ApiServer {
            listener,
            router: service(config, control),
            limits,
        })
    }

    /// The bound TCP address (the real port when 0 was asked); `None` for a Unix socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.listener {
            Bound::Tcp(l) => l.local_addr().ok(),
            Bound::Unix(..) => None,
        }
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests
    /// finish, closes idle connections and returns. A Unix socket file is removed at the
    /// end. The wait for in-flight requests is bounded by the request timeout.
    ///
    /// A client cannot hold the API hostage: it has [`ApiConfig::header_read_timeout`] to
    /// send a request's head and [`ApiConfig::request_timeout`] for the whole request (408
    /// after), and at most [`ApiConfig::max_connections`] connections are served at once
    /// (past it a new connection is closed at once and counted in the log).
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let connections = Connections::new(self.limits);
        let mut shutdown = std::pin::pin!(shutdown);
        let ApiServer {
            listener,
            router,
            limits,
        } = self;
        let socket_file = match listener {
            Bound::Tcp(listener) => {
                let listener = &listener;
                let accept = move || async move { listener.accept().await.map(|(s, _)| s) };
                accept_until(accept, &connections, &router, shutdown.as_mut()).await;
                None
            }
            Bound::Unix(listener, path) => {
                let listener = &listener;
                let accept = move || async move { listener.accept().await.map(|(s, _)| s) };
                accept_until(accept, &connections, &router, shutdown.as_mut()).await;
                Some(path)
            }
        };
        // The listener is closed by now: no new connections while the open ones finish.
        connections.close(limits.request_timeout).await;
        if let Some(path) = socket_file {
            // Best effort: a leftover file is harmless, the next bind replaces it.
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::debug!(path = %path.display(), error = %e, "control socket not removed");
            }
        }
        Ok(())
    }
}

/// Hands each accepted connection to `connections` until `shutdown` completes; the caller
/// then drops the listener.
async fn accept_until<Io, Accepted>(
    mut accept: impl FnMut() -> Accepted,
    connections: &Connections,
    router: &Router,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) where
    Accepted: Future<Output = std::io::Result<Io>>,
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    loop {
        tokio::select! {
            accepted = accept() => match accepted {
                Ok(io) => connections.serve(io, router),
                Err(e) => accept_failed(e).await,
            },
            () = &mut shutdown => return,
        }
    }
}

/// An accept error (out of file descriptors, mostly): log, pause, go on.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!(error = %e, "control API accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The open connections: bounded, and closed gracefully on shutdown.
struct Connections {
    limits: ConnectionLimits,
    slots: Arc<tokio::sync::Semaphore>,
    /// Dropped to ask every connection to finish its request and close.
    closing: tokio::sync::watch::Sender<()>,
    refused: std::sync::atomic::AtomicU64,
}

impl Connections {
    fn new(limits: ConnectionLimits) -> Self {
        Connections {
            limits,
            slots: Arc::new(tokio::sync::Semaphore::new(limits.max_connections)),
            closing: tokio::sync::watch::channel(()).0,
            refused: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn serve<Io>(&self, io: Io, router: &Router)
    where
        Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        use hyper_util::rt::{TokioIo, TokioTimer};
        use std::sync::atomic::Ordering;

        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    refused,
                    max = self.limits.max_connections,
                    "control API connection refused: too many open connections"
                );
            }
            return; // dropping `io` closes it
        };
        // The router takes any body type, hyper's `Incoming` included.
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut closing = self.closing.subscribe();
        let header_read_timeout = self.limits.header_read_timeout;
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let mut conn = std::pin::pin!(builder.serve_connection(TokioIo::new(io), service));
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "control API connection ended");
                    }
                }
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(slot);
        });
    }

    /// Asks every connection to close after its current request; waits up to `limit`.
    async fn close(self, limit: Duration) {
        let Connections {
            slots,
            closing,
            limits,
            ..
        } = self;
        drop(closing);
        let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(limit, slots.acquire_many(all)).await;
    }
}

async fn bind_unix(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    let context = |e: Error| {
        Error::new(
            e.kind(),
            format!("cannot listen on {}: {e}", path.display()),
        )
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "cannot listen on {}: it exists and is not a socket",
                    path.display()
                ),
            ));
        }
        Ok(_) => match tokio::net::UnixStream::connect(path).await {
            // Someone answers: another agent owns it; taking the path would orphan it.
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::AddrInUse,
                    format!(
                        "cannot listen on {}: another process is listening",
                        path.display()
                    ),
                ));
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path).map_err(context)?;
            }
            Err(e) => return Err(context(e)),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(context(e)),
    }
    let listener = tokio::net::UnixListener::bind(path).map_err(context)?;
    // Between bind and chmod the socket has the umask's mode; the usual 022 umask leaves
    // it unwritable (so unconnectable) by others, so the window grants nobody extra.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(context)?;
    Ok(listener)
}
