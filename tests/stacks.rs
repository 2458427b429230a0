//! Stacks as people see them, through the real binary and the real HTTP
//! server on a random port: `catalogue show`, the API's blueprint detail and
//! dependency tree, the blueprint web page and the graph, all showing the
//! layers of the monitoring stack.

mod common;

use std::process::Command;

use common::server::{ADMIN_TOKEN, Server};
use serde_json::Value;

#[test]
fn catalogue_show_lists_the_layers_of_a_stack() {
    let output = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["catalogue", "show", "prometheus-grafana"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for part in [
        "a stack, deployed layer by layer, removed and upgraded as one:",
        "  layer 1:\n    prometheus — prometheus",
        "  layer 2:\n    grafana — grafana",
        "after and wired to: prometheus",
        "file /etc/grafana/provisioning/datasources/deckhand-prometheus.yaml",
        "try: deckhand plan \"install prometheus-grafana\"",
    ] {
        assert!(text.contains(part), "{part:?} not in:\n{text}");
    }
    assert!(!text.contains("components:"), "{text}");
}

#[test]
fn the_api_the_page_and_the_graph_show_the_layers() {
    let server = Server::start_with(
        tempfile::tempdir().unwrap(),
        &[("DECKHAND_PUBLIC_CATALOGUE", "true")],
    );
    let (code, detail) = server.get(
        "/api/orchestration/blueprints/prometheus-grafana",
        Some(ADMIN_TOKEN),
    );
    assert_eq!(code, 200, "{detail}");
    let layers = detail["stack"]["layers"].as_array().unwrap();
    let names = |layer: &Value| -> Vec<String> {
        layer["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&layers[0]), ["prometheus"]);
    assert_eq!(names(&layers[1]), ["grafana"]);
    assert_eq!(detail["stack"]["front"], "grafana");
    assert_eq!(layers[1]["members"][0]["uses"][0], "prometheus");

    let (code, tree) = server.get(
        "/api/orchestration/blueprints/prometheus-grafana/dependencies",
        Some(ADMIN_TOKEN),
    );
    assert_eq!(code, 200, "{tree}");
    assert_eq!(
        tree["waves"],
        serde_json::json!([
            [
                "prometheus-grafana-grafana-postgresql",
                "prometheus-grafana-prometheus"
            ],
            ["prometheus-grafana-grafana"],
            ["prometheus-grafana"]
        ])
    );

    let (code, page) = server.get("/blueprints/prometheus-grafana", None);
    assert_eq!(code, 200);
    let page = page.as_str().unwrap();
    assert!(page.contains("<h2>Stack layers</h2>"), "{page}");
    assert!(
        page.contains("layer 1: <a href=\"/blueprints/prometheus\">prometheus</a>")
            && page.contains("layer 2: <a href=\"/blueprints/grafana\">grafana</a>"),
        "{page}"
    );
    assert!(
        page.contains("data-stack=\"layer 2 of prometheus-grafana\"")
            && page.contains("stack: layer 1 prometheus, layer 2 grafana"),
        "the graph labels the layers: {page}"
    );
}
