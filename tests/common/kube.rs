//! The real test control plane (`tests/kube/cluster up`: etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler of Kubernetes
//! v1.37 and a kubelet stand-in) as the tests use it: every test gets its
//! own namespace, bound to the least-privilege `deckhand` user by the rules
//! `deckhand rbac --namespace NS` prints, and a `deckhand serve` that runs
//! as that user. The admin client is the tests' own view of the cluster.
//!
//! Without a running cluster the tests skip with a message (Go missing, or
//! the cluster not started); under `DECKHAND_CI=1` they fail.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Namespace, PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::server::{ADMIN_TOKEN, Server, run};
use super::{in_ci, root};

pub struct Cluster {
    pub admin_kubeconfig: PathBuf,
    pub deckhand_kubeconfig: PathBuf,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

/// The kubeconfigs of the running test cluster, from the environment that
/// `tests/kube/cluster up` prints, else from the file it leaves.
fn kubeconfigs() -> Option<(PathBuf, PathBuf)> {
    if let (Ok(deckhand), Ok(admin)) = (
        std::env::var("DECKHAND_TEST_KUBECONFIG"),
        std::env::var("DECKHAND_TEST_ADMIN_KUBECONFIG"),
    ) {
        return Some((PathBuf::from(admin), PathBuf::from(deckhand)));
    }
    let dir = std::env::var("DECKHAND_KUBE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target/kube-run"));
    let env = std::fs::read_to_string(dir.join("env")).ok()?;
    let value = |key: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("export {key}=")))
            .map(PathBuf::from)
    };
    Some((
        value("DECKHAND_TEST_ADMIN_KUBECONFIG")?,
        value("DECKHAND_TEST_KUBECONFIG")?,
    ))
}

fn skip(why: &str) -> Option<Cluster> {
    if in_ci() {
        panic!("the test control plane is required under DECKHAND_CI=1: {why}");
    }
    eprintln!(
        "SKIPPED: {why}, so the Kubernetes executor is not tested against a real control plane"
    );
    None
}

static NAMESPACES: AtomicUsize = AtomicUsize::new(0);

/// The running test cluster, or a skip (None) with the reason.
pub fn cluster() -> Option<Cluster> {
    let go = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join("go").is_file()));
    let Some((admin, deckhand)) = kubeconfigs() else {
        return skip(if go {
            "no test control plane is running (start it: eval \"$(tests/kube/cluster up)\")"
        } else {
            "Go is not installed (tests/kube/cluster builds the control plane with it)"
        });
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = runtime.block_on(async {
        let file = kube::config::Kubeconfig::read_from(&admin).ok()?;
        let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
            .await
            .ok()?;
        let client = kube::Client::try_from(config).ok()?;
        client.apiserver_version().await.ok()?;
        Some(client)
    });
    let Some(client) = client else {
        return skip(&format!(
            "the test control plane of {} does not answer (restart it: eval \"$(tests/kube/cluster up)\")",
            admin.display()
        ));
    };
    Some(Cluster {
        admin_kubeconfig: admin,
        deckhand_kubeconfig: deckhand,
        runtime,
        client,
    })
}

/// The API resource of a kind the tests look at.
fn resource(kind: &str) -> (ApiResource, bool) {
    match kind {
        "Namespace" => (ApiResource::erase::<Namespace>(&()), false),
        "Deployment" => (ApiResource::erase::<Deployment>(&()), true),
        "StatefulSet" => (ApiResource::erase::<StatefulSet>(&()), true),
        "Service" => (ApiResource::erase::<Service>(&()), true),
        "Secret" => (ApiResource::erase::<Secret>(&()), true),
        "Ingress" => (ApiResource::erase::<Ingress>(&()), true),
        "IngressClass" => (
            ApiResource::erase::<k8s_openapi::api::networking::v1::IngressClass>(&()),
            false,
        ),
        "Pod" => (ApiResource::erase::<Pod>(&()), true),
        "PersistentVolumeClaim" => (ApiResource::erase::<PersistentVolumeClaim>(&()), true),
        "ConfigMap" => (ApiResource::erase::<ConfigMap>(&()), true),
        "ResourceQuota" => (ApiResource::erase::<ResourceQuota>(&()), true),
        "HorizontalPodAutoscaler" => (ApiResource::erase::<HorizontalPodAutoscaler>(&()), true),
        "Event" => (ApiResource::erase::<Event>(&()), true),
        "Role" => (ApiResource::erase::<Role>(&()), true),
        "RoleBinding" => (ApiResource::erase::<RoleBinding>(&()), true),
        "ClusterRole" => (ApiResource::erase::<ClusterRole>(&()), false),
        "ClusterRoleBinding" => (ApiResource::erase::<ClusterRoleBinding>(&()), false),
        other => panic!("the tests do not know kind {other}"),
    }
}

