//! Stage 3 of the rule parser: the classified words are cut into clauses and
//! each clause gets a [`Role`].
//!
//! People write one request wrapped in context: "we're moving off nginx,
//! install traefik", "roll back grafana, prometheus is fine", "hi! the design
//! folks want a site: please deploy wordpress …". Only request clauses (and
//! the value lists that continue them) make the intent; a statement or a
//! subordinate clause is context, a protecting clause ("but keep X", "don't
//! touch Y", "not Z") names what must be left alone, a correction ("no, 5",
//! "actually make it 17") replaces a value said before, and a hedge ("maybe
//! prometheus too") is a question for the person.
//!
//! Cuts: sentence ends (`. ? ! ;`), commas, colons and dashes, and the words
//! that start a new clause (but, so, because, like we …, "or is it …",
//! "and don't touch …", "then remove …").

use std::ops::Range;

use super::classify::{Kind, Word};
use super::lexicon::{self, Lex, Prep, Verb};

/// What a clause does in the sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Asks for something to be done (a verb, a request frame, or an
    /// application named on its own: "redis please").
    Request,
    /// Asks about the state of things ("is grafana up?").
    Question,
    /// Values and names that continue the clause before ("…, 3 replicas").
    Continuation,
    /// Tells something ("we're moving off nginx"); context.
    Statement,
    /// A subordinate clause ("so we can…", "like we did for keycloak",
    /// "after the migration"); context.
    Context,
    /// Keeps something out ("but keep prometheus", "not bitwarden").
    Protect,
    /// Replaces a value said before ("no, 5", "sorry, I meant ns obs").
    Correction,
    /// "maybe prometheus too".
    Hedge,
    /// "never mind", "actually no, don't": the request is taken back.
    Cancel,
    /// Greetings, thanks.
    Filler,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub words: Range<usize>,
    pub role: Role,
    /// The sentence it is in ends with a question mark.
    pub asked: bool,
}

/// Cuts `words` into clauses with their roles.
pub fn clauses(words: &[Word]) -> Vec<Clause> {
    let mut out: Vec<Clause> = Vec::new();
    let mut start = 0;
    let mut sentence_start = 0;
    let mut i = 0;
    while i <= words.len() {
        let cut_here = i == words.len() || starts_clause(words, i);
        let hard = i < words.len() && matches!(words[i].punct(), Some('.' | '?' | '!' | ';'));
        let soft = i < words.len()
            && matches!(
                words[i].punct(),
                Some(',' | ':' | '-' | '\u{2014}' | '\u{2013}' | '(' | ')')
            )
            && !glued(words, i);
        if (cut_here || hard || soft) && start < i {
            out.push(Clause {
                words: start..i,
                role: Role::Filler,
                asked: false,
            });
        }
        if hard || i == words.len() {
            // Mark the sentence's clauses when it ends with a question mark.
            let asked = i < words.len() && words[i].punct() == Some('?')
                || (i + 1 < words.len() && words[i + 1].punct() == Some('?'));
            for clause in out.iter_mut().filter(|c| c.words.start >= sentence_start) {
                clause.asked |= asked;
            }
            sentence_start = i + 1;
        }
        if hard || soft {
            start = i + 1;
        } else if cut_here {
            start = i;
        }
        i += 1;
    }
    let mut previous = Role::Filler;
    for clause in &mut out {
        clause.role = role(&words[clause.words.clone()], previous, clause.asked);
        // "It should run on the cluster in the legal-files namespace with
        // 1TB": a requirement said as a statement continues the request.
        if clause.role == Role::Statement && states_requirements(&words[clause.words.clone()]) {
            clause.role = Role::Continuation;
        }
        if clause.role == Role::Statement
            && clause.asked
            && starts_with_application(&words[clause.words.clone()])
        {
            // "n8n is down??"
            clause.role = Role::Question;
        }
        // "install mariadb 11.4 wait is it 11.8?": a correction asked is a doubt
        if clause.role == Role::Correction
            && clause.asked
            && words[clause.words.clone()].iter().any(is_value)
        {
            clause.role = Role::Hedge;
        }
        if clause.role != Role::Filler {
            previous = clause.role;
        }
    }
    // "remove minio, no wait, just scale it to zero": after a bare "no wait",
    // the next request is the correction.
    for n in 1..out.len() {
        let bare = out[n - 1].role == Role::Correction
            && words[out[n - 1].words.clone()].iter().all(|w| {
                w.is_punct()
                    || matches!(w.lex(), Some(Lex::Correction | Lex::Negation | Lex::Filler))
            });
        let requested_before = out[..n - 1]
            .iter()
            .any(|c| matches!(c.role, Role::Request | Role::Continuation));
        if bare && requested_before && matches!(out[n].role, Role::Request | Role::Continuation) {
            out[n].role = Role::Correction;
        }
    }
    // "to reduce the wordpress at one replica please": a purpose with
    // nothing else asked is the request itself.
    if !out
        .iter()
        .any(|c| matches!(c.role, Role::Request | Role::Question | Role::Continuation))
    {
        for clause in out.iter_mut().filter(|c| c.role == Role::Context) {
            let w = &words[clause.words.clone()];
            if w.len() > 1
                && w[0].is(Lex::Prep(lexicon::Prep::To))
                && matches!(w[1].lex(), Some(Lex::Verb(_) | Lex::Head(_)))
            {
                clause.role = Role::Request;
            }
        }
    }
    out
}

