//! `vtcq run` starts logging before it reads its configuration, so what loading the
//! configuration warns about reaches the daemon's stderr (the journal, under systemd):
//! a config file holding a secret readable by every user, a secret file readable by
//! others, the control API listening beyond loopback without a bearer token. `[log]` is
//! applied before the rest is validated, so the warnings come in its format.
//!
//! The daemon captures on `lo`, which needs root; elsewhere it stops at the capture,
//! after the warnings, and the test still checks them.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::Scratch;

const CLIENT: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";

/// Runs `vtcq run` until it is running (then stops it with SIGTERM) or exits; its stderr.
fn run_and_stop(config: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vtcq"))
        .args(["run", "--config", config.to_str().unwrap_or_default()])
        .env_remove("VTCQ_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = Vec::new();
    let mut running = false;
    while Instant::now() < deadline && !running {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                running = line.contains("vtcq is running");
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    lines.extend(rx.try_iter());
    let text = lines.join("\n");
    eprintln!("vtcq run exited {status}; stderr:\n{text}");
    text
}

#[test]
fn loading_warnings_reach_the_daemons_log() {
    let scratch = Scratch::new("vtcq-run", "warnings");
    let config = scratch.path("vtcq.toml");
    std::fs::write(
        &config,
        format!(
            "[capture]\ninterface = \"lo\"\n[api]\nlisten = \"0.0.0.0:0\"\n\
             [graph]\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"{CLIENT}\"\n\
             client_secret = \"in-the-file\"\n[spool]\ndir = \"{}\"\n",
            scratch.path("spool").display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = run_and_stop(&config);
    assert!(
        stderr.contains("listens beyond loopback without api.bearer_token_file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("holds graph.client_secret and is readable by every user"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("in-the-file"),
        "the secret itself: {stderr}"
    );
}

#[test]
fn the_warnings_come_in_the_log_sections_format() {
    let scratch = Scratch::new("vtcq-run", "json");
    let token = scratch.path("api-token");
    std::fs::write(&token, "api-token-value").unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let config = scratch.path("vtcq.toml");
    std::fs::write(
        &config,
        format!(
            "[capture]\ninterface = \"lo\"\n[api]\nlisten = \"127.0.0.1:0\"\n\
             bearer_token_file = \"{}\"\n[graph]\ntenant_id = \"contoso.onmicrosoft.com\"\n\
             client_id = \"{CLIENT}\"\nclient_secret = \"in-the-file\"\n[spool]\ndir = \"{}\"\n\
             [log]\nformat = \"json\"\n",
            token.display(),
            scratch.path("spool").display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = run_and_stop(&config);
    // Every log line, the first warnings included, is a JSON event (without root the
    // daemon stops at the capture, and its last line is the exit message, not a log line).
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| !l.starts_with("error: "))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{stderr}")))
        .collect();
    let warning = |text: &str| {
        events
            .iter()
            .find(|e| {
                e["level"] == "WARN"
                    && e["fields"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains(text))
            })
            .unwrap_or_else(|| panic!("no warning {text:?}: {stderr}"))
    };
    assert_eq!(
        warning("secret file is readable by every user")["fields"]["key"],
        "api.bearer_token_file"
    );
    warning("holds graph.client_secret and is readable by every user");
    assert!(!stderr.contains("api-token-value"), "{stderr}");
    assert!(!stderr.contains("in-the-file"), "{stderr}");
}
