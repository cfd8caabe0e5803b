//! Checks `copy-role` and `s3-route`: what COPY and UNLOAD need from the
//! Redshift side, which no statement reveals until one hangs or is refused.
//!
//! - `copy-role`: the config's `copy_role_arn` is among the roles attached to
//!   the cluster (DescribeClusters `IamRoles`) or the workgroup's namespace
//!   (GetNamespace `iamRoles`), and its trust policy lets Redshift assume it
//!   (principal `redshift.amazonaws.com`:
//!   <https://docs.aws.amazon.com/redshift/latest/mgmt/authorizing-redshift-service.html>).
//! - `s3-route`: with enhanced VPC routing on, COPY and UNLOAD go through the
//!   VPC, which then needs an S3 gateway endpoint or a NAT
//!   (<https://docs.aws.amazon.com/redshift/latest/mgmt/enhanced-vpc-routing.html>).

use landfall::config::{Config, RedshiftConfig, RedshiftEndpoint};
use serde_json::Value;

use super::{Check, Deployment};

const COPY_ROLE: &str = "copy-role";
const S3_ROUTE: &str = "s3-route";

/// What the doctor reads of the cluster or workgroup.
struct Target {
    describe: String,
    attached_roles: Vec<String>,
    enhanced_vpc_routing: bool,
    vpc_id: Option<String>,
}

/// Both checks; each passes with "not used" on a PostgreSQL warehouse.
pub(crate) async fn checks(d: &Deployment, config: &Config) -> Vec<Check> {
    let Some(rs) = &config.warehouse.redshift else {
        let detail = || "the warehouse is PostgreSQL; COPY and UNLOAD from S3 are not used".to_owned();
        return vec![Check::pass(COPY_ROLE, detail()), Check::pass(S3_ROUTE, detail())];
    };
    let target = match read_target(d, rs).await {
        Ok(t) => t,
        Err(e) => {
            let fix = "check warehouse.redshift's cluster or workgroup name; the operator needs \
                       redshift:DescribeClusters or redshift-serverless:GetWorkgroup and GetNamespace";
            return vec![Check::fail(COPY_ROLE, e.clone(), fix.into()), Check::fail(S3_ROUTE, e, fix.into())];
        }
    };
    vec![copy_role(d, rs, &target).await, s3_route(d, &target).await]
}

async fn read_target(d: &Deployment, rs: &RedshiftConfig) -> Result<Target, String> {
    match &rs.endpoint {
        RedshiftEndpoint::Cluster(c) => {
            let client = aws_sdk_redshift::Client::new(&d.sdk);
            let out = client
                .describe_clusters()
                .cluster_identifier(c)
                .send()
                .await
                .map_err(|e| format!("cluster {c}: {}", aws_sdk_redshift::error::DisplayErrorContext(&e)))?;
            let cluster = out.clusters().first().ok_or_else(|| format!("cluster {c} not found"))?;
            Ok(Target {
                describe: format!("cluster {c}"),
                attached_roles: cluster
                    .iam_roles()
                    .iter()
                    .filter_map(|r| r.iam_role_arn().map(str::to_owned))
                    .collect(),
                enhanced_vpc_routing: cluster.enhanced_vpc_routing().unwrap_or(false),
                vpc_id: cluster.vpc_id().map(str::to_owned),
            })
        }
        RedshiftEndpoint::Workgroup(w) => {
            let client = aws_sdk_redshiftserverless::Client::new(&d.sdk);
            let err = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
            let wg = client.get_workgroup().workgroup_name(w).send().await.map_err(|e| {
                err(&format!("workgroup {w}"), &aws_sdk_redshiftserverless::error::DisplayErrorContext(&e))
            })?;
            let wg = wg.workgroup().ok_or_else(|| format!("workgroup {w} not found"))?;
            let ns_name = wg.namespace_name().unwrap_or_default().to_owned();
            let ns = client.get_namespace().namespace_name(&ns_name).send().await.map_err(|e| {
                err(&format!("namespace {ns_name}"), &aws_sdk_redshiftserverless::error::DisplayErrorContext(&e))
            })?;
            // iamRoles entries read "IamRole(applyStatus=in-sync, iamRoleArn=arn:...)" (GetNamespace:
            // https://docs.aws.amazon.com/redshift-serverless/latest/APIReference/API_Namespace.html).
            let roles = ns.namespace().map(|n| n.iam_roles().to_vec()).unwrap_or_default();
            let vpc_id = vpc_of_subnets(d, wg.subnet_ids()).await?;
            Ok(Target {
                describe: format!("workgroup {w} (namespace {ns_name})"),
                attached_roles: roles,
                enhanced_vpc_routing: wg.enhanced_vpc_routing().unwrap_or(false),
                vpc_id,
            })
        }
    }
}

