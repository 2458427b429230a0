//! Scale: a new revision with another replica count (0 stops a release
//! and keeps its data), rendered and diffed like an upgrade
//! ([`super::lifecycle::Context::render_revision`]) and run like one: atomic
//! by default, so a scale that does not become ready goes back. Autoscaling
//! ("autoscale grafana between 2 and 10 at 70% cpu") is a scale too: the new
//! revision carries a HorizontalPodAutoscaler and no replica count, and a
//! fixed count asked of an autoscaled release is refused with what to do
//! instead ([`crate::render::autoscale`]).

use super::lifecycle::{Context, Outcome};
use crate::intent::Intent;

/// The new revision with the asked replica count.
pub(super) fn prepare(cx: &mut Context<'_>, intent: Intent) -> Outcome {
    cx.render_revision(intent)
}
