//! Blue-green on Compose: green is the new revision as a second project
//! (`<project>-green`: the release rendered under the name
//! `<release>-green`, so its network, containers and labels are its own)
//! publishing on a free temporary port, while blue keeps serving on the
//! release's port. Green is waited for (the engine's health) and validated
//! like a canary stage (containers running and healthy, no restarts, for
//! the stage's time), and deckhand itself sends the exposed component's
//! check to the trial port every interval: its HTTP path (status below
//! 400, latency reported) or a TCP connection. Then green's project is
//! removed and the release's own project takes the new version on its
//! published port (`docker compose up` recreates its containers: the port
//! moves with a short gap while the new container starts, because Docker
//! fixes a container's ports when it is created). A failure, an abort or a cancel before that
//! removes green and leaves blue as it was.
//!
//! What Compose cannot do: keep blue for an instant switch back. Once the
//! port has moved, going back is `roll back <release>` (the previous
//! revision applied again).

use std::time::Instant;

use super::{Held, Probe, Steering};
use crate::execute::{self, ExecError, ReleaseTarget, ReleaseWork};
use crate::orchestrator::Orchestrator;
use crate::orchestrator::deploy::Run;
use crate::render::RenderedRelease;
use crate::render::compose::docker_name;
use crate::rollout::Timing;
use crate::store::StoreError;
use crate::store::releases::RevisionRecord;

/// A port nothing listens on now, for green's trial.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free host port for green: {e}"))
}

/// What deckhand itself sends to green each check, on its trial port: the
/// exposed component's HTTP check (its path), else a TCP connection.
fn probe(green: &RenderedRelease) -> Option<Probe> {
    let published = green.published.as_ref()?;
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], published.host_port));
    let component = green
        .components
        .iter()
        .find(|c| c.expose.as_deref() == Some(published.port_name.as_str()))?;
    match component.readiness.as_ref().and_then(|c| c.http.as_ref()) {
        Some(http) if http.port == published.container_port => Some(Probe::Http(format!(
            "http://127.0.0.1:{}{}",
            published.host_port, http.path
        ))),
        _ => Some(Probe::Tcp(address)),
    }
}

impl Orchestrator {
    /// Green beside blue, validated, then removed; returns with the intent
    /// ended (green failed or was stopped) or still deploying (the
    /// release's own project takes the new version next).
    pub(super) async fn run_compose_blue_green(
        &self,
        run: &Run<'_>,
        steering: &mut Steering,
        release: &RenderedRelease,
        before: &RevisionRecord,
        timing: &Timing,
    ) -> Result<(), StoreError> {
        let id = run.id;
        let mut green = release.clone();
        green.release = format!("{}-green", release.release);
        let trial = match free_port() {
            Ok(port) => port,
            Err(message) => return self.fail(id, message, vec![]).await,
        };
        let blue_port = release.published.as_ref().map(|p| p.host_port);
        if let Some(published) = green.published.as_mut() {
            published.host_port = trial;
            published.taken_by = None;
        }
        let (files, _, _) = execute::render::release_files(run.plan, &green);
        let revision = before.number + 1;
        let dir = execute::render::revision_dir(
            &self.settings.data_dir,
            &run.plan.namespace,
            &release.release,
            revision,
        )
        .with_file_name(format!("{revision}-green"));
        if let Err(err) = execute::render::write_release(&dir, &files) {
            return self
                .fail(id, format!("cannot write {}: {err}", dir.display()), vec![])
                .await;
        }
        let work = ReleaseWork {
            release: green.clone(),
            platform: run.plan.platform,
            namespace: run.plan.namespace.clone(),
            files,
            objects: vec![],
            resources: vec![],
            revision,
            dir: dir.clone(),
        };
        let project = docker_name(&run.plan.namespace, &green.release);
        let blue = docker_name(&run.plan.namespace, &release.release);
        let serving = blue_port.map_or(String::new(), |p| format!(" on 127.0.0.1:{p}"));
        self.stage_event(
            id,
            "stage",
            format!(
                "green: project {project} ({} {}) starts beside blue on 127.0.0.1:{trial}; blue (project {blue}, {}) keeps serving{serving}",
                release.release, release.version, before.version
            ),
            None,
        )
        .await?;
        let started = Instant::now();
        let timeout = release
            .timeout
            .map_or(self.settings.ready_timeout, std::time::Duration::from_secs);
        let ready = async {
            run.executor.apply(&work).await?;
            run.executor.wait_ready(&work, timeout, run.token).await
        }
        .await;
        let ended = match ready {
            Ok(done) => {
                self.stage_event(
                    id,
                    "ready",
                    format!("green is healthy ({done}); validating"),
                    Some(started.elapsed()),
                )
                .await?;
                let validating = Instant::now();
                match self
                    .hold_stage(
                        run,
                        steering,
                        &project,
                        green.components.len() as u32,
                        timing,
                        probe(&green).as_ref(),
                    )
                    .await
                {
                    Held::Passed(checked) | Held::Promoted { checked, .. } => {
                        self.stage_event(
                            id,
                            "validated",
                            format!("green validated: {checked}"),
                            Some(validating.elapsed()),
                        )
                        .await?;
                        None
                    }
                    Held::Failed(why) => {
                        Some((format!("green failed its validation: {why}"), false))
                    }
                    Held::Aborted(by) => Some((format!("aborted by {by} before the switch"), true)),
                    Held::Cancelled => Some(("cancelled before the switch".to_string(), true)),
                }
            }
            Err(ExecError::Cancelled) => Some(("cancelled while green started".to_string(), true)),
            Err(err) => Some((format!("green failed: {err}"), false)),
        };
        // Green's project goes in every case: after a failure, and before
        // the release's own project takes the new version.
        let target = ReleaseTarget {
            release: green.release.clone(),
            namespace: run.plan.namespace.clone(),
            platform: run.plan.platform,
            dir: Some(dir),
        };
        let removed = run.executor.delete(&target, true).await;
        let removed_text = match &removed {
            Ok(deleted) => format!(
                "green's project {project} removed ({})",
                deleted.removed.join(", ")
            ),
            Err(err) => format!("removing green's project {project} failed: {err}"),
        };
        match ended {
            Some((reason, by_person)) => {
                let message = format!(
                    "{reason}; {removed_text}; blue ({}) was not touched",
                    before.version
                );
                self.stage_event(id, "rolled_back", message.clone(), None)
                    .await?;
                if by_person {
                    self.finish_cancelled_with(id, message).await
                } else {
                    self.fail(id, message, vec![]).await
                }
            }
            None => {
                if removed.is_err() {
                    return self.fail(id, removed_text, vec![]).await;
                }
                self.stage_event(
                    id,
                    "switching",
                    format!(
                        "switch: {removed_text}; project {blue} takes {} {}{serving} (docker compose up recreates its containers, so the port moves with a short gap while the new container starts)",
                        release.release, release.version
                    ),
                    None,
                )
                .await
            }
        }
    }
}
