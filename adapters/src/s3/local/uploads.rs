//! Multipart uploads on the local store. An upload is a folder
//! `<root>/.sfnlite-uploads/<upload id>/` holding `upload.json` (bucket, key, Content-Type,
//! metadata, start) and its parts: `<number>` (the bytes) and `<number>.json` (tag, size,
//! time). The parts stay on disk until the upload completes, when they are copied into the
//! object one after another (an object of any size is never held in memory), or is
//! aborted. S3's rules apply: parts 1 to 10,000, listed in ascending order with the tags
//! UploadPart gave, each but the last at least 5 MiB.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{Dirs, io_error};
use crate::s3::{
    MAX_PARTS, ObjectMeta, PartMeta, PutRequest, S3Error, UploadMeta, etag_of, multipart_etag, no_such_upload,
};

const UPLOADS_DIR: &str = ".sfnlite-uploads";

/// The smallest part but the last (S3's `EntityTooSmall`).
const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct Upload {
    bucket: String,
    key: String,
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    initiated: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Part {
    etag: String,
    size: u64,
    modified: i64,
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

static NEXT_TMP: AtomicU64 = AtomicU64::new(0);

/// A new upload id: unique, and a safe folder name.
fn new_upload_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("sfnlite-{nanos:x}-{:x}-{:x}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Dirs {
    /// An upload's folder; an id that sfnlite could not have made names none.
    fn upload_dir(&self, id: &str) -> Result<PathBuf, S3Error> {
        let made = id.starts_with("sfnlite-")
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !made {
            return Err(no_such_upload());
        }
        Ok(self.root.join(UPLOADS_DIR).join(id))
    }

    /// An upload of `bucket`/`key` in progress: its folder and what it records.
    fn upload(&self, bucket: &str, key: &str, id: &str) -> Result<(PathBuf, Upload), S3Error> {
        let dir = self.upload_dir(id)?;
        let upload: Upload = fs::read(dir.join("upload.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(no_such_upload)?;
        if upload.bucket != bucket || upload.key != key {
            return Err(no_such_upload());
        }
        Ok((dir, upload))
    }

    pub(super) fn create_upload(&self, request: PutRequest) -> Result<String, S3Error> {
        self.object_path(&request.bucket, &request.key)?;
        let id = new_upload_id();
        let dir = self.upload_dir(&id)?;
        fs::create_dir_all(&dir).map_err(|e| io_error("cannot start the upload", e))?;
        let upload = Upload {
            bucket: request.bucket,
            key: request.key,
            content_type: request.content_type,
            metadata: request.metadata,
            initiated: now_millis(),
        };
        let text = serde_json::to_vec(&upload).expect("an upload serializes");
        fs::write(dir.join("upload.json"), text).map_err(|e| io_error("cannot start the upload", e))?;
        Ok(id)
    }

    pub(super) fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        number: u32,
        body: &[u8],
    ) -> Result<String, S3Error> {
        if !(1..=MAX_PARTS).contains(&number) {
            return Err(S3Error::invalid_argument("Part number must be an integer between 1 and 10000, inclusive"));
        }
        let (dir, _) = self.upload(bucket, key, id)?;
        let part = Part { etag: etag_of(body), size: body.len() as u64, modified: now_millis() };
        // The bytes first, then the record that makes the part count; each written aside
        // (a name of its own) and renamed into place.
        let text = serde_json::to_vec(&part).expect("a part serializes");
        for (name, bytes) in [(number.to_string(), body), (format!("{number}.json"), &text[..])] {
            let tmp =
                dir.join(format!("{name}.{}.{}.tmp", std::process::id(), NEXT_TMP.fetch_add(1, Ordering::Relaxed)));
            let written = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, dir.join(&name)));
            if let Err(e) = written {
                let _ = fs::remove_file(&tmp);
                // The upload completed or was aborted meanwhile.
                return Err(if dir.exists() { io_error("cannot write the part", e) } else { no_such_upload() });
            }
        }
        Ok(part.etag)
    }

    /// The parts uploaded so far, by number.
    fn read_parts(&self, dir: &std::path::Path) -> Result<BTreeMap<u32, Part>, S3Error> {
        let mut parts = BTreeMap::new();
        let entries = fs::read_dir(dir).map_err(|e| io_error("cannot read the upload", e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(number) = name.strip_suffix(".json").and_then(|n| n.parse::<u32>().ok()) else { continue };
            let part = fs::read(entry.path()).ok().and_then(|bytes| serde_json::from_slice::<Part>(&bytes).ok());
            if let Some(part) = part {
                parts.insert(number, part);
            }
        }
        Ok(parts)
    }

    pub(super) fn parts(&self, bucket: &str, key: &str, id: &str) -> Result<Vec<PartMeta>, S3Error> {
        let (dir, _) = self.upload(bucket, key, id)?;
        let parts = self.read_parts(&dir)?;
        Ok(parts
            .into_iter()
            .map(|(number, p)| PartMeta { number, etag: p.etag, size: p.size, last_modified: p.modified })
            .collect())
    }

    pub(super) fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        listed: &[PartMeta],
    ) -> Result<ObjectMeta, S3Error> {
        let (found, upload) = self.upload(bucket, key, id)?;
        // Taken out of reach first (its id answers NoSuchUpload from here), so that no part
        // changes while the object is made of them; put back if the list is refused.
        let dir = found.with_extension("completing");
        fs::rename(&found, &dir).map_err(|_| no_such_upload())?;
        let made = self.complete_from(bucket, key, &dir, upload, listed);
        match made {
            Ok(meta) => {
                let _ = fs::remove_dir_all(&dir);
                Ok(meta)
            }
            Err(e) => {
                let _ = fs::rename(&dir, &found);
                Err(e)
            }
        }
    }

    fn complete_from(
        &self,
        bucket: &str,
        key: &str,
        dir: &std::path::Path,
        upload: Upload,
        listed: &[PartMeta],
    ) -> Result<ObjectMeta, S3Error> {
        let stored = self.read_parts(dir)?;
        if listed.is_empty() {
            return Err(S3Error::new(
                "MalformedXML",
                400,
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
        if listed.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(S3Error::new(
                "InvalidPartOrder",
                400,
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
            ));
        }
        let mut chosen = Vec::with_capacity(listed.len());
        for (i, wanted) in listed.iter().enumerate() {
            // Tags match with or without their quotes (clients send either).
            let bare = |tag: &str| tag.trim().trim_matches('"').to_owned();
            let found =
                stored.get(&wanted.number).filter(|p| wanted.etag.is_empty() || bare(&p.etag) == bare(&wanted.etag));
            let Some(part) = found else {
                return Err(S3Error::new(
                    "InvalidPart",
                    400,
                    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                ));
            };
            if i + 1 < listed.len() && part.size < MIN_PART_BYTES {
                return Err(S3Error::new(
                    "EntityTooSmall",
                    400,
                    "Your proposed upload is smaller than the minimum allowed size",
                ));
            }
            chosen.push((wanted.number, part));
        }
        let tags: Vec<&str> = chosen.iter().map(|(_, p)| p.etag.as_str()).collect();
        let etag = multipart_etag(&tags).unwrap_or_else(|| etag_of(dir.as_os_str().as_encoded_bytes()));
        self.place(bucket, key, upload.content_type, upload.metadata, etag, |file| {
            for (number, _) in &chosen {
                let mut part = fs::File::open(dir.join(number.to_string()))?;
                std::io::copy(&mut part, file)?;
            }
            Ok(())
        })
    }

    pub(super) fn abort_upload(&self, bucket: &str, key: &str, id: &str) -> Result<(), S3Error> {
        let (dir, _) = self.upload(bucket, key, id)?;
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(no_such_upload()),
            Err(e) => Err(io_error("cannot abort the upload", e)),
        }
    }

    pub(super) fn uploads(&self, bucket: &str) -> Result<Vec<UploadMeta>, S3Error> {
        self.existing_bucket(bucket)?;
        let mut found = Vec::new();
        let Ok(entries) = fs::read_dir(self.root.join(UPLOADS_DIR)) else { return Ok(found) };
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if self.upload_dir(&id).is_err() {
                // Being completed.
                continue;
            }
            let upload = fs::read(entry.path().join("upload.json"))
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Upload>(&bytes).ok());
            if let Some(upload) = upload.filter(|u| u.bucket == bucket) {
                found.push(UploadMeta { key: upload.key, upload_id: id, initiated: upload.initiated });
            }
        }
        found.sort_by(|a, b| (&a.key, a.initiated, &a.upload_id).cmp(&(&b.key, b.initiated, &b.upload_id)));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::s3::{LocalS3, ObjectStore, PartMeta, PutRequest};

    fn part(number: u32, etag: &str) -> PartMeta {
        PartMeta { number, etag: etag.to_owned(), size: 0, last_modified: 0 }
    }

    #[tokio::test]
    async fn parts_on_disk_make_one_object() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalS3::new(dir.path(), HashMap::new());
        store.create_bucket("data").await.unwrap();
        let start = |key: &str| PutRequest {
            bucket: "data".into(),
            key: key.into(),
            content_type: Some("text/csv".into()),
            ..Default::default()
        };
        assert_eq!(store.create_multipart_upload(start("../x")).await.unwrap_err().code, "InvalidArgument");
        let id = store.create_multipart_upload(start("out/big.csv")).await.unwrap();
        let other = store.create_multipart_upload(start("other")).await.unwrap();
        let big = vec![b'a'; 5 * 1024 * 1024];
        let first = store.upload_part("data", "out/big.csv", &id, 1, big.clone()).await.unwrap();
        let small = store.upload_part("data", "out/big.csv", &id, 2, b"tail".to_vec()).await.unwrap();
        // The same part again replaces it.
        let second = store.upload_part("data", "out/big.csv", &id, 3, b"end!".to_vec()).await.unwrap();
        let second = {
            let again = store.upload_part("data", "out/big.csv", &id, 3, b"END".to_vec()).await.unwrap();
            assert_ne!(again, second);
            again
        };
        let listed = store.list_parts("data", "out/big.csv", &id).await.unwrap();
        assert_eq!(listed.iter().map(|p| (p.number, p.size)).collect::<Vec<_>>(), [(1, 5 << 20), (2, 4), (3, 3)]);
        let uploads = store.list_multipart_uploads("data").await.unwrap();
        assert_eq!(uploads.iter().map(|u| u.key.as_str()).collect::<Vec<_>>(), ["other", "out/big.csv"]);

        // S3's rules: ids, keys, order, tags, the 5 MiB minimum but for the last part.
        assert_eq!(
            store.upload_part("data", "out/big.csv", "../../etc", 1, vec![]).await.unwrap_err().code,
            "NoSuchUpload"
        );
        assert_eq!(store.upload_part("data", "elsewhere", &id, 1, vec![]).await.unwrap_err().code, "NoSuchUpload");
        assert_eq!(
            store.upload_part("data", "out/big.csv", &id, 10_001, vec![]).await.unwrap_err().code,
            "InvalidArgument"
        );
        let complete = |parts: Vec<PartMeta>| store.complete_multipart_upload("data", "out/big.csv", &id, parts);
        assert_eq!(complete(vec![part(3, &second), part(1, &first)]).await.unwrap_err().code, "InvalidPartOrder");
        assert_eq!(complete(vec![part(1, "\"0\""), part(3, &second)]).await.unwrap_err().code, "InvalidPart");
        assert_eq!(complete(vec![part(2, &small), part(3, &second)]).await.unwrap_err().code, "EntityTooSmall");
        assert_eq!(complete(vec![]).await.unwrap_err().code, "MalformedXML");

        // Tags with or without their quotes.
        let meta = complete(vec![part(1, first.trim_matches('"')), part(3, &second)]).await.unwrap();
        assert!(meta.etag.ends_with("-2\""), "a multipart tag: {}", meta.etag);
        let (body, got) = store.get_object("data", "out/big.csv").await.unwrap();
        assert_eq!(
            (body.len(), &body[body.len() - 4..], got.content_type.as_str()),
            (big.len() + 3, &b"aEND"[..], "text/csv")
        );
        assert_eq!(got.etag, meta.etag);
        assert_eq!(store.list_parts("data", "out/big.csv", &id).await.unwrap_err().code, "NoSuchUpload", "completed");

        store.abort_multipart_upload("data", "other", &other).await.unwrap();
        assert_eq!(store.abort_multipart_upload("data", "other", &other).await.unwrap_err().code, "NoSuchUpload");
        assert!(store.list_multipart_uploads("data").await.unwrap().is_empty());
        assert_eq!(store.list_buckets().unwrap(), ["data"], "the uploads' folder is no bucket");
    }
}
