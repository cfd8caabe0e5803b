//! An export: the job's query to `exports/<job>/dt=YYYY-MM-DD/<run-id>.csv.gz`.
//! PostgreSQL's `COPY (query) TO STDOUT` streams through gzip into an S3
//! multipart upload, one part in memory at a time; Redshift UNLOADs it
//! (gzipped CSV with a header and a verbose manifest, `PARALLEL OFF` unless
//! asked). Then the ledger row, and a message with rows, bytes and a
//! presigned link.

use std::io::Write;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use chrono::Utc;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::{StreamExt, pin_mut};
use landfall::escape::Mrkdwn;
use landfall::jobs::{Export, Job};
use landfall::layout::{parse_s3_url, s3_url};
use landfall::storage::MIN_PART_BYTES;
use landfall::warehouse::jobs::unload_export;
use landfall::warehouse::postgres::{PostgresTarget, sql_error};
use landfall::warehouse::sql::TableName;
use landfall::warehouse::{Driver, Warehouse};
use serde_json::{Value, json};

use crate::{JobError, Outcome, Run, RunJob};

/// Each part but the last: a few above S3's minimum, one in memory at a time.
const PART_BYTES: usize = 8 << 20;
const _: () = assert!(PART_BYTES >= MIN_PART_BYTES);

/// Counts the records of PostgreSQL's CSV output as it streams: a newline
/// ends a record unless it is inside quotes (a doubled quote toggles twice,
/// so it changes nothing).
#[derive(Debug, Default, Clone, Copy)]
pub struct CsvRecords {
    quoted: bool,
    records: u64,
}

impl CsvRecords {
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'"' => self.quoted = !self.quoted,
                b'\n' if !self.quoted => self.records += 1,
                _ => {}
            }
        }
    }

    pub fn records(&self) -> u64 {
        self.records
    }
}

/// The records in a CSV text (for tests and tools).
pub fn count_csv_records(text: &[u8]) -> u64 {
    let mut c = CsvRecords::default();
    c.feed(text);
    c.records()
}

/// One file a Redshift UNLOAD wrote, from its verbose manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unloaded {
    pub key: String,
    pub bytes: u64,
    pub rows: u64,
}

pub(crate) fn read_unload_manifest(bytes: &[u8]) -> Result<Vec<Unloaded>, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let entries = doc.get("entries").and_then(Value::as_array).ok_or("no \"entries\" array")?;
    entries
        .iter()
        .map(|e| {
            let url = e.get("url").and_then(Value::as_str).ok_or("an entry without a url")?;
            let (_, key) = parse_s3_url(url).ok_or_else(|| format!("{url} is not an s3:// URL"))?;
            let meta = e.get("meta");
            let num = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_u64).unwrap_or(0);
            Ok(Unloaded { key: key.to_owned(), bytes: num("content_length"), rows: num("record_count") })
        })
        .collect()
}

/// The data rows of an export's files: UNLOAD's HEADER puts a header line
/// at the top of each file, and a verbose manifest's `record_count`
/// includes it ("If the HEADER option is specified, the row count includes
/// the header line": <https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html>).
fn data_rows(files: &[Unloaded]) -> u64 {
    files.iter().map(|f| f.rows.saturating_sub(1)).sum()
}

pub(crate) async fn run(ctx: &RunJob, run: &Run<'_>, e: &Export) -> Result<Outcome, JobError> {
    let d = ctx.dialect();
    let job = run.job;
    let bucket = e.bucket.clone().unwrap_or_else(|| ctx.settings.curated_bucket.clone());
    let day = Utc::now().format("%Y-%m-%d").to_string();
    let (keys, rows, bytes) = match &ctx.warehouse {
        Driver::Postgres(pg) => {
            let key = format!("exports/{}/dt={day}/{}.csv.gz", job.name, run.run_id);
            let about = ctx.table(&job.name);
            let (rows, bytes) = copy_to_s3(ctx, pg.target(), (job, &about), &e.sql, &bucket, &key).await?;
            (vec![key], rows, bytes)
        }
        Driver::Redshift(rs) => {
            let prefix = format!("exports/{}/dt={day}/{}_", job.name, run.run_id);
            let unload = unload_export(&e.sql, &s3_url(&bucket, &prefix), rs.copy_role_arn(), e.parallel);
            let about = ctx.table(&job.name);
            let name = format!("landfall-job-{}-unload", run.run_id);
            ctx.warehouse.transaction(&about, &name, vec![unload]).await.map_err(RunJob::wh(job))?;
            let manifest_key = format!("{prefix}manifest");
            let manifest = ctx
                .store
                .get_bytes(&bucket, &manifest_key)
                .await
                .map_err(|source| JobError::Storage { job: job.name.clone(), source })?;
            let files = read_unload_manifest(&manifest)
                .map_err(|m| JobError::Invariant { job: job.name.clone(), message: format!("{manifest_key}: {m}") })?;
            let rows = data_rows(&files);
            let bytes = files.iter().map(|f| f.bytes).sum();
            (files.into_iter().map(|f| f.key).collect(), rows, bytes)
        }
    };
    let detail = json!({ "bucket": bucket, "keys": keys });
    ctx.ledger_exec(job, "finish", crate::settle(d, run, rows, bytes, &detail)).await?;
    let first = keys.first().cloned().unwrap_or_default();
    let link = presign(&ctx.s3, &bucket, &first, e.link_expires_hours).await;
    let notify_error =
        ctx.notify(&export_message(&job.name, &run.run_id, rows, bytes, &bucket, &keys, link.as_deref())).await;
    Ok(Outcome {
        rows: Some(rows),
        bytes: Some(bytes),
        detail: json!({ "bucket": bucket, "keys": keys, "link": link, "notify_error": notify_error }),
    })
}

