//! Proves the fake Kubernetes API server (`tests/common/fake_kube.rs`) behaves
//! like the real one for the calls the Kubernetes executor makes: over raw
//! HTTP with reqwest, and end to end with a `kube` client.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::fake_kube::FakeKube;
use reqwest::blocking::Client;
use serde_json::{Value, json};

const APPLY: &str = "application/apply-patch+yaml";

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

fn fast_fake() -> FakeKube {
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_millis(50));
    fake
}

fn send(request: reqwest::blocking::RequestBuilder) -> (u16, Value) {
    let response = request.send().expect("request answered");
    let code = response.status().as_u16();
    let text = response.text().expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (code, value)
}

fn get(fake: &FakeKube, path: &str) -> (u16, Value) {
    send(client().get(format!("{}{path}", fake.url)))
}

fn apply(fake: &FakeKube, path: &str, body: &Value) -> (u16, Value) {
    send(
        client()
            .patch(format!(
                "{}{path}?fieldManager=deckhand&force=true",
                fake.url
            ))
            .header("Content-Type", APPLY)
            .body(body.to_string()),
    )
}

fn delete(fake: &FakeKube, path: &str) -> (u16, Value) {
    send(client().delete(format!("{}{path}", fake.url)))
}

fn namespace(fake: &FakeKube, name: &str) -> Value {
    let (code, body) = apply(
        fake,
        &format!("/api/v1/namespaces/{name}"),
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    );
    assert_eq!(code, 201, "{body}");
    body
}

fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name, "deckhand.dev/stack": "demo"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    })
}

fn secret(name: &str, stack: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": {"deckhand.dev/stack": stack}},
        "stringData": {"password": "hunter2"},
    })
}

fn rv(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion is a string")
        .parse()
        .expect("resourceVersion is a number")
}

/// Polls `path` until `done` holds for the body, for at most 2 s.
fn wait_for(fake: &FakeKube, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (code, body) = get(fake, path);
        if code == 200 && done(&body) {
            return body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{path} never got there: {body}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads watch lines on a thread, so the test can wait on them with a timeout.
fn watch_lines(fake: &FakeKube, path_and_query: &str) -> mpsc::Receiver<Value> {
    let response = client()
        .get(format!("{}{path_and_query}", fake.url))
        .send()
        .expect("watch answered");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(response).lines() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() {
                continue;
            }
            let event: Value = serde_json::from_str(&line).expect("each watch line is JSON");
            if send.send(event).is_err() {
                break;
            }
        }
    });
    receive
}

fn next_event(events: &mpsc::Receiver<Value>) -> Value {
    events
        .recv_timeout(Duration::from_secs(2))
        .expect("a watch event within 2 s")
}

#[test]
fn version_and_discovery() {
    let fake = FakeKube::start();
    let (code, version) = get(&fake, "/version");
    assert_eq!(code, 200);
    assert_eq!(version["major"], "1");
    assert_eq!(version["minor"], "33");
    assert_eq!(version["gitVersion"], "v1.33.0");
    assert_eq!(version["platform"], "linux/amd64");
    let (_, api) = get(&fake, "/api");
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"], json!(["v1"]));
    let (_, apis) = get(&fake, "/apis");
    assert_eq!(apis["kind"], "APIGroupList");
    let versions: Vec<&str> = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["preferredVersion"]["groupVersion"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["apps/v1", "networking.k8s.io/v1"]);
    let (_, apps) = get(&fake, "/apis/apps/v1");
    assert_eq!(apps["resources"][0]["name"], "deployments");
}

