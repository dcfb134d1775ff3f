//! The signature against vectors computed independently by scripts/signature_vectors.py.

use std::path::{Path, PathBuf};
use std::process::Command;

use geniusauth::signature::signing_string;
use geniusauth::{sign, AppSecret, ParamValue};
use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn param_value(value: &Value) -> ParamValue {
    match value {
        Value::String(s) => ParamValue::Str(s.clone()),
        Value::Bool(b) => ParamValue::Bool(*b),
        Value::Number(n) => ParamValue::Int(n.as_i64().expect("integer parameter")),
        other => panic!("unsupported parameter value {other}"),
    }
}

#[test]
fn matches_the_python_reference_vectors() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/signature_vectors.json"),
    )
    .expect("run scripts/signature_vectors.py to create the vectors");
    let vectors: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(vectors.len() >= 10, "too few vectors");
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        let secret = AppSecret::new(vector["secret"].as_str().unwrap());
        let params: Vec<(&str, ParamValue)> = vector["params"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(key, value)| (key.as_str(), param_value(value)))
            .collect();
        assert_eq!(
            signing_string(&params, &secret),
            vector["signingString"].as_str().unwrap(),
            "signing string of {name:?}"
        );
        assert_eq!(
            sign(&params, &secret),
            vector["expected"].as_str().unwrap(),
            "signature of {name:?}"
        );
    }
}

#[test]
fn parameter_order_does_not_matter() {
    let secret = AppSecret::new("k");
    let forward = [
        ("b", ParamValue::Int(2)),
        ("a", ParamValue::from("x")),
        ("c", ParamValue::Bool(true)),
    ];
    let mut backward = forward.clone();
    backward.reverse();
    assert_eq!(sign(&forward, &secret), sign(&backward, &secret));
}

/// The committed vectors must be exactly what the Python reference produces today.
#[test]
fn python_reference_agrees_with_committed_vectors() {
    let root = workspace_root();
    let output = Command::new("python3")
        .arg(root.join("scripts/signature_vectors.py"))
        .arg("--check")
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "python3 is required for this test (it is installed in CI) but could not run: {e}"
            )
        });
    assert!(
        output.status.success(),
        "scripts/signature_vectors.py --check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
