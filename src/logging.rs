//! Structured logs (`tracing-subscriber`): what level is shown comes from
//! `DECKHAND_LOG`, else `RUST_LOG`, else `info` for the service and `warn`
//! for the other commands. `deckhand serve` logs to stdout, one JSON object
//! a line when stdout is not a terminal (a service manager, a container)
//! and readable text on a terminal; the other commands log text to stderr,
//! so their stdout stays their output.
//!
//! What is logged: one line per HTTP request (method, path without its
//! query, status, duration, the authenticated actor) from
//! [`crate::http`]'s middleware, and one line per intent transition
//! (intent id, actor, status, step, the event's message) from the
//! orchestrator. Tokens, cookies, request bodies and query strings are never
//! logged, and event messages mask secret values, so no secret reaches a log.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Where the logs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// `deckhand serve`: stdout, `info` by default.
    Service,
    /// Every other command: stderr, `warn` by default.
    Command,
}

/// The filter: `DECKHAND_LOG`, else `RUST_LOG`, else `default`; a filter
/// that does not parse falls back to `default` (and says so).
fn filter(default: &str) -> EnvFilter {
    let wanted = std::env::var("DECKHAND_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| std::env::var("RUST_LOG").ok())
        .filter(|v| !v.trim().is_empty());
    match wanted {
        Some(text) => EnvFilter::try_new(&text).unwrap_or_else(|err| {
            eprintln!("warning: ignoring log filter '{text}' ({err}); logging at {default}");
            EnvFilter::new(default)
        }),
        None => EnvFilter::new(default),
    }
}

/// Installs the global subscriber once (a second call does nothing).
pub fn init(target: LogTarget) {
    let result = match target {
        LogTarget::Service => {
            let builder = tracing_subscriber::fmt()
                .with_env_filter(filter("info"))
                .with_writer(std::io::stdout);
            if std::io::stdout().is_terminal() {
                builder.try_init()
            } else {
                builder
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .try_init()
            }
        }
        LogTarget::Command => tracing_subscriber::fmt()
            .with_env_filter(filter("warn"))
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    let _ = result;
}
