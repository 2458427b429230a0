//! Speed of the rule parser over every corpus sentence (target in the
//! README: ≤ 20 µs median per sentence). One iteration parses all of
//! `tests/data/intents*.jsonl` (about 1,400 sentences, errors included);
//! criterion's time per iteration divided by the count is the time per
//! sentence, and the throughput line says sentences per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use deckhand::catalogue::Catalogue;
use deckhand::intent::RuleParser;

fn sentences() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/data")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("intents") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("corpus");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let case: serde_json::Value = serde_json::from_str(line).expect("JSON");
            out.push(case["command"].as_str().unwrap_or_default().to_string());
        }
    }
    out
}

fn benches(c: &mut Criterion) {
    let catalogue = Catalogue::builtin().expect("builtin catalogue");
    let parser = RuleParser::new(&catalogue);
    let sentences = sentences();
    let mut group = c.benchmark_group("parser");
    group.throughput(Throughput::Elements(sentences.len() as u64));
    group.bench_function(format!("parse {} corpus sentences", sentences.len()), |b| {
        b.iter(|| {
            for sentence in &sentences {
                let _ = black_box(parser.parse(black_box(sentence)));
            }
        })
    });
    group.finish();
}

criterion_group!(parser, benches);
criterion_main!(parser);
