//! The namespace said in a clause: "namespace X", "ns=X", "namespace: X",
//! "namespace is X", "-n X", "in the X namespace", "X ns", and "in/into/from/
//! within X" where X is no other known word; a quoted name ("the 'team
//! metrics' namespace") is read whole, to be refused whole.

use std::ops::Range;

use super::classify::{Kind, Word};
use super::lexicon::{Lex, Prep};
use super::values::{Said, Values, is_amount};

/// Words that cannot be a namespace's name after "namespace".
pub(super) fn is_function_word(word: &Word) -> bool {
    word.is_punct()
        || matches!(
            word.lex(),
            Some(
                Lex::Prep(_)
                    | Lex::Det
                    | Lex::And
                    | Lex::Or
                    | Lex::Question
                    | Lex::Modal
                    | Lex::Finite
                    | Lex::Subject
                    | Lex::Pronoun
                    | Lex::Negation
                    | Lex::Filler
                    | Lex::Subordinate
                    | Lex::But
                    | Lex::Then
                    | Lex::Also
                    | Lex::NsMarker
                    | Lex::Correction
                    | Lex::Hedge
            )
        )
}

/// Reads the namespace of one clause: "namespace X", "ns=X", "namespace: X",
/// "-n X", "in the X namespace", "X ns", and "in/into/from/within X" where X
/// is no other known word. A quoted name ("the 'team metrics' namespace") is
/// read whole, to be refused whole.
pub fn read_namespace(
    words: &[Word],
    used: &mut [bool],
    clause: Range<usize>,
    values: &mut Values,
) {
    let end = clause.end;
    let mut i = clause.start;
    while i < end {
        if used[i] || !words[i].is(Lex::NsMarker) {
            i += 1;
            continue;
        }
        used[i] = true;
        // "which namespace is keycloak in?": asked about, not said
        if i > clause.start && words[i - 1].is(Lex::Question) {
            i += 1;
            continue;
        }
        // "namespace: x", "ns=x", "namespace called x", "namespace is x"
        let mut j = i + 1;
        while j < end
            && (matches!(words[j].punct(), Some('=' | ':'))
                || matches!(
                    words[j].lower.as_str(),
                    "called" | "named" | "is" | "should" | "will" | "be" | "would"
                ))
        {
            j += 1;
        }
        // The name before the marker: "in the sso namespace", "in data ns",
        // "blobs ns docker", "in the 'team metrics' namespace". Not an
        // application said right before it ("install grafana -n"), unless an
        // article or preposition introduces it ("in the redis namespace").
        let before = (i > clause.start && !used[i - 1])
            .then(|| i - 1)
            .filter(|&b| {
                let introduced =
                    b > clause.start && matches!(words[b - 1].lex(), Some(Lex::Det | Lex::Prep(_)));
                words[b].punct() == Some('\'')
                    || (!is_function_word(&words[b])
                        && !is_amount(&words[b])
                        && !matches!(words[b].kind, Kind::Domain(_) | Kind::Url { .. })
                        && !matches!(
                            words[b].lex(),
                            Some(Lex::Platform(_) | Lex::Cluster | Lex::Tls)
                        )
                        // "in a new namespace called x": "new" describes it
                        && !matches!(
                            words[b].lower.as_str(),
                            "new" | "fresh" | "separate" | "dedicated" | "own" | "different"
                        )
                        && (words[b].app().is_none() || introduced)
                        && (introduced
                            || !matches!(words[b].lex(), Some(Lex::Verb(_) | Lex::ReplicaWord))))
            });
        let introduced_before = before.is_some_and(|b| {
            b > clause.start && matches!(words[b - 1].lex(), Some(Lex::Det | Lex::Prep(_)))
        });
        // The name after it: "namespace auth", "-n billing"; a function word
        // only when nothing else can be the name ("in namespace a").
        let after = (j < end && !used[j]).then_some(j).filter(|&a| {
            let w = &words[a];
            if w.is_punct() {
                return w.punct() == Some('\'');
            }
            if matches!(w.lex(), Some(Lex::Platform(_) | Lex::Cluster)) && before.is_some() {
                return false;
            }
            !is_function_word(w)
                || (a + 1 >= end && before.is_none() && matches!(w.lex(), Some(Lex::Det)))
        });
        let named_after = (i + 1..j).any(|k| matches!(words[k].lower.as_str(), "called" | "named"));
        let chosen = match (before, after) {
            // "a namespace called workflows": the name said after "called"
            (_, Some(a)) if named_after => Some(a),
            // "in the storefront namespace maxing out": the introduced name wins
            (Some(b), _) if introduced_before => Some(b),
            (_, Some(a)) => Some(a),
            (Some(b), None) => Some(b),
            (None, None) => None,
        };
        match chosen {
            Some(k) if words[k].punct() == Some('\'') => {
                let said = if k > i {
                    quoted(words, used, k, end)
                } else {
                    quoted_backwards(words, used, k, clause.start)
                };
                match said {
                    Some(said) => values.namespaces.push(said),
                    None => values.nameless_namespace = Some(Said::of((), &words[i])),
                }
            }
            Some(k) => {
                used[k] = true;
                if k > i {
                    used[i + 1..k].fill(true);
                }
                values
                    .namespaces
                    .push(Said::of(words[k].text.clone(), &words[k]));
            }
            None => values.nameless_namespace = Some(Said::of((), &words[i])),
        }
        i += 1;
    }
    // "in qa", "into staging", "from sso", "within dev-tools"
    for i in clause.clone() {
        let Some(Lex::Prep(Prep::In | Prep::Into | Prep::From)) = words[i].lex() else {
            continue;
        };
        if used[i] {
            continue;
        }
        let mut j = i + 1;
        while j < end && matches!(words[j].lower.as_str(), "the" | "our" | "my") {
            j += 1;
        }
        // "the vaultwarden in passwords is two releases behind": a noun that
        // could be an owner ("the passwords") is a place before "is".
        let placed_noun = j < end
            && words[j].is(Lex::OwnerNoun)
            && words.get(j + 1).is_some_and(|n| {
                matches!(n.lower.as_str(), "is" | "was" | "has" | "keeps" | "seems")
            });
        if j >= end || used[j] || !(bare_namespace_candidate(&words[j]) || placed_noun) {
            continue;
        }
        // "in the new customer portal": the word after must end the phrase.
        if j + 1 < end && !is_function_word(&words[j + 1]) && !words[j + 1].is_punct() {
            continue;
        }
        used[i..=j].fill(true);
        values
            .namespaces
            .push(Said::of(words[j].text.clone(), &words[j]));
    }
}

