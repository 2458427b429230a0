//! Install authentik with TLS on the real test control plane
//! (`tests/kube/cluster up`: kube-apiserver, kube-controller-manager,
//! kube-scheduler, etcd, and the kubelet stand-in), through the release
//! build of `deckhand serve` running as the least-privilege deckhand user.
//!
//! Each run gets a namespace of its own in which the stand-in reports a pod
//! ready 5 s after it reaches the node; two pods are on the critical path
//! (PostgreSQL, then authentik), so 10 s of the wall time are the stand-in's
//! delays. The wall time runs from the request to a deckhand that is
//! connected to its cluster (`/readyz`) to the moment it recorded the
//! intent `completed`. Target: wall time ≤ 1.05 × the delays. Each run's
//! timeline (the intent's events) is printed with it, then the spread.
//!
//! `eval "$(tests/kube/cluster up)"; cargo bench --bench kube_install`
//! (`RUNS`, default 10). Without a running cluster it says so and stops.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::kube::{AUTHENTIK_PODS_ON_CRITICAL_PATH, TimedInstall, cluster};
use common::server::{run, timeline};
use serde_json::json;

const DELAY: Duration = Duration::from_secs(5);
const TARGET: f64 = 1.05;

fn main() {
    // `cargo bench` passes "--bench"; nothing here takes arguments.
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let Some(cluster) = cluster() else { return };
    let critical = (DELAY * AUTHENTIK_PODS_ON_CRITICAL_PATH).as_secs_f64();
    let mut ratios = Vec::new();
    for n in 1..=runs {
        let TimedInstall {
            namespace: ns,
            server,
            done,
            requested,
            wall,
        } = cluster.install_authentik_timed("bench-authentik", DELAY);
        let ratio = wall / critical;
        println!(
            "run {n}/{runs}: {wall:.3} s for {critical:.0} s of delays: {ratio:.3}x\n{}",
            timeline(&done, requested)
        );
        ratios.push(ratio);
        let removed = run(
            &server,
            "remove authentik and its dependencies and its data on k8s",
            json!({}),
        );
        assert_eq!(removed["status"], "completed", "{}", removed["error"]);
        drop(server);
        cluster.drop_namespace(&ns);
    }
    if ratios.is_empty() {
        return;
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let within = ratios.iter().filter(|r| **r <= TARGET).count();
    println!(
        "authentik with TLS, {} run(s): min {:.3}x, median {median:.3}x, max {:.3}x; {within} of {} within the target {TARGET}x",
        ratios.len(),
        ratios[0],
        ratios[ratios.len() - 1],
        ratios.len()
    );
}
