//! Upgrade strategies on a real Docker Engine (started by
//! `shared/tools/container-sandbox.sh` in CI, with local busybox images):
//! the real `deckhand serve`, the compose executor, a temporary SQLite
//! database. Skipped with a message when no Docker Engine answers; a
//! failure under `DECKHAND_CI=1`.

mod common;

use std::time::{Duration, Instant};

use common::docker::docker;
use common::server::{ADMIN_TOKEN, Server, start};
use serde_json::json;

/// The running containers of a project: (id, image).
fn containers(project: &str) -> Vec<(String, String)> {
    docker(&[
        "ps",
        "--format",
        "{{.ID}} {{.Image}}",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ])
    .lines()
    .filter_map(|l| {
        let (id, image) = l.split_once(' ')?;
        Some((id.to_string(), image.to_string()))
    })
    .collect()
}

fn clean(project: &str) {
    let filter = format!("label=com.docker.compose.project={project}");
    let ids = docker(&["ps", "-a", "-q", "--filter", &filter]);
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(ids.lines());
        docker(&args);
    }
    docker(&["network", "rm", project]);
}

/// Whether `GET /` on 127.0.0.1:`port` answers 200.
fn serves(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.contains("200 OK")
}

/// Blue-green on Compose: green is a second project on a temporary port,
/// validated while the old project keeps serving on the release's port
/// (same container, answering); then green goes and the release's project
/// takes the new version on the same port. The gap while the port moves
/// is measured and printed. A second one aborted during its validation
/// removes green and leaves the release's container as it was.
#[test]
fn compose_blue_green_keeps_the_old_project_serving_until_the_new_one_is_healthy() {
    if !common::docker::ready("Compose strategies are not tested") {
        return;
    }
    let (blue, green) = ("dh-bg_served", "dh-bg_served-green");
    clean(blue);
    clean(green);
    let blueprints = common::root().join("tests/blueprints");
    let server = Server::start_with(
        tempfile::tempdir().unwrap(),
        &[
            ("DECKHAND_BLUEPRINTS", blueprints.to_str().unwrap()),
            ("DECKHAND_READY_TIMEOUT_SECONDS", "120"),
        ],
    );
    let run = |command: &str, options: serde_json::Value| start(&server, command, options);
    let id = run(
        "install served version 1.36 on docker in namespace dh-bg",
        json!({}),
    );
    let done = server.wait_for_within(&id, &["completed", "failed"], Duration::from_secs(90));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    let port: u16 = done["plan"]["releases"][0]["published"]["host_port"]
        .as_u64()
        .unwrap_or_else(|| panic!("no published port: {}", done["plan"]))
        as u16;
    assert!(serves(port));
    let before = containers(blue);
    assert_eq!(before.len(), 1, "{before:?}");

    let id = run(
        "upgrade served to 1.35 with blue-green on docker in namespace dh-bg",
        json!({"strategy": {"stage_seconds": 3, "interval_seconds": 1}}),
    );
    // Green healthy: blue is the same container, still answering.
    server.wait_for_event(&id, Some("strategy"), "ready", Duration::from_secs(90));
    let trial = containers(green);
    assert_eq!(trial.len(), 1, "green runs: {trial:?}");
    assert!(trial[0].1.ends_with("1.35"), "{trial:?}");
    assert_eq!(
        containers(blue),
        before,
        "blue untouched while green is checked"
    );
    assert!(serves(port), "blue serves while green is validated");

    // The switch: measure how long the port does not answer.
    let validated =
        server.wait_for_event(&id, Some("strategy"), "validated", Duration::from_secs(60));
    // deckhand itself asked green's trial port for the blueprint's HTTP path.
    let message = validated["message"].as_str().unwrap();
    assert!(
        message.contains("HTTP GET http://127.0.0.1:")
            && message.contains("/index.html: 200")
            && message.contains("latency mean"),
        "{message}"
    );
    let mut longest = Duration::ZERO;
    let mut down_since: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, intent) = server.get(
            &format!("/api/orchestration/intents/{id}"),
            Some(ADMIN_TOKEN),
        );
        let up = serves(port);
        match (up, down_since) {
            (false, None) => down_since = Some(Instant::now()),
            (true, Some(since)) => {
                longest = longest.max(since.elapsed());
                down_since = None;
            }
            _ => {}
        }
        if ["completed", "failed", "cancelled"].contains(&intent["status"].as_str().unwrap()) {
            assert_eq!(intent["status"], "completed", "{}", intent["error"]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the upgrade did not finish: {intent}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "compose blue-green: the published port did not answer for {:.2} s while it moved",
        longest.as_secs_f64()
    );
    assert!(serves(port), "the new version serves on the same port");
    let after = containers(blue);
    assert_eq!(after.len(), 1);
    assert!(after[0].1.ends_with("1.35"), "{after:?}");
    assert!(containers(green).is_empty(), "green's project is gone");

    // Another one, aborted while green is validated: green goes, the
    // release's container is the same and still serves.
    let serving = containers(blue);
    let id = run(
        "upgrade served to 1.36 with blue-green on docker in namespace dh-bg",
        json!({"strategy": {"stage_seconds": 60, "interval_seconds": 1}}),
    );
    server.wait_for_event(&id, Some("strategy"), "ready", Duration::from_secs(90));
    assert_eq!(containers(green).len(), 1);
    let (code, body) = server.post(
        &format!("/api/orchestration/intents/{id}/abort"),
        Some(ADMIN_TOKEN),
        json!({}),
    );
    assert_eq!(code, 202, "{body}");
    let done = server.wait_for_within(
        &id,
        &["completed", "failed", "cancelled"],
        Duration::from_secs(60),
    );
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(containers(green).is_empty(), "green's project is gone");
    assert_eq!(
        containers(blue),
        serving,
        "the release's container was not touched"
    );
    assert!(serves(port));

    let id = run(
        "remove served on docker in namespace dh-bg",
        json!({"delete_data": true}),
    );
    server.wait_for_within(&id, &["completed", "failed"], Duration::from_secs(60));
    clean(blue);
}
