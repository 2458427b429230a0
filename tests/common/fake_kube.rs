//! The in-test stand-in for the Kubernetes API server. The Kubernetes
//! executor is tested on the real control plane (`tests/kube/cluster`,
//! `tests/kube_cluster.rs`); this one stays for what a real API server
//! cannot be made to do on demand (a watch stream reset mid-response,
//! [`FakeKube::cut_watches`]) and as a slow engine where no cluster is
//! wanted (the chat tests' timing).
//!
//! [`FakeKube::start`] serves plain HTTP/1.1 on `127.0.0.1` (random port) from
//! an actix-web server in a background thread with its own actix `System`;
//! dropping the [`FakeKube`] stops it. All state lives in memory.
//!
//! What it implements, shaped like the real API server's answers:
//! - kinds: Namespace (cluster scoped), Secret, Service, Pod,
//!   PersistentVolumeClaim, Event (`/api/v1`), Deployment, StatefulSet,
//!   ReplicaSet (`/apis/apps/v1`), Ingress and IngressClass
//!   (`/apis/networking.k8s.io/v1`), HorizontalPodAutoscaler
//!   (`/apis/autoscaling/v2`, not in discovery);
//! - discovery: `GET /version`, `/api`, `/apis`, `/api/v1`, `/apis/{group}` and
//!   `/apis/{group}/{version}`;
//! - server-side apply (`PATCH` with `application/apply-patch+yaml` and a
//!   `fieldManager`), which creates or replaces everything but `status` and
//!   keeps `resourceVersion` and `generation` when nothing changed; plain
//!   create (`POST`) too;
//! - get, list (`labelSelector`, `fieldSelector`), watch (replay from a
//!   `resourceVersion`, then live events, ended after `timeoutSeconds`),
//!   delete and deletecollection, with `Status` errors (404, 400, 403, 409,
//!   415) like the real server's; `Accept: ...;as=PartialObjectMetadata`
//!   answers with metadata only;
//! - a tiny controller: after a ready delay a Deployment or StatefulSet gets a
//!   ready status and one Running Pod per replica (a StatefulSet also its
//!   PVCs from `volumeClaimTemplates`, kept when it is deleted, as the real
//!   controller does), or, for workloads named with
//!   [`FakeKube::fail_workload`], Pending pods whose containers wait with a
//!   reason; deleting a Namespace deletes what is in it and deleting a
//!   workload deletes its pods;
//! - `GET .../pods/{name}/log` (empty for running pods, 400 for waiting ones);
//! - RBAC-like refusals set with [`FakeKube::forbid`].
//!
//! Every request is recorded ([`FakeKube::requests`]) so tests can check what
//! the executor sent.
#![allow(dead_code)]
// Handlers return `Result<HttpResponse, HttpResponse>` to use `?` on error replies.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Map, Value, json};

/// The user named in RBAC-like refusals.
pub const FAKE_USER: &str = "system:serviceaccount:default:deckhand";
/// The bearer token in the kubeconfig that [`FakeKube::kubeconfig`] writes.
pub const FAKE_TOKEN: &str = "fake-token";

/// One request the fake received, in arrival order.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, without the `?`.
    pub query: String,
    pub content_type: Option<String>,
    pub body: String,
}

impl RecordedRequest {
    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        parse_query(&self.query)
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }
}

