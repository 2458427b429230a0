//! The `render` executor: writes a release's manifests into the data
//! directory, one directory per revision, and reports what they describe.

use std::path::{Path, PathBuf};

use super::{ReleaseFile, Resource};
use crate::intent::Platform;
use crate::plan::Plan;
use crate::render::{RenderedRelease, compose, kubernetes};

/// The files of one release on the plan's platform: Kubernetes objects (the
/// namespace first, when it is not `default`) or a Compose project of its own.
pub fn release_files(plan: &Plan, release: &RenderedRelease) -> (Vec<ReleaseFile>, Vec<Resource>) {
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
            let mut files = vec![ReleaseFile {
                path: "compose.yaml".into(),
                content: project.to_yaml(),
                secret: false,
            }];
            files.extend(
                project
                    .env_files
                    .into_iter()
                    .map(|(path, content)| ReleaseFile {
                        path,
                        content,
                        secret: true,
                    }),
            );
            (files, resources)
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

/// Writes the files into `dir` (created when missing).
pub fn write_release(dir: &Path, files: &[ReleaseFile]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for file in files {
        crate::plan::write_file(&dir.join(&file.path), &file.content, file.secret)?;
    }
    Ok(())
}