async fn vpc_of_subnets(d: &Deployment, subnets: &[String]) -> Result<Option<String>, String> {
    if subnets.is_empty() {
        return Ok(None);
    }
    let out = aws_sdk_ec2::Client::new(&d.sdk)
        .describe_subnets()
        .set_subnet_ids(Some(subnets.to_vec()))
        .send()
        .await
        .map_err(|e| format!("subnets {}: {}", subnets.join(","), aws_sdk_ec2::error::DisplayErrorContext(&e)))?;
    Ok(out.subnets().first().and_then(|s| s.vpc_id()).map(str::to_owned))
}

async fn copy_role(d: &Deployment, rs: &RedshiftConfig, target: &Target) -> Check {
    let role = &rs.copy_role_arn;
    if !target.attached_roles.iter().any(|r| r == role || r.contains(&format!("iamRoleArn={role}"))) {
        let fix = match &rs.endpoint {
            RedshiftEndpoint::Cluster(c) => {
                format!("aws redshift modify-cluster-iam-roles --cluster-identifier {c} --add-iam-roles {role}")
            }
            RedshiftEndpoint::Workgroup(_) => format!(
                "aws redshift-serverless update-namespace --namespace-name <namespace> --iam-roles <the attached roles> {role}"
            ),
        };
        return Check::fail(COPY_ROLE, format!("{role} is not attached to {}", target.describe), fix);
    }
    let Some(name) = super::access::role_parts(role).map(|(_, _, n)| n.to_owned()) else {
        return Check::fail(COPY_ROLE, format!("{role} is not a role ARN"), "correct warehouse.copy_role_arn".into());
    };
    let got = aws_sdk_iam::Client::new(&d.sdk).get_role().role_name(&name).send().await;
    let document = match got {
        Ok(o) => o.role().and_then(|r| r.assume_role_policy_document()).unwrap_or_default().to_owned(),
        Err(e) => {
            return Check::fail(
                COPY_ROLE,
                format!("role {name}: {}", aws_sdk_iam::error::DisplayErrorContext(&e)),
                "the operator needs iam:GetRole".into(),
            );
        }
    };
    match redshift_may_assume(&document) {
        Ok(ids) if ids.is_empty() => {
            Check::pass(COPY_ROLE, format!("{role} is attached to {} and Redshift may assume it", target.describe))
        }
        Ok(ids) => Check::pass(
            COPY_ROLE,
            format!(
                "{role} is attached to {} and Redshift may assume it for the database users whose ExternalId is {}",
                target.describe,
                ids.join(", ")
            ),
        ),
        Err(why) => Check::fail(
            COPY_ROLE,
            format!("{role}: {why}"),
            "terraform apply (the module's trust names redshift.amazonaws.com), or add it to the role's trust policy"
                .into(),
        ),
    }
}

/// Whether a trust policy lets the Redshift service assume the role: the
/// `sts:ExternalId` values it is scoped to, else why not. IAM returns the
/// document URL-encoded (GetRole, `AssumeRolePolicyDocument`:
/// <https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html>).
pub(crate) fn redshift_may_assume(document: &str) -> Result<Vec<String>, String> {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    let policy: Value = serde_json::from_str(&decoded).map_err(|e| format!("its trust policy is not JSON: {e}"))?;
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    };
    let statements = list_of(&policy["Statement"]);
    for s in statements {
        let allows = s["Effect"] == "Allow";
        let assume = list(&s["Action"]).iter().any(|a| a == "sts:AssumeRole" || a == "sts:*");
        let redshift = list(&s["Principal"]["Service"]).iter().any(|p| p == "redshift.amazonaws.com");
        if allows && assume && redshift {
            return Ok(list(&s["Condition"]["StringEquals"]["sts:ExternalId"]));
        }
    }
    Err("its trust policy does not let redshift.amazonaws.com call sts:AssumeRole".into())
}

