//! Unit tests of the whole rule parser (each stage has its own next to it).

use super::*;
use crate::intent::{Action, Platform};

/// One parser for every test (building the catalogue is the slow part).
fn parser() -> &'static RuleParser {
    static PARSER: std::sync::OnceLock<RuleParser> = std::sync::OnceLock::new();
    PARSER.get_or_init(|| RuleParser::new(&Catalogue::builtin().expect("builtin catalogue")))
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

#[test]
fn every_choice_of_a_question_is_a_command_the_rules_read() {
    for sentence in [
        "set up SSO in namespace auth",
        "install grafana or prometheus in ns obs",
        "stop redis in ns cache",
        "install grafana, maybe prometheus too",
        "kill the minio pods in ns blobs",
        "move gitea into staging",
        "install gitlab on docker",
        "I need a git server",
        "install postgres 17 and redis 7",
        "replace nginx with traefik",
        "we need a database for the crm",
        "install the redis operator",
        "add two more replicas to grafana",
        "scale grafana",
        "roll back grafana to 11.2",
    ] {
        let failure = err(sentence);
        assert!(
            failure.question().is_some(),
            "{sentence}: no question in {failure:?}"
        );
        for choice in failure.choices() {
            let read = parser().parse(choice);
            assert!(
                read.is_ok(),
                "{sentence}: the choice {choice:?} does not parse: {read:?}"
            );
        }
    }
}

#[test]
fn choices_keep_what_else_was_said() {
    let failure = err("stop redis in ns cache on docker");
    let picked = ok(&failure.choices()[0]);
    assert_eq!(picked.action, Action::Scale);
    assert_eq!(picked.parameters.replicas.unwrap().get(), 0);
    assert_eq!(picked.namespace.unwrap().as_str(), "cache");
    assert_eq!(picked.platform, Some(Platform::Compose));
}

#[test]
fn what_is_not_acted_on_is_reported() {
    let intent = ok("we're moving off nginx, install traefik for the edge team");
    assert_eq!(intent.applications, ["traefik"]);
    assert!(
        intent
            .ignored
            .iter()
            .any(|i| i.contains("moving off nginx")),
        "{:?}",
        intent.ignored
    );
}

#[test]
fn contradictions_and_impossible_values_are_refused_with_the_word() {
    for (sentence, word) in [
        ("install redis with 2.5 replicas", "2.5"),
        ("scale grafana to -2 replicas", "-2"),
        ("install redis in namespace Cache", "Cache"),
        ("install grafana with 3 replicas and 5 replicas", "5"),
        ("install minio with -5GB storage", "-5GB"),
    ] {
        let failure = err(sentence);
        let [start, end] = failure
            .at
            .unwrap_or_else(|| panic!("{sentence}: no position"));
        let said: String = sentence.chars().skip(start).take(end - start).collect();
        assert!(said.contains(word), "{sentence}: points at {said:?}");
    }
    assert!(
        err("install redis with and without TLS")
            .error
            .contains("TLS")
    );
    assert!(
        err("install traefik on docker and on k8s")
            .error
            .contains("platform")
    );
}

mod properties {
    //! Properties over generated sentences (proptest): no input makes the
    //! parser panic; every answer is a valid intent (it survives the JSON
    //! contract's validation) or an error that says something and points
    //! inside the sentence; and an intent said back as a command is read as
    //! the same intent.
    use proptest::prelude::*;

    use super::*;

    /// Words the parser knows, names, numbers, values and noise, so that
    /// generated sentences reach every stage.
    const WORDS: &[&str] = &[
        "install",
        "deploy",
        "remove",
        "upgrade",
        "scale",
        "roll",
        "back",
        "status",
        "bump",
        "set",
        "up",
        "to",
        "in",
        "ns",
        "namespace",
        "the",
        "a",
        "and",
        "or",
        "but",
        "keep",
        "with",
        "without",
        "tls",
        "https",
        "ingress",
        "on",
        "docker",
        "k8s",
        "cluster",
        "3",
        "replicas",
        "2.5",
        "-2",
        "50GB",
        "20",
        "gigs",
        "version",
        "v1.2.3",
        "latest",
        "grafana",
        "redis",
        "postgres",
        "uptime",
        "kuma",
        "authentik",
        "gitlab",
        "sso",
        "it",
        "no",
        "actually",
        "maybe",
        "please",
        "?",
        ",",
        ".",
        "!",
        ":",
        "=",
        "@deckhand",
        "🚀",
        "git.example.org",
        "https://x.example.com/",
        "'",
        "we're",
        "need",
        "more",
        "few",
        "zero",
        "one",
        "million",
        "minus",
        "-n",
        "--replicas",
        "stop",
        "replace",
        "kill",
        "pods",
        "never",
        "mind",
        "is",
        "down",
        "for",
        "team",
        "of",
        "storage",
        "disk",
        "Cache",
        "qa",
        "from",
        "->",
        "17",
    ];

