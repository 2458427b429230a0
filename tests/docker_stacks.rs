//! A stack on a real Docker Engine (`shared/tools/container-sandbox.sh`;
//! only busybox, PostgreSQL and Redis images can be had there, so the stack
//! is the test blueprints' `echo-stack`, two busybox members): the real
//! `deckhand serve`, the compose executor, a temporary SQLite database.
//! The source member is deployed first with the message the stack's `env`
//! gives it; the reader after it, with the source's address in a file the
//! stack writes (a Compose config), and it only becomes healthy once it
//! fetched the source's answer through that address. Skipped with a message
//! when no Docker Engine answers; a failure under `DECKHAND_CI=1`.

mod common;

use std::time::Duration;

use common::docker::docker;
use common::server::{Server, run};
use serde_json::{Value, json};

fn containers(project: &str) -> String {
    docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ])
}

/// Removes what an interrupted earlier run left.
fn clean(projects: &[&str]) {
    for project in projects {
        let left = containers(project);
        if !left.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(left.lines());
            docker(&args);
        }
        docker(&["network", "rm", project]);
    }
}

/// What `GET /` on 127.0.0.1:`port` answers.
fn http_get(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn step_index(intent: &Value, release: &str, status: &str) -> usize {
    intent["events"]
        .as_array()
        .unwrap()
        .iter()
        .position(|e| e["step"] == format!("release {release}") && e["status"] == status)
        .unwrap_or_else(|| panic!("no {status} event for {release}: {intent}"))
}

#[test]
fn a_stack_on_compose_deploys_in_layers_with_its_wiring_and_is_removed_as_one() {
    if !common::docker::ready("stacks are not tested on Compose") {
        return;
    }
    let projects = [
        "dh-stack_echo-stack-source",
        "dh-stack_echo-stack-reader",
        "dh-stack_echo-stack",
    ];
    clean(&projects);
    let blueprints = common::root().join("tests/blueprints");
    let server = Server::start_with(
        tempfile::tempdir().unwrap(),
        &[
            ("DECKHAND_BLUEPRINTS", blueprints.to_str().unwrap()),
            ("DECKHAND_READY_TIMEOUT_SECONDS", "90"),
        ],
    );

    let done = run(
        &server,
        "install the echo stack on docker in namespace dh-stack",
        json!({}),
    );
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        step_index(&done, "echo-stack-source", "ready")
            < step_index(&done, "echo-stack-reader", "started")
    );
    // The reader serves what it fetched from the address in its file: the
    // message the stack gave the source.
    let port = done["plan_text"]
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.contains("reach it at: http://127.0.0.1:") && l.contains("18092"))
        .and_then(|l| {
            l.split("127.0.0.1:")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(18092);
    let answer = http_get(port);
    assert!(
        answer.contains("200 OK") && answer.ends_with("hello from echo-stack\n"),
        "{answer}"
    );
    let reader = containers("dh-stack_echo-stack-reader");
    let file = docker(&[
        "exec",
        reader.lines().next().unwrap(),
        "cat",
        "/etc/echo/source",
    ]);
    assert_eq!(file, "http://echo-stack-source:18091");

    let removed = run(
        &server,
        "remove the echo stack on docker in namespace dh-stack",
        json!({}),
    );
    assert_eq!(removed["status"], "completed", "{removed}");
    assert!(
        step_index(&removed, "echo-stack-reader", "removed")
            < step_index(&removed, "echo-stack-source", "removed"),
        "dependents first"
    );
    for project in projects {
        assert_eq!(containers(project), "", "{project} left containers");
    }
}
