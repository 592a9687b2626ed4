//! S3 on a directory tree: bucket `b` is the directory `<root>/b` (or the directory it is
//! mounted on), key `k/x.csv` the file `<root>/b/k/x.csv`. Keys that could leave the bucket
//! (`..`, `.`, empty segments, a leading `/`, NUL) are refused. Content-Type and user
//! metadata live beside the data, in `<root>/.sfnlite-meta/<bucket>/<key>.json`; files put
//! there by other means are served as `binary/octet-stream`.
//!
//! Writes go to a temporary file that is renamed into place, so a reader never sees half
//! an object.

mod uploads;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::{
    ListPage, ListRequest, ListedObject, ObjectMeta, ObjectStore, PartMeta, PutRequest, S3Error, UploadMeta, etag_of,
};
use crate::BoxFuture;

const META_DIR: &str = ".sfnlite-meta";
const TMP_SUFFIX: &str = ".sfnlite-tmp";
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// A directory-backed object store.
#[derive(Debug, Clone)]
pub struct LocalS3 {
    inner: Arc<Dirs>,
}

#[derive(Debug)]
struct Dirs {
    root: PathBuf,
    mounts: HashMap<String, PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    content_type: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    etag: String,
    size: u64,
    modified_nanos: u128,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalS3 {
    /// A store rooted at `root`, with some buckets mounted on other directories.
    pub fn new(root: impl Into<PathBuf>, mounts: HashMap<String, PathBuf>) -> LocalS3 {
        LocalS3 { inner: Arc::new(Dirs { root: root.into(), mounts }) }
    }

    /// The data root.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The directory of a bucket (whether or not it exists).
    pub fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, S3Error> {
        self.inner.bucket_dir(bucket)
    }

    /// The local path of `s3://bucket/key` (a folder when `key` is empty or ends in `/`),
    /// refusing addresses that would leave the bucket.
    pub fn path_of(&self, bucket: &str, key: &str) -> Result<PathBuf, S3Error> {
        let dir = self.inner.bucket_dir(bucket)?;
        let linked_bucket = !self.inner.mounts.contains_key(bucket)
            && fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink());
        if linked_bucket {
            return Err(linked(&dir));
        }
        if key.is_empty() {
            return Ok(dir);
        }
        let trimmed = key.strip_suffix('/').unwrap_or(key);
        check_key(trimmed)?;
        let path = dir.join(trimmed);
        no_links(&dir, &path)?;
        Ok(path)
    }

    /// The names of the buckets that exist (mounted ones included), sorted.
    pub fn list_buckets(&self) -> Result<Vec<String>, S3Error> {
        let mut names: Vec<String> = self.inner.mounts.keys().cloned().collect();
        if let Ok(entries) = fs::read_dir(&self.inner.root) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                // A linked folder is no bucket (links are not followed).
                if entry.file_type().is_ok_and(|t| t.is_dir()) && check_bucket(&name).is_ok() {
                    names.push(name);
                }
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Dirs) -> Result<T, S3Error> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, S3Error>> {
        let dirs = self.inner.clone();
        Box::pin(async move {
            // On the blocking pool: file IO does not stall the executions, and (under the
            // virtual clock) time does not move while the store works.
            match tokio::task::spawn_blocking(move || work(&dirs)).await {
                Ok(result) => result,
                Err(e) => Err(S3Error::new("InternalError", 500, format!("the local store failed: {e}"))),
            }
        })
    }
}

/// A link met inside the data root: refused, never followed.
fn linked(path: &Path) -> S3Error {
    S3Error::new(
        "AccessDenied",
        403,
        format!("{} is a symbolic link: the local store does not follow links out of its buckets", path.display()),
    )
}

/// Refuses a key whose folders or file under `bucket_dir` include a symbolic link, which
/// could lead out of the bucket (and of the data root).
fn no_links(bucket_dir: &Path, path: &Path) -> Result<(), S3Error> {
    let Ok(inside) = path.strip_prefix(bucket_dir) else { return Ok(()) };
    let mut current = bucket_dir.to_path_buf();
    for part in inside.components() {
        current.push(part);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(linked(&current)),
            Ok(_) => {}
            // What does not exist yet is no link.
            Err(_) => break,
        }
    }
    Ok(())
}