/// A statement that says what the request needs: a modal of requirement
/// ("should", "will", "must") and values, about no application by name.
fn states_requirements(words: &[Word]) -> bool {
    let modal = words.iter().any(|w| {
        matches!(
            w.lower.as_str(),
            "should"
                | "will"
                | "must"
                | "shall"
                | "it'll"
                | "needs"
                | "has"
                | "have"
                | "needed"
                | "required"
                | "necessary"
        )
    });
    let value = words.iter().any(|w| {
        matches!(
            w.kind,
            Kind::Size { .. }
                | Kind::Version(_)
                | Kind::Domain(_)
                | Kind::Url { .. }
                | Kind::Lex(Lex::NsMarker | Lex::Platform(_) | Lex::Tls | Lex::Ingress)
        )
    });
    modal && value && !words.iter().any(|w| w.app().is_some())
}

/// A colon that binds a name to its value ("namespace: x", "redis:7.4").
fn glued(words: &[Word], i: usize) -> bool {
    words[i].punct() == Some(':')
        && i > 0
        && (words[i - 1].app().is_some()
            || matches!(
                words[i - 1].lex(),
                Some(
                    Lex::NsMarker
                        | Lex::VersionWord
                        | Lex::StorageWord
                        | Lex::ReplicaWord
                        | Lex::DomainWord
                        | Lex::RevisionWord
                )
            ))
}

