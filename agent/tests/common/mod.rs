//! Helpers shared by the binary's integration tests (each test file uses a part of them).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The test bench's binary (`vtcq-testbench peer|flood`): the live tests' RTP endpoints
/// and flooder, which the operator's `vtcq` binary does not contain. Cargo only gives a
/// test the paths of its own package's binaries, so it is looked for where cargo puts it,
/// next to `vtcq`: `cargo test` builds it there (it is a default member of the workspace).
/// When it is missing (say, only `cargo test -p vtcq` was built), it is built there with
/// `cargo build -p vtcq-testbench`, once per test process. `VTCQ_TESTBENCH` overrides the
/// path. What is used is printed (see it with `--nocapture`).
pub fn testbench() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("VTCQ_TESTBENCH") {
            eprintln!("testbench: {} (VTCQ_TESTBENCH)", Path::new(&path).display());
            return PathBuf::from(path);
        }
        let vtcq = Path::new(env!("CARGO_BIN_EXE_vtcq"));
        let path = vtcq.with_file_name(format!("vtcq-testbench{}", std::env::consts::EXE_SUFFIX));
        if path.is_file() {
            eprintln!("testbench: {}", path.display());
            return path;
        }
        // <target>/<profile folder>/vtcq: build into the same folder, same profile.
        let profile_dir = vtcq.parent().unwrap_or_else(|| Path::new("."));
        let target_dir = profile_dir.parent().unwrap_or_else(|| Path::new("."));
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "-p", "vtcq-testbench", "--bin", "vtcq-testbench"])
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(repo());
        eprintln!(
            "testbench: {} is missing; running {build:?}",
            path.display()
        );
        let status = build.status().unwrap_or_else(|e| panic!("{build:?}: {e}"));
        assert!(
            status.success() && path.is_file(),
            "{build:?} did not make {} ({status})",
            path.display()
        );
        path
    })
    .clone()
}

/// A scratch folder under the temp dir, unique per test process, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh folder named after the test.
    pub fn new(prefix: &str, name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("{prefix}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        Scratch(dir)
    }

    /// A path inside the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Seconds of an ISO 8601 day-time duration (`PT1M0.5S`).
pub fn secs(v: &Value) -> f64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a duration: {v}"));
    let rest = s.strip_prefix("PT").unwrap_or_else(|| panic!("{s}"));
    let mut total = 0.0;
    let mut number = String::new();
    for c in rest.chars() {
        let unit = match c {
            'H' => 3600.0,
            'M' => 60.0,
            'S' => 1.0,
            _ => {
                number.push(c);
                continue;
            }
        };
        let n: f64 = number.parse().unwrap_or_else(|_| panic!("{s}"));
        total += n * unit;
        number.clear();
    }
    total
}

/// A minimal HTTP/1.1 client (one request per connection).
pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return (0, String::new());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Runs a command that must succeed (test set-up).
pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test network namespace and a veth pair with one end in it (root only); removed on
/// drop, whatever failed after its creation (deleting the namespace deletes the pair).
/// Addresses are `{subnet}.1` (root side, the bot) and `{subnet}.2` (the namespace side),
/// used only on this pair.
pub struct Net {
    /// Namespace name.
    pub ns: String,
    /// The root-side interface.
    pub veth: String,
    /// The namespace-side interface.
    pub peer: String,
    /// The root side's address.
    pub bot: String,
    /// The namespace side's address.
    pub device: String,
}

impl Net {
    /// Creates `{prefix}-ns-<pid>-{tag}` and `{prefix}A<pid>{tag}` / `{prefix}B<pid>{tag}`.
    pub fn new(prefix: &str, tag: u32, subnet: &str) -> Net {
        let id = std::process::id() % 10_000;
        let ns = format!("{prefix}-ns-{id}-{tag}");
        let veth = format!("{prefix}A{id}{tag}");
        let peer = format!("{prefix}B{id}{tag}");
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        let _ = Command::new("ip").args(["link", "del", &veth]).output();
        sh(&["ip", "netns", "add", &ns]);
        // From here on the guard cleans up, whatever fails next.
        let net = Net {
            ns: ns.clone(),
            veth: veth.clone(),
            peer: peer.clone(),
            bot: format!("{subnet}.1"),
            device: format!("{subnet}.2"),
        };
        sh(&[
            "ip", "link", "add", &veth, "type", "veth", "peer", "name", &peer,
        ]);
        sh(&["ip", "link", "set", &peer, "netns", &ns]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", net.bot),
            "dev",
            &veth,
        ]);
        sh(&["ip", "link", "set", &veth, "up"]);
        let in_ns = |args: &[&str]| {
            let mut all = vec!["ip", "netns", "exec", &ns];
            all.extend_from_slice(args);
            sh(&all);
        };
        in_ns(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", net.device),
            "dev",
            &peer,
        ]);
        in_ns(&["ip", "link", "set", &peer, "up"]);
        in_ns(&["ip", "link", "set", "lo", "up"]);
        net
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}
