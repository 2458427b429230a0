//! A real `deckhand serve` on a random port with a temporary database and
//! data directory, stopped when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const ADMIN_TOKEN: &str = "admin-token-for-tests";

pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub client: reqwest::blocking::Client,
}

/// DECKHAND_TEST_SERVER_LOG=1 shows the servers' logs (with DECKHAND_LOG for
/// their level) when a test needs looking into.
fn show_log() -> bool {
    std::env::var_os("DECKHAND_TEST_SERVER_LOG").is_some()
}

impl Server {
    /// Starts a server on a fresh temporary directory.
    pub fn start() -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"))
    }

    /// Starts a server on `dir` (its `deckhand.db` and `data/` are kept across restarts).
    pub fn start_in(dir: tempfile::TempDir) -> Self {
        Self::start_with(dir, &[])
    }

    /// Starts a server on `dir` with extra environment variables.
    pub fn start_with(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_deckhand"));
        command
            .env_remove("DECKHAND_BLUEPRINTS")
            .env_remove("DECKHAND_EXECUTOR")
            .env_remove("DECKHAND_PLATFORM");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .arg("--db")
            .arg(dir.path().join("deckhand.db"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("DECKHAND_API_TOKEN", ADMIN_TOKEN)
            .env_remove("DECKHAND_CONFIG")
            .stdout(Stdio::piped())
            .stderr(if show_log() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("deckhand serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("the server prints its address")
                .expect("readable stdout");
            if let Some(address) = line.strip_prefix("deckhand listening on ") {
                break address.trim().to_string();
            }
        };
        // The log goes on to stdout: read to its end, so the server never
        // writes into a closed pipe.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if show_log() {
                    eprintln!("{line}");
                }
            }
        });
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        Self {
            child,
            base,
            dir,
            client,
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("deckhand.db")
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        respond(request)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        respond(request)
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        respond(request)
    }

    /// Makes a token with the CLI against this server's database.
    pub fn token(&self, name: &str, role: &str) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .args(["token", "create", "--name", name, "--role", role, "--db"])
            .arg(self.db())
            .output()
            .expect("token create runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    }

    /// Polls an intent until it is in one of `statuses` (or panics after 20 s).
    pub fn wait_for(&self, id: &str, statuses: &[&str]) -> Value {
        self.wait_for_within(id, statuses, Duration::from_secs(20))
    }

    /// Polls an intent until it is in one of `statuses` (or panics after `limit`).
    pub fn wait_for_within(&self, id: &str, statuses: &[&str], limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let (code, intent) = self.get(
                &format!("/api/orchestration/intents/{id}"),
                Some(ADMIN_TOKEN),
            );
            assert_eq!(code, 200, "{intent}");
            if statuses.contains(&intent["status"].as_str().unwrap_or_default()) {
                return intent;
            }
            assert!(
                Instant::now() < deadline,
                "intent {id} stayed {}",
                intent["status"]
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls an intent until one of its events has `step` and `status`
    /// (`None`: any step), and returns that event (or panics after `limit`).
    pub fn wait_for_event(
        &self,
        id: &str,
        step: Option<&str>,
        status: &str,
        limit: Duration,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let (_, intent) = self.get(
                &format!("/api/orchestration/intents/{id}"),
                Some(ADMIN_TOKEN),
            );
            let found = intent["events"].as_array().and_then(|events| {
                events
                    .iter()
                    .find(|e| e["status"] == status && step.is_none_or(|s| e["step"] == s))
                    .cloned()
            });
            if let Some(event) = found {
                return event;
            }
            assert!(
                Instant::now() < deadline,
                "intent {id} never had a {status} event ({step:?}): {intent}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server the hard way (as a crash would).
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();

        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }
}

fn respond(request: reqwest::blocking::RequestBuilder) -> (u16, Value) {
    let response = request.send().expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// Sends `command` to `POST /api/orchestration/deploy` (confirmed by the
/// request) and returns the intent's id.
pub fn start(server: &Server, command: &str, options: Value) -> String {
    let (code, intent) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": command, "options": options}),
    );
    assert_eq!(code, 202, "{command}: {intent}");
    intent["id"].as_str().unwrap().to_string()
}

/// [`start`], then the intent once it is completed, failed or cancelled
/// (panics after 120 s).
pub fn run(server: &Server, command: &str, options: Value) -> Value {
    let id = start(server, command, options);
    server.wait_for_within(
        &id,
        &["completed", "failed", "cancelled"],
        Duration::from_secs(120),
    )
}

/// When the intent `done` recorded its event `status` (on `step`, when
/// given), in seconds after `since` (this machine's clock, as the server's).
pub fn seconds_to_event(
    done: &Value,
    step: Option<&str>,
    status: &str,
    since: jiff::Timestamp,
) -> f64 {
    let at: jiff::Timestamp = done["events"]
        .as_array()
        .expect("the intent's events")
        .iter()
        .find(|e| e["status"] == status && step.is_none_or(|s| e["step"] == s))
        .and_then(|e| e["at"].as_str()?.parse().ok())
        .unwrap_or_else(|| panic!("no {status} event with its time: {done}"));
    at.duration_since(since).as_secs_f64()
}

/// The intent's events as offsets from `since`, one line each
/// ("   42.2 ms  release authentik-postgresql started").
pub fn timeline(done: &Value, since: jiff::Timestamp) -> String {
    done["events"]
        .as_array()
        .expect("the intent's events")
        .iter()
        .filter_map(|e| {
            let at: jiff::Timestamp = e["at"].as_str()?.parse().ok()?;
            let ms = at.duration_since(since).as_secs_f64() * 1000.0;
            Some(format!(
                "{ms:9.1} ms  {} {}\n",
                e["step"].as_str()?,
                e["status"].as_str()?
            ))
        })
        .collect()
}