/// A word that starts a new clause inside a sentence.
fn starts_clause(words: &[Word], i: usize) -> bool {
    if i == 0 {
        return false;
    }
    let next = words.get(i + 1).and_then(Word::lex);
    match words[i].lex() {
        Some(Lex::But | Lex::Subordinate) => true,
        // "or is it still rolling out", not "grafana or prometheus"
        Some(Lex::Or) => matches!(
            next,
            Some(Lex::Question | Lex::Subject | Lex::Modal | Lex::Pronoun)
        ),
        // "and don't touch the postgres", "and also remove", "and thanks"
        Some(Lex::And) => matches!(
            next,
            Some(
                Lex::Protect
                    | Lex::Also
                    | Lex::Filler
                    | Lex::Subject
                    | Lex::Modal
                    | Lex::Verb(_)
                    | Lex::Head(_)
                    | Lex::Cancel
            )
        ),
        Some(Lex::Then) => matches!(next, Some(Lex::Verb(_) | Lex::Head(_))),
        // "when you get a moment could you bump grafana"
        Some(Lex::Modal) => matches!(next, Some(Lex::Addressee)),
        Some(Lex::Protect) => !matches!(
            words[i - 1].lex(),
            Some(Lex::Negation | Lex::But | Lex::And | Lex::Subordinate | Lex::Filler | Lex::Also)
        ),
        // "upgrade keycloak to 26.4 actually let's go with 26.5"
        Some(Lex::Correction | Lex::Cancel) => !matches!(
            words[i - 1].lex(),
            Some(Lex::Correction | Lex::Negation | Lex::Filler | Lex::And | Lex::But)
        ),
        // "after discussing it we'd like to roll back": a request frame of
        // several words starts the main clause
        Some(Lex::Verb(Verb::Need)) => words[i].text.contains(' '),
        // "after lunch please install redis"
        Some(Lex::Filler) => {
            matches!(words[i].lower.as_str(), "please" | "kindly")
                && matches!(next, Some(Lex::Verb(_) | Lex::Head(_)))
        }
        _ => false,
    }
}

/// Words that do not decide a clause's role when they lead it.
fn is_lead_in(word: &Word) -> bool {
    matches!(
        word.lex(),
        Some(Lex::Filler | Lex::And | Lex::Also | Lex::But | Lex::Then | Lex::Time)
    ) || word.is_punct()
}

fn starts_with_application(words: &[Word]) -> bool {
    words
        .iter()
        .find(|w| !is_lead_in(w) && !matches!(w.lex(), Some(Lex::Det | Lex::Adjective)))
        .is_some_and(|w| w.app().is_some())
}

/// True when word `i` reads as a noun, not a verb ("the gitea upgrade",
/// "yesterday's upgrade").
pub fn noun_reading(words: &[Word], i: usize) -> bool {
    i > 0
        && (matches!(
            words[i - 1].kind,
            Kind::App { .. }
                | Kind::Lex(
                    Lex::Det
                        | Lex::Adjective
                        | Lex::Existing
                        | Lex::Time
                        | Lex::OwnerNoun
                        | Lex::ReleaseNoun
                )
        ) || (words[i - 1].lower.ends_with("'s") && words[i - 1].lower != "let's"))
}

/// A finite verb of a statement ("is", "broke", "keeps").
pub fn is_finite(word: &Word) -> bool {
    match word.lex() {
        Some(Lex::Finite) => true,
        Some(Lex::Question) => matches!(
            word.lower.as_str(),
            "is" | "are"
                | "was"
                | "were"
                | "isn't"
                | "aren't"
                | "wasn't"
                | "weren't"
                | "isnt"
                | "arent"
                | "has"
                | "have"
                | "had"
                | "hasn't"
                | "haven't"
                | "did"
                | "didn't"
                | "does"
                | "doesn't"
        ),
        Some(Lex::Modal) => true,
        _ => false,
    }
}

/// First person: whose need is a request ("we need", "I'd like").
fn first_person(word: &Word) -> bool {
    matches!(
        word.lower.as_str(),
        "we" | "we'll" | "we'd" | "i" | "i'll" | "i'd" | "i'm" | "im" | "we're"
    )
}

/// A verb in the past tense nobody listed ("showed", "reported"): a statement's.
fn looks_past(word: &Word) -> bool {
    matches!(word.kind, Kind::Unknown { .. })
        && word.lower.len() >= 5
        && word.lower.ends_with("ed")
        && word.lower.chars().all(|c| c.is_ascii_alphabetic())
}