    fn sentence() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(WORDS), 0..14).prop_map(|w| w.join(" "))
    }

    fn check(text: &str) -> Result<(), TestCaseError> {
        let length = text.chars().count();
        match parser().parse(text) {
            Ok(intent) => {
                let json = serde_json::to_string(&intent).expect("intents serialize");
                let back: Intent = serde_json::from_str(&json).map_err(|e| {
                    TestCaseError::fail(format!("{text:?}: {json} does not validate: {e}"))
                })?;
                prop_assert_eq!(&back, &intent);
                prop_assert!(
                    !intent.applications.is_empty() || intent.action == Action::Status,
                    "{:?}: {} without an application",
                    text,
                    intent.action
                );
                // Said back as a command, it is read as the same intent.
                let command = intent.command();
                let again = parser()
                    .parse(&command)
                    .map_err(|e| TestCaseError::fail(format!("{text:?} → {command:?}: {e:?}")))?;
                prop_assert_eq!(
                    (
                        &again.action,
                        &again.applications,
                        &again.namespace,
                        &again.platform,
                        &again.parameters
                    ),
                    (
                        &intent.action,
                        &intent.applications,
                        &intent.namespace,
                        &intent.platform,
                        &intent.parameters
                    ),
                    "{:?} → {:?}",
                    text,
                    command
                );
            }
            Err(failure) => {
                prop_assert!(!failure.error.is_empty(), "{:?}: empty error", text);
                if let Some([start, end]) = failure.at {
                    prop_assert!(
                        start < end && end <= length,
                        "{:?}: at {:?}",
                        text,
                        failure.at
                    );
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn any_text_gives_an_intent_or_an_error(text in "\\PC{0,80}") {
            check(&text)?;
        }

        #[test]
        fn sentences_of_known_words_give_an_intent_or_an_error(text in sentence()) {
            check(&text)?;
        }
    }
}

#[test]
fn strategies_and_autoscaling_are_read_with_their_settings() {
    use crate::intent::{Autoscale, Strategy};
    assert_eq!(
        ok("upgrade grafana to 13.1 as a canary in steps of 10 25 50").strategy,
        Some(Strategy::Canary {
            steps: Some(vec![10, 25, 50, 100])
        })
    );
    assert_eq!(
        ok("upgrade grafana to 13.1, rolling, two at a time").strategy,
        Some(Strategy::Rolling {
            batch: Some(2),
            max_unavailable: None
        })
    );
    assert_eq!(
        ok("upgrade grafana with blue-green").strategy,
        Some(Strategy::BlueGreen {})
    );
    let scaled = ok("autoscale grafana between 2 and 10 at 70% cpu");
    assert_eq!(scaled.action, Action::Scale);
    assert_eq!(
        scaled.parameters.autoscale,
        Some(Autoscale {
            min: 2,
            max: 10,
            cpu_percent: Some(70)
        })
    );
    assert_eq!(ok("promote the grafana canary").action, Action::Promote);
    assert_eq!(ok("abort the grafana canary").action, Action::Abort);
    assert_eq!(ok("switch grafana back").action, Action::Rollback);
    for wrong in [
        "install grafana as a canary",
        "autoscale grafana",
        "autoscale grafana between 10 and 2",
        "autoscale grafana between 2 and 10 at 300% cpu",
        "upgrade grafana as a canary in steps of 50 25",
        "autoscale grafana between 2 and 10 with 3 replicas",
        "upgrade grafana with a/b testing",
    ] {
        assert!(parser().parse(wrong).is_err(), "{wrong}");
    }
}

#[test]
fn a_pronoun_stands_for_the_one_application_named_before_it() {
    let intent = ok(
        "grafana's been slow all morning, can you check whether it's healthy? prometheus seems fine",
    );
    assert_eq!(intent.action, Action::Status);
    assert_eq!(intent.applications, ["grafana"]);
    // Two named before it: asked, not picked.
    let failure = err("grafana and prometheus were slow, remove it");
    assert!(failure.ask.is_some(), "{failure:?}");
}

#[test]
fn an_unknown_word_where_the_verb_stands_is_not_read_as_an_install() {
    for (text, word) in [
        ("flip grafana back to blue", "flip"),
        ("stick with grafana 12", "stick"),
    ] {
        let failure = err(text);
        assert!(
            failure.error.contains(&format!("'{word}'")),
            "{text}: {failure:?}"
        );
        assert_eq!(failure.at, Some([0, word.len()]), "{text}");
    }
    // A subject before the verb is not a verb: "the analytics team wants a mongodb".
    assert_eq!(
        ok("the analytics team wants a mongodb 7.0 in ns events").applications,
        ["mongodb"]
    );
    assert_eq!(ok("pop a minio in ns backups").action, Action::Install);
}

#[test]
fn a_strategy_makes_a_deploy_an_upgrade_but_not_an_install() {
    use crate::intent::Strategy;
    let canary = ok("ship keycloak 26.1 as a canary, namespace sso");
    assert_eq!(canary.action, Action::Upgrade);
    assert!(matches!(canary.strategy, Some(Strategy::Canary { .. })));
    assert_eq!(ok("canary grafana 12.3.1").action, Action::Upgrade);
    let rolling = ok("roll gitea to 1.23.7 one pod at a time");
    assert_eq!(rolling.action, Action::Upgrade);
    assert_eq!(
        rolling.strategy,
        Some(Strategy::Rolling {
            batch: Some(1),
            max_unavailable: None
        })
    );
    assert_eq!(rolling.parameters.replicas, None);
    // Only the words that create something new contradict a strategy.
    err("install redis as a canary");
    // A canary's size is its steps, not a replica count.
    err("canary nginx 1.27 but only 1 pod of the new version");
}

#[test]
fn stopping_or_finishing_an_upgrade_under_way_is_abort_or_promote() {
    for text in [
        "kill the grafana canary, errors are spiking",
        "cancel the keycloak blue/green",
        "stop the nextcloud rolling update",
        "call off the prometheus rollout",
        "bail out of the wordpress upgrade",
        "abrot the redis canary in cache",
    ] {
        assert_eq!(ok(text).action, Action::Abort, "{text}");
    }
    for text in [
        "go to 100% on the keycloak canary",
        "the n8n canary has been at 50% overnight, take it to 100%",
        "prmote the keycloak canary",
    ] {
        let intent = ok(text);
        assert_eq!(intent.action, Action::Promote, "{text}");
        assert!(
            intent.ignored.iter().all(|w| w != "100%"),
            "{text}: {intent:?}"
        );
    }
    // Pausing a rollout waits for a promote; never read as an abort.
    let paused = ok("pause the grafana canary");
    assert_eq!(paused.action, Action::Pause);
    assert_eq!(paused.command(), "pause the grafana upgrade");
    assert_eq!(ok(&paused.command()).action, Action::Pause);
    // "stop" alone still asks.
    assert!(err("stop grafana").ask.is_some());
}

#[test]
fn what_someone_wants_done_is_the_participle() {
    let bumped = ok("Priya from platform wants grafana bumped to 12.0.1");
    assert_eq!(bumped.action, Action::Upgrade);
    assert_eq!(bumped.parameters.version.unwrap().as_str(), "12.0.1");
    let removed = ok("legal want nextcloud removed from ns docs");
    assert_eq!(removed.action, Action::Remove);
    assert_eq!(removed.namespace.unwrap().as_str(), "docs");
    let scaled = ok("the web team would like nginx scaled to 6 in ns frontend");
    assert_eq!(scaled.action, Action::Scale);
}

#[test]
fn an_upgrade_whose_version_is_only_in_the_context_asks_which() {
    let failure = err("the dashboards team wants 12.1, can you canary grafana?");
    let question = failure.ask.expect("a question");
    assert!(question.choices[0].contains("12.1"), "{question:?}");
    assert!(question.choices[1].contains("latest"), "{question:?}");
    // The version it is on now is not a target.
    assert!(
        ok("grafana is on 11.6, upgrade it")
            .parameters
            .version
            .is_none()
    );
}

#[test]
fn autoscaling_said_the_command_line_way() {
    use crate::intent::Autoscale;
    assert_eq!(
        ok("autoscale redis --min 2 --max 4 --cpu 80 -n cache")
            .parameters
            .autoscale,
        Some(Autoscale {
            min: 2,
            max: 4,
            cpu_percent: Some(80)
        })
    );
    assert_eq!(
        ok("please make autoscaling of mariadb, minimum 2 maximum 4, cpu 70 percent")
            .parameters
            .autoscale
            .and_then(|a| a.cpu_percent),
        Some(70)
    );
}

#[test]
fn ranges_sizes_in_words_and_misspellings_where_they_stand() {
    use crate::intent::Autoscale;
    let range = |text: &str| ok(text).parameters.autoscale;
    let two_to_twenty = Some(Autoscale {
        min: 2,
        max: 20,
        cpu_percent: Some(70),
    });
    assert_eq!(range("autoscale wordpress 2..20 at 70% cpu"), two_to_twenty);
    assert_eq!(
        range("autoscale wordpress 2\u{2013}20 at 70% cpu"),
        two_to_twenty
    );
    // The verb "autoscale" misspelt where a verb stands.
    assert_eq!(range("autoscael wordpress 2-20 at 70% cpu"), two_to_twenty);
    assert_eq!(
        ok("nextcloud, one terabyte, ns files")
            .parameters
            .storage
            .as_ref()
            .map(|s| s.as_str()),
        Some("1Ti")
    );
    // One share where a canary begins, said in its clause or another: the
    // usual stages above it follow.
    let steps = |text: &str| match ok(text).strategy {
        Some(crate::intent::Strategy::Canary { steps }) => steps,
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(
        steps("canary grafana 13, 10% first"),
        Some(vec![10, 25, 50, 100])
    );
    // The words that say so are understood, not reported.
    for said in [
        "canary grafana 13, start at 5%",
        "canary grafana 13, begin with 5%",
        "upgrade grafana to 13 as a canary, starting at 5%",
    ] {
        assert_eq!(steps(said), Some(vec![5, 25, 50, 100]), "{said}");
        assert!(
            ok(said).ignored.is_empty(),
            "{said}: {:?}",
            ok(said).ignored
        );
    }
    assert_eq!(
        steps("upgrade grafana to 13 as a canary, 5% at first"),
        Some(vec![5, 25, 50, 100])
    );
    assert_eq!(
        steps("upgrade grafana to 13 as a canary 10/50/100"),
        Some(vec![10, 50, 100])
    );
    assert_eq!(
        ok("canary grafana 13, 10% then 30%").ignored,
        ["10%", "30%"]
    );
    // A share not said as the start is not one: reported, or the one stage.
    let context = ok("grafana's error rate is 2%, upgrade it to 12 as a canary");
    assert_eq!(context.ignored, ["grafana's error rate is 2%"]);
    assert_eq!(
        steps("grafana's error rate is 2%, upgrade it to 12 as a canary"),
        None
    );
    assert_eq!(
        steps("upgrade grafana to 13 as a canary 20%"),
        Some(vec![20, 100])
    );
    // Two numbers that set nothing are asked about in a change, not passed over.
    let unplaced = err("upgrade postgresql 16-17");
    assert!(unplaced.error.contains("'16-17'"), "{}", unplaced.error);
    assert!(err("remove redis 2-3").error.contains("'2-3'"));
    assert_eq!(ok("status of redis 2-3").ignored, ["2-3"]);
    // What scales itself is autoscaled.
    assert_eq!(
        range("let traefik scale itself between 2 and 6 at 70% cpu"),
        Some(Autoscale {
            min: 2,
            max: 6,
            cpu_percent: Some(70)
        })
    );
    // An application misspelt by one letter before "status".
    assert_eq!(ok("promethues status?").applications, ["prometheus"]);
    err("traffic status?");
}

#[test]
fn turning_autoscaling_off_is_a_scale_that_keeps_its_count() {
    let off = ok("turn off autoscaling on grafana and pin it at 3");
    assert_eq!(off.action, Action::Scale);
    assert_eq!(off.parameters.autoscale_off, Some(true));
    assert_eq!(off.parameters.replicas.map(|r| r.get()), Some(3));
    let off = ok("no more autoscaler for n8n");
    assert_eq!(off.parameters.autoscale_off, Some(true));
    assert_eq!(off.parameters.replicas, None);
    // The application between the verb and the autoscaler.
    for said in ["remove the grafana autoscaler", "stop n8n's autoscaler"] {
        let off = ok(said);
        assert_eq!(off.action, Action::Scale, "{said}");
        assert_eq!(off.parameters.autoscale_off, Some(true), "{said}");
    }
    // A removal beside an autoscaling does not turn it off.
    let two = err("remove redis and autoscale grafana between 2 and 6");
    assert!(!two.error.contains("off"), "{}", two.error);
    // Both at once is a contradiction, and it is not an install.
    err("autoscale grafana between 2 and 4 and turn autoscaling off");
    err("install grafana without autoscaling");
}

#[test]
fn a_relation_to_another_application_is_reported_not_wired() {
    assert_eq!(ok("install authentik for gitea").ignored, ["for gitea"]);
    assert_eq!(
        ok("install authentik in front of gitea").ignored,
        ["in front of gitea"]
    );
    // "instead of" only contrasts: nothing to report.
    assert!(ok("install redis instead of mongodb").ignored.is_empty());
}
