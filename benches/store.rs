//! Cost of recording an intent with its events in SQLite (a real database
//! file in WAL mode, as the service uses it): target under 1 ms for an
//! intent with the events of a typical install.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use deckhand::store::{IntentStatus, NewEvent, NewIntent, Store};

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("bench.db")).expect("store");
    c.bench_function("record an intent with 8 events (file database, WAL)", |b| {
        b.iter(|| {
            let (intent, _) = store
                .create_intent(NewIntent {
                    command: "install authentik with TLS".into(),
                    requested_by: "bench".into(),
                    options: serde_json::json!({}),
                    conversation_id: None,
                })
                .unwrap();
            let id = intent.id;
            for (status, step) in [
                (IntentStatus::Parsing, "parse"),
                (IntentStatus::Planning, "plan"),
                (IntentStatus::AwaitingConfirmation, "confirm"),
                (IntentStatus::Deploying, "confirm"),
            ] {
                store
                    .transition(
                        &id,
                        None,
                        status,
                        NewEvent::new(step, status.as_str(), "step"),
                    )
                    .unwrap();
            }
            for status in ["started", "applied"] {
                store
                    .add_event(
                        &id,
                        NewEvent::new("release authentik", status, "release step"),
                    )
                    .unwrap();
            }
            store
                .transition(
                    &id,
                    None,
                    IntentStatus::Completed,
                    NewEvent::new("finish", "completed", "done"),
                )
                .unwrap();
            black_box(id)
        })
    });
}

criterion_group!(store, benches);
criterion_main!(store);
