//! What changes between two renders of a release, object by object and
//! field by field, with secret values masked: the preview shown before an
//! upgrade, a scale or a rollback runs.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::execute::ReleaseFile;

/// One object's identity in a diff: `Deployment grafana-grafana`, `service grafana`.
type ObjectKey = String;

/// Flattens a document into `path → value` for comparison.
fn flatten(prefix: &str, value: &Json, out: &mut BTreeMap<String, String>) {
    match value {
        Json::Object(map) => {
            if map.is_empty() {
                out.insert(prefix.to_string(), "{}".into());
            }
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, child, out);
            }
        }
        Json::Array(items) => {
            if items.is_empty() {
                out.insert(prefix.to_string(), "[]".into());
            }
            // Lists of named things (env, containers, ports, volumes) are
            // compared by name, so one added variable is one change, not a
            // shift of every one after it.
            let names: Vec<Option<&str>> = items.iter().map(|i| i["name"].as_str()).collect();
            let mut unique: Vec<&str> = names.iter().flatten().copied().collect();
            unique.sort_unstable();
            unique.dedup();
            let by_name = unique.len() == items.len();
            for (i, child) in items.iter().enumerate() {
                let key = match names[i] {
                    Some(name) if by_name => format!("{prefix}[{name}]"),
                    _ => format!("{prefix}[{i}]"),
                };
                flatten(&key, child, out);
            }
        }
        Json::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// The objects a file holds: Kubernetes documents by kind and name, Compose
/// services by name, env files by variable.
fn objects(file: &ReleaseFile) -> BTreeMap<ObjectKey, (Json, bool)> {
    let mut out = BTreeMap::new();
    if file.path.ends_with(".env") {
        let mut vars = serde_json::Map::new();
        for line in file.content.lines() {
            if let Some((key, value)) = line.split_once('=') {
                vars.insert(key.to_string(), Json::String(value.to_string()));
            }
        }
        out.insert(
            format!("env file {}", file.path),
            (Json::Object(vars), true),
        );
        return out;
    }
    let documents: Vec<Json> = serde_saphyr::from_multiple(&file.content).unwrap_or_default();
    for document in documents {
        if document.is_null() {
            continue;
        }
        if let Some(kind) = document["kind"].as_str() {
            let name = document["metadata"]["name"].as_str().unwrap_or_default();
            out.insert(
                format!("{kind} {name}"),
                (document.clone(), kind == "Secret"),
            );
        } else if let Some(services) = document["services"].as_object() {
            for (name, service) in services {
                out.insert(format!("service {name}"), (service.clone(), false));
            }
            for section in ["networks", "volumes"] {
                if let Some(items) = document[section].as_object() {
                    for (name, item) in items {
                        out.insert(
                            format!("{} {name}", section.trim_end_matches('s')),
                            (item.clone(), false),
                        );
                    }
                }
            }
        }
    }
    out
}

/// A release file as it may be shown: a Secret's `data` and `stringData`
/// values and an env file's values replaced by the mask, everything else as
/// it is. A file that cannot be read is masked whole.
pub fn masked_content(file: &ReleaseFile) -> String {
    let mask = crate::render::MASK;
    if !file.secret {
        return file.content.clone();
    }
    if file.path.ends_with(".env") {
        return file
            .content
            .lines()
            .map(|line| match line.split_once('=') {
                Some((key, _)) => format!("{key}={mask}\n"),
                None => format!("{line}\n"),
            })
            .collect();
    }
    let Ok(documents) = serde_saphyr::from_multiple::<Json>(&file.content) else {
        return mask.to_string();
    };
    let mut out = String::new();
    for mut document in documents.into_iter().filter(|d| !d.is_null()) {
        if document["kind"] == "Secret" {
            for section in ["data", "stringData"] {
                if let Some(values) = document.get_mut(section).and_then(Json::as_object_mut) {
                    for value in values.values_mut() {
                        *value = Json::String(mask.into());
                    }
                }
            }
        }
        match serde_saphyr::to_string(&document) {
            Ok(text) => {
                out.push_str("---\n");
                out.push_str(&text);
            }
            Err(_) => return mask.to_string(),
        }
    }
    out
}

/// Every object of a release's files.
fn all_objects(files: &[ReleaseFile]) -> BTreeMap<ObjectKey, (Json, bool)> {
    let mut all = BTreeMap::new();
    for file in files {
        all.extend(objects(file));
    }
    all
}

/// The fields of a StatefulSet's spec that an API server lets change on an
/// existing one; it refuses a change to any other.
const STATEFULSET_MUTABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