/// A running fake API server; dropping it stops the server.
pub struct FakeKube {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    state: Shared,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeKube {
    /// Starts a fake API server on a random port of 127.0.0.1.
    pub fn start() -> FakeKube {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake API server binds");
        let address = listener.local_addr().expect("fake API server address");
        let (changed, _) = tokio::sync::watch::channel(0u64);
        let state: Shared = Arc::new(Mutex::new(State {
            address: address.to_string(),
            rv: 1,
            objects: BTreeMap::new(),
            events: Vec::new(),
            requests: Vec::new(),
            ready_delay: Duration::from_millis(200),
            failures: Vec::new(),
            forbidden: HashSet::new(),
            cut_watches: 0,
            owners: HashMap::new(),
            next_ip: 10,
            changed,
        }));
        {
            // A real cluster starts with these namespaces.
            let mut initial = state.lock().expect("fresh state");
            for name in ["default", "kube-system", "kube-public"] {
                let key = Key {
                    plural: "namespaces",
                    namespace: String::new(),
                    name: name.to_string(),
                };
                let namespace = json!({
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": name,
                        "uid": format!("ns-{name}"),
                        "creationTimestamp": "2026-01-01T00:00:00Z",
                        "labels": {"kubernetes.io/metadata.name": name},
                    },
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                });
                initial.put(key, namespace);
            }
        }
        let (send, receive) = std::sync::mpsc::channel();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("fake-kube".into())
            .spawn(move || {
                let system = actix_web::rt::System::new();
                system.block_on(async move {
                    let data = web::Data::new(shared);
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .app_data(web::PayloadConfig::new(64 << 20))
                            .default_service(web::to(handle))
                    })
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(0)
                    .listen(listener);
                    match server {
                        Ok(server) => {
                            let server = server.run();
                            let _ = send.send(Ok(server.handle()));
                            let _ = server.await;
                        }
                        Err(error) => {
                            let _ = send.send(Err(error.to_string()));
                        }
                    }
                });
            })
            .expect("fake API server thread starts");
        let handle = receive
            .recv()
            .expect("fake API server reports its start")
            .expect("fake API server listens");
        FakeKube {
            url: format!("http://{address}"),
            state,
            handle,
            thread: Some(thread),
        }
    }

    /// How long a Deployment or StatefulSet takes to become ready after a
    /// change of its spec (default 200 ms).
    pub fn set_ready_delay(&self, delay: Duration) {
        lock(&self.state).ready_delay = delay;
    }

    /// Pods of workloads whose name contains `name_part` never become ready;
    /// their container waits with `reason` (e.g. "ImagePullBackOff") and `message`.
    /// (`name_part` may also be part of a container image, to fail one version only.)
    pub fn fail_workload(&self, name_part: &str, reason: &str, message: &str) {
        lock(&self.state).failures.push(Failure {
            name_part: name_part.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
        });
    }

    /// Requests with this verb ("patch", "delete", "get", "list", "watch",
    /// "create", "deletecollection") on this resource plural ("secrets",
    /// "deployments", "pods/log") get 403 Forbidden like RBAC. As with RBAC,
    /// "delete" does not cover "deletecollection".
    /// The next `count` watch requests send what they have, then break off
    /// mid-response (the connection is reset under the client): the fault
    /// a real API server cannot be made to produce on demand.
    pub fn cut_watches(&self, count: usize) {
        lock(&self.state).cut_watches += count;
    }

    pub fn forbid(&self, verb: &str, resource: &str) {
        lock(&self.state)
            .forbidden
            .insert((verb.to_string(), resource.to_string()));
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Every stored object (by resource, namespace and name).
    pub fn objects(&self) -> Vec<Value> {
        lock(&self.state).objects.values().cloned().collect()
    }

    /// The stored object of `kind` ("Deployment", or the plural "deployments")
    /// named `name`. For a namespaced kind, `None` as namespace finds the
    /// first object of that name in any namespace.
    pub fn object(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let resource = resource_for_kind(kind)?;
        let state = lock(&self.state);
        state
            .objects
            .iter()
            .find(|(key, _)| {
                key.plural == resource.plural
                    && key.name == name
                    && (!resource.namespaced || namespace.is_none_or(|ns| key.namespace == ns))
            })
            .map(|(_, object)| object.clone())
    }

    /// Writes a kubeconfig for this server (context, cluster and user all
    /// named "fake", token [`FAKE_TOKEN`], namespace "default") into `dir`
    /// and returns its path.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        super::write_kubeconfig(dir, &self.url, FAKE_TOKEN)
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        // The stop command is sent at once; the returned future only waits for it.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Resources

#[derive(Debug)]
struct Resource {
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    group: &'static str,
    version: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
}

const RESOURCES: &[Resource] = &[
    Resource {
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        group: "",
        version: "v1",
        namespaced: false,
        short: &["ns"],
    },
    Resource {
        kind: "Secret",
        plural: "secrets",
        singular: "secret",
        group: "",
        version: "v1",
        namespaced: true,
        short: &[],
    },
    Resource {
        kind: "Service",
        plural: "services",
        singular: "service",
        group: "",
        version: "v1",
        namespaced: true,
        short: &["svc"],
    },
    Resource {
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        group: "",
        version: "v1",
        namespaced: true,
        short: &["po"],
    },
    Resource {
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        group: "",
        version: "v1",
        namespaced: true,
        short: &["pvc"],
    },
    Resource {
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        group: "apps",
        version: "v1",
        namespaced: true,
        short: &["deploy"],
    },
    Resource {
        kind: "StatefulSet",
        plural: "statefulsets",
        singular: "statefulset",
        group: "apps",
        version: "v1",
        namespaced: true,
        short: &["sts"],
    },
    Resource {
        kind: "Ingress",
        plural: "ingresses",
        singular: "ingress",
        group: "networking.k8s.io",
        version: "v1",
        namespaced: true,
        short: &["ing"],
    },
    // Read by the executor's readiness checks; nothing here makes them.
    Resource {
        kind: "Event",
        plural: "events",
        singular: "event",
        group: "",
        version: "v1",
        namespaced: true,
        short: &["ev"],
    },
    Resource {
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        group: "apps",
        version: "v1",
        namespaced: true,
        short: &["rs"],
    },
    Resource {
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        group: "autoscaling",
        version: "v2",
        namespaced: true,
        short: &["hpa"],
    },
    Resource {
        kind: "IngressClass",
        plural: "ingressclasses",
        singular: "ingressclass",
        group: "networking.k8s.io",
        version: "v1",
        namespaced: false,
        short: &[],
    },
];

const GROUPS: &[&str] = &["apps", "networking.k8s.io"];

impl Resource {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps`, `secrets`: how the real server names a resource in messages.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    fn is_workload(&self) -> bool {
        self.kind == "Deployment" || self.kind == "StatefulSet"
    }
}

fn resource_for_plural(plural: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.plural == plural)
}

fn resource_for_kind(kind: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| {
        r.kind.eq_ignore_ascii_case(kind)
            || r.plural.eq_ignore_ascii_case(kind)
            || r.singular.eq_ignore_ascii_case(kind)
    })
}

// ---------------------------------------------------------------------------
// State

type Shared = Arc<Mutex<State>>;

/// Locks the state, carrying on after a panic elsewhere poisoned the lock.
fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    plural: &'static str,
    /// Empty for cluster-scoped objects.
    namespace: String,
    name: String,
}

#[derive(Debug, Clone)]
struct Failure {
    name_part: String,
    reason: String,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug, Clone)]
struct Event {
    rv: u64,
    plural: &'static str,
    namespace: String,
    kind: EventType,
    object: Value,
    /// The object before a MODIFIED event, to tell watchers with selectors
    /// that it entered or left their selection.
    old: Option<Value>,
}

struct State {
    address: String,
    /// The last resourceVersion handed out.
    rv: u64,
    objects: BTreeMap<Key, Value>,
    /// Every change, in resourceVersion order, for watch replay.
    events: Vec<Event>,
    requests: Vec<RecordedRequest>,
    ready_delay: Duration,
    failures: Vec<Failure>,
    forbidden: HashSet<(String, String)>,
    /// Watch requests still to be broken off (see [`FakeKube::cut_watches`]).
    cut_watches: usize,
    /// Pods (and PVCs with a `Delete` retention policy) -> their workload.
    owners: HashMap<Key, Key>,
    next_ip: u32,
    /// Tells watch streams that something changed.
    changed: tokio::sync::watch::Sender<u64>,
}

impl State {
    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Stores `object` (new or changed) under `key` with a fresh
    /// resourceVersion, records the watch event, and returns what was stored.
    fn put(&mut self, key: Key, mut object: Value) -> Value {
        let rv = self.next_rv();
        set_meta(&mut object, "resourceVersion", json!(rv.to_string()));
        let old = self.objects.insert(key.clone(), object.clone());
        let kind = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.events.push(Event {
            rv,
            plural: key.plural,
            namespace: key.namespace,
            kind,
            object: object.clone(),
            old,
        });
        self.changed.send_replace(rv);
        object
    }

    /// Removes one object, recording a DELETED event.
    fn take(&mut self, key: &Key) -> Option<Value> {
        let mut object = self.objects.remove(key)?;
        let rv = self.next_rv();
        set_meta(&mut object, "resourceVersion", json!(rv.to_string()));
        self.events.push(Event {
            rv,
            plural: key.plural,
            namespace: key.namespace.clone(),
            kind: EventType::Deleted,
            object: object.clone(),
            old: None,
        });
        self.changed.send_replace(rv);
        Some(object)
    }

    /// Removes an object and what goes with it: the contents of a Namespace,
    /// the pods of a workload.
    fn delete(&mut self, key: &Key) -> Option<Value> {
        let object = self.take(key)?;
        self.owners.remove(key);
        if key.plural == "namespaces" {
            let inside: Vec<Key> = self
                .objects
                .keys()
                .filter(|k| k.plural != "namespaces" && k.namespace == key.name)
                .cloned()
                .collect();
            for k in inside {
                self.owners.remove(&k);
                self.take(&k);
            }
        }
        let children: Vec<Key> = self
            .owners
            .iter()
            .filter(|(_, owner)| *owner == key)
            .map(|(child, _)| child.clone())
            .collect();
        for child in children {
            self.owners.remove(&child);
            self.take(&child);
        }
        Some(object)
    }

    fn namespace_exists(&self, name: &str) -> bool {
        self.objects.contains_key(&Key {
            plural: "namespaces",
            namespace: String::new(),
            name: name.to_string(),
        })
    }

    fn next_pod_ip(&mut self) -> String {
        self.next_ip += 1;
        format!("10.244.{}.{}", self.next_ip / 250, self.next_ip % 250 + 2)
    }

    fn next_cluster_ip(&mut self) -> String {
        self.next_ip += 1;
        format!("10.96.{}.{}", self.next_ip / 250, self.next_ip % 250 + 2)
    }

    /// The controller's work once the ready delay has passed: pods (and PVCs)
    /// for the workload, then its status.
    fn rollout(&mut self, key: &Key, uid: &str, generation: i64) {
        let Some(workload) = self.objects.get(key).cloned() else {
            return;
        };
        if meta_str(&workload, "uid") != Some(uid)
            || meta_i64(&workload, "generation") != Some(generation)
        {
            return; // deleted, recreated or changed again since: a newer timer runs
        }
        let Some(resource) = resource_for_plural(key.plural) else {
            return;
        };
        let stateful = resource.kind == "StatefulSet";
        let name = key.name.clone();
        let namespace = key.namespace.clone();
        let replicas = workload
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(0);
        let images: Vec<String> = workload
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter_map(|c| c["image"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let failure = self
            .failures
            .iter()
            .find(|f| {
                name.contains(&f.name_part) || images.iter().any(|i| i.contains(&f.name_part))
            })
            .cloned()
            .filter(|_| replicas > 0);
        let template = workload
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(json!({}));
        let hash = short_hash(&template);
        let revision = format!("{name}-{hash}");

        // The old pods go; new ones come (a rolling update, all at once).
        let old_pods: Vec<Key> = self
            .owners
            .iter()
            .filter(|(child, owner)| *owner == key && child.plural == "pods")
            .map(|(child, _)| child.clone())
            .collect();
        for pod in old_pods {
            self.owners.remove(&pod);
            self.take(&pod);
        }

        let owner_uid = meta_str(&workload, "uid").unwrap_or_default().to_string();
        let (owner_kind, owner_name, owner_ref_uid) = if stateful {
            ("StatefulSet", name.clone(), owner_uid.clone())
        } else {
            ("ReplicaSet", revision.clone(), new_uid())
        };
        let owner_reference = json!([{
            "apiVersion": "apps/v1",
            "kind": owner_kind,
            "name": owner_name,
            "uid": owner_ref_uid,
            "controller": true,
            "blockOwnerDeletion": true,
        }]);

        let mut claims: Vec<(String, String)> = Vec::new(); // (volume name, claim name prefix)
        if stateful {
            let templates = workload
                .pointer("/spec/volumeClaimTemplates")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let delete_with_set = workload
                .pointer("/spec/persistentVolumeClaimRetentionPolicy/whenDeleted")
                .and_then(Value::as_str)
                == Some("Delete");
            for claim_template in &templates {
                let Some(volume) = claim_template
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                else {
                    continue;
                };
                claims.push((volume.to_string(), format!("{volume}-{name}")));
                for i in 0..replicas {
                    let claim_key = Key {
                        plural: "persistentvolumeclaims",
                        namespace: namespace.clone(),
                        name: format!("{volume}-{name}-{i}"),
                    };
                    if self.objects.contains_key(&claim_key) {
                        continue;
                    }
                    let labels = claim_template
                        .pointer("/metadata/labels")
                        .cloned()
                        .unwrap_or(json!({}));
                    let spec = claim_template.get("spec").cloned().unwrap_or(json!({}));
                    let mut metadata = controller_meta(&claim_key, labels, "v1");
                    if delete_with_set {
                        metadata.insert(
                            "ownerReferences".into(),
                            json!([{
                                "apiVersion": "apps/v1",
                                "kind": "StatefulSet",
                                "name": name,
                                "uid": owner_uid,
                                "controller": true,
                                "blockOwnerDeletion": true,
                            }]),
                        );
                        self.owners.insert(claim_key.clone(), key.clone());
                    }
                    let status = json!({
                        "phase": "Bound",
                        "accessModes": spec.get("accessModes").cloned().unwrap_or(json!([])),
                        "capacity": spec.pointer("/resources/requests").cloned().unwrap_or(json!({})),
                    });
                    let claim = json!({
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "metadata": metadata,
                        "spec": spec,
                        "status": status,
                    });
                    self.put(claim_key, claim);
                }
            }
        }

        let now = now();
        for i in 0..replicas {
            let pod_name = if stateful {
                format!("{name}-{i}")
            } else {
                format!("{name}-{}", random_suffix(5))
            };
            let pod_key = Key {
                plural: "pods",
                namespace: namespace.clone(),
                name: pod_name.clone(),
            };
            let mut labels = template
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if stateful {
                labels.insert("controller-revision-hash".into(), json!(revision));
                labels.insert("statefulset.kubernetes.io/pod-name".into(), json!(pod_name));
                labels.insert("apps.kubernetes.io/pod-index".into(), json!(i.to_string()));
            } else {
                labels.insert("pod-template-hash".into(), json!(hash));
            }
            let mut metadata = controller_meta(&pod_key, Value::Object(labels), "v1");
            if let Some(annotations) = template.pointer("/metadata/annotations") {
                metadata.insert("annotations".into(), annotations.clone());
            }
            if !stateful {
                metadata.insert("generateName".into(), json!(format!("{name}-")));
            }
            metadata.insert("ownerReferences".into(), owner_reference.clone());
            let mut spec = template
                .get("spec")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            spec.insert("nodeName".into(), json!("fake-node"));
            if stateful {
                spec.insert("hostname".into(), json!(pod_name));
                if let Some(service) = workload.pointer("/spec/serviceName") {
                    spec.insert("subdomain".into(), service.clone());
                }
                let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
                if let Some(volumes) = volumes.as_array_mut() {
                    for (volume, prefix) in &claims {
                        if !volumes
                            .iter()
                            .any(|v| v.get("name").and_then(Value::as_str) == Some(volume))
                        {
                            volumes.push(json!({
                                "name": volume,
                                "persistentVolumeClaim": {"claimName": format!("{prefix}-{i}")},
                            }));
                        }
                    }
                }
            }
            let containers: Vec<(String, String)> = spec
                .get("containers")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|c| {
                            (
                                c.get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or("main")
                                    .to_string(),
                                c.get("image")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let ip = self.next_pod_ip();
            let status = pod_status(&containers, failure.as_ref(), &ip, &now);
            let pod = json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": metadata,
                "spec": spec,
                "status": status,
            });
            self.put(pod_key.clone(), pod);
            self.owners.insert(pod_key, key.clone());
        }

        let ready = if failure.is_some() { 0 } else { replicas };
        let status = if stateful {
            let mut status = json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "readyReplicas": ready,
                "currentReplicas": replicas,
                "updatedReplicas": replicas,
                "currentRevision": revision,
                "updateRevision": revision,
                "collisionCount": 0,
            });
            if failure.is_none() {
                status["availableReplicas"] = json!(replicas);
            }
            status
        } else if failure.is_none() {
            json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "conditions": [
                    {
                        "type": "Available",
                        "status": "True",
                        "lastUpdateTime": now,
                        "lastTransitionTime": now,
                        "reason": "MinimumReplicasAvailable",
                        "message": "Deployment has minimum availability.",
                    },
                    {
                        "type": "Progressing",
                        "status": "True",
                        "lastUpdateTime": now,
                        "lastTransitionTime": now,
                        "reason": "NewReplicaSetAvailable",
                        "message": format!("ReplicaSet \"{revision}\" has successfully progressed."),
                    },
                ],
            })
        } else {
            json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": 0,
                "unavailableReplicas": replicas,
                "conditions": [
                    {
                        "type": "Available",
                        "status": "False",
                        "lastUpdateTime": now,
                        "lastTransitionTime": now,
                        "reason": "MinimumReplicasUnavailable",
                        "message": "Deployment does not have minimum availability.",
                    },
                    {
                        "type": "Progressing",
                        "status": "True",
                        "lastUpdateTime": now,
                        "lastTransitionTime": now,
                        "reason": "ReplicaSetUpdated",
                        "message": format!("ReplicaSet \"{revision}\" is progressing."),
                    },
                ],
            })
        };
        let mut updated = workload;
        updated["status"] = status;
        self.put(key.clone(), updated);
    }
}

fn pod_status(
    containers: &[(String, String)],
    failure: Option<&Failure>,
    ip: &str,
    now: &str,
) -> Value {
    let names: Vec<&str> = containers.iter().map(|(name, _)| name.as_str()).collect();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|(name, image)| match failure {
            None => json!({
                "name": name,
                "image": image,
                "imageID": format!("{image}@sha256:{}", "0".repeat(64)),
                "containerID": format!("containerd://{}", new_uid().replace('-', "")),
                "ready": true,
                "started": true,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }),
            Some(failure) => json!({
                "name": name,
                "image": image,
                "imageID": "",
                "ready": false,
                "started": false,
                "restartCount": 0,
                "state": {"waiting": {"reason": failure.reason, "message": failure.message}},
            }),
        })
        .collect();
    let condition = |kind: &str, ok: bool| {
        let mut condition = json!({
            "type": kind,
            "status": if ok { "True" } else { "False" },
            "lastProbeTime": null,
            "lastTransitionTime": now,
        });
        if !ok {
            condition["reason"] = json!("ContainersNotReady");
            condition["message"] = json!(format!(
                "containers with unready status: [{}]",
                names.join(" ")
            ));
        }
        condition
    };
    let ok = failure.is_none();
    json!({
        "phase": if ok { "Running" } else { "Pending" },
        "conditions": [
            condition("Initialized", true),
            condition("Ready", ok),
            condition("ContainersReady", ok),
            condition("PodScheduled", true),
        ],
        "hostIP": "10.89.0.2",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "qosClass": "BestEffort",
        "containerStatuses": statuses,
    })
}

/// Metadata of an object the fake's controller makes.
fn controller_meta(key: &Key, labels: Value, api_version: &str) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(key.name));
    metadata.insert("namespace".into(), json!(key.namespace));
    metadata.insert("uid".into(), json!(new_uid()));
    metadata.insert("creationTimestamp".into(), json!(now()));
    metadata.insert("generation".into(), json!(1));
    metadata.insert("labels".into(), labels);
    metadata.insert(
        "managedFields".into(),
        json!([{
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": {},
        }]),
    );
    metadata
}

// ---------------------------------------------------------------------------
// Small helpers

fn now() -> String {
    let second = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second(second)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "2025-01-01T00:00:00Z".to_string())
}

fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn random_suffix(length: usize) -> String {
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(length)
        .map(|b| NAME_ALPHABET[*b as usize % NAME_ALPHABET.len()] as char)
        .collect()
}

/// A stable 10-character hash, like a pod-template-hash.
fn short_hash(value: &Value) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    let mut n = hasher.finish();
    (0..10)
        .map(|_| {
            let c = NAME_ALPHABET[(n % NAME_ALPHABET.len() as u64) as usize] as char;
            n /= NAME_ALPHABET.len() as u64;
            c
        })
        .collect()
}

fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

fn meta_i64(object: &Value, field: &str) -> Option<i64> {
    object.get("metadata")?.get(field)?.as_i64()
}

fn set_meta(object: &mut Value, field: &str, value: Value) {
    if let Some(object) = object.as_object_mut() {
        let metadata = object.entry("metadata").or_insert_with(|| json!({}));
        if !metadata.is_object() {
            *metadata = json!({});
        }
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert(field.to_string(), value);
        }
    }
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

/// Everything but metadata and status: what a generation counts.
fn content(object: &Value) -> Map<String, Value> {
    object
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| *k != "metadata" && *k != "status")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Responses

type Reply = Result<HttpResponse, HttpResponse>;

fn json_response(code: u16, value: &Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(code).unwrap_or(StatusCode::OK))
        .content_type("application/json")
        .body(value.to_string())
}

fn status(
    code: u16,
    reason: &str,
    message: impl Into<String>,
    details: Option<Value>,
) -> HttpResponse {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message.into(),
        "reason": reason,
        "code": code,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    json_response(code, &body)
}

fn details(resource: &Resource, name: Option<&str>) -> Value {
    let mut details = Map::new();
    if let Some(name) = name {
        details.insert("name".into(), json!(name));
    }
    if !resource.group.is_empty() {
        details.insert("group".into(), json!(resource.group));
    }
    details.insert("kind".into(), json!(resource.plural));
    Value::Object(details)
}

fn not_found(resource: &Resource, name: &str) -> HttpResponse {
    status(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", resource.qualified()),
        Some(details(resource, Some(name))),
    )
}

fn bad_request(message: impl Into<String>) -> HttpResponse {
    status(400, "BadRequest", message, None)
}

fn no_such_path() -> HttpResponse {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource",
        Some(
            json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}),
        ),
    )
}

// ---------------------------------------------------------------------------
// Routing

enum Target {
    Version,
    Api,
    Apis,
    Group(&'static str),
    GroupVersion(&'static str),
    Collection {
        resource: &'static Resource,
        namespace: Option<String>,
    },
    Object {
        resource: &'static Resource,
        namespace: Option<String>,
        name: String,
    },
    PodLog {
        namespace: String,
        name: String,
    },
    Unknown,
}

fn parse_target(path: &str) -> Target {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["version"] => Target::Version,
        ["api"] => Target::Api,
        ["apis"] => Target::Apis,
        ["api", "v1"] => Target::GroupVersion(""),
        ["apis", group] => GROUPS
            .iter()
            .find(|g| *g == group)
            .map_or(Target::Unknown, |g| Target::Group(g)),
        ["apis", group, "v1"] => GROUPS
            .iter()
            .find(|g| *g == group)
            .map_or(Target::Unknown, |g| Target::GroupVersion(g)),
        ["api", "v1", rest @ ..] => resource_target("", "v1", rest),
        ["apis", group, version, rest @ ..] => resource_target(group, version, rest),
        _ => Target::Unknown,
    }
}

fn resource_target(group: &str, version: &str, rest: &[&str]) -> Target {
    let find = |plural: &str| {
        RESOURCES
            .iter()
            .find(|r| r.plural == plural && r.group == group && r.version == version)
    };
    match rest {
        [plural] => match find(plural) {
            Some(resource) => Target::Collection {
                resource,
                namespace: None,
            },
            None => Target::Unknown,
        },
        [plural, name] => match find(plural) {
            Some(resource) if !resource.namespaced => Target::Object {
                resource,
                namespace: None,
                name: name.to_string(),
            },
            _ => Target::Unknown,
        },
        ["namespaces", namespace, plural] => match find(plural) {
            Some(resource) if resource.namespaced => Target::Collection {
                resource,
                namespace: Some(namespace.to_string()),
            },
            _ => Target::Unknown,
        },
        ["namespaces", namespace, plural, name] => match find(plural) {
            Some(resource) if resource.namespaced => Target::Object {
                resource,
                namespace: Some(namespace.to_string()),
                name: name.to_string(),
            },
            _ => Target::Unknown,
        },
        ["namespaces", namespace, "pods", name, "log"] if group.is_empty() => Target::PodLog {
            namespace: namespace.to_string(),
            name: name.to_string(),
        },
        _ => Target::Unknown,
    }
}

struct Call {
    shared: Shared,
    params: Vec<(String, String)>,
    content_type: Option<String>,
    accept: String,
    body: String,
}

impl Call {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn metadata_only(&self) -> bool {
        self.accept.contains("as=PartialObjectMetadata")
    }

    fn dry_run(&self) -> bool {
        self.param("dryRun").is_some_and(|v| v == "All")
    }
}

async fn handle(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let header = |name: actix_web::http::header::HeaderName| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let method = request.method().as_str().to_string();
    let path = request.path().to_string();
    let query = request.query_string().to_string();
    let content_type = header(actix_web::http::header::CONTENT_TYPE);
    let accept = header(actix_web::http::header::ACCEPT).unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let shared: Shared = shared.get_ref().clone();
    lock(&shared).requests.push(RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        content_type: content_type.clone(),
        body: body.clone(),
    });
    let call = Call {
        shared,
        params: parse_query(&query),
        content_type,
        accept,
        body,
    };
    match dispatch(&method, &path, call) {
        Ok(response) | Err(response) => response,
    }
}

fn dispatch(method: &str, path: &str, call: Call) -> Reply {
    let target = parse_target(path);
    match (method, target) {
        ("GET", Target::Version) => Ok(json_response(
            200,
            &json!({
                "major": "1",
                "minor": "33",
                "gitVersion": "v1.33.0",
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean",
                "buildDate": "2025-04-23T00:00:00Z",
                "goVersion": "go1.24.2",
                "compiler": "gc",
                "platform": "linux/amd64",
            }),
        )),
        ("GET", Target::Api) => {
            let address = lock(&call.shared).address.clone();
            Ok(json_response(
                200,
                &json!({
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
                }),
            ))
        }
        ("GET", Target::Apis) => Ok(json_response(
            200,
            &json!({
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": GROUPS.iter().map(|g| api_group(g)).collect::<Vec<_>>(),
            }),
        )),
        ("GET", Target::Group(group)) => Ok(json_response(200, &api_group(group))),
        ("GET", Target::GroupVersion(group)) => Ok(json_response(200, &resource_list(group))),
        (
            "GET",
            Target::Object {
                resource,
                namespace,
                name,
            },
        ) => {
            forbidden(&call, "get", resource, namespace.as_deref(), Some(&name))?;
            get(&call, resource, namespace, name)
        }
        (
            "GET",
            Target::Collection {
                resource,
                namespace,
            },
        ) => {
            let watching = call.param("watch").is_some_and(|v| v == "true" || v == "1");
            let verb = if watching { "watch" } else { "list" };
            forbidden(&call, verb, resource, namespace.as_deref(), None)?;
            if watching {
                watch(&call, resource, namespace)
            } else {
                list(&call, resource, namespace)
            }
        }
        ("GET", Target::PodLog { namespace, name }) => {
            let pods = resource_for_plural("pods").expect("pods are known");
            forbidden_as(
                &call,
                "get",
                pods,
                "pods/log",
                Some(&namespace),
                Some(&name),
            )?;
            pod_log(&call, namespace, name)
        }
        (
            "PATCH",
            Target::Object {
                resource,
                namespace,
                name,
            },
        ) => {
            forbidden(&call, "patch", resource, namespace.as_deref(), Some(&name))?;
            apply(&call, resource, namespace, name)
        }
        (
            "POST",
            Target::Collection {
                resource,
                namespace,
            },
        ) => {
            forbidden(&call, "create", resource, namespace.as_deref(), None)?;
            if resource.namespaced && namespace.is_none() {
                return Err(no_such_path());
            }
            create(&call, resource, namespace)
        }
        (
            "DELETE",
            Target::Object {
                resource,
                namespace,
                name,
            },
        ) => {
            forbidden(&call, "delete", resource, namespace.as_deref(), Some(&name))?;
            delete(&call, resource, namespace, name)
        }
        (
            "DELETE",
            Target::Collection {
                resource,
                namespace,
            },
        ) => {
            forbidden(
                &call,
                "deletecollection",
                resource,
                namespace.as_deref(),
                None,
            )?;
            delete_collection(&call, resource, namespace)
        }
        (_, Target::Unknown) => Err(no_such_path()),
        (method, _) => Err(status(
            405,
            "MethodNotAllowed",
            format!("the fake API server does not implement {method} {path}"),
            None,
        )),
    }
}

fn api_group(group: &str) -> Value {
    json!({
        "name": group,
        "versions": [{"groupVersion": format!("{group}/v1"), "version": "v1"}],
        "preferredVersion": {"groupVersion": format!("{group}/v1"), "version": "v1"},
    })
}

fn resource_list(group: &str) -> Value {
    let group_version = if group.is_empty() {
        "v1".to_string()
    } else {
        format!("{group}/v1")
    };
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group == group)
        .map(|r| {
            let mut verbs = vec![
                "create", "delete", "get", "list", "patch", "update", "watch",
            ];
            if r.namespaced {
                verbs.insert(2, "deletecollection");
            }
            json!({
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": verbs,
                "shortNames": r.short,
            })
        })
        .collect();
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    })
}

fn forbidden(
    call: &Call,
    verb: &str,
    resource: &Resource,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Result<(), HttpResponse> {
    // For Namespace objects the real authorizer uses the name as the namespace.
    let namespace = match (resource.plural, namespace, name) {
        ("namespaces", None, Some(name)) => Some(name),
        _ => namespace,
    };
    forbidden_as(call, verb, resource, resource.plural, namespace, name)
}

fn forbidden_as(
    call: &Call,
    verb: &str,
    resource: &Resource,
    rbac_resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Result<(), HttpResponse> {
    let refused = lock(&call.shared)
        .forbidden
        .contains(&(verb.to_string(), rbac_resource.to_string()));
    if !refused {
        return Ok(());
    }
    let subject = match name {
        Some(name) => format!("{} \"{name}\"", resource.qualified()),
        None => resource.qualified(),
    };
    let scope = match namespace {
        Some(namespace) => format!("in the namespace \"{namespace}\""),
        None => "at the cluster scope".to_string(),
    };
    Err(status(
        403,
        "Forbidden",
        format!(
            "{subject} is forbidden: User \"{FAKE_USER}\" cannot {verb} resource \"{rbac_resource}\" in API group \"{}\" {scope}",
            resource.group
        ),
        Some(details(resource, name)),
    ))
}

fn key(resource: &'static Resource, namespace: Option<&str>, name: &str) -> Key {
    Key {
        plural: resource.plural,
        namespace: if resource.namespaced {
            namespace.unwrap_or_default().to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

/// The object as the client asked for it: whole, or metadata only.
fn present(call: &Call, object: &Value) -> Value {
    if call.metadata_only() {
        json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object.get("metadata").cloned().unwrap_or(json!({})),
        })
    } else {
        object.clone()
    }
}

// ---------------------------------------------------------------------------
// Verbs

fn get(call: &Call, resource: &'static Resource, namespace: Option<String>, name: String) -> Reply {
    let state = lock(&call.shared);
    match state
        .objects
        .get(&key(resource, namespace.as_deref(), &name))
    {
        Some(object) => Ok(json_response(200, &present(call, object))),
        None => Err(not_found(resource, &name)),
    }
}

fn list(call: &Call, resource: &'static Resource, namespace: Option<String>) -> Reply {
    let filter = Filter::new(call, resource, namespace)?;
    let state = lock(&call.shared);
    let items: Vec<Value> = state
        .objects
        .iter()
        .filter(|(key, object)| {
            filter.in_scope(key.plural, &key.namespace) && filter.matches(object)
        })
        .map(|(_, object)| present(call, object))
        .collect();
    Ok(json_response(
        200,
        &list_body(call, resource, state.rv, items),
    ))
}

fn list_body(call: &Call, resource: &Resource, rv: u64, items: Vec<Value>) -> Value {
    let (kind, api_version) = if call.metadata_only() {
        (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
        )
    } else {
        (format!("{}List", resource.kind), resource.api_version())
    };
    json!({
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    })
}

fn parse_body(call: &Call) -> Result<Value, HttpResponse> {
    let value = match serde_json::from_str::<Value>(&call.body) {
        Ok(value) => value,
        Err(json_error) => serde_saphyr::from_str::<Value>(&call.body).map_err(|yaml_error| {
            bad_request(format!(
                "the body of the request could not be decoded as JSON ({json_error}) or YAML ({yaml_error})"
            ))
        })?,
    };
    if !value.is_object() {
        return Err(bad_request("the body of the request must be an object"));
    }
    Ok(value)
}

fn check_kind(resource: &Resource, object: &Value) -> Result<(), HttpResponse> {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind.is_empty() {
        return Err(bad_request(format!(
            "Object 'Kind' is missing in '{object}'"
        )));
    }
    if api_version.is_empty() {
        return Err(bad_request(format!(
            "Object 'apiVersion' is missing in '{object}'"
        )));
    }
    if kind != resource.kind || api_version != resource.api_version() {
        return Err(bad_request(format!(
            "the body ({api_version}, Kind={kind}) does not match the URL's resource {} ({}, Kind={})",
            resource.qualified(),
            resource.api_version(),
            resource.kind
        )));
    }
    Ok(())
}

/// What the server would store for `incoming` (applied or created) over
/// `existing`: server-set metadata, defaults, the existing status and the
/// generation; resourceVersion is still the existing one.
fn prepare(
    state: &mut State,
    resource: &Resource,
    key: &Key,
    incoming: Value,
    existing: Option<&Value>,
    manager: &str,
    operation: &str,
) -> Value {
    let mut object = match incoming {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    object.remove("status");
    let mut metadata = match object.remove("metadata") {
        Some(Value::Object(metadata)) => metadata,
        _ => Map::new(),
    };
    for server_field in [
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        metadata.remove(server_field);
    }
    metadata.insert("name".into(), json!(key.name));
    if resource.namespaced {
        metadata.insert("namespace".into(), json!(key.namespace));
    } else {
        metadata.remove("namespace");
    }
    let old = |field: &str| {
        existing
            .and_then(|e| e.get("metadata"))
            .and_then(|m| m.get(field))
            .cloned()
    };
    metadata.insert("uid".into(), old("uid").unwrap_or_else(|| json!(new_uid())));
    metadata.insert(
        "creationTimestamp".into(),
        old("creationTimestamp").unwrap_or_else(|| json!(now())),
    );
    metadata.insert(
        "managedFields".into(),
        json!([{
            "manager": manager,
            "operation": operation,
            "apiVersion": resource.api_version(),
            "fieldsType": "FieldsV1",
            "fieldsV1": {},
        }]),
    );
    if let Some(rv) = old("resourceVersion") {
        metadata.insert("resourceVersion".into(), rv);
    }

    // Defaults the real server fills in.
    match resource.kind {
        "Namespace" => {
            let labels = metadata.entry("labels").or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert("kubernetes.io/metadata.name".into(), json!(key.name));
            }
            object.insert("spec".into(), json!({"finalizers": ["kubernetes"]}));
        }
        "Secret" => {
            if let Some(Value::Object(plain)) = object.remove("stringData") {
                use base64::Engine;
                let data = object.entry("data").or_insert_with(|| json!({}));
                if let Some(data) = data.as_object_mut() {
                    for (k, v) in plain {
                        let text = v
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string());
                        data.insert(
                            k,
                            json!(
                                base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
                            ),
                        );
                    }
                }
            }
            object.entry("type").or_insert_with(|| json!("Opaque"));
        }
        "Service" => {
            let old_ip = existing.and_then(|e| e.pointer("/spec/clusterIP")).cloned();
            let spec = object.entry("spec").or_insert_with(|| json!({}));
            if let Some(spec) = spec.as_object_mut() {
                let kind = spec
                    .entry("type")
                    .or_insert_with(|| json!("ClusterIP"))
                    .clone();
                if kind != json!("ExternalName") && !spec.contains_key("clusterIP") {
                    let ip = old_ip.unwrap_or_else(|| json!(state.next_cluster_ip()));
                    spec.insert("clusterIP".into(), ip.clone());
                    spec.insert("clusterIPs".into(), json!([ip]));
                }
                spec.entry("sessionAffinity")
                    .or_insert_with(|| json!("None"));
                if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                        port.entry("protocol").or_insert_with(|| json!("TCP"));
                        if let Some(number) = port.get("port").cloned() {
                            port.entry("targetPort").or_insert(number);
                        }
                    }
                }
            }
        }
        "Deployment" | "StatefulSet" => {
            let spec = object.entry("spec").or_insert_with(|| json!({}));
            if let Some(spec) = spec.as_object_mut() {
                spec.entry("replicas").or_insert_with(|| json!(1));
            }
        }
        _ => {}
    }

    match existing.and_then(|e| e.get("status")) {
        Some(status) => {
            object.insert("status".into(), status.clone());
        }
        None => match resource.kind {
            "Namespace" => {
                object.insert("status".into(), json!({"phase": "Active"}));
            }
            "PersistentVolumeClaim" => {
                let spec = object.get("spec").cloned().unwrap_or(json!({}));
                object.insert(
                    "status".into(),
                    json!({
                        "phase": "Bound",
                        "accessModes": spec.get("accessModes").cloned().unwrap_or(json!([])),
                        "capacity": spec.pointer("/resources/requests").cloned().unwrap_or(json!({})),
                    }),
                );
            }
            _ => {}
        },
    }

    let candidate_content = content(&Value::Object(object.clone()));
    let generation = match existing {
        None => 1,
        Some(existing) => {
            let previous = meta_i64(existing, "generation").unwrap_or(1);
            if content(existing) == candidate_content {
                previous
            } else {
                previous + 1
            }
        }
    };
    metadata.insert("generation".into(), json!(generation));
    object.insert("metadata".into(), Value::Object(metadata));
    Value::Object(object)
}

fn apply(
    call: &Call,
    resource: &'static Resource,
    namespace: Option<String>,
    name: String,
) -> Reply {
    let content_type = call.content_type.as_deref().unwrap_or_default();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if mime != "application/apply-patch+yaml" {
        return Err(status(
            415,
            "UnsupportedMediaType",
            format!(
                "the fake API server only implements server-side apply (application/apply-patch+yaml), not {:?}",
                content_type
            ),
            None,
        ));
    }
    let manager = match call.param("fieldManager") {
        Some(manager) if !manager.is_empty() => manager.to_string(),
        _ => {
            return Err(bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
    };
    let applied = parse_body(call)?;
    check_kind(resource, &applied)?;
    if let Some(body_name) = meta_str(&applied, "name")
        && body_name != name
    {
        return Err(bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let key = key(resource, namespace.as_deref(), &name);
    let shared = call.shared.clone();
    let mut state = lock(&shared);
    if resource.namespaced && !state.namespace_exists(&key.namespace) {
        let namespaces = resource_for_plural("namespaces").expect("namespaces are known");
        return Err(not_found(namespaces, &key.namespace));
    }
    let existing = state.objects.get(&key).cloned();
    if let (Some(wanted), Some(existing)) =
        (meta_str(&applied, "resourceVersion"), existing.as_ref())
        && meta_str(existing, "resourceVersion") != Some(wanted)
    {
        return Err(conflict(resource, &name));
    }
    let candidate = prepare(
        &mut state,
        resource,
        &key,
        applied,
        existing.as_ref(),
        &manager,
        "Apply",
    );
    if let Some(existing) = &existing
        && let Some(refused) = immutable_change(resource, &name, existing, &candidate)
    {
        return Err(refused);
    }
    let code = if existing.is_some() { 200 } else { 201 };
    if existing.as_ref() == Some(&candidate) || call.dry_run() {
        return Ok(json_response(code, &candidate));
    }
    let stored = state.put(key.clone(), candidate);
    let delay = state.ready_delay;
    drop(state);
    after_store(&shared, resource, &key, existing.as_ref(), &stored, delay);
    Ok(json_response(code, &stored))
}

/// What the real API server's validation refuses to change on an existing
/// object, in its words: a StatefulSet's spec beyond the fields it lets
/// change (so its `volumeClaimTemplates`, `selector`, `serviceName`), and a
/// Deployment's selector. The list is the API server's, written here apart
/// from deckhand's own (`diff::refused_by_kubernetes`) on purpose: the fake
/// must not share a mistake with the code it tests.
fn immutable_change(
    resource: &Resource,
    name: &str,
    existing: &Value,
    candidate: &Value,
) -> Option<HttpResponse> {
    let message = match resource.kind {
        "StatefulSet" => {
            let frozen = |object: &Value| {
                let mut spec = object["spec"].as_object().cloned().unwrap_or_default();
                for mutable in [
                    "replicas",
                    "ordinals",
                    "template",
                    "updateStrategy",
                    "persistentVolumeClaimRetentionPolicy",
                    "minReadySeconds",
                ] {
                    spec.remove(mutable);
                }
                spec
            };
            (frozen(existing) != frozen(candidate)).then(|| {
                format!(
                    "StatefulSet.apps \"{name}\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
                )
            })
        }
        "Deployment" => (existing["spec"]["selector"] != candidate["spec"]["selector"]).then(|| {
            format!(
                "Deployment.apps \"{name}\" is invalid: spec.selector: Invalid value: {}: field is immutable",
                candidate["spec"]["selector"]
            )
        }),
        _ => None,
    }?;
    Some(status(
        422,
        "Invalid",
        message,
        Some(details(resource, Some(name))),
    ))
}

fn conflict(resource: &Resource, name: &str) -> HttpResponse {
    status(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            resource.qualified()
        ),
        Some(details(resource, Some(name))),
    )
}

/// Starts the ready timer of a workload whose spec is new or changed.
fn after_store(
    shared: &Shared,
    resource: &Resource,
    key: &Key,
    existing: Option<&Value>,
    stored: &Value,
    delay: Duration,
) {
    if !resource.is_workload() {
        return;
    }
    let generation = meta_i64(stored, "generation").unwrap_or(1);
    if existing.is_some_and(|e| meta_i64(e, "generation") == Some(generation)) {
        return;
    }
    let uid = meta_str(stored, "uid").unwrap_or_default().to_string();
    let shared = shared.clone();
    let key = key.clone();
    actix_web::rt::spawn(async move {
        actix_web::rt::time::sleep(delay).await;
        lock(&shared).rollout(&key, &uid, generation);
    });
}

fn create(call: &Call, resource: &'static Resource, namespace: Option<String>) -> Reply {
    let mut incoming = parse_body(call)?;
    check_kind(resource, &incoming)?;
    let name = match (
        meta_str(&incoming, "name"),
        meta_str(&incoming, "generateName"),
    ) {
        (Some(name), _) if !name.is_empty() => name.to_string(),
        (_, Some(prefix)) => format!("{prefix}{}", random_suffix(5)),
        _ => {
            return Err(status(
                422,
                "Invalid",
                format!(
                    "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                    resource.kind
                ),
                None,
            ));
        }
    };
    set_meta(&mut incoming, "name", json!(name));
    let manager = call.param("fieldManager").unwrap_or("deckhand").to_string();
    let key = key(resource, namespace.as_deref(), &name);
    let shared = call.shared.clone();
    let mut state = lock(&shared);
    if resource.namespaced && !state.namespace_exists(&key.namespace) {
        let namespaces = resource_for_plural("namespaces").expect("namespaces are known");
        return Err(not_found(namespaces, &key.namespace));
    }
    if state.objects.contains_key(&key) {
        return Err(status(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", resource.qualified()),
            Some(details(resource, Some(&name))),
        ));
    }
    let candidate = prepare(
        &mut state, resource, &key, incoming, None, &manager, "Update",
    );
    if call.dry_run() {
        return Ok(json_response(201, &candidate));
    }
    let stored = state.put(key.clone(), candidate);
    let delay = state.ready_delay;
    drop(state);
    after_store(&shared, resource, &key, None, &stored, delay);
    Ok(json_response(201, &stored))
}

fn delete(
    call: &Call,
    resource: &'static Resource,
    namespace: Option<String>,
    name: String,
) -> Reply {
    let key = key(resource, namespace.as_deref(), &name);
    let mut state = lock(&call.shared);
    if call.dry_run() {
        return match state.objects.get(&key) {
            Some(object) => Ok(json_response(200, object)),
            None => Err(not_found(resource, &name)),
        };
    }
    let Some(mut object) = state.delete(&key) else {
        return Err(not_found(resource, &name));
    };
    if resource.kind == "Namespace" {
        // The real server answers while the namespace is still terminating.
        set_meta(&mut object, "deletionTimestamp", json!(now()));
        object["status"] = json!({"phase": "Terminating"});
    }
    Ok(json_response(200, &object))
}

fn delete_collection(call: &Call, resource: &'static Resource, namespace: Option<String>) -> Reply {
    if !resource.namespaced {
        return Err(status(
            405,
            "MethodNotAllowed",
            format!(
                "the server does not allow this method on the requested resource ({})",
                resource.plural
            ),
            Some(details(resource, None)),
        ));
    }
    let filter = Filter::new(call, resource, namespace)?;
    let mut state = lock(&call.shared);
    let keys: Vec<Key> = state
        .objects
        .iter()
        .filter(|(key, object)| {
            filter.in_scope(key.plural, &key.namespace) && filter.matches(object)
        })
        .map(|(key, _)| key.clone())
        .collect();
    let items: Vec<Value> = if call.dry_run() {
        keys.iter()
            .filter_map(|k| state.objects.get(k).cloned())
            .collect()
    } else {
        keys.iter().filter_map(|k| state.delete(k)).collect()
    };
    let rv = state.rv;
    drop(state);
    Ok(json_response(200, &list_body(call, resource, rv, items)))
}

fn pod_log(call: &Call, namespace: String, name: String) -> Reply {
    let pods = resource_for_plural("pods").expect("pods are known");
    let state = lock(&call.shared);
    let Some(pod) = state.objects.get(&key(pods, Some(&namespace), &name)) else {
        return Err(not_found(pods, &name));
    };
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let wanted = call.param("container");
    let container = statuses
        .iter()
        .find(|c| wanted.is_none_or(|w| c.get("name").and_then(Value::as_str) == Some(w)));
    if let Some(container) = container
        && let Some(reason) = container
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
    {
        let container_name = container
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let why = if reason.contains("ImagePull") || reason == "InvalidImageName" {
            "trying and failing to pull image".to_string()
        } else {
            reason.to_string()
        };
        return Err(bad_request(format!(
            "container \"{container_name}\" in pod \"{name}\" is waiting to start: {why}"
        )));
    }
    Ok(HttpResponse::Ok().content_type("text/plain").body(""))
}

// ---------------------------------------------------------------------------
// Watch

fn watch(call: &Call, resource: &'static Resource, namespace: Option<String>) -> Reply {
    let filter = Filter::new(call, resource, namespace)?;
    let timeout = match call.param("timeoutSeconds") {
        None => 60,
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| bad_request(format!("invalid timeoutSeconds: {text:?}")))?,
    };
    let metadata_only = call.metadata_only();
    let mut state = lock(&call.shared);
    let cut = state.cut_watches > 0;
    if cut {
        state.cut_watches -= 1;
    }
    let receiver = state.changed.subscribe();
    let mut pending = String::new();
    let cursor = match call.param("resourceVersion") {
        None | Some("") | Some("0") => {
            // No starting point: the current objects first, as ADDED events.
            for (key, object) in &state.objects {
                if filter.in_scope(key.plural, &key.namespace) && filter.matches(object) {
                    pending.push_str(&event_line("ADDED", object, metadata_only));
                }
            }
            state.rv
        }
        Some(text) => text.parse::<u64>().map_err(|_| {
            bad_request(format!(
                "invalid resourceVersion {text:?}: it is not a number"
            ))
        })?,
    };
    drop(state);
    let watcher = Watcher {
        cut,
        shared: call.shared.clone(),
        filter,
        metadata_only,
        cursor,
        pending,
        deadline: tokio::time::Instant::now() + Duration::from_secs(timeout),
        receiver,
    };
    let stream = futures_util::stream::unfold(watcher, |mut watcher| async move {
        loop {
            if !watcher.pending.is_empty() {
                let chunk = web::Bytes::from(std::mem::take(&mut watcher.pending));
                return Some((Ok::<_, std::io::Error>(chunk), watcher));
            }
            if watcher.cut {
                // What was pending went out; now the connection breaks.
                return Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "watch stream cut by the test",
                    )),
                    watcher,
                ));
            }
            watcher.collect();
            if !watcher.pending.is_empty() {
                continue;
            }
            match tokio::time::timeout_at(watcher.deadline, watcher.receiver.changed()).await {
                Ok(Ok(())) => continue,
                _ => return None, // timed out, or the server is going away
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-cache, private"))
        .streaming(stream))
}

struct Watcher {
    /// Break off after what is pending (a reset stream).
    cut: bool,
    shared: Shared,
    filter: Filter,
    metadata_only: bool,
    /// Events up to this resourceVersion have been looked at.
    cursor: u64,
    pending: String,
    deadline: tokio::time::Instant,
    receiver: tokio::sync::watch::Receiver<u64>,
}

impl Watcher {
    fn collect(&mut self) {
        let state = lock(&self.shared);
        let start = state.events.partition_point(|e| e.rv <= self.cursor);
        for event in &state.events[start..] {
            if !self.filter.in_scope(event.plural, &event.namespace) {
                continue;
            }
            let now_matches = self.filter.matches(&event.object);
            let matched_before = event
                .old
                .as_ref()
                .is_some_and(|old| self.filter.matches(old));
            let kind = match event.kind {
                EventType::Added | EventType::Deleted if now_matches => Some(event.kind.as_str()),
                EventType::Modified => match (matched_before, now_matches) {
                    (true, true) => Some("MODIFIED"),
                    (false, true) => Some("ADDED"),
                    (true, false) => Some("DELETED"),
                    (false, false) => None,
                },
                _ => None,
            };
            if let Some(kind) = kind {
                self.pending
                    .push_str(&event_line(kind, &event.object, self.metadata_only));
            }
        }
        self.cursor = self.cursor.max(state.rv);
    }
}

fn event_line(kind: &str, object: &Value, metadata_only: bool) -> String {
    let object = if metadata_only {
        json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object.get("metadata").cloned().unwrap_or(json!({})),
        })
    } else {
        object.clone()
    };
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    line
}

// ---------------------------------------------------------------------------
// Selectors

#[derive(Debug)]
enum LabelRequirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

fn parse_label_selector(selector: &str) -> Result<Vec<LabelRequirement>, String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    for c in selector.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    terms.push(current);
    let mut requirements = Vec::new();
    for term in terms.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let invalid =
            || format!("unable to parse requirement: {term:?} in label selector {selector:?}");
        let requirement = if let Some(open) = term.find('(') {
            let close = term
                .rfind(')')
                .filter(|close| *close > open && term[close + 1..].trim().is_empty())
                .ok_or_else(invalid)?;
            let values: Vec<String> = term[open + 1..close]
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            match term[..open]
                .split_whitespace()
                .collect::<Vec<_>>()
                .as_slice()
            {
                [key, "in"] => LabelRequirement::In(key.to_string(), values),
                [key, "notin"] => LabelRequirement::NotIn(key.to_string(), values),
                _ => return Err(invalid()),
            }
        } else if let Some(key) = term.strip_prefix('!') {
            LabelRequirement::NotExists(key.trim().to_string())
        } else if let Some((key, value)) = term.split_once("!=") {
            LabelRequirement::NotEquals(key.trim().to_string(), value.trim().to_string())
        } else if let Some((key, value)) = term.split_once("==") {
            LabelRequirement::Equals(key.trim().to_string(), value.trim().to_string())
        } else if let Some((key, value)) = term.split_once('=') {
            LabelRequirement::Equals(key.trim().to_string(), value.trim().to_string())
        } else if term.contains(char::is_whitespace) {
            return Err(invalid());
        } else {
            LabelRequirement::Exists(term.to_string())
        };
        let key = match &requirement {
            LabelRequirement::Equals(k, _)
            | LabelRequirement::NotEquals(k, _)
            | LabelRequirement::In(k, _)
            | LabelRequirement::NotIn(k, _)
            | LabelRequirement::Exists(k)
            | LabelRequirement::NotExists(k) => k,
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(invalid());
        }
        requirements.push(requirement);
    }
    Ok(requirements)
}

impl LabelRequirement {
    fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        match self {
            LabelRequirement::Equals(k, v) => value(k) == Some(v.as_str()),
            LabelRequirement::NotEquals(k, v) => value(k) != Some(v.as_str()),
            LabelRequirement::In(k, vs) => value(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelRequirement::NotIn(k, vs) => !value(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelRequirement::Exists(k) => value(k).is_some(),
            LabelRequirement::NotExists(k) => value(k).is_none(),
        }
    }
}

#[derive(Debug)]
struct FieldRequirement {
    pointer: &'static str,
    value: String,
    negated: bool,
}

fn parse_field_selector(
    selector: &str,
    resource: &Resource,
) -> Result<Vec<FieldRequirement>, String> {
    let mut requirements = Vec::new();
    for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (field, value, negated) = if let Some((f, v)) = term.split_once("!=") {
            (f, v, true)
        } else if let Some((f, v)) = term.split_once("==") {
            (f, v, false)
        } else if let Some((f, v)) = term.split_once('=') {
            (f, v, false)
        } else {
            return Err(format!(
                "invalid selector: '{selector}'; can't understand '{term}'"
            ));
        };
        let pointer = match (field.trim(), resource.kind) {
            ("metadata.name", _) => "/metadata/name",
            ("metadata.namespace", _) => "/metadata/namespace",
            ("status.phase", "Pod") => "/status/phase",
            ("spec.nodeName", "Pod") => "/spec/nodeName",
            (other, _) => return Err(format!("field label not supported: {other}")),
        };
        requirements.push(FieldRequirement {
            pointer,
            value: value.trim().to_string(),
            negated,
        });
    }
    Ok(requirements)
}

struct Filter {
    plural: &'static str,
    namespace: Option<String>,
    labels: Vec<LabelRequirement>,
    fields: Vec<FieldRequirement>,
}

impl Filter {
    fn new(
        call: &Call,
        resource: &'static Resource,
        namespace: Option<String>,
    ) -> Result<Filter, HttpResponse> {
        let labels = parse_label_selector(call.param("labelSelector").unwrap_or_default())
            .map_err(bad_request)?;
        let fields =
            parse_field_selector(call.param("fieldSelector").unwrap_or_default(), resource)
                .map_err(bad_request)?;
        Ok(Filter {
            plural: resource.plural,
            namespace,
            labels,
            fields,
        })
    }

    fn in_scope(&self, plural: &str, namespace: &str) -> bool {
        plural == self.plural && self.namespace.as_deref().is_none_or(|ns| ns == namespace)
    }

    fn matches(&self, object: &Value) -> bool {
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object);
        self.labels.iter().all(|r| r.matches(labels))
            && self.fields.iter().all(|r| {
                let actual = object
                    .pointer(r.pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                (actual == r.value) != r.negated
            })
    }
}
