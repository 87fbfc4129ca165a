//! A record's fate after a delivery attempt: acknowledged (deleted), dead-lettered with
//! Graph's answer, or (by the operator) moved back from `dead/` to be tried again.

use std::fs;
use std::io;
use std::time::SystemTime;

use super::disk::{is_regular_file, list_dir, sync_dir, write_new_file};
use super::format::{self, decode, unix_ms, RecordId};
use super::{io_err, CrashPoint, Entry, RecordInfo, Spool, SpoolError, MAX_RESPONSE_BODY};

impl Spool {
    /// Removes a record Graph has accepted (2xx): unlink, then `fsync` of `ready/`.
    pub fn acknowledge(&mut self, id: &RecordId) -> Result<(), SpoolError> {
        let entry = self.entry(id)?;
        let path = self.ready.join(id.file_name());
        self.crash(CrashPoint::AckBeforeUnlink)?;
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::warn!(
                    record = %id,
                    path = %path.display(),
                    "acknowledged spool record was already gone",
                );
            }
            Err(source) => {
                return Err(SpoolError::Io {
                    op: "delete acknowledged spool record",
                    path,
                    source,
                })
            }
        }
        // Unlinked: whatever the fsync says, it is no longer pending in this process.
        self.index.remove(id);
        self.bytes -= entry.size;
        self.stats.acknowledged_total += 1;
        self.crash(CrashPoint::AckAfterUnlink)?;
        sync_dir(&self.ready)
    }

    /// Moves a record Graph refused for good to `dead/`, with Graph's answer in
    /// `dead/<id>.response.json` (written durably first).
    pub fn dead_letter(
        &mut self,
        id: &RecordId,
        status: u16,
        response_headers: &[(String, String)],
        response_body: &str,
        now: SystemTime,
    ) -> Result<(), SpoolError> {
        let entry = self.entry(id)?;
        let (body, truncated) = truncate(response_body, MAX_RESPONSE_BODY);
        let response = serde_json::json!({
            "record": id.to_string(),
            "status": status,
            "headers": response_headers,
            "body": body,
            "body_truncated": truncated,
            "time": humantime::format_rfc3339_millis(now).to_string(),
            "time_unix_ms": unix_ms(now),
        });
        let tmp = self.tmp.join(id.response_name());
        let mut text = serde_json::to_vec_pretty(&response).map_err(|e| SpoolError::Io {
            op: "encode dead-letter response",
            path: tmp.clone(),
            source: e.into(),
        })?;
        text.push(b'\n');
        write_new_file(&tmp, &[&text], "write dead-letter response")?;
        let dead_response = self.dead.join(id.response_name());
        if let Err(source) = fs::rename(&tmp, &dead_response) {
            let _ = fs::remove_file(&tmp);
            return Err(SpoolError::Io {
                op: "move dead-letter response to",
                path: dead_response,
                source,
            });
        }
        sync_dir(&self.dead)?;
        self.crash(CrashPoint::DeadAfterResponse)?;
        let from = self.ready.join(id.file_name());
        let to = self.dead.join(id.file_name());
        match fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.vanished(id, &from)),
            Err(source) => {
                return Err(SpoolError::Io {
                    op: "move spool record to",
                    path: to,
                    source,
                })
            }
        }
        self.index.remove(id);
        self.bytes -= entry.size;
        self.stats.dead_lettered_total += 1;
        self.crash(CrashPoint::DeadAfterRecordRename)?;
        sync_dir(&self.dead)?;
        sync_dir(&self.ready)
    }

    /// The records in `dead/`, oldest first. A record whose header cannot be read is
    /// listed with the epoch as its creation time (it is verified when retried).
    pub fn dead_letters(&self) -> Result<Vec<RecordInfo>, SpoolError> {
        let mut out = Vec::new();
        for (name, path) in list_dir(&self.dead)? {
            let Some(id) = RecordId::from_file_name(&name) else {
                continue;
            };
            let bytes = fs::read(&path).map_err(io_err("read dead-lettered record", &path))?;
            let created = format::header_created(&bytes).unwrap_or_else(|| {
                tracing::warn!(
                    path = %path.display(),
                    "dead-lettered record has no readable header",
                );
                SystemTime::UNIX_EPOCH
            });
            out.push(RecordInfo {
                id,
                created,
                size: bytes.len() as u64,
            });
        }
        Ok(out)
    }

    /// Moves one dead record (`Some(id)`) or all of them back to `ready/`, verified; they
    /// keep their id (and so their place before newer records) and their creation time.
    /// Their responses are deleted once the move is durable. Returns how many were moved.
    ///
    /// A corrupt dead record goes to `corrupt/` instead (logged, counted): for `Some(id)`
    /// that is [`SpoolError::Corrupt`]; for `None` the others are still moved.
    /// Moving records back does not evict: the size bound applies at the next enqueue.
    pub fn retry_dead(&mut self, id: Option<&RecordId>) -> Result<usize, SpoolError> {
        let single = id.is_some();
        let ids: Vec<RecordId> = match id {
            Some(id) => vec![id.clone()],
            None => list_dir(&self.dead)?
                .iter()
                .filter_map(|(name, _)| RecordId::from_file_name(name))
                .collect(),
        };
        let mut moved = Vec::new();
        let mut failure = None;
        for id in ids {
            match self.retry_one(&id) {
                Ok(()) => moved.push(id),
                // Already logged and counted by move_to_corrupt; the rest still deserve
                // their retry.
                Err(SpoolError::Corrupt { .. }) if !single => continue,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            if moved.len() == 1 {
                self.crash(CrashPoint::RetryAfterRename)?;
            }
        }
        if !moved.is_empty() {
            sync_dir(&self.ready)?;
            sync_dir(&self.dead)?;
            // Only now that the records are durably back is Graph's old answer dropped;
            // if the record is refused again, a new one is written.
            for id in &moved {
                let response = self.dead.join(id.response_name());
                match fs::remove_file(&response) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(
                            path = %response.display(),
                            error = %e,
                            "cannot delete the old response of a retried record",
                        )
                    }
                }
            }
            sync_dir(&self.dead)?;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(moved.len()),
        }
    }

    pub(super) fn retry_one(&mut self, id: &RecordId) -> Result<(), SpoolError> {
        let name = id.file_name();
        let from = self.dead.join(&name);
        if !is_regular_file(&from) {
            return Err(SpoolError::NotFound {
                id: id.clone(),
                path: self.dead.clone(),
            });
        }
        let bytes = fs::read(&from).map_err(io_err("read dead-lettered record", &from))?;
        let created = match decode(&bytes) {
            Ok(record) => record.created,
            Err(defect) => {
                let moved_to = self.move_to_corrupt(&from, &name, &defect)?;
                return Err(SpoolError::Corrupt {
                    path: from,
                    moved_to,
                    defect,
                });
            }
        };
        let to = self.ready.join(&name);
        fs::rename(&from, &to).map_err(io_err("move spool record to", &to))?;
        let size = bytes.len() as u64;
        // The same id can already be pending if a crash came between the two renames of
        // a dead letter; the file is the same record, so count it once.
        if let Some(old) = self.index.insert(id.clone(), Entry { created, size }) {
            self.bytes -= old.size;
        }
        self.bytes += size;
        self.stats.retried_total += 1;
        tracing::info!(record = %id, "dead-lettered record moved back to the queue");
        Ok(())
    }
}

/// `s` cut to at most `max` bytes on a character boundary, and whether it was cut.
pub(super) fn truncate(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s.get(..end).unwrap_or_default(), true)
}
