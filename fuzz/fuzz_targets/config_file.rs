//! The configuration file: arbitrary text through the path `vtcq validate` takes
//! (`config` crate TOML parsing and deserialization into the raw sections, then every
//! check of `settings_from_raw`), with no environment variables.
//!
//! Paths to secret, key and certificate files are pointed at files this target owns
//! (a token, an empty file, a missing file) before validation: the fuzzer must not read
//! whatever the machine has at a path it made up (`/dev/zero` would never end).
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vtcq::config::{parse_raw, DaemonSettings};

fn files() -> &'static [PathBuf; 3] {
    static FILES: OnceLock<[PathBuf; 3]> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vtcq-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let token = dir.join("token");
        let empty = dir.join("empty");
        std::fs::write(&token, "s3cret\n").expect("token file");
        std::fs::write(&empty, "").expect("empty file");
        [token, empty, dir.join("missing")]
    })
}

fn contain(path: &mut Option<PathBuf>) {
    if let Some(p) = path {
        let pick = p.as_os_str().len() % 3;
        *p = files()[pick].clone();
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = Path::new("fuzz.toml");
    let Ok(mut raw) = parse_raw(text, Default::default(), origin) else {
        return;
    };
    contain(&mut raw.graph.client_secret_file);
    contain(&mut raw.graph.certificate_file);
    contain(&mut raw.graph.private_key_file);
    contain(&mut raw.api.bearer_token_file);
    match DaemonSettings::from_raw(origin, &raw) {
        Ok(settings) => {
            // What validation promises the daemon.
            let ring = &settings.capture.ring;
            assert!(!ring.interface.trim().is_empty());
            assert!(ring.block_size >= 4096 && ring.block_size % 4096 == 0);
            assert!(ring.block_count >= 1);
            for range in &ring.port_ranges {
                assert!(*range.start() >= 1 && range.start() <= range.end());
            }
            assert!(!settings.lifecycle.idle_timeout.is_zero());
            assert!(!settings.lifecycle.max_duration.is_zero());
            assert!(!settings.shutdown_grace.is_zero());
            assert!(settings.api.max_body_bytes >= 1024);
            assert!(settings.api.bearer_token.as_ref().is_none_or(|t| !t.is_empty()));
        }
        Err(error) => {
            // Every refusal names the file and the key.
            let message = error.to_string();
            assert!(message.starts_with("config fuzz.toml: "), "{message}");
            assert!(error.key().is_some_and(|key| message.contains(key)), "{message}");
        }
    }
});