fn role(words: &[Word], previous: Role, asked: bool) -> Role {
    let content: Vec<(usize, &Word)> = words
        .iter()
        .enumerate()
        .filter(|(_, w)| !is_lead_in(w))
        .collect();
    let Some(&(at, first)) = content.first() else {
        return Role::Filler;
    };
    let next = content.get(1).map(|(_, w)| *w);
    match first.kind {
        Kind::Lex(Lex::Subordinate) => match next.and_then(Word::lex) {
            // "so leave keycloak running"
            Some(Lex::Protect) => Role::Protect,
            // "so please scale nginx", "so go ahead and deploy it"
            Some(Lex::Verb(_) | Lex::Head(_)) if first.lower == "so" => Role::Request,
            _ => Role::Context,
        },
        Kind::Lex(Lex::Cancel) => Role::Cancel,
        Kind::Lex(Lex::Correction) => {
            // "actually no, don't", "nah, never mind"
            if words[at..].iter().any(|w| w.is(Lex::Cancel)) {
                Role::Cancel
            } else {
                Role::Correction
            }
        }
        Kind::Lex(Lex::Negation) => match next {
            // "no TLS needed", "without ingress"
            Some(w) if matches!(w.lex(), Some(Lex::Tls | Lex::Ingress)) => Role::Continuation,
            // "don't" on its own takes the request back
            None if matches!(first.lower.as_str(), "don't" | "dont") => Role::Cancel,
            // "no, 5": a correction when what follows is a value or nothing
            None if first.lower == "no" => Role::Correction,
            Some(w) if first.lower == "no" && is_value(w) => Role::Correction,
            // "not 10.11 like I said before": a value taken back, not asked for
            Some(w) if first.lower == "not" && is_value(w) => Role::Protect,
            // "not bitwarden", "don't touch"
            Some(w) if w.app().is_some() || matches!(w.kind, Kind::Product { .. }) => Role::Protect,
            Some(w) if matches!(w.lex(), Some(Lex::Verb(_) | Lex::Head(_))) => Role::Protect,
            _ => Role::Continuation,
        },
        Kind::Lex(Lex::Hedge) => Role::Hedge,
        // "prometheus maybe", "grafana too, perhaps": a doubt anywhere in the clause
        _ if words.iter().any(|w| w.is(Lex::Hedge)) => Role::Hedge,
        // "keep 4 pods of authentik running": a count to keep is a scale
        Kind::Lex(Lex::Protect) if first.lower == "keep" && next.is_some_and(Word::is_number) => {
            Role::Request
        }
        Kind::Lex(Lex::Protect | Lex::InsteadOf) => Role::Protect,
        Kind::Lex(Lex::Question) => {
            if first.lower == "do" {
                match next.and_then(Word::lex) {
                    // "do we have …" is a question
                    Some(Lex::Subject | Lex::Addressee) => Role::Question,
                    // "do the rollback of n8n"
                    Some(Lex::Det) => Role::Request,
                    _ => Role::Filler,
                }
            } else if first.lower == "when" && !next.is_some_and(is_finite) {
                // "when you have a minute": context
                Role::Context
            } else {
                Role::Question
            }
        }
        Kind::Lex(Lex::Modal) => match next.and_then(Word::lex) {
            Some(Lex::Addressee | Lex::Subject | Lex::Verb(_) | Lex::Head(_) | Lex::Filler) => {
                Role::Request
            }
            _ => Role::Statement,
        },
        // "you can make upgrade of gitea"
        Kind::Lex(Lex::Addressee) if next.is_some_and(|n| n.is(Lex::Modal)) => Role::Request,
        // "to reduce costs, …": a purpose
        Kind::Lex(Lex::Prep(lexicon::Prep::To))
            if at == 0
                && next.is_some_and(|n| matches!(n.lex(), Some(Lex::Verb(_) | Lex::Head(_)))) =>
        {
            Role::Context
        }
        Kind::Lex(Lex::Verb(_) | Lex::Head(_)) => Role::Request,
        // "instll wordpres"
        Kind::Unknown { .. } if lexicon::fuzzy_verb(&first.lower).is_some() => Role::Request,
        Kind::Lex(Lex::Subject | Lex::Pronoun | Lex::Something) => {
            // "we need …", "we just need …", "I am needing …", "we'd also
            // like it …": a request when the need is the speaker's own; a
            // want of someone else's when it is for an application ("they'd
            // like grafana and prometheus installed").
            let wants = words[at + 1..]
                .iter()
                .take(3)
                .take_while(|w| !is_finite(w) || w.lower == "am")
                .any(|w| {
                    matches!(w.lex(), Some(Lex::Verb(Verb::Need)))
                        || (first.lower.ends_with("'d")
                            && matches!(w.lower.as_str(), "like" | "love"))
                });
            let names_app = words[at..]
                .iter()
                .any(|w| w.app().is_some() || w.is(Lex::Pronoun));
            if wants && (first_person(first) || names_app) {
                Role::Request
            } else {
                Role::Statement
            }
        }
        _ => {
            // Names and values, or a noun phrase: a statement when a finite
            // verb comes before any request verb ("the redis upgrade broke
            // everything", "prometheus is fine"); a request when a request
            // verb comes ("for the analytics platform we'd like …"); values
            // alone continue the clause before.
            // "one replica is enough", "namespace is reporting": a value
            // leads, so it is not a statement.
            // "one replica is enough", "namespace is reporting", "Docker is
            // fine": a value leads, so it is not a statement.
            // ("the canary for wordpress is fine" is a statement: a strategy
            // named first is what the sentence is about.)
            let value_first = (is_value(first)
                && !matches!(first.lex(), Some(Lex::StrategyName(_))))
                || matches!(first.kind, Kind::Lex(Lex::DomainWord | Lex::StorageWord));
            let mut verbless = true;
            let mut after_copula = false;
            for (i, w) in words.iter().enumerate().skip(at) {
                // "the design folks want a site", "our auditors require a
                // password manager": someone else's want is a statement,
                // unless what they want is an application ("the analytics
                // team wants a mongodb").
                let others_want = !after_copula
                    && matches!(
                        w.lower.as_str(),
                        "want" | "wants" | "need" | "needs" | "require" | "requires"
                    );
                if others_want && words[i..].iter().any(|w| w.app().is_some()) {
                    return Role::Request;
                }
                // "prometheus is need update": not a statement
                let copula_then_verb = matches!(w.lower.as_str(), "is" | "are")
                    && words
                        .get(i + 1)
                        .is_some_and(|n| matches!(n.lex(), Some(Lex::Verb(_))));
                // ("fixed 2 replicas": a participle before a count describes it)
                let past = looks_past(w) && !words.get(i + 1).is_some_and(Word::is_number);
                if (is_finite(w) || others_want || past) && !value_first && !copula_then_verb {
                    return Role::Statement;
                }
                after_copula = copula_then_verb;
                if let Some(Lex::Verb(_)) = w.lex() {
                    if !noun_reading(words, i) {
                        return Role::Request;
                    }
                    verbless = false;
                }
            }
            let has_substance = words.iter().any(|w| {
                is_value(w)
                    || w.app().is_some()
                    || matches!(w.lex(), Some(Lex::Relative | Lex::Vague))
                    || matches!(
                        w.kind,
                        Kind::Unknown {
                            typo_of: Some(_),
                            ..
                        }
                    )
                    || !matches!(w.kind, Kind::Lex(_) | Kind::Unknown { .. } | Kind::Punct(_))
            });
            // "install redis in cache, no wait, in sessions": a place said
            // right after a correction is the correction's.
            if previous == Role::Correction
                && (first.is(Lex::Prep(Prep::In)) || first.is(Lex::NsMarker))
            {
                return Role::Correction;
            }
            if !has_substance {
                // "incident follow-up", "after the migration"
                return Role::Context;
            }
            // "grafana down??", "keycloak healthy? ns iam", "mariadb ok?": a
            // name with a state, or asked, is a question.
            // Not "crank nginx up to 8 pods", "autoscale it up to 10", nor
            // after an unknown first word that stands where a verb would
            // ("knock up a quick wordpress").
            let stated = words.iter().enumerate().any(|(i, w)| {
                w.is(Lex::State)
                    || (matches!(w.lex(), Some(Lex::Particle("up" | "down")))
                        && !words
                            .get(i + 1)
                            .is_some_and(|n| n.is(Lex::Prep(Prep::To)) || n.is_number()))
            }) && !matches!(first.kind, Kind::Unknown { typo_of: None, .. })
                && !words.iter().any(|w| w.is(Lex::Autoscale));
            if verbless && (asked || stated) && words.iter().any(|w| w.app().is_some()) {
                return Role::Question;
            }
            match previous {
                Role::Filler | Role::Statement | Role::Context | Role::Cancel => Role::Request,
                Role::Correction => Role::Correction,
                Role::Question => Role::Continuation,
                _ => Role::Continuation,
            }
        }
    }
}

