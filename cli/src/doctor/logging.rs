//! Check `log-level <function>`: the metrics survive Lambda's log filter.
//!
//! The functions' metrics are EMF documents, log lines without a `level`
//! key. With the JSON log format Lambda filters application logs at
//! `ApplicationLogLevel` and counts a line without a level as INFO, so any
//! level above INFO (WARN, ERROR, FATAL) drops every metric
//! (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html>).
//! The Text format filters nothing.

use super::Check;

/// Levels at which a line Lambda counts as INFO is kept.
const KEEPS_INFO: [&str; 3] = ["TRACE", "DEBUG", "INFO"];

pub(crate) async fn check(lambda: &aws_sdk_lambda::Client, function: &str, function_name: &str) -> Check {
    let name = format!("log-level {function}");
    let got = lambda.get_function_configuration().function_name(function_name).send().await;
    let conf = match got {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                name,
                format!("{function_name}: {}", aws_sdk_lambda::error::DisplayErrorContext(&e)),
                "the operator needs lambda:GetFunctionConfiguration".into(),
            );
        }
    };
    let logging = conf.logging_config();
    let format = logging.and_then(|l| l.log_format()).map(|f| f.as_str().to_owned()).unwrap_or_else(|| "Text".into());
    let level = logging.and_then(|l| l.application_log_level()).map(|l| l.as_str().to_owned());
    match level {
        Some(level) if format == "JSON" && !KEEPS_INFO.contains(&level.as_str()) => Check::fail(
            name,
            format!(
                "{function_name} filters its logs at {level}: Lambda drops the metric lines, so the dashboard is empty and the alarms on them never fire"
            ),
            format!(
                "terraform apply (it keeps Lambda's filter at INFO and filters the function's own logs with log_level), \
                 or aws lambda update-function-configuration --function-name {function_name} \
                 --logging-config LogFormat=JSON,ApplicationLogLevel=INFO"
            ),
        ),
        level => Check::pass(
            name,
            format!(
                "{function_name}: {format} logs, application level {}",
                level.unwrap_or_else(|| "unfiltered".into())
            ),
        ),
    }
}