/// Streams `COPY (sql) TO STDOUT` through gzip into a multipart upload;
/// returns the data rows (the header left out) and the bytes stored.
async fn copy_to_s3(
    ctx: &RunJob,
    target: &PostgresTarget,
    (job, about): (&Job, &TableName),
    sql: &str,
    bucket: &str,
    key: &str,
) -> Result<(u64, u64), JobError> {
    let wh = RunJob::wh(job);
    let storage = |source| JobError::Storage { job: job.name.clone(), source };
    let client = target.connect().await.map_err(&wh)?;
    let copy = format!("COPY (\n{sql}\n) TO STDOUT WITH (FORMAT csv, HEADER)");
    let stream = client.copy_out(copy.as_str()).await.map_err(|e| wh(sql_error(about, &copy, &e)))?;
    let mut upload = ctx.store.upload(bucket, key, "text/csv").await.map_err(storage)?;
    let pumped = async {
        pin_mut!(stream);
        let mut gz = GzEncoder::new(Vec::with_capacity(PART_BYTES + (1 << 16)), Compression::default());
        let mut records = CsvRecords::default();
        let scratch = |source| JobError::Scratch { job: job.name.clone(), source };
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| wh(sql_error(about, &copy, &e)))?;
            records.feed(&chunk);
            gz.write_all(&chunk).map_err(scratch)?;
            if gz.get_ref().len() >= PART_BYTES {
                let body = std::mem::take(gz.get_mut());
                upload.part(body).await.map_err(storage)?;
            }
        }
        let rest = gz.finish().map_err(scratch)?;
        upload.part(rest).await.map_err(storage)?;
        Ok::<u64, JobError>(records.records().saturating_sub(1))
    }
    .await;
    match pumped {
        Ok(rows) => Ok((rows, upload.complete().await.map_err(storage)?)),
        Err(e) => {
            upload.abort().await;
            Err(e)
        }
    }
}

async fn presign(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, hours: u32) -> Option<String> {
    let config = PresigningConfig::expires_in(Duration::from_secs(u64::from(hours) * 3600)).ok()?;
    match s3.get_object().bucket(bucket).key(key).presigned(config).await {
        Ok(request) => Some(request.uri().to_string()),
        Err(e) => {
            tracing::warn!(bucket, key, error = %aws_sdk_s3::error::DisplayErrorContext(e), "presigning the link failed");
            None
        }
    }
}

/// The Slack message for a finished export.
pub(crate) fn export_message(
    job: &str,
    run_id: &str,
    rows: u64,
    bytes: u64,
    bucket: &str,
    keys: &[String],
    link: Option<&str>,
) -> Value {
    let headline = format!(":outbox_tray: export {}: {rows} rows, {bytes} bytes", Mrkdwn(job));
    let first = format!("s3://{bucket}/{}", keys.first().map_or("", String::as_str));
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Rows*\n{rows}")}),
        json!({"type": "mrkdwn", "text": format!("*Bytes*\n{bytes}")}),
        json!({"type": "mrkdwn", "text": format!("*Where*\n{}", Mrkdwn(&first))}),
        json!({"type": "mrkdwn", "text": format!("*Run*\n{}", Mrkdwn(run_id))}),
    ];
    if let Some(link) = link {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Download*\n<{link}|{} file(s)>", keys.len())}));
    }
    json!({
        "text": headline,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "section", "fields": fields},
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_counted_outside_quotes() {
        assert_eq!(count_csv_records(b"a,b\n1,\"x\ny\"\n2,\"say \"\"hi\"\"\"\n"), 3);
        let mut c = CsvRecords::default();
        c.feed(b"a\n\"split");
        c.feed(b"\nstill\"\n");
        assert_eq!(c.records(), 2);
    }

    #[test]
    fn a_verbose_unload_manifest_gives_files_rows_and_bytes() {
        let m = br#"{"entries":[{"url":"s3://b/exports/j/dt=2026-12-01/r_000.gz","meta":{"content_length":120,"record_count":7}}],
                    "meta":{"content_length":120,"record_count":7}}"#;
        let files = read_unload_manifest(m).unwrap();
        assert_eq!(files, vec![Unloaded { key: "exports/j/dt=2026-12-01/r_000.gz".into(), bytes: 120, rows: 7 }]);
        assert!(read_unload_manifest(b"{}").is_err());
    }

    #[test]
    fn each_files_header_line_is_not_counted_as_a_row() {
        let file = |rows| Unloaded { key: "k".into(), bytes: 1, rows };
        assert_eq!(data_rows(&[file(8), file(1), file(4)]), 10);
    }

    #[test]
    fn the_message_says_rows_bytes_and_links() {
        let m = export_message("report", "r1", 3, 99, "b", &["k".into()], Some("https://x/k?sig"));
        assert_eq!(m["text"], ":outbox_tray: export report: 3 rows, 99 bytes");
        assert!(m.to_string().contains("<https://x/k?sig|1 file(s)>"));
    }
}
