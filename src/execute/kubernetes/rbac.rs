//! The rights the Kubernetes executor needs, as RBAC objects for
//! `deckhand rbac`: nothing more than what it does (server-side apply needs
//! `create` and `patch`; readiness needs `get`, `list`, `watch`; removal
//! and prune need `delete`). Claims are deleted only when data goes too, so
//! that right is a separate role, bound only when asked.

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// Who the rights are for.
#[derive(Debug, Clone)]
pub enum Grantee {
    User(String),
    /// namespace, name
    ServiceAccount(String, String),
}

impl Grantee {
    fn subject(&self) -> Subject {
        match self {
            Grantee::User(name) => Subject {
                kind: "User".into(),
                api_group: Some("rbac.authorization.k8s.io".into()),
                name: name.clone(),
                namespace: None,
            },
            Grantee::ServiceAccount(namespace, name) => Subject {
                kind: "ServiceAccount".into(),
                api_group: None,
                name: name.clone(),
                namespace: Some(namespace.clone()),
            },
        }
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
    PolicyRule {
        api_groups: strings(groups),
        resources: strings(resources),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

const MANAGE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "patch",
    "delete",
    "deletecollection",
];
const READ: &[&str] = &["get", "list", "watch"];

/// What deckhand does inside a namespace.
pub fn namespaced_rules() -> Vec<PolicyRule> {
    vec![
        // What it renders: applied, watched, pruned and removed.
        rule(&[""], &["secrets", "services", "configmaps"], MANAGE),
        rule(&["apps"], &["deployments", "statefulsets"], MANAGE),
        rule(&["networking.k8s.io"], &["ingresses"], MANAGE),
        // Readiness by revision, and the reasons it is not coming.
        rule(&["apps"], &["replicasets"], &["get", "list"]),
        rule(&[""], &["events"], &["get", "list"]),
        rule(&[""], &["persistentvolumeclaims"], READ),
        rule(&["autoscaling"], &["horizontalpodautoscalers"], MANAGE),
        // Pods are read, and deleted only for a StatefulSet's forced rollback.
        rule(&[""], &["pods"], &["get", "list", "watch", "delete"]),
        // Where a Service sends traffic (a canary's or a switch's check).
        rule(&["discovery.k8s.io"], &["endpointslices"], &["list"]),
    ]
}

/// What deckhand reads outside namespaces; with `create_namespaces`, it
/// may also create the namespace a release goes to.
pub fn cluster_rules(create_namespaces: bool) -> Vec<PolicyRule> {
    vec![
        rule(
            &[""],
            &["namespaces"],
            if create_namespaces {
                &["get", "create", "patch"]
            } else {
                &["get"]
            },
        ),
        rule(
            &["networking.k8s.io"],
            &["ingressclasses"],
            &["get", "list"],
        ),
        rule(&["cert-manager.io"], &["clusterissuers"], &["get"]),
    ]
}

/// Deleting claims: only with data removal.
pub fn data_removal_rules() -> Vec<PolicyRule> {
    vec![rule(&[""], &["persistentvolumeclaims"], &["delete"])]
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(
            [(
                "app.kubernetes.io/managed-by".to_string(),
                "deckhand".to_string(),
            )]
            .into(),
        ),
        ..Default::default()
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: name.into(),
    }
}

/// The RBAC objects, as JSON values in apply order. With `namespace`, the
/// namespaced rights are a Role there (deckhand then deploys only there and
/// never creates namespaces); without, ClusterRoles for every namespace.
pub fn objects(namespace: Option<&str>, grantee: &Grantee, data_removal: bool) -> Vec<Value> {
    let subject = grantee.subject();
    let who = match grantee {
        Grantee::User(n) => n.clone(),
        Grantee::ServiceAccount(ns, n) => format!("{ns}-{n}"),
    };
    let mut out = Vec::new();
    let mut push =
        |v: Result<Value, serde_json::Error>| out.push(v.expect("RBAC objects serialize"));
    // Two names: rights for one namespace must not narrow (or widen) the
    // cluster-wide ones when both are applied.
    let cluster_name = match namespace {
        Some(_) => format!("deckhand-cluster-reads-{who}"),
        None => format!("deckhand-cluster-{who}"),
    };
    push(serde_json::to_value(ClusterRole {
        metadata: meta(&cluster_name, None),
        rules: Some(cluster_rules(namespace.is_none())),
        ..Default::default()
    }));
    push(serde_json::to_value(ClusterRoleBinding {
        metadata: meta(&cluster_name, None),
        role_ref: role_ref("ClusterRole", &cluster_name),
        subjects: Some(vec![subject.clone()]),
    }));
    let mut sets = vec![("deckhand".to_string(), namespaced_rules())];
    if data_removal {
        sets.push(("deckhand-data-removal".to_string(), data_removal_rules()));
    }
    for (name, rules) in sets {
        match namespace {
            Some(ns) => {
                push(serde_json::to_value(Role {
                    metadata: meta(&name, Some(ns)),
                    rules: Some(rules),
                }));
                push(serde_json::to_value(RoleBinding {
                    metadata: meta(&format!("{name}-{who}"), Some(ns)),
                    role_ref: role_ref("Role", &name),
                    subjects: Some(vec![subject.clone()]),
                }));
            }
            None => {
                push(serde_json::to_value(ClusterRole {
                    metadata: meta(&name, None),
                    rules: Some(rules),
                    ..Default::default()
                }));
                push(serde_json::to_value(ClusterRoleBinding {
                    metadata: meta(&format!("{name}-{who}"), None),
                    role_ref: role_ref("ClusterRole", &name),
                    subjects: Some(vec![subject.clone()]),
                }));
            }
        }
    }
    out
}

/// The objects as multi-document YAML, for `kubectl apply -f -`.
pub fn to_yaml(namespace: Option<&str>, grantee: &Grantee, data_removal: bool) -> String {
    let mut text =
        String::from("# The rights deckhand's Kubernetes executor needs (deckhand rbac).\n");
    for object in objects(namespace, grantee, data_removal) {
        text.push_str("---\n");
        text.push_str(&serde_saphyr::to_string(&object).expect("JSON values serialize to YAML"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_deleted_only_with_data_removal_and_namespaces_created_only_cluster_wide() {
        let user = Grantee::User("deckhand".into());
        let narrow = objects(Some("team"), &user, false);
        let text = serde_json::to_string(&narrow).unwrap();
        assert!(!text.contains("deckhand-data-removal"));
        assert_eq!(narrow[2]["kind"], "Role");
        assert_eq!(narrow[2]["metadata"]["namespace"], "team");
        let claims = narrow[2]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resources"][0] == "persistentvolumeclaims")
            .unwrap();
        assert!(
            !claims["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == "delete")
        );
        assert_eq!(narrow[0]["rules"][0]["verbs"], serde_json::json!(["get"]));

        let wide = objects(None, &user, true);
        assert_eq!(
            wide[0]["rules"][0]["verbs"],
            serde_json::json!(["get", "create", "patch"])
        );
        assert!(wide.iter().any(
            |o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == "deckhand-data-removal"
        ));
        assert!(to_yaml(None, &user, true).contains("kind: ClusterRoleBinding"));
    }
}