#[test]
fn apply_creates_then_identical_apply_keeps_resource_version() {
    let fake = fast_fake();
    namespace(&fake, "demo");
    let path = "/apis/apps/v1/namespaces/demo/deployments/web";
    let (code, created) = apply(&fake, path, &deployment("web", 1, "nginx:1"));
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["kind"], "Deployment");
    assert_eq!(created["metadata"]["namespace"], "demo");
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(
        created["metadata"]["managedFields"][0]["manager"],
        "deckhand"
    );
    assert_eq!(
        created["metadata"]["managedFields"][0]["operation"],
        "Apply"
    );
    assert_eq!(
        created["metadata"]["managedFields"][0]["apiVersion"],
        "apps/v1"
    );
    let uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    assert!(!uid.is_empty());
    assert!(created["metadata"]["creationTimestamp"].is_string());

    // Let the controller settle, then apply the same content again.
    let ready = wait_for(&fake, path, |d| d["status"]["readyReplicas"] == 1);
    let (code, again) = apply(&fake, path, &deployment("web", 1, "nginx:1"));
    assert_eq!(code, 200);
    assert_eq!(rv(&again), rv(&ready), "an identical apply changes nothing");
    assert_eq!(again["metadata"]["generation"], 1);
    assert_eq!(again["metadata"]["uid"], uid.as_str());
    assert_eq!(again["status"], ready["status"], "apply keeps the status");

    // A new label changes the object but not its spec.
    let mut labelled = deployment("web", 1, "nginx:1");
    labelled["metadata"]["labels"]["tier"] = json!("front");
    let (_, relabelled) = apply(&fake, path, &labelled);
    assert!(rv(&relabelled) > rv(&ready));
    assert_eq!(relabelled["metadata"]["generation"], 1);
    assert_eq!(relabelled["metadata"]["labels"]["tier"], "front");

    // The object is what the fake stores.
    let stored = fake
        .object("Deployment", Some("demo"), "web")
        .expect("stored");
    assert_eq!(stored, relabelled);
    assert!(fake.objects().iter().any(|o| o["kind"] == "Namespace"));

    // A secret's stringData becomes base64 data, like on the real server.
    let (code, stored) = apply(
        &fake,
        "/api/v1/namespaces/demo/secrets/db",
        &secret("db", "demo"),
    );
    assert_eq!(code, 201);
    assert_eq!(stored["data"]["password"], "aHVudGVyMg==");
    assert_eq!(stored["type"], "Opaque");
    assert!(stored.get("stringData").is_none());
    let (code, _) = apply(
        &fake,
        "/api/v1/namespaces/demo/secrets/db",
        &secret("db", "demo"),
    );
    assert_eq!(code, 200);
    assert_eq!(
        rv(&fake.object("secrets", Some("demo"), "db").unwrap()),
        rv(&stored)
    );
}

#[test]
fn changed_spec_bumps_generation_and_restarts_the_delay() {
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_millis(150));
    namespace(&fake, "demo");
    let path = "/apis/apps/v1/namespaces/demo/deployments/web";
    let (_, first) = apply(&fake, path, &deployment("web", 1, "nginx:1"));
    wait_for(&fake, path, |d| d["status"]["observedGeneration"] == 1);
    let (code, second) = apply(&fake, path, &deployment("web", 2, "nginx:2"));
    assert_eq!(code, 200);
    assert_eq!(second["metadata"]["generation"], 2);
    assert!(rv(&second) > rv(&first));
    assert_eq!(second["metadata"]["uid"], first["metadata"]["uid"]);
    // Until the delay has passed again, the status lags behind.
    assert_eq!(second["status"]["observedGeneration"], 1);
    let done = wait_for(&fake, path, |d| d["status"]["observedGeneration"] == 2);
    assert_eq!(done["status"]["readyReplicas"], 2);
    let (_, pods) = get(
        &fake,
        "/api/v1/namespaces/demo/pods?labelSelector=app%3Dweb",
    );
    let images: Vec<&str> = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["spec"]["containers"][0]["image"].as_str().unwrap())
        .collect();
    assert_eq!(images, ["nginx:2", "nginx:2"], "the old pods are replaced");
}

