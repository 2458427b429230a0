//! Issue 13: every built-in blueprint's default version is recorded in
//! `reference/versions.yaml` with where it was checked, and is not older than
//! the oldest version the project still supports.

mod common;

use deckhand::catalogue::Catalogue;
use deckhand::template::compare_versions;
use serde_json::Value;
use std::cmp::Ordering;

/// Orders two tags: MinIO's `RELEASE.<date>` tags by their date, anything
/// else numerically (`deckhand::template::compare_versions`).
fn order(a: &str, b: &str) -> Ordering {
    match (a.strip_prefix("RELEASE."), b.strip_prefix("RELEASE.")) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => compare_versions(a, b),
    }
}

#[test]
fn every_default_is_recorded_current_and_still_supported() {
    let text = std::fs::read_to_string(common::root().join("reference/versions.yaml")).unwrap();
    let reference: Value = serde_saphyr::from_str(&text).unwrap();
    assert!(reference["checked"].is_string());
    let entries = reference["blueprints"].as_object().unwrap();
    let catalogue = Catalogue::builtin().unwrap();
    let mut problems = Vec::new();
    for name in catalogue.names() {
        // A stack's version is its own; its members' are checked as blueprints.
        if catalogue.entry(name).unwrap().blueprint.is_stack() {
            continue;
        }
        let default = catalogue.entry(name).unwrap().blueprint.default_version();
        let Some(entry) = entries.get(name) else {
            problems.push(format!("{name}: no entry in reference/versions.yaml"));
            continue;
        };
        let field = |key: &str| entry[key].as_str().unwrap_or_default().to_string();
        if field("default") != default {
            problems.push(format!(
                "{name}: the blueprint says {default}, the reference {}",
                field("default")
            ));
        }
        if order(default, &field("oldest_supported")) == Ordering::Less {
            problems.push(format!(
                "{name}: default {default} is older than the oldest supported {}",
                field("oldest_supported")
            ));
        }
        if order(&field("newest_seen"), default) == Ordering::Less {
            problems.push(format!("{name}: newest_seen is older than the default"));
        }
        if entry["sources"].as_array().is_none_or(|s| s.is_empty()) {
            problems.push(format!("{name}: no source"));
        }
    }
    for name in entries.keys() {
        if catalogue.entry(name).is_none() {
            problems.push(format!("{name}: in the reference but not in the catalogue"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_catches_a_default_older_than_the_oldest_supported() {
    assert_eq!(order("17", "15"), Ordering::Greater);
    assert_eq!(order("3.5.0", "3.13"), Ordering::Less);
    assert_eq!(order("2026.2.2", "2026.5"), Ordering::Less);
    assert_eq!(
        order(
            "RELEASE.2025-09-07T16-13-09Z",
            "RELEASE.2025-10-15T17-29-55Z"
        ),
        Ordering::Less
    );
}
