//! Applying a release: the checks before anything is written (the
//! IngressClass and the cert-manager ClusterIssuer an Ingress names),
//! server-side apply without force (another manager's field is reported as
//! a conflict naming that manager; `replicas` is left to an HPA that scales
//! the workload), and the prune of what the new revision no longer has.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, Preconditions,
};
use kube::core::GroupVersionKind;

use super::{KubernetesExecutor, kube_error};
use crate::execute::{ExecError, ReleaseWork};
use crate::render::kubernetes::{KubeObject, MANAGER};

/// The field manager that holds a workload's replica count while it passes
/// from deckhand to a HorizontalPodAutoscaler.
pub const HANDOVER_MANAGER: &str = "deckhand-handover-to-hpa";

/// cert-manager's annotation naming the ClusterIssuer of an Ingress.
pub const CLUSTER_ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";
/// Annotations cert-manager puts on the Secrets it issues.
const ISSUED_BY_CERT_MANAGER: &[&str] = &[
    "cert-manager.io/certificate-name",
    "cert-manager.io/issuer-name",
];

/// The API resource and scope of a kind deckhand renders.
fn resource_of(object: &KubeObject) -> (ApiResource, bool) {
    match object {
        KubeObject::Namespace(_) => (ApiResource::erase::<Namespace>(&()), false),
        KubeObject::Secret(_) => (ApiResource::erase::<Secret>(&()), true),
        KubeObject::ConfigMap(_) => (ApiResource::erase::<ConfigMap>(&()), true),
        KubeObject::HorizontalPodAutoscaler(_) => {
            (ApiResource::erase::<HorizontalPodAutoscaler>(&()), true)
        }
        KubeObject::Deployment(_) => (ApiResource::erase::<Deployment>(&()), true),
        KubeObject::StatefulSet(_) => (ApiResource::erase::<StatefulSet>(&()), true),
        KubeObject::Service(_) => (ApiResource::erase::<Service>(&()), true),
        KubeObject::Ingress(_) => (ApiResource::erase::<Ingress>(&()), true),
    }
}

/// The kinds a release is made of, in the order they are pruned and
/// removed (an autoscaler before what it scales).
pub(super) fn release_kinds() -> [ApiResource; 7] {
    [
        ApiResource::erase::<HorizontalPodAutoscaler>(&()),
        ApiResource::erase::<Ingress>(&()),
        ApiResource::erase::<Service>(&()),
        ApiResource::erase::<Deployment>(&()),
        ApiResource::erase::<StatefulSet>(&()),
        ApiResource::erase::<Secret>(&()),
        ApiResource::erase::<ConfigMap>(&()),
    ]
}

/// The TLS Secret names the Ingresses refer to.
pub fn tls_secret_names<'a>(ingresses: impl Iterator<Item = &'a Ingress>) -> BTreeSet<String> {
    ingresses
        .filter_map(|i| i.spec.as_ref()?.tls.as_ref())
        .flatten()
        .filter_map(|t| t.secret_name.clone())
        .collect()
}

/// The other manager and fields of a server-side apply conflict, from the
/// API server's message (`Apply failed with 1 conflict: conflict with
/// "kubectl" using apps/v1: .spec.replicas`).
pub fn conflict_text(kind: &str, name: &str, message: &str) -> String {
    let detail = message
        .split_once(": ")
        .map(|(_, rest)| rest)
        .unwrap_or(message);
    format!(
        "{kind} {name}: {detail}. Another field manager owns these fields with other values; \
         deckhand does not overwrite them: undo that change (or let deckhand own them with \
         `kubectl apply --server-side --force-conflicts --field-manager={MANAGER}`)"
    )
}

