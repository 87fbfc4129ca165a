//! What [`Spool::open`] does with what an earlier process (or a crash) left: deletes
//! unfinished writes in `tmp/`, finds the next sequence number, verifies every record in
//! `ready/` and moves bad files to `corrupt/` (never deleting them).

use std::fs;
use std::path::{Path, PathBuf};

use super::disk::{is_regular_file, list_dir, sync_dir};
use super::format::{self, decode, Defect, RecordId};
use super::{io_err, Entry, Spool, SpoolError};

impl Spool {
    /// Deletes what a crash left in `tmp/`. Nothing there was acknowledged to anyone (an
    /// enqueue returns only after its record is in `ready/`), so nothing is lost.
    pub(super) fn clean_tmp(&mut self) -> Result<usize, SpoolError> {
        let mut removed = 0;
        for (name, path) in list_dir(&self.tmp)? {
            let meta =
                fs::symlink_metadata(&path).map_err(io_err("inspect spool leftover", &path))?;
            let result = if meta.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            result.map_err(io_err("delete spool leftover", &path))?;
            tracing::warn!(
                file = %name,
                size = meta.len(),
                "deleted an unfinished spool write left by a crash (it was never acknowledged)",
            );
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.tmp)?;
        }
        Ok(removed)
    }

    /// The highest sequence number named in `ready/`, `dead/` or `corrupt/` (0 if none).
    pub(super) fn highest_seq(&self) -> Result<u64, SpoolError> {
        let mut highest = 0;
        for folder in [&self.ready, &self.dead, &self.corrupt] {
            for (name, _) in list_dir(folder)? {
                if let Some(seq) = format::leading_seq(&name) {
                    highest = highest.max(seq);
                }
            }
        }
        Ok(highest)
    }

    /// Verifies every file in `ready/`; indexes the good ones, moves the rest to
    /// `corrupt/`. Returns (recovered, corrupt).
    pub(super) fn load_ready(&mut self) -> Result<(usize, usize), SpoolError> {
        let mut corrupt = 0;
        for (name, path) in list_dir(&self.ready)? {
            let verdict = match RecordId::from_file_name(&name) {
                None => Err(Defect::BadName),
                Some(_) if !is_regular_file(&path) => Err(Defect::NotAFile),
                Some(id) => {
                    let bytes = fs::read(&path).map_err(io_err("read spool record", &path))?;
                    decode(&bytes).map(|d| (id, d.created, bytes.len() as u64))
                }
            };
            match verdict {
                Ok((id, created, size)) => {
                    self.bytes += size;
                    self.index.insert(id, Entry { created, size });
                }
                Err(defect) => {
                    self.move_to_corrupt(&path, &name, &defect)?;
                    corrupt += 1;
                }
            }
        }
        Ok((self.index.len(), corrupt))
    }

    /// Moves a bad file to `corrupt/` (never deletes it), logs it loudly and counts it.
    pub(super) fn move_to_corrupt(
        &mut self,
        from: &Path,
        name: &str,
        defect: &Defect,
    ) -> Result<PathBuf, SpoolError> {
        let mut to = self.corrupt.join(name);
        // Ids are unique, but a file could be corrupted twice (retried, then bad again)
        // or a stray name repeated: never overwrite what a human has still to look at.
        let mut n = 1;
        while fs::symlink_metadata(&to).is_ok() {
            to = self.corrupt.join(format!("{name}.{n}"));
            n += 1;
        }
        fs::rename(from, &to).map_err(io_err("move corrupt spool file to", &to))?;
        sync_dir(&self.corrupt)?;
        if let Some(parent) = from.parent() {
            sync_dir(parent)?;
        }
        self.stats.corrupt_total += 1;
        tracing::error!(
            file = %from.display(),
            moved_to = %to.display(),
            %defect,
            "corrupt spool file moved aside for inspection; its record will not be delivered",
        );
        Ok(to)
    }
}
