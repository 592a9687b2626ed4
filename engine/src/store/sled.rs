//! The durable store, on sled. The only file that names sled.
//!
//! Layout (one tree per concern; values are JSON):
//! - `meta`: `format` → the format version (big-endian u32);
//! - `state_machines`: definition hash → [`StateMachineRecord`];
//! - `executions`: execution ARN → [`ExecutionRecord`], kept as event batches are (below);
//! - `events`: ARN ++ `0x00` ++ big-endian id of a record's first event → the record (a
//!   JSON array of events), so a prefix scan reads one history in id order. Records per
//!   batch, not per event: the runtime appends a batch before each effect, and sled's cost
//!   is per record (a run of 20,000 small states is one record, not 40,000); a batch is cut
//!   into records of about [`EVENT_RECORD_BYTES`] of text, written in one atomic sled
//!   batch. A record of up to [`INLINE_LIMIT`] bytes is kept in sled, compressed (tag
//!   [`INLINE`]); a larger one is cut into content-defined chunks ([`super::chunks`], as
//!   [`super::records`] writes it: a large payload node shared between events is cut and
//!   hashed once) kept once each in pack files ([`super::packs`]); the new chunks of one
//!   write are appended to a pack together, one sync per 8 MiB of them (writers that store
//!   the same new chunk at the same moment may each write a copy; only one is named, and
//!   collection reclaims the others), and sled keeps the list of its parts, compressed (tag
//!   [`PARTS_LZ4`]): chunks by hash, and the pieces shorter than a chunk that are not part
//!   of a long string (the ends of runs of text, the short texts between large nodes) as
//!   text. Format 2 listed only hashes (tag
//!   [`CHUNKED_LZ4`]; [`CHUNKED`] uncompressed) and format 1 stored the JSON itself (it
//!   starts with `[`): both still read;
//! - `chunks`: a chunk's SHA-256 → its [`Location`] in the packs;
//! - `documents`: kind ++ `0x00` ++ key → a JSON document (API resources: state machines
//!   as the API knows them, versions, aliases, activities, tags).
//!
//! Memory: sled's page cache is bounded ([`CACHE_BYTES`]).
//!
//! Durability: `append` and `put_execution` flush (fsync) before they return, so an event is
//! on disk before the effect it announces. One process holds the store at a time (sled's
//! file lock); the holder writes its pid to `owner.pid`, and a second process waits for the
//! lock up to a bound, then reports "store … in use by process N".

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sfnlite_states::history::HistoryEvent;
use sfnlite_states::json::Json;

use super::chunks::{self, ChunkHash};
use super::open_guard;
use super::packs::{Location, Packs};
use super::records::{self, ChunkSink, NodeMemo, NodeParts, Part, RecordWriter, Text};
use super::{ExecutionRecord, GarbageReport, HistoryStore, StateMachineRecord, StoreError};

/// The format version this build reads and writes (it also reads formats 1 and 2, and marks
/// a store it opens as format 3).
pub const FORMAT_VERSION: u32 = 3;

/// sled's page cache, at most.
const CACHE_BYTES: u64 = 32 << 20;

/// An event batch up to this size (as JSON) stays in sled.
const INLINE_LIMIT: usize = 16 * 1024;
/// A batch of events is stored as records of about this much JSON text at most (the last
/// event may take one past it).
const EVENT_RECORD_BYTES: usize = 4 * 1024 * 1024;
/// No record's list (of chunk hashes, or of parts) is longer: readers take a longer one for
/// damage, and writers refuse to write one (a record holds about 4 MiB of text and one
/// event; only an event of hundreds of MiB could need more).
const MAX_HASH_LIST: usize = 64 << 20;
/// No chunk is larger than this once decompressed (chunks are at most 64 KiB).
const MAX_CHUNK_BYTES: u32 = 1 << 20;
/// The tag of a batch kept in sled: LZ4 of the JSON, its size prepended.
const INLINE: u8 = 1;
/// The tag of a batch kept in chunks: the chunks' hashes (32 bytes each), in order.
const CHUNKED: u8 = 2;
/// The same, the list LZ4-compressed (a payload carried through many states repeats the same
/// run of hashes many times); what format 2 wrote.
const CHUNKED_LZ4: u8 = 3;
/// The tag of a batch kept in parts: chunks by hash and short texts kept in the record
/// ([`super::records::parts`]), the list LZ4-compressed; what this build writes (format 3).
const PARTS_LZ4: u8 = 4;

/// How often event batches' flushes update the witness file (records always do).
const WITNESS_EVERY: Duration = Duration::from_secs(1);

/// New chunks of one write are appended to a pack once they reach this many (compressed)
/// bytes, so that a write of much new text does not hold it all in memory.
const FRESH_BYTES: usize = 8 << 20;

/// A pack needs rewriting when at least this share of its bytes is garbage.
const REWRITE_GARBAGE_SHARE: f64 = 0.25;

/// Executions on disk.
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
    state_machines: sled::Tree,
    executions: sled::Tree,
    events: sled::Tree,
    documents: sled::Tree,
    chunks: sled::Tree,
    packs: Packs,
    /// Held (shared) while records and their chunks are added, and (exclusive) while chunks
    /// are collected, so that garbage collection never removes a chunk that a record being
    /// written lists. Writers do not exclude one another: two that store the same new chunk
    /// at once leave one copy unnamed in a pack, which collection reclaims.
    chunk_lock: RwLock<()>,
    /// The parts of large payload nodes stored before, by node identity (cleared by
    /// garbage collection).
    memo: Mutex<NodeMemo>,
    meta: sled::Tree,
    /// Counts flushes (`meta/generation`); the last one durable is also in `<store>/generation`
    /// (see [`open_guard`]), so an open that finds sled behind it knows sled lost writes.
    /// Held while the count is written, so that sled's copy only ever grows.
    generation: Mutex<u64>,
    /// The highest count known durable (written before a flush that has returned).
    durable: std::sync::atomic::AtomicU64,
    /// The highest generation written to the witness file, and when.
    witnessed: Mutex<(u64, Option<Instant>)>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").field("path", &self.path).finish()
    }
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

