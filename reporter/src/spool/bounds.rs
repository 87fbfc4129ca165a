//! What removes records other than delivery: the age bound ([`Spool::expire`]), the size
//! bound (after each enqueue), and the operator's [`Spool::purge`]. Every drop is logged at
//! error and counted; a purge is logged at warn.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::disk::{list_dir, sync_dir};
use super::format::{self, RecordId};
use super::{DropReason, PurgeScope, RecordInfo, Spool, SpoolError};

pub(super) fn age_of(created: SystemTime, now: SystemTime) -> Duration {
    // A creation time in the future (the clock was set back) counts as new.
    now.duration_since(created).unwrap_or(Duration::ZERO)
}

pub(super) fn human_age(age: Duration) -> String {
    humantime::format_duration(Duration::from_secs(age.as_secs())).to_string()
}

impl Spool {
    /// Drops the oldest records (never `keep`) until `ready/` fits in `max_bytes`.
    /// Returns how many were dropped.
    pub(super) fn enforce_size(&mut self, now: SystemTime, keep: Option<&RecordId>) -> usize {
        let mut dropped = 0;
        while self.bytes > self.limits.max_bytes {
            let Some(oldest) = self.index.keys().find(|id| Some(*id) != keep).cloned() else {
                break;
            };
            if self.drop_record(&oldest, DropReason::Size, now).is_none() {
                // Could not unlink (logged): stay over the bound rather than loop.
                break;
            }
            dropped += 1;
        }
        if dropped > 0 {
            self.sync_after_drop();
        }
        dropped
    }

    /// Unlinks one ready record for a bound, loudly. `None` if the unlink failed (logged;
    /// the record stays).
    pub(super) fn drop_record(
        &mut self,
        id: &RecordId,
        reason: DropReason,
        now: SystemTime,
    ) -> Option<RecordInfo> {
        let entry = *self.index.get(id)?;
        let path = self.ready.join(id.file_name());
        match fs::remove_file(&path) {
            Ok(()) => {}
            // Gone already: the intent is met.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(
                    record = %id,
                    path = %path.display(),
                    %reason,
                    error = %e,
                    "cannot drop spool record over the bound; it stays",
                );
                return None;
            }
        }
        self.index.remove(id);
        self.bytes -= entry.size;
        self.stats.dropped_total += 1;
        let age = human_age(age_of(entry.created, now));
        match reason {
            DropReason::Size => {
                self.stats.dropped_size_total += 1;
                tracing::error!(
                    record = %id,
                    %age,
                    size = entry.size,
                    max_bytes = self.limits.max_bytes,
                    reason = "size",
                    "spool full: dropped the oldest record, it will never be delivered",
                )
            }
            DropReason::Age => {
                self.stats.dropped_age_total += 1;
                tracing::error!(
                    record = %id,
                    %age,
                    size = entry.size,
                    max_age = %humantime::format_duration(self.limits.max_age),
                    reason = "age",
                    "spool record expired: dropped, it will never be delivered",
                )
            }
        }
        Some(RecordInfo {
            id: id.clone(),
            created: entry.created,
            size: entry.size,
        })
    }

    pub(super) fn sync_after_drop(&self) {
        // A drop that is not durable is redone on the next open; not worth failing for.
        if let Err(e) = sync_dir(&self.ready) {
            tracing::warn!(error = %e, "dropped records may reappear after a crash");
        }
    }

    /// Drops the ready records older than `max_age` at `now` (each logged at error and
    /// counted), and returns them.
    pub fn expire(&mut self, now: SystemTime) -> Vec<(RecordInfo, DropReason)> {
        let old: Vec<RecordId> = self
            .index
            .iter()
            .filter(|(_, e)| age_of(e.created, now) > self.limits.max_age)
            .map(|(id, _)| id.clone())
            .collect();
        let dropped: Vec<_> = old
            .iter()
            .filter_map(|id| self.drop_record(id, DropReason::Age, now))
            .map(|info| (info, DropReason::Age))
            .collect();
        if !dropped.is_empty() {
            self.sync_after_drop();
        }
        dropped
    }

    /// Deletes every record (or file, for `corrupt/`) in the chosen folders, each logged
    /// at warn, and returns how many: records for `ready/` and `dead/` (a dead record's
    /// response goes with it and is not counted), files for `corrupt/`.
    pub fn purge(&mut self, which: PurgeScope) -> Result<usize, SpoolError> {
        let mut removed = 0;
        if matches!(which, PurgeScope::Ready | PurgeScope::All) {
            removed += self.purge_ready()?;
        }
        if matches!(which, PurgeScope::Dead | PurgeScope::All) {
            removed += self.purge_folder(self.dead.clone(), false)?;
        }
        if matches!(which, PurgeScope::Corrupt | PurgeScope::All) {
            removed += self.purge_folder(self.corrupt.clone(), true)?;
        }
        Ok(removed)
    }

    pub(super) fn purge_ready(&mut self) -> Result<usize, SpoolError> {
        let ids: Vec<RecordId> = self.index.keys().cloned().collect();
        for id in &ids {
            let path = self.ready.join(id.file_name());
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(SpoolError::Io {
                        op: "delete spool record",
                        path,
                        source,
                    })
                }
            }
            if let Some(entry) = self.index.remove(id) {
                self.bytes -= entry.size;
            }
            self.stats.purged_total += 1;
            tracing::warn!(record = %id, "purged an undelivered spool record");
        }
        sync_dir(&self.ready)?;
        Ok(ids.len())
    }

    /// Empties `folder`; counts every file when `count_all`, else only record files.
    pub(super) fn purge_folder(
        &mut self,
        folder: PathBuf,
        count_all: bool,
    ) -> Result<usize, SpoolError> {
        let mut counted = 0;
        for (name, path) in list_dir(&folder)? {
            let result = if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match result {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(SpoolError::Io {
                        op: "delete spool file",
                        path,
                        source,
                    })
                }
            }
            tracing::warn!(file = %path.display(), "purged");
            if count_all || name.ends_with(format::RECORD_SUFFIX) {
                counted += 1;
                self.stats.purged_total += 1;
            }
        }
        sync_dir(&folder)?;
        Ok(counted)
    }
}
