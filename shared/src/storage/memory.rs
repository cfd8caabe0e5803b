//! An in-memory [`ObjectStore`] that can inject the faults moto cannot
//! produce on demand (throttling, access denied, a body cut off mid-stream).
//! For handler tests and local tools; never used by a deployed function.

use std::collections::BTreeMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use super::{ObjectBody, ObjectMeta, ObjectStore, Precondition, PutOptions, StorageError, Version};
use crate::record::SourceReadError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// GET fails with a retryable SlowDown.
    Throttle,
    /// GET fails with access denied.
    Denied,
    /// The body stream fails after this many bytes.
    CutAfter(usize),
    /// PUTs of every key under this prefix get an answer no retry mends
    /// (the 400 with an unreadable body a broken proxy gives).
    RejectPuts,
}

#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    faults: Mutex<BTreeMap<String, Fault>>,
    metadata: Mutex<BTreeMap<(String, String), Metadata>>,
}

/// User metadata as [`PutOptions`] carries it.
type Metadata = Vec<(&'static str, String)>;

impl MemoryStore {
    pub fn insert(&self, bucket: &str, key: &str, body: &[u8]) {
        if let Ok(mut objects) = self.objects.lock() {
            objects.insert((bucket.into(), key.into()), body.to_vec());
        }
    }

    /// Every later GET of `key` (in any bucket) meets `fault`.
    pub fn fault(&self, key: &str, fault: Fault) {
        if let Ok(mut faults) = self.faults.lock() {
            faults.insert(key.into(), fault);
        }
    }

    fn put_rejected(&self, bucket: &str, key: &str) -> Result<(), StorageError> {
        let rejected = self.faults.lock().is_ok_and(|f| {
            f.iter().any(|(prefix, fault)| *fault == Fault::RejectPuts && key.starts_with(prefix.as_str()))
        });
        if !rejected {
            return Ok(());
        }
        Err(StorageError::Request {
            operation: "PutObject",
            bucket: bucket.into(),
            key: key.into(),
            message: "service error: unhandled error: error parsing XML: no root element".into(),
            retryable: false,
        })
    }

    /// Lifts the fault set on `key`.
    pub fn clear_fault(&self, key: &str) {
        if let Ok(mut faults) = self.faults.lock() {
            faults.remove(key);
        }
    }

    /// Removes an object as a service writing into the store would (no fault applies).
    pub fn remove(&self, bucket: &str, key: &str) {
        if let Ok(mut objects) = self.objects.lock() {
            objects.remove(&(bucket.to_owned(), key.to_owned()));
        }
    }

    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let Ok(objects) = self.objects.lock() else { return Vec::new() };
        objects.keys().filter(|(b, k)| b == bucket && k.starts_with(prefix)).map(|(_, k)| k.clone()).collect()
    }

    /// The user metadata of the last [`ObjectStore::put_with`] of an object.
    pub fn metadata(&self, bucket: &str, key: &str) -> Metadata {
        let Ok(m) = self.metadata.lock() else { return vec![] };
        m.get(&(bucket.into(), key.into())).cloned().unwrap_or_default()
    }

    pub fn read(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().ok()?.get(&(bucket.into(), key.into())).cloned()
    }
}

