//! Unit tests of the whole rule parser (each stage has its own next to it).

use super::*;
use crate::intent::{Action, Platform};

fn parser() -> RuleParser {
    RuleParser::new(&Catalogue::builtin().expect("builtin catalogue"))
}

fn ok(text: &str) -> Intent {
    parser()
        .parse(text)
        .unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

fn err(text: &str) -> ParseFailure {
    match parser().parse(text) {
        Ok(intent) => panic!("{text}: expected an error, got {intent:?}"),
        Err(e) => e,
    }
}

#[test]
fn simple_requests() {
    let intent = ok("install authentik with TLS in namespace auth");
    assert_eq!(intent.action, Action::Install);
    assert_eq!(intent.applications, ["authentik"]);
    assert_eq!(intent.parameters.tls, Some(true));
    assert_eq!(intent.namespace.unwrap().as_str(), "auth");
    assert_eq!(
        ok("install redis on docker").platform,
        Some(Platform::Compose)
    );
}

#[test]
fn unknown_words_where_an_application_stands_are_quoted_with_their_place() {
    let failure = err("install sonarqube in qa");
    assert!(failure.error.contains("'sonarqube'"), "{failure:?}");
    assert_eq!(failure.at, Some([8, 17]));
}
