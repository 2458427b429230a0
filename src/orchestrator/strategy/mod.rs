//! Upgrades with a delivery strategy: checked and planned before anything
//! runs ([`prepare`]: where each strategy can run and why not, and the
//! stages shown in the plan), run stage by stage ([`canary`],
//! [`blue_green`]; rolling and recreate are fields of the new revision's
//! Deployments and run as a plain apply), and steered while they run
//! ([`control`]: promote, pause, abort, by intent id or by release).
//! On Compose, recreate is what `docker compose up` does and blue-green is
//! a second project validated beside the first ([`compose_blue_green`]);
//! canary and rolling are refused with the reason.
//!
//! Every stage is an event of the upgrade's intent (step `strategy`), so
//! the API, server-sent events and chat progress show it with its
//! validation's result. What a stage applies is built in
//! [`crate::rollout::kubernetes`]; a stage goes through the executor's
//! `apply` and `wait_ready` like any release, and going back is applying
//! the installed revision's stored objects again, which prunes what the
//! stages added (the canary or green Deployments).

mod blue_green;
mod canary;
mod compose_blue_green;
pub mod control;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Orchestrator;
use super::deploy::Run;
use super::lifecycle::{Prepared, Refusal, refuse, stored_files};
use crate::execute::{self, ExecError, ExecutorKind, ReleaseWork};
use crate::intent::{Action, Strategy};
use crate::render::RenderedRelease;
use crate::render::kubernetes::KubeObject;
use crate::rollout::{RolloutPlan, StrategyOptions, Timing};
use crate::store::releases::RevisionRecord;
use crate::store::{NewEvent, StoreError};
pub use control::{Rollouts, Signal};

