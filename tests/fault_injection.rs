//! Fault injection: the real `deckhand serve` is killed with SIGKILL at
//! random moments while many intents run at once (installs and scales that
//! contend for the same releases, chat requests that wait for a person, dry
//! runs), restarted on the same database and data directory each time, and
//! finally checked: every intent is terminal or legitimately waiting for a
//! person, no accepted intent is lost, every revision is whole (its sealed
//! manifests open and parse, numbers count up without gaps, the release
//! points at its last one), no intent recorded a revision of a release
//! twice, and every rendered file on disk is whole.
//!
//! Nothing is faked: a real process, real SIGKILLs, a real SQLite file.
//! `FAULT_INTENTS` (default 1,000) and `FAULT_SEED` change the run; the seed
//! is printed so a failure can be replayed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::server::{ADMIN_TOKEN, Server};
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

/// One request of the mix; the accepted intent's id (when the service
/// answered before it was killed) and whether it waits for a person.
fn send(client: &reqwest::blocking::Client, base: &str, n: usize) -> Option<(String, bool)> {
    let namespace = format!("f{}", n % 25);
    let (path, body, waits) = match n % 10 {
        0..=4 => (
            "/api/orchestration/deploy",
            json!({"command": format!("install redis in namespace {namespace}")}),
            false,
        ),
        5 | 6 => (
            "/api/orchestration/deploy",
            json!({"command": format!("scale redis to {} in namespace {namespace}", 1 + n % 3)}),
            false,
        ),
        7 => (
            "/api/orchestration/deploy",
            json!({"command": format!("install grafana in namespace {namespace}"), "options": {"dry_run": true}}),
            false,
        ),
        8 => (
            "/api/chat",
            json!({"message": format!("install redis in namespace c{n}")}),
            true,
        ),
        _ => (
            "/api/orchestration/deploy",
            json!({"command": format!("install gitea in namespace {namespace}")}),
            false,
        ),
    };
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .ok()?;
    let answer: Value = response.json().ok()?;
    let id = answer["id"]
        .as_str()
        .or_else(|| answer["intent"]["id"].as_str())?;
    Some((id.to_string(), waits))
}

#[test]
fn sigkill_at_random_moments_strands_loses_and_half_writes_nothing() {
    let total: usize = std::env::var("FAULT_INTENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let seed: u64 = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    println!("FAULT_SEED={seed} FAULT_INTENTS={total}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let mut dir = tempfile::tempdir().unwrap();
    let accepted: Arc<Mutex<Vec<(String, bool)>>> = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut kills = 0;
    while accepted.lock().unwrap().len() < total {
        let server = Server::start_in(dir);
        let kill_after = Duration::from_millis(rng.random_range(50..1_500));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut clients = Vec::new();
        for _ in 0..8 {
            let (base, sent, accepted, stop) = (
                server.base.clone(),
                sent.clone(),
                accepted.clone(),
                stop.clone(),
            );
            clients.push(std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                while !stop.load(std::sync::atomic::Ordering::SeqCst)
                    && accepted.lock().unwrap().len() < total
                {
                    let n = sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if let Some(answer) = send(&client, &base, n) {
                        accepted.lock().unwrap().push(answer);
                    }
                }
            }));
        }
        std::thread::sleep(kill_after);
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        dir = server.kill();
        kills += 1;
        for client in clients {
            client.join().unwrap();
        }
    }
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);

    // The last start recovers; what it started itself is let finish.
    let server = Server::start_in(dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let busy: u64 = ["pending", "parsing", "planning", "deploying"]
            .iter()
            .map(|status| {
                server
                    .get(
                        &format!("/api/orchestration/intents?status={status}&limit=1"),
                        Some(ADMIN_TOKEN),
                    )
                    .1["total"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        if busy == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{busy} intents stayed in flight");
        std::thread::sleep(Duration::from_millis(100));
    }

    let store = deckhand::store::Store::open(&server.db()).unwrap();
    let rows: Vec<(String, String, bool)> = {
        let connection = store.connection();
        let mut statement = connection
            .prepare("SELECT id, status, waits_for_person FROM intents")
            .unwrap();
        statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let by_id: BTreeMap<&str, (&str, bool)> = rows
        .iter()
        .map(|(id, status, waits)| (id.as_str(), (status.as_str(), *waits)))
        .collect();
    let accepted = accepted.lock().unwrap().clone();
    for (id, waits) in &accepted {
        let (status, held) = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("accepted intent {id} was lost"));
        if *status == "awaiting_confirmation" {
            assert!(*held && *waits, "intent {id} waits, but nobody was asked");
        }
    }
    let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, (status, held)) in &by_id {
        *statuses.entry(status).or_default() += 1;
        let parsed: deckhand::store::IntentStatus = status.parse().unwrap();
        assert!(
            parsed.is_terminal() || (*status == "awaiting_confirmation" && *held),
            "intent {id} is stranded {status}"
        );
        let events = store.events(id, None).unwrap();
        assert!(
            events.iter().any(|e| e.status == *status),
            "intent {id} is {status} without an event saying so"
        );
    }

    // Revisions: whole, counting up, one per intent and release and action.
    let mut revisions = 0;
    let mut seen: BTreeSet<(String, String, String, String)> = BTreeSet::new();
    for release in store.releases().unwrap() {
        let key = deckhand::store::releases::ReleaseKey {
            platform: release.platform.clone(),
            namespace: release.namespace.clone(),
            name: release.name.clone(),
        };
        let list = store.revisions(&key).unwrap();
        for (index, revision) in list.iter().enumerate() {
            assert_eq!(revision.number, index as i64 + 1, "{key}: a gap");
            let files = revision.manifests.as_array().expect("manifests are a list");
            assert!(
                !files.is_empty(),
                "{key} revision {} has no files",
                revision.number
            );
            if let Some(intent) = &revision.intent_id {
                assert!(
                    seen.insert((
                        intent.clone(),
                        release.namespace.clone(),
                        release.name.clone(),
                        revision.action.clone()
                    )),
                    "intent {intent} recorded {key} twice"
                );
            }
            revisions += 1;
        }
        assert_eq!(release.current_revision, list.last().map(|r| r.number));
    }
    // Every rendered file is whole (written atomically); temporaries a kill
    // left behind are never read.
    let mut files = 0;
    let mut pending = vec![server.data()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                pending.push(path);
            } else if !name.starts_with('.') && name.ends_with(".yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                let documents: Result<Vec<Value>, _> = serde_saphyr::from_multiple(&text);
                assert!(documents.is_ok(), "{} is not whole YAML", path.display());
                files += 1;
            }
        }
    }
    println!(
        "{sent} requests, {} accepted, {kills} kills, {} intents {statuses:?}, {revisions} revisions, {files} files, {:.1} s",
        accepted.len(),
        by_id.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(accepted.len() >= total);
}
