//! `landfall doctor --target aws` against the local stack (moto, PostgreSQL)
//! with a deployment's outputs: six functions and their roles. Two AWS APIs
//! the doctor calls are not in moto 5.2, so each is faked over HTTP here,
//! reached through the SDK's per-service endpoint variables
//! (`AWS_ENDPOINT_URL_IAM`, `AWS_ENDPOINT_URL_LAMBDA`):
//! - IAM `SimulatePrincipalPolicy` (moto has no policy simulator). The fake
//!   models the documented answer
//!   (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html>):
//!   one `EvaluationResults` member per action and resource, `EvalDecision`
//!   `allowed`, `implicitDeny` or `explicitDeny`; here a role is allowed
//!   everything but the pairs the test denies.
//! - Lambda `GetFunctionConfiguration` (moto keeps no `LoggingConfig`), with
//!   the documented `LoggingConfig` shape
//!   (<https://docs.aws.amazon.com/lambda/latest/api/API_LoggingConfig.html>).

use std::collections::{BTreeMap, HashSet};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use landfall_infra::LocalStack;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ACCOUNT: &str = "123456789012";
const FUNCTIONS: [&str; 6] =
    ["parse-file", "register-partitions", "load-warehouse", "monitor-feeds", "run-job", "fetch-api"];

fn role_arn(function: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/landfall-local-{function}")
}

/// The policy simulator: every (role, action, resource) asked, and the ones denied.
#[derive(Default)]
struct Simulator {
    asked: Mutex<Vec<(String, String, String)>>,
    denied: Mutex<HashSet<(String, String, String)>>,
}

struct SimulatorHttp(Arc<Simulator>);

impl Respond for SimulatorHttp {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let sim = &self.0;
        let form: BTreeMap<String, String> = form_urlencoded::parse(&req.body).into_owned().collect();
        if form.get("Action").map(String::as_str) != Some("SimulatePrincipalPolicy") {
            return ResponseTemplate::new(400).set_body_string("only SimulatePrincipalPolicy is faked");
        }
        let role = form.get("PolicySourceArn").cloned().unwrap_or_default();
        let members = |prefix: &str| -> Vec<String> {
            form.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v.clone()).collect()
        };
        let mut results = String::new();
        for action in members("ActionNames.member.") {
            for resource in members("ResourceArns.member.") {
                let key = (role.clone(), action.clone(), resource.clone());
                sim.asked.lock().unwrap().push(key.clone());
                let decision = if sim.denied.lock().unwrap().contains(&key) { "implicitDeny" } else { "allowed" };
                results.push_str(&format!(
                    "<member><EvalActionName>{action}</EvalActionName><EvalResourceName>{resource}</EvalResourceName>\
                     <EvalDecision>{decision}</EvalDecision><MatchedStatements/><MissingContextValues/></member>"
                ));
            }
        }
        let body = format!(
            "<SimulatePrincipalPolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>{results}\
             </EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>r</RequestId>\
             </ResponseMetadata></SimulatePrincipalPolicyResponse>"
        );
        ResponseTemplate::new(200).set_body_raw(body, "text/xml")
    }
}

/// GetFunctionConfiguration: JSON logs at INFO, but for the functions set otherwise.
#[derive(Default)]
struct Functions {
    levels: Mutex<BTreeMap<String, &'static str>>,
}

struct FunctionsHttp(Arc<Functions>);

