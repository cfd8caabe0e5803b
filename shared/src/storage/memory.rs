//! An in-memory [`ObjectStore`] that can inject the faults moto cannot
//! produce on demand (throttling, access denied, a body cut off mid-stream).
//! For handler tests and local tools; never used by a deployed function.

use std::collections::BTreeMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use super::{ObjectBody, ObjectMeta, ObjectStore, StorageError, Version};
use crate::record::SourceReadError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// GET fails with a retryable SlowDown.
    Throttle,
    /// GET fails with access denied.
    Denied,
    /// The body stream fails after this many bytes.
    CutAfter(usize),
}

#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    faults: Mutex<BTreeMap<String, Fault>>,
}

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

    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let Ok(objects) = self.objects.lock() else { return Vec::new() };
        objects.keys().filter(|(b, k)| b == bucket && k.starts_with(prefix)).map(|(_, k)| k.clone()).collect()
    }

    pub fn read(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().ok()?.get(&(bucket.into(), key.into())).cloned()
    }
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
        let meta = ObjectMeta { size: data.len() as u64, etag: Some(format!("etag-{}", data.len())), version_id: None };
        let limit = match fault {
            Some(Fault::CutAfter(n)) => n,
            _ => usize::MAX,
        };
        Ok(ObjectBody { meta, reader: Box::pin(CutReader { data: std::io::Cursor::new(data), limit }) })
    }

    async fn put_bytes(&self, bucket: &str, key: &str, body: Vec<u8>, _ct: &str) -> Result<(), StorageError> {
        self.insert(bucket, key, &body);
        Ok(())
    }

    async fn put_file(&self, bucket: &str, key: &str, path: &Path, _ct: &str) -> Result<(), StorageError> {
        let body =
            std::fs::read(path).map_err(|source| StorageError::Local { path: path.display().to_string(), source })?;
        self.insert(bucket, key, &body);
        Ok(())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        Ok(self.keys(bucket, prefix).into_iter().map(|k| (k, 0)).collect())
    }
}
