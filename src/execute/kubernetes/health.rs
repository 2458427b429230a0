//! The pods a delivery stage validates (a canary's, green's), read by label
//! selector: Ready as the kubelet reports it (on a real node, the
//! blueprint's HTTP, TCP or command readiness probe passing), container
//! restarts, and why a pod is not ready in the cluster's words; and the
//! pods a Service routes to, from its EndpointSlices (the endpoint slice
//! controller's view: where traffic goes, not where it should).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::ListParams;

use super::{KubernetesExecutor, readiness};
use crate::execute::{ExecError, PodHealth};

impl KubernetesExecutor {
    pub(super) async fn pods_matching(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<PodHealth>, ExecError> {
        let pods: Vec<Pod> = self
            .list(
                namespace,
                &ListParams::default().labels(selector),
                &format!("the pods {selector}"),
            )
            .await?;
        Ok(pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|pod| PodHealth {
                name: pod.metadata.name.clone().unwrap_or_default(),
                ready: readiness::pod_ready(pod),
                restarts: pod
                    .status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .into_iter()
                    .flatten()
                    .map(|c| c.restart_count.max(0) as u32)
                    .sum(),
                problem: readiness::pod_problems(pod, &self.grace)
                    .into_iter()
                    .next()
                    .map(|p| p.reason),
            })
            .collect())
    }

    /// The pods among `service`'s ready endpoints (an endpoint whose
    /// readiness is unknown counts as ready, as the API documents).
    pub(super) async fn service_endpoints(
        &self,
        namespace: &str,
        service: &str,
    ) -> Result<Vec<String>, ExecError> {
        let slices: Vec<EndpointSlice> = self
            .list(
                namespace,
                &ListParams::default().labels(&format!("kubernetes.io/service-name={service}")),
                &format!("the EndpointSlices of Service {service}"),
            )
            .await?;
        let mut pods: Vec<String> = slices
            .iter()
            .flat_map(|s| s.endpoints.iter().flatten())
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
            .filter_map(|e| e.target_ref.as_ref())
            .filter(|r| r.kind.as_deref() == Some("Pod"))
            .filter_map(|r| r.name.clone())
            .collect();
        pods.sort();
        pods.dedup();
        Ok(pods)
    }
}
