//! A spool on a full filesystem: a clear error naming the path, and nothing lost. Needs
//! root to mount a tiny tmpfs (CI runs as root); elsewhere it prints why it skips.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime};

use vtcq_reporter::spool::{Spool, SpoolError, SpoolLimits};

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tiny_tmpfs() -> Option<Mount> {
    let dir = std::env::temp_dir().join(format!("vtcq-full-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(Mount(dir))
    } else {
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        None
    }
}

#[test]
fn full_disk_is_a_clear_error_and_keeps_what_was_spooled() {
    let Some(mount) = tiny_tmpfs() else { return };
    let limits = SpoolLimits {
        max_bytes: 1 << 30,
        max_age: Duration::from_secs(86_400),
    };
    let dir = mount.0.join("spool");
    let (mut spool, _) =
        Spool::open(&dir, limits, SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
    let body = vec![b'x'; 6_000];
    let mut stored = 0;
    let error = loop {
        match spool.enqueue(&body, SystemTime::now()) {
            Ok(_) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 100, "the 64 KiB filesystem never filled up");
    };
    assert!(matches!(error, SpoolError::Io { .. }), "{error:?}");
    let message = format!("{:#}", anyhow_like(&error));
    assert!(message.contains(&dir.display().to_string()), "{message}");
    assert!(message.contains("No space left"), "{message}");
    // Everything acknowledged as spooled is still there, intact, after a reopen.
    drop(spool);
    let (mut spool, report) =
        Spool::open(&dir, limits, SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.recovered, stored);
    for info in spool.pending() {
        assert_eq!(spool.read(&info.id).unwrap_or_default(), body);
    }
}

/// The error and its sources on one line, the way the binary prints errors.
fn anyhow_like(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
