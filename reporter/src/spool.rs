//! The durable spool: records on their way to Graph, kept on disk until Graph has
//! acknowledged them, so that no Graph outage, throttling, crash or restart loses one.
//!
//! A record (one `logTeleconferenceDeviceQuality` request body) is measured once and can
//! never be re-created, so the spool's one job is not to lose it: a record is either
//! delivered and acknowledged, moved to `dead/` with Graph's reason, moved to `corrupt/`
//! for a human, or dropped by a configured bound with an `error!` log line and a counter.
//! Nothing leaves the spool silently.
//!
//! The code follows the operations below: this file has the types, [`Spool::open`],
//! [`Spool::enqueue`] and the reads; `recover.rs` what opening does with what a crash
//! left; `outcome.rs` acknowledge, dead letter and retry; `bounds.rs` the age and size
//! bounds and the operator's purge; `disk.rs` the `fsync`ed files and folders and the
//! lock; `format.rs` the record file and its name; `inspect.rs` the read-only listing.
//!
//! # Design constraints
//!
//! - One file per record. Records are small (a few KiB of JSON) and few (thousands at
//!   most), so a folder of files is fast enough, needs no compaction, and lets an operator
//!   inspect, copy or remove records with ordinary tools.
//! - Only `rename` and `unlink` change which folder a record is in; both are atomic within
//!   one filesystem, so after a crash a record is wholly in one folder or another.
//! - Nothing is reported durable before `fsync` of the file *and* of the folder that names
//!   it. A rename without the folder `fsync` may be undone by a power cut.
//! - The spool never reads the clock: every operation that needs the time takes a
//!   `now: SystemTime`, so tests control time.
//! - One process at a time: an exclusive `flock(2)` on `LOCK` (std's `File::try_lock`).
//!   A second opener gets [`SpoolError::Locked`]; [`inspect`] reads without the lock.
//!
//! # On-disk layout
//!
//! ```text
//! <dir>/                       created 0700, like every folder below
//!   LOCK                       locked while a Spool is open; holds its pid (informative)
//!   tmp/                       records and responses being written; never acknowledged to anyone
//!   ready/                     durable records awaiting delivery
//!     {seq:020}-{uuid}.rec
//!   dead/                      records Graph rejected permanently, each with Graph's answer
//!     {seq:020}-{uuid}.rec
//!     {seq:020}-{uuid}.response.json
//!   corrupt/                   files that failed verification, kept for a human, never deleted
//! ```
//!
//! A record file is named by a [`RecordId`]: a sequence number, zero-padded to 20 digits
//! (so lexical order is age order and replay is oldest first), a dash, and a random UUID
//! (so names never collide, even if a sequence number is reused: see below). On open the
//! next sequence number is one more than the highest found in `ready/`, `dead/` and
//! `corrupt/`. A sequence number of a record that was acknowledged and deleted may be
//! handed out again, but only when no remaining record is newer, so order is preserved.
//!
//! # Record file format (version 1)
//!
//! ```text
//! vtcq-spool 1 <sha256-hex-of-body> <body-len> <created-unix-ms>\n<body bytes>
//! ```
//!
//! - One header line of ASCII fields separated by single spaces, ended by `\n`: the magic
//!   `vtcq-spool`; the format version `1`; the SHA-256 of the body as 64 lowercase hex
//!   digits; the body length in bytes, decimal; the creation time (the `now` given to
//!   [`Spool::enqueue`]) in milliseconds since the Unix epoch, decimal (0 for a time before
//!   the epoch). Decimals are plain ASCII digits: no sign, no spaces.
//! - Then exactly `<body-len>` bytes of body, taken verbatim (it may contain newlines).
//! - A file is valid only if the magic and version match, the header is within its first
//!   128 bytes with exactly five fields, the bytes after the newline number exactly
//!   `<body-len>`, and their SHA-256 matches. Anything else is moved to `corrupt/` (an
//!   `error!` log line naming the file and the defect, counted in
//!   [`SpoolStats::corrupt_total`]), never deleted. A name that is not a record name in
//!   `ready/` is treated the same way.
//! - The size of a record, for [`SpoolLimits::max_bytes`], is the size of its file
//!   (header + body).
//!
//! The dead-letter response `dead/<id>.response.json` is a JSON object: `record` (the id),
//! `status`, `headers` (array of `[name, value]` pairs as given), `body` (Graph's answer,
//! cut at 64 KiB, with `body_truncated`), `time` (RFC 3339) and `time_unix_ms`.
//!
//! # Invariants
//!
//! 1. A record [`Spool::enqueue`] returned `Ok` for is in `ready/` (durably) until
//!    [`Spool::acknowledge`], [`Spool::dead_letter`], a bound ([`DropReason`]),
//!    [`Spool::purge`] or verification (to `corrupt/`) removes it, and each of those logs it.
//! 2. `ready/` holds only complete, verified-on-read records; `tmp/` is the only place a
//!    partial file can be.
//! 3. [`Spool::pending`] is sorted by [`RecordId`], which is enqueue order (records moved
//!    back by [`Spool::retry_dead`] keep their id and so their place).
//! 4. [`SpoolStats::bytes`] is the sum of the sizes of the files in `ready/`.
//!
//! # Operations and what a crash at each step leaves
//!
//! "Crash" means the process dies or the machine loses power between two steps. After a
//! crash, [`Spool::open`] (1) deletes everything in `tmp/` (logged at warn: none of it was
//! ever acknowledged to a caller), (2) verifies every file in `ready/` and moves bad ones
//! to `corrupt/`, (3) applies the age bound and then the size bound.
//!
//! **Enqueue** (`enqueue(body, now)`):
//!
//! 1. Refuse a record larger than `max_bytes` ([`SpoolError::TooLarge`]): it could never
//!    fit, and evicting everything for it would be worse.
//! 2. Write header + body to `tmp/<id>.rec` (created new, 0600), `fsync` it.
//!    Crash: a partial or complete file in `tmp/`, deleted on open; the caller never got
//!    `Ok`, so still has the record. Error (disk full, read-only, permission): the file in
//!    `tmp/` is removed and [`SpoolError::Io`] names it; nothing else changed.
//! 3. `rename` it to `ready/<id>.rec`. Crash: it is in `tmp/` (deleted) or `ready/`
//!    (recovered and delivered although the caller saw no `Ok`: at-least-once).
//! 4. `fsync` `ready/`. Only now is `Ok(id)` returned. If this `fsync` fails the file is
//!    unlinked again and the error returned, so that a caller who retries does not spool
//!    the record twice (a crash right then may still resurrect it: at-least-once).
//! 5. If `ready/` now exceeds `max_bytes`, evict the oldest other records until it fits
//!    (each one an `error!` log line with name, age and size, counted in
//!    [`SpoolStats::dropped_total`]), then `fsync` `ready/`. Crash: `ready/` is over the
//!    bound, and open applies it again; nothing beyond what the bound demands is lost.
//!
//! *Evict after writing, not before.* Evicting first would free disk space for the new
//! record on a full disk, but if the write then failed anyway two records would be lost
//! instead of one. The byte bound is the operator's budget for the spool, not a disk-space
//! manager (size the filesystem above `max_bytes`); so a failed enqueue never evicts
//! anything, and an eviction happens only once the new record is durable. `ready/` may
//! briefly hold `max_bytes` plus one record.
//!
//! **Acknowledge** (after Graph's 2xx): `unlink` `ready/<id>.rec`, then `fsync` `ready/`.
//! Crash before the unlink is durable: the record is recovered and sent again
//! (at-least-once; Graph has to tolerate a duplicate, the spool never loses one).
//!
//! **Dead letter** (Graph refused the record for good):
//!
//! 1. Write `tmp/<id>.response.json`, `fsync`, `rename` to `dead/`, `fsync` `dead/`.
//!    Crash: a leftover in `tmp/` (deleted) or an orphan response in `dead/`; the record
//!    is still in `ready/` and is sent again (and refused again, which rewrites the
//!    response).
//! 2. `rename` `ready/<id>.rec` to `dead/<id>.rec`, `fsync` `dead/` then `ready/`. Crash:
//!    the record is in `ready/` (sent again) or in `dead/` with its response.
//!
//! **Retry dead** (operator): verify `dead/<id>.rec` (bad: to `corrupt/`), `rename` it to
//! `ready/`, `fsync` `ready/` and `dead/`, then delete its response and `fsync` `dead/`.
//! Crash: the record is in `dead/` (retry again) or in `ready/`, perhaps with a stale
//! response left in `dead/`. A retried record keeps its id, so it goes before newer
//! records, and its creation time, so a record older than `max_age` is dropped by the next
//! [`Spool::expire`]: raise `max_age` before retrying old dead letters.
//!
//! **Expire** (`expire(now)`) and the size bound: `unlink` each dropped record (logged at
//! error, counted by [`DropReason`]), then `fsync` `ready/`. Crash: a record whose unlink
//! was not durable is found again on open, and dropped again.
//!
//! **Purge** (operator): `unlink` every file in the chosen folders (each logged at warn),
//! `fsync` them. The only way a file in `corrupt/` goes away.
//!
//! # Counters
//!
//! [`SpoolStats`] counts since this [`Spool`] was opened (including what `open` found);
//! they are not persisted.