impl Respond for FunctionsHttp {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        // GET /2015-03-31/functions/{name}/configuration
        let name = req.url.path().split('/').nth(3).unwrap_or_default().to_owned();
        let level = self.0.levels.lock().unwrap().get(&name).copied().unwrap_or("INFO");
        let body = json!({
            "FunctionName": name,
            "FunctionArn": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"),
            "LoggingConfig": {"LogFormat": "JSON", "ApplicationLogLevel": level, "SystemLogLevel": "INFO", "LogGroup": format!("/aws/lambda/{name}")},
        });
        ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
    }
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["check"] == name))
        .unwrap_or_else(|| panic!("{name} is reported: {report}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_on_a_deployment_checks_each_role_and_log_level_and_names_the_fix_for_one_denial() {
    let stack = LocalStack::discover().expect("the local stack is up (infra/stack up)");
    let simulator = Arc::new(Simulator::default());
    let functions = Arc::new(Functions::default());
    let iam = MockServer::start().await;
    Mock::given(method("POST")).respond_with(SimulatorHttp(simulator.clone())).mount(&iam).await;
    let lambda = MockServer::start().await;
    Mock::given(method("GET")).respond_with(FunctionsHttp(functions.clone())).mount(&lambda).await;

    // The stack's outputs, as a deployment with its functions gives them.
    let dir = tempfile::tempdir().unwrap();
    let mut outputs: Value = serde_json::from_slice(&std::fs::read(stack.dir.join("outputs.json")).unwrap()).unwrap();
    let deployed: serde_json::Map<String, Value> = FUNCTIONS
        .iter()
        .map(|f| (f.to_string(), json!({"function_name": format!("landfall-local-{f}"), "role_arn": role_arn(f)})))
        .collect();
    outputs["functions"] = json!({"value": deployed});
    let path = dir.path().join("outputs.json");
    std::fs::write(&path, outputs.to_string()).unwrap();
    let doctor = || -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_landfall"));
        c.env("AWS_ENDPOINT_URL", &stack.endpoint)
            .env("AWS_ENDPOINT_URL_IAM", iam.uri())
            .env("AWS_ENDPOINT_URL_LAMBDA", lambda.uri())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("LANDFALL_WAREHOUSE_URL", &stack.database_url)
            .args(["--target", "aws", "--outputs"])
            .arg(&path)
            .args(["doctor", "--json"]);
        let out = c.output().expect("landfall runs");
        eprintln!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        out
    };
    let report = |out: &Output| -> Value { serde_json::from_slice(&out.stdout).expect("a JSON report") };

    let ok = doctor();
    let ok_report = report(&ok);
    assert_eq!(ok.status.code(), Some(0), "{ok_report}");
    for f in FUNCTIONS {
        assert_eq!(check(&ok_report, &format!("access {f}"))["verdict"], "pass");
        assert_eq!(check(&ok_report, &format!("log-level {f}"))["verdict"], "pass");
    }
    assert_eq!(check(&ok_report, "copy-role")["verdict"], "pass", "a PostgreSQL warehouse needs no COPY role");
    // The exact resources: the loader's COPY manifests, parse-file's feed prefix, the queue.
    let asked = simulator.asked.lock().unwrap().clone();
    let copy = format!("arn:aws:s3:::{}/_copy/landfall-doctor-probe", stack.curated_bucket);
    assert!(asked.contains(&(role_arn("load-warehouse"), "s3:PutObject".into(), copy)), "{asked:?}");
    let orders = format!("arn:aws:s3:::{}/orders/landfall-doctor-probe", stack.landing_bucket);
    assert!(asked.contains(&(role_arn("parse-file"), "s3:GetObject".into(), orders.clone())), "{asked:?}");
    let queue = stack.queues["parse-file"].arn.clone();
    assert!(asked.contains(&(role_arn("parse-file"), "sqs:ReceiveMessage".into(), queue)), "{asked:?}");

    // parse-file may not read one feed's prefix; monitor-feeds logs at WARN.
    simulator.denied.lock().unwrap().insert((role_arn("parse-file"), "s3:GetObject".into(), orders.clone()));
    functions.levels.lock().unwrap().insert("landfall-local-monitor-feeds".into(), "WARN");
    let bad = doctor();
    assert_eq!(bad.status.code(), Some(1));
    let bad = report(&bad);
    let access = check(&bad, "access parse-file");
    assert_eq!(access["verdict"], "fail");
    assert!(
        access["detail"].as_str().unwrap().contains(&format!("s3:GetObject on {orders} (implicitDeny)")),
        "{access}"
    );
    assert!(access["fix"].as_str().unwrap().starts_with("terraform apply"), "{access}");
    let logs = check(&bad, "log-level monitor-feeds");
    assert_eq!(logs["verdict"], "fail");
    assert!(logs["fix"].as_str().unwrap().contains("ApplicationLogLevel=INFO"), "{logs}");
    assert_eq!(bad["failed"], 2, "only what was broken fails: {bad}");
}
