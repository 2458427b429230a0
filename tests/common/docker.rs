//! The Docker Engine as the Compose end-to-end tests use it
//! (`shared/tools/container-sandbox.sh` starts one on these machines).

use std::process::Command;

/// Whether a Docker Engine answers; without one the test skips with a
/// message naming `what` is not tested, or fails under `DECKHAND_CI=1`.
pub fn ready(what: &str) -> bool {
    let answers = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !answers {
        if super::in_ci() {
            panic!(
                "DECKHAND_CI=1 but no Docker Engine answers (run shared/tools/container-sandbox.sh first)"
            );
        }
        eprintln!(
            "SKIPPED: no Docker Engine answers, so {what} (see shared/tools/container-sandbox.sh)"
        );
    }
    answers
}

/// Runs `docker ARGS` and returns its standard output, trimmed.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