#[test]
fn deployment_becomes_ready_after_the_delay_with_pods() {
    let fake = fast_fake();
    namespace(&fake, "demo");
    let path = "/apis/apps/v1/namespaces/demo/deployments/web";
    let (_, created) = apply(&fake, path, &deployment("web", 2, "nginx:1"));
    assert!(
        created["status"]["readyReplicas"].is_null(),
        "not ready at once"
    );
    let ready = wait_for(&fake, path, |d| !d["status"].is_null());
    let status = &ready["status"];
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(status["replicas"], 2);
    assert_eq!(status["readyReplicas"], 2);
    assert_eq!(status["availableReplicas"], 2);
    assert_eq!(status["updatedReplicas"], 2);
    let progressing = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap();
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
    // A Deployment's selector is immutable, as on the real server.
    let mut moved = deployment("web", 2, "nginx:1");
    moved["spec"]["selector"]["matchLabels"]["app"] = json!("elsewhere");
    let (code, refused) = apply(&fake, path, &moved);
    assert_eq!(code, 422, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("spec.selector: Invalid value"),
        "{refused}"
    );

    let (_, pods) = get(
        &fake,
        "/api/v1/namespaces/demo/pods?labelSelector=app%3Dweb",
    );
    assert_eq!(pods["kind"], "PodList");
    let pods = pods["items"].as_array().unwrap();
    assert_eq!(pods.len(), 2);
    for pod in pods {
        let name = pod["metadata"]["name"].as_str().unwrap();
        assert!(
            name.starts_with("web-") && name.len() == "web-".len() + 5,
            "{name}"
        );
        assert_eq!(pod["kind"], "Pod");
        assert_eq!(pod["metadata"]["labels"]["app"], "web");
        assert_eq!(pod["status"]["phase"], "Running");
        assert_eq!(pod["status"]["containerStatuses"][0]["ready"], true);
        assert_eq!(pod["status"]["containerStatuses"][0]["name"], "main");
    }
    let (code, log) = send(client().get(format!(
        "{}/api/v1/namespaces/demo/pods/{}/log",
        fake.url,
        pods[0]["metadata"]["name"].as_str().unwrap()
    )));
    assert_eq!((code, log), (200, json!("")));
}

#[test]
fn statefulset_gets_numbered_pods_and_claims_that_outlive_it() {
    let fake = fast_fake();
    namespace(&fake, "demo");
    let path = "/apis/apps/v1/namespaces/demo/statefulsets/db";
    let set = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "postgres", "image": "postgres:17"}]},
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data", "labels": {"app": "db"}},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }],
        },
    });
    assert_eq!(apply(&fake, path, &set).0, 201);
    // Like the real server: the claim templates of an existing StatefulSet
    // cannot change (422 Invalid), its replicas and template can.
    let mut bigger = set.clone();
    bigger["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] =
        json!("2Gi");
    let (code, refused) = apply(&fake, path, &bigger);
    assert_eq!(
        (code, refused["reason"].as_str()),
        (422, Some("Invalid")),
        "{refused}"
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("updates to statefulset spec for fields other than"),
        "{refused}"
    );
    let ready = wait_for(&fake, path, |s| s["status"]["readyReplicas"] == 2);
    assert_eq!(ready["status"]["currentReplicas"], 2);
    assert_eq!(ready["status"]["updatedReplicas"], 2);
    assert_eq!(ready["status"]["observedGeneration"], 1);
    for i in 0..2 {
        let pod = fake
            .object("Pod", Some("demo"), &format!("db-{i}"))
            .expect("pod");
        assert_eq!(pod["status"]["phase"], "Running");
        let claim = fake
            .object(
                "PersistentVolumeClaim",
                Some("demo"),
                &format!("data-db-{i}"),
            )
            .expect("claim");
        assert_eq!(claim["metadata"]["labels"]["app"], "db");
        assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
    }
    let (code, deleted) = delete(&fake, path);
    assert_eq!(code, 200);
    assert_eq!(deleted["metadata"]["name"], "db");
    assert!(fake.object("Pod", Some("demo"), "db-0").is_none());
    let (_, claims) = get(
        &fake,
        "/api/v1/namespaces/demo/persistentvolumeclaims?labelSelector=app%3Ddb",
    );
    assert_eq!(claims["items"].as_array().unwrap().len(), 2, "claims stay");
}