/// A word that carries a value of the intent.
pub fn is_value(word: &Word) -> bool {
    word.is_value_token()
        || matches!(
            word.kind,
            Kind::Lex(
                Lex::NsMarker
                    | Lex::Platform(_)
                    | Lex::Tls
                    | Lex::Ingress
                    | Lex::ReplicaWord
                    | Lex::VersionWord
                    | Lex::Latest
                    | Lex::Cluster
                    | Lex::StorageWord
                    | Lex::StrategyName(_)
                    | Lex::AtATime
                    | Lex::Autoscale
                    | Lex::RollingSetting(_)
                    | Lex::Bound(_)
            ) | Kind::Percent(_)
                | Kind::Numbers(_)
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::parse::classify::{Vocabulary, classify};
    use crate::intent::parse::tokens::tokenize;

    fn roles(text: &str) -> Vec<(String, Role)> {
        let mut vocabulary = Vocabulary::default();
        for name in [
            "grafana",
            "prometheus",
            "nginx",
            "traefik",
            "n8n",
            "redis",
            "minio",
        ] {
            vocabulary.spellings.insert(name.into(), name.into());
        }
        let words = classify(&tokenize(text), &vocabulary, &[]);
        clauses(&words)
            .into_iter()
            .map(|c| {
                let text = words[c.words.clone()]
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                (text, c.role)
            })
            .collect()
    }

    #[test]
    fn context_protection_and_requests_are_told_apart() {
        assert_eq!(
            roles("we're moving off nginx, install traefik"),
            [
                ("we're moving off nginx".to_string(), Role::Statement),
                ("install traefik".to_string(), Role::Request)
            ]
        );
        assert_eq!(
            roles("install grafana but keep prometheus as is"),
            [
                ("install grafana".to_string(), Role::Request),
                ("but keep prometheus as is".to_string(), Role::Protect)
            ]
        );
        assert_eq!(
            roles("roll back grafana, prometheus is fine")[1].1,
            Role::Statement
        );
        assert_eq!(
            roles("scale redis to 3 like we did for grafana")[1].1,
            Role::Context
        );
        assert_eq!(roles("n8n is down??")[0].1, Role::Question);
        assert_eq!(roles("is grafana up?")[0].1, Role::Question);
        assert_eq!(
            roles("install grafana, maybe prometheus too")[1].1,
            Role::Hedge
        );
        assert_eq!(
            roles("scale redis to 3 replicas, no, 5")
                .iter()
                .map(|(_, r)| *r)
                .collect::<Vec<_>>(),
            [Role::Request, Role::Correction, Role::Correction]
        );
        assert_eq!(
            roles("minio, 500GB, namespace objects")
                .iter()
                .map(|(_, r)| *r)
                .collect::<Vec<_>>(),
            [Role::Request, Role::Continuation, Role::Continuation]
        );
    }
}
