//! The committed JSON Schema of landfall.yaml (`config/landfall.schema.json`,
//! which the config's first line points editors at) is what the config
//! types generate today, every config in the repository passes it, and a
//! typo fails it, as `validate-config` would.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    landfall_infra::stack::repo_root()
}

fn generated() -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_landfall")).arg("config-schema").output().expect("landfall runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

fn committed() -> Value {
    let text = std::fs::read_to_string(repo().join("config/landfall.schema.json")).expect("the committed schema");
    serde_json::from_str(&text).expect("the committed schema is JSON")
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every landfall.yaml-shaped file the repository keeps (examples, fixtures, the demo's).
fn configs() -> Vec<PathBuf> {
    let root = repo();
    let mut out = vec![root.join("config/landfall.yaml"), root.join("events/config/e2e.yaml")];
    let fixtures = root.join("terraform/tests/fixtures");
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_committed_schema_is_what_the_config_types_generate() {
    assert!(
        generated() == committed(),
        "config/landfall.schema.json is stale: run `cargo run -q -p landfall-cli --bin landfall -- config-schema > config/landfall.schema.json`"
    );
}

#[test]
fn every_config_in_the_repository_passes_the_schema() {
    let validator = jsonschema::validator_for(&committed()).expect("a valid JSON Schema");
    for path in configs() {
        let errors: Vec<String> =
            validator.iter_errors(&yaml(&path)).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn a_misspelt_key_fails_the_schema() {
    let validator = jsonschema::validator_for(&committed()).expect("a valid JSON Schema");
    let typo: Value =
        serde_saphyr::from_str("feeds:\n  orders:\n    prefix: orders/\n    primary_kye: [id]\n").unwrap();
    let errors: Vec<String> = validator.iter_errors(&typo).map(|e| e.to_string()).collect();
    assert!(errors.iter().any(|e| e.contains("primary_kye")), "{errors:?}");
}

#[test]
fn the_config_points_editors_at_the_schema() {
    let text = std::fs::read_to_string(repo().join("config/landfall.yaml")).unwrap();
    assert_eq!(text.lines().next(), Some("# yaml-language-server: $schema=./landfall.schema.json"));
}
