//! A read-only look at a spool folder, for an operator's command while the daemon holds
//! the lock: nothing is locked, moved or deleted, so files may come and go while it reads
//! (a file that disappears mid-listing was delivered or moved and is simply left out).

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::disk::list_dir;
use super::format::{decode, header_created, Defect, RecordId, RESPONSE_SUFFIX};
use super::SpoolError;

/// What [`inspect`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// The spool folder.
    pub dir: PathBuf,
    /// `ready/`, oldest first.
    pub ready: Vec<InspectedRecord>,
    /// `dead/`, oldest first, each with Graph's answer when it is there.
    pub dead: Vec<InspectedRecord>,
    /// Files in `corrupt/`.
    pub corrupt: Vec<PathBuf>,
    /// Files in `tmp/`: writes in progress, or leftovers of a crash until the next open.
    pub tmp: Vec<PathBuf>,
}

/// One file in `ready/` or `dead/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InspectedRecord {
    /// The file.
    pub path: PathBuf,
    /// Its id, when the name is a record name.
    pub id: Option<RecordId>,
    /// Creation time from the header, when readable.
    pub created: Option<SystemTime>,
    /// File size.
    pub size: u64,
    /// Why it would fail verification, if it would (the next open or read moves it to
    /// `corrupt/`).
    pub defect: Option<Defect>,
    /// Dead letters: the HTTP status in the response file.
    pub status: Option<u16>,
    /// Dead letters: the response file, when there is one.
    pub response: Option<PathBuf>,
}

/// Lists `ready/`, `dead/`, `corrupt/` and `tmp/` under `dir` without taking the lock,
/// verifying each record (read-only). A missing subfolder counts as empty; a missing or
/// unreadable `dir` is [`SpoolError::Io`].
pub fn inspect(dir: &Path) -> Result<Inspection, SpoolError> {
    let meta = fs::metadata(dir).map_err(super::io_err("read spool folder", dir))?;
    if !meta.is_dir() {
        return Err(SpoolError::Io {
            op: "read spool folder",
            path: dir.to_path_buf(),
            source: io::Error::new(io::ErrorKind::NotADirectory, "not a folder"),
        });
    }
    let mut ready = Vec::new();
    for (name, path) in list_optional(&dir.join("ready"))? {
        if let Some(record) = inspect_record(&name, path)? {
            ready.push(record);
        }
    }
    let dead_dir = dir.join("dead");
    let mut dead = Vec::new();
    for (name, path) in list_optional(&dead_dir)? {
        // Responses are shown with their record; an orphan one (a crash between writing
        // it and moving the record) is harmless and overwritten by the next rejection.
        if name.ends_with(RESPONSE_SUFFIX) {
            continue;
        }
        let Some(mut record) = inspect_record(&name, path)? else {
            continue;
        };
        if let Some(id) = &record.id {
            let response = dead_dir.join(id.response_name());
            match fs::read(&response) {
                Ok(bytes) => {
                    record.status = serde_json::from_slice::<serde_json::Value>(&bytes)
                        .ok()
                        .and_then(|v| v.get("status").and_then(serde_json::Value::as_u64))
                        .and_then(|s| u16::try_from(s).ok());
                    record.response = Some(response);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(SpoolError::Io {
                        op: "read dead-letter response",
                        path: response,
                        source,
                    })
                }
            }
        }
        dead.push(record);
    }
    let paths = |sub: &str| -> Result<Vec<PathBuf>, SpoolError> {
        Ok(list_optional(&dir.join(sub))?
            .into_iter()
            .map(|(_, p)| p)
            .collect())
    };
    Ok(Inspection {
        dir: dir.to_path_buf(),
        ready,
        dead,
        corrupt: paths("corrupt")?,
        tmp: paths("tmp")?,
    })
}

fn list_optional(dir: &Path) -> Result<Vec<(String, PathBuf)>, SpoolError> {
    match list_dir(dir) {
        Err(SpoolError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Ok(Vec::new())
        }
        other => other,
    }
}

/// `None` when the file vanished while we looked (delivered, moved).
fn inspect_record(name: &str, path: PathBuf) -> Result<Option<InspectedRecord>, SpoolError> {
    let id = RecordId::from_file_name(name);
    let mut record = InspectedRecord {
        path,
        id,
        created: None,
        size: 0,
        defect: None,
        status: None,
        response: None,
    };
    let meta = match fs::symlink_metadata(&record.path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SpoolError::Io {
                op: "read spool record",
                path: record.path,
                source,
            })
        }
    };
    record.size = meta.len();
    if !meta.is_file() {
        record.defect = Some(Defect::NotAFile);
        return Ok(Some(record));
    }
    let bytes = match fs::read(&record.path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SpoolError::Io {
                op: "read spool record",
                path: record.path,
                source,
            })
        }
    };
    record.size = bytes.len() as u64;
    record.created = header_created(&bytes);
    record.defect = if record.id.is_none() {
        Some(Defect::BadName)
    } else {
        decode(&bytes).err()
    };
    Ok(Some(record))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for InspectedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "  {id}")?,
            None => write!(f, "  {}", self.path.display())?,
        }
        match self.created {
            Some(t) => write!(f, "  created {}", humantime::format_rfc3339_seconds(t))?,
            None => write!(f, "  created ?")?,
        }
        write!(f, "  {} bytes", self.size)?;
        if let Some(status) = self.status {
            write!(f, "  HTTP {status}")?;
        }
        if let Some(response) = &self.response {
            write!(f, "  response {}", response.display())?;
        }
        if let Some(defect) = &self.defect {
            write!(f, "  CORRUPT: {defect}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "spool {}", self.dir.display())?;
        let bytes: u64 = self.ready.iter().map(|r| r.size).sum();
        writeln!(
            f,
            "ready: {}, {bytes} bytes (awaiting delivery, oldest first)",
            plural(self.ready.len(), "record", "records")
        )?;
        for record in &self.ready {
            writeln!(f, "{record}")?;
        }
        writeln!(
            f,
            "dead: {} (rejected by Graph; `vtcq spool retry` requeues)",
            plural(self.dead.len(), "record", "records")
        )?;
        for record in &self.dead {
            writeln!(f, "{record}")?;
        }
        writeln!(
            f,
            "corrupt: {} (kept for inspection)",
            plural(self.corrupt.len(), "file", "files")
        )?;
        for path in &self.corrupt {
            writeln!(f, "  {}", path.display())?;
        }
        writeln!(
            f,
            "tmp: {} (writes in progress or crash leftovers)",
            plural(self.tmp.len(), "file", "files")
        )
    }
}