/// What of an object a Kubernetes API server will not change once it
/// exists (its validation, not deckhand's): a StatefulSet's spec but for
/// [`STATEFULSET_MUTABLE`], a Deployment's selector; `Null` for the rest.
fn immutable_part(object: &Json) -> Json {
    match object["kind"].as_str() {
        Some("StatefulSet") => {
            let mut spec = object["spec"].as_object().cloned().unwrap_or_default();
            spec.retain(|field, _| !STATEFULSET_MUTABLE.contains(&field.as_str()));
            Json::Object(spec)
        }
        Some("Deployment") => serde_json::json!({"selector": object["spec"]["selector"]}),
        _ => Json::Null,
    }
}

/// The changes from `old` to `new` that a Kubernetes API server refuses on
/// objects that already exist, one `StatefulSet NAME: spec.path: old → new`
/// line each: applying them would fail, so a plan refuses them first.
pub fn refused_by_kubernetes(old: &[ReleaseFile], new: &[ReleaseFile]) -> Vec<String> {
    let before = all_objects(old);
    let mut lines = Vec::new();
    for (key, (object, _)) in all_objects(new) {
        let Some((previous, _)) = before.get(&key) else {
            continue;
        };
        let (was, now) = (immutable_part(previous), immutable_part(&object));
        if was == now {
            continue;
        }
        lines.extend(
            changed_fields("spec", &was, &now)
                .into_iter()
                .map(|(path, was, now)| format!("{key}: {path}: {}", describe((was, now)))),
        );
    }
    lines
}

/// The fields that differ between two documents, flattened under `prefix`:
/// `(path, before, after)`, `None` where a side does not have it; added and
/// changed fields first (in path order), then removed ones.
fn changed_fields(
    prefix: &str,
    old: &Json,
    new: &Json,
) -> Vec<(String, Option<String>, Option<String>)> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten(prefix, old, &mut a);
    flatten(prefix, new, &mut b);
    let mut out: Vec<(String, Option<String>, Option<String>)> = b
        .iter()
        .filter(|(path, value)| a.get(*path) != Some(*value))
        .map(|(path, value)| (path.clone(), a.get(path).cloned(), Some(value.clone())))
        .collect();
    out.extend(
        a.into_iter()
            .filter(|(path, _)| !b.contains_key(path))
            .map(|(path, value)| (path, Some(value), None)),
    );
    out
}

/// One field's change for a person: `old → new`, `(none) → new`, `removed`.
fn describe(change: (Option<String>, Option<String>)) -> String {
    match change {
        (Some(old), Some(new)) => format!("{old} → {new}"),
        (None, Some(new)) => format!("(none) → {new}"),
        (_, None) => "removed".to_string(),
    }
}

