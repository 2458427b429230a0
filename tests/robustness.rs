//! Property tests: the rule parser and the blueprint loader get arbitrary
//! text (random strings, and mutations of real sentences and blueprints) and
//! must answer with a value or an error, never a panic. In-process, no
//! outside parts.

use deckhand::catalogue::{BlueprintSource, Catalogue, parse_blueprint};
use deckhand::intent::RuleParser;
use proptest::prelude::*;
use std::sync::LazyLock;

static CATALOGUE: LazyLock<Catalogue> =
    LazyLock::new(|| Catalogue::builtin().expect("builtin catalogue"));
static PARSER: LazyLock<RuleParser> = LazyLock::new(|| RuleParser::new(&CATALOGUE));

const WORDS: &[&str] = &[
    "install",
    "remove",
    "scale",
    "to",
    "-3",
    "replicas",
    "namespace",
    "in",
    "the",
    "authentik",
    "redis",
    "tls",
    "on",
    "docker",
    "version",
    "v",
    "1.2.3",
    "example.com",
    "https://",
    "20Gi",
    "GB",
    "and",
    ",",
    "what's",
    "running",
    "get",
    "rid",
    "of",
    "roll",
    "back",
    "uptime",
    "kuma",
    "five",
    "ns",
    "domain",
    "é",
    "",
    "Auth_Prod",
    "-",
];

fn sentence() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..12).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_parser_never_panics_on_any_text(text in any::<String>()) {
        let _ = PARSER.parse(&text);
    }

    #[test]
    fn the_parser_never_panics_on_word_salad(text in sentence()) {
        match PARSER.parse(&text) {
            Ok(intent) => {
                // Whatever it understood is valid by construction and serializes.
                let json = serde_json::to_value(&intent).unwrap();
                prop_assert!(json["applications"].is_array());
                if let Some(r) = intent.parameters.replicas { prop_assert!(r.get() <= 100); }
            }
            Err(failure) => prop_assert!(!failure.error.is_empty()),
        }
    }

    #[test]
    fn the_loader_never_panics_on_any_text(text in any::<String>()) {
        let _ = parse_blueprint(&text);
        let _ = Catalogue::from_sources(vec![BlueprintSource { origin: "fuzz.yaml".into(), text }]);
    }

}

proptest! {
    // Each case loads the whole built-in catalogue, so fewer of them.
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn the_loader_never_panics_on_mutated_blueprints(cut in 0usize..2000, insert in "[ -~\n]{0,12}") {
        let original = include_str!("../blueprints/authentik.yaml");
        let mut at = cut.min(original.len());
        while !original.is_char_boundary(at) { at -= 1; }
        let text = format!("{}{insert}{}", &original[..at], &original[at..]);
        let mut sources = Catalogue::builtin_sources();
        sources.retain(|s| !s.origin.ends_with("authentik.yaml"));
        sources.push(BlueprintSource { origin: "authentik.yaml".into(), text });
        let _ = Catalogue::from_sources(sources);
    }
}
