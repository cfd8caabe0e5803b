//! An S3 multipart upload fed chunk by chunk, so an export never holds more
//! than one part in memory. A failed upload is aborted, leaving no parts
//! behind to pay for.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::JobError;

/// Each part but the last is at least this big (S3's minimum is 5 MiB).
pub const PART_BYTES: usize = 8 << 20;

pub struct Multipart<'a> {
    s3: &'a aws_sdk_s3::Client,
    job: &'a str,
    bucket: &'a str,
    key: &'a str,
    upload_id: String,
    parts: Vec<CompletedPart>,
    pub bytes: u64,
}

/// Throttling, 5xx and transport faults pass; other refusals do not.
pub fn fault<E: std::error::Error + Send + Sync + 'static>(
    job: &str,
    operation: &'static str,
    key: &str,
    e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> JobError {
    let retryable = match &e {
        aws_sdk_s3::error::SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            status >= 500 || status == 429
        }
        _ => true,
    };
    JobError::Upload {
        job: job.to_owned(),
        operation,
        key: key.to_owned(),
        message: DisplayErrorContext(e).to_string(),
        retryable,
    }
}

impl<'a> Multipart<'a> {
    pub async fn start(
        s3: &'a aws_sdk_s3::Client,
        job: &'a str,
        bucket: &'a str,
        key: &'a str,
        content_type: &str,
    ) -> Result<Multipart<'a>, JobError> {
        let out = s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| fault(job, "CreateMultipartUpload", key, e))?;
        let upload_id = out.upload_id().unwrap_or_default().to_owned();
        Ok(Multipart { s3, job, bucket, key, upload_id, parts: Vec::new(), bytes: 0 })
    }

    pub async fn part(&mut self, body: Vec<u8>) -> Result<(), JobError> {
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        self.bytes += body.len() as u64;
        let out = self
            .s3
            .upload_part()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| fault(self.job, "UploadPart", self.key, e))?;
        self.parts.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag().map(str::to_owned)).build());
        Ok(())
    }

    pub async fn complete(self) -> Result<u64, JobError> {
        let upload = CompletedMultipartUpload::builder().set_parts(Some(self.parts.clone())).build();
        let completed = self
            .s3
            .complete_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(upload)
            .send()
            .await;
        match completed {
            Ok(_) => Ok(self.bytes),
            // A 200 whose body the SDK cannot read (moto words its root element
            // differently) is checked: the object must be there, whole.
            Err(aws_sdk_s3::error::SdkError::ServiceError(s)) if s.raw().status().as_u16() == 200 => {
                let head = self
                    .s3
                    .head_object()
                    .bucket(self.bucket)
                    .key(self.key)
                    .send()
                    .await
                    .map_err(|e| fault(self.job, "HeadObject", self.key, e))?;
                match head.content_length() {
                    Some(n) if u64::try_from(n).ok() == Some(self.bytes) => Ok(self.bytes),
                    other => Err(JobError::Upload {
                        job: self.job.to_owned(),
                        operation: "CompleteMultipartUpload",
                        key: self.key.to_owned(),
                        message: format!("the object has {other:?} bytes after the upload of {}", self.bytes),
                        retryable: true,
                    }),
                }
            }
            Err(e) => Err(fault(self.job, "CompleteMultipartUpload", self.key, e)),
        }
    }

    /// Best effort: a part left behind is removed by the bucket's lifecycle rule.
    pub async fn abort(self) {
        let result =
            self.s3.abort_multipart_upload().bucket(self.bucket).key(self.key).upload_id(&self.upload_id).send().await;
        if let Err(e) = result {
            tracing::warn!(key = self.key, error = %DisplayErrorContext(e), "aborting the multipart upload failed");
        }
    }
}
