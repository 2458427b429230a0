//! The `deckhand` binary: everything lives in the library; see `deckhand --help`.

fn main() -> std::process::ExitCode {
    deckhand::cli::run()
}
