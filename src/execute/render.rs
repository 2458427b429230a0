//! The `render` executor: the manifests are the result. Each release's
//! files are written to `releases/<namespace>/<release>/<revision>/` in the
//! data directory (the orchestrator writes them for every executor, so the
//! rendered files are kept with each revision); there is nothing to wait for.
//! It is the default when no cluster is configured.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{
    Deleted, ExecError, Executor, LiveStatus, ReleaseFile, ReleaseTarget, ReleaseWork, Resource,
};
use crate::intent::Platform;
use crate::plan::Plan;
use crate::render::{RenderedRelease, compose, kubernetes};

/// The files of one release on the plan's platform: Kubernetes objects (the
/// namespace first, when it is not `default`) or a Compose project of its
/// own, with what they describe.
pub fn release_files(
    plan: &Plan,
    release: &RenderedRelease,
) -> (Vec<ReleaseFile>, Vec<kubernetes::KubeObject>, Vec<Resource>) {
    match plan.platform {
        Platform::Kubernetes => {
            let mut objects: Vec<kubernetes::KubeObject> =
                kubernetes::namespace_object(&plan.namespace)
                    .into_iter()
                    .collect();
            objects.extend(plan.kubernetes_objects(release));
            let resources = objects
                .iter()
                .map(|o| Resource {
                    release: release.release.clone(),
                    kind: o.kind().to_string(),
                    name: o.name().to_string(),
                })
                .collect();
            (
                vec![ReleaseFile {
                    path: "manifests.yaml".into(),
                    content: kubernetes::to_yaml(&objects),
                    secret: true,
                }],
                objects,
                resources,
            )
        }
        Platform::Compose => {
            let project =
                compose::project(std::slice::from_ref(release), compose::Scope::PerRelease);
            let mut resources: Vec<Resource> = project
                .file
                .services
                .keys()
                .map(|s| Resource {
                    release: release.release.clone(),
                    kind: "service".into(),
                    name: s.clone(),
                })
                .collect();
            resources.extend(project.file.volumes.keys().map(|v| Resource {
                release: release.release.clone(),
                kind: "volume".into(),
                name: v.clone(),
            }));
            let files = project
                .into_files()
                .into_iter()
                .map(|(path, content, secret)| ReleaseFile {
                    path,
                    content,
                    secret,
                })
                .collect();
            (files, vec![], resources)
        }
    }
}

/// Where a revision of a release is written.
pub fn revision_dir(data_dir: &Path, namespace: &str, release: &str, revision: i64) -> PathBuf {
    data_dir
        .join("releases")
        .join(namespace)
        .join(release)
        .join(revision.to_string())
}

/// The highest-numbered revision directory written for a release, recorded
/// or not (an apply that was cancelled or failed still wrote its files).
pub fn latest_written_dir(data_dir: &Path, namespace: &str, release: &str) -> Option<PathBuf> {
    let base = data_dir.join("releases").join(namespace).join(release);
    std::fs::read_dir(&base)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
                .map(|n| (n, e.path()))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, path)| path)
}

/// Writes the files into `dir` (created when missing).
pub fn write_release(dir: &Path, files: &[ReleaseFile]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let files: Vec<(&str, &[u8], u32)> = files
        .iter()
        .map(|f| {
            let mode = if f.secret { 0o600 } else { 0o644 };
            (f.path.as_str(), f.content.as_bytes(), mode)
        })
        .collect();
    crate::atomic::write_all_in(dir, &files)
}

/// The render executor.
#[derive(Debug, Default)]
pub struct RenderExecutor;

#[async_trait]
impl Executor for RenderExecutor {
    fn name(&self) -> &'static str {
        "render"
    }

    async fn apply(&self, work: &ReleaseWork) -> Result<String, ExecError> {
        let names: Vec<&str> = work.files.iter().map(|f| f.path.as_str()).collect();
        Ok(format!(
            "written to {} ({})",
            work.dir.display(),
            names.join(", ")
        ))
    }

    async fn wait_ready(
        &self,
        work: &ReleaseWork,
        _: Duration,
        _: &CancellationToken,
    ) -> Result<String, ExecError> {
        Ok(format!(
            "{} is rendered; nothing runs, so nothing to wait for",
            work.release.release
        ))
    }

    async fn delete(&self, target: &ReleaseTarget, _: bool) -> Result<Deleted, ExecError> {
        Ok(Deleted {
            removed: vec![format!(
                "{} (rendered files are kept with its revisions)",
                target.release
            )],
            kept_volumes: vec![],
        })
    }

    async fn status(&self, target: &ReleaseTarget) -> Result<LiveStatus, ExecError> {
        Ok(LiveStatus {
            found: target.dir.as_ref().is_some_and(|d| d.exists()),
            components: vec![],
        })
    }
}
