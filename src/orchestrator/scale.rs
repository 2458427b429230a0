//! Scale: a new revision with another replica count (0 stops a release
//! and keeps its data), rendered and diffed like an upgrade
//! ([`super::lifecycle::Context::render_revision`]) and run like one: atomic
//! by default, so a scale that does not become ready goes back.

use super::lifecycle::{Context, Outcome};
use crate::intent::Intent;

/// The new revision with the asked replica count.
pub(super) fn prepare(cx: &mut Context<'_>, intent: Intent) -> Outcome {
    cx.render_revision(intent)
}
