//! Keeping a damaged database as it was. sled, failing to open a damaged database, rewrites
//! part of it (it zeroes its log past the damage, as it would a torn write, and removes the
//! blobs written after it), so a second attempt finds less, and a backup taken afterwards
//! has lost what the first attempt wiped. Before each open, while no process holds the
//! store, the database is saved in `<store>/db.saved/`: its log and snapshots are copied (by
//! the kernel: `copy_file_range`, or a reflink where the filesystem shares extents; no bytes
//! pass through this process), and each blob gets a hard link (sled never changes a blob, it
//! writes new ones and removes old ones, so a link keeps its bytes). When sled then reports
//! corruption, the copies are renamed back over what sled changed, the blobs it removed are
//! linked back, and any snapshot it made is removed, so the store is left byte for byte as it
//! was found; otherwise the copies are deleted (usually before the kernel has written them).
//! Every opener holds [`Gate`] from the save to the end of the open (and the restore), and
//! [`Saved`] borrows it, so no process reads a half-restored file or restores over another's
//! work.
//!
//! Damage in the log's last segment is worse: sled takes it for a torn write, drops what
//! follows, and opens without a word. So the store counts its flushes in sled
//! (`meta/generation`) and, once each is durable, in `<store>/generation` (the witness): an
//! open that finds sled's count below the witness's knows sled lost writes, and is refused
//! and restored like a failed one.

use std::ffi::OsString;
use std::fs::File;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// Databases whose log and snapshots are larger than this are not saved before opening (the
/// copy would cost more than the open); their damage is reported as possibly rewritten.
const MAX_SAVED_BYTES: u64 = 64 << 20;

/// Where the database is saved during an open, beside its folder.
const SAVED: &str = "db.saved";

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

/// The database's files as they were before an open, in `<store>/db.saved/` until dropped (it
/// borrows the gate, so that happens before another process can open).
pub(super) struct Saved<'gate> {
    /// `<store>/db.saved`.
    dir: PathBuf,
    /// The names of the log and the snapshots, copied into `dir`.
    files: Vec<OsString>,
    /// The names of the blobs, linked into `dir/blobs`.
    blobs: Vec<OsString>,
    complete: bool,
    _gate: PhantomData<&'gate Gate>,
}

/// Saves the files of the database in `db` (a folder), unless a process holds it (`None`:
/// sled's own open then waits for it). A missing database saves nothing, completely.
pub(super) fn save<'gate>(db: &Path, _gate: &'gate Gate) -> Option<Saved<'gate>> {
    let dir = db.with_file_name(SAVED);
    // What a process that ended during its open left is not needed by anyone.
    let _ = std::fs::remove_dir_all(&dir);
    let mut saved = Saved { dir, files: Vec::new(), blobs: Vec::new(), complete: true, _gate: PhantomData };
    let Ok(log) = File::open(db.join("db")) else {
        return Some(saved);
    };
    // sled holds an exclusive `flock` on its log while a process has the store open; holding
    // it here for the save means nobody writes meanwhile.
    log.try_lock().ok()?;
    saved.complete = std::fs::create_dir_all(saved.dir.join("blobs")).is_ok()
        && saved.copy_log(db)
        && saved.link_blobs(&db.join("blobs"));
    let _ = log.unlock();
    Some(saved)
}

impl Saved<'_> {
    /// Copies the log and its snapshots (not `conf`, which sled only reads), sized first: a
    /// database too large to save is not copied at all. False when they are not all saved.
    fn copy_log(&mut self, db: &Path) -> bool {
        let mut names = Vec::new();
        let mut total = 0;
        for entry in std::fs::read_dir(db).into_iter().flatten().flatten() {
            let (Ok(meta), name) = (entry.metadata(), entry.file_name()) else { continue };
            if meta.is_file() && name != "conf" {
                total += meta.len();
                names.push(name);
            }
        }
        if total > MAX_SAVED_BYTES {
            return false;
        }
        for name in names {
            if std::fs::copy(db.join(&name), self.dir.join(&name)).is_err() {
                return false;
            }
            self.files.push(name);
        }
        true
    }

    /// Links each blob into `dir/blobs`. False when one could not be linked (a filesystem
    /// without hard links): the open goes on, unsaved.
    fn link_blobs(&mut self, blobs: &Path) -> bool {
        let Ok(entries) = std::fs::read_dir(blobs) else {
            return true; // no blobs
        };
        for entry in entries {
            let Ok(entry) = entry else { return false };
            let name = entry.file_name();
            if std::fs::hard_link(entry.path(), self.dir.join("blobs").join(&name)).is_err() {
                return false;
            }
            self.blobs.push(name);
        }
        true
    }

    /// Puts the saved files back (each renamed over what is there, so a crash leaves one or
    /// the other), links back the blobs sled removed, and removes the snapshots made since;
    /// true when the database is again exactly as it was found.
    pub(super) fn restore(self, db: &Path) -> bool {
        if !self.complete {
            return false;
        }
        let mut exact = true;
        for name in &self.files {
            exact &= std::fs::rename(self.dir.join(name), db.join(name)).is_ok();
        }
        for name in &self.blobs {
            let blob = db.join("blobs").join(name);
            if !blob.exists() {
                exact &= std::fs::hard_link(self.dir.join("blobs").join(name), &blob).is_ok();
            }
        }
        for entry in std::fs::read_dir(db).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let new_snapshot = name.to_str().is_some_and(|n| n.starts_with("snap.")) && !self.files.contains(&name);
            if new_snapshot {
                exact &= std::fs::remove_file(entry.path()).is_ok();
            }
        }
        // A blob sled added is left (it names nothing).
        exact
    }
}

impl Drop for Saved<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