/// Bucket names as S3 allows them: 3–63 of `a-z 0-9 . -`, starting and ending with a letter or digit.
pub(crate) fn check_bucket(bucket: &str) -> Result<(), S3Error> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.as_bytes()[0].is_ascii_alphanumeric()
        && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric()
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(S3Error::new("InvalidBucketName", 400, format!("The specified bucket is not valid: '{bucket}'")))
    }
}

/// Keys that map to a file inside the bucket's directory.
fn check_key(key: &str) -> Result<(), S3Error> {
    if key.is_empty() || key.len() > 1024 {
        return Err(S3Error::new("KeyTooLongError", 400, "keys must be 1 to 1024 bytes long"));
    }
    if key.contains('\0') {
        return Err(S3Error::invalid_argument(format!("the key '{}' contains a NUL character", key.escape_debug())));
    }
    if key.starts_with('/') {
        return Err(S3Error::invalid_argument(format!(
            "the key '{key}' starts with '/', which the local store cannot keep inside its bucket"
        )));
    }
    if key.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..") {
        return Err(S3Error::invalid_argument(format!(
            "the key '{key}' has an empty, '.' or '..' segment, which the local store cannot keep inside its bucket"
        )));
    }
    if key.ends_with(TMP_SUFFIX) {
        return Err(S3Error::invalid_argument(format!("keys ending in '{TMP_SUFFIX}' are reserved by sfnlite")));
    }
    Ok(())
}

fn io_error(context: &str, error: std::io::Error) -> S3Error {
    S3Error::new("InternalError", 500, format!("{context}: {error}"))
}

fn mtime_nanos(meta: &fs::Metadata) -> u128 {
    meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_nanos()).unwrap_or(0)
}

impl Dirs {
    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, S3Error> {
        if let Some(dir) = self.mounts.get(bucket) {
            return Ok(dir.clone());
        }
        check_bucket(bucket)?;
        Ok(self.root.join(bucket))
    }

