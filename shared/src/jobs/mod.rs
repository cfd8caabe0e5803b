//! Scheduled warehouse jobs (`jobs:` in the config), run by run-job:
//! `transform` (SQL into a table, rebuilt atomically or incrementally, or a
//! view), `export` (a query to a gzipped CSV in S3, then a message) and
//! `archive` (old rows to Parquet in the lake, then out of the warehouse,
//! exactly once). This module is the validated config (pure, below the
//! warehouse): [`crate::warehouse::jobs`] builds every statement the jobs
//! run, for both dialects, and [`crate::warehouse::bookkeeping::job_runs`]
//! the job ledger `landfall.job_runs`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::schema::normalize_identifier;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Transform,
    Export,
    Archive,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Transform => "transform",
            JobKind::Export => "export",
            JobKind::Archive => "archive",
        }
    }
}

/// How a transform's SQL becomes a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Materialize {
    /// Built into a new table, swapped in one transaction.
    #[default]
    Table,
    /// Rows past the watermark inserted, or merged on `primary_key`.
    Incremental,
    View,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJob {
    kind: JobKind,
    #[serde(default)]
    sql: Option<String>,
    #[serde(default)]
    materialize: Option<Materialize>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    watermark: Option<String>,
    #[serde(default)]
    primary_key: Vec<String>,
    #[serde(default)]
    after: Vec<String>,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    parallel: Option<bool>,
    #[serde(default)]
    link_expires_hours: Option<u32>,
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    older_than: Option<String>,
    #[serde(default)]
    column: Option<String>,
    #[serde(rename = "where", default)]
    where_: Option<String>,
    #[serde(default)]
    vacuum: bool,
}

/// A transform's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    pub sql: String,
    pub materialize: Materialize,
    /// Normalised table or view name, in the warehouse schema.
    pub target: String,
    /// Incremental: the column whose values only grow (normalised).
    pub watermark: Option<String>,
    /// Incremental: merge on these (normalised); empty = insert only.
    pub primary_key: Vec<String>,
}

/// An export's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub sql: String,
    /// `None`: the curated bucket.
    pub bucket: Option<String>,
    /// Redshift: `PARALLEL OFF` (one file) unless `parallel: true`.
    pub parallel: bool,
    /// How long the message's presigned link is valid (at most 7 days).
    pub link_expires_hours: u32,
}

/// Which rows an archive moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveRows {
    /// `column` older than this many days before the run's start.
    OlderThan { column: String, days: u32 },
    /// A SQL condition, as written.
    Where(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// Normalised table name in the warehouse schema.
    pub table: String,
    pub rows: ArchiveRows,
    /// VACUUM / ANALYZE afterwards.
    pub vacuum: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobSpec {
    Transform(Transform),
    Export(Export),
    Archive(Archive),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub name: String,
    pub spec: JobSpec,
    /// Warehouse tables (normalised): the job is skipped when none has loaded since its last run.
    pub after: Vec<String>,
    /// Jobs that run before this one.
    pub depends_on: Vec<String>,
    /// An EventBridge schedule expression; `None`: runs after its `depends_on` only.
    pub schedule: Option<String>,
    /// Line of the job's definition in the config file.
    pub line: u64,
}

impl Job {
    pub fn kind(&self) -> JobKind {
        match self.spec {
            JobSpec::Transform(_) => JobKind::Transform,
            JobSpec::Export(_) => JobKind::Export,
            JobSpec::Archive(_) => JobKind::Archive,
        }
    }
}

/// The longest a presigned S3 link may live (SigV4's limit).
pub(crate) const MAX_LINK_HOURS: u32 = 7 * 24;

fn ident(what: &str, name: &str) -> Result<String, String> {
    let n = normalize_identifier(name);
    if n != name {
        return Err(format!("{what} {name:?} is not a plain identifier (did you mean {n:?}?)"));
    }
    Ok(n)
}

fn required(what: &str, value: Option<String>) -> Result<String, String> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().trim_end_matches(';').trim_end().to_owned()),
        _ => Err(format!("{what} is required")),
    }
}

fn refuse(field: &str, set: bool, kind: JobKind) -> Result<(), String> {
    if set { Err(format!("{field} does not apply to kind {}", kind.as_str())) } else { Ok(()) }
}