mod bounds;
mod disk;
mod format;
mod inspect;
mod outcome;
mod recover;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use uuid::Uuid;

pub use format::{Defect, ParseRecordIdError, RecordId};
pub use inspect::{inspect, InspectedRecord, Inspection};

use disk::{private_dir_builder, sync_dir, take_lock, write_new_file};
use format::{decode, encode_header, unix_ms};

/// The lock file's name.
const LOCK_NAME: &str = "LOCK";
/// Graph's answer is kept up to this many bytes: enough for any error document, while a
/// misbehaving proxy's megabyte of HTML cannot fill `dead/`.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// The spool's bounds (config section `[spool]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpoolLimits {
    /// Largest total size of the files in `ready/`; the oldest records are dropped to stay
    /// under it.
    pub max_bytes: u64,
    /// Records older than this (by their creation time) are dropped by [`Spool::expire`].
    pub max_age: Duration,
}

/// A record waiting in `ready/` (or `dead/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordInfo {
    /// Its id.
    pub id: RecordId,
    /// The `now` given to [`Spool::enqueue`], to the millisecond.
    pub created: SystemTime,
    /// Size of its file (header + body), as counted against [`SpoolLimits::max_bytes`].
    pub size: u64,
}

/// What [`Spool::open`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Intact records found in `ready/` (before the bounds were applied): the records
    /// pending after open are `recovered - expired - evicted`.
    pub recovered: usize,
    /// Leftovers deleted from `tmp/` (writes a crash interrupted; never acknowledged).
    pub removed_tmp: usize,
    /// Files moved from `ready/` to `corrupt/`.
    pub corrupt: usize,
    /// Records dropped for being older than `max_age`.
    pub expired: usize,
    /// Records dropped because `ready/` exceeded `max_bytes` (the bound was lowered, or a
    /// crash came between an enqueue and its evictions).
    pub evicted: usize,
}

