//! The `kubernetes` executor, on `kube`: a client from a kubeconfig
//! (`--kubeconfig`, `--context`, `KUBECONFIG`) or from inside the cluster;
//! server-side apply with field manager `deckhand` (the namespace first,
//! created when missing); readiness from the objects' status, watched with
//! `await_condition` (Deployment available replicas, StatefulSet ready
//! replicas), while the release's pods are checked every few seconds for
//! what the engine says is wrong (image pull errors, crash loops); deletion
//! in reverse order by the labels deckhand puts on everything it creates.
//! An unreachable cluster, a forbidden verb or a conflict becomes a clear
//! error naming what was being done.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::await_condition;
use kube::{Client, Config};
use tokio_util::sync::CancellationToken;

use super::{Deleted, ExecError, Executor, LiveComponent, LiveStatus, ReleaseTarget, ReleaseWork};
use crate::render::kubernetes::{KubeObject, MANAGER};

/// How often pods are checked for the engine's own reasons while waiting.
const POD_CHECK: Duration = Duration::from_secs(2);

/// Waiting reasons that will not go away by waiting.
const FATAL_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

pub struct KubernetesExecutor {
    client: Client,
    server: String,
}

impl std::fmt::Debug for KubernetesExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesExecutor")
            .field("server", &self.server)
            .finish()
    }
}

fn kube_error(server: &str, doing: &str, err: kube::Error) -> ExecError {
    match err {
        kube::Error::Api(status) => match status.code {
            403 => ExecError::Forbidden(format!("{doing}: {}", status.message)),
            409 => ExecError::Conflict(format!("{doing}: {}", status.message)),
            code => ExecError::Failed(format!(
                "{doing}: the API server answered {code}: {}",
                status.message
            )),
        },
        kube::Error::HyperError(e) => ExecError::Unavailable(format!(
            "cannot reach the Kubernetes API at {server} ({doing}): {e}"
        )),
        kube::Error::Service(e) => ExecError::Unavailable(format!(
            "cannot reach the Kubernetes API at {server} ({doing}): {e}"
        )),
        other => ExecError::Failed(format!("{doing}: {other}")),
    }
}

/// The API resource and scope of a kind deckhand renders.
fn resource_of(object: &KubeObject) -> (ApiResource, bool) {
    match object {
        KubeObject::Namespace(_) => (ApiResource::erase::<Namespace>(&()), false),
        KubeObject::Secret(_) => (ApiResource::erase::<Secret>(&()), true),
        KubeObject::Deployment(_) => (ApiResource::erase::<Deployment>(&()), true),
        KubeObject::StatefulSet(_) => (ApiResource::erase::<StatefulSet>(&()), true),
        KubeObject::Service(_) => (ApiResource::erase::<Service>(&()), true),
        KubeObject::Ingress(_) => (ApiResource::erase::<Ingress>(&()), true),
    }
}

fn selector(release: &str) -> String {
    format!("app.kubernetes.io/instance={release},app.kubernetes.io/managed-by={MANAGER}")
}

/// A Deployment's rollout is done, by `kubectl rollout status`'s rules: the
/// controller has seen this generation, every desired replica runs the new
/// template, no old replica is left, and every new one is available. (Old
/// pods that still serve during a rollout do not count: a 1-replica upgrade
/// to an image that never starts shows 1 available, 1 updated, 2 in all.)
fn deployment_ready(deployment: Option<&Deployment>) -> bool {
    let Some(d) = deployment else { return false };
    let desired = d.spec.replicas.unwrap_or(1);
    let Some(status) = &d.status else {
        return desired == 0;
    };
    let updated = status.updated_replicas.unwrap_or(0);
    status.observed_generation >= d.metadata.generation
        && updated >= desired
        && status.replicas.unwrap_or(0) <= updated
        && status.available_replicas.unwrap_or(0) >= updated
}