    fn existing_bucket(&self, bucket: &str) -> Result<PathBuf, S3Error> {
        let dir = self.bucket_dir(bucket)?;
        // A bucket's folder under the data root is never a link (a mount may point anywhere:
        // the settings say so).
        if !self.mounts.contains_key(bucket) && fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(linked(&dir));
        }
        if dir.is_dir() { Ok(dir) } else { Err(S3Error::no_such_bucket()) }
    }

    fn object_path(&self, bucket: &str, key: &str) -> Result<PathBuf, S3Error> {
        check_key(key)?;
        let dir = self.existing_bucket(bucket)?;
        let path = dir.join(key);
        no_links(&dir, &path)?;
        Ok(path)
    }

    fn sidecar_path(&self, bucket: &str, key: &str) -> PathBuf {
        // Named by a hash of the key, so that no key's sidecar can collide with another's folder.
        let digest = crate::s3::etag_of(key.as_bytes());
        self.root.join(META_DIR).join(bucket).join(format!("{}.json", digest.trim_matches('"')))
    }

    /// What S3 says about the object at `path`; `content`, when the caller has read it
    /// already, spares reading the file again for its ETag.
    fn meta(&self, bucket: &str, key: &str, path: &Path, content: Option<&[u8]>) -> Result<ObjectMeta, S3Error> {
        let file = match fs::metadata(path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Err(S3Error::no_such_key()),
            Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {
                return Err(S3Error::no_such_key());
            }
            Err(e) => return Err(io_error("cannot read the object", e)),
        };
        let modified_nanos = mtime_nanos(&file);
        let sidecar: Option<Sidecar> = fs::read(self.sidecar_path(bucket, key))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .filter(|s: &Sidecar| s.size == file.len() && s.modified_nanos == modified_nanos);
        let (content_type, metadata, etag) = match sidecar {
            Some(s) => (s.content_type, s.metadata, s.etag),
            None => {
                let etag = match content {
                    Some(bytes) => etag_of(bytes),
                    None => etag_of(&fs::read(path).map_err(|e| io_error("cannot read the object", e))?),
                };
                (DEFAULT_CONTENT_TYPE.to_owned(), BTreeMap::new(), etag)
            }
        };
        Ok(ObjectMeta {
            content_length: file.len(),
            content_type,
            etag,
            last_modified: (modified_nanos / 1_000_000) as i64,
            metadata,
        })
    }

    /// An object's bytes; a missing file (or a folder) is a missing key.
    fn read(&self, path: &Path) -> Result<Vec<u8>, S3Error> {
        fs::read(path).map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory => S3Error::no_such_key(),
            _ => io_error("cannot read the object", e),
        })
    }

    fn put(&self, request: PutRequest) -> Result<ObjectMeta, S3Error> {
        let etag = etag_of(&request.body);
        let body = request.body;
        let write = |file: &mut fs::File| std::io::Write::write_all(file, &body);
        self.place(&request.bucket, &request.key, request.content_type, request.metadata, etag, write)
    }

    /// Writes an object whose bytes `write` puts in a new file (renamed into place), and
    /// its sidecar.
    fn place(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<String>,
        metadata: BTreeMap<String, String>,
        etag: String,
        write: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
    ) -> Result<ObjectMeta, S3Error> {
        let path = self.object_path(bucket, key)?;
        let parent = path.parent().expect("an object path has a parent");
        let bucket_dir = self.existing_bucket(bucket)?;
        if parent.ancestors().take_while(|a| *a != bucket_dir).any(Path::is_file) {
            return Err(S3Error::invalid_argument(format!(
                "the key '{key}' is below an existing object, which the local store cannot represent"
            )));
        }
        fs::create_dir_all(parent).map_err(|e| io_error("cannot create the object's folder", e))?;
        if path.is_dir() {
            return Err(S3Error::invalid_argument(format!(
                "the key '{key}' is a prefix of other objects, which the local store cannot represent"
            )));
        }
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = parent.join(format!(
            ".{}.{}.{n}{TMP_SUFFIX}",
            path.file_name().map(|f| f.to_string_lossy()).unwrap_or_default(),
            std::process::id()
        ));
        let written = fs::File::create(&tmp).and_then(|mut file| write(&mut file));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_error("cannot write the object", e));
        }
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_error("cannot write the object", e)
        })?;
        let file = fs::metadata(&path).map_err(|e| io_error("cannot read the object", e))?;
        let sidecar = Sidecar {
            content_type: content_type.unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
            metadata,
            etag,
            size: file.len(),
            modified_nanos: mtime_nanos(&file),
        };
        let sidecar_path = self.sidecar_path(bucket, key);
        if let Some(dir) = sidecar_path.parent() {
            fs::create_dir_all(dir).map_err(|e| io_error("cannot write the object's metadata", e))?;
        }
        let text = serde_json::to_vec(&sidecar).expect("a sidecar serializes");
        fs::write(&sidecar_path, text).map_err(|e| io_error("cannot write the object's metadata", e))?;
        Ok(ObjectMeta {
            content_length: sidecar.size,
            content_type: sidecar.content_type,
            etag: sidecar.etag,
            last_modified: (sidecar.modified_nanos / 1_000_000) as i64,
            metadata: sidecar.metadata,
        })
    }

    fn delete(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        let dir = self.existing_bucket(bucket)?;
        check_key(key)?;
        let path = dir.join(key);
        no_links(&dir, &path)?;
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory) => {
                return Ok(());
            }
            Err(e) => return Err(io_error("cannot delete the object", e)),
        }
        let _ = fs::remove_file(self.sidecar_path(bucket, key));
        // Empty folders are not objects: remove those the key leaves behind.
        let mut folder = path.parent().map(Path::to_path_buf);
        while let Some(current) = folder {
            if current == dir || fs::remove_dir(&current).is_err() {
                break;
            }
            folder = current.parent().map(Path::to_path_buf);
        }
        Ok(())
    }

    fn list(&self, request: &ListRequest) -> Result<ListPage, S3Error> {
        let dir = self.existing_bucket(&request.bucket)?;
        let mut keys = Vec::new();
        walk(&dir, "", &request.prefix, &mut keys).map_err(|e| io_error("cannot list the bucket", e))?;
        keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let after = match (&request.continuation_token, &request.start_after) {
            (Some(token), _) => Some(decode_token(token)?),
            (None, Some(start)) => Some(start.clone()),
            (None, None) => None,
        };
        let max_keys = if request.max_keys == 0 { 1000 } else { request.max_keys.min(1000) };
        let mut page = ListPage::default();
        let mut last = None;
        let mut count = 0;
        for key in keys {
            if !key.starts_with(&request.prefix) || after.as_ref().is_some_and(|a| key.as_bytes() <= a.as_bytes()) {
                continue;
            }
            let rolled = request.delimiter.as_deref().filter(|d| !d.is_empty()).and_then(|d| {
                key[request.prefix.len()..].find(d).map(|i| key[..request.prefix.len() + i + d.len()].to_owned())
            });
            if let Some(prefix) = &rolled
                && page.common_prefixes.last() == Some(prefix)
            {
                continue;
            }
            if count == max_keys {
                page.next_continuation_token = last.map(|k: String| encode_token(&k));
                break;
            }
            count += 1;
            match rolled {
                Some(prefix) => {
                    // Resume after every key under this prefix.
                    last = Some(format!("{prefix}\u{10ffff}"));
                    page.common_prefixes.push(prefix);
                }
                None => {
                    let meta = self.meta(&request.bucket, &key, &dir.join(&key), None)?;
                    page.contents.push(ListedObject {
                        key: key.clone(),
                        size: meta.content_length,
                        etag: meta.etag,
                        last_modified: meta.last_modified,
                    });
                    last = Some(key);
                }
            }
        }
        Ok(page)
    }
}

