//! The Kubernetes executor where a real control plane cannot be used: a
//! watch stream broken off mid-response, on the in-test API server
//! (`tests/common/fake_kube.rs`; a real API server cannot be made to reset
//! a stream on demand), a cluster that does not answer at all, and one that
//! accepts connections but never answers (a plain TCP listener). Every
//! other behaviour is tested on the real control plane in
//! `tests/kube_cluster.rs`.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::fake_kube::FakeKube;
use common::server::{Server, run};
use serde_json::json;

/// A kubeconfig in `dir` for the cluster at `server` (a token user); its path.
fn kubeconfig(dir: &std::path::Path, server: &str) -> String {
    let path = common::write_kubeconfig(dir, server, "t");
    path.to_str().unwrap().to_string()
}

/// Starts a kubeconfig-less `deckhand serve` whose default executor is the
/// Kubernetes one, on the cluster at `server`.
fn serve_on(server: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let path = kubeconfig(dir.path(), server);
    Server::start_with(
        dir,
        &[
            ("DECKHAND_KUBECONFIG", &path),
            ("DECKHAND_EXECUTOR", "kubernetes"),
        ],
    )
}

/// `/readyz` until its reason contains `wanted` (or 10 s), asserting 503
/// all along; the last answer.
fn not_ready_until(server: &Server, wanted: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (code, answer) = server.get("/readyz", None);
        assert_eq!(code, 503, "{answer}");
        assert_eq!(answer["executor"], "kubernetes", "{answer}");
        let reason = answer["reason"].as_str().unwrap().to_string();
        if reason.contains(wanted) || std::time::Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The in-test API server (fake): the watch on the StatefulSet is cut
/// twice while it is not ready yet; the executor re-lists and watches
/// again (with backoff) instead of failing the release, and sees it ready.
#[test]
fn a_watch_stream_reset_mid_wait_is_re_listed_not_a_failure() {
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_secs(2));
    fake.cut_watches(2);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path());
    let server = Server::start_with(
        dir,
        &[
            ("DECKHAND_KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("DECKHAND_READY_TIMEOUT_SECONDS", "30"),
        ],
    );
    let done = run(&server, "install redis on k8s", json!({}));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    let watches = fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "GET" && r.path.ends_with("/statefulsets") && r.query.contains("watch")
        })
        .count();
    assert!(
        watches >= 3,
        "watched again after each cut: {watches} watch request(s)"
    );
}

/// A cluster that accepts connections and never answers (a TCP listener,
/// no API server): `deckhand serve` with the Kubernetes executor as its
/// default connects to it as it starts, before any request, and the wait
/// for its answer (up to 10 s) holds up no intent that runs elsewhere.
#[test]
fn a_silent_cluster_is_tried_at_start_and_holds_up_no_other_executor() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted, connected) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            held.push(stream);
            let _ = accepted.send(());
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"));
    let server = Server::start_with(
        dir,
        &[
            ("DECKHAND_KUBECONFIG", &path),
            ("DECKHAND_EXECUTOR", "kubernetes"),
        ],
    );
    connected
        .recv_timeout(Duration::from_secs(5))
        .expect("serve connects to its default cluster as it starts");
    // Not ready while the cluster has not answered, and saying so.
    assert_eq!(
        server.get("/readyz", None),
        (
            503,
            json!({"status": "not_ready", "executor": "kubernetes", "reason": "connecting to the Kubernetes API"})
        )
    );
    let id = common::server::start(&server, "install redis", json!({"executor": "render"}));
    let done = server.wait_for_within(&id, &["completed", "failed"], Duration::from_secs(5));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
}

/// A cluster that refuses connections: `/readyz` answers 503 with the
/// reason, naming the address, and keeps trying.
#[test]
fn readiness_says_why_the_default_cluster_is_not_there() {
    let server = serve_on("http://127.0.0.1:9");
    let answer = not_ready_until(&server, "127.0.0.1:9");
    let reason = answer["reason"].as_str().unwrap();
    assert!(
        reason.contains("cannot reach the Kubernetes API at http://127.0.0.1:9")
            && reason.ends_with("(connecting again)"),
        "{answer}"
    );
}

/// An API server that refuses deckhand's credentials (a plain HTTP server
/// answering every request 401, as kube-apiserver does for a bad token; a
/// fake, since the test control plane's only users are valid ones): that
/// is not a connection, `/readyz` says 503 with the answer, and an intent
/// fails with it.
#[test]
fn refused_credentials_are_not_a_connection() {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let server = serve_on(&format!("http://127.0.0.1:{port}"));
    let answer = not_ready_until(&server, "401");
    assert!(
        answer["reason"].as_str().unwrap().contains(
            "reading the API server's version: the API server answered 401: Unauthorized"
        ),
        "{answer}"
    );
    let done = run(&server, "install redis", json!({}));
    assert_eq!(done["status"], "failed");
    assert!(
        done["error"].as_str().unwrap().contains("answered 401"),
        "{}",
        done["error"]
    );
}

/// The in-test API server (fake: only the answers to `/version` matter
/// here): once it has answered, `/readyz` is 200.
#[test]
fn readiness_is_ready_once_the_cluster_answered() {
    let fake = FakeKube::start();
    let server = serve_on(&fake.url);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (code, answer) = server.get("/readyz", None);
        if code == 200 {
            assert_eq!(answer, json!({"status": "ready", "executor": "kubernetes"}));
            break;
        }
        assert_eq!(code, 503, "{answer}");
        assert!(
            std::time::Instant::now() < deadline,
            "never ready: {answer}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_unreachable_cluster_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = kubeconfig(dir.path(), "http://127.0.0.1:9");
    let server = Server::start_with(dir, &[("DECKHAND_KUBECONFIG", &path)]);
    let done = run(&server, "install redis on k8s", json!({}));
    assert_eq!(done["status"], "failed");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach the Kubernetes API"),
        "{}",
        done["error"]
    );
}
