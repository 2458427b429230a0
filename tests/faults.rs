//! The service under faults, through the real `deckhand serve` with a
//! temporary database: a database locked by another process answers 503
//! with `Retry-After` (never 500), and nothing is left stranded.

mod common;

use std::time::{Duration, Instant};

use common::server::{ADMIN_TOKEN, Server};
use serde_json::json;

/// A real lock on the real database file: another connection holds the
/// write lock (as a second process or a backup would). The request is
/// refused with 503 and `Retry-After` once the server's busy timeout runs
/// out; reading still works (WAL), and once the lock is gone the same
/// request succeeds.
#[test]
fn a_locked_database_answers_503_with_retry_after() {
    let server = Server::start();
    let locker = rusqlite::Connection::open(server.db()).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    let response = server
        .client
        .post(server.url("/api/orchestration/deploy"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"command": "install redis"}))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    assert!(retry.is_some_and(|s| s > 0), "{:?}", response.headers());
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["error"], "unavailable", "{body}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let (code, _) = server.get("/api/orchestration/intents", Some(ADMIN_TOKEN));
    assert_eq!(code, 200);

    locker.execute_batch("COMMIT").unwrap();
    let (code, intent) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "install redis"}),
    );
    assert_eq!(code, 202, "{intent}");
    server.wait_for(intent["id"].as_str().unwrap(), &["completed"]);
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The database, its WAL and SHM files and the key file are 0600, the data
/// directory 0700, from the first start; with `DECKHAND_SECRET_KEY` no key
/// file is made, and the secrets written are sealed with that key.
#[test]
fn the_service_files_are_private_and_the_key_can_come_from_the_environment() {
    let server = Server::start();
    let (code, intent) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "install redis"}),
    );
    assert_eq!(code, 202, "{intent}");
    server.wait_for(intent["id"].as_str().unwrap(), &["completed"]);
    assert_eq!(mode(&server.data()), 0o700);
    for suffix in ["", "-wal", "-shm", ".key"] {
        let mut name = server.db().into_os_string();
        name.push(suffix);
        assert_eq!(
            mode(std::path::Path::new(&name)),
            0o600,
            "deckhand.db{suffix}"
        );
    }

    let key = "0f".repeat(32);
    let keyed = Server::start_with(
        tempfile::tempdir().unwrap(),
        &[("DECKHAND_SECRET_KEY", key.as_str())],
    );
    let (code, intent) = keyed.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "install redis"}),
    );
    assert_eq!(code, 202, "{intent}");
    keyed.wait_for(intent["id"].as_str().unwrap(), &["completed"]);
    let mut key_file = keyed.db().into_os_string();
    key_file.push(".key");
    assert!(!std::path::Path::new(&key_file).exists());
    let shown = common::deckhand()
        .args(["secrets", "show", "redis", "--db"])
        .arg(keyed.db())
        .env("DECKHAND_SECRET_KEY", &key)
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", common::stderr(&shown));
    // Without the key, the database is refused with the reason.
    let refused = common::deckhand()
        .args(["secrets", "show", "redis", "--db"])
        .arg(keyed.db())
        .env("DECKHAND_SECRET_KEY", "11".repeat(32))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        common::stderr(&refused).contains("DECKHAND_SECRET_KEY"),
        "{}",
        common::stderr(&refused)
    );
}

/// A token named like a built-in identity is recorded as `token:NAME`: it
/// cannot confirm the real admin's intent, and its own intents say who made
/// them. Names with ':' are refused.
#[test]
fn a_token_named_admin_is_not_the_admin() {
    let server = Server::start();
    let impostor = server.token("admin", "deployer");
    let (code, reply) = server.post(
        "/api/chat",
        Some(ADMIN_TOKEN),
        json!({"message": "install redis"}),
    );
    assert_eq!(code, 200, "{reply}");
    let id = reply["intent"]["id"].as_str().unwrap().to_string();
    assert_eq!(reply["intent"]["requested_by"], "admin");
    let (code, refused) = server.post(
        &format!("/api/orchestration/intents/{id}/confirm"),
        Some(&impostor),
        json!({}),
    );
    assert_eq!(code, 403, "{refused}");

    let (code, own) = server.post(
        "/api/orchestration/deploy",
        Some(&impostor),
        json!({"command": "install grafana"}),
    );
    assert_eq!(code, 202, "{own}");
    assert_eq!(own["requested_by"], "token:admin");

    let (code, body) = server.post(
        "/api/tokens",
        Some(ADMIN_TOKEN),
        json!({"name": "slack:U123", "role": "admin"}),
    );
    assert_eq!(code, 422, "{body}");
    let output = common::deckhand()
        .args([
            "token", "create", "--name", "cli:root", "--role", "admin", "--db",
        ])
        .arg(server.db())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(common::stderr(&output).contains("invalid token name"));
}

fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