#[test]
fn failed_workload_pods_wait_with_the_reason() {
    let fake = fast_fake();
    fake.fail_workload(
        "broken",
        "ImagePullBackOff",
        "Back-off pulling image \"nope:1\"",
    );
    namespace(&fake, "demo");
    let path = "/apis/apps/v1/namespaces/demo/deployments/broken-web";
    apply(&fake, path, &deployment("broken-web", 1, "nope:1"));
    let settled = wait_for(&fake, path, |d| !d["status"].is_null());
    let status = &settled["status"];
    assert_eq!(status["readyReplicas"], 0);
    assert!(status.get("availableReplicas").is_none());
    let available = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Available")
        .unwrap();
    assert_eq!(available["status"], "False");

    let (_, pods) = get(
        &fake,
        "/api/v1/namespaces/demo/pods?labelSelector=app%3Dbroken-web",
    );
    let pod = &pods["items"][0];
    assert_eq!(pod["status"]["phase"], "Pending");
    let container = &pod["status"]["containerStatuses"][0];
    assert_eq!(container["ready"], false);
    assert_eq!(container["state"]["waiting"]["reason"], "ImagePullBackOff");
    assert_eq!(
        container["state"]["waiting"]["message"],
        "Back-off pulling image \"nope:1\""
    );
    let (code, log) = get(
        &fake,
        &format!(
            "/api/v1/namespaces/demo/pods/{}/log",
            pod["metadata"]["name"].as_str().unwrap()
        ),
    );
    assert_eq!(code, 400);
    assert!(
        log["message"]
            .as_str()
            .unwrap()
            .contains("is waiting to start")
    );
}

#[test]
fn list_filters_by_label_and_field_selectors() {
    let fake = fast_fake();
    namespace(&fake, "demo");
    namespace(&fake, "other");
    apply(
        &fake,
        "/api/v1/namespaces/demo/secrets/a",
        &secret("a", "one"),
    );
    apply(
        &fake,
        "/api/v1/namespaces/demo/secrets/b",
        &secret("b", "two"),
    );
    apply(
        &fake,
        "/api/v1/namespaces/other/secrets/c",
        &secret("c", "one"),
    );
    let names = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (code, all) = get(&fake, "/api/v1/namespaces/demo/secrets?limit=500");
    assert_eq!(code, 200);
    assert_eq!(all["kind"], "SecretList");
    assert_eq!(all["apiVersion"], "v1");
    assert!(all["metadata"]["resourceVersion"].is_string());
    assert!(all["metadata"].get("continue").is_none());
    assert_eq!(all["items"][0]["kind"], "Secret");
    assert_eq!(all["items"][0]["apiVersion"], "v1");
    assert_eq!(names(&all), ["a", "b"]);
    let (_, one) = get(
        &fake,
        "/api/v1/namespaces/demo/secrets?labelSelector=deckhand.dev%2Fstack%3Done",
    );
    assert_eq!(names(&one), ["a"]);
    let (_, by_name) = get(
        &fake,
        "/api/v1/namespaces/demo/secrets?fieldSelector=metadata.name%3Db",
    );
    assert_eq!(names(&by_name), ["b"]);
    let (_, everywhere) = get(
        &fake,
        "/api/v1/secrets?labelSelector=deckhand.dev%2Fstack%3Done",
    );
    assert_eq!(names(&everywhere), ["a", "c"]);
    let (_, set_based) = get(
        &fake,
        "/api/v1/namespaces/demo/secrets?labelSelector=deckhand.dev%2Fstack%20in%20(two%2Cthree)",
    );
    assert_eq!(names(&set_based), ["b"]);
    let (_, metadata) = send(
        client()
            .get(format!("{}/api/v1/namespaces/demo/secrets", fake.url))
            .header(
                "Accept",
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
            ),
    );
    assert_eq!(metadata["kind"], "PartialObjectMetadataList");
    assert_eq!(metadata["items"][0]["kind"], "PartialObjectMetadata");
    assert!(metadata["items"][0].get("data").is_none());
    assert_eq!(names(&metadata), ["a", "b"]);
    let (code, bad) = get(
        &fake,
        "/api/v1/namespaces/demo/secrets?fieldSelector=data.x%3D1",
    );
    assert_eq!(code, 400);
    assert_eq!(bad["reason"], "BadRequest");
}

