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

#[test]
fn secrets_are_never_echoed_and_readable_secret_files_are_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("vtcq-validate-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let secret = "s3cr3t-VALUE-never-printed";
    let token_file = dir.join("api-token");
    std::fs::write(&token_file, "api-TOKEN-never-printed").unwrap_or_else(|e| panic!("{e}"));
    let config = |dir: &Path, name: &str, extra: &str| {
        let path = dir.join(name);
        let text = format!(
            "[capture]\ninterface = \"lo\"\n[graph]\ntenant_id = \"t\"\nclient_id = \"6731de76-14a6-49ae-97bc-6eba6914391e\"\nclient_secret = \"{secret}\"\n[api]\nbearer_token_file = \"{}\"\n{extra}",
            token_file.display()
        );
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    };
    let set_mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("{e}"));
    };

    // Readable by everyone: valid, with a warning for the config file and the token file.
    let open = config(&dir, "open.toml", "");
    set_mode(&open, 0o644);
    set_mode(&token_file, 0o644);
    let out = validate(&open, &[]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("holds graph.client_secret and is readable by every user"),
        "{err}"
    );
    assert!(err.contains("api.bearer_token_file"), "{err}");

    // Private: no warning.
    let private = config(&dir, "private.toml", "");
    set_mode(&private, 0o600);
    set_mode(&token_file, 0o600);
    let out = validate(&private, &[]);
    let quiet = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{quiet}");
    assert!(!quiet.contains("readable by every user"), "{quiet}");

    // An error elsewhere in a file holding secrets names the key, never the values.
    let broken = config(&dir, "broken.toml", "[spool]\nmax_bytes = 0\n");
    set_mode(&broken, 0o600);
    let out = validate(&broken, &[("VTCQ_LOG", "trace")]);
    let failed = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(78), "{failed}");
    for text in [&err, &quiet, &failed] {
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains("api-TOKEN-never-printed"), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_api_beyond_loopback_without_a_token_is_warned_about() {
    let dir = std::env::temp_dir().join(format!("vtcq-validate-listen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let warning = "listens beyond loopback without api.bearer_token_file";
    for (listen, warned) in [
        ("127.0.0.1:9477", false),
        ("0.0.0.0:9477", true),
        ("[::]:9477", true),
    ] {
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            format!("[capture]\ninterface = \"lo\"\n[api]\nlisten = \"{listen}\"\n"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let out = validate(&path, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(err.contains(warning), warned, "{listen}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