/// The changes from `old` to `new`, one line each: `+` added, `-` removed,
/// `~` changed with the fields (`path: old → new`), secret values masked.
pub fn diff(old: &[ReleaseFile], new: &[ReleaseFile]) -> Vec<String> {
    let (before, after) = (all_objects(old), all_objects(new));
    let mut lines = Vec::new();
    for (key, (object, secret)) in &after {
        match before.get(key) {
            None => lines.push(format!("+ {key}")),
            Some((previous, _)) if previous == object => {}
            Some((previous, _)) => {
                let masked = |path: &str| {
                    *secret
                        && (path.starts_with("data.")
                            || path.starts_with("stringData.")
                            || !path.contains('.'))
                };
                let fields = changed_fields("", previous, object).into_iter().map(
                    |(path, was, now)| match (was, now) {
                        (None, Some(_)) if masked(&path) => format!("{path}: added (value masked)"),
                        (Some(_), Some(_)) if masked(&path) => {
                            format!("{path}: changed (value masked)")
                        }
                        change => format!("{path}: {}", describe(change)),
                    },
                );
                lines.push(format!("~ {key}"));
                lines.extend(fields.map(|f| format!("    {f}")));
            }
        }
    }
    for key in before.keys().filter(|k| !after.contains_key(*k)) {
        lines.push(format!("- {key}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &str) -> ReleaseFile {
        ReleaseFile {
            path: path.into(),
            content: content.into(),
            secret: false,
        }
    }

    #[test]
    fn field_changes_are_listed_and_secrets_masked() {
        let old = vec![file(
            "manifests.yaml",
            "---\nkind: Deployment\nmetadata: {name: web}\nspec: {image: a:1, replicas: 1}\n---\nkind: Secret\nmetadata: {name: s}\ndata: {PASSWORD: b2xk}\n",
        )];
        let new = vec![file(
            "manifests.yaml",
            "---\nkind: Deployment\nmetadata: {name: web}\nspec: {image: a:2, replicas: 1}\n---\nkind: Secret\nmetadata: {name: s}\ndata: {PASSWORD: bmV3}\n---\nkind: Service\nmetadata: {name: web}\n",
        )];
        let lines = diff(&old, &new);
        assert!(lines.contains(&"~ Deployment web".to_string()), "{lines:?}");
        assert!(
            lines.contains(&"    spec.image: a:1 → a:2".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"    data.PASSWORD: changed (value masked)".to_string()),
            "{lines:?}"
        );
        assert!(lines.contains(&"+ Service web".to_string()));
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("bmV3") || l.contains("b2xk"))
        );
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn shown_files_keep_everything_but_secret_values() {
        let manifests = ReleaseFile {
            path: "manifests.yaml".into(),
            content: "---\nkind: Secret\nmetadata: {name: s}\ndata: {PASSWORD: c2VjcmV0}\nstringData: {TOKEN: plain}\n---\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n".into(),
            secret: true,
        };
        let shown = masked_content(&manifests);
        assert!(
            !shown.contains("c2VjcmV0") && !shown.contains("plain"),
            "{shown}"
        );
        assert!(
            shown.contains("PASSWORD: '********'") || shown.contains("PASSWORD: \"********\""),
            "{shown}"
        );
        assert!(
            shown.contains("kind: Deployment") && shown.contains("replicas: 2"),
            "{shown}"
        );
        let env = ReleaseFile {
            path: "app.env".into(),
            content: "DB_PASSWORD=hunter2\nDB_USER=app\n".into(),
            secret: true,
        };
        assert_eq!(
            masked_content(&env),
            "DB_PASSWORD=********\nDB_USER=********\n"
        );
    }

    #[test]
    fn named_list_items_are_compared_by_name_and_new_secret_keys_are_added() {
        let old = vec![file(
            "manifests.yaml",
            "---\nkind: Deployment\nmetadata: {name: web}\nspec: {env: [{name: A, value: '1'}, {name: C, value: '3'}]}\n---\nkind: Secret\nmetadata: {name: s}\ndata: {A: eA==}\n",
        )];
        let new = vec![file(
            "manifests.yaml",
            "---\nkind: Deployment\nmetadata: {name: web}\nspec: {env: [{name: A, value: '1'}, {name: B, value: '2'}, {name: C, value: '3'}]}\n---\nkind: Secret\nmetadata: {name: s}\ndata: {A: eA==, B: eQ==}\n",
        )];
        let lines = diff(&old, &new);
        assert_eq!(
            lines,
            vec![
                "~ Deployment web",
                "    spec.env[B].name: (none) → B",
                "    spec.env[B].value: (none) → 2",
                "~ Secret s",
                "    data.B: added (value masked)",
            ],
            "{lines:#?}"
        );
    }

    #[test]
    fn what_kubernetes_refuses_on_existing_objects_is_named() {
        let set = |storage: &str, image: &str, replicas: u32| {
            vec![file(
                "manifests.yaml",
                &format!(
                    "---\nkind: StatefulSet\nmetadata: {{name: db}}\nspec:\n  replicas: {replicas}\n  serviceName: db\n  template: {{spec: {{image: '{image}'}}}}\n  volumeClaimTemplates:\n  - metadata: {{name: data}}\n    spec: {{resources: {{requests: {{storage: {storage}}}}}}}\n---\nkind: Deployment\nmetadata: {{name: web}}\nspec: {{selector: {{matchLabels: {{app: web}}}}, replicas: {replicas}}}\n"
                ),
            )]
        };
        // Image and replicas may change; nothing is refused.
        assert!(refused_by_kubernetes(&set("1Gi", "pg:17", 1), &set("1Gi", "pg:18", 3)).is_empty());
        assert_eq!(
            refused_by_kubernetes(&set("1Gi", "pg:17", 1), &set("5Gi", "pg:17", 1)),
            vec![
                "StatefulSet db: spec.volumeClaimTemplates[0].spec.resources.requests.storage: 1Gi → 5Gi"
            ]
        );
        // A new object is not a change.
        assert!(refused_by_kubernetes(&[], &set("5Gi", "pg:17", 1)).is_empty());
        let moved = vec![file(
            "manifests.yaml",
            "---\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {matchLabels: {app: other}}}\n",
        )];
        assert_eq!(
            refused_by_kubernetes(&set("1Gi", "pg:17", 1), &moved),
            vec!["Deployment web: spec.selector.matchLabels.app: web → other"]
        );
    }
}