#[test]
fn watch_replays_then_streams_modified_events() {
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_millis(100));
    let ns = namespace(&fake, "demo");
    let since = rv(&ns);
    let path = "/apis/apps/v1/namespaces/demo/deployments";
    apply(
        &fake,
        &format!("{path}/web"),
        &deployment("web", 1, "nginx:1"),
    );
    apply(
        &fake,
        &format!("{path}/api"),
        &deployment("api", 1, "nginx:1"),
    );

    let events = watch_lines(
        &fake,
        &format!(
            "{path}?&watch=true&timeoutSeconds=5&allowWatchBookmarks=true\
             &fieldSelector=metadata.name%3Dweb&resourceVersion={since}"
        ),
    );
    let added = next_event(&events);
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"]["kind"], "Deployment");
    assert_eq!(added["object"]["metadata"]["name"], "web");
    let modified = next_event(&events);
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"]["metadata"]["name"], "web");
    assert_eq!(modified["object"]["status"]["readyReplicas"], 1);
    assert!(rv(&modified["object"]) > rv(&added["object"]));

    // From resourceVersion 0: the current objects as ADDED, then live changes.
    wait_for(&fake, &format!("{path}/api"), |d| {
        d["status"]["readyReplicas"] == 1
    });
    let current = watch_lines(
        &fake,
        &format!("{path}?watch=1&resourceVersion=0&timeoutSeconds=5"),
    );
    let mut names = vec![
        next_event(&current)["object"]["metadata"]["name"].clone(),
        next_event(&current)["object"]["metadata"]["name"].clone(),
    ];
    names.sort_by_key(|n| n.to_string());
    assert_eq!(names, [json!("api"), json!("web")]);
    delete(&fake, &format!("{path}/api"));
    let deleted = next_event(&current);
    assert_eq!(deleted["type"], "DELETED");
    assert_eq!(deleted["object"]["metadata"]["name"], "api");

    // timeoutSeconds ends the stream.
    let start = Instant::now();
    let short = watch_lines(
        &fake,
        &format!("{path}?watch=true&resourceVersion=999999&timeoutSeconds=1"),
    );
    assert!(short.recv_timeout(Duration::from_secs(3)).is_err());
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn delete_and_deletecollection() {
    let fake = fast_fake();
    namespace(&fake, "demo");
    let path = "/apis/apps/v1/namespaces/demo/deployments/web";
    apply(&fake, path, &deployment("web", 2, "nginx:1"));
    wait_for(&fake, path, |d| d["status"]["readyReplicas"] == 2);
    assert_eq!(
        fake.objects().iter().filter(|o| o["kind"] == "Pod").count(),
        2
    );
    let (code, deleted) = delete(&fake, path);
    assert_eq!(code, 200);
    assert_eq!(deleted["kind"], "Deployment");
    assert_eq!(
        fake.objects().iter().filter(|o| o["kind"] == "Pod").count(),
        0,
        "its pods go with it"
    );
    let (code, missing) = delete(&fake, path);
    assert_eq!(code, 404);
    assert_eq!(
        missing,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "deployments.apps \"web\" not found", "reason": "NotFound",
            "details": {"name": "web", "group": "apps", "kind": "deployments"}, "code": 404,
        })
    );
    let (code, _) = get(&fake, path);
    assert_eq!(code, 404);

    apply(
        &fake,
        "/api/v1/namespaces/demo/secrets/a",
        &secret("a", "one"),
    );
    apply(
        &fake,
        "/api/v1/namespaces/demo/secrets/b",
        &secret("b", "one"),
    );
    apply(
        &fake,
        "/api/v1/namespaces/demo/secrets/c",
        &secret("c", "two"),
    );
    let (code, gone) = delete(
        &fake,
        "/api/v1/namespaces/demo/secrets?labelSelector=deckhand.dev%2Fstack%3Done",
    );
    assert_eq!(code, 200);
    assert_eq!(gone["kind"], "SecretList");
    assert_eq!(gone["items"].as_array().unwrap().len(), 2);
    assert!(fake.object("Secret", Some("demo"), "a").is_none());
    assert!(fake.object("Secret", Some("demo"), "c").is_some());

    // Deleting the namespace deletes what is in it.
    let (code, ns) = delete(&fake, "/api/v1/namespaces/demo");
    assert_eq!(code, 200);
    assert_eq!(ns["kind"], "Namespace");
    let left: Vec<Value> = fake
        .objects()
        .into_iter()
        .filter(|o| {
            o["metadata"]["name"] != "default"
                && o["metadata"]["name"] != "kube-system"
                && o["metadata"]["name"] != "kube-public"
        })
        .collect();
    assert!(
        left.is_empty(),
        "only the built-in namespaces stay: {left:?}"
    );
    let (code, missing) = apply(
        &fake,
        "/api/v1/namespaces/demo/secrets/a",
        &secret("a", "one"),
    );
    assert_eq!(code, 404);
    assert_eq!(missing["message"], "namespaces \"demo\" not found");
}

