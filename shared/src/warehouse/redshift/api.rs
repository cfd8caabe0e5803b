//! The Redshift Data API as the driver uses it: the narrow [`DataApi`]
//! trait and its implementation on aws-sdk-redshiftdata.

use async_trait::async_trait;

use crate::config::{RedshiftConfig, RedshiftEndpoint};

/// A statement's state as DescribeStatement reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementStatus {
    Submitted,
    Picked,
    Started,
    Finished,
    Failed,
    Aborted,
}

impl StatementStatus {
    pub fn parse(s: &str) -> Option<StatementStatus> {
        Some(match s {
            "SUBMITTED" => StatementStatus::Submitted,
            "PICKED" => StatementStatus::Picked,
            "STARTED" => StatementStatus::Started,
            "FINISHED" => StatementStatus::Finished,
            "FAILED" => StatementStatus::Failed,
            "ABORTED" => StatementStatus::Aborted,
            _ => return None,
        })
    }

    pub fn running(self) -> bool {
        matches!(self, StatementStatus::Submitted | StatementStatus::Picked | StatementStatus::Started)
    }
}

/// One statement of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubStatement {
    pub status: Option<StatementStatus>,
    pub error: Option<String>,
    pub query_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub id: String,
    pub status: StatementStatus,
    pub error: Option<String>,
    pub query_id: i64,
    pub session_id: Option<String>,
    pub subs: Vec<SubStatement>,
}

impl Described {
    /// The Redshift query id of the statement that failed.
    pub(crate) fn failed_query_id(&self) -> Option<i64> {
        self.subs
            .iter()
            .find(|s| s.status == Some(StatementStatus::Failed) || s.error.is_some())
            .map(|s| s.query_id)
            .or(Some(self.query_id))
            .filter(|q| *q > 0)
    }
}

