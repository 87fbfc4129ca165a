//! `vtcq post` and `vtcq spool`: the operator's handles on delivery.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use vtcq_reporter::delivery::Delivery;
use vtcq_reporter::errors;
use vtcq_reporter::graph::validate_request_body;
use vtcq_reporter::handoff::{Handoff, Opened, Stored};
use vtcq_reporter::settings::ReporterSettings;
use vtcq_reporter::spool::{self, PurgeScope, RecordId, Spool};

use crate::cli::{PostArgs, PurgeWhich, SpoolAction, SpoolArgs};
use crate::config::{load_reporter, EXIT_CONFIG};

/// sysexits.h EX_DATAERR: a record file is not a valid request body.
const EXIT_DATA: u8 = 65;
/// sysexits.h EX_TEMPFAIL: records remain in the spool; try again later.
const EXIT_TEMPFAIL: u8 = 75;

fn settings(config: &std::path::Path) -> Result<ReporterSettings, ExitCode> {
    load_reporter(config).map_err(|e| {
        eprintln!("error: {}", errors::chain(&e));
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Runs `vtcq post`.
pub fn run(args: &PostArgs) -> Result<ExitCode> {
    let settings = match settings(&args.config) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    // Validate every body before handing off any: a typo in one file should not leave the
    // others half-delivered.
    let mut bodies = Vec::new();
    for path in &args.records {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if let Err(e) = validate_request_body(&bytes) {
            eprintln!("error: {}: {}", path.display(), errors::chain(&e));
            return Ok(ExitCode::from(EXIT_DATA));
        }
        bodies.push((path.clone(), bytes));
    }

    let Opened {
        handoff,
        delivery,
        recovered,
    } = Handoff::open(settings, SystemTime::now())?;
    if recovered > 0 {
        eprintln!("{recovered} records from earlier runs are in the spool; they go first");
    }
    for (path, body) in &bodies {
        let stored = handoff
            .store(body, SystemTime::now())
            .with_context(|| format!("cannot hand off {}", path.display()))?;
        match stored {
            Stored::Spooled(id) => {
                tracing::info!(record = %id, file = %path.display(), "spooled");
            }
            Stored::Written(file) => eprintln!(
                "{}: written to {} (no Graph credentials configured)",
                path.display(),
                file.display()
            ),
            Stored::Printed => {}
        }
    }
    match (delivery, handoff.spool(), handoff.spool_dir()) {
        (Some(delivery), Some(spool), Some(dir)) => deliver(args, delivery, spool, dir),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Drains the spool to Graph until it is empty or `--deadline` passes.
fn deliver(
    args: &PostArgs,
    mut delivery: Delivery,
    spool: &Mutex<Spool>,
    dir: &Path,
) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let deadline = tokio::time::Instant::now() + args.deadline;
    let drained = runtime.block_on(delivery.drain(spool, Some(deadline)))?;
    eprintln!(
        "delivered {}, dead-lettered {}, still in the spool {}",
        drained.delivered, drained.dead_lettered, drained.remaining
    );
    if let Some(reason) = drained.blocked {
        bail!(
            "delivery stopped: {reason}; {} records stay in the spool",
            drained.remaining
        );
    }
    if drained.dead_lettered > 0 {
        bail!(
            "Graph rejected {} records; they are in {} with Graph's answers (`vtcq spool list`)",
            drained.dead_lettered,
            dir.join("dead").display()
        );
    }
    if drained.remaining > 0 {
        eprintln!(
            "error: {} records are still in the spool after {}; run again to go on",
            drained.remaining,
            humantime::format_duration(args.deadline)
        );
        return Ok(ExitCode::from(EXIT_TEMPFAIL));
    }
    Ok(ExitCode::SUCCESS)
}

fn spool_dir(args: &SpoolArgs) -> Result<(PathBuf, ReporterSettings), ExitCode> {
    let Some(config) = &args.config else {
        eprintln!("error: --config FILE is required");
        return Err(ExitCode::from(EXIT_CONFIG));
    };
    let settings = settings(config)?;
    Ok((settings.spool_dir.clone(), settings))
}

/// Runs `vtcq spool`.
pub fn spool(args: &SpoolArgs) -> Result<ExitCode> {
    let (dir, settings) = match spool_dir(args) {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    match &args.action {
        SpoolAction::List => {
            // Read-only: works while the daemon holds the spool.
            let inspection = spool::inspect(&dir)
                .with_context(|| format!("cannot read the spool {}", dir.display()))?;
            print!("{inspection}");
        }
        SpoolAction::Retry { id } => {
            let (mut spool, _) = Spool::open(&dir, settings.spool_limits, SystemTime::now())
                .with_context(|| format!("cannot open the spool {}", dir.display()))?;
            let id = match id {
                Some(text) => Some(
                    RecordId::parse(text)
                        .with_context(|| format!("{text:?} is not a record id"))?,
                ),
                None => None,
            };
            let moved = spool.retry_dead(id.as_ref())?;
            eprintln!("{moved} records moved back into the queue; `vtcq post --config ...` (or the daemon) delivers them");
        }
        SpoolAction::Purge { which } => {
            let (mut spool, _) = Spool::open(&dir, settings.spool_limits, SystemTime::now())
                .with_context(|| format!("cannot open the spool {}", dir.display()))?;
            let scope = match which {
                PurgeWhich::Dead => PurgeScope::Dead,
                PurgeWhich::Corrupt => PurgeScope::Corrupt,
                PurgeWhich::Ready => PurgeScope::Ready,
                PurgeWhich::All => PurgeScope::All,
            };
            let removed = spool.purge(scope)?;
            eprintln!("{removed} records deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}