/// A content hash, as S3's ETag of a single-part upload is (MD5 there; FNV-1a here).
fn etag_of(data: &[u8]) -> String {
    let hash = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

struct CutReader {
    data: std::io::Cursor<Vec<u8>>,
    limit: usize,
}

impl AsyncRead for CutReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::io::Read;
        let pos = usize::try_from(self.data.position()).unwrap_or(usize::MAX);
        if pos >= self.limit {
            return std::task::Poll::Ready(Err(SourceReadError::io("connection reset by peer")));
        }
        let want = buf.remaining().min(self.limit - pos);
        let mut tmp = vec![0u8; want];
        let n = self.data.read(&mut tmp)?;
        buf.put_slice(&tmp[..n]);
        std::task::Poll::Ready(Ok(()))
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    async fn get(&self, bucket: &str, key: &str, _version: Version<'_>) -> Result<ObjectBody, StorageError> {
        let fault = self.faults.lock().ok().and_then(|f| f.get(key).copied());
        match fault {
            Some(Fault::Throttle) => {
                return Err(StorageError::Request {
                    operation: "GetObject",
                    bucket: bucket.into(),
                    key: key.into(),
                    message: "SlowDown: please reduce your request rate".into(),
                    retryable: true,
                });
            }
            Some(Fault::Denied) => {
                return Err(StorageError::AccessDenied {
                    bucket: bucket.into(),
                    key: key.into(),
                    message: "no".into(),
                });
            }
            _ => {}
        }
        let data = self.read(bucket, key).ok_or(StorageError::NotFound { bucket: bucket.into(), key: key.into() })?;
        let meta = ObjectMeta { size: data.len() as u64, etag: Some(etag_of(&data)), version_id: None };
        let limit = match fault {
            Some(Fault::CutAfter(n)) => n,
            _ => usize::MAX,
        };
        Ok(ObjectBody { meta, reader: Box::pin(CutReader { data: std::io::Cursor::new(data), limit }) })
    }

    async fn put_bytes(&self, bucket: &str, key: &str, body: Vec<u8>, _ct: &str) -> Result<(), StorageError> {
        self.put_rejected(bucket, key)?;
        self.insert(bucket, key, &body);
        Ok(())
    }

    async fn put_with(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        options: PutOptions<'_>,
    ) -> Result<Option<String>, StorageError> {
        self.put_rejected(bucket, key)?;
        let Ok(mut objects) = self.objects.lock() else {
            return Err(StorageError::Request {
                operation: "PutObject",
                bucket: bucket.into(),
                key: key.into(),
                message: "store poisoned".into(),
                retryable: false,
            });
        };
        // Check and write under one lock, as S3 decides a conditional PUT atomically.
        let id = (bucket.to_owned(), key.to_owned());
        let current = objects.get(&id).map(|d| etag_of(d));
        let allowed = match &options.precondition {
            None => true,
            Some(Precondition::IfNoneMatch) => current.is_none(),
            Some(Precondition::IfMatch(etag)) => current.as_deref() == Some(etag.trim_matches('"')),
        };
        if !allowed {
            return Err(StorageError::PreconditionFailed { bucket: bucket.into(), key: key.into() });
        }
        let etag = etag_of(&body);
        if let Ok(mut m) = self.metadata.lock() {
            m.insert(id.clone(), options.metadata);
        }
        objects.insert(id, body);
        Ok(Some(etag))
    }

    async fn put_file(&self, bucket: &str, key: &str, path: &Path, _ct: &str) -> Result<(), StorageError> {
        self.put_rejected(bucket, key)?;
        let body =
            std::fs::read(path).map_err(|source| StorageError::Local { path: path.display().to_string(), source })?;
        self.insert(bucket, key, &body);
        Ok(())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        Ok(self.keys(bucket, prefix).into_iter().map(|k| (k, 0)).collect())
    }

    async fn copy(&self, bucket: &str, from: &str, to: &str) -> Result<(), StorageError> {
        self.put_rejected(bucket, to)?;
        let body = self
            .read(bucket, from)
            .ok_or_else(|| StorageError::NotFound { bucket: bucket.into(), key: from.into() })?;
        self.insert(bucket, to, &body);
        Ok(())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StorageError> {
        self.put_rejected(bucket, key)?;
        if let Ok(mut objects) = self.objects.lock() {
            objects.remove(&(bucket.to_owned(), key.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(precondition: Option<Precondition>) -> PutOptions<'static> {
        PutOptions { content_type: "application/json", metadata: vec![], precondition }
    }

    #[tokio::test]
    async fn conditional_puts_create_once_and_replace_only_the_version_read() {
        let store = MemoryStore::default();
        let first = store.put_with("b", "k", b"v1".to_vec(), opts(Some(Precondition::IfNoneMatch))).await.unwrap();
        let again = store.put_with("b", "k", b"v0".to_vec(), opts(Some(Precondition::IfNoneMatch))).await;
        assert!(matches!(again, Err(StorageError::PreconditionFailed { .. })));
        let etag = first.unwrap();
        store.put_with("b", "k", b"v2".to_vec(), opts(Some(Precondition::IfMatch(etag.clone())))).await.unwrap();
        let stale = store.put_with("b", "k", b"v3".to_vec(), opts(Some(Precondition::IfMatch(etag)))).await;
        assert!(matches!(stale, Err(StorageError::PreconditionFailed { .. })));
        assert_eq!(store.read("b", "k").unwrap(), b"v2");
    }
}
