//! Executing a plan. For now the one executor is `render`: each release's
//! manifests are written to `releases/<namespace>/<release>/<revision>/`
//! in the data directory (for GitOps, review, and machines with no cluster),
//! which is also the default when no cluster is configured.

pub mod render;

use serde::{Deserialize, Serialize};

/// One rendered file of a release.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReleaseFile {
    pub path: String,
    pub content: String,
    /// Holds secret values (written 0600, masked when shown).
    pub secret: bool,
}

/// Something an executor created, for the intent's `resources`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resource {
    pub release: String,
    pub kind: String,
    pub name: String,
}