#[test]
fn forbid_answers_403_like_rbac() {
    let fake = fast_fake();
    namespace(&fake, "ns");
    fake.forbid("patch", "secrets");
    fake.forbid("list", "deployments");
    let (code, refused) = apply(&fake, "/api/v1/namespaces/ns/secrets/x", &secret("x", "s"));
    assert_eq!(code, 403);
    assert_eq!(refused["reason"], "Forbidden");
    assert_eq!(refused["code"], 403);
    assert_eq!(
        refused["message"],
        "secrets \"x\" is forbidden: User \"system:serviceaccount:default:deckhand\" cannot patch resource \"secrets\" in API group \"\" in the namespace \"ns\""
    );
    assert!(fake.object("Secret", Some("ns"), "x").is_none());
    let (code, _) = get(&fake, "/api/v1/namespaces/ns/secrets/x");
    assert_eq!(code, 404, "other verbs are still allowed");
    let (code, refused) = get(&fake, "/apis/apps/v1/namespaces/ns/deployments");
    assert_eq!(code, 403);
    assert_eq!(
        refused["message"],
        "deployments.apps is forbidden: User \"system:serviceaccount:default:deckhand\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"ns\""
    );
}

#[test]
fn bad_requests_get_status_errors() {
    let fake = fast_fake();
    namespace(&fake, "ns");
    let url = format!("{}/api/v1/namespaces/ns/secrets/x", fake.url);
    let (code, body) = send(
        client()
            .patch(&url)
            .header("Content-Type", APPLY)
            .body(secret("x", "s").to_string()),
    );
    assert_eq!(code, 400, "no fieldManager");
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "BadRequest");
    assert!(body["message"].as_str().unwrap().contains("fieldManager"));
    let (code, body) = send(
        client()
            .patch(format!("{url}?fieldManager=deckhand"))
            .header("Content-Type", "application/merge-patch+json")
            .body(secret("x", "s").to_string()),
    );
    assert_eq!(code, 415);
    assert_eq!(body["reason"], "UnsupportedMediaType");
    let (code, body) = apply(&fake, "/api/v1/namespaces/ns/secrets/y", &secret("x", "s"));
    assert_eq!(code, 400, "name mismatch: {body}");
    let (code, body) = get(&fake, "/api/v1/namespaces/ns/configmaps");
    assert_eq!(code, 404);
    assert_eq!(body["kind"], "Status");
    let (code, _) = get(&fake, "/nothing/here");
    assert_eq!(code, 404);
    assert!(fake.object("Secret", Some("ns"), "x").is_none());

    // Every request was recorded, with its query and content type.
    let requests = fake.requests();
    let refused = requests
        .iter()
        .find(|r| r.content_type.as_deref() == Some("application/merge-patch+json"))
        .expect("recorded");
    assert_eq!(refused.method, "PATCH");
    assert_eq!(refused.path, "/api/v1/namespaces/ns/secrets/x");
    assert_eq!(
        refused.query_param("fieldManager").as_deref(),
        Some("deckhand")
    );
    assert_eq!(refused.query_param("force"), None);
    assert!(refused.body.contains("hunter2"));
    assert_eq!(requests.last().unwrap().path, "/nothing/here");
}