/// A StatefulSet's rollout is done, by `kubectl rollout status`'s rules: the
/// controller has seen this generation, every desired replica is ready, and
/// every pod runs the current revision.
fn statefulset_ready(statefulset: Option<&StatefulSet>) -> bool {
    let Some(s) = statefulset else { return false };
    let desired = s.spec.replicas.unwrap_or(1);
    let Some(status) = &s.status else {
        return desired == 0;
    };
    status.observed_generation >= s.metadata.generation
        && status.ready_replicas.unwrap_or(0) >= desired
        && status.update_revision == status.current_revision
}

/// The `app.kubernetes.io/component` label of an object (empty when missing).
fn component_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.labels
        .as_ref()
        .and_then(|l| l.get("app.kubernetes.io/component"))
        .cloned()
        .unwrap_or_default()
}

/// What a pod's containers say is wrong: (component, reason, fatal).
fn pod_problems(pod: &Pod) -> Vec<(String, String, bool)> {
    let component = component_of(&pod.metadata);
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let mut out = Vec::new();
    for status in pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
    {
        if let Some(waiting) = status.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = waiting.reason.clone().unwrap_or_default();
            if reason.is_empty() || reason == "ContainerCreating" || reason == "PodInitializing" {
                continue;
            }
            let message = waiting.message.clone().unwrap_or_default();
            let fatal = FATAL_REASONS.contains(&reason.as_str());
            out.push((
                component.clone(),
                format!(
                    "pod {pod_name}: {reason}{}",
                    if message.is_empty() {
                        String::new()
                    } else {
                        format!(": {message}")
                    }
                ),
                fatal,
            ));
        }
    }
    out
}

impl KubernetesExecutor {
    /// A client from `kubeconfig` (and `context`), else the usual inference
    /// (`KUBECONFIG`, `~/.kube/config`, in-cluster service account).
    pub async fn connect(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
    ) -> Result<Self, ExecError> {
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..Default::default()
        };
        let config = match kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).map_err(|e| ExecError::Unavailable(format!("cannot read kubeconfig {}: {e}", path.display())))?;
                Config::from_custom_kubeconfig(file, &options).await.map_err(|e| ExecError::Unavailable(format!("kubeconfig {}: {e}", path.display())))?
            }
            None if context.is_some() => Config::from_kubeconfig(&options).await.map_err(|e| ExecError::Unavailable(format!("kubeconfig: {e}")))?,
            None => Config::infer().await.map_err(|e| {
                ExecError::Unavailable(format!("no Kubernetes cluster is configured ({e}); set KUBECONFIG or --kubeconfig, or use the render executor"))
            })?,
        };
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|e| {
            ExecError::Unavailable(format!("cannot make a Kubernetes client for {server}: {e}"))
        })?;
        Ok(Self { client, server })
    }

    fn dynamic(&self, object: &KubeObject, namespace: &str) -> Api<DynamicObject> {
        let (resource, namespaced) = resource_of(object);
        if namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        }
    }

    async fn pods(&self, namespace: &str, release: &str) -> Result<Vec<Pod>, ExecError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let list = api
            .list(&ListParams::default().labels(&selector(release)))
            .await
            .map_err(|e| kube_error(&self.server, &format!("listing the pods of {release}"), e))?;
        Ok(list.items)
    }

    /// Deletes every object of `resource` with the release's labels; returns their names.
    async fn delete_kind(
        &self,
        resource: ApiResource,
        namespace: &str,
        release: &str,
    ) -> Result<Vec<String>, ExecError> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &resource);
        let doing = format!("deleting the {} of {release}", resource.plural);
        let result = api
            .delete_collection(
                &DeleteParams::background(),
                &ListParams::default().labels(&selector(release)),
            )
            .await
            .map_err(|e| kube_error(&self.server, &doing, e))?;
        Ok(match result {
            either::Either::Left(list) => list
                .items
                .iter()
                .filter_map(|o| o.metadata.name.clone())
                .map(|n| format!("{} {n}", resource.kind))
                .collect(),
            either::Either::Right(_) => vec![],
        })
    }
}

