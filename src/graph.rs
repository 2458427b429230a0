//! Dependency graphs for people: the resolved release graph of a blueprint
//! (or of an intent, coloured by each release's status) as Graphviz DOT,
//! Mermaid, or an SVG drawn here with a layered layout (one column per wave,
//! dependencies on the left), so no outside tool is needed. Every edge is
//! labelled with what it wires (`AUTHENTIK_POSTGRESQL__HOST`, …).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::render::RenderedRelease;

/// One release in a graph.
#[derive(Debug, Clone, Serialize)]
pub struct GraphNode {
    pub release: String,
    pub blueprint: String,
    pub version: String,
    /// 0-based wave.
    pub wave: usize,
    /// Optional status (`ready`, `failed`, …) for colouring.
    pub status: Option<String>,
    /// Its place in a stack: "layer 2 of prometheus-grafana", or for the
    /// stack itself "stack: layer 1 prometheus, layer 2 grafana".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// A release's place in a stack, for a graph label.
fn stack_label(release: &RenderedRelease) -> Option<String> {
    if let Some(of) = &release.member_of {
        return Some(format!("layer {} of {}", of.layer, of.stack));
    }
    release.is_stack().then(|| {
        let layers: Vec<String> = release
            .stack_members
            .iter()
            .map(|m| format!("layer {} {}", m.layer, m.member))
            .collect();
        format!("stack: {}", layers.join(", "))
    })
}

/// `from` requires `to`; `wires` are the variables that carry the connection.
#[derive(Debug, Clone, Serialize)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    pub wires: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

/// Output formats.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Svg,
}

impl GraphFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            GraphFormat::Dot => "text/vnd.graphviz; charset=utf-8",
            GraphFormat::Mermaid => "text/plain; charset=utf-8",
            GraphFormat::Svg => "image/svg+xml",
        }
    }
}

impl Graph {
    /// The graph of rendered releases (in wave order), with statuses when known.
    pub fn of(releases: &[RenderedRelease], statuses: &BTreeMap<String, String>) -> Self {
        let nodes = releases
            .iter()
            .map(|r| GraphNode {
                release: r.release.clone(),
                blueprint: r.blueprint.clone(),
                version: r.version.clone(),
                wave: r.wave,
                status: statuses.get(&r.release).cloned(),
                stack: stack_label(r),
            })
            .collect();
        let mut edges = Vec::new();
        for release in releases {
            for dependency in &release.dependencies {
                let mut wires: Vec<String> = release
                    .wiring
                    .iter()
                    .filter(|w| &w.dependency == dependency)
                    .map(|w| w.variable.clone())
                    .collect();
                wires.sort();
                wires.dedup();
                edges.push(GraphEdge {
                    from: release.release.clone(),
                    to: dependency.clone(),
                    wires,
                });
            }
        }
        Self { nodes, edges }
    }

    pub fn waves(&self) -> Vec<Vec<&GraphNode>> {
        let count = self.nodes.iter().map(|n| n.wave + 1).max().unwrap_or(0);
        let mut waves: Vec<Vec<&GraphNode>> = vec![Vec::new(); count];
        for node in &self.nodes {
            waves[node.wave].push(node);
        }
        waves
    }

    pub fn render(&self, format: GraphFormat) -> String {
        match format {
            GraphFormat::Dot => self.dot(),
            GraphFormat::Mermaid => self.mermaid(),
            GraphFormat::Svg => self.svg(),
        }
    }