impl SledStore {
    /// Opens (or creates) the store in `path`, waiting up to `wait` for another process to
    /// release it.
    pub fn open(path: &Path, wait: Duration) -> Result<SledStore, StoreError> {
        std::fs::create_dir_all(path).map_err(|e| io(format!("cannot create {}: {e}", path.display())))?;
        let started = Instant::now();
        let db_dir = path.join("db");
        let (db, meta, generation, witness, gate) = loop {
            let gate =
                open_guard::Gate::acquire(path).map_err(|e| io(format!("cannot open {}: {e}", path.display())))?;
            // Borrows the gate, so it cannot outlive it; every way out of this loop below
            // discards it (sled opened, or refused only because the store is in use) or
            // restores it (any other failure).
            let saved = open_guard::save(&db_dir, &gate);
            let restored = |saved: Option<open_guard::Saved>| match saved {
                Some(saved) => saved.restore(&db_dir),
                None => "sled may have rewritten part of it".to_owned(),
            };
            let opened =
                sled::Config::new().path(&db_dir).mode(sled::Mode::LowSpace).cache_capacity(CACHE_BYTES).open();
            let db = match opened {
                Ok(db) => db,
                Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                    // sled changed nothing.
                    if let Some(saved) = saved {
                        saved.discard();
                    }
                    if started.elapsed() >= wait {
                        let pid = std::fs::read_to_string(path.join("owner.pid")).unwrap_or_else(|_| "?".into());
                        return Err(StoreError::InUse { path: path.display().to_string(), pid: pid.trim().to_owned() });
                    }
                    drop(gate);
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(sled::Error::Corruption { .. }) => {
                    return Err(io(format!(
                        "cannot open {}: its database {} is damaged (sled found corrupted data), so nothing in \
                         it can be read; {}. Keep a copy of the folder, and give --store NEWDIR (or \
                         SFNLITE_STORE) to go on with a new store",
                        path.display(),
                        db_dir.display(),
                        restored(saved)
                    )));
                }
                Err(e) => {
                    return Err(io(format!("cannot open {}: {e}; {}", path.display(), restored(saved))));
                }
            };
            // sled reads damage in its log's last segment as a torn write and drops what
            // follows, silently: a store that held more when it was last written has lost records.
            let counted = db.open_tree("meta").and_then(|meta| {
                let generation = meta.get("generation")?.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok());
                Ok((meta, generation.map_or(0, u64::from_be_bytes)))
            });
            let (meta, generation) = match counted {
                Ok(counted) => counted,
                Err(e) => {
                    drop(db);
                    return Err(io(format!("cannot open {}: {e}; {}", path.display(), restored(saved))));
                }
            };
            let witness = open_guard::witness(path);
            if generation < witness {
                drop(meta);
                drop(db);
                return Err(io(format!(
                    "cannot open {}: its database {} is damaged: sled dropped records it could not read (it \
                     holds {generation} of the store's {witness} writes), so it is not opened; {}. Keep a copy \
                     of the folder, and give --store NEWDIR (or SFNLITE_STORE) to go on with a new store (if \
                     the database was put back from a backup on purpose, delete {} to open it as it is)",
                    path.display(),
                    db_dir.display(),
                    restored(saved),
                    path.join("generation").display()
                )));
            }
            if let Some(saved) = saved {
                saved.succeeded();
            }
            break (db, meta, generation, witness, gate);
        };
        drop(gate);
        std::fs::write(path.join("owner.pid"), std::process::id().to_string()).map_err(io)?;
        match meta.get("format").map_err(io)? {
            Some(bytes) => {
                let found = u32::from_be_bytes(
                    bytes
                        .as_ref()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt { key: "meta/format".into(), message: "not a u32".into() })?,
                );
                if found > FORMAT_VERSION {
                    return Err(StoreError::NewerFormat {
                        path: path.display().to_string(),
                        found,
                        supported: FORMAT_VERSION,
                    });
                }
                if found < FORMAT_VERSION {
                    // Older formats' records are read as they are; new ones are written in this one.
                    meta.insert("format", &FORMAT_VERSION.to_be_bytes()).map_err(io)?;
                }
            }
            None => {
                meta.insert("format", &FORMAT_VERSION.to_be_bytes()).map_err(io)?;
            }
        }
        Ok(SledStore {
            state_machines: db.open_tree("state_machines").map_err(io)?,
            executions: db.open_tree("executions").map_err(io)?,
            events: db.open_tree("events").map_err(io)?,
            documents: db.open_tree("documents").map_err(io)?,
            chunks: db.open_tree("chunks").map_err(io)?,
            packs: Packs::open(&path.join("packs"))?,
            chunk_lock: RwLock::new(()),
            memo: Mutex::new(NodeMemo::default()),
            meta,
            generation: Mutex::new(generation),
            durable: std::sync::atomic::AtomicU64::new(generation),
            witnessed: Mutex::new((witness, None)),
            path: path.to_owned(),
            db,
        })
    }

    /// Every execution record, read by `read` from its key and JSON, in start order.
    fn records(
        &self,
        read: impl Fn(&str, &[u8]) -> Result<ExecutionRecord, StoreError>,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        let mut all = Vec::new();
        for item in self.executions.iter() {
            let (key, bytes) = item.map_err(io)?;
            let what = String::from_utf8_lossy(&key);
            let json = self.unpacked(&what, &bytes)?;
            all.push(read(&what, &json)?);
        }
        all.sort_by(|a, b| (a.start_millis, &a.arn).cmp(&(b.start_millis, &b.arn)));
        Ok(all)
    }

    /// The directory of the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes every write so far durable, counting it in `meta/generation` and, once durable,
    /// in the witness file.
    /// Executions flush from several threads at once: the count is incremented and written
    /// under one lock (so a later count never lands in sled before an earlier one), and only a
    /// count written before a flush that has returned is witnessed (another thread's count may
    /// not be durable yet).
    fn flush(&self) -> Result<(), StoreError> {
        let next = {
            let mut generation = self.generation.lock().unwrap_or_else(|e| e.into_inner());
            let next = *generation + 1;
            self.meta.insert("generation", &next.to_be_bytes()).map_err(io)?;
            *generation = next;
            next
        };
        self.db.flush().map_err(io)?;
        self.durable.fetch_max(next, std::sync::atomic::Ordering::SeqCst);
        self.witness(false);
        Ok(())
    }

    /// Writes the durable generation to the witness file: always when `now`, else at most
    /// once a second (a file write per event batch would double a persisted run's time).
    /// Best effort: a witness left behind (a crash, a failed write) only weakens the check.
    fn witness(&self, now: bool) {
        let generation = self.durable.load(std::sync::atomic::Ordering::SeqCst);
        let mut witnessed = self.witnessed.lock().unwrap_or_else(|e| e.into_inner());
        let (last, at) = *witnessed;
        if generation > last
            && (now || at.is_none_or(|at| at.elapsed() >= WITNESS_EVERY))
            && open_guard::write_witness(&self.path, generation).is_ok()
        {
            *witnessed = (generation, Some(Instant::now()));
        }
    }

    /// For writing records (shared with other writers).
    fn lock_chunks(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.chunk_lock.read().unwrap_or_else(|e| e.into_inner())
    }

    /// For collecting chunks (alone).
    fn lock_chunks_exclusive(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.chunk_lock.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The parts of a node stored before, if `json` is that node.
    fn known_node(&self, json: &Json) -> Option<NodeParts> {
        self.memo.lock().unwrap_or_else(|e| e.into_inner()).get(json)
    }

    /// The chunk hashes (32 bytes each) a chunked record lists; `None` for other records.
    fn hash_list(what: &str, record: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt { key: what.to_owned(), message };
        let body = record.get(1..).unwrap_or_default();
        let hashes = match record.first() {
            Some(&CHUNKED) => body.to_vec(),
            Some(&CHUNKED_LZ4) => Self::list(what, body)?,
            Some(&PARTS_LZ4) => {
                let list = Self::list(what, body)?;
                let parts = records::parts(&list).map_err(corrupt)?;
                parts
                    .into_iter()
                    .filter_map(|part| match part {
                        Part::Chunk(hash) => Some(hash.as_slice()),
                        Part::Text(_) => None,
                    })
                    .collect::<Vec<&[u8]>>()
                    .concat()
            }
            _ => return Ok(None),
        };
        if !hashes.len().is_multiple_of(32) {
            return Err(corrupt("a chunk list of a length not a multiple of 32".into()));
        }
        Ok(Some(hashes))
    }

    /// A record's list (of chunk hashes, or of parts), decompressed.
    fn list(what: &str, body: &[u8]) -> Result<Vec<u8>, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt { key: what.to_owned(), message };
        // Bounded before decompressing: a damaged size prefix must not allocate gigabytes.
        let declared = body.get(..4).map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap_or_default()));
        if declared as usize > MAX_HASH_LIST {
            return Err(corrupt(format!("a list of parts of {declared} bytes")));
        }
        lz4_flex::block::decompress_size_prepended(body)
            .map_err(|e| corrupt(format!("cannot decompress its list of parts: {e}")))
    }

    /// Stores `json` under `key` in `tree` (see [`SledStore::packed`]); the caller flushes.
    fn put_packed(&self, tree: &sled::Tree, key: Vec<u8>, json: Vec<u8>) -> Result<(), StoreError> {
        let _chunks = self.lock_chunks();
        tree.insert(key, self.packed(&json)?).map_err(io)?;
        Ok(())
    }

    /// The record that stores `json`: in sled, compressed, when small; else the list of its
    /// chunks (those not stored yet go to a pack). The caller holds the chunk lock until the
    /// record is inserted.
    fn packed(&self, json: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut fresh = FreshChunks::new(self);
        let no_nodes = |_: &Json| None;
        let mut writer = RecordWriter::new(&mut fresh, &no_nodes);
        writer.raw(json);
        let text = writer.finish_record(INLINE_LIMIT)?;
        fresh.store()?;
        record_bytes(text)
    }

    /// The JSON of a stored record (an event batch, an execution; `what` names it in errors).
    fn unpacked(&self, what: &str, bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt { key: what.to_owned(), message };
        match bytes.first() {
            // Format 1: the JSON itself.
            Some(b'[' | b'{') => Ok(bytes.to_vec()),
            Some(&INLINE) => lz4_flex::block::decompress_size_prepended(&bytes[1..])
                .map_err(|e| corrupt(format!("cannot decompress: {e}"))),
            Some(&CHUNKED | &CHUNKED_LZ4) => {
                let hashes = Self::hash_list(what, bytes)?.unwrap_or_default();
                self.joined(what, hashes.chunks_exact(32).filter_map(|hash| hash.try_into().ok()).map(Part::Chunk))
            }
            Some(&PARTS_LZ4) => {
                let list = Self::list(what, &bytes[1..])?;
                self.joined(what, records::parts(&list).map_err(corrupt)?.into_iter())
            }
            _ => Err(corrupt("an unknown record tag".into())),
        }
    }

    /// The text of a record's parts, in order. A chunk that repeats is read (and checked)
    /// once.
    fn joined<'h>(&self, what: &str, parts: impl Iterator<Item = Part<'h>>) -> Result<Vec<u8>, StoreError> {
        let mut read: HashMap<&ChunkHash, (usize, usize)> = HashMap::new();
        let mut json = Vec::new();
        for part in parts {
            let hash = match part {
                Part::Chunk(hash) => hash,
                Part::Text(text) => {
                    json.extend_from_slice(text);
                    continue;
                }
            };
            match read.get(hash) {
                Some(&(start, end)) => json.extend_from_within(start..end),
                None => {
                    let start = json.len();
                    json.extend(self.chunk(what, hash)?);
                    read.insert(hash, (start, json.len()));
                }
            }
        }
        Ok(json)
    }

    /// The bytes of one chunk, checked against its hash.
    fn chunk(&self, what: &str, hash: &[u8]) -> Result<Vec<u8>, StoreError> {
        let name = hex(hash);
        let corrupt = |message: String| StoreError::Corrupt { key: what.to_owned(), message };
        let locate = || -> Result<Location, StoreError> {
            let entry =
                self.chunks.get(hash).map_err(io)?.ok_or_else(|| corrupt(format!("chunk {name} is missing")))?;
            Location::from_bytes(&entry)
                .filter(|l| l.len <= MAX_CHUNK_BYTES)
                .ok_or_else(|| corrupt(format!("chunk {name}: a bad index entry")))
        };
        let mut location = locate()?;
        let stored = match self.packs.read(location) {
            Ok(stored) => stored,
            Err(first) => {
                // A garbage collection may have moved the chunk to another pack since it was
                // looked up: look again once.
                let again = locate()?;
                if again == location {
                    return Err(corrupt(format!("chunk {name}: {first}")));
                }
                location = again;
                self.packs.read(location).map_err(|e| corrupt(format!("chunk {name}: {e}")))?
            }
        };
        let pack = self.packs.path(location.pack);
        let declared = stored.get(..4).map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap_or_default()));
        if declared > MAX_CHUNK_BYTES {
            return Err(corrupt(format!(
                "chunk {name} in {} at offset {}: a size of {declared} bytes",
                pack.display(),
                location.offset
            )));
        }
        let bytes = lz4_flex::block::decompress_size_prepended(&stored)
            .map_err(|e| corrupt(format!("chunk {name} in {} at offset {}: {e}", pack.display(), location.offset)))?;
        if chunks::hash(&bytes).as_slice() != hash {
            return Err(corrupt(format!(
                "chunk {name} in {} at offset {} does not match its hash",
                pack.display(),
                location.offset
            )));
        }
        Ok(bytes)
    }
}

