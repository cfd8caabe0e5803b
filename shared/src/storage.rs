//! Object storage: the narrow trait the functions use, and its S3 implementation.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use tokio::io::{AsyncRead, ReadBuf};

use crate::record::SourceReadError;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("s3://{bucket}/{key} does not exist")]
    NotFound { bucket: String, key: String },
    #[error("s3://{bucket}/{key} changed since the event (precondition failed)")]
    PreconditionFailed { bucket: String, key: String },
    #[error("access to s3://{bucket}/{key} denied: {message}")]
    AccessDenied { bucket: String, key: String, message: String },
    #[error("{operation} s3://{bucket}/{key} failed: {message}")]
    Request { operation: &'static str, bucket: String, key: String, message: String, retryable: bool },
    #[error("reading local file {path}: {source}")]
    Local { path: String, source: std::io::Error },
}

impl StorageError {
    /// Throttling, timeouts, 5xx and connection faults can succeed later;
    /// a missing object or a denied request will not.
    pub fn retryable(&self) -> bool {
        match self {
            StorageError::Request { retryable, .. } => *retryable,
            StorageError::Local { .. } => true,
            _ => false,
        }
    }
}

/// What a GET or HEAD tells about an object.
#[derive(Debug, Clone, Default)]
pub struct ObjectMeta {
    pub size: u64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// A streaming object body; errors are marked as transport errors
/// (see [`SourceReadError`]) so parsers can tell them from bad data.
pub struct ObjectBody {
    pub meta: ObjectMeta,
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

/// Which version of an object to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Version<'a> {
    pub version_id: Option<&'a str>,
    /// Read only if the object still has this ETag.
    pub if_match: Option<&'a str>,
}

/// When a conditional PUT may replace an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Only if the object still has this ETag.
    IfMatch(String),
    /// Only if no object has the key yet.
    IfNoneMatch,
}

