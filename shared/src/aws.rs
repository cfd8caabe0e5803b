//! What every AWS adapter asks of an SDK error: is it worth retrying?

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Error codes AWS services use for throttling and their own faults.
const TRANSIENT_CODES: [&str; 12] = [
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServiceError",
    "ServiceUnavailable",
];

/// Timeouts, connection failures, unreadable responses, 5xx, 429 and the
/// throttling codes: the faults that can succeed on a later attempt. The
/// same `SdkError` type serves every SDK crate, so this serves them all.
pub fn transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            status >= 500 || status == 429 || se.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        _ => false,
    }
}

/// The HTTP status of an AWS SDK error and its "Code: message" text; every
/// adapter classifies errors and words its messages from these.
pub(crate) fn status_and_message<E>(err: &SdkError<E, HttpResponse>) -> (Option<u16>, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = match err {
        SdkError::ServiceError(se) => Some(se.raw().status().as_u16()),
        SdkError::ResponseError(re) => Some(re.raw().status().as_u16()),
        _ => None,
    };
    let message = match (err.code(), err.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        _ => DisplayErrorContext(err).to_string(),
    };
    (status, message)
}