/// Counters and gauges, for metrics. Totals count since this [`Spool`] was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Records in `ready/`.
    pub records: usize,
    /// Total size of the records in `ready/`.
    pub bytes: u64,
    /// Records enqueued.
    pub enqueued_total: u64,
    /// Records acknowledged (delivered).
    pub acknowledged_total: u64,
    /// Records moved to `dead/`.
    pub dead_lettered_total: u64,
    /// Records dropped by a bound (`dropped_size_total + dropped_age_total`).
    pub dropped_total: u64,
    /// Records dropped by [`SpoolLimits::max_bytes`].
    pub dropped_size_total: u64,
    /// Records dropped by [`SpoolLimits::max_age`].
    pub dropped_age_total: u64,
    /// Files moved to `corrupt/`.
    pub corrupt_total: u64,
    /// Records moved from `dead/` back to `ready/`.
    pub retried_total: u64,
    /// Records deleted by [`Spool::purge`] from `ready/` or `dead/`, and files from `corrupt/`.
    pub purged_total: u64,
    /// Records whose file disappeared from `ready/` behind the spool's back (someone
    /// deleted it by hand); logged at error.
    pub vanished_total: u64,
}

/// Why a bound dropped a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// `ready/` exceeded [`SpoolLimits::max_bytes`]; the oldest went first.
    Size,
    /// Older than [`SpoolLimits::max_age`].
    Age,
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DropReason::Size => "size",
            DropReason::Age => "age",
        })
    }
}

/// Which folders [`Spool::purge`] empties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeScope {
    /// `dead/`: rejected records and their responses.
    Dead,
    /// `corrupt/`.
    Corrupt,
    /// `ready/`: every record not yet delivered.
    Ready,
    /// All three.
    All,
}

