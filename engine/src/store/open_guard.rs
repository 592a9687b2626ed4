//! Keeping a damaged database as it was. sled, failing to open a damaged database, rewrites
//! part of it (it zeroes its log past the damage, as it would a torn write, and removes the
//! blobs written after it), so a second attempt finds less, and a backup taken afterwards
//! has lost what the first attempt wiped. Before each open, while no process holds the
//! store, the database is saved in `<store>/db.saved/`: its log and snapshots are copied into
//! `files/` (`std::fs::copy`: `copy_file_range` on Linux, so the kernel copies, or shares
//! extents where the filesystem can), each blob gets a hard link in `blobs/` (sled creates a
//! blob once and never writes it again, so a link keeps its bytes), and the `complete`
//! manifest (each file's size, each blob's name) is written last. An open that succeeds
//! deletes the save (the manifest first). One that fails puts it back: files sled added are
//! removed, the blobs it removed or replaced are linked back, and the copies are copied back
//! and synced (the log last), so the store is left as it was found (when the save was
//! complete: the log and snapshots at most [`MAX_SAVED_BYTES`], and hard links possible).
//!
//! A complete save that an open did not end (the process was killed, or sled panicked) is
//! kept by the next open as `<store>/db.saved.earlier/` (unless one is kept already: the
//! older is the nearer to what was first found), and refusals name it; it is not put back
//! (its copies were never synced, so after a power cut they may not hold what they say), and
//! an open that succeeds deletes it (the store's flush count passed the witness, so sled lost
//! nothing the store knew it had written). Every opener holds [`Gate`] from the save to the
//! end of the open (and the restore), and [`Saved`] borrows it, so no process reads a
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
/// gate, so it is gone before the gate is released).
#[must_use = "a save is discarded, or restored"]
pub(super) struct Saved<'gate> {
    /// `<store>/db.saved`.
    dir: PathBuf,
    /// The names and sizes of the log and the snapshots, copied into `dir/files`.
    files: Vec<(OsString, u64)>,
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
    // sled holds an exclusive `flock` on its log while a process has the store open; holding
    // it here means nobody writes meanwhile. (No log: nobody has it open.)
    let log = File::open(db.join("db")).ok();
    if let Some(log) = &log {
        log.try_lock().ok()?;
    }
    if dir.join(COMPLETE).exists() && !earlier.exists() && std::fs::rename(&dir, &earlier).is_err() {
        return None; // it stays where it is, and this open goes on unsaved
    }
    let _ = std::fs::remove_dir_all(&dir);
    let earlier = earlier.exists().then_some(earlier);
    let mut saved = Saved { dir, files: Vec::new(), blobs: Vec::new(), complete: true, earlier, _gate: PhantomData };
    if db.try_exists().unwrap_or(true) {
        saved.complete = std::fs::create_dir_all(saved.dir.join("files")).is_ok()
            && std::fs::create_dir_all(saved.dir.join("blobs")).is_ok()
            && saved.copy_files(db)
            && saved.link_blobs(&db.join("blobs"))
            && saved.write_manifest();
    }
    if let Some(log) = log {
        let _ = log.unlock();
    }
    Some(saved)
}

