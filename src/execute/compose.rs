//! The `compose` executor: one Compose project per release (`-p RELEASE`, or
//! `-p NAMESPACE_RELEASE` outside the default namespace: see
//! [`compose::docker_name`]),
//! applied with `docker compose` when it is there, else `docker-compose`.
//! Readiness is the engine's own health status (`docker inspect`), polled
//! once a second; a container that exits or turns unhealthy fails the
//! release with the engine's words (health check output, exit code, last
//! log lines). Removal is `down` (volumes only when asked). The rendered
//! Compose file stays in the revision directory it was applied from.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value as Json;
use tokio::process::Command;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::render::compose;

use super::{Deleted, ExecError, Executor, LiveComponent, LiveStatus, ReleaseTarget, ReleaseWork};

/// How often readiness is checked.
const POLL: Duration = Duration::from_secs(1);

/// The compose executor; finds its command on first use.
#[derive(Debug, Default)]
pub struct ComposeExecutor {
    command: OnceCell<Vec<String>>,
}

struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn run(program: &str, args: &[String], dir: Option<&Path>) -> Result<Output, ExecError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().await.map_err(|e| {
        ExecError::Unavailable(format!("cannot run {program}: {e} (is Docker installed?)"))
    })?;
    Ok(Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].join(" | ")
}

impl ComposeExecutor {
    pub fn new() -> Self {
        Self::default()
    }

    /// `docker compose` (v2) when it answers, else `docker-compose` (v1).
    async fn compose(&self) -> Result<&Vec<String>, ExecError> {
        self.command
            .get_or_try_init(|| async {
                let v2 = run("docker", &["compose".into(), "version".into()], None).await;
                if v2.as_ref().is_ok_and(|o| o.success) {
                    return Ok(vec!["docker".to_string(), "compose".to_string()]);
                }
                let v1 = run("docker-compose", &["version".into()], None).await;
                if v1.as_ref().is_ok_and(|o| o.success) {
                    return Ok(vec!["docker-compose".to_string()]);
                }
                Err(ExecError::Unavailable(
                    "neither `docker compose` nor `docker-compose` works on this machine".into(),
                ))
            })
            .await
    }