/// The new chunks of one write: queued, then appended to a pack together (one sync) and
/// named in the index; stored early (a sync each time) whenever they reach [`FRESH_BYTES`].
struct FreshChunks<'s> {
    store: &'s SledStore,
    blobs: Vec<(ChunkHash, Vec<u8>)>,
    bytes: usize,
}

impl<'s> FreshChunks<'s> {
    fn new(store: &'s SledStore) -> Self {
        FreshChunks { store, blobs: Vec::new(), bytes: 0 }
    }

    /// Stores the queued chunks. The caller holds the chunk lock until the records that list
    /// them are inserted.
    fn store(&mut self) -> Result<(), StoreError> {
        let (hashes, blobs): (Vec<ChunkHash>, Vec<Vec<u8>>) = std::mem::take(&mut self.blobs).into_iter().unzip();
        self.bytes = 0;
        let locations = self.store.packs.append(&blobs)?;
        for (hash, location) in hashes.iter().zip(locations) {
            self.store.chunks.insert(hash, &location.to_bytes()).map_err(io)?;
        }
        Ok(())
    }
}

impl ChunkSink for FreshChunks<'_> {
    fn add(&mut self, hash: ChunkHash, bytes: &[u8]) -> Result<(), StoreError> {
        if self.store.chunks.contains_key(hash).map_err(io)? {
            return Ok(());
        }
        let blob = lz4_flex::block::compress_prepend_size(bytes);
        self.bytes += blob.len();
        self.blobs.push((hash, blob));
        if self.bytes >= FRESH_BYTES {
            self.store()?;
        }
        Ok(())
    }
}