/// Spool errors. An I/O error names the operation and the path; its cause is the
/// [`source`](std::error::Error::source), so a chained print reads
/// `cannot write spool record /x/tmp/…: No space left on device (os error 28)`.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Another process (or another [`Spool`] in this one) has the spool open.
    #[error("spool {} is locked by another process (see its LOCK file for the pid)", dir.display())]
    Locked {
        /// The spool folder.
        dir: PathBuf,
    },
    /// A filesystem operation failed.
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What was being done, e.g. "write spool record".
        op: &'static str,
        /// The file or folder it was done to.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// A record larger than the whole spool; nothing was evicted for it.
    #[error("record of {size} bytes is larger than the spool's max_bytes ({max_bytes}); refused")]
    TooLarge {
        /// The record's size with its header.
        size: u64,
        /// The bound.
        max_bytes: u64,
    },
    /// The record failed verification and was moved to `corrupt/`.
    #[error(
        "spool record {} is corrupt ({defect}); moved to {}",
        path.display(),
        moved_to.display()
    )]
    Corrupt {
        /// Where it was.
        path: PathBuf,
        /// Where it is now.
        moved_to: PathBuf,
        /// What was wrong.
        defect: Defect,
    },
    /// No such record in the folder the operation works on.
    #[error("no spool record {id} in {}", path.display())]
    NotFound {
        /// The id asked for.
        id: RecordId,
        /// The folder looked in.
        path: PathBuf,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Places where the test suite stops an operation as a crash would, leaving the disk as
/// it is at that step (see "Operations and what a crash at each step leaves").
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// Half the record written to `tmp/`, not synced.
    EnqueueMidWrite,
    /// The record complete and synced in `tmp/`.
    EnqueueAfterTmpSync,
    /// The record renamed into `ready/`, `ready/` not synced.
    EnqueueAfterRename,
    /// Before the acknowledged record is unlinked.
    AckBeforeUnlink,
    /// After the unlink, before `ready/` is synced.
    AckAfterUnlink,
    /// The response is in `dead/`, the record still in `ready/`.
    DeadAfterResponse,
    /// The record renamed into `dead/`, folders not synced.
    DeadAfterRecordRename,
    /// The first record renamed back into `ready/`, its response not yet deleted.
    RetryAfterRename,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    created: SystemTime,
    size: u64,
}

/// The spool, open and locked. See the [module documentation](self).
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    tmp: PathBuf,
    ready: PathBuf,
    dead: PathBuf,
    corrupt: PathBuf,
    limits: SpoolLimits,
    /// `ready/`, in id (= age) order.
    index: BTreeMap<RecordId, Entry>,
    bytes: u64,
    next_seq: u64,
    stats: SpoolStats,
    /// Held for the lock; closing it (on drop) releases the lock.
    _lock: File,
    #[cfg(any(test, feature = "test-support"))]
    crash_at: Option<CrashPoint>,
}

impl Spool {
    /// Opens (creating, 0700) and locks the spool in `dir`, cleans `tmp/`, verifies every
    /// record in `ready/` and applies the bounds at `now`.
    ///
    /// Fails with [`SpoolError::Locked`] when another [`Spool`] holds `dir`, and with
    /// [`SpoolError::Io`] when a folder cannot be created, listed or synced.
    pub fn open(
        dir: &Path,
        limits: SpoolLimits,
        now: SystemTime,
    ) -> Result<(Spool, OpenReport), SpoolError> {
        let existed = dir.is_dir();
        private_dir_builder()
            .create(dir)
            .map_err(io_err("create spool folder", dir))?;
        if !existed {
            // The new folder's own name must survive a power cut too.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let lock = take_lock(dir)?;
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            tmp: dir.join("tmp"),
            ready: dir.join("ready"),
            dead: dir.join("dead"),
            corrupt: dir.join("corrupt"),
            limits,
            index: BTreeMap::new(),
            bytes: 0,
            next_seq: 1,
            stats: SpoolStats::default(),
            _lock: lock,
            #[cfg(any(test, feature = "test-support"))]
            crash_at: None,
        };
        for sub in [&spool.tmp, &spool.ready, &spool.dead, &spool.corrupt] {
            private_dir_builder()
                .create(sub)
                .map_err(io_err("create spool folder", sub))?;
        }
        sync_dir(dir)?;

        let mut report = OpenReport {
            removed_tmp: spool.clean_tmp()?,
            ..OpenReport::default()
        };
        spool.next_seq = spool.highest_seq()?.saturating_add(1);
        let (recovered, corrupt) = spool.load_ready()?;
        report.recovered = recovered;
        report.corrupt = corrupt;
        report.expired = spool.expire(now).len();
        report.evicted = spool.enforce_size(now, None);
        if report.recovered > 0 || report.removed_tmp > 0 || report.corrupt > 0 {
            tracing::info!(
                dir = %dir.display(),
                recovered = report.recovered,
                removed_tmp = report.removed_tmp,
                corrupt = report.corrupt,
                expired = report.expired,
                evicted = report.evicted,
                "spool opened"
            );
        }
        Ok((spool, report))
    }

