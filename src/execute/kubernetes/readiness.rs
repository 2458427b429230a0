//! Readiness on a real cluster, judged by the controllers' own view, and
//! the reasons a release is not getting there, found within seconds.
//!
//! A Deployment is ready when its controller has seen the current
//! generation and reports every desired replica updated and available with
//! no old one left (`kubectl rollout status`'s rule); `ProgressDeadlineExceeded`
//! fails it. A StatefulSet is ready when every desired replica is ready and
//! updated and the current revision is the update revision.
//!
//! Pods are read for the engine's reasons, only those of the revision being
//! rolled out (an old or terminating pod says nothing about the new one).
//! A pull error or a crash loop may go away by itself (a registry hiccup, a
//! dependency still starting), so it fails the release only once it has
//! lasted [`Grace::pull`] / [`Grace::crash`]; a pod the scheduler cannot
//! place and a claim that gets no volume fail it after [`Grace::pending`];
//! a pod the API server refuses to create (Pod Security admission, a quota)
//! fails it at once, with the message.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// What a workload's own status says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    /// Not yet, and why (for the timeout's message).
    Waiting(String),
    /// It will not get there by waiting.
    Failed(String),
}

/// How long a possibly passing state may last before it fails the release.
#[derive(Debug, Clone, Copy)]
pub struct Grace {
    /// `ErrImagePull` / `ImagePullBackOff` (the kubelet retries pulls).
    pub pull: Duration,
    /// `CrashLoopBackOff` and container creation errors.
    pub crash: Duration,
    /// Restarts after which a crash loop fails at once.
    pub crash_restarts: i32,
    /// An unschedulable pod, a Pending claim, a pod that cannot be created
    /// for another reason than admission.
    pub pending: Duration,
}

impl Default for Grace {
    fn default() -> Self {
        Self {
            pull: Duration::from_secs(8),
            crash: Duration::from_secs(10),
            crash_restarts: 3,
            pending: Duration::from_secs(5),
        }
    }
}

/// Waiting reasons that never go away by waiting.
const HOPELESS: &[&str] = &["InvalidImageName", "ErrImageNeverPull"];
/// Waiting reasons the kubelet retries.
const PULLING: &[&str] = &["ErrImagePull", "ImagePullBackOff"];
const CRASHING: &[&str] = &[
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// A Deployment's rollout, by `kubectl rollout status`'s rules.
pub fn deployment_verdict(deployment: Option<&Deployment>) -> Verdict {
    let Some(d) = deployment else {
        return Verdict::Waiting("not created yet".into());
    };
    let name = d.metadata.name.clone().unwrap_or_default();
    let desired = d.spec.replicas.unwrap_or(1);
    let Some(status) = &d.status else {
        return if desired == 0 {
            Verdict::Ready
        } else {
            Verdict::Waiting(format!("Deployment {name}: no status yet"))
        };
    };
    if status.observed_generation < d.metadata.generation {
        return Verdict::Waiting(format!(
            "Deployment {name}: the controller has not seen generation {} yet",
            d.metadata.generation.unwrap_or(0)
        ));
    }
    for c in status.conditions.iter().flatten() {
        if c.type_.as_deref() == Some("Progressing")
            && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        {
            return Verdict::Failed(format!(
                "Deployment {name}: ProgressDeadlineExceeded: {}",
                c.message.clone().unwrap_or_default()
            ));
        }
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated >= desired && replicas <= updated && available >= updated {
        Verdict::Ready
    } else {
        Verdict::Waiting(format!(
            "Deployment {name}: {updated}/{desired} updated, {available} available, {replicas} in all"
        ))
    }
}

/// A StatefulSet's rollout: every replica ready and on the update revision.
pub fn statefulset_verdict(statefulset: Option<&StatefulSet>) -> Verdict {
    let Some(s) = statefulset else {
        return Verdict::Waiting("not created yet".into());
    };
    let name = s.metadata.name.clone().unwrap_or_default();
    let desired = s.spec.replicas.unwrap_or(1);
    let Some(status) = &s.status else {
        return if desired == 0 {
            Verdict::Ready
        } else {
            Verdict::Waiting(format!("StatefulSet {name}: no status yet"))
        };
    };
    if status.observed_generation < s.metadata.generation {
        return Verdict::Waiting(format!(
            "StatefulSet {name}: the controller has not seen generation {} yet",
            s.metadata.generation.unwrap_or(0)
        ));
    }
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    if ready >= desired
        && updated >= desired
        && status.replicas <= desired
        && status.update_revision == status.current_revision
    {
        Verdict::Ready
    } else {
        Verdict::Waiting(format!(
            "StatefulSet {name}: {ready}/{desired} ready, {updated} on the new revision"
        ))
    }
}

/// The `app.kubernetes.io/component` label of an object (empty when missing).
pub fn component_of(meta: &ObjectMeta) -> String {
    meta.labels
        .as_ref()
        .and_then(|l| l.get("app.kubernetes.io/component"))
        .cloned()
        .unwrap_or_default()
}

/// One thing wrong, as seen at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub component: String,
    /// What to remember it by across checks (object and kind of problem).
    pub key: String,
    pub reason: String,
    /// Fails the release once it has lasted this long (zero: at once).
    pub after: Duration,
}

/// What a pod's containers and conditions say is wrong.
pub fn pod_problems(pod: &Pod, grace: &Grace) -> Vec<Problem> {
    let component = component_of(&pod.metadata);
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let mut out = Vec::new();
    let status = pod.status.as_ref();
    for c in status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
    {
        if c.type_ == "PodScheduled" && c.status == "False" {
            out.push(Problem {
                component: component.clone(),
                key: format!("{uid}/unschedulable"),
                reason: format!(
                    "pod {name} cannot be scheduled: {}: {}",
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default()
                ),
                after: grace.pending,
            });
        }
    }
    for cs in status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
    {
        let Some(waiting) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.clone().unwrap_or_default();
        let after = if HOPELESS.contains(&reason.as_str()) {
            Duration::ZERO
        } else if PULLING.contains(&reason.as_str()) {
            grace.pull
        } else if CRASHING.contains(&reason.as_str()) {
            if reason == "CrashLoopBackOff" && cs.restart_count >= grace.crash_restarts {
                Duration::ZERO
            } else {
                grace.crash
            }
        } else {
            continue;
        };
        let message = waiting.message.clone().unwrap_or_default();
        let kind = if PULLING.contains(&reason.as_str()) {
            "pull"
        } else {
            reason.as_str()
        };
        out.push(Problem {
            component: component.clone(),
            key: format!("{uid}/{}/{kind}", cs.name),
            reason: format!(
                "pod {name}: {reason}{}",
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                }
            ),
            after,
        });
    }
    out
}

