//! `s3://bucket/key` addresses.

use std::fmt;

/// A parsed `s3://bucket/key` address (the key may be empty or a prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// The bucket.
    pub bucket: String,
    /// The key or prefix, without a leading `/`.
    pub key: String,
}

impl S3Url {
    /// Parses `s3://bucket[/key]`; `None` when `text` is not such an address.
    pub fn parse(text: &str) -> Option<S3Url> {
        let rest = text.strip_prefix("s3://").or_else(|| text.strip_prefix("S3://"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(S3Url { bucket: bucket.to_owned(), key: key.to_owned() })
    }

    /// The address as a folder: the key with a trailing `/` (unless empty).
    pub fn as_folder(&self) -> S3Url {
        let mut key = self.key.clone();
        if !key.is_empty() && !key.ends_with('/') {
            key.push('/');
        }
        S3Url { bucket: self.bucket.clone(), key }
    }

    /// `self` joined with a relative `name`.
    pub fn join(&self, name: &str) -> S3Url {
        let folder = self.as_folder();
        S3Url { bucket: folder.bucket, key: format!("{}{name}", folder.key) }
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_joins() {
        let url = S3Url::parse("s3://results/athena").unwrap();
        assert_eq!(url.bucket, "results");
        assert_eq!(url.join("q.csv").to_string(), "s3://results/athena/q.csv");
        assert_eq!(S3Url::parse("s3://b").unwrap().join("x").to_string(), "s3://b/x");
        assert_eq!(S3Url::parse("s3://b/").unwrap().key, "");
        assert!(S3Url::parse("s3:///k").is_none());
        assert!(S3Url::parse("/tmp/x").is_none());
    }
}
