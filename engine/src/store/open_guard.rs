//! Keeping a damaged database as it was. sled, failing to open a damaged database, rewrites
//! part of it (it zeroes its log past the damage, as it would a torn write), so a second
//! attempt finds less, and a backup taken afterwards has lost what the first attempt wiped.
//! Before each open, while no process holds the store, the database's files are read; when
//! sled then reports corruption, they are written back and any snapshot it made is removed,
//! so the store is left byte for byte as it was found. Every opener holds [`Gate`] from the
//! read to the end of the open (and the restore), so no process reads a half-restored file
//! or restores over another's work.
//!
//! Damage in the log's last segment is worse: sled takes it for a torn write, drops what
//! follows, and opens without a word. So the store counts its flushes in sled
//! (`meta/generation`) and, once each is durable, in `<store>/generation` (the witness): an
//! open that finds sled's count below the witness's knows sled lost writes, and is refused
//! and restored like a failed one.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Databases larger than this are not saved before opening (the read would cost more than
/// the open); their damage is reported as possibly rewritten.
const MAX_SAVED_BYTES: u64 = 64 << 20;

/// The last durable flush count written beside the database (0 when there is none).
pub(super) fn witness(store: &Path) -> u64 {
    std::fs::read_to_string(store.join("generation")).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)
}

/// Writes the witness (beside, then renamed, so it is never half written).
pub(super) fn write_witness(store: &Path, generation: u64) -> std::io::Result<()> {
    let beside = store.join("generation.sfnlite-tmp");
    std::fs::write(&beside, generation.to_string())?;
    std::fs::rename(beside, store.join("generation"))
}

/// `<store>/open.lock`, held exclusively while a process opens the store.
pub(super) struct Gate(File);

impl Gate {
    /// Waits for the gate (held only for the length of an open).
    pub(super) fn acquire(store: &Path) -> std::io::Result<Gate> {
        let file = File::options().create(true).truncate(false).write(true).open(store.join("open.lock"))?;
        file.lock()?;
        Ok(Gate(file))
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// The database's files as they were before an open.
pub(super) struct Saved {
    files: Vec<(PathBuf, Vec<u8>)>,
    complete: bool,
}

/// Reads the files of the database in `db` (a folder), unless a process holds it (`None`:
/// sled's own open then waits for it). A missing database saves nothing, completely.
pub(super) fn save(db: &Path) -> Option<Saved> {
    let Ok(log) = File::open(db.join("db")) else {
        return Some(Saved { files: Vec::new(), complete: true });
    };
    // sled holds an exclusive `flock` on its log while a process has the store open; holding
    // it here for the read means nobody writes meanwhile.
    log.try_lock().ok()?;
    // The log, its snapshots, and the blobs (sled's recovery may remove blobs it cannot place),
    // sized first: a database too large to save is not read at all.
    let entries = std::fs::read_dir(db).into_iter().chain(std::fs::read_dir(db.join("blobs"))).flatten().flatten();
    let paths: Vec<(PathBuf, u64)> = entries
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            let path = entry.path();
            (meta.is_file() && path.file_name().is_none_or(|n| n != "conf")).then_some((path, meta.len()))
        })
        .collect();
    let total: u64 = paths.iter().map(|(_, len)| len).sum();
    let mut complete = total <= MAX_SAVED_BYTES;
    let mut files = Vec::new();
    if complete {
        for (path, _) in paths {
            match std::fs::read(&path) {
                Ok(bytes) => files.push((path, bytes)),
                Err(_) => {
                    complete = false;
                    files.clear();
                    break;
                }
            }
        }
    }
    let _ = log.unlock();
    Some(Saved { files, complete })
}

impl Saved {
    /// Writes the saved files back and removes the snapshots made since; true when the
    /// database is again exactly as it was found.
    pub(super) fn restore(self, db: &Path) -> bool {
        if !self.complete {
            return false;
        }
        let mut exact = true;
        for (path, bytes) in &self.files {
            if std::fs::read(path).ok().as_ref() != Some(bytes) {
                // Written beside it and renamed over it, so a crash here leaves one or the other.
                let beside = path.with_extension("sfnlite-restore");
                exact &= std::fs::write(&beside, bytes).and_then(|()| std::fs::rename(&beside, path)).is_ok();
            }
        }
        for entry in std::fs::read_dir(db).into_iter().flatten().flatten() {
            let path = entry.path();
            let new_snapshot = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("snap."))
                && !self.files.iter().any(|(saved, _)| *saved == path);
            if new_snapshot {
                exact &= std::fs::remove_file(&path).is_ok();
            }
        }
        // A blob sled removed is written back above; one it added is left (it names nothing).
        exact
    }
}