/// A claim still Pending, with the last thing its events said.
pub fn claim_problem(
    claim: &PersistentVolumeClaim,
    events: &[Event],
    grace: &Grace,
) -> Option<Problem> {
    let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref());
    if phase != Some("Pending") {
        return None;
    }
    let name = claim.metadata.name.clone().unwrap_or_default();
    let said = latest_event(events, "PersistentVolumeClaim", &name, None)
        .map(|e| {
            format!(
                ": {}: {}",
                e.reason.clone().unwrap_or_default(),
                e.message.clone().unwrap_or_default()
            )
        })
        .unwrap_or_else(|| {
            format!(
                " (storage class {})",
                claim
                    .spec
                    .as_ref()
                    .and_then(|s| s.storage_class_name.clone())
                    .unwrap_or_else(|| "none named, and no default".into())
            )
        });
    Some(Problem {
        component: component_of(&claim.metadata),
        key: format!("{}/pending", claim.metadata.uid.clone().unwrap_or_default()),
        reason: format!("PersistentVolumeClaim {name} is Pending{said}"),
        after: grace.pending,
    })
}

/// Whether a pod creation refusal is an admission decision that waiting
/// will not change (Pod Security, a quota, another admission webhook).
pub fn refused_by_admission(message: &str) -> bool {
    message.contains("violates PodSecurity")
        || message.contains("exceeded quota")
        || message.contains("admission webhook")
        || message.contains("must specify limits")
        || message.contains("must specify requests")
}

/// Pods the controller could not create: the Deployment's `ReplicaFailure`
/// condition, or the StatefulSet's `FailedCreate` events since `since`.
pub fn creation_problems(
    deployments: &[Deployment],
    statefulsets: &[StatefulSet],
    events: &[Event],
    since: Option<&k8s_openapi::jiff::Timestamp>,
    grace: &Grace,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let problem = |kind: &str, meta: &ObjectMeta, message: String| {
        let name = meta.name.clone().unwrap_or_default();
        Problem {
            component: component_of(meta),
            key: format!("{kind}/{name}/create"),
            after: if refused_by_admission(&message) {
                Duration::ZERO
            } else {
                grace.pending
            },
            reason: format!("{kind} {name} cannot create its pods: {message}"),
        }
    };
    for d in deployments {
        for c in d.status.iter().flat_map(|s| s.conditions.iter().flatten()) {
            if c.type_.as_deref() == Some("ReplicaFailure") && c.status.as_deref() == Some("True") {
                out.push(problem(
                    "Deployment",
                    &d.metadata,
                    c.message.clone().unwrap_or_default(),
                ));
            }
        }
    }
    for s in statefulsets {
        let name = s.metadata.name.clone().unwrap_or_default();
        if let Some(e) = latest_event(events, "StatefulSet", &name, since)
            .filter(|e| e.reason.as_deref() == Some("FailedCreate"))
        {
            out.push(problem(
                "StatefulSet",
                &s.metadata,
                e.message.clone().unwrap_or_default(),
            ));
        }
    }
    out
}