/// How a call relates to a Data API session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// A statement of its own.
    None,
    /// Open a session and keep it this many seconds after the call.
    Open {
        keep_alive_secs: i32,
    },
    Use(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct ApiError {
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub retryable: bool,
}

/// Error codes of the Data API that pass with time.
pub(crate) fn retryable_api_code(code: &str) -> bool {
    matches!(
        code,
        "ActiveStatementsExceededException"
            | "ActiveSessionsExceededException"
            | "ActiveWaitingRequestsExceededException"
            | "ThrottlingException"
            | "InternalServerException"
            | "ExecuteStatementException"
            | "BatchExecuteStatementException"
            | "DatabaseConnectionException"
    )
}

/// The Data API operations the driver uses: the narrow trait beside its
/// SDK implementation.
#[async_trait]
pub trait DataApi: Send + Sync {
    /// Submits statements: more than one run as one transaction (BatchExecuteStatement), one on its
    /// own (ExecuteStatement). Returns the statement id and the session id. A call repeated with
    /// the same `client_token` (after an answer that was lost) returns the first call's statement
    /// instead of running the SQL again.
    async fn submit(
        &self,
        sqls: Vec<String>,
        name: &str,
        session: Session,
        client_token: &str,
    ) -> Result<(String, Option<String>), ApiError>;
    async fn describe(&self, id: &str) -> Result<Described, ApiError>;
    /// Ids and statuses of this role's statements whose name starts with `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<(String, StatementStatus)>, ApiError>;
    /// The rows of a finished query, every value as text (NULL as `None`).
    async fn rows(&self, id: &str) -> Result<Vec<Vec<Option<String>>>, ApiError>;
}

/// [`DataApi`] on aws-sdk-redshiftdata.
#[derive(Clone)]
pub struct SdkDataApi {
    client: aws_sdk_redshiftdata::Client,
    target: RedshiftConfig,
}

impl SdkDataApi {
    pub fn new(client: aws_sdk_redshiftdata::Client, target: RedshiftConfig) -> Self {
        SdkDataApi { client, target }
    }

    /// A client that makes each call once: the driver retries refused
    /// calls itself ([`super::Polling`]), and SDK retries under it would
    /// multiply the attempts (3 x 5 per throttled submit).
    pub fn from_sdk(sdk: &aws_config::SdkConfig, target: RedshiftConfig) -> Self {
        let conf = aws_sdk_redshiftdata::config::Builder::from(sdk)
            .retry_config(aws_sdk_redshiftdata::config::retry::RetryConfig::disabled())
            .build();
        SdkDataApi::new(aws_sdk_redshiftdata::Client::from_conf(conf), target)
    }
}

fn api_error<E>(
    operation: &'static str,
    err: &aws_sdk_redshiftdata::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> ApiError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_s3::error::ProvideErrorMetadata as _;
    let code = err.code().map(str::to_owned);
    let (_, message) = crate::aws::status_and_message(err);
    let retryable = crate::aws::transient(err) || code.as_deref().is_some_and(retryable_api_code);
    ApiError { operation, code, message, retryable }
}

#[async_trait]
impl DataApi for SdkDataApi {
    async fn submit(
        &self,
        sqls: Vec<String>,
        name: &str,
        session: Session,
        client_token: &str,
    ) -> Result<(String, Option<String>), ApiError> {
        let t = &self.target;
        // Where and as whom, or the session that already knows; the same
        // setters exist on both request builders.
        macro_rules! target {
            ($req:expr) => {{
                let mut req = $req.statement_name(name).client_token(client_token);
                match &session {
                    Session::Use(id) => req = req.session_id(id),
                    other => {
                        req = req.database(&t.database);
                        req = match &t.endpoint {
                            RedshiftEndpoint::Workgroup(w) => req.workgroup_name(w),
                            RedshiftEndpoint::Cluster(c) => req.cluster_identifier(c),
                        };
                        if let Some(s) = &t.secret_arn {
                            req = req.secret_arn(s);
                        }
                        if let Some(u) = &t.db_user {
                            req = req.db_user(u);
                        }
                        if let Session::Open { keep_alive_secs } = other {
                            req = req.session_keep_alive_seconds(*keep_alive_secs);
                        }
                    }
                }
                req
            }};
        }
        let missing_id = |operation| ApiError {
            operation,
            code: None,
            message: "the response has no statement id".into(),
            retryable: true,
        };
        // One statement runs on its own (ExecuteStatement, autocommit):
        // Redshift refuses `ALTER COLUMN ... TYPE` inside a transaction block.
        if let [sql] = &sqls[..] {
            let out = target!(self.client.execute_statement().sql(sql))
                .send()
                .await
                .map_err(|e| api_error("ExecuteStatement", &e))?;
            let id = out.id().map(str::to_owned).ok_or_else(|| missing_id("ExecuteStatement"))?;
            return Ok((id, out.session_id().map(str::to_owned)));
        }
        let out = target!(self.client.batch_execute_statement().set_sqls(Some(sqls)))
            .send()
            .await
            .map_err(|e| api_error("BatchExecuteStatement", &e))?;
        let id = out.id().map(str::to_owned).ok_or_else(|| missing_id("BatchExecuteStatement"))?;
        Ok((id, out.session_id().map(str::to_owned)))
    }

    async fn describe(&self, id: &str) -> Result<Described, ApiError> {
        let out =
            self.client.describe_statement().id(id).send().await.map_err(|e| api_error("DescribeStatement", &e))?;
        let status = out.status().and_then(|s| StatementStatus::parse(s.as_str())).ok_or_else(|| ApiError {
            operation: "DescribeStatement",
            code: None,
            message: format!("statement {id} has an unknown status {:?}", out.status()),
            retryable: true,
        })?;
        Ok(Described {
            id: id.to_owned(),
            status,
            error: out.error().map(str::to_owned),
            query_id: out.redshift_query_id(),
            session_id: out.session_id().map(str::to_owned),
            subs: out
                .sub_statements()
                .iter()
                .map(|s| SubStatement {
                    status: s.status().and_then(|st| StatementStatus::parse(st.as_str())),
                    error: s.error().map(str::to_owned),
                    query_id: s.redshift_query_id(),
                })
                .collect(),
        })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, StatementStatus)>, ApiError> {
        // Every page: a role that has run many loads can have more than one
        // page of statements under a prefix.
        let mut pages = self
            .client
            .list_statements()
            .statement_name(prefix)
            .status(aws_sdk_redshiftdata::types::StatusString::All)
            .max_results(100)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| api_error("ListStatements", &e))?;
            out.extend(
                page.statements()
                    .iter()
                    .filter(|s| s.statement_name().is_some_and(|n| n.starts_with(prefix)))
                    .filter_map(|s| Some((s.id().to_owned(), StatementStatus::parse(s.status()?.as_str())?))),
            );
        }
        Ok(out)
    }

    async fn rows(&self, id: &str) -> Result<Vec<Vec<Option<String>>>, ApiError> {
        use aws_sdk_redshiftdata::types::Field;
        let mut rows = Vec::new();
        let mut pages = self.client.get_statement_result().id(id).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| api_error("GetStatementResult", &e))?;
            for record in page.records() {
                rows.push(
                    record
                        .iter()
                        .map(|f| match f {
                            Field::StringValue(s) => Some(s.clone()),
                            Field::LongValue(n) => Some(n.to_string()),
                            Field::DoubleValue(x) => Some(x.to_string()),
                            Field::BooleanValue(b) => Some(b.to_string()),
                            _ => None,
                        })
                        .collect(),
                );
            }
        }
        Ok(rows)
    }
}

/// A submit's idempotency token: one per statement the driver means to run,
/// the same on every attempt of it. The SDK makes a new random one for each
/// call, so without it a retry after a lost answer would run the SQL twice
/// (ExecuteStatement, `ClientToken`:
/// <https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_ExecuteStatement.html>).
pub fn client_token(name: &str, sqls: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    for s in sqls {
        h.update([0]);
        h.update(s.as_bytes());
    }
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_submit_gets_its_own_token() {
        let sqls = vec!["SELECT 1".to_owned()];
        let (a, b) = (client_token("n", &sqls), client_token("n", &sqls));
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn limits_and_throttling_are_retried_and_a_refused_request_is_not() {
        assert!(retryable_api_code("ActiveStatementsExceededException"));
        assert!(!retryable_api_code("ValidationException"));
    }

    #[test]
    fn every_state_describestatement_reports_is_read() {
        for (text, running) in [
            ("SUBMITTED", true),
            ("PICKED", true),
            ("STARTED", true),
            ("FINISHED", false),
            ("FAILED", false),
            ("ABORTED", false),
        ] {
            assert_eq!(StatementStatus::parse(text).map(StatementStatus::running), Some(running), "{text}");
        }
        assert_eq!(StatementStatus::parse("ALL"), None);
    }
}
