//! The `kubernetes` executor, on `kube`: a client from a kubeconfig
//! (`--kubeconfig`, `--context`, `KUBECONFIG`) or from inside the cluster.
//!
//! Apply ([`apply`]): the IngressClass and cert-manager ClusterIssuer an
//! Ingress names are checked first; then server-side apply with field
//! manager `deckhand` (the namespace first, created when missing), without
//! forcing: a field another manager owns is a conflict reported with that
//! manager's name, and `replicas` is left out when a HorizontalPodAutoscaler
//! scales the workload; then what the release's earlier revision had and
//! this one has not (labelled objects of the release only, and the
//! cert-manager TLS Secret of a dropped TLS section) is pruned.
//!
//! Wait ([`readiness`]): each workload is watched (re-listing with backoff
//! after any watch error) and judged by its controller's status; the
//! release's pods, claims and events are read every second for the reasons
//! it is not getting ready; a StatefulSet pod left broken by a reverted
//! template is deleted (the forced rollback).
//!
//! Validation ([`health`]): the pods a delivery stage checks, by label.
//!
//! Remove: by the labels deckhand puts on everything, in reverse order,
//! with the cert-manager TLS Secrets of its Ingresses; claims only when the
//! data goes too. The rights all this needs are [`rbac`]'s.

mod apply;
mod client;
mod health;
pub mod rbac;
pub mod readiness;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{
    Deleted, ExecError, Executor, LiveAutoscaler, LiveComponent, LiveStatus, ReleaseTarget,
    ReleaseWork,
};
use crate::render::kubernetes::{KubeObject, MANAGER};
use readiness::{Grace, Persistence, Problem, Verdict};

/// How often the release's pods, claims and events are read while waiting.
const DIAGNOSE_EVERY: Duration = Duration::from_secs(1);
/// How long connecting waits for the API server's first answer.
const CONNECT_CHECK: Duration = Duration::from_secs(10);