/// When an event last happened.
fn event_time(event: &Event) -> Option<k8s_openapi::jiff::Timestamp> {
    event
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// The latest event about `kind`/`name` (at or after `since`, when given).
pub fn latest_event<'a>(
    events: &'a [Event],
    kind: &str,
    name: &str,
    since: Option<&k8s_openapi::jiff::Timestamp>,
) -> Option<&'a Event> {
    events
        .iter()
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some(kind)
                && e.involved_object.name.as_deref() == Some(name)
        })
        .filter(|e| match (since, event_time(e)) {
            (Some(since), Some(at)) => at >= *since,
            _ => true,
        })
        .max_by_key(|e| event_time(e))
}

/// The pod-template hash of a Deployment's current ReplicaSet (the one with
/// the Deployment's revision), when the controller has made it.
pub fn current_template_hash(deployment: &Deployment, sets: &[ReplicaSet]) -> Option<String> {
    const REVISION: &str = "deployment.kubernetes.io/revision";
    let uid = deployment.metadata.uid.as_deref()?;
    let revision = deployment.metadata.annotations.as_ref()?.get(REVISION)?;
    sets.iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
        })
        .find(|rs| {
            rs.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION))
                == Some(revision)
        })
        .and_then(|rs| {
            rs.metadata
                .labels
                .as_ref()?
                .get("pod-template-hash")
                .cloned()
        })
}

/// Whether a pod belongs to the revision being rolled out: a Deployment's
/// current ReplicaSet, or a StatefulSet's update revision. Terminating pods
/// never do.
pub fn is_current(
    pod: &Pod,
    deployments: &[(Deployment, Option<String>)],
    statefulsets: &[StatefulSet],
) -> bool {
    if pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    for owner in pod.metadata.owner_references.iter().flatten() {
        if owner.kind == "StatefulSet" {
            return statefulsets.iter().any(|s| {
                s.metadata.uid.as_deref() == Some(owner.uid.as_str())
                    && s.status.as_ref().and_then(|st| st.update_revision.as_ref())
                        == labels.get("controller-revision-hash")
            });
        }
        if owner.kind == "ReplicaSet" {
            return deployments.iter().any(|(d, hash)| {
                hash.as_ref().is_some_and(|h| {
                    Some(h) == labels.get("pod-template-hash")
                        && owner.name
                            == format!("{}-{h}", d.metadata.name.as_deref().unwrap_or_default())
                })
            });
        }
    }
    false
}

/// Pods a StatefulSet will never replace by itself: on an older revision
/// than its update revision and not Ready. With `OrderedReady` the
/// controller waits for such a pod forever (a failed upgrade that was
/// reverted leaves one behind); Kubernetes' documented way out, the forced
/// rollback, is to delete it once the template is reverted.
pub fn stuck_pods<'a>(statefulset: &StatefulSet, pods: &'a [Pod]) -> Vec<&'a Pod> {
    let Some(status) = &statefulset.status else {
        return vec![];
    };
    if status.observed_generation < statefulset.metadata.generation {
        return vec![];
    }
    let Some(update) = status.update_revision.as_ref() else {
        return vec![];
    };
    let uid = statefulset.metadata.uid.clone().unwrap_or_default();
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
        })
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("controller-revision-hash"))
                .is_some_and(|h| h != update)
        })
        .filter(|p| !pod_ready(p))
        .collect()
}

pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Remembers since when each problem has been seen, so that a passing state
/// fails the release only once it has lasted its grace.
#[derive(Debug, Default)]
pub struct Persistence {
    since: HashMap<String, Instant>,
}

