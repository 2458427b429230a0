//! The intent corpora through the real binary's batch mode, `deckhand parse
//! --json -`, scored the way `shared/tools/score-corpus` scores them: a case
//! is understood when it gives exactly the expected intent (or an error where
//! one is expected); a **silent misread** is an intent where an error was
//! expected, or an intent that differs from the expected one (another action,
//! other applications, a value that differs or that nobody said). No corpus
//! may have a single silent misread.
//!
//! - `tests/data/intents.jsonl` (a copy of `shared/corpus/intents.jsonl`,
//!   which is read too when it sits beside the repository): 100 %.
//! - `tests/data/intents-people.jsonl` (a copy of
//!   `shared/corpus/intents-people.jsonl`: commands written without sight of
//!   the parser): at least 97 %.
//! - `tests/data/intents-heldout-{1,2,3,4}.jsonl`: commands written by people
//!   who had not seen the parser either (terse, non-native, long e-mails,
//!   command-line fragments, changes of mind): at least 97 %.
//! - `tests/data/intents-heldout-5.jsonl`: delivery and operations, written
//!   blind: at least 85 % (first contact 66.7 % with 24 silent misreads).
//!
//! No outside parts: the binary and the embedded catalogue only.

mod common;

use serde_json::{Map, Value, json};

fn read_corpus(path: &std::path::Path) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).expect("corpus line is JSON"))
        .map(|v| {
            (
                v["command"].as_str().expect("command").to_string(),
                v["expect"].clone(),
            )
        })
        .collect()
}

/// The parse of every command, in order, from one batch run.
fn parse_all(cases: &[(String, Value)]) -> Vec<Value> {
    let input: String = cases.iter().map(|(c, _)| format!("{c}\n")).collect();
    let output = common::run_with_env(
        &["parse", "--json", "-"],
        Some(&input),
        &[("DECKHAND_LLM", "off")],
    );
    assert!(
        output.status.success(),
        "batch mode exits 0: {}",
        common::stderr(&output)
    );
    let lines: Vec<Value> = common::stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), cases.len(), "one JSON line per command");
    lines
}

fn storage(v: &Value) -> String {
    v.as_str()
        .unwrap_or_default()
        .replace("Gi", "G")
        .replace("Ti", "T")
        .replace("Mi", "M")
}

fn version(v: &Value) -> Value {
    match v.as_str() {
        Some(s)
            if s.len() > 1
                && s.starts_with(['v', 'V'])
                && s[1..].starts_with(|c: char| c.is_ascii_digit()) =>
        {
            json!(s[1..])
        }
        _ => v.clone(),
    }
}

/// What differs between the expected intent and the parse (empty: the same).
fn differences(expected: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if got["action"] != expected["action"] {
        out.push(format!("action {}", got["action"]));
    }
    if got["applications"] != expected["applications"] {
        out.push(format!("applications {}", got["applications"]));
    }
    for key in ["namespace", "platform"] {
        match expected.get(key) {
            Some(want) if &got[key] != want => out.push(format!("{key} {}", got[key])),
            None if !matches!(&got[key], Value::Null) && got[key] != "default" => {
                out.push(format!("{key} {} not said", got[key]))
            }
            _ => {}
        }
    }
    let empty = Map::new();
    let said = expected["parameters"].as_object().unwrap_or(&empty);
    let parsed = got["parameters"].as_object().unwrap_or(&empty);
    for (key, want) in said {
        let have = parsed.get(key).cloned().unwrap_or(Value::Null);
        let same = match key.as_str() {
            "storage" => storage(&have) == storage(want),
            "version" => version(&have) == version(want),
            _ => &have == want,
        };
        if !same {
            out.push(format!("{key} {have}, expected {want}"));
        }
    }
    for (key, have) in parsed {
        let nothing = matches!(have, Value::Null | Value::Bool(false))
            || have.as_str() == Some("")
            || have.as_array().is_some_and(Vec::is_empty);
        if !said.contains_key(key) && !nothing {
            out.push(format!("{key} {have} not said"));
        }
    }
    out
}

/// Understood cases, and the silent misreads (command and what is wrong).
fn score(cases: &[(String, Value)]) -> (usize, Vec<String>, Vec<String>) {
    let parsed = parse_all(cases);
    let (mut understood, mut refused, mut misread) = (0, Vec::new(), Vec::new());
    for ((command, expected), got) in cases.iter().zip(&parsed) {
        let error = got.get("error").and_then(Value::as_str);
        if expected.get("error") == Some(&json!(true)) {
            match error {
                Some(message) if !message.is_empty() && got["suggestions"].is_array() => {
                    understood += 1
                }
                Some(_) => misread.push(format!("{command:?}: error without suggestions: {got}")),
                None => misread.push(format!(
                    "{command:?}: should be refused or asked about: {got}"
                )),
            }
        } else if let Some(message) = error {
            refused.push(format!("{command:?}: {message}"));
        } else {
            let wrong = differences(expected, got);
            if !wrong.is_empty() {
                misread.push(format!("{command:?}: {}", wrong.join("; ")));
            } else if got["source"] != "rules" {
                misread.push(format!("{command:?}: source {}", got["source"]));
            } else {
                understood += 1;
            }
        }
    }
    (understood, refused, misread)
}

