//! The filesystem steps every spool operation is made of: private folders and files,
//! `fsync` of files and folders, sorted listings, and the lock that keeps one process in
//! a spool at a time.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{io_err, SpoolError, LOCK_NAME};

#[cfg(unix)]
pub(super) fn private_dir_builder() -> fs::DirBuilder {
    use std::os::unix::fs::DirBuilderExt;
    let mut builder = fs::DirBuilder::new();
    // Records name the calls people made: nobody else on the machine needs to read them.
    builder.recursive(true).mode(0o700);
    builder
}

#[cfg(not(unix))]
pub(super) fn private_dir_builder() -> fs::DirBuilder {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    builder
}

pub(super) fn private_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    // create_new: a name is never reused, so an existing file means something is wrong;
    // better an error than writing into it.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// `fsync` of a folder makes the creations, renames and unlinks in it durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync spool folder", dir))
}

/// Writes `parts` to a new file at `path` and `fsync`s it. On failure the partial file is
/// removed (best effort: the folder may be what failed) so no leftover needs explaining.
pub(super) fn write_new_file(
    path: &Path,
    parts: &[&[u8]],
    op: &'static str,
) -> Result<(), SpoolError> {
    let result = private_file_options().open(path).and_then(|mut file| {
        for part in parts {
            file.write_all(part)?;
        }
        file.sync_all()
    });
    if let Err(source) = result {
        if source.kind() != io::ErrorKind::AlreadyExists {
            let _ = fs::remove_file(path);
        }
        return Err(SpoolError::Io {
            op,
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(())
}

/// The entries of a folder, sorted by name (so records come oldest first).
pub(super) fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, SpoolError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list spool folder", dir))? {
        let entry = entry.map_err(io_err("list spool folder", dir))?;
        let path = entry.path();
        // A name that is not UTF-8 is no record name; lossy is fine for logging and for
        // the corrupt/ name, and the path itself stays exact.
        names.push((entry.file_name().to_string_lossy().into_owned(), path));
    }
    names.sort();
    Ok(names)
}

pub(super) fn is_regular_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

// std's File::try_lock (flock(2) on Linux; stable since Rust 1.89, the workspace's
// rust-version): flock through libc would need unsafe code, which this crate forbids.
pub(super) fn take_lock(dir: &Path) -> Result<File, SpoolError> {
    let path = dir.join(LOCK_NAME);
    let mut options = OpenOptions::new();
    // Not truncated before the lock is ours: the holder's pid stays readable.
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .map_err(io_err("open spool lock", &path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            return Err(SpoolError::Locked {
                dir: dir.to_path_buf(),
            })
        }
        Err(fs::TryLockError::Error(source)) => {
            return Err(SpoolError::Io {
                op: "lock spool",
                path,
                source,
            })
        }
    }
    // The pid is for a human wondering who holds the spool; the lock itself is what
    // counts, so a failure here is not worth refusing to start.
    let _ = file
        .set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(file)
}