/// `/login?next=/\evil.com` (which browsers read as `//evil.com`) leads to
/// this site's front page, never to another site.
#[test]
fn sign_in_never_redirects_to_another_site() {
    let server = Server::start();
    let client = no_redirects();
    let page = client
        .get(server.url("/login?next=/%5Cevil.com"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!page.contains("evil.com"), "{page}");
    for next in ["/\\evil.com", "//evil.com", "/\t/evil.com"] {
        let response = client
            .post(server.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("token", ADMIN_TOKEN), ("next", next)]))
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 303);
        assert_eq!(response.headers()["location"], "/", "{next:?}");
    }
}

/// The web chat's POST needs the form's CSRF token (from deckhand's own
/// page) and no foreign Origin; without them nothing is recorded.
#[test]
fn the_web_chat_refuses_a_post_from_another_site() {
    let server = Server::start();
    let client = no_redirects();
    let cookie = format!("deckhand_token={ADMIN_TOKEN}");
    let post = |fields: &[(&str, &str)], origin: Option<&str>| {
        let mut request = client
            .post(server.url("/chat"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(fields));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    let (code, _) = post(&[("message", "install redis")], None);
    assert_eq!(code, 403);
    let (code, _) = post(&[("message", "install redis"), ("csrf", "00ff")], None);
    assert_eq!(code, 403);
    let (_, intents) = server.get("/api/orchestration/intents", Some(ADMIN_TOKEN));
    assert_eq!(intents["total"], 0, "{intents}");

    let page = client
        .get(server.url("/chat"))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let (code, _) = post(
        &[("message", "install redis"), ("csrf", &csrf)],
        Some("https://evil.example"),
    );
    assert_eq!(code, 403);
    let (code, answer) = post(
        &[("message", "install redis"), ("csrf", &csrf)],
        Some(&server.base),
    );
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains("Shall I go ahead?"), "{answer}");
}

/// Slow request bodies (the head sent, the body never finished) are cut
/// off after the body timeout with an answer, and meanwhile the service
/// still answers others. Raw TCP, as a slow client would send.
#[test]
fn slow_request_bodies_are_cut_off() {
    use std::io::{Read, Write};
    let server = Server::start_with(
        tempfile::tempdir().unwrap(),
        &[("DECKHAND_BODY_TIMEOUT_SECONDS", "1")],
    );
    let address = server.base.trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for path in ["/slack/commands", "/api/orchestration/deploy"]
        .iter()
        .cycle()
        .take(20)
    {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: 1000\r\n\r\n{{\"comm"
        )
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(8)))
            .unwrap();
        slow.push(stream);
    }
    let started = Instant::now();
    let (code, _) = server.get("/healthz", None);
    assert_eq!(code, 200);
    assert!(started.elapsed() < Duration::from_secs(3));
    for mut stream in slow {
        let mut answer = Vec::new();
        // The server answers and closes; a read that times out means the
        // connection was held.
        let read = stream.read_to_end(&mut answer);
        assert!(read.is_ok(), "the connection was held: {read:?}");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    }
    assert!(started.elapsed() < Duration::from_secs(8));
}

const HOG: &str = r#"name: hog
description: A blueprint whose template never ends
category: test
version: "1"
env:
  HOG: "{% for a in 'x' * 100000 %}{% for b in 'y' * 100000 %}z{% endfor %}{% endfor %}"
components:
  - name: hog
    image: busybox
"#;

const PEEK: &str = r#"name: peek
description: A blueprint that reads a file of the host
category: test
version: "1"
env:
  PEEK: "{% include '/etc/passwd' %}"
components:
  - name: peek
    image: busybox
"#;