    async fn compose_run(
        &self,
        project: &str,
        dir: &Path,
        extra: &[&str],
    ) -> Result<Output, ExecError> {
        let command = self.compose().await?;
        let mut args: Vec<String> = command[1..].to_vec();
        args.extend([
            "-p".to_string(),
            project.to_string(),
            "-f".to_string(),
            "compose.yaml".to_string(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        run(&command[0], &args, Some(dir)).await
    }

    /// Containers of a project, as `docker inspect` describes them.
    async fn containers(&self, project: &str) -> Result<Vec<Json>, ExecError> {
        let ids = run(
            "docker",
            &[
                "ps".into(),
                "-a".into(),
                "-q".into(),
                "--filter".into(),
                format!("label=com.docker.compose.project={project}"),
            ],
            None,
        )
        .await?;
        if !ids.success {
            return Err(ExecError::Unavailable(format!(
                "docker ps failed: {}",
                last_lines(&ids.stderr, 3)
            )));
        }
        let ids: Vec<String> = ids.stdout.split_whitespace().map(str::to_string).collect();
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut args = vec!["inspect".to_string()];
        args.extend(ids);
        let inspected = run("docker", &args, None).await?;
        if !inspected.success {
            return Err(ExecError::Failed(format!(
                "docker inspect failed: {}",
                last_lines(&inspected.stderr, 3)
            )));
        }
        serde_json::from_str(&inspected.stdout)
            .map_err(|e| ExecError::Failed(format!("docker inspect gave unreadable output: {e}")))
    }

    async fn logs(&self, container: &str) -> String {
        match run(
            "docker",
            &["logs".into(), "--tail".into(), "5".into(), container.into()],
            None,
        )
        .await
        {
            Ok(out) => last_lines(&format!("{}\n{}", out.stdout, out.stderr), 5),
            Err(_) => String::new(),
        }
    }
}

/// True for a one-shot service (an init container or the volume owner
/// change), which must exit 0 rather than keep running.
fn is_one_shot(container: &Json) -> bool {
    container["Config"]["Labels"][compose::INIT_LABEL].as_str() == Some("true")
}

/// A one-shot container's state: Ok(true) done, Ok(false) still running, Err(reason) failed.
fn judge_one_shot(container: &Json) -> (String, Result<bool, String>) {
    let service = container["Config"]["Labels"]["com.docker.compose.service"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let state = &container["State"];
    let verdict = match (
        state["Status"].as_str().unwrap_or("unknown"),
        state["ExitCode"].as_i64(),
    ) {
        ("exited", Some(0)) => Ok(true),
        ("exited", code) | ("dead", code) => Err(format!(
            "{service} (runs before the component) exited with code {}",
            code.unwrap_or(-1)
        )),
        _ => Ok(false),
    };
    (service, verdict)
}

/// What one container's state says: Ok(true) ready, Ok(false) not yet, Err(reason) failed.
fn judge(container: &Json) -> (String, Result<bool, String>) {
    if is_one_shot(container) {
        return judge_one_shot(container);
    }
    let service = container["Config"]["Labels"]["com.docker.compose.service"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let state = &container["State"];
    let status = state["Status"].as_str().unwrap_or("unknown");
    let health = state["Health"]["Status"].as_str();
    let last_check = state["Health"]["Log"]
        .as_array()
        .and_then(|log| log.last())
        .map(|entry| {
            format!(
                "health check exit {}: {}",
                entry["ExitCode"],
                entry["Output"].as_str().unwrap_or("").trim()
            )
        });
    let verdict = match (status, health) {
        ("running", Some("healthy")) | ("running", None) => Ok(true),
        ("running", Some("unhealthy")) => Err(format!(
            "unhealthy ({})",
            last_check.clone().unwrap_or_default()
        )),
        ("running", Some(_)) | ("created", _) => Ok(false),
        ("restarting", _) => Err(format!(
            "restarting (exit code {}, {} restarts)",
            state["ExitCode"], container["RestartCount"]
        )),
        ("exited", _) | ("dead", _) => Err(format!(
            "exited with code {}{}",
            state["ExitCode"],
            state["Error"]
                .as_str()
                .filter(|e| !e.is_empty())
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        )),
        (other, _) => Ok(other == "running"),
    };
    (service, verdict.map_err(|reason| reason.trim().to_string()))
}

#[async_trait]
impl Executor for ComposeExecutor {
    fn name(&self) -> &'static str {
        "compose"
    }

    async fn apply(&self, work: &ReleaseWork) -> Result<String, ExecError> {
        let project = &compose::docker_name(&work.namespace, &work.release.release);
        let out = self
            .compose_run(project, &work.dir, &["up", "-d", "--remove-orphans"])
            .await?;
        if !out.success {
            return Err(ExecError::Failed(format!(
                "compose up failed: {}",
                last_lines(&out.stderr, 4)
            )));
        }
        Ok(format!(
            "compose project {project} is up (from {})",
            work.dir.display()
        ))
    }

    async fn wait_ready(
        &self,
        work: &ReleaseWork,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<String, ExecError> {
        let project = &compose::docker_name(&work.namespace, &work.release.release);
        let deadline = Instant::now() + timeout;
        let mut last: Option<String> = None;
        loop {
            let containers = self.containers(project).await?;
            let expected = work.release.components.len();
            let workloads = containers.iter().filter(|c| !is_one_shot(c)).count();
            let mut ready = 0;
            let mut waiting = Vec::new();
            for container in &containers {
                let (service, verdict) = judge(container);
                match verdict {
                    Ok(true) if is_one_shot(container) => {}
                    Ok(true) => ready += 1,
                    Ok(false) => {
                        let check = container["State"]["Health"]["Log"]
                            .as_array()
                            .and_then(|l| l.last())
                            .and_then(|e| e["Output"].as_str())
                            .unwrap_or("")
                            .trim()
                            .to_string();
                        waiting.push(if check.is_empty() {
                            format!("{service}: starting")
                        } else {
                            format!("{service}: {check}")
                        });
                    }
                    Err(reason) => {
                        let id = container["Id"].as_str().unwrap_or_default();
                        let logs = self.logs(id).await;
                        let reason = if logs.is_empty() {
                            reason
                        } else {
                            format!("{reason}; last log lines: {logs}")
                        };
                        return Err(ExecError::NotReady {
                            component: service,
                            reason,
                        });
                    }
                }
            }
            if workloads > 0 && ready >= expected.max(1) && ready == workloads {
                return Ok(format!("{ready} container(s) running and healthy"));
            }
            if !waiting.is_empty() {
                last = Some(waiting.join("; "));
            }
            if Instant::now() >= deadline {
                return Err(ExecError::Timeout {
                    seconds: timeout.as_secs(),
                    last,
                });
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = cancel.cancelled() => return Err(ExecError::Cancelled),
            }
        }
    }

    async fn delete(
        &self,
        target: &ReleaseTarget,
        delete_data: bool,
    ) -> Result<Deleted, ExecError> {
        let project = &compose::docker_name(&target.namespace, &target.release);
        let before = self.containers(project).await?;
        let mut args = vec!["down", "--remove-orphans"];
        if delete_data {
            args.push("--volumes");
        }
        let out = match &target.dir {
            Some(dir) if dir.join("compose.yaml").exists() => {
                self.compose_run(project, dir, &args).await?
            }
            _ => {
                // No recorded file: remove the project's containers by label.
                let ids: Vec<String> = before
                    .iter()
                    .filter_map(|c| c["Id"].as_str().map(str::to_string))
                    .collect();
                if ids.is_empty() {
                    return Ok(Deleted::default());
                }
                let mut rm = vec!["rm".to_string(), "-f".to_string(), "-v".to_string()];
                rm.extend(ids);
                run("docker", &rm, None).await?
            }
        };
        if !out.success {
            return Err(ExecError::Failed(format!(
                "compose down failed: {}",
                last_lines(&out.stderr, 4)
            )));
        }
        let removed = before
            .iter()
            .filter_map(|c| {
                c["Name"]
                    .as_str()
                    .map(|n| n.trim_start_matches('/').to_string())
            })
            .collect();
        let mut kept = Vec::new();
        if !delete_data {
            let volumes = run(
                "docker",
                &[
                    "volume".into(),
                    "ls".into(),
                    "-q".into(),
                    "--filter".into(),
                    format!("label=com.docker.compose.project={project}"),
                ],
                None,
            )
            .await?;
            kept = volumes
                .stdout
                .split_whitespace()
                .map(str::to_string)
                .collect();
        }
        Ok(Deleted {
            removed,
            kept_volumes: kept,
        })
    }

    /// On Compose the selector is a project name: its workload containers,
    /// ready when running (and healthy, when they have a health check).
    async fn pod_health(
        &self,
        _namespace: &str,
        selector: &str,
    ) -> Result<Vec<super::PodHealth>, ExecError> {
        let containers = self.containers(selector).await?;
        Ok(containers
            .iter()
            .filter(|c| !is_one_shot(c))
            .map(|c| {
                let (_, verdict) = judge(c);
                super::PodHealth {
                    name: c["Name"]
                        .as_str()
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_string(),
                    ready: verdict == Ok(true),
                    restarts: c["RestartCount"].as_u64().unwrap_or(0) as u32,
                    problem: verdict.err(),
                }
            })
            .collect())
    }

    async fn status(&self, target: &ReleaseTarget) -> Result<LiveStatus, ExecError> {
        let containers = self
            .containers(&compose::docker_name(&target.namespace, &target.release))
            .await?;
        let components = containers
            .iter()
            .filter(|c| !is_one_shot(c) || judge_one_shot(c).1.is_err())
            .map(|c| {
                let (service, verdict) = judge(c);
                LiveComponent {
                    name: service,
                    ready: u32::from(verdict == Ok(true)),
                    desired: 1,
                    problem: verdict.err(),
                    autoscaler: None,
                }
            })
            .collect();
        Ok(LiveStatus {
            found: !containers.is_empty(),
            components,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn container_states_are_judged_in_the_engines_words() {
        let healthy = json!({"Config": {"Labels": {"com.docker.compose.service": "db"}}, "State": {"Status": "running", "Health": {"Status": "healthy"}}});
        assert_eq!(judge(&healthy), ("db".to_string(), Ok(true)));
        let unhealthy = json!({"Config": {"Labels": {"com.docker.compose.service": "app"}}, "State": {"Status": "running", "Health": {"Status": "unhealthy", "Log": [{"ExitCode": 1, "Output": "connection refused\n"}]}}});
        let (_, verdict) = judge(&unhealthy);
        assert_eq!(
            verdict,
            Err("unhealthy (health check exit 1: connection refused)".to_string())
        );
        let exited = json!({"Config": {"Labels": {}}, "State": {"Status": "exited", "ExitCode": 2, "Error": ""}});
        assert_eq!(judge(&exited).1, Err("exited with code 2".to_string()));
        let starting = json!({"State": {"Status": "running", "Health": {"Status": "starting"}}});
        assert_eq!(judge(&starting).1, Ok(false));
    }
}
