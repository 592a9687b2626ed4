//! Pack files: where the chunks of large history records live, beside sled, so that sled
//! holds only small records and opening a store costs the same whatever the history's size.
//!
//! `<store>/packs/NNNNNNNN.pack` are append-only files of compressed chunks; sled's
//! `chunks` tree maps a chunk's hash to its [`Location`]. A pack grows to [`PACK_LIMIT`],
//! then the next one starts. Bytes are synced before the index that names them is written,
//! so an index entry always points at durable bytes; bytes that no entry names (a crash
//! between the two, or chunks no history uses any more) are garbage, reclaimed by the
//! store's garbage collection, which copies a pack's live chunks into a new pack and
//! deletes the old file.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::StoreError;

/// A pack is closed once it holds this many bytes.
const PACK_LIMIT: u64 = 64 << 20;

/// Where a chunk's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Location {
    /// The pack's number.
    pub(super) pack: u32,
    /// The offset of the bytes in it.
    pub(super) offset: u64,
    /// How many bytes.
    pub(super) len: u32,
}

impl Location {
    /// The index entry: pack, offset, length, big-endian.
    pub(super) fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..4].copy_from_slice(&self.pack.to_be_bytes());
        out[4..12].copy_from_slice(&self.offset.to_be_bytes());
        out[12..].copy_from_slice(&self.len.to_be_bytes());
        out
    }

    /// Reads an index entry.
    pub(super) fn from_bytes(bytes: &[u8]) -> Option<Location> {
        let bytes: &[u8; 16] = bytes.try_into().ok()?;
        Some(Location {
            pack: u32::from_be_bytes(bytes[..4].try_into().ok()?),
            offset: u64::from_be_bytes(bytes[4..12].try_into().ok()?),
            len: u32::from_be_bytes(bytes[12..].try_into().ok()?),
        })
    }
}

/// The pack files of a store.
#[derive(Debug)]
pub(super) struct Packs {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The pack being written: its number, file and length.
    current: Option<(u32, File, u64)>,
    /// Open packs, for reading.
    readers: HashMap<u32, Arc<File>>,
    /// True once the last pack on disk is closed to writing (garbage collection rewrites
    /// packs into fresh ones).
    sealed: bool,
}

fn io(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("cannot {what} {}: {e}", path.display()))
}

impl Packs {
    /// The packs in `dir` (created when missing).
    pub(super) fn open(dir: &Path) -> Result<Packs, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, "create", e))?;
        Ok(Packs { dir: dir.to_owned(), inner: Mutex::new(Inner::default()) })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The file of pack `pack`.
    pub(super) fn path(&self, pack: u32) -> PathBuf {
        self.dir.join(format!("{pack:08}.pack"))
    }

    /// The numbers of the packs on disk, ascending.
    pub(super) fn list(&self) -> Result<Vec<u32>, StoreError> {
        let mut packs = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| io(&self.dir, "read", e))? {
            let entry = entry.map_err(|e| io(&self.dir, "read", e))?;
            let name = entry.file_name();
            let Some(number) = name.to_str().and_then(|n| n.strip_suffix(".pack")) else { continue };
            if let Ok(number) = number.parse::<u32>() {
                packs.push(number);
            }
        }
        packs.sort_unstable();
        Ok(packs)
    }

    /// Appends `blobs` and syncs them to disk; their locations, in order.
    pub(super) fn append(&self, blobs: &[Vec<u8>]) -> Result<Vec<Location>, StoreError> {
        if blobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut inner = self.lock();
        if inner.current.as_ref().is_none_or(|(_, _, len)| *len >= PACK_LIMIT) {
            inner.current = Some(self.writable(&mut inner)?);
        }
        let Some((pack, file, len)) = inner.current.as_mut() else { unreachable!("a pack was just opened") };
        let path = self.dir.join(format!("{pack:08}.pack"));
        let mut locations = Vec::with_capacity(blobs.len());
        let mut written = *len;
        let mut buffer = Vec::with_capacity(blobs.iter().map(Vec::len).sum());
        for blob in blobs {
            let blob_len = u32::try_from(blob.len())
                .map_err(|_| StoreError::Io(format!("a chunk of {} bytes is too large for a pack", blob.len())))?;
            locations.push(Location { pack: *pack, offset: written, len: blob_len });
            buffer.extend_from_slice(blob);
            written += u64::from(blob_len);
        }
        let result = file.write_all(&buffer).and_then(|()| file.sync_data());
        if let Err(e) = result {
            // The file's length is unknown now: reopen it before writing again.
            inner.current = None;
            return Err(io(&path, "write", e));
        }
        *len = written;
        Ok(locations)
    }

    /// The pack to write to: the last one on disk when it has room and is not sealed, else
    /// a new one.
    fn writable(&self, inner: &mut Inner) -> Result<(u32, File, u64), StoreError> {
        let packs = self.list()?;
        if let Some(&last) = packs.last()
            && !inner.sealed
        {
            let path = self.path(last);
            let len = std::fs::metadata(&path).map_err(|e| io(&path, "read", e))?.len();
            if len < PACK_LIMIT {
                let file = OpenOptions::new().append(true).open(&path).map_err(|e| io(&path, "open", e))?;
                return Ok((last, file, len));
            }
        }
        inner.sealed = false;
        let number = packs.last().map_or(1, |last| last + 1);
        let path = self.path(number);
        let file = OpenOptions::new().create_new(true).append(true).open(&path).map_err(|e| io(&path, "create", e))?;
        // The new file's name must survive a crash before its bytes are referenced.
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|e| io(&self.dir, "sync", e))?;
        Ok((number, file, 0))
    }

    /// Closes the pack being written: what is appended next goes to a new pack.
    pub(super) fn seal(&self) {
        let mut inner = self.lock();
        inner.current = None;
        inner.sealed = true;
    }

    /// The bytes at `location`.
    pub(super) fn read(&self, location: Location) -> Result<Vec<u8>, StoreError> {
        let file = {
            let mut inner = self.lock();
            match inner.readers.get(&location.pack) {
                Some(file) => Arc::clone(file),
                None => {
                    let path = self.path(location.pack);
                    let file = Arc::new(File::open(&path).map_err(|e| io(&path, "open", e))?);
                    inner.readers.insert(location.pack, Arc::clone(&file));
                    file
                }
            }
        };
        let mut bytes = vec![0u8; location.len as usize];
        file.read_exact_at(&mut bytes, location.offset).map_err(|e| StoreError::Corrupt {
            key: format!("{} at offset {}", self.path(location.pack).display(), location.offset),
            message: format!("cannot read {} bytes: {e}", location.len),
        })?;
        Ok(bytes)
    }

    /// Deletes a pack file (no index entry may name it any more).
    pub(super) fn remove(&self, pack: u32) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        inner.readers.remove(&pack);
        if inner.current.as_ref().is_some_and(|(number, _, _)| *number == pack) {
            inner.current = None;
        }
        let path = self.path(pack);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(len),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io(&path, "delete", e)),
        }
    }
}