/// A schedule EventBridge takes: `rate(N unit)`, `cron(...)` or `at(...)`.
pub(crate) fn valid_schedule(s: &str) -> bool {
    let inner = |p: &str| s.strip_prefix(p).and_then(|r| r.strip_suffix(')')).is_some_and(|r| !r.trim().is_empty());
    if let Some(rate) = s.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut it = rate.split_whitespace();
        let (Some(n), Some(unit), None) = (it.next(), it.next(), it.next()) else { return false };
        let one = n == "1";
        return n.parse::<u32>().is_ok_and(|n| n > 0)
            && match unit {
                "minute" | "hour" | "day" => one,
                "minutes" | "hours" | "days" => !one,
                _ => false,
            };
    }
    inner("cron(") || inner("at(")
}

/// `400d` (days) or `2w`, `6m` (30-day months), `1y` (365 days).
pub(crate) fn parse_age(s: &str) -> Option<u32> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u32 = n.parse().ok()?;
    let days = match unit {
        "d" => n,
        "w" => n.checked_mul(7)?,
        "m" => n.checked_mul(30)?,
        "y" => n.checked_mul(365)?,
        _ => return None,
    };
    (days > 0).then_some(days)
}

pub(crate) fn validate(name: &str, raw: RawJob, line: u64) -> Result<Job, String> {
    if normalize_identifier(name) != name {
        return Err("a job's name must be a plain identifier (lower case, digits, underscores)".into());
    }
    let kind = raw.kind;
    let after = raw.after.iter().map(|t| ident("after table", t)).collect::<Result<Vec<_>, _>>()?;
    if let Some(s) = &raw.schedule
        && !valid_schedule(s)
    {
        return Err(format!("schedule {s:?} is not an EventBridge expression (rate(1 hour), cron(0 6 * * ? *))"));
    }
    let spec = match kind {
        JobKind::Transform => {
            refuse("bucket", raw.bucket.is_some(), kind)?;
            refuse("parallel", raw.parallel.is_some(), kind)?;
            refuse("table", raw.table.is_some(), kind)?;
            refuse("older_than", raw.older_than.is_some(), kind)?;
            refuse("where", raw.where_.is_some(), kind)?;
            let materialize = raw.materialize.unwrap_or_default();
            let target = ident("target", raw.target.as_deref().unwrap_or(name))?;
            let watermark = raw.watermark.as_deref().map(|c| ident("watermark column", c)).transpose()?;
            let primary_key =
                raw.primary_key.iter().map(|c| ident("primary_key column", c)).collect::<Result<Vec<_>, _>>()?;
            match materialize {
                Materialize::Incremental if watermark.is_none() => {
                    return Err("materialize: incremental needs a watermark column".into());
                }
                Materialize::Table | Materialize::View if watermark.is_some() || !primary_key.is_empty() => {
                    return Err("watermark and primary_key apply to materialize: incremental only".into());
                }
                _ => {}
            }
            JobSpec::Transform(Transform {
                sql: required("sql", raw.sql)?,
                materialize,
                target,
                watermark,
                primary_key,
            })
        }
        JobKind::Export => {
            refuse("materialize", raw.materialize.is_some(), kind)?;
            refuse("watermark", raw.watermark.is_some(), kind)?;
            refuse("table", raw.table.is_some(), kind)?;
            refuse("older_than", raw.older_than.is_some(), kind)?;
            let hours = raw.link_expires_hours.unwrap_or(24);
            if hours == 0 || hours > MAX_LINK_HOURS {
                return Err(format!("link_expires_hours must be 1 to {MAX_LINK_HOURS} (S3's limit)"));
            }
            JobSpec::Export(Export {
                sql: required("sql", raw.sql)?,
                bucket: raw.bucket,
                parallel: raw.parallel.unwrap_or(false),
                link_expires_hours: hours,
            })
        }
        JobKind::Archive => {
            refuse("sql", raw.sql.is_some(), kind)?;
            refuse("materialize", raw.materialize.is_some(), kind)?;
            refuse("watermark", raw.watermark.is_some(), kind)?;
            refuse("bucket", raw.bucket.is_some(), kind)?;
            let table = ident("table", &required("table", raw.table)?)?;
            let rows = match (raw.older_than, raw.where_) {
                (Some(age), None) => {
                    let days = parse_age(&age).ok_or_else(|| format!("older_than {age:?} is not an age like 400d"))?;
                    let column = ident("column", raw.column.as_deref().unwrap_or(crate::lineage::PARTITION_KEY))?;
                    ArchiveRows::OlderThan { column, days }
                }
                (None, Some(w)) if !w.trim().is_empty() => {
                    refuse("column", raw.column.is_some(), kind)?;
                    ArchiveRows::Where(w.trim().to_owned())
                }
                _ => return Err("an archive needs one of older_than or where".into()),
            };
            JobSpec::Archive(Archive { table, rows, vacuum: raw.vacuum })
        }
    };
    Ok(Job { name: name.to_owned(), spec, after, depends_on: raw.depends_on, schedule: raw.schedule, line })
}