/// How a test's namespace is made.
#[derive(Default)]
pub struct NamespaceSetup<'a> {
    /// Bind the data-removal role too (PVC delete).
    pub data_removal: bool,
    pub labels: &'a [(&'a str, &'a str)],
    pub annotations: &'a [(&'a str, &'a str)],
    /// What the kubelet stand-in does with images in this namespace
    /// (the ConfigMap `kubelet-standin`: image → behaviour, `ready-delay`).
    pub standin: &'a [(&'a str, &'a str)],
}

impl Cluster {
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn api(&self, kind: &str, namespace: Option<&str>) -> Api<DynamicObject> {
        let (resource, namespaced) = resource(kind);
        match (namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &resource),
            (true, None) => Api::all_with(self.client.clone(), &resource),
            (false, _) => Api::all_with(self.client.clone(), &resource),
        }
    }

    /// A fresh namespace for one test, its RBAC for the deckhand user
    /// applied from `deckhand rbac --namespace NS`.
    pub fn namespace(&self, prefix: &str, setup: NamespaceSetup) -> String {
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id() % 100_000,
            NAMESPACES.fetch_add(1, Ordering::SeqCst)
        );
        let labels: serde_json::Map<String, Value> = setup
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let annotations: serde_json::Map<String, Value> = setup
            .annotations
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        self.apply(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": labels, "annotations": annotations}}));
        let mut args = vec!["rbac", "--namespace", name.as_str()];
        if setup.data_removal {
            args.push("--data-removal");
        }
        let output = super::run(&args, None);
        assert!(
            output.status.success(),
            "deckhand rbac: {}",
            super::stderr(&output)
        );
        let documents: Vec<Value> = serde_saphyr::from_multiple(&super::stdout(&output)).unwrap();
        for document in documents {
            self.apply(document);
        }
        if !setup.standin.is_empty() {
            self.standin(&name, setup.standin);
        }
        // Pods need the namespace's default service account.
        self.wait_until(
            Duration::from_secs(30),
            "the default service account",
            || {
                self.block_on(async {
                    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
                        Api::namespaced(self.client.clone(), &name);
                    accounts.get_opt("default").await.ok().flatten().is_some()
                })
            },
        );
        name
    }

    /// Sets what the kubelet stand-in does in `namespace` (image →
    /// behaviour; `ready-delay`).
    pub fn standin(&self, namespace: &str, rules: &[(&str, &str)]) {
        // An image name as a ConfigMap key, as the stand-in looks it up.
        let key = |image: &str| -> String {
            image
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-._".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        let data: serde_json::Map<String, Value> =
            rules.iter().map(|(k, v)| (key(k), json!(v))).collect();
        self.apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kubelet-standin", "namespace": namespace}, "data": data}));
    }

    /// Server-side apply as the admin (field manager `test-admin`).
    pub fn apply(&self, object: Value) -> Value {
        self.apply_as(object, "test-admin")
    }

    pub fn apply_as(&self, object: Value, manager: &str) -> Value {
        let kind = object["kind"].as_str().unwrap().to_string();
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let ns = object["metadata"]["namespace"].as_str().map(str::to_string);
        let api = self.api(&kind, ns.as_deref());
        let params = PatchParams::apply(manager).force();
        let applied = self
            .block_on(api.patch(&name, &params, &Patch::Apply(&object)))
            .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
        serde_json::to_value(applied).unwrap()
    }

    /// A JSON merge patch as another field manager (like `kubectl scale`).
    pub fn merge_patch_as(&self, kind: &str, ns: &str, name: &str, patch: Value, manager: &str) {
        let api = self.api(kind, Some(ns));
        let params = PatchParams {
            field_manager: Some(manager.into()),
            ..Default::default()
        };
        self.block_on(api.patch(name, &params, &Patch::Merge(&patch)))
            .unwrap_or_else(|e| panic!("patching {kind} {name}: {e}"));
    }

    pub fn get(&self, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let api = self.api(kind, Some(ns));
        self.block_on(api.get_opt(name))
            .unwrap_or_else(|e| panic!("reading {kind} {name}: {e}"))
            .map(|o| serde_json::to_value(o).unwrap())
    }

    pub fn list(&self, kind: &str, ns: &str, labels: &str) -> Vec<Value> {
        let api = self.api(kind, Some(ns));
        self.block_on(api.list(&ListParams::default().labels(labels)))
            .unwrap_or_else(|e| panic!("listing {kind}: {e}"))
            .items
            .into_iter()
            .map(|o| serde_json::to_value(o).unwrap())
            .collect()
    }

    pub fn delete(&self, kind: &str, ns: &str, name: &str) {
        let api = self.api(kind, Some(ns));
        let _ = self.block_on(api.delete(name, &DeleteParams::default()));
    }

    /// Polls `check` every 100 ms until it holds, or panics after `limit`.
    pub fn wait_until(&self, limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !check() {
            assert!(
                Instant::now() < deadline,
                "timed out after {limit:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A `deckhand serve` that deploys into `namespace` as the deckhand user.
    pub fn server(&self, namespace: &str, env: &[(&str, &str)]) -> Server {
        self.server_in(tempfile::tempdir().unwrap(), namespace, env)
    }

    pub fn server_in(
        &self,
        dir: tempfile::TempDir,
        namespace: &str,
        env: &[(&str, &str)],
    ) -> Server {
        let kubeconfig = self.deckhand_kubeconfig.to_str().unwrap().to_string();
        let mut all = vec![
            ("DECKHAND_KUBECONFIG", kubeconfig.as_str()),
            ("DECKHAND_NAMESPACE", namespace),
            ("DECKHAND_READY_TIMEOUT_SECONDS", "60"),
            ("DECKHAND_EXECUTOR", "kubernetes"),
        ];
        all.extend_from_slice(env);
        let server = Server::start_with(dir, &all);
        // Connected to the cluster (as a deckhand that has been running
        // is): what a test measures starts from its request.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (code, answer) = server.get("/readyz", None);
            if code == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "deckhand serve never got ready: {answer}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Deletes a test's namespace (the cluster's namespace controller
    /// removes what is in it).
    pub fn drop_namespace(&self, namespace: &str) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let _ = self.block_on(api.delete(namespace, &DeleteParams::background()));
    }
}

/// Pods on the critical path of authentik with TLS: PostgreSQL, then
/// authentik (its server and worker start together).
pub const AUTHENTIK_PODS_ON_CRITICAL_PATH: u32 = 2;

/// An install of authentik with TLS, timed.
pub struct TimedInstall {
    pub namespace: String,
    pub server: Server,
    /// The intent, completed.
    pub done: Value,
    pub requested: jiff::Timestamp,
    /// Seconds from the request to the intent recorded `completed`.
    pub wall: f64,
}

impl Cluster {
    /// Installs authentik with TLS in a fresh namespace (`prefix`-…, data
    /// removal allowed) where the stand-in reports a pod ready `delay` after
    /// it reaches the node. The wall time runs from the request to a
    /// deckhand connected to its cluster (`server` waits for `/readyz`) to
    /// the moment it recorded the intent completed (its event's time; the
    /// polling for it is not counted).
    pub fn install_authentik_timed(&self, prefix: &str, delay: Duration) -> TimedInstall {
        let ready_delay = format!("{}ms", delay.as_millis());
        let namespace = self.namespace(
            prefix,
            NamespaceSetup {
                data_removal: true,
                standin: &[("ready-delay", &ready_delay)],
                ..Default::default()
            },
        );
        let server = self.server(&namespace, &[]);
        let requested = jiff::Timestamp::now();
        let done = run(&server, "install authentik with tls on k8s", json!({}));
        assert_eq!(done["status"], "completed", "{}", done["error"]);
        let wall = super::server::seconds_to_event(&done, None, "completed", requested);
        TimedInstall {
            namespace,
            server,
            done,
            requested,
            wall,
        }
    }
}

pub fn image(cluster: &Cluster, kind: &str, ns: &str, name: &str) -> String {
    cluster.get(kind, ns, name).unwrap()["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn revisions(server: &Server, ns: &str, release: &str) -> Vec<Value> {
    let (code, detail) = server.get(
        &format!("/api/orchestration/releases/{ns}/{release}"),
        Some(ADMIN_TOKEN),
    );
    assert_eq!(code, 200, "{detail}");
    detail[0]["revisions"].as_array().unwrap().clone()
}

pub fn rollback_steps(intent: &Value) -> Vec<String> {
    intent["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "rollback")
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect()
}

/// A release's install fails with the engine's reason within `limit`.
pub fn fails_within(server: &Server, command: &str, limit: Duration, reason: &[&str]) -> String {
    let started = Instant::now();
    let done = run(server, command, json!({}));
    let took = started.elapsed();
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].as_str().unwrap().to_string();
    for part in reason {
        assert!(error.contains(part), "{part:?} not in: {error}");
    }
    assert!(
        took <= limit,
        "reported after {took:?} (limit {limit:?}): {error}"
    );
    eprintln!(
        "{command}: failed after {:.1} s: {error}",
        took.as_secs_f64()
    );
    error
}