/// A record as sled keeps it: the text compressed, or the list of its parts compressed.
fn record_bytes(text: Text) -> Result<Vec<u8>, StoreError> {
    let (tag, bytes) = match text {
        Text::Whole(text) => (INLINE, text),
        Text::Parts(parts) if parts.len() > MAX_HASH_LIST => {
            // Readers refuse a longer list as damaged: refused here rather than written.
            return Err(StoreError::Io(format!("a record whose list of parts takes {} bytes", parts.len())));
        }
        Text::Parts(parts) => (PARTS_LZ4, parts),
    };
    let mut record = Vec::with_capacity(bytes.len() / 2 + 8);
    record.push(tag);
    record.extend(lz4_flex::block::compress_prepend_size(&bytes));
    Ok(record)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An execution record's fields with `input` and `output` skipped unparsed (and `input`
/// null): a record's payloads can be most of its size, and listings show neither.
struct WithoutPayloads(serde_json::Map<String, Value>);

impl<'de> serde::Deserialize<'de> for WithoutPayloads {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = serde_json::Map<String, Value>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an execution record")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = serde_json::Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "input" || key == "output" {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    } else {
                        let value = map.next_value()?;
                        fields.insert(key, value);
                    }
                }
                fields.insert("input".into(), Value::Null);
                Ok(fields)
            }
        }
        deserializer.deserialize_map(Fields).map(WithoutPayloads)
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(io)
}

/// Reads a stored record back, however deeply its JSON nests (see [`crate::json`]).
fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    crate::json::from_slice_any_depth(bytes)
        .map_err(|e| StoreError::Corrupt { key: key.to_owned(), message: e.to_string() })
}

fn document_key(kind: &str, key: &str) -> Vec<u8> {
    [kind.as_bytes(), &[0], key.as_bytes()].concat()
}

fn event_key(arn: &str, id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(arn.len() + 9);
    key.extend_from_slice(arn.as_bytes());
    key.push(0);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

impl HistoryStore for SledStore {
    fn put_state_machine(&self, record: &StateMachineRecord) -> Result<(), StoreError> {
        self.state_machines.insert(record.hash.as_bytes(), encode(record)?).map_err(io)?;
        self.flush()
    }

    fn state_machine(&self, hash: &str) -> Result<Option<StateMachineRecord>, StoreError> {
        self.state_machines.get(hash).map_err(io)?.map(|bytes| decode(hash, &bytes)).transpose()
    }

    fn put_execution(&self, record: &ExecutionRecord) -> Result<(), StoreError> {
        self.put_packed(&self.executions, record.arn.as_bytes().to_vec(), encode(record)?)?;
        self.flush()?;
        // An execution's record changes a few times in its life: each is witnessed.
        self.witness(true);
        Ok(())
    }

    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let Some(bytes) = self.executions.get(arn).map_err(io)? else { return Ok(None) };
        decode(arn, &self.unpacked(arn, &bytes)?).map(Some)
    }

    fn executions(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.records(decode)
    }

    fn execution_summaries(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.records(|what, bytes| {
            let WithoutPayloads(fields) = decode(what, bytes)?;
            serde_json::from_value(Value::Object(fields))
                .map_err(|e| StoreError::Corrupt { key: what.to_owned(), message: e.to_string() })
        })
    }

    /// Stores a batch as records of at most about [`EVENT_RECORD_BYTES`] of JSON text each
    /// (a JSON array of events, keyed by its first event's id), so that a batch of large
    /// payloads is never one text in memory; readers concatenate the records in key order.
    /// The records go into sled in one atomic batch, then one flush.
    fn append(&self, execution_arn: &str, events: Vec<HistoryEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let chunks = self.lock_chunks();
        let known = |json: &Json| self.known_node(json);
        let mut fresh = FreshChunks::new(self);
        let mut writer = RecordWriter::new(&mut fresh, &known);
        let mut records = Vec::new();
        let mut first = None;
        for (i, event) in events.iter().enumerate() {
            writer.raw(if first.is_none() { b"[" } else { b"," });
            first.get_or_insert(event.id);
            writer.event(event)?;
            if (writer.len() >= EVENT_RECORD_BYTES || i + 1 == events.len())
                && let Some(id) = first.take()
            {
                writer.raw(b"]");
                records.push((id, writer.finish_record(INLINE_LIMIT)?));
            }
        }
        let made = writer.into_made();
        fresh.store()?;
        let mut batch = sled::Batch::default();
        for (id, text) in records {
            batch.insert(event_key(execution_arn, id), record_bytes(text)?);
        }
        self.events.apply_batch(batch).map_err(io)?;
        self.memo.lock().unwrap_or_else(|e| e.into_inner()).extend(made);
        drop(chunks);
        self.flush()
    }

    fn events(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        let mut out = Vec::new();
        self.each_event(execution_arn, &mut |event| out.push(event))?;
        Ok(out)
    }

    fn each_event(&self, execution_arn: &str, each: &mut dyn FnMut(HistoryEvent)) -> Result<(), StoreError> {
        let mut prefix = execution_arn.as_bytes().to_vec();
        prefix.push(0);
        for item in self.events.scan_prefix(&prefix) {
            let (key, bytes) = item.map_err(io)?;
            let first = key.get(prefix.len()..).and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_be_bytes);
            let what = format!("{execution_arn} events from #{first}");
            let json = self.unpacked(&what, &bytes)?;
            decode::<Vec<HistoryEvent>>(&what, &json)?.into_iter().for_each(&mut *each);
        }
        Ok(())
    }

    fn put_document(&self, kind: &str, key: &str, value: &Value) -> Result<(), StoreError> {
        self.documents.insert(document_key(kind, key), encode(value)?).map_err(io)?;
        self.flush()
    }

    fn document(&self, kind: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let found = self.documents.get(document_key(kind, key)).map_err(io)?;
        found.map(|bytes| decode(&format!("{kind}/{key}"), &bytes)).transpose()
    }

    fn documents(&self, kind: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.documents_with_prefix(kind, "")
    }

    fn documents_with_prefix(&self, kind: &str, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let kind_prefix = document_key(kind, "");
        let mut out = Vec::new();
        for item in self.documents.scan_prefix(document_key(kind, prefix)) {
            let (key, bytes) = item.map_err(io)?;
            let key = String::from_utf8_lossy(&key[kind_prefix.len()..]).into_owned();
            let value = decode(&format!("{kind}/{key}"), &bytes)?;
            out.push((key, value));
        }
        Ok(out)
    }

    fn delete_document(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        self.documents.remove(document_key(kind, key)).map_err(io)?;
        self.flush()
    }

    fn execution_arns(&self) -> Result<Vec<String>, StoreError> {
        let keys = self.executions.iter().keys();
        keys.map(|key| key.map(|k| String::from_utf8_lossy(&k).into_owned()).map_err(io)).collect()
    }

    fn all_documents(&self) -> Result<Vec<super::StoredDocument>, StoreError> {
        let mut out = Vec::new();
        for item in self.documents.iter() {
            let (key, bytes) = item.map_err(io)?;
            let (kind, name) = match key.iter().position(|b| *b == 0) {
                Some(at) => (&key[..at], &key[at + 1..]),
                None => (&key[..], &[][..]),
            };
            let (kind, name) = (String::from_utf8_lossy(kind).into_owned(), String::from_utf8_lossy(name).into_owned());
            let value = decode(&format!("{kind}/{name}"), &bytes);
            out.push((kind, name, value));
        }
        Ok(out)
    }

    fn delete_execution(&self, arn: &str) -> Result<bool, StoreError> {
        use sled::Transactional;
        let mut prefix = arn.as_bytes().to_vec();
        prefix.push(0);
        let keys = self.events.scan_prefix(&prefix).keys().collect::<Result<Vec<_>, _>>().map_err(io)?;
        // Read (and unpack: that reads sled, which a transaction must not) before the
        // transaction; inside it, the record must still be the one read.
        let Some(seen) = self.executions.get(arn.as_bytes()).map_err(io)? else { return Ok(false) };
        let record: ExecutionRecord = decode(arn, &self.unpacked(arn, &seen)?)?;
        if record.status == super::ExecutionStatus::Running {
            return Ok(false);
        }
        // Where the next batch would go: a redrive appends its ExecutionRedriven there before it
        // marks the record RUNNING, so a batch there means the execution is coming back.
        let next = match keys.last() {
            Some(key) => {
                let what = format!("{arn} events");
                let bytes = self.events.get(key).map_err(io)?.unwrap_or_default();
                let batch: Vec<HistoryEvent> = decode(&what, &self.unpacked(&what, &bytes)?)?;
                batch.last().map_or(1, |event| event.id + 1)
            }
            None => 1,
        };
        let next_key = event_key(arn, next);
        // The record and the history go together or not at all, and only while the record is
        // unchanged and nothing was appended (a redrive since it was read keeps it).
        let removed = (&self.executions, &self.events).transaction(|(executions, events)| {
            if executions.get(arn.as_bytes())?.as_ref() != Some(&seen) || events.get(&next_key)?.is_some() {
                return Ok(false);
            }
            executions.remove(arn.as_bytes())?;
            for key in &keys {
                events.remove(key)?;
            }
            Ok(true)
        });
        let removed = removed.map_err(|e: sled::transaction::TransactionError<StoreError>| match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => io(e),
        })?;
        self.flush()?;
        Ok(removed)
    }

    fn collect_garbage(&self) -> Result<GarbageReport, StoreError> {
        let _chunks = self.lock_chunks_exclusive();
        // The chunks remembered for nodes may be collected.
        self.memo.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let mut report = GarbageReport::default();
        // Mark: the chunks some record lists.
        let mut live: HashSet<ChunkHash> = HashSet::new();
        for item in self.events.iter().chain(self.executions.iter()) {
            let (key, bytes) = item.map_err(io)?;
            // A list that cannot be read stops the collection: its chunks might be live.
            if let Some(hashes) = Self::hash_list(&String::from_utf8_lossy(&key), &bytes)? {
                for hash in hashes.chunks_exact(32) {
                    live.insert(hash.try_into().unwrap_or([0; 32]));
                }
            }
        }
        // Sweep the index, and weigh each pack's live bytes (the rest of the file is garbage:
        // chunks removed now or earlier, and bytes a crash left unnamed).
        let mut live_bytes: HashMap<u32, u64> = HashMap::new();
        let mut kept: HashMap<u32, Vec<(ChunkHash, Location)>> = HashMap::new();
        for item in self.chunks.iter() {
            let (hash, entry) = item.map_err(io)?;
            let Some(location) = Location::from_bytes(&entry) else {
                return Err(StoreError::Corrupt {
                    key: format!("chunks/{}", hex(&hash)),
                    message: "a bad index entry".into(),
                });
            };
            let Ok(hash) = ChunkHash::try_from(hash.as_ref()) else {
                return Err(StoreError::Corrupt { key: format!("chunks/{}", hex(&hash)), message: "a bad key".into() });
            };
            if live.contains(&hash) {
                *live_bytes.entry(location.pack).or_default() += u64::from(location.len);
                kept.entry(location.pack).or_default().push((hash, location));
            } else {
                self.chunks.remove(hash).map_err(io)?;
                report.chunks_removed += 1;
            }
        }
        self.flush()?;
        // New chunks go to a fresh pack from now on, so that no pack is rewritten into itself.
        self.packs.seal();
        for pack in self.packs.list()? {
            let live_bytes = live_bytes.get(&pack).copied().unwrap_or(0);
            if live_bytes == 0 {
                report.bytes_reclaimed += self.packs.remove(pack)?;
                report.packs_removed += 1;
                continue;
            }
            let total = std::fs::metadata(self.packs.path(pack)).map(|m| m.len()).unwrap_or(0);
            let dead_bytes = total.saturating_sub(live_bytes);
            if (dead_bytes as f64) < REWRITE_GARBAGE_SHARE * total as f64 {
                continue;
            }
            let entries = kept.remove(&pack).unwrap_or_default();
            let blobs =
                entries.iter().map(|(_, location)| self.packs.read(*location)).collect::<Result<Vec<_>, _>>()?;
            let locations = self.packs.append(&blobs)?;
            for ((hash, _), location) in entries.iter().zip(locations) {
                self.chunks.insert(hash, &location.to_bytes()).map_err(io)?;
            }
            // The index names the new copies on disk before the old file goes.
            self.flush()?;
            self.packs.remove(pack)?;
            report.bytes_reclaimed += dead_bytes;
            report.packs_rewritten += 1;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_newer_format() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        store.db.open_tree("meta").unwrap().insert("format", &(FORMAT_VERSION + 1).to_be_bytes()).unwrap();
        store.flush().unwrap();
        drop(store);
        let err = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, StoreError::NewerFormat { found, .. } if found == FORMAT_VERSION + 1), "{err}");
    }

    /// A parent and its `.sync` child flush from two threads of one process: sled's count must
    /// never end below the witness (that reads as lost writes, and the store was refused).
    #[test]
    fn flushes_from_many_threads_keep_the_count_at_or_above_the_witness() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        store.flush().unwrap();
                        store.witness(true);
                    }
                });
            }
        });
        let meta = store.meta.get("generation").unwrap().unwrap();
        assert_eq!(u64::from_be_bytes(meta.as_ref().try_into().unwrap()), 800);
        assert_eq!(open_guard::witness(dir.path()), 800);
        drop(store);
        SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
    }
}