/// Scores a corpus and checks the floor: no misread, at least `percent` understood.
fn check_corpus(name: &str, cases: &[(String, Value)], percent: f64) {
    assert!(!cases.is_empty(), "{name} is empty");
    let (understood, refused, misread) = score(cases);
    let share = 100.0 * understood as f64 / cases.len() as f64;
    eprintln!(
        "{name}: {understood}/{} = {share:.1} % understood; {} refused; {} silent misreads",
        cases.len(),
        refused.len(),
        misread.len()
    );
    assert!(
        misread.is_empty(),
        "{name}: {} silent misread(s):\n{}",
        misread.len(),
        misread.join("\n")
    );
    assert!(
        share >= percent,
        "{name}: {share:.1} % understood, below {percent} %; refused:\n{}",
        refused.join("\n")
    );
}

#[test]
fn the_contract_corpus_is_understood_in_full() {
    let mut cases = read_corpus(&common::root().join("tests/data/intents.jsonl"));
    let shared = common::root().join("../shared/corpus/intents.jsonl");
    if shared.is_file() {
        cases.extend(read_corpus(&shared));
    }
    let mut seen = std::collections::BTreeSet::new();
    cases.retain(|(command, _)| seen.insert(command.clone()));
    assert!(cases.len() >= 43, "corpus has {} cases", cases.len());
    check_corpus("intents.jsonl", &cases, 100.0);
}

#[test]
fn what_people_type_is_understood_without_a_silent_misread() {
    let path = common::root().join("tests/data/intents-people.jsonl");
    let cases = read_corpus(&path);
    assert!(cases.len() >= 339, "{} cases", cases.len());
    check_corpus("intents-people.jsonl", &cases, 97.0);
}

#[test]
fn held_out_corpora_are_understood_without_a_silent_misread() {
    for n in 1..=4 {
        let name = format!("intents-heldout-{n}.jsonl");
        let cases = read_corpus(&common::root().join("tests/data").join(&name));
        check_corpus(&name, &cases, 97.0);
    }
}

/// The fifth held-out corpus is about delivery and operations (canaries,
/// blue-green, promote, abort, autoscaling, retries) said in everyday words;
/// many of its sentences ask for what deckhand does not do from a sentence
/// yet ("retry", "turn off autoscaling"), so it is held to no silent misread
/// and to the share understood today, not yet to 97 %.
#[test]
fn the_delivery_corpus_is_understood_without_a_silent_misread() {
    let name = "intents-heldout-5.jsonl";
    let cases = read_corpus(&common::root().join("tests/data").join(name));
    assert!(cases.len() >= 300, "{} cases", cases.len());
    check_corpus(name, &cases, 85.0);
}

#[test]
fn batch_mode_never_aborts_on_bad_lines() {
    // An empty line, invalid UTF-8, a line of emoji and a very long line each
    // give an error line; the lines around them are still parsed.
    let mut input: Vec<u8> = b"install redis\n\n".to_vec();
    input.extend_from_slice(&[0xff, 0xfe, b'x', b'\n']);
    input.extend_from_slice("🍕🍕\n".as_bytes());
    input.extend_from_slice(format!("install {}\n", "x".repeat(5000)).as_bytes());
    input.extend_from_slice(b"remove grafana\n");
    let output = common::run_bytes(&["parse", "--json", "-"], &input);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let lines: Vec<Value> = common::stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 6, "{lines:#?}");
    assert_eq!(lines[0]["applications"], json!(["redis"]));
    for (n, line) in lines[1..5].iter().enumerate() {
        assert!(
            line["error"].as_str().is_some_and(|e| !e.is_empty()),
            "line {}: {line}",
            n + 2
        );
        assert!(line["suggestions"].is_array(), "{line}");
    }
    assert!(
        lines[2]["error"].as_str().unwrap().contains("UTF-8"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[5]["action"], "remove");
}

#[test]
fn an_error_points_at_the_word_and_asks_with_choices_where_it_can() {
    let out = common::run(
        &["parse", "--json", "install", "sonarqube", "in", "qa"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let failure: Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert!(
        failure["error"].as_str().unwrap().contains("'sonarqube'"),
        "{failure}"
    );
    assert_eq!(failure["at"], json!([8, 17]), "{failure}");

    let out = common::run(&["parse", "--json", "set", "up", "SSO"], None);
    let failure: Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert!(failure["question"].is_string(), "{failure}");
    assert_eq!(
        failure["choices"],
        json!(["set up authentik", "set up keycloak"]),
        "{failure}"
    );
    // Every choice is a command the rules read as it says.
    for choice in failure["choices"].as_array().unwrap() {
        let out = common::run(&["parse", "--json", choice.as_str().unwrap()], None);
        assert!(out.status.success(), "{choice}: {}", common::stdout(&out));
    }
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