    /// Spools `body` durably and returns its id; see "Enqueue" in the module doc for the
    /// steps. On `Ok` the record survives a crash. On `Err` it is not in the spool (but
    /// see the at-least-once note) and nothing was evicted.
    ///
    /// If the spool then exceeds `max_bytes`, the oldest other records are dropped (logged
    /// at error, counted).
    pub fn enqueue(&mut self, body: &[u8], now: SystemTime) -> Result<RecordId, SpoolError> {
        let header = encode_header(body, unix_ms(now));
        let size = (header.len() + body.len()) as u64;
        if size > self.limits.max_bytes {
            return Err(SpoolError::TooLarge {
                size,
                max_bytes: self.limits.max_bytes,
            });
        }
        let id = RecordId::new(self.next_seq, Uuid::new_v4());
        // Taken even if the write fails: a skipped number costs nothing, a reused one
        // could collide with a leftover.
        self.next_seq = self.next_seq.saturating_add(1);
        let name = id.file_name();
        let tmp = self.tmp.join(&name);
        self.crash_mid_write(&tmp, header.as_bytes())?;
        write_new_file(&tmp, &[header.as_bytes(), body], "write spool record")?;
        self.crash(CrashPoint::EnqueueAfterTmpSync)?;
        let ready = self.ready.join(&name);
        if let Err(source) = fs::rename(&tmp, &ready) {
            let _ = fs::remove_file(&tmp);
            return Err(SpoolError::Io {
                op: "move spool record to",
                path: ready,
                source,
            });
        }
        self.crash(CrashPoint::EnqueueAfterRename)?;
        if let Err(e) = sync_dir(&self.ready) {
            // Not known to be durable, so not acknowledged: take it back, lest the caller's
            // retry spool it twice.
            let _ = fs::remove_file(&ready);
            return Err(e);
        }
        // What the header says (milliseconds), so the age is the same after a reopen.
        let created = SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_millis(unix_ms(now)))
            .unwrap_or(now);
        self.index.insert(id.clone(), Entry { created, size });
        self.bytes += size;
        self.stats.enqueued_total += 1;
        self.enforce_size(now, Some(&id));
        Ok(id)
    }

    /// The records awaiting delivery, oldest first.
    pub fn pending(&self) -> Vec<RecordInfo> {
        self.index
            .iter()
            .map(|(id, e)| RecordInfo {
                id: id.clone(),
                created: e.created,
                size: e.size,
            })
            .collect()
    }

    /// The oldest record awaiting delivery (the head of [`Spool::pending`], without
    /// copying the whole list).
    pub fn oldest(&self) -> Option<RecordInfo> {
        self.index.iter().next().map(|(id, e)| RecordInfo {
            id: id.clone(),
            created: e.created,
            size: e.size,
        })
    }

    fn entry(&self, id: &RecordId) -> Result<Entry, SpoolError> {
        self.index
            .get(id)
            .copied()
            .ok_or_else(|| SpoolError::NotFound {
                id: id.clone(),
                path: self.ready.clone(),
            })
    }

    /// Forgets a ready record whose file someone removed by hand, loudly.
    fn vanished(&mut self, id: &RecordId, path: &Path) -> SpoolError {
        if let Some(entry) = self.index.remove(id) {
            self.bytes -= entry.size;
            self.stats.vanished_total += 1;
        }
        tracing::error!(
            record = %id,
            path = %path.display(),
            "spool record file disappeared (deleted by hand?); it will not be delivered",
        );
        SpoolError::NotFound {
            id: id.clone(),
            path: self.ready.clone(),
        }
    }

    /// The body of a ready record, verified. A record that fails verification is moved to
    /// `corrupt/` (logged, counted) and [`SpoolError::Corrupt`] returned: skip it and go on.
    pub fn read(&mut self, id: &RecordId) -> Result<Vec<u8>, SpoolError> {
        let entry = self.entry(id)?;
        let path = self.ready.join(id.file_name());
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.vanished(id, &path)),
            Err(source) => {
                return Err(SpoolError::Io {
                    op: "read spool record",
                    path,
                    source,
                })
            }
        };
        let defect = match decode(&bytes) {
            Ok(record) => return Ok(record.body.to_vec()),
            Err(defect) => defect,
        };
        let moved_to = self.move_to_corrupt(&path, &id.file_name(), &defect)?;
        self.index.remove(id);
        self.bytes -= entry.size;
        Err(SpoolError::Corrupt {
            path,
            moved_to,
            defect,
        })
    }

    /// Counters and gauges.
    pub fn stats(&self) -> SpoolStats {
        SpoolStats {
            records: self.index.len(),
            bytes: self.bytes,
            ..self.stats.clone()
        }
    }

    /// The spool folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bounds in force.
    pub fn limits(&self) -> SpoolLimits {
        self.limits
    }

    /// Makes the next operation that reaches `point` stop there as a crash would: the disk
    /// is left as it is at that step and an error is returned. The [`Spool`] must then be
    /// dropped, as a crashed process would be, and opened again. For tests only.
    #[cfg(any(test, feature = "test-support"))]
    #[doc(hidden)]
    pub fn simulate_crash_at(&mut self, point: CrashPoint) {
        self.crash_at = Some(point);
    }

    #[cfg(any(test, feature = "test-support"))]
    fn crash(&mut self, point: CrashPoint) -> Result<(), SpoolError> {
        if self.crash_at != Some(point) {
            return Ok(());
        }
        self.crash_at = None;
        Err(SpoolError::Io {
            op: "simulate a crash in",
            path: self.dir.clone(),
            source: io::Error::other(format!("simulated crash at {point:?}")),
        })
    }

    #[cfg(not(any(test, feature = "test-support")))]
    #[inline]
    fn crash(&mut self, _point: CrashPoint) -> Result<(), SpoolError> {
        Ok(())
    }

    /// The one crash point that needs a half-written file.
    #[cfg(any(test, feature = "test-support"))]
    fn crash_mid_write(&mut self, tmp: &Path, header: &[u8]) -> Result<(), SpoolError> {
        if self.crash_at == Some(CrashPoint::EnqueueMidWrite) {
            let half = header.get(..header.len() / 2).unwrap_or_default();
            let _ = disk::private_file_options()
                .open(tmp)
                .and_then(|mut f| std::io::Write::write_all(&mut f, half));
        }
        self.crash(CrashPoint::EnqueueMidWrite)
    }

    #[cfg(not(any(test, feature = "test-support")))]
    #[inline]
    fn crash_mid_write(&mut self, _tmp: &Path, _header: &[u8]) -> Result<(), SpoolError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::bounds::{age_of, human_age};
    use super::outcome::truncate;
    use super::*;

    #[test]
    fn truncate_cuts_on_a_character_boundary() {
        assert_eq!(truncate("abc", 3), ("abc", false));
        assert_eq!(truncate("abcd", 3), ("abc", true));
        assert_eq!(truncate("aé", 2), ("a", true));
        assert_eq!(truncate("", 0), ("", false));
    }

    #[test]
    fn ages_are_whole_seconds_and_never_negative() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        assert_eq!(age_of(t, t - Duration::from_secs(5)), Duration::ZERO);
        assert_eq!(
            human_age(age_of(t, t + Duration::from_millis(90_500))),
            "1m 30s"
        );
    }

    #[test]
    fn io_errors_name_the_operation_and_the_path() {
        let err = io_err("write spool record", Path::new("/x/tmp/a.rec"))(
            io::Error::from_raw_os_error(28),
        );
        assert_eq!(err.to_string(), "cannot write spool record /x/tmp/a.rec");
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(
            source.as_deref(),
            Some("No space left on device (os error 28)")
        );
    }

    #[test]
    fn a_crash_point_fires_once() {
        let dir = std::env::temp_dir().join(format!("vtcq-spool-unit-{}", Uuid::new_v4()));
        let limits = SpoolLimits {
            max_bytes: 1 << 20,
            max_age: Duration::from_secs(60),
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let result = (|| -> Result<(), SpoolError> {
            let (mut spool, _) = Spool::open(&dir, limits, now)?;
            spool.simulate_crash_at(CrashPoint::EnqueueAfterTmpSync);
            assert!(spool.enqueue(b"x", now).is_err());
            assert!(spool.enqueue(b"y", now).is_ok());
            Ok(())
        })();
        let _ = fs::remove_dir_all(&dir);
        assert!(result.is_ok(), "{result:?}");
    }
}
