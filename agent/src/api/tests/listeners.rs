//! Listeners and lifecycle: Unix sockets, busy ports, graceful shutdown, and clients that
//! hold on (head timeout, trickled body, connection bound).

#![allow(clippy::unwrap_used)]

use super::*;

#[tokio::test]
async fn unix_socket_listener_serves_http() {
    use std::os::unix::fs::PermissionsExt;

    let path = socket_path();
    let mock = Arc::new(Mock::default());
    let config = ApiConfig {
        listen: Listen::Unix(path.clone()),
        bearer_token: Some(Secret::new(TOKEN)),
        ..ApiConfig::default()
    };
    let server = ApiServer::bind(config, mock.clone()).await.unwrap();
    assert_eq!(server.local_addr(), None);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));

    let connect = || tokio::net::UnixStream::connect(&path);
    let response = raw_http(
        connect().await.unwrap(),
        "GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nok"), "{response}");

    let body = serde_json::to_string(&registration_body()).unwrap();
    let request = format!(
        "PUT /v1/calls/{LEG} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = raw_http(connect().await.unwrap(), &request).await;
    assert!(
        response.starts_with("HTTP/1.1 201 Created\r\n"),
        "{response}"
    );
    assert_eq!(mock.calls().len(), 1);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!path.exists(), "the socket file is removed on exit");
}

#[tokio::test]
async fn unix_bind_replaces_stale_sockets_only() {
    let path = socket_path();

    // A socket file nobody listens on (a crashed agent's) is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let config = ApiConfig {
        listen: Listen::Unix(path.clone()),
        ..ApiConfig::default()
    };
    let live = ApiServer::bind(config.clone(), Arc::new(Mock::default()))
        .await
        .unwrap();

    // A socket someone listens on is not taken over.
    let e = ApiServer::bind(config.clone(), Arc::new(Mock::default()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    drop(live);
    std::fs::remove_file(&path).unwrap();

    // Anything else at the path is left alone.
    std::fs::write(&path, b"not a socket").unwrap();
    let e = ApiServer::bind(config, Arc::new(Mock::default()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn a_busy_tcp_port_fails_bind() {
    let h = Harness::start(None).await;
    let config = ApiConfig {
        listen: Listen::Tcp(h.addr),
        ..ApiConfig::default()
    };
    let e = ApiServer::bind(config, Arc::new(Mock::default()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    assert!(e.to_string().contains(&h.addr.to_string()), "{e}");
    h.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut h = Harness::start(None).await;
    let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();

    // A first exchange proves the server has accepted this connection.
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !seen.ends_with(b"\r\n\r\nok") {
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }

    // A request whose body is half sent is in flight when shutdown begins.
    let body = serde_json::to_string(&registration_body()).unwrap();
    let (head, tail) = body.split_at(body.len() / 2);
    let request = format!(
        "PUT /v1/calls/{LEG} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{head}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = h.stop.take().unwrap().send(());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !h.task.is_finished(),
        "serve waits for the in-flight request"
    );
    assert!(
        tokio::net::TcpStream::connect(h.addr).await.is_err(),
        "no new connections after shutdown"
    );

    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 201 Created\r\n"),
        "{response}"
    );
    assert_eq!(h.mock.calls().len(), 1);
    tokio::time::timeout(Duration::from_secs(5), h.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_request_head_never_finished_is_cut_off() {
    let h = start_bounded(64).await;
    let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let started = Instant::now();
    let said = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "closed after {waited:?}: {said:?}"
    );
    // The server is still there for everyone else.
    assert_eq!(h.send(Method::GET, "/livez").await.status(), 200);
}

#[tokio::test]
async fn a_body_trickled_in_ends_with_408() {
    let h = start_bounded(64).await;
    let body = serde_json::to_string(&registration_body()).unwrap();
    let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let head = format!(
        "PUT /v1/calls/{LEG} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // One byte every 100 ms: it would take minutes.
    let mut said = String::new();
    for byte in body.as_bytes() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut buf = [0u8; 1024];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await
        {
            said.push_str(&String::from_utf8_lossy(&buf[..n]));
            if n == 0 || said.contains("\r\n\r\n") {
                break;
            }
        }
    }
    said.push_str(&read_until_closed(&mut stream, Duration::from_secs(2)).await);
    assert!(said.starts_with("HTTP/1.1 408 "), "{said}");
    assert!(said.contains("\"request_timeout\""), "{said}");
    assert!(h.mock.calls().is_empty(), "nothing was registered");
}

#[tokio::test]
async fn connections_past_the_bound_are_closed_and_the_bound_frees_up() {
    let h = start_bounded(4).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(tokio::net::TcpStream::connect(h.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A fifth connection is accepted by the kernel and closed by the server unanswered.
    let mut fifth = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let _ = fifth
        .write_all(b"GET /livez HTTP/1.1\r\nHost: test\r\n\r\n")
        .await;
    let said = read_until_closed(&mut fifth, Duration::from_secs(2)).await;
    assert_eq!(said, "", "refused past the bound");
    // The idle ones are cut off at the header timeout; then the server answers again.
    for stream in &mut idle {
        let _ = read_until_closed(stream, Duration::from_secs(3)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(h.send(Method::GET, "/livez").await.status(), 200);
}