/// Content type, user metadata and an optional precondition of a PUT.
#[derive(Debug, Clone, Default)]
pub struct PutOptions<'a> {
    pub content_type: &'a str,
    pub metadata: Vec<(&'static str, String)>,
    pub precondition: Option<Precondition>,
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn get(&self, bucket: &str, key: &str, version: Version<'_>) -> Result<ObjectBody, StorageError>;
    async fn put_bytes(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StorageError>;
    /// Uploads a local file, streamed from disk.
    async fn put_file(&self, bucket: &str, key: &str, path: &Path, content_type: &str) -> Result<(), StorageError>;
    /// A PUT with metadata and an optional precondition; a failed
    /// precondition is [`StorageError::PreconditionFailed`]. Returns the new ETag.
    async fn put_with(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        options: PutOptions<'_>,
    ) -> Result<Option<String>, StorageError> {
        let _ = (body, options);
        Err(StorageError::Request {
            operation: "PutObject",
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message: "this store has no conditional writes".into(),
            retryable: false,
        })
    }
    /// Keys under a prefix (all pages).
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>, StorageError>;

    /// Removes an object; one that does not exist counts as removed.
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StorageError> {
        Err(StorageError::Request {
            operation: "DeleteObject",
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message: "this store cannot delete".into(),
            retryable: false,
        })
    }

    /// Copies an object within a bucket, server-side.
    async fn copy(&self, bucket: &str, from: &str, to: &str) -> Result<(), StorageError> {
        Err(StorageError::Request {
            operation: "CopyObject",
            bucket: bucket.to_owned(),
            key: format!("{from} -> {to}"),
            message: "this store cannot copy".into(),
            retryable: false,
        })
    }

    /// Starts an upload fed part by part, so a stream of unknown length
    /// (an export) never sits whole in memory or on disk. The default keeps
    /// the parts and writes the object at [`Upload::complete`] (stores
    /// without multipart uploads: the in-memory one).
    async fn upload<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        content_type: &'a str,
    ) -> Result<Box<dyn Upload + 'a>, StorageError> {
        Ok(Box::new(Buffered { store: self, bucket, key, content_type, body: Vec::new() }))
    }

    /// Reads a whole (small) object into memory: config files, manifests.
    async fn get_bytes(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StorageError> {
        use tokio::io::AsyncReadExt;
        let mut body = self.get(bucket, key, Version::default()).await?;
        let mut buf = Vec::with_capacity(usize::try_from(body.meta.size).unwrap_or(0).min(64 << 20));
        body.reader.read_to_end(&mut buf).await.map_err(|e| body_error(bucket, key, e))?;
        Ok(buf)
    }

    /// Like [`ObjectStore::get_bytes`], `None` for an object that does not
    /// exist (a record nobody wrote yet, one removed since a listing).
    async fn get_bytes_if_present(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        match self.get_bytes(bucket, key).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Streams an object into a local file (Parquet needs random access;
    /// memory stays flat whatever the object's size).
    async fn get_to_file(&self, bucket: &str, key: &str, path: &Path) -> Result<u64, StorageError> {
        let mut body = self.get(bucket, key, Version::default()).await?;
        let local = |source| StorageError::Local { path: path.display().to_string(), source };
        let mut file = tokio::fs::File::create(path).await.map_err(local)?;
        let n = tokio::io::copy(&mut body.reader, &mut file).await.map_err(|e| body_error(bucket, key, e))?;
        tokio::io::AsyncWriteExt::flush(&mut file).await.map_err(local)?;
        Ok(n)
    }

    /// Reads part of an object (a Parquet footer) and tells its total size.
    /// The default reads the whole object; S3 sends only the range.
    async fn get_range(&self, bucket: &str, key: &str, range: ByteRange) -> Result<RangeRead, StorageError> {
        let all = self.get_bytes(bucket, key).await?;
        let size = all.len() as u64;
        let (start, end) = range.bounds(size);
        let bytes = all.get(start as usize..end as usize).map(<[u8]>::to_vec).unwrap_or_default();
        Ok(RangeRead { bytes, object_size: size })
    }

    /// The "folders" directly below a prefix, e.g. `tables/orders/` under
    /// `tables/`. The default derives them from a full listing; S3 asks for
    /// common prefixes instead.
    async fn list_dirs(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut dirs: Vec<String> = self
            .list(bucket, prefix)
            .await?
            .into_iter()
            .filter_map(|(key, _)| {
                let rest = key.strip_prefix(prefix)?;
                rest.find('/').map(|i| format!("{prefix}{}", &rest[..=i]))
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        Ok(dirs)
    }
}

/// A GetObject body that broke off mid-stream: worth a retry.
fn body_error(bucket: &str, key: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Request {
        operation: "GetObject",
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message: e.to_string(),
        retryable: true,
    }
}

/// Which bytes of an object to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// The last n bytes (all of a shorter object).
    Suffix(u64),
    /// Bytes start..end.
    Span { start: u64, end: u64 },
}

impl ByteRange {
    /// The range clamped to an object of `size` bytes, as (start, end).
    pub fn bounds(self, size: u64) -> (u64, u64) {
        match self {
            ByteRange::Suffix(n) => (size.saturating_sub(n), size),
            ByteRange::Span { start, end } => (start.min(size), end.min(size).max(start.min(size))),
        }
    }

    fn header(self) -> String {
        match self {
            ByteRange::Suffix(n) => format!("bytes=-{n}"),
            ByteRange::Span { start, end } => format!("bytes={start}-{}", end.saturating_sub(1)),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RangeRead {
    pub bytes: Vec<u8>,
    pub object_size: u64,
}

/// An upload in progress, part by part. A failed one is aborted, so no
/// parts are left behind to pay for.
#[async_trait]
pub trait Upload: Send {
    /// Sends a part; every part but the last must be at least
    /// [`MIN_PART_BYTES`] (S3's rule).
    async fn part(&mut self, body: Vec<u8>) -> Result<(), StorageError>;
    /// Finishes the object; returns the bytes it holds.
    async fn complete(self: Box<Self>) -> Result<u64, StorageError>;
    /// Best effort: a part left behind is removed by the bucket's lifecycle rule.
    async fn abort(self: Box<Self>);
}

/// S3's smallest part but the last.
pub const MIN_PART_BYTES: usize = 5 << 20;

/// [`ObjectStore::upload`]'s default: the parts kept, one PUT at the end.
struct Buffered<'a, S: ?Sized> {
    store: &'a S,
    bucket: &'a str,
    key: &'a str,
    content_type: &'a str,
    body: Vec<u8>,
}

#[async_trait]
impl<S: ObjectStore + ?Sized> Upload for Buffered<'_, S> {
    async fn part(&mut self, body: Vec<u8>) -> Result<(), StorageError> {
        self.body.extend_from_slice(&body);
        Ok(())
    }

    async fn complete(self: Box<Self>) -> Result<u64, StorageError> {
        let bytes = self.body.len() as u64;
        self.store.put_bytes(self.bucket, self.key, self.body, self.content_type).await?;
        Ok(bytes)
    }

    async fn abort(self: Box<Self>) {}
}

/// The S3 implementation.
#[derive(Clone)]
pub struct S3Store {
    client: Client,
}

impl S3Store {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn classify<E>(operation: &'static str, bucket: &str, key: &str, err: SdkError<E, HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (status, message) = crate::aws::status_and_message(&err);
    let code = err.code().map(str::to_owned);
    let (bucket, key) = (bucket.to_owned(), key.to_owned());
    match (code.as_deref(), status) {
        (Some("NoSuchKey" | "NotFound" | "NoSuchBucket" | "NoSuchVersion"), _) | (_, Some(404)) => {
            StorageError::NotFound { bucket, key }
        }
        (Some("PreconditionFailed"), _) | (_, Some(412)) => StorageError::PreconditionFailed { bucket, key },
        (Some("AccessDenied" | "AllAccessDisabled" | "InvalidAccessKeyId"), _) | (_, Some(403)) => {
            StorageError::AccessDenied { bucket, key, message }
        }
        _ => {
            let retryable = crate::aws::transient(&err);
            StorageError::Request { operation, bucket, key, message, retryable }
        }
    }
}

/// Marks every error of the body stream as a transport error.
struct MarkedReader<R> {
    inner: R,
}

impl<R: AsyncRead + Unpin> AsyncRead for MarkedReader<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(SourceReadError::io(e))),
            other => other,
        }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn get(&self, bucket: &str, key: &str, version: Version<'_>) -> Result<ObjectBody, StorageError> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version.version_id.map(str::to_owned))
            .set_if_match(version.if_match.map(|e| format!("\"{}\"", e.trim_matches('"'))))
            .send()
            .await
            .map_err(|e| classify("GetObject", bucket, key, e))?;
        let meta = ObjectMeta {
            size: out.content_length().and_then(|l| u64::try_from(l).ok()).unwrap_or(0),
            etag: out.e_tag().map(|e| e.trim_matches('"').to_owned()),
            version_id: out.version_id().filter(|v| *v != "null").map(str::to_owned),
        };
        let reader = MarkedReader { inner: out.body.into_async_read() };
        Ok(ObjectBody { meta, reader: Box::pin(reader) })
    }

    async fn put_bytes(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| classify("PutObject", bucket, key, e))?;
        Ok(())
    }

    async fn put_with(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        options: PutOptions<'_>,
    ) -> Result<Option<String>, StorageError> {
        let (if_match, if_none_match) = match options.precondition {
            Some(Precondition::IfMatch(etag)) => (Some(format!("\"{}\"", etag.trim_matches('"'))), None),
            Some(Precondition::IfNoneMatch) => (None, Some("*".to_owned())),
            None => (None, None),
        };
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(options.content_type)
            .set_metadata(Some(options.metadata.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
            .set_if_match(if_match)
            .set_if_none_match(if_none_match)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| classify("PutObject", bucket, key, e))?;
        Ok(out.e_tag().map(|e| e.trim_matches('"').to_owned()))
    }

    async fn put_file(&self, bucket: &str, key: &str, path: &Path, content_type: &str) -> Result<(), StorageError> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| StorageError::Local { path: path.display().to_string(), source: std::io::Error::other(e) })?;
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| classify("PutObject", bucket, key, e))?;
        Ok(())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        let mut out = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListObjectsV2", bucket, prefix, e))?;
            for obj in page.contents() {
                if let Some(k) = obj.key() {
                    out.push((k.to_owned(), obj.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0)));
                }
            }
        }
        Ok(out)
    }

    /// CopyObject names its source as `bucket/key`, the key URL-encoded
    /// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html>);
    /// up to 5 GB in one request, past any part parse-file writes.
    async fn copy(&self, bucket: &str, from: &str, to: &str) -> Result<(), StorageError> {
        let source = format!("{bucket}/{}", crate::events::encode_key(from).replace('+', "%20"));
        self.client
            .copy_object()
            .bucket(bucket)
            .key(to)
            .copy_source(source)
            .send()
            .await
            .map_err(|e| classify("CopyObject", bucket, to, e))?;
        Ok(())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StorageError> {
        match self.client.delete_object().bucket(bucket).key(key).send().await {
            Ok(_) => Ok(()),
            Err(e) => match classify("DeleteObject", bucket, key, e) {
                StorageError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn upload<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        content_type: &'a str,
    ) -> Result<Box<dyn Upload + 'a>, StorageError> {
        Ok(Box::new(multipart::S3Upload::start(&self.client, bucket, key, content_type).await?))
    }

    async fn get_range(&self, bucket: &str, key: &str, range: ByteRange) -> Result<RangeRead, StorageError> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(range.header())
            .send()
            .await
            .map_err(|e| classify("GetObject", bucket, key, e))?;
        // "bytes 10-99/100": the total follows the slash.
        let total = out.content_range().and_then(|r| r.rsplit_once('/')).and_then(|(_, t)| t.parse::<u64>().ok());
        let length = out.content_length().and_then(|l| u64::try_from(l).ok());
        let bytes = out.body.collect().await.map_err(|e| body_error(bucket, key, e))?;
        let bytes = bytes.to_vec();
        Ok(RangeRead { object_size: total.or(length).unwrap_or(bytes.len() as u64), bytes })
    }

    async fn list_dirs(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(bucket).prefix(prefix).delimiter("/").into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListObjectsV2", bucket, prefix, e))?;
            out.extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
        }
        Ok(out)
    }
}

/// Builds an S3 client from the shared AWS config. Path-style addressing is
/// used when an endpoint override is set (moto and other emulators), since
/// virtual-hosted buckets need DNS that loopback does not have.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> Client {
    let path_style = sdk.endpoint_url().is_some();
    let conf = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style).build();
    Client::from_conf(conf)
}

pub mod memory;
mod multipart;

#[cfg(test)]
mod tests {
    use super::ByteRange;

    #[test]
    fn byte_ranges_clamp_to_the_object_and_render_as_http_ranges() {
        assert_eq!(ByteRange::Suffix(8).bounds(100), (92, 100));
        assert_eq!(ByteRange::Suffix(64).bounds(10), (0, 10), "a suffix longer than the object is all of it");
        assert_eq!(ByteRange::Span { start: 10, end: 20 }.bounds(15), (10, 15));
        assert_eq!(ByteRange::Span { start: 30, end: 40 }.bounds(15), (15, 15));
        assert_eq!(ByteRange::Suffix(8).header(), "bytes=-8");
        assert_eq!(ByteRange::Span { start: 10, end: 20 }.header(), "bytes=10-19", "HTTP ranges are inclusive");
    }
}
