//! S3's multipart upload behind [`Upload`]: parts sent as they come, faults
//! classified by the same rule as every other S3 call.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::{StorageError, Upload, classify};

pub(super) struct S3Upload<'a> {
    client: &'a Client,
    bucket: &'a str,
    key: &'a str,
    upload_id: String,
    parts: Vec<CompletedPart>,
    bytes: u64,
}

impl<'a> S3Upload<'a> {
    pub(super) async fn start(
        client: &'a Client,
        bucket: &'a str,
        key: &'a str,
        content_type: &str,
    ) -> Result<S3Upload<'a>, StorageError> {
        let out = client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| classify("CreateMultipartUpload", bucket, key, e))?;
        let upload_id = out.upload_id().unwrap_or_default().to_owned();
        Ok(S3Upload { client, bucket, key, upload_id, parts: Vec::new(), bytes: 0 })
    }

    /// A 200 whose body the SDK cannot read (moto words its root element
    /// differently) is checked: the object must be there, whole.
    async fn verify(&self) -> Result<u64, StorageError> {
        let head = self
            .client
            .head_object()
            .bucket(self.bucket)
            .key(self.key)
            .send()
            .await
            .map_err(|e| classify("HeadObject", self.bucket, self.key, e))?;
        match head.content_length() {
            Some(n) if u64::try_from(n).ok() == Some(self.bytes) => Ok(self.bytes),
            other => Err(StorageError::Request {
                operation: "CompleteMultipartUpload",
                bucket: self.bucket.to_owned(),
                key: self.key.to_owned(),
                message: format!("the object has {other:?} bytes after an upload of {}", self.bytes),
                retryable: true,
            }),
        }
    }
}

#[async_trait]
impl Upload for S3Upload<'_> {
    async fn part(&mut self, body: Vec<u8>) -> Result<(), StorageError> {
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        self.bytes += body.len() as u64;
        let out = self
            .client
            .upload_part()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| classify("UploadPart", self.bucket, self.key, e))?;
        self.parts.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag().map(str::to_owned)).build());
        Ok(())
    }

    async fn complete(self: Box<Self>) -> Result<u64, StorageError> {
        let upload = CompletedMultipartUpload::builder().set_parts(Some(self.parts.clone())).build();
        let completed = self
            .client
            .complete_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(upload)
            .send()
            .await;
        match completed {
            Ok(_) => Ok(self.bytes),
            Err(aws_sdk_s3::error::SdkError::ServiceError(s)) if s.raw().status().as_u16() == 200 => {
                self.verify().await
            }
            Err(e) => Err(classify("CompleteMultipartUpload", self.bucket, self.key, e)),
        }
    }

    async fn abort(self: Box<Self>) {
        let result = self
            .client
            .abort_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(&self.upload_id)
            .send()
            .await;
        if let Err(e) = result {
            let e = classify("AbortMultipartUpload", self.bucket, self.key, e);
            tracing::warn!(key = self.key, error = %e, "aborting the multipart upload failed");
        }
    }
}
