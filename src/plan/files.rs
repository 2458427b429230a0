//! A plan written out: the manifest files of its platform
//! ([`Plan::manifest_files`]) and writing them whole or not at all.

use std::path::Path;

use super::{Plan, PlanError};
use crate::intent::Platform;
use crate::render::{compose, kubernetes};

impl Plan {
    /// The files of this plan: Kubernetes YAML per release, or `compose.yaml`
    /// plus one `<service>.env` per service with secrets.
    pub fn manifest_files(&self) -> Vec<ManifestFile> {
        match self.platform {
            // Kubernetes files hold the Secrets (base64 is not encryption): 0600.
            Platform::Kubernetes => kubernetes::manifest_files(&self.releases, &self.options)
                .into_iter()
                .map(|(path, content)| ManifestFile {
                    secret: content.contains("kind: Secret"),
                    path,
                    content,
                })
                .collect(),
            Platform::Compose => compose::project(&self.releases, compose::Scope::Together)
                .into_files()
                .into_iter()
                .map(|(path, content, secret)| ManifestFile {
                    path,
                    content,
                    secret,
                })
                .collect(),
        }
    }

    /// Writes [`Plan::manifest_files`] into `dir` (created when missing);
    /// files with secrets get mode 0600. Returns the paths written.
    pub fn write_manifests(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>, PlanError> {
        let fail = |path: &Path, source| PlanError::Write {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
        let mut written = Vec::new();
        for file in self.manifest_files() {
            let path = dir.join(&file.path);
            write_file(&path, &file.content, file.secret).map_err(|e| fail(&path, e))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// One file of rendered manifests.
#[derive(Debug, Clone)]
pub struct ManifestFile {
    pub path: String,
    pub content: String,
    /// Holds secret values.
    pub secret: bool,
}

/// Writes a file whole or not at all ([`crate::atomic::write`]); secret
/// ones get mode 0600.
pub fn write_file(path: &Path, content: &str, secret: bool) -> std::io::Result<()> {
    crate::atomic::write(path, content.as_bytes(), if secret { 0o600 } else { 0o644 })
}
