//! Check `access`: can each function's role do what the function does, on
//! the exact resources it does it to.
//!
//! It asks IAM itself (`iam:SimulatePrincipalPolicy`,
//! <https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html>)
//! rather than reading the role's policy documents and judging them here: the
//! simulation evaluates every policy attached to the role with IAM's own
//! rules (wildcards, NotAction, conditions), and its result carries the
//! decision of the organization's SCPs and the role's permissions boundary
//! (`OrganizationsDecisionDetail`, `PermissionsBoundaryDecisionDetail`:
//! <https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html>),
//! which no evaluator of the role's own documents can see. Resource policies
//! (bucket or key policies) are not part of it.

use landfall::config::{Config, RedshiftEndpoint, WarehouseDriver};
use landfall::layout::parse_s3_url;

use super::{Check, Deployment};

/// What a function does to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Need {
    pub actions: Vec<&'static str>,
    pub resource: String,
}

fn need(actions: &[&'static str], resource: String) -> Need {
    Need { actions: actions.to_vec(), resource }
}

/// `arn:<partition>:iam::<account>:role/<name>` -> (partition, account, name).
pub(crate) fn role_parts(role_arn: &str) -> Option<(&str, &str, &str)> {
    let mut it = role_arn.splitn(6, ':');
    let (_, partition, _, _, account, resource) =
        (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    Some((partition, account, name))
}

/// The object a function reads or writes under `prefix` of `bucket`, as an
/// ARN IAM can match against the role's `bucket/prefix*` resources.
fn object(partition: &str, bucket: &str, prefix: &str) -> String {
    format!("arn:{partition}:s3:::{bucket}/{prefix}landfall-doctor-probe")
}

/// Where a function's role must reach, from the deployment and its config.
/// `secret_arn` resolves a Secrets Manager name the config gives.
pub(crate) fn needs(
    function: &str,
    role_arn: &str,
    d: &Deployment,
    config: &Config,
    secret_arns: &[String],
) -> Vec<Need> {
    let Some((p, account, _)) = role_parts(role_arn) else { return Vec::new() };
    let (landing, curated) = (d.landing_bucket.as_str(), d.curated_bucket.as_str());
    let mut out = Vec::new();
    if let Some((bucket, key)) = parse_s3_url(&d.config_url) {
        out.push(need(&["s3:GetObject"], format!("arn:{p}:s3:::{bucket}/{key}")));
    }
    if let Some(q) = d.queues.get(function) {
        out.push(need(&["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], q.arn.clone()));
    }
    if let Some(key) = &d.kms_key_arn {
        out.push(need(&["kms:Decrypt", "kms:GenerateDataKey"], key.clone()));
    }
    let warehouse = |out: &mut Vec<Need>| {
        for arn in secret_arns {
            out.push(need(&["secretsmanager:GetSecretValue"], arn.clone()));
        }
    };
    match function {
        "parse-file" => {
            for f in &config.feeds {
                out.push(need(&["s3:GetObject"], object(p, landing, &f.prefix)));
            }
            for prefix in ["tables/", "_manifests/", "_rejects/"] {
                out.push(need(&["s3:PutObject"], object(p, curated, prefix)));
            }
        }
        "register-partitions" => {
            out.push(need(&["s3:GetObject"], object(p, curated, "tables/")));
            let mut tables: Vec<&str> = config.feeds.iter().map(|f| f.table.as_str()).collect();
            tables.dedup();
            for t in tables {
                out.push(need(
                    &["glue:GetTable", "glue:CreateTable", "glue:UpdateTable", "glue:BatchCreatePartition"],
                    format!("arn:{p}:glue:{}:{account}:table/{}/{t}", d.region, d.glue_database),
                ));
            }
        }
        "load-warehouse" => {
            for prefix in ["tables/", "_manifests/"] {
                out.push(need(&["s3:GetObject"], object(p, curated, prefix)));
            }
            for prefix in ["_rejects/", "_copy/"] {
                out.push(need(&["s3:PutObject"], object(p, curated, prefix)));
            }
            warehouse(&mut out);
        }
        "monitor-feeds" => warehouse(&mut out),
        "fetch-api" => {
            out.push(need(&["s3:GetObject", "s3:PutObject"], object(p, curated, "_state/")));
        }
        _ => {}
    }
    // The Data API on a cluster: its ARN is known from the name (a
    // workgroup's holds its id, which the redshift check reads).
    let cluster = config.warehouse.redshift.as_ref().and_then(|r| match &r.endpoint {
        RedshiftEndpoint::Cluster(c) => Some(c.clone()),
        RedshiftEndpoint::Workgroup(_) => None,
    });
    if matches!(function, "load-warehouse" | "monitor-feeds")
        && config.warehouse.driver == WarehouseDriver::Redshift
        && let Some(c) = cluster
    {
        out.push(need(
            &["redshift-data:ExecuteStatement", "redshift-data:BatchExecuteStatement"],
            format!("arn:{p}:redshift:{}:{account}:cluster:{c}", d.region),
        ));
    }
    out
}

/// The secrets the warehouse driver reads, as ARNs (a name is resolved with
/// DescribeSecret, since the role's policy names the full ARN).
pub(crate) async fn warehouse_secrets(d: &Deployment, config: &Config) -> Result<Vec<String>, String> {
    let named = [
        config.warehouse.password_secret.clone(),
        config.warehouse.redshift.as_ref().and_then(|r| r.secret_arn.clone()),
    ];
    let client = aws_sdk_secretsmanager::Client::new(&d.sdk);
    let mut out = Vec::new();
    for name in named.into_iter().flatten() {
        if name.starts_with("arn:") {
            out.push(name);
            continue;
        }
        let found = client
            .describe_secret()
            .secret_id(&name)
            .send()
            .await
            .map_err(|e| format!("secret {name}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e)))?;
        out.push(found.arn().unwrap_or(&name).to_owned());
    }
    Ok(out)
}

/// One failed (action, resource) and IAM's decision.
struct Denied {
    action: String,
    resource: String,
    decision: String,
}

/// The `access <function>` check of one role.
pub(crate) async fn check(iam: &aws_sdk_iam::Client, function: &str, role_arn: &str, needs: &[Need]) -> Check {
    let name = format!("access {function}");
    let mut denied = Vec::new();
    for n in needs {
        let asked = iam
            .simulate_principal_policy()
            .policy_source_arn(role_arn)
            .set_action_names(Some(n.actions.iter().map(|a| a.to_string()).collect()))
            .resource_arns(&n.resource)
            .send()
            .await;
        let out = match asked {
            Ok(o) => o,
            Err(e) => {
                return Check::fail(
                    name,
                    format!("simulating {role_arn}: {}", aws_sdk_iam::error::DisplayErrorContext(&e)),
                    "the operator needs iam:SimulatePrincipalPolicy on the functions' roles".into(),
                );
            }
        };
        for r in out.evaluation_results() {
            let decision = r.eval_decision().as_str();
            if decision != "allowed" {
                denied.push(Denied {
                    action: r.eval_action_name().to_owned(),
                    resource: r.eval_resource_name().unwrap_or(&n.resource).to_owned(),
                    decision: decision.to_owned(),
                });
            }
        }
    }
    if denied.is_empty() {
        return Check::pass(name, format!("{role_arn} may do all {} things {function} does", needs.len()));
    }
    let list = denied.iter().map(|x| format!("{} on {} ({})", x.action, x.resource, x.decision)).collect::<Vec<_>>();
    let explicit = denied.iter().any(|x| x.decision == "explicitDeny");
    let fix = if explicit {
        "an explicit Deny (an SCP, the role's permissions boundary or a policy added outside landfall) blocks it: \
         lift it for this role"
    } else {
        "terraform apply (the role's policy lacks it: the config changed since the last apply, or the policy was \
         edited by hand)"
    };
    Check::fail(name, format!("{role_arn} is denied {}", list.join("; ")), fix.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_arn_gives_its_partition_account_and_name_whatever_its_path() {
        assert_eq!(
            role_parts("arn:aws:iam::123456789012:role/service/landfall-prod-run-job"),
            Some(("aws", "123456789012", "landfall-prod-run-job"))
        );
        assert_eq!(role_parts("arn:aws:iam::123456789012:user/bob"), None);
    }
}
