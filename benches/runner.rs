//! The runner's own overhead: a 20-release graph on an executor whose
//! readiness delays are set (10–80 ms each). The wall time of an install
//! divided by the graph's critical path (the longest chain of delays) must
//! stay at or under 1.05. Printed as `overhead ratio`, and timed by criterion.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use deckhand::execute::timed::{TimedExecutor, work};
use deckhand::execute::{ReleaseWork, Runner};
use rand::{RngExt, SeedableRng};
use tokio_util::sync::CancellationToken;

/// 20 releases, each depending on up to 3 earlier ones, with delays.
fn graph(seed: u64) -> (Vec<ReleaseWork>, HashMap<String, Duration>, Duration) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut works = Vec::new();
    let mut delays = HashMap::new();
    let mut finish: Vec<Duration> = Vec::new();
    for i in 0..20usize {
        let deps: Vec<usize> = if i == 0 {
            vec![]
        } else {
            let mut d: Vec<usize> = (0..rng.random_range(0..=3))
                .map(|_| rng.random_range(0..i))
                .collect();
            d.sort();
            d.dedup();
            d
        };
        let delay = Duration::from_millis(rng.random_range(10..=80));
        let start = deps.iter().map(|d| finish[*d]).max().unwrap_or_default();
        finish.push(start + delay);
        let names: Vec<String> = deps.iter().map(|d| format!("r{d}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        works.push(work(&format!("r{i}"), &refs));
        delays.insert(format!("r{i}"), delay);
    }
    let critical = finish.into_iter().max().unwrap_or_default();
    (works, delays, critical)
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (works, delays, critical) = graph(3);
    let executor = Arc::new(TimedExecutor {
        delays,
        ..Default::default()
    });
    let runner = Runner::new(executor, Duration::from_secs(30));
    let run_once = || {
        runtime.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
            let started = Instant::now();
            let outcome = runner
                .run(works.clone(), &tx, &CancellationToken::new())
                .await;
            let took = started.elapsed();
            drop(tx);
            let _ = drain.await;
            assert!(outcome.succeeded());
            took
        })
    };
    let samples: Vec<Duration> = (0..10).map(|_| run_once()).collect();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "runner: 20 releases, critical path {:.1} ms, install {:.1} ms (mean of 10): overhead ratio {:.3}",
        critical.as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        mean.as_secs_f64() / critical.as_secs_f64()
    );
    let mut group = c.benchmark_group("runner");
    group.sample_size(10);
    group.bench_function(
        "install a 20-release graph with set readiness delays",
        |b| b.iter_custom(|iterations| (0..iterations).map(|_| run_once()).sum()),
    );
    group.finish();
}

criterion_group!(runner, benches);
criterion_main!(runner);