impl KubernetesExecutor {
    fn dynamic(&self, object: &KubeObject, namespace: &str) -> Api<DynamicObject> {
        let (resource, namespaced) = resource_of(object);
        if namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        }
    }

    pub(super) async fn apply_release(&self, work: &ReleaseWork) -> Result<String, ExecError> {
        let ns = &work.namespace;
        let release = &work.release.release;
        // The checks and what the prune needs, read at once.
        let checks =
            futures_util::future::try_join_all(work.objects.iter().filter_map(|o| match o {
                KubeObject::Ingress(ingress) => Some(self.check_ingress(ingress)),
                _ => None,
            }));
        let (params, what) = (
            Self::list_params(release),
            format!("the Ingresses of {release}"),
        );
        let before = self.list::<Ingress>(ns, &params, &what);
        let namespace = work
            .objects
            .iter()
            .find(|o| matches!(o, KubeObject::Namespace(_)));
        let missing = async {
            match namespace {
                Some(object) => self.namespace_missing(object).await,
                None => Ok(false),
            }
        };
        let (_, before, mut scaled, namespace_missing) =
            futures_util::future::try_join4(checks, before, self.autoscaled(ns), missing).await?;
        // The autoscalers this revision brings own their workloads' counts
        // from this apply on.
        scaled.extend(work.objects.iter().filter_map(|o| match o {
            KubeObject::HorizontalPodAutoscaler(h) => Some((
                h.spec.scale_target_ref.kind.clone(),
                h.spec.scale_target_ref.name.clone(),
            )),
            _ => None,
        }));
        // The namespace first (only when it is missing: someone whose
        // rights end at their namespace may not apply it), then the
        // Secrets the pods read, then the rest together.
        let stage = |o: &KubeObject| match o {
            KubeObject::Namespace(_) if namespace_missing => Some(0),
            KubeObject::Namespace(_) => None,
            KubeObject::Secret(_) => Some(1),
            _ => Some(2),
        };
        let mut applied = 0;
        let mut notes = Vec::new();
        for n in 0..3 {
            let done = futures_util::future::try_join_all(
                work.objects
                    .iter()
                    .filter(|o| stage(o) == Some(n))
                    .map(|o| self.apply_object(o, ns, &scaled)),
            )
            .await?;
            for (was_applied, note) in done {
                applied += usize::from(was_applied);
                notes.extend(note);
            }
        }
        // A first revision has no earlier one whose leftovers could be pruned.
        let pruned = if work.revision > 1 {
            self.prune(work, &before).await?
        } else {
            vec![]
        };
        let mut message = format!(
            "{applied} object(s) applied to {} (server-side apply, field manager {MANAGER})",
            self.server
        );
        if !pruned.is_empty() {
            message.push_str(&format!("; pruned {}", pruned.join(", ")));
        }
        if !notes.is_empty() {
            message.push_str(&format!("; {}", notes.join(", ")));
        }
        Ok(message)
    }

    /// Whether the release's namespace is still to be created. It is
    /// created only when missing: someone whose rights end at their
    /// namespace (who may not read it) may still deploy into it.
    async fn namespace_missing(&self, namespace: &KubeObject) -> Result<bool, ExecError> {
        match self.dynamic(namespace, "").get_opt(namespace.name()).await {
            Ok(found) => Ok(found.is_none()),
            Err(kube::Error::Api(status)) if status.code == 403 => Ok(false),
            Err(err) => {
                let doing = format!("reading Namespace {}", namespace.name());
                Err(kube_error(&self.server, &doing, err))
            }
        }
    }

    /// Applies one object; (whether it was applied, a note).
    async fn apply_object(
        &self,
        object: &KubeObject,
        ns: &str,
        scaled: &BTreeSet<(String, String)>,
    ) -> Result<(bool, Option<String>), ExecError> {
        let api = self.dynamic(object, ns);
        let mut body = object.to_json();
        let mut note = None;
        if scaled.contains(&(object.kind().to_string(), object.name().to_string())) {
            if let Some(spec) = body.get_mut("spec").and_then(|s| s.as_object_mut()) {
                spec.remove("replicas");
            }
            self.hand_over_replicas(&api, object).await?;
            note = Some(format!(
                "replicas of {} {} left to its HorizontalPodAutoscaler",
                object.kind(),
                object.name()
            ));
        }
        let doing = format!("applying {} {}", object.kind(), object.name());
        match api
            .patch(
                object.name(),
                &PatchParams::apply(MANAGER),
                &Patch::Apply(&body),
            )
            .await
        {
            Ok(_) => Ok((true, note)),
            Err(kube::Error::Api(status)) if status.code == 409 => Err(ExecError::Conflict(
                conflict_text(object.kind(), object.name(), &status.message),
            )),
            Err(err) => Err(kube_error(&self.server, &doing, err)),
        }
    }

    /// The IngressClass (named, or a default one) and the ClusterIssuer an
    /// Ingress relies on exist: an Ingress nothing serves, or a certificate
    /// nothing issues, fails here with their names instead of never.
    async fn check_ingress(&self, ingress: &Ingress) -> Result<(), ExecError> {
        futures_util::future::try_join(
            self.check_ingress_class(ingress),
            self.check_cluster_issuer(ingress),
        )
        .await
        .map(|_| ())
    }

    async fn check_ingress_class(&self, ingress: &Ingress) -> Result<(), ExecError> {
        let name = ingress.metadata.name.clone().unwrap_or_default();
        let classes: Api<IngressClass> = Api::all(self.client.clone());
        match ingress
            .spec
            .as_ref()
            .and_then(|s| s.ingress_class_name.clone())
        {
            Some(class) => {
                let found = classes.get_opt(&class).await.map_err(|e| {
                    kube_error(&self.server, &format!("reading IngressClass {class}"), e)
                })?;
                if found.is_none() {
                    return Err(ExecError::Failed(format!(
                        "Ingress {name} names IngressClass \"{class}\", which does not exist on \
                         the cluster (kubectl get ingressclass); set DECKHAND_INGRESS_CLASS to one that does"
                    )));
                }
            }
            None => {
                let all = classes
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| kube_error(&self.server, "listing IngressClasses", e))?;
                let default = all.items.iter().any(|c| {
                    c.metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("ingressclass.kubernetes.io/is-default-class"))
                        .is_some_and(|v| v == "true")
                });
                if !default {
                    let names: Vec<String> = all
                        .items
                        .iter()
                        .filter_map(|c| c.metadata.name.clone())
                        .collect();
                    return Err(ExecError::Failed(format!(
                        "Ingress {name} names no IngressClass and the cluster marks none as default \
                         (IngressClasses: {}); set DECKHAND_INGRESS_CLASS",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    )));
                }
            }
        }
        Ok(())
    }

    async fn check_cluster_issuer(&self, ingress: &Ingress) -> Result<(), ExecError> {
        let name = ingress.metadata.name.clone().unwrap_or_default();
        let issuer = ingress
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(CLUSTER_ISSUER_ANNOTATION).cloned());
        if let Some(issuer) = issuer {
            let gvk = GroupVersionKind::gvk("cert-manager.io", "v1", "ClusterIssuer");
            let resource = ApiResource::from_gvk_with_plural(&gvk, "clusterissuers");
            let issuers: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
            match issuers.get(&issuer).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {
                    let missing_object = status.details.as_ref().is_some_and(|d| d.name == issuer);
                    return Err(ExecError::Failed(if missing_object {
                        format!(
                            "Ingress {name} asks cert-manager's ClusterIssuer \"{issuer}\" for its \
                             certificate, which does not exist (kubectl get clusterissuer); set \
                             DECKHAND_CLUSTER_ISSUER to one that does"
                        )
                    } else {
                        format!(
                            "Ingress {name} asks cert-manager's ClusterIssuer \"{issuer}\" for its \
                             certificate, but cert-manager is not installed (the cluster has no \
                             ClusterIssuer kind)"
                        )
                    }));
                }
                Err(err) => {
                    return Err(kube_error(
                        &self.server,
                        &format!("reading ClusterIssuer {issuer}"),
                        err,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Before deckhand stops applying a workload's `replicas` (an HPA owns
    /// them now), the count running is applied under a second field manager,
    /// [`HANDOVER_MANAGER`], so that dropping deckhand's claim leaves it in
    /// place instead of resetting it to 1 (Kubernetes' documented handover
    /// to an autoscaler with server-side apply); the HPA controller's own
    /// writes then take it from there. Nothing to hand over for a workload
    /// that does not exist yet; a conflict means the HPA already owns the
    /// count with another value, which is what is wanted.
    async fn hand_over_replicas(
        &self,
        api: &Api<DynamicObject>,
        object: &KubeObject,
    ) -> Result<(), ExecError> {
        let doing = format!("reading {} {}", object.kind(), object.name());
        let live = match api.get_opt(object.name()).await {
            Ok(live) => live,
            Err(err) => return Err(kube_error(&self.server, &doing, err)),
        };
        let Some(replicas) = live.and_then(|l| l.data["spec"]["replicas"].as_i64()) else {
            return Ok(());
        };
        let json = object.to_json();
        let body = serde_json::json!({
            "apiVersion": json["apiVersion"],
            "kind": json["kind"],
            "metadata": {"name": object.name()},
            "spec": {"replicas": replicas},
        });
        match api
            .patch(
                object.name(),
                &PatchParams::apply(HANDOVER_MANAGER),
                &Patch::Apply(&body),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
            Err(err) => Err(kube_error(
                &self.server,
                &format!(
                    "handing the replicas of {} {} over to its HorizontalPodAutoscaler",
                    object.kind(),
                    object.name()
                ),
                err,
            )),
        }
    }

    /// (kind, name) of the workloads a HorizontalPodAutoscaler scales.
    async fn autoscaled(&self, ns: &str) -> Result<BTreeSet<(String, String)>, ExecError> {
        let hpas: Vec<HorizontalPodAutoscaler> = self
            .list(
                ns,
                &ListParams::default(),
                &format!("the HorizontalPodAutoscalers of namespace {ns}"),
            )
            .await?;
        Ok(hpas
            .into_iter()
            .map(|h| (h.spec.scale_target_ref.kind, h.spec.scale_target_ref.name))
            .collect())
    }

    /// Deletes what carries the release's labels but is not in this
    /// revision, and the cert-manager Secrets of TLS sections it dropped.
    async fn prune(
        &self,
        work: &ReleaseWork,
        before: &[Ingress],
    ) -> Result<Vec<String>, ExecError> {
        let ns = &work.namespace;
        let release = &work.release.release;
        let keep: BTreeSet<(String, String)> = work
            .objects
            .iter()
            .map(|o| (o.kind().to_string(), o.name().to_string()))
            .collect();
        let listed = futures_util::future::try_join_all(release_kinds().into_iter().map(
            |resource| async move {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(self.client.clone(), ns, &resource);
                let live = api
                    .list_metadata(&Self::list_params(release))
                    .await
                    .map_err(|e| {
                        kube_error(
                            &self.server,
                            &format!("listing the {} of {release}", resource.plural),
                            e,
                        )
                    })?;
                Ok::<_, ExecError>((api, resource, live.items))
            },
        ))
        .await?;
        let mut pruned = Vec::new();
        for (api, resource, live) in listed {
            for object in live {
                let name = object.metadata.name.clone().unwrap_or_default();
                if keep.contains(&(resource.kind.clone(), name.clone())) {
                    continue;
                }
                let doing = format!("pruning {} {name}", resource.kind);
                match api.delete(&name, &DeleteParams::background()).await {
                    Ok(_) => pruned.push(format!("{} {name}", resource.kind)),
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(err) => return Err(kube_error(&self.server, &doing, err)),
                }
            }
        }
        let now = tls_secret_names(work.objects.iter().filter_map(|o| match o {
            KubeObject::Ingress(i) => Some(i.as_ref()),
            _ => None,
        }));
        let dropped: Vec<String> = tls_secret_names(before.iter())
            .into_iter()
            .filter(|s| !now.contains(s))
            .collect();
        pruned.extend(self.delete_issued_secrets(ns, dropped.iter()).await?);
        Ok(pruned)
    }

    /// Deletes the named Secrets that cert-manager issued (never one a
    /// person put there).
    pub(super) async fn delete_issued_secrets(
        &self,
        ns: &str,
        names: impl Iterator<Item = &String>,
    ) -> Result<Vec<String>, ExecError> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let mut deleted = Vec::new();
        for name in names {
            let doing = format!("reading TLS Secret {name}");
            let Some(secret) = secrets
                .get_metadata_opt(name)
                .await
                .map_err(|e| kube_error(&self.server, &doing, e))?
            else {
                continue;
            };
            let issued = secret
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| ISSUED_BY_CERT_MANAGER.iter().any(|k| a.contains_key(*k)));
            if !issued {
                continue;
            }
            match secrets.delete(name, &DeleteParams::background()).await {
                Ok(_) => deleted.push(format!("Secret {name} (cert-manager's TLS certificate)")),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(err) => {
                    return Err(kube_error(
                        &self.server,
                        &format!("deleting TLS Secret {name}"),
                        err,
                    ));
                }
            }
        }
        Ok(deleted)
    }

    /// Deletes a StatefulSet pod left on a reverted revision, so that the
    /// controller makes it again from the current template.
    pub(super) async fn force_rollback(&self, ns: &str, pod: &Pod) -> Result<(), ExecError> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        tracing::info!(pod = %name, namespace = %ns, "forced rollback: deleting a pod stuck on a reverted revision");
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match pods.delete(&name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(err) => Err(kube_error(
                &self.server,
                &format!("deleting pod {name} (forced rollback of its StatefulSet)"),
                err,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_names_the_other_manager_and_the_fields() {
        let text = conflict_text(
            "Deployment",
            "grafana-grafana",
            "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas",
        );
        assert!(
            text.starts_with("Deployment grafana-grafana: conflict with \"kubectl\" using apps/v1: .spec.replicas."),
            "{text}"
        );
    }
}