/// A template with a runaway loop fails `catalogue lint` (which renders
/// every blueprint with sample values under the service's limits), and
/// `/plan` answers it at once with the reason, the service still
/// answering; a template that includes a file fails lint.
#[test]
fn runaway_and_file_reading_templates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hog.yaml"), HOG).unwrap();
    let lint = common::deckhand()
        .args(["catalogue", "lint"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!lint.status.success(), "{}", common::stdout(&lint));
    assert!(
        common::stdout(&lint).contains("hog (kubernetes): rendering with sample values failed"),
        "{}",
        common::stdout(&lint)
    );

    let peek = tempfile::tempdir().unwrap();
    std::fs::write(peek.path().join("peek.yaml"), PEEK).unwrap();
    let lint = common::deckhand()
        .args(["catalogue", "lint"])
        .arg(peek.path())
        .output()
        .unwrap();
    assert!(!lint.status.success());
    assert!(
        common::stdout(&lint).contains("cannot read other files"),
        "{}",
        common::stdout(&lint)
    );

    let blueprints = dir.path().to_str().unwrap().to_string();
    let server = Server::start_with(
        tempfile::tempdir().unwrap(),
        &[("DECKHAND_BLUEPRINTS", blueprints.as_str())],
    );
    let started = Instant::now();
    let (code, answer) = server.post(
        "/api/orchestration/plan",
        Some(ADMIN_TOKEN),
        json!({"command": "install hog"}),
    );
    assert_eq!(code, 422, "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let (code, _) = server.get("/healthz", None);
    assert_eq!(code, 200);
}

/// A Slack request, signed as Slack signs it, is refused when replayed
/// after the service restarted (the replay memory is in the database).
#[test]
fn a_slack_request_replayed_after_a_restart_is_refused() {
    use hmac::{Hmac, KeyInit, Mac};
    const SECRET: &str = "slack-signing-secret-for-tests";
    let env = [("DECKHAND_SLACK_SIGNING_SECRET", SECRET)];
    let body = serde_urlencoded::to_string([
        ("user_id", "U1"),
        ("user_name", "u1"),
        ("command", "/deckhand"),
        ("text", "help"),
    ])
    .unwrap();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let signature = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
    let send = |server: &Server| {
        let response = server
            .client
            .post(server.url("/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", &signature)
            .body(body.clone())
            .send()
            .unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    let server = Server::start_with(tempfile::tempdir().unwrap(), &env);
    assert_eq!(send(&server).0, 200);
    let dir = server.kill();
    let server = Server::start_with(dir, &env);
    let (code, answer) = send(&server);
    assert_eq!(code, 401, "{answer}");
    assert!(answer.contains("replayed"), "{answer}");
}

/// A token revoked by another process (the CLI on the same database) is
/// refused on the very next request.
#[test]
fn a_revoked_token_is_refused_on_the_next_request() {
    let server = Server::start();
    let token = server.token("ci", "deployer");
    let (code, _) = server.get("/api/orchestration/intents", Some(&token));
    assert_eq!(code, 200);
    let revoked = common::deckhand()
        .args(["token", "revoke", "ci", "--db"])
        .arg(server.db())
        .output()
        .unwrap();
    assert!(revoked.status.success(), "{}", common::stderr(&revoked));
    let (code, body) = server.get("/api/orchestration/intents", Some(&token));
    assert_eq!(code, 401, "{body}");
}

/// An upgrade or scale that changes nothing applies nothing and records no
/// revision; it says so.
#[test]
fn a_change_that_changes_nothing_records_no_revision() {
    let server = Server::start();
    let run = |command: &str| {
        let (code, intent) = server.post(
            "/api/orchestration/deploy",
            Some(ADMIN_TOKEN),
            json!({"command": command}),
        );
        assert_eq!(code, 202, "{intent}");
        server.wait_for(intent["id"].as_str().unwrap(), &["completed", "failed"])
    };
    assert_eq!(run("install redis")["status"], "completed");
    let same = run("scale redis to 1");
    assert_eq!(same["status"], "completed", "{}", same["error"]);
    let last = same["events"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("nothing to change"),
        "{last}"
    );
    let (_, release) = server.get(
        "/api/orchestration/releases/default/redis",
        Some(ADMIN_TOKEN),
    );
    assert_eq!(
        release[0]["revisions"].as_array().unwrap().len(),
        1,
        "{release}"
    );
    let changed = run("upgrade redis to 7.4");
    assert_eq!(changed["status"], "completed", "{}", changed["error"]);
    let (_, release) = server.get(
        "/api/orchestration/releases/default/redis",
        Some(ADMIN_TOKEN),
    );
    assert_eq!(release[0]["revisions"].as_array().unwrap().len(), 2);
}

/// A server whose namespace "blocked" has a file where authentik's revision
/// directories would go; the namespace's directory.
fn blocked_authentik() -> (Server, std::path::PathBuf) {
    let server = Server::start();
    let namespace = server.data().join("releases").join("blocked");
    std::fs::create_dir_all(&namespace).unwrap();
    std::fs::write(namespace.join("authentik"), "not a directory").unwrap();
    (server, namespace)
}

/// A release whose files cannot be written (its directory's place is taken
/// by a file) fails the intent with the path, and no other release of the
/// plan keeps files for a revision that was never recorded.
#[test]
fn a_release_whose_files_cannot_be_written_fails_and_leaves_no_revision_files() {
    let (server, namespace) = blocked_authentik();
    let done = common::server::run(&server, "install authentik in namespace blocked", json!({}));
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(error.contains("cannot write"), "{error}");
    assert!(error.contains("authentik"), "{error}");
    let database = namespace.join("authentik-postgresql");
    let left: Vec<_> = std::fs::read_dir(&database)
        .map(|d| d.map_while(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The same failure where an earlier run, stopped before recording its
/// revision, left files in the directory this revision would use: those are
/// that run's record and stay (only what this run made is removed).
#[test]
fn an_earlier_runs_unrecorded_files_stay_when_writing_fails() {
    let (server, namespace) = blocked_authentik();
    let earlier = namespace.join("authentik-postgresql/1/earlier-run.yaml");
    std::fs::create_dir_all(earlier.parent().unwrap()).unwrap();
    std::fs::write(&earlier, "kind: Earlier\n").unwrap();
    let done = common::server::run(&server, "install authentik in namespace blocked", json!({}));
    assert_eq!(done["status"], "failed", "{done}");
    assert!(earlier.exists(), "an earlier run's files were removed");
}