fn list_of(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

async fn s3_route(d: &Deployment, target: &Target) -> Check {
    if !target.enhanced_vpc_routing {
        return Check::pass(
            S3_ROUTE,
            format!("{}: enhanced VPC routing is off; COPY and UNLOAD reach S3 directly", target.describe),
        );
    }
    let Some(vpc) = &target.vpc_id else {
        return Check::fail(
            S3_ROUTE,
            format!("{}: enhanced VPC routing is on and its VPC is unknown", target.describe),
            "give it subnets in a VPC with an S3 gateway endpoint".into(),
        );
    };
    let ec2 = aws_sdk_ec2::Client::new(&d.sdk);
    let by_vpc = aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(vpc).build();
    let endpoints = ec2.describe_vpc_endpoints().filters(by_vpc.clone()).send().await;
    let s3 = format!("com.amazonaws.{}.s3", d.region);
    let gateway = match endpoints {
        Ok(o) => o.vpc_endpoints().iter().any(|e| {
            e.service_name() == Some(s3.as_str())
                && e.vpc_endpoint_type().map(|t| t.as_str()) == Some("Gateway")
                && e.state().map(|s| s.as_str().eq_ignore_ascii_case("available")).unwrap_or(true)
        }),
        Err(e) => {
            return Check::fail(
                S3_ROUTE,
                format!("{vpc}: {}", aws_sdk_ec2::error::DisplayErrorContext(&e)),
                "the operator needs ec2:DescribeVpcEndpoints".into(),
            );
        }
    };
    if gateway {
        return Check::pass(
            S3_ROUTE,
            format!("{}: enhanced VPC routing through {s3}'s gateway endpoint in {vpc}", target.describe),
        );
    }
    let nat = ec2.describe_nat_gateways().filter(by_vpc).send().await;
    let nat = nat
        .map(|o| o.nat_gateways().iter().any(|n| n.state().map(|s| s.as_str()) == Some("available")))
        .unwrap_or(false);
    if nat {
        return Check::pass(
            S3_ROUTE,
            format!(
                "{}: enhanced VPC routing; {vpc} has a NAT gateway (its subnets' routes to it are not checked)",
                target.describe
            ),
        );
    }
    Check::fail(
        S3_ROUTE,
        format!(
            "{}: enhanced VPC routing is on and {vpc} has no S3 gateway endpoint or NAT: COPY and UNLOAD hang",
            target.describe
        ),
        format!(
            "aws ec2 create-vpc-endpoint --vpc-id {vpc} --service-name {s3} --route-table-ids <the subnets' route tables> \
             (or redshift.serverless.s3_endpoint in Terraform), or turn enhanced VPC routing off"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_encoded_trust_policy_naming_redshift_passes_with_its_external_ids() {
        let doc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C\
                   %22Principal%22%3A%7B%22Service%22%3A%5B%22redshift.amazonaws.com%22%5D%7D%2C%22Action%22%3A\
                   %22sts%3AAssumeRole%22%2C%22Condition%22%3A%7B%22StringEquals%22%3A%7B%22sts%3AExternalId%22\
                   %3A%22arn%3Aaws%3Aredshift%3Aus-east-1%3A1%3Adbuser%3Ac%2Fu%22%7D%7D%7D%5D%7D";
        assert_eq!(redshift_may_assume(doc), Ok(vec!["arn:aws:redshift:us-east-1:1:dbuser:c/u".to_owned()]));
    }

    #[test]
    fn a_trust_policy_for_another_service_is_refused() {
        let doc = r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
        assert!(redshift_may_assume(doc).unwrap_err().contains("redshift.amazonaws.com"));
    }
}
