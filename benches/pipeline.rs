//! Speed of the core pipeline (targets in the README):
//! parsing one sentence (< 20 µs), planning "install authentik with TLS" end
//! to end (< 1 ms), loading a catalogue of 1,000 generated blueprints
//! (< 200 ms), resolving a random 10,000-node dependency graph (< 50 ms).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use deckhand::catalogue::{BlueprintSource, Catalogue};
use deckhand::intent::RuleParser;
use deckhand::plan::{Overrides, Planner};
use deckhand::render::{EphemeralSecrets, RenderOptions};
use deckhand::resolve::{Request, resolve};
use rand::{RngExt, SeedableRng};

/// A blueprint with a parameter, a secret, provides, templated env and two components.
fn generated_blueprint(index: usize, requires: &[usize]) -> BlueprintSource {
    let requires = if requires.is_empty() {
        " []\n".to_string()
    } else {
        let lines: Vec<String> = requires
            .iter()
            .map(|r| format!("  - {{blueprint: bp{r}, as: dep{r}}}\n"))
            .collect();
        format!("\n{}", lines.concat())
    };
    BlueprintSource {
        origin: format!("gen/bp{index}.yaml"),
        text: format!(
            "name: bp{index}\ndescription: generated blueprint {index}\ncategory: generated\nversion: \"1.{index}\"\n\
             requires:{requires}parameters:\n  database: {{type: string, default: app}}\nsecrets:\n  password: {{length: 24}}\n\
             provides:\n  host: \"{{{{ release.host }}}}\"\n  password: \"{{{{ secrets.password }}}}\"\n\
             env:\n  DB: \"{{{{ params.database }}}}\"\n  PASSWORD: \"{{{{ secrets.password }}}}\"\n\
             components:\n  - name: web\n    image: example/bp{index}\n    ports: [{{name: http, port: 8080}}]\n    expose: http\n\
             \x20   health: {{http: {{path: /health, port: 8080}}}}\n    volumes: [{{name: data, path: /data}}]\n\
             \x20 - name: worker\n    image: example/bp{index}\n    args: [worker]\n",
        ),
    }
}

/// `count` blueprints, each requiring up to three earlier ones (a random
/// DAG), and the indices of those no other blueprint requires.
fn random_dag_catalogue(count: usize, seed: u64) -> (Vec<BlueprintSource>, Vec<usize>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut required = vec![false; count];
    let sources = (0..count)
        .map(|i| {
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
            for &d in &deps {
                required[d] = true;
            }
            generated_blueprint(i, &deps)
        })
        .collect();
    let tops = (0..count).filter(|i| !required[*i]).collect();
    (sources, tops)
}

fn benches(c: &mut Criterion) {
    let catalogue = Catalogue::builtin().expect("builtin catalogue");
    let parser = RuleParser::new(&catalogue);
    c.bench_function("parse one sentence", |b| {
        b.iter(|| parser.parse(black_box("install authentik with TLS and ingress in namespace auth on domain auth.example.com")).unwrap())
    });

    let planner = Planner::new(&catalogue, RenderOptions::default());
    c.bench_function(
        "plan install authentik with TLS (parse, resolve, render, objects)",
        |b| {
            b.iter(|| {
                let plan = planner
                    .plan(
                        black_box("install authentik with TLS"),
                        &Overrides::default(),
                        &mut EphemeralSecrets::new(),
                    )
                    .unwrap();
                black_box(
                    plan.releases
                        .iter()
                        .map(|r| plan.kubernetes_objects(r).len())
                        .sum::<usize>(),
                )
            })
        },
    );

    let (thousand, _) = random_dag_catalogue(1_000, 7);
    let mut group = c.benchmark_group("catalogue");
    group.sample_size(10);
    group.bench_function("load 1,000 generated blueprints", |b| {
        b.iter(|| Catalogue::from_sources(black_box(thousand.clone())).unwrap())
    });
    group.finish();

    // 10,000 random blueprints; a root requires every one nobody else requires,
    // so resolving the root walks the whole DAG.
    let (mut sources, tops) = random_dag_catalogue(10_000, 11);
    let roots: Vec<String> = tops
        .iter()
        .map(|i| format!("  - {{blueprint: bp{i}, as: r{i}}}\n"))
        .collect();
    sources.push(BlueprintSource {
        origin: "gen/root.yaml".into(),
        text: format!("name: root\ndescription: root\ncategory: generated\nrequires:\n{}components:\n  - name: main\n    image: busybox\n", roots.concat()),
    });
    let big = Catalogue::from_sources(sources).expect("generated catalogue");
    let request = [Request {
        blueprint: "root".into(),
        ..Default::default()
    }];
    let nodes = resolve(&big, &request).unwrap().len();
    let mut group = c.benchmark_group("resolve");
    group.sample_size(10);
    group.bench_function(
        format!("resolve a random DAG ({nodes} releases of 10,000 blueprints)"),
        |b| b.iter(|| resolve(black_box(&big), &request).unwrap()),
    );
    group.finish();
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
