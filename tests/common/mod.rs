//! Helpers shared by the integration tests: running the real binary, and
//! finding outside tools (skipped with a message, or a failure under
//! `DECKHAND_CI=1`).
#![allow(dead_code)]

pub mod docker;
pub mod fake_kube;
pub mod kube;
pub mod recorder;
pub mod server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Writes a kubeconfig for the API server at `server` into `dir` (context,
/// cluster and user all named "fake", bearer `token`, namespace "default")
/// and returns its path.
pub fn write_kubeconfig(dir: &Path, server: &str, token: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: fake\n  cluster:\n    server: {server}\n\
         contexts:\n\
         - name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
         current-context: fake\n\
         users:\n\
         - name: fake\n  user:\n    token: {token}\n\
         preferences: {{}}\n"
    );
    std::fs::write(&path, text).expect("kubeconfig written");
    path
}

/// The `deckhand` binary cargo built for these tests.
pub fn deckhand() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deckhand"));
    command.env_remove("DECKHAND_BLUEPRINTS");
    command
}

/// Runs the binary with `args` and `stdin`, returning its output.
pub fn run(args: &[&str], stdin: Option<&str>) -> Output {
    run_with_env(args, stdin, &[])
}

/// Runs the binary with `args`, extra environment and `stdin`.
pub fn run_with_env(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    run_raw(args, stdin.unwrap_or_default().as_bytes(), env)
}

/// Runs the binary with `args` and raw bytes on stdin (not necessarily UTF-8).
pub fn run_bytes(args: &[&str], stdin: &[u8]) -> Output {
    run_raw(args, stdin, &[])
}

fn run_raw(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut command = deckhand();
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("deckhand starts");
    {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(stdin).expect("stdin written");
    }
    child.wait_with_output().expect("deckhand finishes")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// True under CI (`DECKHAND_CI=1`), where a missing tool is a failure.
pub fn in_ci() -> bool {
    std::env::var("DECKHAND_CI").is_ok_and(|v| v == "1")
}

/// The path of `tool` on PATH, or a skip (None) with a message; under CI, a panic.
pub fn require_tool(tool: &str, why: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    });
    match found {
        Some(path) => Some(path),
        None if in_ci() => {
            panic!("{tool} is required under DECKHAND_CI=1 ({why}) but is not on PATH")
        }
        None => {
            eprintln!(
                "SKIPPED: {tool} is not installed, so {why} is not checked (pip install kubernetes-validate, or run .ci/run)"
            );
            None
        }
    }
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
