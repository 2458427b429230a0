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