/// Checks that the intent's strategy can run here and puts its stages in
/// the plan; a refusal says why and what to do instead.
pub(super) fn prepare(
    prepared: &mut Prepared,
    options: Option<&StrategyOptions>,
) -> Result<(), Refusal> {
    let Prepared::Apply {
        plan,
        executor,
        previous,
        ..
    } = prepared
    else {
        return Ok(());
    };
    let Some(strategy) = plan.intent.strategy.clone() else {
        return Ok(());
    };
    if plan.intent.action != Action::Upgrade {
        return Err(refuse(format!(
            "the {} strategy is for an upgrade, not {}",
            strategy.name(),
            plan.intent.action
        )));
    }
    let timing = Timing::of(options).map_err(refuse)?;
    let staged = matches!(strategy, Strategy::Canary { .. } | Strategy::BlueGreen {});
    let compose = plan.platform == crate::intent::Platform::Compose;
    match (compose, &strategy) {
        (true, Strategy::Canary { .. }) => {
            return Err(refuse(
                "a canary needs two versions behind one address with the traffic split between them; Compose publishes a port from one service and has no load balancer to weight, so a canary cannot run there: upgrade with blue-green (the new project beside the old, then the port moved) or without a strategy",
            ));
        }
        (true, Strategy::Rolling { .. }) => {
            return Err(refuse(
                "Compose replaces a service's containers all at once (docker compose up stops the old container, then starts the new one), so it cannot roll in batches: upgrade with recreate (what Compose does), or with blue-green",
            ));
        }
        (true, Strategy::BlueGreen {}) => {
            let stateful: Vec<&str> = plan
                .releases
                .iter()
                .filter(|r| r.requested && r.components.iter().any(|c| !c.volumes.is_empty()))
                .map(|r| r.release.as_str())
                .collect();
            if !stateful.is_empty() {
                return Err(refuse(format!(
                    "{} keeps its data in volumes that a second project of the new version cannot share safely, so blue-green cannot run beside it on Compose: upgrade with recreate or without a strategy",
                    stateful.join(", ")
                )));
            }
        }
        _ => {}
    }
    if *executor == ExecutorKind::Render && staged {
        return Err(refuse(format!(
            "a {} runs stages against a live cluster and validates each; the render executor only writes files: run it with the kubernetes executor",
            strategy.name()
        )));
    }
    let requested: Vec<&RenderedRelease> = plan.releases.iter().filter(|r| r.requested).collect();
    if staged {
        let others: Vec<&str> = plan
            .releases
            .iter()
            .filter(|r| !r.requested)
            .map(|r| r.release.as_str())
            .collect();
        if !others.is_empty() {
            return Err(refuse(format!(
                "this upgrade also changes {} (a dependency), which a {} cannot stage: upgrade without a strategy",
                others.join(", "),
                strategy.name()
            )));
        }
        if requested.len() > 1 {
            return Err(refuse(format!(
                "a {} stages one application at a time; upgrade {} one by one",
                strategy.name(),
                requested
                    .iter()
                    .map(|r| r.release.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mut replicas = 1;
    for release in &requested {
        let new = plan.kubernetes_objects(release);
        if !compose
            && let Some(why) =
                crate::rollout::kubernetes::refusal(&strategy, &release.release, &new)
        {
            return Err(refuse(why));
        }
        if let (Strategy::BlueGreen {}, Some(before)) = (&strategy, previous.get(&release.release))
            && before.version == release.version
        {
            return Err(refuse(format!(
                "blue-green tells the running pods from the new ones by their version, and {} stays at {}: upgrade to another version, or without a strategy",
                release.release, release.version
            )));
        }
        replicas = replicas.max(crate::rollout::kubernetes::replicas(&new));
    }
    let mut rollout = RolloutPlan::new(&strategy, timing, replicas).map_err(refuse)?;
    if let Strategy::Canary { .. } = strategy
        && !compose
        && requested.iter().any(|r| {
            crate::rollout::kubernetes::weighted_by_ingress(
                &plan.kubernetes_objects(r),
                plan.options.ingress_class.as_deref(),
            )
        })
    {
        rollout.notes.push(
            "the ingress class is ingress-nginx's: each stage's percentage is the share of requests its controller sends to the canary (a canary Ingress with canary-weight, and a <service>-canary Service), while the Services select the stable version only".into(),
        );
    }
    if compose {
        rollout.stages = compose_stages(&strategy, &rollout.timing);
    }
    plan.rollout = Some(rollout);
    Ok(())
}

/// The stages of a strategy on Compose (recreate or blue-green).
fn compose_stages(strategy: &Strategy, timing: &Timing) -> Vec<crate::rollout::Stage> {
    let stage = |name: &str, description: String| crate::rollout::Stage {
        name: name.into(),
        percent: None,
        description,
    };
    if let Strategy::BlueGreen {} = strategy {
        return vec![
            stage("green", format!(
                "the new version starts as a second project (<project>-green) on a free temporary port while blue keeps serving; validated for {} s, checked every {} s: its containers running and healthy, no restarts",
                timing.stage_seconds,
                timing.interval().as_secs()
            )),
            stage("switch", "green's project is removed and the release's project takes the new version on its published port (docker compose up recreates its containers: the port moves with a short gap)".into()),
            stage("note", "Compose cannot keep blue for an instant switch back (a container's ports are fixed when it is created): after the switch, going back is a rollback".into()),
        ];
    }
    vec![stage(
        "recreate",
        "docker compose up stops each changed container, then starts its replacement (a short outage; no two versions at once)".into(),
    )]
}

/// How long a Service may take to route as a stage expects (the endpoint
/// slice controller batches its updates, usually within a second).
const ROUTING_LIMIT: Duration = Duration::from_secs(15);

/// The objects a stored revision applied.
fn stored_objects(revision: &RevisionRecord) -> Result<Vec<KubeObject>, String> {
    let files = stored_files(revision);
    let text = files
        .iter()
        .find(|f| f.path == "manifests.yaml")
        .map(|f| f.content.as_str())
        .ok_or_else(|| format!("revision {} has no stored manifests", revision.number))?;
    crate::render::kubernetes::from_yaml(text)
}

/// A request a stage sends from deckhand itself, each check: the
/// blueprint's HTTP check (status below 400, with its latency) or TCP check
/// (a connection) against an address deckhand can reach.
#[derive(Debug, Clone)]
enum Probe {
    Http(String),
    Tcp(std::net::SocketAddr),
}

impl Probe {
    /// What one request found: its description and latency, or why it failed.
    async fn send(&self, http: &reqwest::Client) -> Result<(String, Duration), String> {
        let started = Instant::now();
        match self {
            Probe::Http(url) => {
                let answer = http
                    .get(url)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .map_err(|e| format!("HTTP GET {url}: {e}"))?;
                let status = answer.status();
                if status.as_u16() >= 400 {
                    return Err(format!("HTTP GET {url} answered {status}"));
                }
                Ok((
                    format!("HTTP GET {url}: {}", status.as_u16()),
                    started.elapsed(),
                ))
            }
            Probe::Tcp(address) => {
                tokio::time::timeout(
                    Duration::from_secs(5),
                    tokio::net::TcpStream::connect(address),
                )
                .await
                .map_err(|_| format!("TCP {address}: no connection within 5 s"))?
                .map_err(|e| format!("TCP {address}: {e}"))?;
                Ok((format!("TCP {address}: connected"), started.elapsed()))
            }
        }
    }
}

/// How a stage's validation ended.
enum Held {
    /// The whole stage passed: what was checked.
    Passed(String),
    /// A person promoted before the stage's time was up.
    Promoted {
        by: String,
        checked: String,
    },
    Failed(String),
    Aborted(String),
    Cancelled,
}

/// What a person said while a rollout waited.
enum Word {
    Promote(String),
    Abort(String),
    Cancelled,
    /// The wait's time passed.
    Elapsed,
}

/// One rollout's view of its run: the signals it reads and whether a
/// pause was asked.
struct Steering {
    signals: mpsc::UnboundedReceiver<Signal>,
    pause_asked: Option<String>,
}

impl Orchestrator {
    /// Records a stage event of the rollout.
    async fn stage_event(
        &self,
        id: &str,
        status: &str,
        message: String,
        took: Option<Duration>,
    ) -> Result<(), StoreError> {
        let mut event = NewEvent::new("strategy", status, message);
        if let Some(took) = took {
            event = event.took(took);
        }
        self.record(id, event).await
    }

    /// Applies `objects` as one stage of `release` and waits for them
    /// (`token`: the run's, or a fresh one for going back, which must finish).
    async fn apply_stage(
        &self,
        run: &Run<'_>,
        release: &RenderedRelease,
        objects: Vec<KubeObject>,
        revision: i64,
        label: &str,
        token: &CancellationToken,
    ) -> Result<String, ExecError> {
        let files = vec![execute::ReleaseFile {
            path: "manifests.yaml".into(),
            content: crate::render::kubernetes::to_yaml(&objects),
            secret: true,
        }];
        let dir = execute::render::revision_dir(
            &self.settings.data_dir,
            &run.plan.namespace,
            &release.release,
            revision,
        )
        .with_file_name(format!("{revision}-{label}"));
        execute::render::write_release(&dir, &files)
            .map_err(|e| ExecError::Failed(format!("cannot write {}: {e}", dir.display())))?;
        let work = ReleaseWork {
            release: release.clone(),
            platform: run.plan.platform,
            namespace: run.plan.namespace.clone(),
            files,
            objects,
            resources: vec![],
            // Above 1, so the executor prunes what this stage does not have.
            revision: revision.max(2),
            dir,
        };
        let timeout = release
            .timeout
            .map_or(self.settings.ready_timeout, Duration::from_secs);
        let applied = run.executor.apply(&work).await?;
        let ready = run.executor.wait_ready(&work, timeout, token).await?;
        Ok(format!("{applied}; {ready}"))
    }

    /// Watches the pods `selector` names for the stage's time: every check
    /// wants `expected` of them, all Ready, with no restart since the stage
    /// began. A promote ends it early, an abort or a cancel at once.
    async fn hold_stage(
        &self,
        run: &Run<'_>,
        steering: &mut Steering,
        selector: &str,
        expected: u32,
        timing: &Timing,
        probe: Option<&Probe>,
    ) -> Held {
        let started = Instant::now();
        let until = started + timing.stage();
        let mut baseline: HashMap<String, u32> = HashMap::new();
        let mut checks = 0;
        let http = reqwest::Client::new();
        let mut latencies: Vec<Duration> = Vec::new();
        let mut probed = String::new();
        loop {
            let pods = match run.executor.pod_health(&run.plan.namespace, selector).await {
                Ok(pods) => pods,
                Err(err) => return Held::Failed(format!("cannot read the pods: {err}")),
            };
            checks += 1;
            if (pods.len() as u32) < expected {
                return Held::Failed(format!(
                    "{} of {expected} new pod(s) found ({selector})",
                    pods.len()
                ));
            }
            for pod in &pods {
                if !pod.ready {
                    return Held::Failed(format!(
                        "pod {} is not Ready{}",
                        pod.name,
                        pod.problem
                            .as_ref()
                            .map_or(String::new(), |p| format!(": {p}"))
                    ));
                }
                let first = *baseline.entry(pod.name.clone()).or_insert(pod.restarts);
                if pod.restarts > first {
                    return Held::Failed(format!(
                        "pod {} restarted {} time(s) during the stage",
                        pod.name,
                        pod.restarts - first
                    ));
                }
            }
            if let Some(probe) = probe {
                match probe.send(&http).await {
                    Ok((what, took)) => {
                        probed = what;
                        latencies.push(took);
                    }
                    Err(why) => return Held::Failed(why),
                }
            }
            let mut checked = format!(
                "{checks} check(s) over {:.0} s: {} pod(s) Ready, no restarts",
                started.elapsed().as_secs_f64(),
                pods.len()
            );
            if let Some(slowest) = latencies.iter().max() {
                let mean = latencies.iter().sum::<Duration>() / latencies.len() as u32;
                checked.push_str(&format!(
                    "; {probed} every check (latency mean {} ms, slowest {} ms)",
                    mean.as_millis(),
                    slowest.as_millis()
                ));
            }
            if Instant::now() >= until {
                return Held::Passed(checked);
            }
            let next = (Instant::now() + timing.interval()).min(until);
            tokio::select! {
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(next)) => {}
                _ = run.token.cancelled() => return Held::Cancelled,
                signal = steering.signals.recv() => match signal {
                    Some(Signal::Promote(by)) => return Held::Promoted { by, checked },
                    Some(Signal::Abort(by)) => return Held::Aborted(by),
                    Some(Signal::Pause(by)) => steering.pause_asked = Some(by),
                    None => {}
                },
            }
        }
    }

    /// Waits (at most `limit`) until `services` route to every Ready pod
    /// `selector` names and, with `only`, to no other pod (the endpoint
    /// slice controller's view, so the traffic really goes there). What
    /// they route to, or why not.
    async fn check_routing(
        &self,
        run: &Run<'_>,
        services: &[String],
        selector: &str,
        only: bool,
    ) -> Result<String, String> {
        if services.is_empty() {
            return Ok("no Service routes to these pods".into());
        }
        let ns = &run.plan.namespace;
        let deadline = Instant::now() + ROUTING_LIMIT;
        loop {
            let wanted: BTreeSet<String> = run
                .executor
                .pod_health(ns, selector)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|p| p.ready)
                .map(|p| p.name)
                .collect();
            let mut routed = BTreeSet::new();
            for service in services {
                routed.extend(
                    run.executor
                        .routed_pods(ns, service)
                        .await
                        .map_err(|e| e.to_string())?,
                );
            }
            let missing: Vec<&String> = wanted.difference(&routed).collect();
            let others = routed.difference(&wanted).count();
            let names = services.join(", ");
            if !wanted.is_empty() && missing.is_empty() && (!only || others == 0) {
                return Ok(if only {
                    format!(
                        "Service {names} routes to these {} pod(s) only",
                        wanted.len()
                    )
                } else {
                    format!(
                        "Service {names} routes to these {} pod(s) and {others} other(s)",
                        wanted.len()
                    )
                });
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "after {} s Service {names} does not route as it should ({selector}): {} pod(s) ready, {} not routed{}",
                    ROUTING_LIMIT.as_secs(),
                    wanted.len(),
                    missing.len(),
                    if only {
                        format!(", {others} other pod(s) still routed")
                    } else {
                        String::new()
                    }
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits for a promote or an abort (or a cancel), at most `limit`.
    async fn await_word(
        &self,
        run: &Run<'_>,
        steering: &mut Steering,
        limit: Option<Duration>,
    ) -> Word {
        let deadline = limit.map(|l| tokio::time::Instant::now() + l);
        loop {
            let elapsed = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = elapsed => return Word::Elapsed,
                _ = run.token.cancelled() => return Word::Cancelled,
                signal = steering.signals.recv() => match signal {
                    Some(Signal::Promote(by)) => return Word::Promote(by),
                    Some(Signal::Abort(by)) => return Word::Abort(by),
                    Some(Signal::Pause(by)) => steering.pause_asked = Some(by),
                    None => std::future::pending::<()>().await,
                },
            }
        }
    }

    /// Goes back to the installed revision's objects (which prunes what the
    /// stages added), then ends the intent: cancelled when a person
    /// stopped it, failed otherwise.
    async fn go_back(
        &self,
        run: &Run<'_>,
        release: &RenderedRelease,
        before: &RevisionRecord,
        old: Vec<KubeObject>,
        reason: String,
        by_person: bool,
    ) -> Result<(), StoreError> {
        let id = run.id;
        self.stage_event(
            id,
            "rolling_back",
            format!(
                "{reason}; going back to revision {} of {}",
                before.number, release.release
            ),
            None,
        )
        .await?;
        let started = Instant::now();
        let back = CancellationToken::new();
        let outcome = match self
            .apply_stage(run, release, old, before.number + 1, "back", &back)
            .await
        {
            Ok(done) => {
                let message = format!(
                    "revision {} of {} serves at full size again; nothing of the new version is left ({done})",
                    before.number, release.release
                );
                self.stage_event(id, "rolled_back", message, Some(started.elapsed()))
                    .await?;
                format!("rolled back to revision {}", before.number)
            }
            Err(err) => {
                let message = format!("going back failed too: {err}");
                self.stage_event(id, "failed", message.clone(), Some(started.elapsed()))
                    .await?;
                message
            }
        };
        if by_person {
            self.finish_cancelled_with(id, format!("{reason}; {outcome}"))
                .await
        } else {
            self.fail(id, format!("{reason}; {outcome}"), vec![]).await
        }
    }

    /// Ends a deploying intent as cancelled with `message`.
    async fn finish_cancelled_with(&self, id: &str, message: String) -> Result<(), StoreError> {
        self.transition(
            id,
            Some(super::CANCELLABLE),
            crate::store::IntentStatus::Cancelled,
            NewEvent::new("finish", "cancelled", message),
        )
        .await
    }

    /// Runs an upgrade with a canary or blue-green strategy; other
    /// strategies (and releases this one cannot stage) apply as usual.
    pub(super) async fn run_strategy(
        &self,
        run: &Run<'_>,
        previous: &HashMap<String, RevisionRecord>,
        options: Option<&StrategyOptions>,
        atomic: bool,
    ) -> Result<(), StoreError> {
        let plan = run.plan;
        let (Some(rollout), Some(release)) =
            (&plan.rollout, plan.releases.iter().find(|r| r.requested))
        else {
            return self
                .apply_releases(run, &HashMap::new(), previous, atomic)
                .await;
        };
        let timing = Timing::of(options).unwrap_or(rollout.timing);
        let staged = matches!(
            rollout.strategy,
            Strategy::Canary { .. } | Strategy::BlueGreen {}
        );
        let before = previous.get(&release.release);
        if !staged || before.is_none() {
            let stage = rollout
                .stages
                .first()
                .map_or(String::new(), |s| format!("{}: {}", s.name, s.description));
            self.stage_event(run.id, "stage", stage, None).await?;
            return self
                .apply_releases(run, &HashMap::new(), previous, atomic)
                .await;
        }
        let before = before.expect("checked above");
        if plan.platform == crate::intent::Platform::Compose {
            let (signals, registered) = self.rollouts.register(
                run.id,
                &plan.namespace,
                &release.release,
                rollout.strategy.name(),
            );
            let mut steering = Steering {
                signals,
                pause_asked: None,
            };
            self.run_compose_blue_green(run, &mut steering, release, before, &timing)
                .await?;
            drop(registered);
            return match self.intent(run.id).await {
                Ok(record) if !record.status.is_terminal() => {
                    self.apply_releases(run, &HashMap::new(), previous, atomic)
                        .await
                }
                _ => Ok(()),
            };
        }
        let old = match stored_objects(before) {
            Ok(objects) => objects,
            Err(message) => return self.fail(run.id, message, vec![]).await,
        };
        let (_, new, _) = execute::render::release_files(plan, release);
        if crate::rollout::kubernetes::changed_deployments(&old, &new).is_empty() {
            // No pod changes (a Service, an Ingress, a Secret): nothing
            // runs beside the old pods, so there is nothing to stage.
            let message = format!(
                "the upgrade changes no Deployment's pods of {}, so the {} has nothing to stage: applied as usual",
                release.release,
                rollout.strategy.name()
            );
            self.stage_event(run.id, "stage", message, None).await?;
            return self
                .apply_releases(run, &HashMap::new(), previous, atomic)
                .await;
        }
        let (signals, registered) = self.rollouts.register(
            run.id,
            &plan.namespace,
            &release.release,
            rollout.strategy.name(),
        );
        let mut steering = Steering {
            signals,
            pause_asked: None,
        };
        match &rollout.strategy {
            Strategy::Canary { .. } => {
                self.run_canary(run, &mut steering, release, before, (old, new), &timing)
                    .await?
            }
            _ => {
                self.run_blue_green(run, &mut steering, release, before, (old, new), &timing)
                    .await?
            }
        };
        // From here on promote and abort have nothing to steer: say so to
        // whoever asks, rather than ignore them.
        drop(registered);
        match self.intent(run.id).await {
            Ok(record) if !record.status.is_terminal() => {
                // The last stage applies the new revision as any upgrade does.
                self.apply_releases(run, &HashMap::new(), previous, atomic)
                    .await
            }
            _ => Ok(()),
        }
    }
}
