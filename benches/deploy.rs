//! Deploy cost with many releases recorded: a load run of the real
//! `deckhand serve` (release build, render executor, loopback) on a database
//! seeded with 20,000 releases (1,000 namespaces × 20, each with a sealed
//! revision of real rendered manifests). Then 1,000 deploys ("install redis
//! in namespace load-N"), 8 at a time over HTTP, each followed to
//! `completed`. Prints the throughput, the latency of `POST /deploy`, and the
//! time from a deploy's request to its completion (the intent's own
//! timestamps). Targets: ≥ 100 deploys/s and a p50 ≤ 5 ms, whatever the
//! number of releases. Bounded: it stops after 120 s of deploying.
//!
//! `cargo bench --bench deploy` (SEED_RELEASES and DEPLOYS change the sizes).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deckhand::catalogue::Catalogue;
use deckhand::plan::{Overrides, Planner};
use deckhand::render::{EphemeralSecrets, RenderOptions};
use deckhand::store::Store;
use deckhand::store::releases::{NewRevision, ReleaseKey};
use serde_json::{Value, json};

const TOKEN: &str = "deploy-bench";
const NAMES: [&str; 20] = [
    "redis",
    "grafana",
    "gitea",
    "n8n",
    "authentik",
    "postgresql",
    "mariadb",
    "keycloak",
    "uptime-kuma",
    "nextcloud",
    "minio",
    "vaultwarden",
    "wikijs",
    "ghost",
    "matomo",
    "plausible",
    "mattermost",
    "rabbitmq",
    "memcached",
    "mongodb",
];

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn main() {
    let seed = env_number("SEED_RELEASES", 20_000);
    let deploys = env_number("DEPLOYS", 1_000);
    let clients = env_number("CLIENTS", 8);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("deckhand.db");

    // Seed: real rendered files of redis, recorded as each release's revision.
    let started = Instant::now();
    {
        let store = Store::open(&db).expect("store");
        let catalogue = Catalogue::builtin().expect("catalogue");
        let plan = Planner::new(&catalogue, RenderOptions::default())
            .plan(
                "install redis",
                &Overrides::default(),
                &mut EphemeralSecrets::new(),
            )
            .expect("plan");
        let files: Vec<Value> = plan
            .manifest_files()
            .into_iter()
            .map(|f| json!({"path": f.path, "content": f.content, "secret": f.secret}))
            .collect();
        for i in 0..seed {
            let revision = NewRevision {
                key: ReleaseKey {
                    platform: "kubernetes".into(),
                    namespace: format!("seed-{}", i / NAMES.len()),
                    name: NAMES[i % NAMES.len()].into(),
                },
                blueprint: "redis".into(),
                intent_id: None,
                action: "install".into(),
                version: "8".into(),
                parameters: json!({}),
                manifests: Value::Array(files.clone()),
                dependencies: vec![],
                created_by: "bench".into(),
            };
            store.record_revision(&revision).expect("seed revision");
        }
    }
    println!(
        "seeded {seed} releases in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["serve", "--bind", "127.0.0.1:0", "--db"])
        .arg(&db)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("DECKHAND_API_TOKEN", TOKEN)
        .env("DECKHAND_LOG", "warn")
        .env_remove("DECKHAND_BLUEPRINTS")
        .env_remove("DECKHAND_EXECUTOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("deckhand serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("address").expect("stdout");
        if let Some(at) = line.strip_prefix("deckhand listening on ") {
            break at.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let deploy = |client: &reqwest::blocking::Client, n: usize| -> (String, f64) {
        let sent = Instant::now();
        let response: Value = client
            .post(format!("{base}/api/orchestration/deploy"))
            .bearer_auth(TOKEN)
            .json(&json!({"command": format!("install redis in namespace load-{n}")}))
            .send()
            .expect("deploy answered")
            .json()
            .expect("JSON");
        let took = sent.elapsed().as_secs_f64() * 1000.0;
        (
            response["id"].as_str().expect("intent id").to_string(),
            took,
        )
    };
    // Warm up (connections, caches), not counted.
    for n in 0..20 {
        deploy(&client, deploys + n);
    }

    let next = Arc::new(AtomicUsize::new(0));
    let posted: Arc<Mutex<Vec<(String, f64)>>> = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    std::thread::scope(|scope| {
        for _ in 0..clients {
            let (next, posted, client) = (next.clone(), posted.clone(), client.clone());
            let deploy = &deploy;
            scope.spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= deploys || Instant::now() > deadline {
                        break;
                    }
                    let answer = deploy(&client, n);
                    posted.lock().unwrap().push(answer);
                }
            });
        }
    });
    // Every deploy followed to its end.
    let posted = posted.lock().unwrap().clone();
    let mut end_to_end = Vec::new();
    let mut failed = 0;
    for (id, _) in &posted {
        loop {
            let intent: Value = client
                .get(format!("{base}/api/orchestration/intents/{id}"))
                .bearer_auth(TOKEN)
                .send()
                .expect("intent")
                .json()
                .expect("JSON");
            let status = intent["status"].as_str().unwrap_or_default().to_string();
            if ["completed", "failed", "cancelled", "interrupted"].contains(&status.as_str()) {
                if status != "completed" {
                    failed += 1;
                }
                let created: jiff::Timestamp =
                    intent["created_at"].as_str().unwrap().parse().unwrap();
                let finished: jiff::Timestamp =
                    intent["finished_at"].as_str().unwrap().parse().unwrap();
                end_to_end.push((finished - created).as_secs_f64() * 1000.0);
                break;
            }
            assert!(
                Instant::now() < deadline + Duration::from_secs(60),
                "intent {id} stayed {status}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // The span from the first request to the last completion, read from
    // the intents themselves.
    let finished_at = posted
        .iter()
        .filter_map(|(id, _)| {
            let intent: Value = client
                .get(format!("{base}/api/orchestration/intents/{id}"))
                .bearer_auth(TOKEN)
                .send()
                .ok()?
                .json()
                .ok()?;
            intent["finished_at"]
                .as_str()?
                .parse::<jiff::Timestamp>()
                .ok()
        })
        .max();
    let first_at = posted.first().and_then(|(id, _)| {
        let intent: Value = client
            .get(format!("{base}/api/orchestration/intents/{id}"))
            .bearer_auth(TOKEN)
            .send()
            .ok()?
            .json()
            .ok()?;
        intent["created_at"]
            .as_str()?
            .parse::<jiff::Timestamp>()
            .ok()
    });
    let span = match (first_at, finished_at) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => started.elapsed().as_secs_f64(),
    };
    let _ = child.kill();
    let _ = child.wait();

    let mut post: Vec<f64> = posted.iter().map(|(_, t)| *t).collect();
    post.sort_by(f64::total_cmp);
    end_to_end.sort_by(f64::total_cmp);
    println!(
        "{} deploys with {seed} releases recorded, {clients} at a time: {:.0} deploys/s ({} not completed)",
        posted.len(),
        posted.len() as f64 / span,
        failed
    );
    println!(
        "POST /deploy answered: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&post, 0.5),
        percentile(&post, 0.99)
    );
    println!(
        "request to completed: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&end_to_end, 0.5),
        percentile(&end_to_end, 0.99)
    );
}