impl Saved<'_> {
    /// Writes the manifest, whole or not at all (beside, then renamed): a line per file (its
    /// size and name), per blob (`blob` and its name), then `end` and the counts, for
    /// whoever puts a kept save back by hand.
    fn write_manifest(&self) -> bool {
        let files = self.files.iter().map(|(name, size)| format!("{size} {}\n", name.to_string_lossy()));
        let blobs = self.blobs.iter().map(|name| format!("blob {}\n", name.to_string_lossy()));
        let end = format!("end {} files {} blobs\n", self.files.len(), self.blobs.len());
        let text: String = files.chain(blobs).chain([end]).collect();
        let beside = self.dir.join("complete.tmp");
        std::fs::write(&beside, text).and_then(|()| std::fs::rename(&beside, self.dir.join(COMPLETE))).is_ok()
    }

    /// Copies the log and its snapshots (not `conf`, which sled only reads), sized first: a
    /// database too large to save is not copied at all. False when they are not all saved.
    fn copy_files(&mut self, db: &Path) -> bool {
        let mut found = Vec::new();
        let mut total = 0;
        let Ok(entries) = std::fs::read_dir(db) else { return false };
        for entry in entries {
            let Ok(entry) = entry else { return false };
            let (Ok(meta), name) = (entry.metadata(), entry.file_name()) else { return false };
            if meta.is_file() && name != "conf" {
                // The manifest is text: a name that is not would not be read back.
                if name.to_str().is_none_or(|n| n.contains('\n')) {
                    return false;
                }
                total += meta.len();
                found.push(name);
            }
        }
        if total > MAX_SAVED_BYTES {
            return false;
        }
        for name in found {
            match std::fs::copy(db.join(&name), self.dir.join("files").join(&name)) {
                Ok(size) => self.files.push((name, size)),
                Err(_) => return false,
            }
        }
        true
    }

    /// Links each blob into `dir/blobs`. False when one could not be linked (a filesystem
    /// without hard links): the open goes on, unsaved.
    fn link_blobs(&mut self, blobs: &Path) -> bool {
        let entries = match std::fs::read_dir(blobs) {
            Ok(entries) => entries,
            Err(e) => return e.kind() == std::io::ErrorKind::NotFound, // no blobs, or unsaved
        };
        for entry in entries {
            let Ok(entry) = entry else { return false };
            let name = entry.file_name();
            if name.to_str().is_none_or(|n| n.contains('\n'))
                || std::fs::hard_link(entry.path(), self.dir.join("blobs").join(&name)).is_err()
            {
                return false;
            }
            self.blobs.push(name);
        }
        true
    }

    /// Deletes the save (the manifest first: a save half deleted is never taken for a
    /// complete one). For an open that sled refused only because the store was in use.
    pub(super) fn discard(self) {
        let _ = std::fs::remove_file(self.dir.join(COMPLETE));
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// After an open that succeeded: neither the save nor an earlier one is needed.
    pub(super) fn succeeded(self) {
        let earlier = self.earlier.clone();
        self.discard();
        if let Some(earlier) = earlier {
            let _ = std::fs::remove_file(earlier.join(COMPLETE));
            let _ = std::fs::remove_dir_all(earlier);
        }
    }

    /// After an open that failed: puts the database back as it was saved, and says how the
    /// store was left (for the message).
    pub(super) fn restore(self, db: &Path) -> String {
        let earlier = self.earlier.clone();
        let mut how = if self.put_back(db) {
            "its files are left as they were".to_owned()
        } else {
            "sled may have rewritten part of it".to_owned()
        };
        if let Some(earlier) = earlier {
            how +=
                &format!(" ({} holds the database as an earlier open, which did not end, found it)", earlier.display());
        }
        how
    }

    /// Puts the save back into `db`; true (and the save deleted) when the database is again
    /// exactly as it was saved. A restore that is interrupted leaves the complete save, for
    /// the next open to keep.
    fn put_back(self, db: &Path) -> bool {
        if !self.complete {
            self.discard();
            return false;
        }
        let mut exact = true;
        let staged = self.dir.join("restoring");
        let blobs = db.join("blobs");
        // What sled added: snapshots, a log where there was none, blobs.
        for (folder, keep) in [
            (db, self.files.iter().map(|(name, _)| name.clone()).chain([OsString::from("conf")]).collect::<Vec<_>>()),
            (blobs.as_path(), self.blobs.clone()),
        ] {
            for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_file()) && !keep.contains(&entry.file_name()) {
                    exact &= std::fs::remove_file(entry.path()).is_ok();
                }
            }
        }
        if !self.blobs.is_empty() {
            exact &= std::fs::create_dir_all(&blobs).is_ok();
        }
        for name in &self.blobs {
            exact &= put_back(&self.dir.join("blobs").join(name), &blobs.join(name), &staged, true);
        }
        // The log last: until it is back, sled's snapshots and blobs match sled's log.
        let (logs, snapshots): (Vec<_>, Vec<_>) = self.files.iter().partition(|(name, _)| name == "db");
        for (name, _) in snapshots.into_iter().chain(logs) {
            exact &= put_back(&self.dir.join("files").join(name), &db.join(name), &staged, false);
        }
        for folder in [db, blobs.as_path()] {
            exact &= !folder.exists() || File::open(folder).and_then(|f| f.sync_all()).is_ok();
        }
        if exact {
            self.discard();
        }
        exact
    }
}

/// Puts a saved file back at `path`, through `staged` (in the save, on the same filesystem)
/// renamed over it: a crash leaves the one or the other. A blob (never written again) is
/// linked, unless `path` is that file already; the log and snapshots, which sled writes
/// into, are copied and synced, so the save shares no file with the database.
fn put_back(saved: &Path, path: &Path, staged: &Path, blob: bool) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(from) = std::fs::metadata(saved) else { return false };
    if blob && std::fs::metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == (from.dev(), from.ino())) {
        return true;
    }
    let _ = std::fs::remove_file(staged);
    let placed = if blob {
        std::fs::hard_link(saved, staged)
    } else {
        std::fs::copy(saved, staged).and_then(|_| File::open(staged)?.sync_all())
    };
    let done = placed.and_then(|()| std::fs::rename(staged, path)).is_ok();
    if !done {
        let _ = std::fs::remove_file(staged);
    }
    done
}
