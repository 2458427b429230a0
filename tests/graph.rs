//! Dependency graph output through the real binary (`deckhand graph`) and the
//! real server (`GET …/blueprints/{name}/graph`): DOT and Mermaid are parsed
//! here (structure checked), the SVG is parsed as XML (roxmltree) and counted.
//! No outside parts.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::server::{ADMIN_TOKEN, Server};

fn graph(args: &[&str]) -> String {
    let mut all = vec!["graph"];
    all.extend_from_slice(args);
    let output = common::run(&all, None);
    assert!(output.status.success(), "{}", common::stderr(&output));
    common::stdout(&output)
}

/// Nodes of a DOT graph: name → the cluster it is in.
type DotNodes = BTreeMap<String, String>;
/// Edges of a DOT graph: (from, to, label).
type DotEdges = Vec<(String, String, String)>;

/// Nodes and edges of a DOT graph.
fn parse_dot(text: &str) -> (DotNodes, DotEdges) {
    assert!(
        text.trim_start().starts_with("digraph deckhand {") && text.trim_end().ends_with('}'),
        "{text}"
    );
    assert_eq!(
        text.matches('{').count(),
        text.matches('}').count(),
        "balanced braces"
    );
    let (mut nodes, mut edges, mut cluster) = (BTreeMap::new(), Vec::new(), String::new());
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("subgraph ") {
            cluster = rest.trim_end_matches(" {").to_string();
        } else if line.contains("->") {
            let (left, right) = line.split_once("->").unwrap();
            let to = right
                .trim()
                .split_once(' ')
                .unwrap()
                .0
                .trim_matches('"')
                .to_string();
            let label = right
                .split_once("label=\"")
                .map(|(_, l)| l.trim_end_matches("\"];").to_string())
                .unwrap_or_default();
            edges.push((left.trim().trim_matches('"').to_string(), to, label));
        } else if line.starts_with('"') && line.contains("[label=") {
            nodes.insert(line.split('"').nth(1).unwrap().to_string(), cluster.clone());
        }
    }
    (nodes, edges)
}

#[test]
fn dot_groups_by_wave_and_labels_edges_with_the_wiring() {
    let (nodes, edges) = parse_dot(&graph(&["authentik", "--version", "2025.8.4"]));
    assert_eq!(nodes["authentik-postgresql"], "cluster_wave_1");
    assert_eq!(nodes["authentik-redis"], "cluster_wave_1");
    assert_eq!(nodes["authentik"], "cluster_wave_2");
    assert_eq!(edges.len(), 2);
    let to_pg = edges
        .iter()
        .find(|e| e.1 == "authentik-postgresql")
        .unwrap();
    assert_eq!(to_pg.0, "authentik");
    assert!(to_pg.2.contains("AUTHENTIK_POSTGRESQL__HOST"), "{to_pg:?}");
    // One variable a line: DOT's `\n` escape, not a literal backslash.
    assert!(
        to_pg
            .2
            .contains("AUTHENTIK_POSTGRESQL__HOST\\nAUTHENTIK_POSTGRESQL__")
            && !to_pg.2.contains("\\\\"),
        "{to_pg:?}"
    );
}

#[test]
fn mermaid_is_a_flowchart_with_one_subgraph_per_wave() {
    let text = graph(&["gitea", "--format", "mermaid"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "flowchart LR");
    let subgraphs: Vec<&str> = lines
        .iter()
        .filter(|l| l.trim_start().starts_with("subgraph"))
        .copied()
        .collect();
    assert_eq!(subgraphs.len(), 2);
    assert!(subgraphs[0].contains("wave1") && subgraphs[1].contains("wave2"));
    assert_eq!(lines.iter().filter(|l| l.trim() == "end").count(), 2);
    let edge = lines.iter().find(|l| l.contains("-->")).unwrap();
    assert!(
        edge.contains("gitea -->|") && edge.trim_end().ends_with("gitea_postgresql"),
        "{edge}"
    );
    assert!(edge.contains("GITEA__database__PASSWD"), "{edge}");
}

#[test]
fn svg_is_well_formed_with_a_node_per_release_and_an_edge_per_dependency() {
    for (app, version, releases, dependencies) in [
        ("authentik", "2025.8.4", 3, 2),
        ("nextcloud", "32", 3, 2),
        ("redis", "8", 1, 0),
    ] {
        let text = graph(&[app, "--format", "svg", "--version", version]);
        let document =
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{app}: not XML: {e}"));
        let groups = |class: &str| {
            document
                .descendants()
                .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some(class))
                .collect::<Vec<_>>()
        };
        let nodes = groups("node");
        let edges = groups("edge");
        assert_eq!(nodes.len(), releases, "{app}");
        assert_eq!(edges.len(), dependencies, "{app}");
        // Waves in order: a release's column is right of everything it depends on.
        let x_of: BTreeMap<&str, f64> = nodes
            .iter()
            .map(|n| {
                let rect = n.children().find(|c| c.has_tag_name("rect")).unwrap();
                (
                    n.attribute("data-release").unwrap(),
                    rect.attribute("x").unwrap().parse().unwrap(),
                )
            })
            .collect();
        for edge in &edges {
            assert!(
                x_of[edge.attribute("data-from").unwrap()]
                    > x_of[edge.attribute("data-to").unwrap()],
                "{app}: waves out of order"
            );
        }
        let waves: BTreeSet<&str> = nodes
            .iter()
            .map(|n| n.attribute("data-wave").unwrap())
            .collect();
        assert_eq!(waves.len(), if dependencies == 0 { 1 } else { 2 });
    }
}

#[test]
fn the_api_serves_graphs_and_colours_an_intent_by_status() {
    let server = Server::start();
    let response = server
        .client
        .get(server.url("/api/orchestration/blueprints/authentik/graph?format=svg"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    roxmltree::Document::parse(&response.text().unwrap()).unwrap();
    let dot = server
        .client
        .get(server.url("/api/orchestration/blueprints/gitea/graph?format=dot"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(dot.contains("\"gitea\" -> \"gitea-postgresql\""), "{dot}");
    assert_eq!(
        server
            .get(
                "/api/orchestration/blueprints/nope/graph",
                Some(ADMIN_TOKEN)
            )
            .0,
        404
    );
    assert_eq!(
        server
            .get(
                "/api/orchestration/blueprints/gitea/graph?format=png",
                Some(ADMIN_TOKEN)
            )
            .0,
        400
    );

    let (_, intent) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        serde_json::json!({"command": "install gitea"}),
    );
    let id = intent["id"].as_str().unwrap();
    server.wait_for(id, &["completed"]);
    let svg = server
        .client
        .get(server.url(&format!("/api/orchestration/intents/{id}/graph")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let document = roxmltree::Document::parse(&svg).unwrap();
    let statuses: Vec<String> = document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .filter(|t| t.contains("—"))
        .map(str::to_string)
        .collect();
    assert_eq!(statuses.len(), 2, "{svg}");
    assert!(
        statuses.iter().all(|s| s.ends_with("— recorded")),
        "{statuses:?}"
    );
}