/// A word that can only be a namespace after "in/into/from": no application,
/// platform, value or known word.
fn bare_namespace_candidate(word: &Word) -> bool {
    match &word.kind {
        Kind::Unknown { typo_of, .. } => {
            typo_of.is_none()
                && word
                    .text
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        }
        Kind::Keyword(_) | Kind::Product { .. } => true,
        _ => false,
    }
}

/// A name in quotes starting at `open` ('…'), read whole.
fn quoted(words: &[Word], used: &mut [bool], open: usize, end: usize) -> Option<Said<String>> {
    let close = (open + 1..end).find(|&k| words[k].punct() == Some('\''))?;
    used[open..=close].fill(true);
    (close > open + 1)
        .then(|| Said::new(inner_text(words, open + 1..close), words, open..close + 1))
}

fn quoted_backwards(
    words: &[Word],
    used: &mut [bool],
    close: usize,
    start: usize,
) -> Option<Said<String>> {
    let open = (start..close)
        .rev()
        .find(|&k| words[k].punct() == Some('\''))?;
    used[open..=close].fill(true);
    (close > open + 1)
        .then(|| Said::new(inner_text(words, open + 1..close), words, open..close + 1))
}

fn inner_text(words: &[Word], span: Range<usize>) -> String {
    words[span]
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}