/// Collects the keys under `dir` (whose key prefix is `base`) that could start with `prefix`.
fn walk(dir: &Path, base: &str, prefix: &str, keys: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(TMP_SUFFIX) {
            continue;
        }
        let key = format!("{base}{name}");
        let file_type = entry.file_type()?;
        // Links are not followed (nor listed): they could lead out of the bucket.
        if file_type.is_symlink() {
            continue;
        }
        if file_type.is_dir() {
            let folder = format!("{key}/");
            if folder.starts_with(prefix) || prefix.starts_with(&folder) {
                walk(&entry.path(), &folder, prefix, keys)?;
            }
        } else if key.starts_with(prefix) {
            keys.push(key);
        }
    }
    Ok(())
}

fn encode_token(key: &str) -> String {
    super::hex(key.as_bytes())
}

fn decode_token(token: &str) -> Result<String, S3Error> {
    let invalid = || S3Error::invalid_argument("The continuation token provided is incorrect");
    if !token.is_ascii() || !token.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes: Result<Vec<u8>, _> =
        (0..token.len()).step_by(2).map(|i| u8::from_str_radix(&token[i..i + 2], 16)).collect();
    String::from_utf8(bytes.map_err(|_| invalid())?).map_err(|_| invalid())
}

impl ObjectStore for LocalS3 {
    fn list_buckets(&self) -> BoxFuture<'_, Result<Vec<String>, S3Error>> {
        let listed = LocalS3::list_buckets(self);
        Box::pin(async move { listed })
    }

    fn create_multipart_upload(&self, request: PutRequest) -> BoxFuture<'_, Result<String, S3Error>> {
        self.blocking(move |dirs| dirs.create_upload(request))
    }

    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Vec<u8>,
    ) -> BoxFuture<'_, Result<String, S3Error>> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.blocking(move |dirs| dirs.upload_part(&bucket, &key, &id, number, &body))
    }

    fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<PartMeta>,
    ) -> BoxFuture<'_, Result<ObjectMeta, S3Error>> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.blocking(move |dirs| dirs.complete_upload(&bucket, &key, &id, &parts))
    }

    fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> BoxFuture<'_, Result<(), S3Error>> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.blocking(move |dirs| dirs.abort_upload(&bucket, &key, &id))
    }

    fn list_parts(&self, bucket: &str, key: &str, upload_id: &str) -> BoxFuture<'_, Result<Vec<PartMeta>, S3Error>> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.blocking(move |dirs| dirs.parts(&bucket, &key, &id))
    }

    fn list_multipart_uploads(&self, bucket: &str) -> BoxFuture<'_, Result<Vec<UploadMeta>, S3Error>> {
        let bucket = bucket.to_owned();
        self.blocking(move |dirs| dirs.uploads(&bucket))
    }

    fn get_object(&self, bucket: &str, key: &str) -> BoxFuture<'_, Result<(Vec<u8>, ObjectMeta), S3Error>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.blocking(move |dirs| {
            let path = dirs.object_path(&bucket, &key)?;
            let bytes = dirs.read(&path)?;
            let meta = dirs.meta(&bucket, &key, &path, Some(&bytes))?;
            Ok((bytes, meta))
        })
    }

    fn head_object(&self, bucket: &str, key: &str) -> BoxFuture<'_, Result<ObjectMeta, S3Error>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.blocking(move |dirs| {
            let path = dirs.object_path(&bucket, &key)?;
            dirs.meta(&bucket, &key, &path, None)
        })
    }

    fn put_object(&self, request: PutRequest) -> BoxFuture<'_, Result<ObjectMeta, S3Error>> {
        self.blocking(move |dirs| dirs.put(request))
    }

    fn delete_object(&self, bucket: &str, key: &str) -> BoxFuture<'_, Result<(), S3Error>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.blocking(move |dirs| dirs.delete(&bucket, &key))
    }

    fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        bucket: &str,
        key: &str,
    ) -> BoxFuture<'_, Result<ObjectMeta, S3Error>> {
        let (source_bucket, source_key) = (source_bucket.to_owned(), source_key.to_owned());
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.blocking(move |dirs| {
            let source = dirs.object_path(&source_bucket, &source_key)?;
            let body = dirs.read(&source)?;
            let meta = dirs.meta(&source_bucket, &source_key, &source, Some(&body))?;
            dirs.put(PutRequest { bucket, key, body, content_type: Some(meta.content_type), metadata: meta.metadata })
        })
    }

    fn list_objects(&self, request: ListRequest) -> BoxFuture<'_, Result<ListPage, S3Error>> {
        self.blocking(move |dirs| dirs.list(&request))
    }

    fn create_bucket(&self, bucket: &str) -> BoxFuture<'_, Result<(), S3Error>> {
        let bucket = bucket.to_owned();
        self.blocking(move |dirs| {
            let dir = dirs.bucket_dir(&bucket)?;
            if dir.is_dir() {
                return Err(S3Error::new(
                    "BucketAlreadyOwnedByYou",
                    409,
                    "Your previous request to create the named bucket succeeded and you already own it.",
                ));
            }
            fs::create_dir_all(&dir).map_err(|e| io_error("cannot create the bucket", e))
        })
    }

    fn delete_bucket(&self, bucket: &str) -> BoxFuture<'_, Result<(), S3Error>> {
        let bucket = bucket.to_owned();
        self.blocking(move |dirs| {
            if dirs.mounts.contains_key(&bucket) {
                return Err(S3Error::new(
                    "MethodNotAllowed",
                    405,
                    format!("the bucket {bucket} is a folder mounted by the settings; sfnlite does not delete it"),
                ));
            }
            let dir = dirs.bucket_dir(&bucket)?;
            if !dir.is_dir() {
                return Err(S3Error::no_such_bucket());
            }
            // Folders that held deleted keys may remain; only keys count.
            let probe = ListRequest { bucket: bucket.clone(), max_keys: 1, ..Default::default() };
            if !dirs.list(&probe)?.contents.is_empty() {
                return Err(S3Error::new("BucketNotEmpty", 409, "The bucket you tried to delete is not empty"));
            }
            fs::remove_dir_all(&dir).map_err(|e| io_error("cannot delete the bucket", e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, LocalS3) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalS3::new(dir.path(), HashMap::new());
        (dir, store)
    }

    fn put(bucket: &str, key: &str, body: &str) -> PutRequest {
        PutRequest { bucket: bucket.into(), key: key.into(), body: body.as_bytes().to_vec(), ..Default::default() }
    }

    /// Links planted in the data root are never followed: not a bucket's folder, not a
    /// key's folder, not a file; listings leave them out.
    #[tokio::test]
    async fn links_lead_nowhere() {
        let (dir, store) = store();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        store.create_bucket("data").await.unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("data/away")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("data/file")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linked")).unwrap();
        for (bucket, key) in [("data", "away/secret"), ("data", "file"), ("linked", "secret")] {
            let read = store.get_object(bucket, key).await.unwrap_err();
            assert_eq!(read.code, "AccessDenied", "{bucket}/{key}: {read}");
            assert_eq!(store.put_object(put(bucket, key, "x")).await.unwrap_err().code, "AccessDenied");
            assert_eq!(store.delete_object(bucket, key).await.unwrap_err().code, "AccessDenied");
            assert!(store.path_of(bucket, key).is_err());
        }
        assert_eq!(std::fs::read_to_string(outside.path().join("secret")).unwrap(), "s", "nothing outside changed");
        store.put_object(put("data", "kept", "k")).await.unwrap();
        let listed = store.list_objects(ListRequest { bucket: "data".into(), ..Default::default() }).await.unwrap();
        assert_eq!(listed.contents.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["kept"]);
        assert!(
            !LocalS3::list_buckets(&store).unwrap().contains(&"linked".to_owned())
                || store.get_object("linked", "secret").await.is_err()
        );
    }

    #[tokio::test]
    async fn keys_cannot_leave_the_bucket() {
        let (dir, store) = store();
        store.create_bucket("data").await.unwrap();
        for key in ["../escape", "a/../../b", "/etc/passwd", "a//b", "./x", "nul\0byte", ""] {
            let error = store.put_object(put("data", key, "x")).await.unwrap_err();
            assert_ne!(error.code, "InternalError", "{key:?}: {error}");
        }
        for bucket in ["..", "../data", "a/b", "UPPER", "x"] {
            assert_eq!(store.put_object(put(bucket, "k", "x")).await.unwrap_err().code, "InvalidBucketName");
        }
        assert!(!dir.path().join("escape").exists());
    }

    #[tokio::test]
    async fn put_get_head_list_copy_delete() {
        let (_dir, store) = store();
        assert_eq!(store.put_object(put("data", "k", "x")).await.unwrap_err().code, "NoSuchBucket");
        store.create_bucket("data").await.unwrap();
        assert_eq!(store.create_bucket("data").await.unwrap_err().code, "BucketAlreadyOwnedByYou");
        let mut request = put("data", "logs/2026/a.txt", "hello");
        request.content_type = Some("text/plain".into());
        let meta = store.put_object(request).await.unwrap();
        assert_eq!(meta.etag, "\"5d41402abc4b2a76b9719d911017c592\"");
        store.put_object(put("data", "logs/2026/b.txt", "b")).await.unwrap();
        store.put_object(put("data", "logs/top.txt", "t")).await.unwrap();
        store.put_object(put("data", "z.txt", "z")).await.unwrap();
        let (body, got) = store.get_object("data", "logs/2026/a.txt").await.unwrap();
        assert_eq!((body.as_slice(), got.content_type.as_str()), (b"hello".as_slice(), "text/plain"));
        assert_eq!(store.get_object("data", "nope").await.unwrap_err().code, "NoSuchKey");
        assert_eq!(store.head_object("data", "logs").await.unwrap_err().code, "NoSuchKey");

        let all = store.list_objects(ListRequest { bucket: "data".into(), ..Default::default() }).await.unwrap();
        let keys: Vec<&str> = all.contents.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["logs/2026/a.txt", "logs/2026/b.txt", "logs/top.txt", "z.txt"]);

        let rolled = ListRequest {
            bucket: "data".into(),
            prefix: "logs/".into(),
            delimiter: Some("/".into()),
            ..Default::default()
        };
        let page = store.list_objects(rolled).await.unwrap();
        assert_eq!(page.common_prefixes, ["logs/2026/"]);
        assert_eq!(page.contents.len(), 1);

        let mut paged = ListRequest { bucket: "data".into(), max_keys: 3, ..Default::default() };
        let first = store.list_objects(paged.clone()).await.unwrap();
        assert_eq!(first.contents.len(), 3);
        paged.continuation_token = first.next_continuation_token.clone();
        let second = store.list_objects(paged).await.unwrap();
        assert_eq!(second.contents.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["z.txt"]);
        assert!(second.next_continuation_token.is_none());

        // Keys whose names look like another key's metadata file are independent objects.
        store.put_object(put("data", "report.json/part-1", "p")).await.unwrap();
        store.put_object(put("data", "report", "r")).await.unwrap();
        assert_eq!(store.put_object(put("data", "z.txt/below", "x")).await.unwrap_err().code, "InvalidArgument");
        assert_eq!(store.put_object(put("data", "z.txt/deeper/below", "x")).await.unwrap_err().code, "InvalidArgument");
        let unicode =
            ListRequest { bucket: "data".into(), continuation_token: Some("€a".into()), ..Default::default() };
        assert_eq!(store.list_objects(unicode).await.unwrap_err().code, "InvalidArgument");
        let copied = store.copy_object("data", "logs/2026/a.txt", "data", "copy.txt").await.unwrap();
        assert_eq!(copied.content_type, "text/plain");
        store.delete_object("data", "logs/2026/a.txt").await.unwrap();
        store.delete_object("data", "logs/2026/b.txt").await.unwrap();
        store.delete_object("data", "never-was").await.unwrap();
        assert!(!store.path_of("data", "logs/2026/").unwrap().exists(), "empty folders are removed");
    }
}