#[cfg(test)]
mod chunk_tests {
    use serde_json::json;
    use sfnlite_states::history::{EventDetails, Payload, StateType};

    use super::*;

    /// Text that does not compress: a payload of `len` pseudo-random letters.
    fn payload(len: usize) -> String {
        let mut state: u64 = 42 ^ len as u64;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                char::from(b'a' + ((state >> 33) % 26) as u8)
            })
            .collect()
    }

    /// States entering and leaving with the same large document, as a Pass chain records.
    fn events(data: &str, states: u64) -> Vec<HistoryEvent> {
        (1..=states * 2)
            .map(|id| HistoryEvent {
                id,
                previous_event_id: id - 1,
                timestamp: id as i64,
                details: if id % 2 == 1 {
                    EventDetails::StateEntered {
                        state_type: StateType::Pass,
                        name: format!("S{}", id / 2).into(),
                        input: Payload::new(json!({"data": data, "step": id / 2})),
                    }
                } else {
                    EventDetails::StateExited {
                        state_type: StateType::Pass,
                        name: format!("S{}", id / 2 - 1).into(),
                        output: Payload::new(json!({"data": data, "step": id / 2})),
                        assigned_variables: None,
                    }
                },
            })
            .collect()
    }

    /// A closed execution's record, so that it can be deleted.
    fn closed(store: &SledStore, arn: &str) {
        store
            .put_execution(&ExecutionRecord {
                arn: arn.into(),
                name: arn.into(),
                state_machine_name: "m".into(),
                state_machine_arn: "m".into(),
                definition_hash: "h".into(),
                input: json!({}),
                status: super::super::ExecutionStatus::Succeeded,
                output: None,
                error: None,
                cause: None,
                start_millis: 0,
                stop_millis: Some(1),
                seed: 0,
                virtual_clock: false,
                redrive_count: 0,
                origin: Default::default(),
            })
            .unwrap();
    }

    fn pack_bytes(dir: &Path) -> u64 {
        std::fs::read_dir(dir.join("packs")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
    }

    #[test]
    fn large_histories_are_stored_once_and_collected() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        let data = payload(100 * 1024);
        let history = events(&data, 50);
        store.append("arn:a", history.clone()).unwrap();
        store.append("arn:b", history.clone()).unwrap();
        assert_eq!(store.events("arn:a").unwrap(), history);
        assert_eq!(store.events("arn:b").unwrap(), history);
        // The 10 MB batch went in as records of about EVENT_RECORD_BYTES, each keyed by its
        // first event (and read back above as one history, in order).
        let firsts: Vec<u64> = (store.events.scan_prefix(b"arn:a\0").keys())
            .map(|key| u64::from_be_bytes(key.unwrap()[6..].try_into().unwrap()))
            .collect();
        assert!(firsts.len() >= 2 && firsts[0] == 1 && firsts.is_sorted(), "{firsts:?}");
        // 100 documents of 100 KiB in two histories: the shared text is kept once.
        let stored = pack_bytes(dir.path());
        assert!(stored < 150 * 1024, "{stored} bytes in packs");
        // Small batches stay in sled, compressed.
        store
            .append(
                "arn:a",
                vec![HistoryEvent {
                    id: 101,
                    previous_event_id: 100,
                    timestamp: 1,
                    details: EventDetails::ExecutionSucceeded { output: Payload::new(json!({"ok": true})) },
                }],
            )
            .unwrap();
        assert_eq!(store.events("arn:a").unwrap().len(), 101);

        // Removing one history frees nothing the other uses.
        closed(&store, "arn:a");
        assert!(store.delete_execution("arn:a").unwrap());
        let report = store.collect_garbage().unwrap();
        assert_eq!(report.chunks_removed, 0, "{report:?}");
        // A RUNNING execution is never deleted.
        closed(&store, "arn:running");
        let mut running = store.execution("arn:running").unwrap().unwrap();
        running.status = super::super::ExecutionStatus::Running;
        store.put_execution(&running).unwrap();
        assert!(!store.delete_execution("arn:running").unwrap());
        assert!(!store.delete_execution("arn:none").unwrap());
        assert_eq!(store.events("arn:b").unwrap(), history);
        assert!(store.events("arn:a").unwrap().is_empty());
        // Removing the other frees it all, on disk.
        closed(&store, "arn:b");
        assert!(store.delete_execution("arn:b").unwrap());
        let report = store.collect_garbage().unwrap();
        assert!(report.chunks_removed > 10 && report.packs_removed == 1, "{report:?}");
        assert_eq!(report.bytes_reclaimed, stored);
        assert_eq!(pack_bytes(dir.path()), 0);
        // And the store goes on.
        store.append("arn:c", history.clone()).unwrap();
        drop(store);
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        assert_eq!(store.events("arn:c").unwrap(), history);
    }

    /// A Pass chain over a shared document, as the interpreter records it: each state's
    /// output is a new object holding the same `data` node, and is the next state's input.
    fn shared_events(data: &Json, first_id: u64, states: u64) -> Vec<HistoryEvent> {
        let mut events = Vec::new();
        let mut id = first_id;
        for step in 0..states {
            let mut entries = sfnlite_states::json::Entries::new();
            entries.insert("data".into(), data.clone());
            entries.insert("step".into(), Json::from(json!(step)));
            let payload = Payload::from_json(Json::object(entries));
            for entered in [true, false] {
                let name: std::sync::Arc<str> = format!("S{step}").into();
                let state_type = StateType::Pass;
                let details = if entered {
                    EventDetails::StateEntered { state_type, name, input: payload.clone() }
                } else {
                    EventDetails::StateExited { state_type, name, output: payload.clone(), assigned_variables: None }
                };
                events.push(HistoryEvent { id, previous_event_id: id - 1, timestamp: id as i64, details });
                id += 1;
            }
        }
        events
    }

    #[test]
    fn shared_payload_nodes_are_written_once_and_forgotten_when_collected() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        let data = Json::from(json!((0..1_500).map(|i| json!({"i": i, "s": payload(30)})).collect::<Vec<_>>()));
        let first = shared_events(&data, 1, 40);
        store.append("arn:a", first.clone()).unwrap();
        let chunks_after_first = store.chunks.len();
        // Later batches of the same execution and of another list the node's chunks again.
        let second = shared_events(&data, 81, 40);
        store.append("arn:a", second.clone()).unwrap();
        store.append("arn:b", first.clone()).unwrap();
        let all: Vec<HistoryEvent> = first.iter().chain(&second).cloned().collect();
        assert_eq!(store.events("arn:a").unwrap(), all);
        assert_eq!(store.events("arn:b").unwrap(), first);
        let stored = pack_bytes(dir.path());
        let text = serde_json::to_vec(&data).unwrap().len() as u64;
        assert!(stored < text, "{stored} bytes in packs for a {text}-byte document carried 160 times");
        // Between the shared nodes, each event's own text is kept in its record: no chunk.
        let new_chunks = store.chunks.len() - chunks_after_first;
        assert!(new_chunks <= 10, "{new_chunks} new chunks");
        assert!(store.memo.lock().unwrap().len() >= 2, "the shared nodes are remembered");
        // Once collected, the node's chunks are gone and the memo with them: the next batch
        // that carries the node stores them again.
        for arn in ["arn:a", "arn:b"] {
            closed(&store, arn);
            assert!(store.delete_execution(arn).unwrap());
        }
        store.collect_garbage().unwrap();
        assert_eq!(store.memo.lock().unwrap().len(), 0);
        store.append("arn:c", first.clone()).unwrap();
        drop(store);
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        assert_eq!(store.events("arn:c").unwrap(), first);
    }

    #[test]
    fn a_pack_that_is_mostly_garbage_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        let kept = events(&payload(40 * 1024), 2);
        let gone = events(&payload(400 * 1024), 2);
        store.append("arn:kept", kept.clone()).unwrap();
        store.append("arn:gone", gone).unwrap();
        let before = pack_bytes(dir.path());
        closed(&store, "arn:gone");
        assert!(store.delete_execution("arn:gone").unwrap());
        let report = store.collect_garbage().unwrap();
        assert_eq!(report.packs_rewritten, 1, "{report:?}");
        let after = pack_bytes(dir.path());
        assert!(after < before / 4, "{before} → {after}");
        assert_eq!(before - after, report.bytes_reclaimed);
        assert_eq!(store.events("arn:kept").unwrap(), kept);
    }

    #[test]
    fn garbage_left_by_earlier_collections_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        let names = ["a", "b", "c", "d", "e"];
        for (i, name) in names.iter().enumerate() {
            store.append(name, events(&payload(100 * 1024 + i), 1)).unwrap();
        }
        let before = pack_bytes(dir.path());
        // A fifth of the pack: under the share that makes it worth rewriting.
        closed(&store, "a");
        assert!(store.delete_execution("a").unwrap());
        assert_eq!(store.collect_garbage().unwrap().packs_rewritten, 0);
        // Two fifths, counting what the first collection left.
        closed(&store, "b");
        assert!(store.delete_execution("b").unwrap());
        let report = store.collect_garbage().unwrap();
        assert_eq!(report.packs_rewritten, 1, "{report:?}");
        let after = pack_bytes(dir.path());
        assert_eq!(before - after, report.bytes_reclaimed);
        assert!(after < before * 7 / 10, "{before} → {after}");
        for name in &names[2..] {
            assert_eq!(store.events(name).unwrap().len(), 2);
        }
    }

    #[test]
    fn a_large_execution_record_is_kept_in_chunks_that_stay_live() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        closed(&store, "arn:big");
        let mut record = store.execution("arn:big").unwrap().unwrap();
        record.input = json!({"text": payload(200 * 1024)});
        record.output = Some(json!({"text": payload(200 * 1024)}));
        store.put_execution(&record).unwrap();
        assert!(pack_bytes(dir.path()) > 100 * 1024, "the record's text is in the packs");
        store.append("arn:other", events(&payload(50 * 1024), 1)).unwrap();
        closed(&store, "arn:other");
        assert!(store.delete_execution("arn:other").unwrap());
        store.collect_garbage().unwrap();
        assert_eq!(store.execution("arn:big").unwrap(), Some(record.clone()));
        assert_eq!(store.executions().unwrap(), vec![record]);
        // A record kept in chunks is deleted like any other (its chunks are read outside the
        // deleting transaction: reading sled inside it would deadlock).
        assert!(store.delete_execution("arn:big").unwrap());
        assert!(store.collect_garbage().unwrap().packs_removed >= 1);
        assert!(store.executions().unwrap().is_empty());
    }

    #[test]
    fn check_finds_damage_and_salvage_copies_what_is_intact() {
        use crate::store::{StateMachineRecord, check, salvage};
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("old"), Duration::from_secs(1)).unwrap();
        let machine = StateMachineRecord::new("m", "{}");
        store.put_state_machine(&machine).unwrap();
        let big = events(&payload(64 * 1024), 2);
        let small = events("small", 2);
        for (arn, history) in [("arn:big", &big), ("arn:small", &small)] {
            store.append(arn, history.clone()).unwrap();
            closed(&store, arn);
            let mut record = store.execution(arn).unwrap().unwrap();
            record.definition_hash = machine.hash.clone();
            store.put_execution(&record).unwrap();
        }
        store.put_document("activity", "arn:x", &json!({"n": 1})).unwrap();
        let intact = check(&store).unwrap();
        assert_eq!((intact.intact_executions, intact.intact_events, intact.intact_documents), (2, 8, 1));
        assert!(intact.damaged.is_empty());
        // One byte of the pack changes: the large history is damaged, the rest is not.
        let pack = dir.path().join("old/packs/00000001.pack");
        let mut bytes = std::fs::read(&pack).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        std::fs::write(&pack, bytes).unwrap();
        let report = check(&store).unwrap();
        assert_eq!(report.intact_executions, 1);
        assert_eq!(report.damaged.len(), 1, "{report:?}");
        assert_eq!(report.damaged[0].what, "arn:big");
        assert!(report.damaged[0].problem.contains("00000001.pack"), "{report:?}");
        let fresh = SledStore::open(&dir.path().join("new"), Duration::from_secs(1)).unwrap();
        let saved = salvage(&store, &fresh).unwrap();
        assert_eq!((saved.executions, saved.documents, saved.lost.len()), (1, 1, 1));
        assert_eq!(fresh.events("arn:small").unwrap(), small);
        assert_eq!(fresh.execution("arn:small").unwrap(), store.execution("arn:small").unwrap());
        assert_eq!(fresh.state_machine(&machine.hash).unwrap(), Some(machine));
        assert!(fresh.execution("arn:big").unwrap().is_none());
        assert_eq!(check(&fresh).unwrap().damaged, vec![]);
    }

    #[test]
    fn a_damaged_database_is_refused_and_left_as_it_was() {
        // sled takes damage in its last segment for a torn write and would open the store
        // without what follows; the flush count in the witness file tells, and the files are
        // put back.
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
            for i in 0..6 {
                let arn = format!("arn:{i}");
                store.append(&arn, events("small", 2)).unwrap();
                closed(&store, &arn);
            }
        }
        let log = dir.path().join("db/db");
        let clean = std::fs::read(&log).unwrap();
        let used = clean.iter().rposition(|b| *b != 0).unwrap();
        for at in [used / 5, used / 2, used * 4 / 5] {
            let mut damaged = clean.clone();
            damaged[at] ^= 0x55;
            std::fs::write(&log, &damaged).unwrap();
            let error = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap_err().to_string();
            assert!(error.contains("is damaged") && error.contains("left as they were"), "byte {at}: {error}");
            assert!(std::fs::read(&log).unwrap() == damaged, "byte {at}: the damaged database was changed");
        }
        // Opened by several at once, it stays as it was (each open saves, fails and restores
        // under the store's open lock).
        let mut damaged = clean.clone();
        damaged[used / 2] ^= 0x55;
        for _ in 0..5 {
            std::fs::write(&log, &damaged).unwrap();
            std::thread::scope(|scope| {
                for _ in 0..4 {
                    scope.spawn(|| assert!(SledStore::open(dir.path(), Duration::from_secs(5)).is_err()));
                }
            });
            assert!(std::fs::read(&log).unwrap() == damaged, "concurrent opens changed the damaged database");
        }
        std::fs::write(&log, &clean).unwrap();
        assert_eq!(SledStore::open(dir.path(), Duration::from_secs(1)).unwrap().executions().unwrap().len(), 6);
    }

    #[test]
    fn blobs_that_a_failed_open_removes_are_put_back() {
        // sled keeps a value larger than a quarter of its 512 KiB segments in a file of its
        // own (a blob); recovering a damaged log, it removes the blobs written after the
        // damage. The open guard keeps them by hard links, and links them back.
        let dir = tempfile::tempdir().unwrap();
        let big = vec![7u8; 300 * 1024];
        {
            let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
            for i in 0..6 {
                let arn = format!("arn:{i}");
                store.append(&arn, events("small", 2)).unwrap();
                closed(&store, &arn);
                store.documents.insert(format!("big{i}"), big.as_slice()).unwrap();
                store.flush().unwrap();
            }
        }
        let blobs = || {
            let mut all: Vec<_> = std::fs::read_dir(dir.path().join("db/blobs"))
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (e.file_name(), std::fs::read(e.path()).unwrap())
                })
                .collect();
            all.sort();
            all
        };
        let before = blobs();
        assert!(before.len() >= 6, "sled kept the large values inline: {} blobs", before.len());
        let log = dir.path().join("db/db");
        let clean = std::fs::read(&log).unwrap();
        let used = clean.iter().rposition(|b| *b != 0).unwrap();
        let mut removed_by_sled = 0;
        for at in [used / 10, used / 4, used / 2, used * 3 / 4] {
            let mut damaged = clean.clone();
            damaged[at] ^= 0x55;
            // The control: sled alone, on a copy, removes blobs for some of these.
            let copy = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(copy.path().join("blobs")).unwrap();
            for entry in std::fs::read_dir(dir.path().join("db")).unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_file() {
                    std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
                }
            }
            std::fs::write(copy.path().join("db"), &damaged).unwrap();
            for (name, bytes) in &before {
                std::fs::write(copy.path().join("blobs").join(name), bytes).unwrap();
            }
            let _ = sled::Config::new().path(copy.path()).mode(sled::Mode::LowSpace).open();
            removed_by_sled += before.len() - std::fs::read_dir(copy.path().join("blobs")).unwrap().count();
            std::fs::write(&log, &damaged).unwrap();
            let error = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap_err().to_string();
            assert!(error.contains("is damaged") && error.contains("left as they were"), "byte {at}: {error}");
            assert!(std::fs::read(&log).unwrap() == damaged, "byte {at}: the damaged log was changed");
            assert!(blobs() == before, "byte {at}: the blobs changed");
            assert!(!dir.path().join("db.saved").exists(), "byte {at}: the saved copy was left");
        }
        assert!(removed_by_sled > 0, "sled removed no blob: the test shows nothing");
        std::fs::write(&log, &clean).unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        assert!(!dir.path().join("db.saved").exists(), "the saved copy was left after an open");
        for i in 0..6 {
            assert_eq!(store.documents.get(format!("big{i}")).unwrap().unwrap().as_ref(), big.as_slice());
        }
    }

    #[test]
    fn a_save_that_an_interrupted_open_left_is_kept_until_an_open_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
            for i in 0..4 {
                store.append(&format!("arn:{i}"), events("small", 2)).unwrap();
                closed(&store, &format!("arn:{i}"));
            }
        }
        let log = dir.path().join("db/db");
        let saved = dir.path().join("db.saved");
        let earlier = dir.path().join("db.saved.earlier");
        let clean = std::fs::read(&log).unwrap();
        // An open that did not end (killed, or sled panicked) leaves its save, complete.
        {
            let gate = open_guard::Gate::acquire(dir.path()).unwrap();
            let _unended = open_guard::save(&dir.path().join("db"), &gate).unwrap();
        }
        let manifest = std::fs::read_to_string(saved.join("complete")).unwrap();
        assert!(manifest.starts_with(&format!("{} db\n", clean.len())) && manifest.ends_with(" blobs\n"), "{manifest}");
        // The database is damaged (as that open's sled might have left it): the next opens
        // keep the save, and their refusals name it.
        let used = clean.iter().rposition(|b| *b != 0).unwrap();
        let mut damaged = clean.clone();
        damaged[used / 2] ^= 0x55;
        std::fs::write(&log, &damaged).unwrap();
        for _ in 0..2 {
            let error = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap_err().to_string();
            assert!(
                error.contains("left as they were") && error.contains("db.saved.earlier holds the database"),
                "{error}"
            );
            assert!(std::fs::read(&log).unwrap() == damaged, "the damaged log was changed");
            assert!(std::fs::read(earlier.join("files/db")).unwrap() == clean, "the earlier save changed");
            assert!(!saved.exists());
        }
        // Another unended open (of the damaged log) does not replace it: the older is kept.
        {
            let gate = open_guard::Gate::acquire(dir.path()).unwrap();
            let _unended = open_guard::save(&dir.path().join("db"), &gate).unwrap();
        }
        assert!(SledStore::open(dir.path(), Duration::from_secs(1)).is_err());
        assert!(std::fs::read(earlier.join("files/db")).unwrap() == clean, "the earlier save was replaced");
        assert!(!saved.exists());
        // An open that succeeds deletes it.
        std::fs::write(&log, &clean).unwrap();
        assert_eq!(SledStore::open(dir.path(), Duration::from_secs(1)).unwrap().executions().unwrap().len(), 4);
        assert!(!earlier.exists() && !saved.exists());
        // A save without its manifest (the process ended while saving) is deleted, not kept.
        std::fs::create_dir_all(saved.join("files")).unwrap();
        std::fs::write(saved.join("files/db"), b"half").unwrap();
        std::fs::write(saved.join("complete.tmp"), b"1 db\n").unwrap();
        std::fs::write(&log, &damaged).unwrap();
        let error = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap_err().to_string();
        assert!(!error.contains("db.saved.earlier") && !earlier.exists() && !saved.exists(), "{error}");
    }

    #[test]
    fn damage_in_a_pack_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        store.append("arn:a", events(&payload(64 * 1024), 2)).unwrap();
        let pack = dir.path().join("packs/00000001.pack");
        let mut bytes = std::fs::read(&pack).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        std::fs::write(&pack, bytes).unwrap();
        let error = store.events("arn:a").unwrap_err().to_string();
        assert!(error.contains("00000001.pack") && error.contains("arn:a events from #1"), "{error}");
    }

    #[test]
    fn reads_format_1_and_marks_the_store_as_the_current_format() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        let history = events("small", 3);
        // A batch as format 1 stored it: the JSON itself.
        store.events.insert(event_key("arn:old", 1), serde_json::to_vec(&history).unwrap()).unwrap();
        store.db.open_tree("meta").unwrap().insert("format", &1u32.to_be_bytes()).unwrap();
        store.flush().unwrap();
        drop(store);
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        assert_eq!(store.events("arn:old").unwrap(), history);
        let format = store.db.open_tree("meta").unwrap().get("format").unwrap().unwrap();
        assert_eq!(format.as_ref(), &FORMAT_VERSION.to_be_bytes());
    }

    #[test]
    fn reads_format_2_lists_of_chunk_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(1)).unwrap();
        let data = payload(50 * 1024);
        let history = events(&data, 5);
        store.append("arn:old", history.clone()).unwrap();
        // Each record as format 2 stored it: its text as chunks only (the text parts made
        // chunks too), the list of their hashes compressed.
        let records: Vec<(sled::IVec, sled::IVec)> = store.events.iter().map(Result::unwrap).collect();
        assert!(records.iter().any(|(_, record)| record[0] == PARTS_LZ4));
        for (key, record) in records {
            if record[0] != PARTS_LZ4 {
                continue;
            }
            let list = SledStore::list("test", &record[1..]).unwrap();
            let mut fresh = FreshChunks::new(&store);
            let mut hashes = Vec::new();
            for part in records::parts(&list).unwrap() {
                let hash = match part {
                    Part::Chunk(hash) => *hash,
                    Part::Text(text) => {
                        let hash = chunks::hash(text);
                        fresh.add(hash, text).unwrap();
                        hash
                    }
                };
                hashes.extend_from_slice(&hash);
            }
            fresh.store().unwrap();
            let mut old = vec![CHUNKED_LZ4];
            old.extend(lz4_flex::block::compress_prepend_size(&hashes));
            store.events.insert(key, old).unwrap();
        }
        assert!(store.events.iter().map(Result::unwrap).all(|(_, record)| record[0] != PARTS_LZ4));
        assert_eq!(store.events("arn:old").unwrap(), history);
        // Their chunks are live.
        closed(&store, "arn:other");
        assert!(store.delete_execution("arn:other").unwrap());
        store.collect_garbage().unwrap();
        assert_eq!(store.events("arn:old").unwrap(), history);
    }
}