#[test]
fn kubeconfig_points_at_the_fake() {
    let fake = FakeKube::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = fake.kubeconfig(dir.path());
    assert!(path.starts_with(dir.path()));
    let text = std::fs::read_to_string(&path).expect("kubeconfig written");
    let config: Value = serde_saphyr::from_str(&text).expect("kubeconfig is YAML");
    assert_eq!(config["current-context"], "fake");
    assert_eq!(
        config["clusters"][0]["cluster"]["server"],
        fake.url.as_str()
    );
    assert_eq!(config["users"][0]["user"]["token"], "fake-token");
    let parsed = kube::config::Kubeconfig::read_from(&path).expect("kube reads it");
    assert_eq!(parsed.current_context.as_deref(), Some("fake"));
}

/// The fake is good enough for a real `kube` client: apply, wait for
/// readiness with a watcher, list, delete.
#[test]
fn kube_client_round_trip() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
    use kube::runtime::wait::{await_condition, conditions};

    let fake = fast_fake();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = fake.kubeconfig(dir.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("config");
        let client = kube::Client::try_from(config).expect("client");
        let version = client.apiserver_version().await.expect("version");
        assert_eq!(version.git_version, "v1.33.0");

        let params = PatchParams::apply("deckhand").force();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}),
        )
        .unwrap();
        namespaces
            .patch("demo", &params, &Patch::Apply(&ns))
            .await
            .expect("namespace applied");

        let deployments: Api<Deployment> = Api::namespaced(client.clone(), "demo");
        let wanted: Deployment = serde_json::from_value(deployment("web", 2, "nginx:1")).unwrap();
        let applied = deployments
            .patch("web", &params, &Patch::Apply(&wanted))
            .await
            .expect("deployment applied");
        assert_eq!(applied.metadata.generation, Some(1));
        let ready = tokio::time::timeout(
            Duration::from_secs(2),
            await_condition(
                deployments.clone(),
                "web",
                conditions::is_deployment_completed(),
            ),
        )
        .await
        .expect("ready within 2 s")
        .expect("watch works")
        .expect("deployment exists");
        assert_eq!(ready.status.unwrap().ready_replicas, Some(2));

        let pods: Api<Pod> = Api::namespaced(client.clone(), "demo");
        let list = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("pods listed");
        assert_eq!(list.items.len(), 2);
        assert!(
            deployments
                .get_opt("missing")
                .await
                .expect("404 is None")
                .is_none()
        );

        deployments
            .delete("web", &DeleteParams::default())
            .await
            .expect("deleted");
        let error = deployments.get("web").await.expect_err("gone");
        match error {
            kube::Error::Api(status) => assert_eq!(status.code, 404),
            other => panic!("unexpected error {other:?}"),
        }
    });
    let requests = fake.requests();
    let apply = requests
        .iter()
        .find(|r| r.method == "PATCH" && r.path.ends_with("/deployments/web"))
        .expect("apply sent");
    assert_eq!(apply.content_type.as_deref(), Some(APPLY));
    assert_eq!(
        apply.query_param("fieldManager").as_deref(),
        Some("deckhand")
    );
    assert_eq!(apply.query_param("force").as_deref(), Some("true"));
}
