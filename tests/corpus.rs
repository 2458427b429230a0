//! The intent corpus (`tests/data/intents.jsonl`, a copy of
//! `shared/corpus/intents.jsonl`, which is read too when it sits beside the
//! repository) through the real binary's batch mode, `deckhand parse --json -`.
//! No outside parts: the binary and the embedded catalogue only.

mod common;

use serde_json::{Value, json};

fn corpus() -> Vec<(String, Value)> {
    let mut text =
        std::fs::read_to_string(common::root().join("tests/data/intents.jsonl")).expect("corpus");
    let shared = common::root().join("../shared/corpus/intents.jsonl");
    if let Ok(extra) = std::fs::read_to_string(shared) {
        text.push('\n');
        text.push_str(&extra);
    }
    let mut seen = std::collections::BTreeSet::new();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).expect("corpus line is JSON"))
        .map(|v| {
            (
                v["command"].as_str().expect("command").to_string(),
                v["expect"].clone(),
            )
        })
        .filter(|(command, _)| seen.insert(command.clone()))
        .collect()
}

/// Every expected key must match exactly; parameters must be exactly those said.
fn check(command: &str, expected: &Value, actual: &Value) -> Result<(), String> {
    if expected.get("error") == Some(&json!(true)) {
        let message = actual
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return if !message.is_empty() && actual.get("suggestions").is_some_and(Value::is_array) {
            Ok(())
        } else {
            Err(format!("{command:?}: expected an error, got {actual}"))
        };
    }
    if actual.get("error").is_some() {
        return Err(format!("{command:?}: unexpected error {actual}"));
    }
    let mut problems = Vec::new();
    for key in ["action", "applications"] {
        if actual[key] != expected[key] {
            problems.push(format!(
                "{key}: expected {}, got {}",
                expected[key], actual[key]
            ));
        }
    }
    for key in ["platform", "namespace"] {
        let want = expected.get(key).cloned().unwrap_or(Value::Null);
        if actual[key] != want {
            problems.push(format!("{key}: expected {want}, got {}", actual[key]));
        }
    }
    let want_params = expected.get("parameters").cloned().unwrap_or(json!({}));
    if actual["parameters"] != want_params {
        problems.push(format!(
            "parameters: expected {want_params}, got {}",
            actual["parameters"]
        ));
    }
    if actual["source"] != "rules" {
        problems.push(format!(
            "source: expected \"rules\", got {}",
            actual["source"]
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{command:?}: {}", problems.join("; ")))
    }
}

#[test]
fn every_corpus_case_passes_in_batch_mode() {
    let cases = corpus();
    assert!(cases.len() >= 43, "corpus has {} cases", cases.len());
    let input: String = cases.iter().map(|(c, _)| format!("{c}\n")).collect();
    let output = common::run(&["parse", "--json", "-"], Some(&input));
    assert!(
        output.status.success(),
        "batch mode exits 0: {}",
        common::stderr(&output)
    );
    let lines: Vec<String> = common::stdout(&output)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), cases.len(), "one JSON line per command");
    let failures: Vec<String> = cases
        .iter()
        .zip(&lines)
        .filter_map(|((command, expected), line)| {
            let actual: Value = serde_json::from_str(line)
                .map_err(|e| format!("{command:?}: not JSON: {e}"))
                .ok()?;
            check(command, expected, &actual).err()
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn a_single_command_prints_one_object_and_exits_2_on_error() {
    let ok = common::run(
        &["parse", "--json", "install", "authentik", "with", "TLS"],
        None,
    );
    assert!(ok.status.success());
    let intent: Value = serde_json::from_str(common::stdout(&ok).trim()).unwrap();
    assert_eq!(
        intent,
        json!({"action": "install", "applications": ["authentik"], "platform": null, "namespace": null,
               "parameters": {"tls": true}, "source": "rules"})
    );

    let bad = common::run(&["parse", "--json", "install", "foobarbaz"], None);
    assert_eq!(bad.status.code(), Some(2));
    let failure: Value = serde_json::from_str(common::stdout(&bad).trim()).unwrap();
    assert!(
        failure["error"].as_str().unwrap().contains("foobarbaz"),
        "{failure}"
    );
    assert!(failure["suggestions"].is_array());

    let typo = common::run(&["parse", "--json", "install", "postgresq"], None);
    let typo: Value = serde_json::from_str(common::stdout(&typo).trim()).unwrap();
    assert_eq!(typo["applications"], json!(["postgresql"]));
}

#[test]
fn unknown_applications_name_the_nearest_entries() {
    let out = common::run(
        &[
            "parse",
            "--json",
            "install",
            "grafanna",
            "and",
            "zzkeycloakzz",
        ],
        None,
    );
    let failure: Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert!(
        failure["error"].as_str().unwrap().contains("zzkeycloakzz"),
        "{failure}"
    );
    assert_eq!(failure["suggestions"][0], "keycloak", "{failure}");
}