/// Checks what spans jobs: `depends_on` names configured jobs, without
/// cycles; a job with neither a schedule nor `depends_on` would never run.
/// Returns the offending job's name, line and the message.
pub(crate) fn check_graph(jobs: &[Job]) -> Result<(), (String, u64, String)> {
    let by_name: BTreeMap<&str, &Job> = jobs.iter().map(|j| (j.name.as_str(), j)).collect();
    for job in jobs {
        for dep in &job.depends_on {
            if !by_name.contains_key(dep.as_str()) {
                return Err((job.name.clone(), job.line, format!("depends_on names {dep:?}, which is not a job")));
            }
        }
        if job.schedule.is_none() && job.depends_on.is_empty() {
            return Err((job.name.clone(), job.line, "needs a schedule or depends_on, or it never runs".into()));
        }
    }
    order(jobs).map(|_| ())
}

/// Redshift only: an export's query is UNLOADed, and UNLOAD refuses a
/// LIMIT in the outer SELECT (UNLOAD, "Limit clause":
/// <https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html>).
/// Returns the offending job's name, line and the message.
pub(crate) fn check_unloads(jobs: &[Job]) -> Result<(), (String, u64, String)> {
    for job in jobs {
        if let JobSpec::Export(e) = &job.spec
            && outer_limit(&e.sql)
        {
            return Err((
                job.name.clone(),
                job.line,
                "sql ends in a LIMIT, which Redshift's UNLOAD refuses in the outer SELECT; nest it \
                 (`SELECT * FROM (... LIMIT n) AS q`) or filter with a subquery that has the LIMIT"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Whether `sql` has a LIMIT outside every parenthesis, string, quoted
/// identifier and comment.
pub fn outer_limit(sql: &str) -> bool {
    let mut depth = 0i32;
    let mut word = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if depth == 0 && word.eq_ignore_ascii_case("limit") {
            return true;
        }
        word.clear();
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            '\'' | '"' => {
                // '' (or "") inside is the quote itself: leaving and entering again changes nothing.
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut last = ' ';
                for d in chars.by_ref() {
                    if last == '*' && d == '/' {
                        break;
                    }
                    last = d;
                }
            }
            _ => {}
        }
    }
    depth == 0 && word.eq_ignore_ascii_case("limit")
}

/// The jobs in an order where each comes after its `depends_on`; a cycle is refused.
pub fn order(jobs: &[Job]) -> Result<Vec<&Job>, (String, u64, String)> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::with_capacity(jobs.len());
    while out.len() < jobs.len() {
        let ready: Vec<&Job> = jobs
            .iter()
            .filter(|j| !done.contains(j.name.as_str()))
            .filter(|j| j.depends_on.iter().all(|d| done.contains(d.as_str())))
            .collect();
        if ready.is_empty() {
            let stuck = jobs.iter().find(|j| !done.contains(j.name.as_str())).map(|j| (j.name.clone(), j.line));
            let (name, line) = stuck.unwrap_or_default();
            return Err((name, line, "depends_on forms a cycle".into()));
        }
        for j in ready {
            done.insert(&j.name);
            out.push(j);
        }
    }
    Ok(out)
}

/// The jobs that run right after `name` in the same invocation: those that
/// depend on it and have no schedule of their own, in dependency order.
pub fn downstream<'a>(jobs: &'a [Job], name: &str) -> Vec<&'a Job> {
    let mut reached: BTreeSet<&str> = BTreeSet::from([name]);
    let Ok(ordered) = order(jobs) else { return Vec::new() };
    let mut out = Vec::new();
    for job in ordered {
        if job.schedule.is_none() && job.depends_on.iter().any(|d| reached.contains(d.as_str())) {
            reached.insert(&job.name);
            out.push(job);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outer_limit_is_found_and_a_nested_or_quoted_one_is_not() {
        assert!(outer_limit("SELECT * FROM t ORDER BY a LIMIT 10"));
        assert!(outer_limit("select a from t\nlimit\n5"));
        assert!(!outer_limit("SELECT * FROM t WHERE id IN (SELECT id FROM t ORDER BY id DESC LIMIT 10)"));
        assert!(!outer_limit("SELECT 'limit 1' AS note, \"limit\" FROM t -- limit 3\n/* LIMIT 2 */"));
        assert!(!outer_limit("SELECT rate_limit, limits FROM t"));
    }

    #[test]
    fn schedules_and_ages_are_parsed() {
        for ok in ["rate(1 hour)", "rate(15 minutes)", "cron(0 6 * * ? *)", "at(2026-12-01T00:00:00)"] {
            assert!(valid_schedule(ok), "{ok}");
        }
        for bad in ["rate(1 hours)", "rate(2 hour)", "rate(0 days)", "hourly", "cron()"] {
            assert!(!valid_schedule(bad), "{bad}");
        }
        assert_eq!(parse_age("400d"), Some(400));
        assert_eq!(parse_age("2w"), Some(14));
        assert_eq!(parse_age("1y"), Some(365));
        assert_eq!(parse_age("0d"), None);
        assert_eq!(parse_age("400"), None);
        assert_eq!(parse_age("d"), None);
    }

    fn parse(jobs: &str) -> Result<Vec<Job>, String> {
        crate::config::Config::from_yaml(&format!("jobs:\n{jobs}"), "t.yaml").map(|c| c.jobs).map_err(|e| e.to_string())
    }

    #[test]
    fn the_three_kinds_are_read() {
        let jobs = parse(
            "  daily:\n    kind: transform\n    sql: SELECT 1 AS n;\n    after: [partner_clicks]\n    schedule: rate(1 hour)\n\
             \x20 latest:\n    kind: transform\n    materialize: incremental\n    sql: SELECT * FROM o\n    watermark: updated_at\n    primary_key: [id]\n    depends_on: [daily]\n\
             \x20 report:\n    kind: export\n    sql: SELECT * FROM daily\n    depends_on: [latest]\n\
             \x20 old:\n    kind: archive\n    table: partner_clicks\n    older_than: 400d\n    schedule: cron(0 3 * * ? *)\n",
        )
        .unwrap();
        let daily = jobs.iter().find(|j| j.name == "daily").unwrap();
        assert_eq!(daily.after, vec!["partner_clicks"]);
        let JobSpec::Transform(t) = &daily.spec else { panic!() };
        assert_eq!((t.sql.as_str(), t.materialize, t.target.as_str()), ("SELECT 1 AS n", Materialize::Table, "daily"));
        let old = jobs.iter().find(|j| j.name == "old").unwrap();
        assert_eq!(
            old.spec,
            JobSpec::Archive(Archive {
                table: "partner_clicks".into(),
                rows: ArchiveRows::OlderThan { column: "dt".into(), days: 400 },
                vacuum: false
            })
        );
        let names: Vec<&str> = downstream(&jobs, "daily").iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, vec!["latest", "report"]);
        let order: Vec<&str> = order(&jobs).unwrap().iter().map(|j| j.name.as_str()).collect();
        assert!(order.iter().position(|n| *n == "daily") < order.iter().position(|n| *n == "report"));
    }

    #[test]
    fn mistakes_are_refused_with_the_jobs_line() {
        let cases = [
            ("  a:\n    kind: transform\n    sql: SELECT 1\n", "t.yaml:3: job \"a\": needs a schedule or depends_on"),
            ("  a:\n    kind: transform\n    schedule: rate(1 day)\n", "sql is required"),
            (
                "  a:\n    kind: transform\n    materialize: incremental\n    sql: x\n    schedule: rate(1 day)\n",
                "needs a watermark",
            ),
            ("  a:\n    kind: transform\n    sql: x\n    schedule: hourly\n", "not an EventBridge expression"),
            ("  a:\n    kind: export\n    sql: x\n    depends_on: [b]\n", "depends_on names \"b\""),
            ("  a:\n    kind: archive\n    table: t\n    schedule: rate(1 day)\n", "one of older_than or where"),
            ("  a:\n    kind: archive\n    table: t\n    older_than: soon\n    schedule: rate(1 day)\n", "not an age"),
            (
                "  a:\n    kind: archive\n    table: t\n    sql: x\n    older_than: 1d\n    schedule: rate(1 day)\n",
                "sql does not apply",
            ),
            (
                "  a:\n    kind: export\n    sql: x\n    depends_on: [b]\n  b:\n    kind: export\n    sql: x\n    depends_on: [a]\n",
                "cycle",
            ),
            ("  a:\n    kind: export\n    sql: x\n    schedule: rate(1 day)\n    sechdule: x\n", "t.yaml:6"),
            ("  A-b:\n    kind: export\n    sql: x\n    schedule: rate(1 day)\n", "plain identifier"),
        ];
        for (yaml, want) in cases {
            let e = parse(yaml).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
        }
    }
}
