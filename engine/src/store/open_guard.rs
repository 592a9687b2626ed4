//! Keeping a damaged database as it was. sled, failing to open a damaged database, rewrites
//! part of it (it zeroes its log past the damage, as it would a torn write, and removes the
//! blobs written after it), so a second attempt finds less, and a backup taken afterwards
//! has lost what the first attempt wiped. Before each open, while no process holds the
//! store, the database is saved in `<store>/db.saved/`: its log and snapshots are copied
//! (`copy_file_range`: the kernel copies, or shares extents where the filesystem can; the
//! bytes do not pass through this process), each blob gets a hard link (sled creates a blob
//! once and never writes it again, so a link keeps its bytes), and a `complete` marker is
//! written last. An open that succeeds deletes the save (the marker first). One that fails
//! puts it back: the snapshots sled made are removed, the blobs it removed or replaced are
//! linked back, and the copies are copied back and synced over what sled changed (the log
//! last), so the store is left byte for byte as it was found.
//!
//! A save that an open did not end (the process was killed, or sled panicked) is found by
//! the next open: a complete one is kept as `<store>/db.saved.earlier/` (unless one is kept
//! already: the older is the nearer to what was first found) until an open succeeds, and a
//! refusal names it; an incomplete one is deleted. Every opener holds [`Gate`] from the save
//! to the end of the open (and the restore), and [`Saved`] borrows it, so no process reads a
//! half-restored file or restores over another's work.
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
/// Where a complete save that an interrupted open left is kept until an open succeeds.
const EARLIER: &str = "db.saved.earlier";
/// Written into a save once everything is in it.
const COMPLETE: &str = "complete";

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

/// The database's files as they were before an open, in `<store>/db.saved/` (it borrows the
/// gate: it is discarded or restored before another process can open).
#[must_use = "a save is discarded or restored"]
pub(super) struct Saved<'gate> {
    /// `<store>/db.saved`.
    dir: PathBuf,
    /// The names of the log and the snapshots, copied into `dir/files`.
    files: Vec<OsString>,
    /// The names of the blobs, linked into `dir/blobs`.
    blobs: Vec<OsString>,
    complete: bool,
    /// `<store>/db.saved.earlier`, when it holds an interrupted open's save.
    earlier: Option<PathBuf>,
    _gate: PhantomData<&'gate Gate>,
}

/// Saves the database in `db` (a folder), unless a process holds it (`None`: sled's own
/// open then waits for it). A missing database saves nothing, completely.
pub(super) fn save<'gate>(db: &Path, _gate: &'gate Gate) -> Option<Saved<'gate>> {
    let dir = db.with_file_name(SAVED);
    let earlier = db.with_file_name(EARLIER);
    if dir.join(COMPLETE).exists() && !earlier.exists() {
        let _ = std::fs::rename(&dir, &earlier);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let earlier = earlier.exists().then_some(earlier);
    let mut saved = Saved { dir, files: Vec::new(), blobs: Vec::new(), complete: true, earlier, _gate: PhantomData };
    if !db.exists() {
        return Some(saved);
    }
    // sled holds an exclusive `flock` on its log while a process has the store open; holding
    // it here for the save means nobody writes meanwhile. (No log: nobody has it open.)
    let log = File::open(db.join("db")).ok();
    if let Some(log) = &log {
        log.try_lock().ok()?;
    }
    saved.complete = std::fs::create_dir_all(saved.dir.join("files")).is_ok()
        && std::fs::create_dir_all(saved.dir.join("blobs")).is_ok()
        && saved.copy_files(db)
        && saved.link_blobs(&db.join("blobs"))
        && File::create(saved.dir.join(COMPLETE)).is_ok();
    if let Some(log) = log {
        let _ = log.unlock();
    }
    Some(saved)
}

impl Saved<'_> {
    /// Copies the log and its snapshots (not `conf`, which sled only reads), sized first: a
    /// database too large to save is not copied at all. False when they are not all saved.
    fn copy_files(&mut self, db: &Path) -> bool {
        let mut names = Vec::new();
        let mut total = 0;
        for entry in std::fs::read_dir(db).into_iter().flatten().flatten() {
            let (Ok(meta), name) = (entry.metadata(), entry.file_name()) else { return false };
            if meta.is_file() && name != "conf" {
                total += meta.len();
                names.push(name);
            }
        }
        if total > MAX_SAVED_BYTES {
            return false;
        }
        for name in names {
            if std::fs::copy(db.join(&name), self.dir.join("files").join(&name)).is_err() {
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

    /// After an open that succeeded: the save is not needed, nor an earlier one.
    pub(super) fn discard(self) {
        // The marker first: a save half deleted is never taken for a complete one.
        let _ = std::fs::remove_file(self.dir.join(COMPLETE));
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(earlier) = &self.earlier {
            let _ = std::fs::remove_dir_all(earlier);
        }
    }

    /// After an open that failed: puts the database back as it was saved, and says how the
    /// store was left (for the message). Each step can be done again, so a restore that is
    /// interrupted leaves a complete save for the next open to keep.
    pub(super) fn restore(self, db: &Path) -> String {
        let mut exact = self.complete;
        if exact {
            // Snapshots sled made since.
            for entry in std::fs::read_dir(db).into_iter().flatten().flatten() {
                let name = entry.file_name();
                if name.to_str().is_some_and(|n| n.starts_with("snap.")) && !self.files.contains(&name) {
                    exact &= std::fs::remove_file(entry.path()).is_ok();
                }
            }
            let blobs = db.join("blobs");
            for name in &self.blobs {
                exact &= put_back(&self.dir.join("blobs").join(name), &blobs.join(name), true);
            }
            // The log last: until it is back, sled's snapshots and blobs match sled's log.
            let (logs, snapshots): (Vec<_>, Vec<_>) = self.files.iter().partition(|name| *name == "db");
            for name in snapshots.into_iter().chain(logs) {
                exact &= put_back(&self.dir.join("files").join(name), &db.join(name), false);
            }
            exact &=
                [db, blobs.as_path()].iter().all(|d| !d.exists() || File::open(d).and_then(|d| d.sync_all()).is_ok());
        }
        let mut how = if exact {
            "its files are left as they were".to_owned()
        } else {
            "sled may have rewritten part of it".to_owned()
        };
        if let Some(earlier) = &self.earlier {
            how +=
                &format!(" ({} holds the database as an earlier open, which did not end, found it)", earlier.display());
        }
        if exact {
            let _ = std::fs::remove_file(self.dir.join(COMPLETE));
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        how
    }
}

/// Puts a saved file back at `path`, through a file beside it renamed over it (a crash
/// leaves one or the other). A blob (immutable) is linked, unless `path` is that file
/// already; the log and snapshots, which sled writes into, are copied and synced, so that a
/// save kept after an interrupted restore shares no file with the database.
fn put_back(saved: &Path, path: &Path, blob: bool) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(from) = std::fs::metadata(saved) else { return false };
    let beside = path.with_extension("sfnlite-restore");
    let _ = std::fs::remove_file(&beside);
    let placed = if blob {
        if std::fs::metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == (from.dev(), from.ino())) {
            return true;
        }
        std::fs::hard_link(saved, &beside)
    } else {
        std::fs::copy(saved, &beside).and_then(|_| File::open(&beside)?.sync_all())
    };
    placed.and_then(|()| std::fs::rename(&beside, path)).is_ok()
}
