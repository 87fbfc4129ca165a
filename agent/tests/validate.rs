//! `vtcq validate`: the example configuration is valid, and every kind of mistake stops
//! with exit code 78 and a message naming the key.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::repo;

fn validate(config: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vtcq"));
    cmd.args(["validate", "--config", config.to_str().unwrap_or_default()]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn example_configuration_is_valid() {
    let out = validate(&repo().join("deploy/config/vtcq.example.toml"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mistakes_exit_78_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("vtcq-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        ("[capture]\ninterface = \"lo\"\nport_ranges = [\"9-1\"]\n", "capture.port_ranges"),
        ("[capture]\nport_ranges = []\n", "capture.interface"),
        ("[capture]\ninterface = \"lo\"\n[api]\nlisten = \"localhost\"\n", "api.listen"),
        ("[capture]\ninterface = \"lo\"\n[calls]\nidle_timeout = \"0s\"\n", "calls.idle_timeout"),
        ("[capture]\ninterface = \"lo\"\n[log]\nformat = \"xml\"\n", "log.format"),
        ("[capture]\ninterface = \"lo\"\n[graph]\ncloud = \"china\"\ntenant_id = \"t\"\nclient_id = \"6731de76-14a6-49ae-97bc-6eba6914391e\"\nclient_secret = \"x\"\n", "graph.cloud"),
        ("[capture]\ninterface = \"lo\"\ninterfce = \"eth0\"\n", "interfce"),
        ("[capture]\ninterface = \"lo\"\n[spool]\nmax_bytes = 0\n", "spool.max_bytes"),
        ("[capture]\ninterface = \"lo\"\n[api]\nbearer_token_file = \"/nonexistent/token\"\n", "api.bearer_token_file"),
    ];
    for (i, (text, key)) in cases.iter().enumerate() {
        let path = dir.join(format!("c{i}.toml"));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let out = validate(&path, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{key}: {err}");
        assert!(err.contains(key), "{key} not named in: {err}");
    }
    // Environment overrides are validated the same way.
    let path = dir.join("env.toml");
    std::fs::write(&path, "[capture]\ninterface = \"lo\"\n").unwrap_or_else(|e| panic!("{e}"));
    let out = validate(
        &path,
        &[("VTCQ_RETRY__MAX_BACKOFF", "1ms"), ("VTCQ_LOG", "debug")],
    );
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("retry.max_backoff"));
    let missing = validate(&dir.join("nope.toml"), &[]);
    assert_eq!(missing.status.code(), Some(78));
    let _ = std::fs::remove_dir_all(&dir);
}