    /// Graphviz DOT, one cluster per wave.
    pub fn dot(&self) -> String {
        // A DOT string: backslashes and quotes escaped, line breaks as `\n`.
        let quote = |s: &str| {
            format!(
                "\"{}\"",
                s.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        };
        let mut out =
            String::from("digraph deckhand {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
        for (i, wave) in self.waves().iter().enumerate() {
            let _ = writeln!(
                out,
                "  subgraph cluster_wave_{} {{\n    label={};",
                i + 1,
                quote(&format!("wave {}", i + 1))
            );
            for node in wave {
                let mut label = format!("{}\n{} {}", node.release, node.blueprint, node.version);
                if let Some(stack) = &node.stack {
                    label.push_str(&format!("\n{stack}"));
                }
                if let Some(status) = &node.status {
                    label.push_str(&format!("\n[{status}]"));
                }
                let _ = writeln!(
                    out,
                    "    {} [label={}, fillcolor=\"{}\", style=\"rounded,filled\"];",
                    quote(&node.release),
                    quote(&label),
                    colour(node.status.as_deref())
                );
            }
            out.push_str("  }\n");
        }
        for edge in &self.edges {
            let _ = writeln!(
                out,
                "  {} -> {} [label={}];",
                quote(&edge.from),
                quote(&edge.to),
                quote(&edge.wires.join("\n"))
            );
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart, one subgraph per wave.
    pub fn mermaid(&self) -> String {
        let id = |s: &str| s.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let mut out = String::from("flowchart LR\n");
        for (i, wave) in self.waves().iter().enumerate() {
            let _ = writeln!(out, "  subgraph wave{} [\"wave {}\"]", i + 1, i + 1);
            for node in wave {
                let mut status = node
                    .status
                    .as_ref()
                    .map_or(String::new(), |s| format!("<br/>{s}"));
                if let Some(stack) = &node.stack {
                    status = format!("<br/>{stack}{status}");
                }
                let _ = writeln!(
                    out,
                    "    {}[\"{}<br/>{} {}{status}\"]",
                    id(&node.release),
                    node.release,
                    node.blueprint,
                    node.version
                );
            }
            out.push_str("  end\n");
        }
        for edge in &self.edges {
            let label = if edge.wires.is_empty() {
                String::new()
            } else {
                format!("|\"{}\"|", edge.wires.join(", "))
            };
            let _ = writeln!(out, "  {} -->{label} {}", id(&edge.from), id(&edge.to));
        }
        out
    }

    /// An SVG with a layered layout: waves as columns from left to right.
    pub fn svg(&self) -> String {
        const WIDTH: f64 = 230.0;
        const HEIGHT: f64 = 72.0;
        const COLUMN: f64 = 480.0;
        const ROW: f64 = 110.0;
        const MARGIN: f64 = 30.0;
        let waves = self.waves();
        let tallest = waves.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let total_width = MARGIN * 2.0 + COLUMN * (waves.len().max(1) as f64 - 1.0) + WIDTH;
        let total_height = MARGIN * 2.0 + 24.0 + ROW * (tallest as f64 - 1.0) + HEIGHT;
        let mut position: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for (column, wave) in waves.iter().enumerate() {
            let offset = (tallest - wave.len()) as f64 * ROW / 2.0;
            for (row, node) in wave.iter().enumerate() {
                position.insert(
                    &node.release,
                    (
                        MARGIN + column as f64 * COLUMN,
                        MARGIN + 24.0 + offset + row as f64 * ROW,
                    ),
                );
            }
        }
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {total_width:.0} {total_height:.0}\" width=\"{total_width:.0}\" height=\"{total_height:.0}\" role=\"img\" aria-label=\"dependency graph\" font-family=\"system-ui, sans-serif\" font-size=\"13\">\n\
             <title>dependency graph</title>\n\
             <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>\n"
        );
        for (column, _) in waves.iter().enumerate() {
            let _ = writeln!(
                out,
                "<text class=\"wave\" x=\"{:.0}\" y=\"{:.0}\" font-weight=\"bold\" fill=\"#444\">wave {}</text>",
                MARGIN + column as f64 * COLUMN,
                MARGIN + 8.0,
                column + 1
            );
        }
        // Edges go from the dependent (right) to its dependency (left).
        for edge in &self.edges {
            let (Some(&(fx, fy)), Some(&(tx, ty))) = (
                position.get(edge.from.as_str()),
                position.get(edge.to.as_str()),
            ) else {
                continue;
            };
            let (x1, y1, x2, y2) = (fx, fy + HEIGHT / 2.0, tx + WIDTH, ty + HEIGHT / 2.0);
            let label = match edge.wires.len() {
                0 => String::new(),
                1 | 2 => edge.wires.join(", "),
                n => format!("{}, … (+{})", edge.wires[0], n - 1),
            };
            let _ = writeln!(
                out,
                "<g class=\"edge\" data-from=\"{}\" data-to=\"{}\"><title>{}</title><path d=\"M {x1:.0} {y1:.0} C {:.0} {y1:.0}, {:.0} {y2:.0}, {x2:.0} {y2:.0}\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/><text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#333\">{}</text></g>",
                escape(&edge.from),
                escape(&edge.to),
                escape(&edge.wires.join("\n")),
                x1 - 50.0,
                x2 + 50.0,
                (x1 + x2) / 2.0,
                (y1 + y2) / 2.0 - 6.0,
                escape(&label)
            );
        }
        for node in &self.nodes {
            let (x, y) = position[node.release.as_str()];
            let status = node
                .status
                .as_ref()
                .map_or(String::new(), |s| format!(" — {s}"));
            let (stack_attribute, stack_title) =
                node.stack
                    .as_ref()
                    .map_or((String::new(), String::new()), |stack| {
                        (
                            format!(" data-stack=\"{}\"", escape(stack)),
                            format!("<title>{}</title>", escape(stack)),
                        )
                    });
            let _ = writeln!(
                out,
                "<g class=\"node\" data-release=\"{}\" data-wave=\"{}\"{stack_attribute}>{stack_title}<rect x=\"{x:.0}\" y=\"{y:.0}\" width=\"{WIDTH:.0}\" height=\"{HEIGHT:.0}\" rx=\"8\" fill=\"{}\" stroke=\"#333\"/><text x=\"{:.0}\" y=\"{:.0}\" font-weight=\"bold\">{}</text><text x=\"{:.0}\" y=\"{:.0}\" fill=\"#333\">{} {}{}</text></g>",
                escape(&node.release),
                node.wave + 1,
                colour(node.status.as_deref()),
                x + 10.0,
                y + 23.0,
                escape(&node.release),
                x + 10.0,
                y + 43.0,
                escape(&node.blueprint),
                escape(&node.version),
                escape(&status)
            );
            if let Some(stack) = &node.stack {
                // The line before `</g>`: the node's place in its stack.
                out.truncate(out.len() - "</g>\n".len());
                let _ = writeln!(
                    out,
                    "<text class=\"stack\" x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" fill=\"#555\">{}</text></g>",
                    x + 10.0,
                    y + 62.0,
                    escape(stack)
                );
            }
        }
        out.push_str("</svg>\n");
        out
    }
}

/// Fill colour for a status.
fn colour(status: Option<&str>) -> &'static str {
    match status {
        Some("ready" | "completed" | "recorded" | "removed") => "#c8ecc9",
        Some("failed") => "#f6c6c6",
        Some("skipped" | "cancelled") => "#e4e4e4",
        Some(_) => "#fde9b4",
        None => "#dbe8fb",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The graph of installing `name` (with its default parameters, or `version`).
pub fn blueprint_graph(
    catalogue: &crate::catalogue::Catalogue,
    name: &str,
    version: Option<&str>,
) -> Result<Graph, String> {
    let entry = catalogue.get(name).map_err(|e| e.to_string())?;
    let request = crate::resolve::Request {
        blueprint: entry.blueprint.name().to_string(),
        version: version.map(str::to_string),
        ..Default::default()
    };
    let graph = crate::resolve::resolve(catalogue, &[request]).map_err(|e| e.to_string())?;
    let releases = crate::render::render_releases(
        catalogue,
        &graph,
        &crate::render::RenderOptions::default(),
        &mut crate::render::EphemeralSecrets::new(),
    )
    .map_err(|e| e.to_string())?;
    Ok(Graph::of(&releases, &BTreeMap::new()))
}

/// Each release's last status in an intent's events (`release X` steps).
pub fn statuses_from_events(events: &[crate::store::EventRecord]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for event in events {
        if let Some(release) = event.step.strip_prefix("release ") {
            out.insert(release.to_string(), event.status.clone());
        }
    }
    out
}

/// The parts of a stored (masked) release a graph needs.
pub fn release_from_stored(value: &serde_json::Value) -> Option<crate::render::RenderedRelease> {
    let text = |key: &str| {
        value
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let wiring = value
        .get("wiring")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    Some(crate::render::RenderedRelease {
        release: value.get("release")?.as_str()?.to_string(),
        blueprint: text("blueprint"),
        version: text("version"),
        namespace: text("namespace"),
        requested: value
            .get("requested")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        components: vec![],
        ingress: None,
        provides: Default::default(),
        member_of: value
            .get("member_of")
            .and_then(|v| serde_json::from_value(v.clone()).ok()),
        stack_members: value
            .get("stack_members")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default(),
        wiring: wiring
            .iter()
            .map(|w| crate::render::Wire {
                variable: w["variable"].as_str().unwrap_or_default().to_string(),
                component: w["component"].as_str().map(str::to_string),
                dependency: w["dependency"].as_str().unwrap_or_default().to_string(),
                facts: vec![],
                shown: String::new(),
            })
            .collect(),
        secrets: vec![],
        dependencies: value
            .get("dependencies")
            .and_then(|d| serde_json::from_value(d.clone()).ok())
            .unwrap_or_default(),
        wave: value
            .get("wave")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0) as usize,
        timeout: None,
        parameters: Default::default(),
        published: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::render_app;

    #[test]
    fn edges_carry_the_wired_variables() {
        let graph = Graph::of(
            &render_app("authentik", Some("2025.8.4"), &[]),
            &BTreeMap::new(),
        );
        assert_eq!(graph.nodes.len(), 3);
        let to_pg = graph
            .edges
            .iter()
            .find(|e| e.to == "authentik-postgresql")
            .unwrap();
        assert!(
            to_pg
                .wires
                .contains(&"AUTHENTIK_POSTGRESQL__HOST".to_string())
        );
        assert!(graph.dot().contains("subgraph cluster_wave_2"));
        assert!(graph.mermaid().contains("authentik -->|"));
    }
}
