//! Files a stack puts into a member's containers ([`super::RenderedFile`]):
//! on Kubernetes one ConfigMap per release (`<release>-files`), each file
//! mounted read-only at its path with `subPath`, and a checksum of the
//! component's files on its pod template so that changed content rolls the
//! pods (a `subPath` mount is not refreshed in place); on Compose a
//! top-level `configs` entry with the content inline, mounted at the path.
//! Files are plain text: the catalogue refuses a stack file that reads a
//! secret, so nothing here is ever secret.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, KeyToPath, Volume, VolumeMount,
};
use sha2::{Digest, Sha256};

use super::{RenderedComponent, RenderedRelease};

/// The pod-template annotation that carries the checksum of the files.
pub const FILES_CHECKSUM: &str = "deckhand.io/files-sha256";

/// The volume name of a component's files.
const VOLUME: &str = "stack-files";

/// Name of the ConfigMap holding a release's files.
pub fn config_map_name(release: &str) -> String {
    format!("{release}-files")
}

/// The ConfigMap key of one file of a component: `<component>.<path>` with
/// `/` as `_` (keys are `[-._a-zA-Z0-9]+`).
pub fn file_key(component: &str, path: &str) -> String {
    let flat: String = path
        .trim_start_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{component}.{flat}")
}

/// The release's ConfigMap, when a component has files.
pub fn config_map(
    release: &RenderedRelease,
    meta: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<ConfigMap> {
    let data: BTreeMap<String, String> = release
        .components
        .iter()
        .flat_map(|c| {
            c.files
                .iter()
                .map(|f| (file_key(&c.name, &f.path), f.content.clone()))
        })
        .collect();
    (!data.is_empty()).then(|| ConfigMap {
        metadata: meta,
        data: Some(data),
        ..Default::default()
    })
}

/// The pod volume of a component's files.
pub fn volume(release: &RenderedRelease, component: &RenderedComponent) -> Option<Volume> {
    (!component.files.is_empty()).then(|| Volume {
        name: VOLUME.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map_name(&release.release),
            items: Some(
                component
                    .files
                    .iter()
                    .map(|f| {
                        let key = file_key(&component.name, &f.path);
                        KeyToPath {
                            path: key.clone(),
                            key,
                            ..Default::default()
                        }
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// One read-only mount per file.
pub fn mounts(component: &RenderedComponent) -> Vec<VolumeMount> {
    component
        .files
        .iter()
        .map(|f| VolumeMount {
            name: VOLUME.into(),
            mount_path: f.path.clone(),
            sub_path: Some(file_key(&component.name, &f.path)),
            read_only: Some(true),
            ..Default::default()
        })
        .collect()
}

/// The checksum of a component's files (paths and contents), when it has any.
pub fn checksum(component: &RenderedComponent) -> Option<String> {
    if component.files.is_empty() {
        return None;
    }
    let mut hash = Sha256::new();
    for file in &component.files {
        hash.update(file.path.as_bytes());
        hash.update([0]);
        hash.update(file.content.as_bytes());
        hash.update([0]);
    }
    Some(hex::encode(hash.finalize()))
}

/// The Compose `configs` name of one file of a component.
pub fn compose_config_name(component: &RenderedComponent, path: &str) -> String {
    file_key(&component.service, path)
}