pub struct KubernetesExecutor {
    client: Client,
    server: String,
    grace: Grace,
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

/// The label selector of everything deckhand made for a release.
fn selector(release: &str) -> String {
    format!("app.kubernetes.io/instance={release},app.kubernetes.io/managed-by={MANAGER}")
}

/// The latest state of each watched workload, shared with the watchers.
type Seen<K> = Arc<Mutex<HashMap<String, Option<K>>>>;

/// Watches one object by name, re-listing with backoff after any watch
/// error (a 410 Gone after compaction, a reset stream), and keeps its latest
/// state in `seen`. Returns only on a refusal that re-listing cannot cure
/// (the caller may not watch it).
async fn follow<K>(
    api: Api<K>,
    name: String,
    seen: Seen<K>,
    changed: Arc<Notify>,
    errors: Arc<Mutex<Option<String>>>,
) -> ExecError
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher(api, config).default_backoff());
    while let Some(event) = stream.next().await {
        let update = match event {
            Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => Some(Some(o)),
            Ok(watcher::Event::Delete(_)) => Some(None),
            Ok(_) => None,
            Err(err) => {
                let text = err.to_string();
                let refused = matches!(&err,
                    watcher::Error::InitialListFailed(kube::Error::Api(s))
                    | watcher::Error::WatchStartFailed(kube::Error::Api(s)) if s.code == 403);
                if refused {
                    return ExecError::Forbidden(format!("watching {name}: {text}"));
                }
                tracing::warn!(object = %name, error = %text, "watch failed; re-listing");
                *errors.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("watching {name}: {text} (re-listing)"));
                None
            }
        };
        if let Some(state) = update {
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.clone(), state);
            changed.notify_one();
        }
    }
    ExecError::Failed(format!("the watch on {name} ended"))
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
        let client = client::without_nagle(config).map_err(|e| {
            ExecError::Unavailable(format!("cannot make a Kubernetes client for {server}: {e}"))
        })?;
        // The API server answers (every authenticated user may normally read
        // its version): a cluster that is not there fails here, within
        // CONNECT_CHECK, with its address, and the first connection is open
        // before the first apply. A server that answers but does not let
        // this user read its version (403) or has no such path (404) is
        // there: that is enough. Any other answer (401: the credentials are
        // refused; 5xx) is a failure with its reason.
        match tokio::time::timeout(CONNECT_CHECK, client.apiserver_version()).await {
            Ok(Ok(version)) => tracing::info!(
                target: "deckhand::kubernetes",
                server = server.as_str(),
                version = version.git_version.as_str(),
                "connected to the Kubernetes API"
            ),
            Ok(Err(kube::Error::Api(status))) if matches!(status.code, 403 | 404) => {
                tracing::info!(
                    target: "deckhand::kubernetes",
                    server = server.as_str(),
                    code = status.code,
                    "connected to the Kubernetes API (its version is not readable)"
                )
            }
            Ok(Err(err)) => {
                return Err(kube_error(&server, "reading the API server's version", err));
            }
            Err(_) => {
                return Err(ExecError::Unavailable(format!(
                    "cannot reach the Kubernetes API at {server}: no answer within {} s",
                    CONNECT_CHECK.as_secs()
                )));
            }
        }
        Ok(Self {
            client,
            server,
            grace: Grace::default(),
        })
    }

    fn list_params(release: &str) -> ListParams {
        ListParams::default().labels(&selector(release))
    }

    async fn list<K>(
        &self,
        namespace: &str,
        params: &ListParams,
        what: &str,
    ) -> Result<Vec<K>, ExecError>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        api.list(params)
            .await
            .map(|l| l.items)
            .map_err(|e| kube_error(&self.server, &format!("listing {what}"), e))
    }

    async fn pods(&self, namespace: &str, release: &str) -> Result<Vec<Pod>, ExecError> {
        self.list(
            namespace,
            &Self::list_params(release),
            &format!("the pods of {release}"),
        )
        .await
    }

    /// Everything that says why the release is not ready yet, at this moment;
    /// and the StatefulSet pods a forced rollback must delete.
    async fn diagnose(
        &self,
        work: &ReleaseWork,
        deployments: &[Deployment],
        statefulsets: &[StatefulSet],
        since: &k8s_openapi::jiff::Timestamp,
    ) -> Result<(Vec<Problem>, Vec<Pod>), ExecError> {
        let ns = &work.namespace;
        let release = &work.release.release;
        let params = Self::list_params(release);
        let pods = self.pods(ns, release).await?;
        let claims: Vec<PersistentVolumeClaim> = self
            .list(
                ns,
                &ListParams::default().labels(&format!("app.kubernetes.io/instance={release}")),
                &format!("the volumes of {release}"),
            )
            .await?;
        let events: Vec<Event> = self
            .list(
                ns,
                &ListParams::default(),
                &format!("the events of namespace {ns}"),
            )
            .await?;
        let sets: Vec<ReplicaSet> = if deployments.is_empty() {
            vec![]
        } else {
            self.list(ns, &params, &format!("the ReplicaSets of {release}"))
                .await?
        };
        let hashes: Vec<(Deployment, Option<String>)> = deployments
            .iter()
            .map(|d| (d.clone(), readiness::current_template_hash(d, &sets)))
            .collect();
        let mut problems = readiness::creation_problems(
            deployments,
            statefulsets,
            &events,
            Some(since),
            &self.grace,
        );
        problems.extend(
            claims
                .iter()
                .filter_map(|c| readiness::claim_problem(c, &events, &self.grace)),
        );
        problems.extend(
            pods.iter()
                .filter(|p| readiness::is_current(p, &hashes, statefulsets))
                .flat_map(|p| readiness::pod_problems(p, &self.grace)),
        );
        let stuck = statefulsets
            .iter()
            .flat_map(|s| readiness::stuck_pods(s, &pods))
            .cloned()
            .collect();
        Ok((problems, stuck))
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
            .delete_collection(&DeleteParams::background(), &Self::list_params(release))
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

/// The workloads of a release, watched.
struct Watched {
    deployments: Seen<Deployment>,
    statefulsets: Seen<StatefulSet>,
    changed: Arc<Notify>,
    errors: Arc<Mutex<Option<String>>>,
}

impl Watched {
    fn verdicts(&self) -> Vec<Verdict> {
        let d = self.deployments.lock().unwrap_or_else(|p| p.into_inner());
        let s = self.statefulsets.lock().unwrap_or_else(|p| p.into_inner());
        d.values()
            .map(|o| readiness::deployment_verdict(o.as_ref()))
            .chain(
                s.values()
                    .map(|o| readiness::statefulset_verdict(o.as_ref())),
            )
            .collect()
    }

    fn snapshot(&self) -> (Vec<Deployment>, Vec<StatefulSet>) {
        let d = self.deployments.lock().unwrap_or_else(|p| p.into_inner());
        let s = self.statefulsets.lock().unwrap_or_else(|p| p.into_inner());
        (
            d.values().flatten().cloned().collect(),
            s.values().flatten().cloned().collect(),
        )
    }
}

#[async_trait]
impl Executor for KubernetesExecutor {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    async fn apply(&self, work: &ReleaseWork) -> Result<String, ExecError> {
        self.apply_release(work).await
    }

    async fn wait_ready(
        &self,
        work: &ReleaseWork,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<String, ExecError> {
        let started = Instant::now();
        // Events from before this wait (an earlier failed attempt) say nothing.
        let since =
            k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(2);
        let watched = Watched {
            deployments: Arc::default(),
            statefulsets: Arc::default(),
            changed: Arc::new(Notify::new()),
            errors: Arc::default(),
        };
        let mut watches = futures_util::stream::FuturesUnordered::new();
        for object in &work.objects {
            let name = object.name().to_string();
            match object {
                KubeObject::Deployment(_) => {
                    watched
                        .deployments
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name.clone(), None);
                    let api: Api<Deployment> =
                        Api::namespaced(self.client.clone(), &work.namespace);
                    watches.push(tokio::spawn(follow(
                        api,
                        name,
                        watched.deployments.clone(),
                        watched.changed.clone(),
                        watched.errors.clone(),
                    )));
                }
                KubeObject::StatefulSet(_) => {
                    watched
                        .statefulsets
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name.clone(), None);
                    let api: Api<StatefulSet> =
                        Api::namespaced(self.client.clone(), &work.namespace);
                    watches.push(tokio::spawn(follow(
                        api,
                        name,
                        watched.statefulsets.clone(),
                        watched.changed.clone(),
                        watched.errors.clone(),
                    )));
                }
                _ => {}
            }
        }
        let count = watches.len();
        let abort = |watches: &futures_util::stream::FuturesUnordered<
            tokio::task::JoinHandle<ExecError>,
        >| {
            for w in watches.iter() {
                w.abort();
            }
        };
        let mut persistence = Persistence::default();
        let mut last: Option<String> = None;
        let mut forced: Vec<String> = Vec::new();
        let mut next_diagnosis = Instant::now() + DIAGNOSE_EVERY;
        let deadline = tokio::time::Instant::from_std(started + timeout);
        let result = loop {
            let verdicts = watched.verdicts();
            if let Some(Verdict::Failed(reason)) =
                verdicts.iter().find(|v| matches!(v, Verdict::Failed(_)))
            {
                break Err(ExecError::NotReady {
                    component: work.release.release.clone(),
                    reason: reason.clone(),
                });
            }
            if verdicts.iter().all(|v| *v == Verdict::Ready) {
                break Ok(if forced.is_empty() {
                    format!("{count} workload(s) ready")
                } else {
                    format!(
                        "{count} workload(s) ready (forced rollback: deleted pod(s) {} stuck on a reverted revision)",
                        forced.join(", ")
                    )
                });
            }
            if let Some(Verdict::Waiting(why)) =
                verdicts.iter().find(|v| matches!(v, Verdict::Waiting(_)))
            {
                last = Some(why.clone());
            }
            if Instant::now() >= next_diagnosis {
                next_diagnosis = Instant::now() + DIAGNOSE_EVERY;
                let (deployments, statefulsets) = watched.snapshot();
                match self
                    .diagnose(work, &deployments, &statefulsets, &since)
                    .await
                {
                    Ok((problems, stuck)) => {
                        if let Some(problem) = persistence.overdue(&problems, Instant::now()) {
                            break Err(ExecError::NotReady {
                                component: problem.component,
                                reason: problem.reason,
                            });
                        }
                        if let Some(p) = problems.first() {
                            last = Some(format!("{}: {}", p.component, p.reason));
                        }
                        for pod in stuck {
                            self.force_rollback(&work.namespace, &pod).await?;
                            let name = pod.metadata.name.clone().unwrap_or_default();
                            if !forced.contains(&name) {
                                forced.push(name);
                            }
                        }
                    }
                    Err(err @ ExecError::Forbidden(_)) => break Err(err),
                    Err(err) => last = Some(err.to_string()),
                }
                if let Some(error) = watched
                    .errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                {
                    last = Some(error);
                }
            }
            tokio::select! {
                _ = watched.changed.notified() => {}
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(next_diagnosis)) => {}
                Some(ended) = watches.next() => {
                    if let Ok(err) = ended {
                        break Err(err);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    break Err(ExecError::Timeout { seconds: timeout.as_secs(), last: last.clone() });
                }
                _ = cancel.cancelled() => break Err(ExecError::Cancelled),
            }
        };
        abort(&watches);
        result
    }

    async fn delete(
        &self,
        target: &ReleaseTarget,
        delete_data: bool,
    ) -> Result<Deleted, ExecError> {
        let ns = &target.namespace;
        let release = &target.release;
        let mut deleted = Deleted::default();
        // cert-manager's TLS Secrets carry no release label: found through
        // the Ingresses that named them, before those go.
        let ingresses: Vec<Ingress> = self
            .list(
                ns,
                &Self::list_params(release),
                &format!("the Ingresses of {release}"),
            )
            .await?;
        let tls = apply::tls_secret_names(ingresses.iter());
        for resource in apply::release_kinds() {
            deleted
                .removed
                .extend(self.delete_kind(resource, ns, release).await?);
        }
        deleted
            .removed
            .extend(self.delete_issued_secrets(ns, tls.iter()).await?);
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
        let params = Self::list_params(&target.release);
        let ns = &target.namespace;
        let doing = format!("the workloads of {}", target.release);
        let deployments: Vec<Deployment> = self.list(ns, &params, &doing).await?;
        let statefulsets: Vec<StatefulSet> = self.list(ns, &params, &doing).await?;
        let pods = self.pods(ns, &target.release).await?;
        let autoscalers: Vec<HorizontalPodAutoscaler> = self.list(ns, &params, &doing).await?;
        let autoscaler_of = |kind: &str, name: Option<&String>| {
            autoscalers
                .iter()
                .find(|h| {
                    h.spec.scale_target_ref.kind == kind
                        && Some(&h.spec.scale_target_ref.name) == name
                })
                .map(|h| LiveAutoscaler {
                    name: h.metadata.name.clone().unwrap_or_default(),
                    min: h.spec.min_replicas.unwrap_or(1).max(0) as u32,
                    max: h.spec.max_replicas.max(0) as u32,
                    current: h
                        .status
                        .as_ref()
                        .and_then(|s| s.current_replicas)
                        .unwrap_or(0)
                        .max(0) as u32,
                    desired: h.status.as_ref().map_or(0, |s| s.desired_replicas.max(0)) as u32,
                    cpu_percent: h
                        .spec
                        .metrics
                        .iter()
                        .flatten()
                        .filter_map(|m| m.resource.as_ref()?.target.average_utilization)
                        .next()
                        .map(|c| c.max(0) as u32),
                })
        };
        let problems: Vec<Problem> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .flat_map(|p| readiness::pod_problems(p, &self.grace))
            .collect();
        let problem_of = |component: &str| {
            problems
                .iter()
                .find(|p| p.component == component)
                .map(|p| p.reason.clone())
        };
        let live = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                    ready: Option<i32>,
                    desired: Option<i32>| {
            let component = readiness::component_of(meta);
            LiveComponent {
                ready: ready.unwrap_or(0).max(0) as u32,
                desired: desired.unwrap_or(1).max(0) as u32,
                problem: problem_of(&component),
                name: component,
                autoscaler: None,
            }
        };
        let mut components = Vec::new();
        for d in &deployments {
            let mut component = live(
                &d.metadata,
                d.status.as_ref().and_then(|s| s.available_replicas),
                d.spec.replicas,
            );
            component.autoscaler = autoscaler_of("Deployment", d.metadata.name.as_ref());
            components.push(component);
        }
        for s in &statefulsets {
            let mut component = live(
                &s.metadata,
                s.status.as_ref().and_then(|s| s.ready_replicas),
                s.spec.replicas,
            );
            component.autoscaler = autoscaler_of("StatefulSet", s.metadata.name.as_ref());
            components.push(component);
        }
        Ok(LiveStatus {
            found: !components.is_empty(),
            components,
        })
    }

    async fn pod_health(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<super::PodHealth>, ExecError> {
        self.pods_matching(namespace, selector).await
    }

    async fn routed_pods(&self, namespace: &str, service: &str) -> Result<Vec<String>, ExecError> {
        self.service_endpoints(namespace, service).await
    }
}
