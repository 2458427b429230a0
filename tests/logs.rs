//! The service's logs, read from a real `deckhand serve`'s stdout (a pipe,
//! so JSON): one line per request and per intent transition, with the
//! intent id and the actor, filtered by `DECKHAND_LOG`, and never a token or
//! a secret value.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::server::ADMIN_TOKEN;
use serde_json::{Value, json};

struct Logged {
    child: std::process::Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
    dir: tempfile::TempDir,
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(env: &[(&str, &str)]) -> Logged {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_deckhand"));
    command
        .env_remove("DECKHAND_BLUEPRINTS")
        .env_remove("DECKHAND_EXECUTOR")
        .env_remove("DECKHAND_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("DECKHAND_LOG")
        .env("DECKHAND_API_TOKEN", ADMIN_TOKEN);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .args(["serve", "--bind", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("deckhand.db"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (found, address) = std::sync::mpsc::channel();
    let kept = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.strip_prefix("deckhand listening on ") {
                let _ = found.send(at.trim().to_string());
            }
            kept.lock().unwrap().push(line);
        }
    });
    let base = address.recv_timeout(Duration::from_secs(20)).unwrap();
    Logged {
        child,
        base,
        lines,
        dir,
    }
}

fn json_lines(logged: &Logged) -> Vec<Value> {
    logged
        .lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| !l.starts_with("deckhand listening on "))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn requests_and_transitions_are_logged_as_json_without_secrets() {
    let logged = serve(&[]);
    let client = reqwest::blocking::Client::new();
    let token = {
        let output = common::deckhand()
            .args([
                "token", "create", "--name", "alice", "--role", "deployer", "--db",
            ])
            .arg(logged.dir.path().join("deckhand.db"))
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    };
    let response: Value = client
        .post(format!(
            "{}/api/orchestration/deploy?note=hidden-query",
            logged.base
        ))
        .bearer_auth(&token)
        .json(&json!({"command": "install redis"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = response["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let intent: Value = client
            .get(format!("{}/api/orchestration/intents/{id}", logged.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .unwrap()
            .json()
            .unwrap();
        if intent["status"] == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "{intent}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A sign-in through the web form (the token is in the body).
    let _ = client
        .post(format!("{}/login", logged.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("token", token.as_str()), ("next", "/")]).unwrap())
        .send()
        .unwrap();
    let secrets = common::deckhand()
        .args(["secrets", "show", "redis", "--json", "--db"])
        .arg(logged.dir.path().join("deckhand.db"))
        .output()
        .unwrap();
    assert!(secrets.status.success());
    let secret_values: Vec<String> = {
        let shown: Value = serde_json::from_slice(&secrets.stdout).unwrap();
        let mut out = Vec::new();
        let mut stack = vec![shown];
        while let Some(value) = stack.pop() {
            match value {
                Value::String(s) if s.len() >= 12 => out.push(s),
                Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
                Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        out
    };
    assert!(!secret_values.is_empty(), "redis has a generated password");
    std::thread::sleep(Duration::from_millis(300));

    let lines = json_lines(&logged);
    let request = lines
        .iter()
        .find(|l| l["path"] == "/api/orchestration/deploy")
        .unwrap_or_else(|| panic!("no request line: {lines:#?}"));
    assert_eq!(request["status"], 202, "{request}");
    assert_eq!(request["method"], "POST");
    assert!(
        request["actor"].as_str().unwrap().contains("alice"),
        "{request}"
    );
    assert!(request["duration_ms"].is_number());
    for status in [
        "parsing",
        "planning",
        "awaiting_confirmation",
        "deploying",
        "completed",
    ] {
        let line = lines
            .iter()
            .find(|l| l["intent"] == id.as_str() && l["status"] == status)
            .unwrap_or_else(|| panic!("no {status} transition logged: {lines:#?}"));
        assert!(line["actor"].as_str().unwrap().contains("alice"), "{line}");
    }
    let text = logged.lines.lock().unwrap().join("\n");
    assert!(!text.contains("hidden-query"), "a query string was logged");
    for secret in [ADMIN_TOKEN, token.as_str()]
        .into_iter()
        .chain(secret_values.iter().map(String::as_str))
    {
        assert!(!text.contains(secret), "a secret reached the log");
    }
}

#[test]
fn deckhand_log_sets_the_level() {
    let logged = serve(&[("DECKHAND_LOG", "warn"), ("RUST_LOG", "debug")]);
    let client = reqwest::blocking::Client::new();
    let code = client
        .get(format!("{}/healthz", logged.base))
        .send()
        .unwrap()
        .status();
    assert_eq!(code, 200);
    std::thread::sleep(Duration::from_millis(200));
    let lines = json_lines(&logged);
    assert!(
        lines
            .iter()
            .all(|l| l["level"] != "INFO" && l["level"] != "DEBUG"),
        "{lines:#?}"
    );
}