#[async_trait]
impl Executor for KubernetesExecutor {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    async fn apply(&self, work: &ReleaseWork) -> Result<String, ExecError> {
        let params = PatchParams::apply(MANAGER).force();
        let mut applied = 0;
        for object in &work.objects {
            let api = self.dynamic(object, &work.namespace);
            if let KubeObject::Namespace(_) = object {
                // Created only when missing: someone whose rights end at
                // their namespace may still deploy into it.
                match api.get_opt(object.name()).await {
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                    Err(kube::Error::Api(status)) if status.code == 403 => continue,
                    Err(err) => {
                        let doing = format!("reading Namespace {}", object.name());
                        return Err(kube_error(&self.server, &doing, err));
                    }
                }
            }
            let doing = format!("applying {} {}", object.kind(), object.name());
            api.patch(object.name(), &params, &Patch::Apply(&object.to_json()))
                .await
                .map_err(|e| kube_error(&self.server, &doing, e))?;
            applied += 1;
        }
        Ok(format!(
            "{applied} object(s) applied to {} (server-side apply, field manager {MANAGER})",
            self.server
        ))
    }

    async fn wait_ready(
        &self,
        work: &ReleaseWork,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<String, ExecError> {
        let mut waits = Vec::new();
        for object in &work.objects {
            let name = object.name().to_string();
            match object {
                KubeObject::Deployment(_) => {
                    let api: Api<Deployment> =
                        Api::namespaced(self.client.clone(), &work.namespace);
                    waits.push(Box::pin(async move {
                        await_condition(api, &name, deployment_ready)
                            .await
                            .map(|_| ())
                    })
                        as std::pin::Pin<
                            Box<
                                dyn std::future::Future<
                                        Output = Result<(), kube::runtime::wait::Error>,
                                    > + Send,
                            >,
                        >);
                }
                KubeObject::StatefulSet(_) => {
                    let api: Api<StatefulSet> =
                        Api::namespaced(self.client.clone(), &work.namespace);
                    waits.push(Box::pin(async move {
                        await_condition(api, &name, statefulset_ready)
                            .await
                            .map(|_| ())
                    }));
                }
                _ => {}
            }
        }
        let count = waits.len();
        let all_ready = futures_util::future::try_join_all(waits);
        let release = work.release.release.clone();
        let mut last_problem: Option<String> = None;
        let watch_pods = async {
            loop {
                tokio::time::sleep(POD_CHECK).await;
                if let Ok(pods) = self.pods(&work.namespace, &release).await {
                    let problems: Vec<(String, String, bool)> =
                        pods.iter().flat_map(pod_problems).collect();
                    if let Some((component, reason, _)) = problems.iter().find(|p| p.2) {
                        return ExecError::NotReady {
                            component: component.clone(),
                            reason: reason.clone(),
                        };
                    }
                    last_problem = problems.first().map(|(c, r, _)| format!("{c}: {r}"));
                }
            }
        };
        tokio::select! {
            result = all_ready => match result {
                Ok(_) => Ok(format!("{count} workload(s) ready")),
                Err(err) => Err(ExecError::Failed(format!("watching {release}: {err}"))),
            },
            problem = watch_pods => Err(problem),
            _ = tokio::time::sleep(timeout) => Err(ExecError::Timeout { seconds: timeout.as_secs(), last: None }),
            _ = cancel.cancelled() => Err(ExecError::Cancelled),
        }
        .map_err(|err| match err {
            ExecError::Timeout { seconds, .. } => ExecError::Timeout { seconds, last: last_problem.clone() },
            other => other,
        })
    }

    async fn delete(
        &self,
        target: &ReleaseTarget,
        delete_data: bool,
    ) -> Result<Deleted, ExecError> {
        let ns = &target.namespace;
        let release = &target.release;
        let mut deleted = Deleted::default();
        for resource in [
            ApiResource::erase::<Ingress>(&()),
            ApiResource::erase::<Service>(&()),
            ApiResource::erase::<Deployment>(&()),
            ApiResource::erase::<StatefulSet>(&()),
            ApiResource::erase::<Secret>(&()),
        ] {
            deleted
                .removed
                .extend(self.delete_kind(resource, ns, release).await?);
        }
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), ns);
        let list = claims
            .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={release}")))
            .await
            .map_err(|e| {
                kube_error(
                    &self.server,
                    &format!("listing the volumes of {release}"),
                    e,
                )
            })?;
        for claim in list.items {
            let name = claim.metadata.name.unwrap_or_default();
            if delete_data {
                claims
                    .delete(&name, &DeleteParams::default())
                    .await
                    .map_err(|e| kube_error(&self.server, &format!("deleting volume {name}"), e))?;
                deleted
                    .removed
                    .push(format!("PersistentVolumeClaim {name}"));
            } else {
                deleted.kept_volumes.push(name);
            }
        }
        Ok(deleted)
    }

    async fn status(&self, target: &ReleaseTarget) -> Result<LiveStatus, ExecError> {
        let params = ListParams::default().labels(&selector(&target.release));
        let doing = format!("reading the status of {}", target.release);
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &target.namespace);
        let statefulsets: Api<StatefulSet> =
            Api::namespaced(self.client.clone(), &target.namespace);
        let pods = self.pods(&target.namespace, &target.release).await?;
        let problems: Vec<(String, String, bool)> = pods.iter().flat_map(pod_problems).collect();
        let problem_of = |component: &str| {
            problems
                .iter()
                .find(|p| p.0 == component)
                .map(|p| p.1.clone())
        };
        let live = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                    ready: Option<i32>,
                    desired: Option<i32>| {
            let component = component_of(meta);
            LiveComponent {
                ready: ready.unwrap_or(0).max(0) as u32,
                desired: desired.unwrap_or(1).max(0) as u32,
                problem: problem_of(&component),
                name: component,
            }
        };
        let mut components = Vec::new();
        for d in deployments
            .list(&params)
            .await
            .map_err(|e| kube_error(&self.server, &doing, e))?
            .items
        {
            components.push(live(
                &d.metadata,
                d.status.as_ref().and_then(|s| s.available_replicas),
                d.spec.replicas,
            ));
        }
        for s in statefulsets
            .list(&params)
            .await
            .map_err(|e| kube_error(&self.server, &doing, e))?
            .items
        {
            components.push(live(
                &s.metadata,
                s.status.as_ref().and_then(|s| s.ready_replicas),
                s.spec.replicas,
            ));
        }
        Ok(LiveStatus {
            found: !components.is_empty(),
            components,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i32, status: serde_json::Value) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": replicas, "selector": {}, "template": {}},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn a_deployment_mid_rollout_is_not_ready() {
        // An upgrade whose new pod never starts: the old one still serves.
        let stuck = deployment(
            1,
            serde_json::json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1,
                               "availableReplicas": 1, "unavailableReplicas": 1}),
        );
        assert!(!deployment_ready(Some(&stuck)));
        let unseen = deployment(
            1,
            serde_json::json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}),
        );
        assert!(!deployment_ready(Some(&unseen)));
        let done = deployment(
            3,
            serde_json::json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
        );
        assert!(deployment_ready(Some(&done)), "{done:?}");
        // Scaled to zero before the controller reported anything.
        let mut idle = deployment(0, serde_json::json!({}));
        idle.status = None;
        assert!(deployment_ready(Some(&idle)));
    }

    #[test]
    fn a_statefulset_is_ready_when_every_pod_runs_the_current_revision() {
        let set = |status: serde_json::Value| -> StatefulSet {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "db", "generation": 1},
                "spec": {"replicas": 1, "selector": {}, "serviceName": "db", "template": {}},
                "status": status,
            }))
            .unwrap()
        };
        let old_pod_ready = set(
            serde_json::json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
                                                   "currentRevision": "db-1", "updateRevision": "db-2"}),
        );
        assert!(!statefulset_ready(Some(&old_pod_ready)));
        let done = set(
            serde_json::json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
                                          "currentRevision": "db-2", "updateRevision": "db-2"}),
        );
        assert!(statefulset_ready(Some(&done)));
    }
}