impl Persistence {
    /// The first problem that has lasted its grace, given what is seen now;
    /// problems no longer seen are forgotten.
    pub fn overdue(&mut self, seen: &[Problem], now: Instant) -> Option<Problem> {
        self.since
            .retain(|key, _| seen.iter().any(|p| &p.key == key));
        let mut overdue = None;
        for problem in seen {
            let since = *self.since.entry(problem.key.clone()).or_insert(now);
            if overdue.is_none() && now.duration_since(since) >= problem.after {
                overdue = Some(problem.clone());
            }
        }
        overdue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: i32, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": replicas, "selector": {}, "template": {}},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn a_deployment_is_ready_by_its_controllers_view() {
        // An upgrade whose new pod never starts: the old one still serves.
        let stuck = deployment(
            1,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1,
                   "availableReplicas": 1, "unavailableReplicas": 1}),
        );
        assert!(matches!(
            deployment_verdict(Some(&stuck)),
            Verdict::Waiting(_)
        ));
        let unseen = deployment(
            1,
            json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}),
        );
        assert!(
            matches!(deployment_verdict(Some(&unseen)), Verdict::Waiting(w) if w.contains("generation 2"))
        );
        let done = deployment(
            3,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
        );
        assert_eq!(deployment_verdict(Some(&done)), Verdict::Ready);
        let mut idle = deployment(0, json!({}));
        idle.status = None;
        assert_eq!(deployment_verdict(Some(&idle)), Verdict::Ready);
        let late = deployment(
            1,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1,
                   "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                   "message": "ReplicaSet \"web-5d\" has timed out progressing."}]}),
        );
        assert!(
            matches!(deployment_verdict(Some(&late)), Verdict::Failed(m) if m.contains("timed out progressing"))
        );
    }

    #[test]
    fn a_statefulset_is_ready_when_every_pod_runs_the_update_revision() {
        let set = |status: serde_json::Value| -> StatefulSet {
            serde_json::from_value(json!({
                "metadata": {"name": "db", "generation": 1, "uid": "u1"},
                "spec": {"replicas": 1, "selector": {}, "serviceName": "db", "template": {}},
                "status": status,
            }))
            .unwrap()
        };
        let old_pod_ready = set(
            json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
            "updatedReplicas": 0, "currentRevision": "db-1", "updateRevision": "db-2"}),
        );
        assert!(matches!(
            statefulset_verdict(Some(&old_pod_ready)),
            Verdict::Waiting(_)
        ));
        let done = set(
            json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
            "updatedReplicas": 1, "currentRevision": "db-2", "updateRevision": "db-2"}),
        );
        assert_eq!(statefulset_verdict(Some(&done)), Verdict::Ready);

        // After a revert to db-1, the broken db-2 pod is stuck: delete it.
        let reverted = set(
            json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 0,
            "currentRevision": "db-1", "updateRevision": "db-1"}),
        );
        let pod = |hash: &str, ready: &str| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": "db-0", "labels": {"controller-revision-hash": hash},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u1"}]},
                "status": {"conditions": [{"type": "Ready", "status": ready}]}
            }))
            .unwrap()
        };
        let pods = [pod("db-2", "False"), pod("db-1", "False")];
        let stuck = stuck_pods(&reverted, &pods);
        assert_eq!(stuck.len(), 1);
        assert_eq!(
            stuck[0].metadata.labels.as_ref().unwrap()["controller-revision-hash"],
            "db-2"
        );
        // An old pod that serves is left to the controller's rolling update.
        assert!(stuck_pods(&reverted, &[pod("db-2", "True")]).is_empty());
        assert!(is_current(&pods[1], &[], std::slice::from_ref(&reverted)));
        assert!(!is_current(&pods[0], &[], &[reverted]));
    }

    #[test]
    fn transient_problems_fail_only_once_they_last() {
        let grace = Grace::default();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-1", "uid": "p1", "labels": {"app.kubernetes.io/component": "web"}},
            "status": {"containerStatuses": [{"name": "web", "image": "x", "imageID": "", "ready": false,
                "restartCount": 0,
                "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}]}
        }))
        .unwrap();
        let problems = pod_problems(&pod, &grace);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].after, grace.pull);
        let mut seen = Persistence::default();
        let t0 = Instant::now();
        assert!(seen.overdue(&problems, t0).is_none());
        assert!(
            seen.overdue(&problems, t0 + Duration::from_secs(3))
                .is_none()
        );
        // It went away (the pull succeeded on a retry): forgotten.
        assert!(seen.overdue(&[], t0 + Duration::from_secs(4)).is_none());
        assert!(
            seen.overdue(&problems, t0 + Duration::from_secs(5))
                .is_none()
        );
        let failed = seen
            .overdue(&problems, t0 + Duration::from_secs(14))
            .unwrap();
        assert!(
            failed.reason.contains("ErrImagePull: not found"),
            "{failed:?}"
        );
    }

    #[test]
    fn admission_refusals_fail_at_once_other_creation_errors_after_a_grace() {
        assert!(refused_by_admission(
            "pods \"db-0\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false"
        ));
        assert!(refused_by_admission(
            "pods \"db-0\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=0, limited: pods=0"
        ));
        assert!(!refused_by_admission(
            "pods \"db-0\" is forbidden: error looking up service account auth/default: serviceaccount \"default\" not found"
        ));
    }
}
