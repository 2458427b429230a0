//! Stage 4a of the rule parser: the values said in one clause.
//!
//! Each reader claims the words it understands (marks them used), so a word
//! is read once: the namespace first (so "in ns redis" is a namespace, not
//! an application), then where it runs, TLS, domains and URLs, the size, the
//! replica count and the version. A number whose meaning depends on the
//! action ("to 3": replicas for a scale, a version for an upgrade) is kept
//! aside for [`super::assemble`] to place once the action is known. Nothing
//! is validated here beyond the shape; every value keeps its text and span so
//! an error can quote it and point at it.

use std::ops::Range;

use super::classify::{Kind, Number, Word};
use super::lexicon::{Lex, Prep, StrategyName};
use crate::intent::Platform;

/// A value with where it was said.
#[derive(Debug, Clone, PartialEq)]
pub struct Said<T> {
    pub value: T,
    /// As written.
    pub text: String,
    /// Character span in the sentence.
    pub at: [usize; 2],
}

impl<T> Said<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Said<U> {
        Said {
            value: f(self.value),
            text: self.text,
            at: self.at,
        }
    }
    pub(super) fn new(value: T, words: &[Word], span: Range<usize>) -> Self {
        let text = words[span.clone()]
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            value,
            text,
            at: [words[span.start].start, words[span.end - 1].end],
        }
    }
    pub(super) fn of(value: T, word: &Word) -> Self {
        Self {
            value,
            text: word.text.clone(),
            at: [word.start, word.end],
        }
    }
}

/// What was said of autoscaling ("between 2 and 10 at 70% cpu").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AutoscaleSaid {
    pub min: Option<Said<Number>>,
    pub max: Option<Said<Number>>,
    pub cpu_percent: Option<Said<u32>>,
}

/// A number whose meaning waits for the action.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// "postgres 15", "redis:7": a version, or a count for a scale.
    AfterApp(String),
    /// "to 3", "to 11.2": a count for a scale, a version for an upgrade.
    AfterTo,
    /// A number on its own.
    Bare,
}

/// Everything one or more clauses said, before checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values {
    pub namespaces: Vec<Said<String>>,
    pub platforms: Vec<Said<Platform>>,
    pub tls: Vec<Said<bool>>,
    pub ingress: Vec<Said<bool>>,
    pub domains: Vec<Said<String>>,
    /// Paths after a URL's host ("https://x.example.com/grafana").
    pub url_paths: Vec<Said<String>>,
    /// Sizes: the quantity as Kubernetes writes it, or the reason it is not one.
    pub storage: Vec<Said<Result<String, String>>>,
    /// Explicit counts ("3 replicas", "replicas=3", "replica count to 2").
    pub replicas: Vec<Said<Number>>,
    /// "N copies of X": a count that makes "run" a scale.
    pub copies: bool,
    /// A count said after "to" ("to 4 replicas", "replica count to 2"): a change of count.
    pub counted_to: bool,
    pub versions: Vec<Said<String>>,
    pub pending: Vec<(Said<Number>, Pending)>,
    pub revisions: Vec<Said<Number>>,
    /// "latest": the blueprint's default.
    pub latest: bool,
    /// "the previous version": what a rollback goes back to.
    pub previous: bool,
    /// "that version", "this version": a version said elsewhere in the message.
    pub that_version: Option<Said<()>>,
    /// Relative or vague amounts: the words, for the question back.
    pub relative: Vec<Said<()>>,
    pub vague: Vec<Said<()>>,
    /// Memory or CPU sizes, which deckhand does not take from a sentence.
    pub resources: Vec<Said<()>>,
    /// Delivery strategies deckhand does not have ("A/B testing").
    pub strategies: Vec<Said<()>>,
    /// Delivery strategies said for an upgrade, with their settings.
    pub delivery: Vec<Said<StrategyName>>,
    /// Canary stages, in percent ("in steps of 10 25 50 100").
    pub canary_steps: Option<Said<Vec<u32>>>,
    /// The one canary share was said as where the canary begins ("10%
    /// first", "start at 5%"): the usual stages above it follow.
    pub canary_starts: bool,
    /// Rolling: pods at a time ("two at a time", "max surge 2").
    pub rolling_batch: Option<Said<Number>>,
    /// Rolling: "max unavailable 1".
    pub rolling_unavailable: Option<Said<Number>>,
    /// Autoscaling: the word, and the minimum, maximum and CPU target said.
    pub autoscale: Option<Said<AutoscaleSaid>>,
    /// "turn off autoscaling", "no more HPA": the count fixed again.
    pub autoscale_off: Option<Said<()>>,
    /// "and its dependencies", "and its data".
    pub cascade: bool,
    pub delete_data: bool,
    /// "to staging", "into qa" after a move: where it should go.
    pub move_targets: Vec<Said<String>>,
    /// "or" between two values or names.
    pub alternatives: Vec<Said<()>>,
    /// "namespace" said with no name after or before it.
    pub nameless_namespace: Option<Said<()>>,
}

/// True when one of the two words before `i` (skipping articles) negates it:
/// "without TLS", "no ingress", "with no tls", "disable https".
fn negated(words: &[Word], used: &[bool], i: usize, start: usize) -> Option<usize> {
    let mut k = i;
    let mut steps = 0;
    while k > start && steps < 3 {
        k -= 1;
        steps += 1;
        if matches!(words[k].lex(), Some(Lex::Det | Lex::Adjective)) {
            continue;
        }
        if words[k].is(Lex::Negation) && !used[k] {
            return Some(k);
        }
        break;
    }
    None
}

/// Platform, TLS, ingress, domains and URLs of one clause.
pub fn read_where(words: &[Word], used: &mut [bool], clause: Range<usize>, values: &mut Values) {
    let end = clause.end;
    for i in clause.clone() {
        if used[i] {
            continue;
        }
        match &words[i].kind {
            Kind::Lex(Lex::Platform(platform)) => {
                used[i] = true;
                // "k8s cluster", "docker compose" said as two words
                if i + 1 < end && words[i + 1].is(Lex::Cluster) {
                    used[i + 1] = true;
                }
                values.platforms.push(Said::of(*platform, &words[i]));
            }
            Kind::Lex(Lex::Cluster) => {
                // "on the cluster", "to our cluster": where it goes.
                let placed = i > clause.start
                    && matches!(
                        words[i - 1].lex(),
                        Some(Lex::Det | Lex::Prep(_) | Lex::Adjective)
                    );
                if placed {
                    used[i] = true;
                    values
                        .platforms
                        .push(Said::of(Platform::Kubernetes, &words[i]));
                }
            }
            Kind::Lex(lex @ (Lex::Tls | Lex::Ingress)) => {
                used[i] = true;
                let mut on = true;
                if let Some(n) = negated(words, used, i, clause.start) {
                    used[n] = true;
                    on = false;
                    // "with and without TLS": both were said.
                    if n >= clause.start + 2
                        && words[n - 1].is(Lex::And)
                        && words[n - 2].is(Lex::Prep(Prep::With))
                    {
                        used[n - 1] = true;
                        used[n - 2] = true;
                        push_switch(values, *lex, true, &words[n - 2]);
                    }
                }
                // "tls off", "tls disabled", "--tls=false"
                let mut k = i + 1;
                if k < end && matches!(words[k].punct(), Some('=' | ':')) {
                    k += 1;
                }
                if k < end {
                    let said = words[k].lower.as_str();
                    if words[k].is(Lex::Prep(Prep::Off))
                        || matches!(said, "disabled" | "off" | "false" | "no" | "0")
                    {
                        used[i + 1..=k].fill(true);
                        on = false;
                    } else if matches!(said, "true" | "yes" | "on" | "1" | "enabled") {
                        used[i + 1..=k].fill(true);
                    }
                }
                push_switch(values, *lex, on, &words[i]);
            }
            Kind::Domain(host) => {
                used[i] = true;
                if i > clause.start && words[i - 1].is(Lex::DomainWord) {
                    used[i - 1] = true;
                }
                values.domains.push(Said::of(host.clone(), &words[i]));
            }
            Kind::Url { host, https, path } => {
                used[i] = true;
                values.domains.push(Said::of(host.clone(), &words[i]));
                if *https {
                    values.tls.push(Said::of(true, &words[i]));
                }
                if !path.is_empty() {
                    values.url_paths.push(Said::of(path.clone(), &words[i]));
                }
            }
            Kind::Lex(Lex::DomainWord) => {
                // "domain=x", "host: x"
                let mut j = i + 1;
                while j < end && matches!(words[j].punct(), Some('=' | ':')) {
                    j += 1;
                }
                if j < end && matches!(words[j].kind, Kind::Domain(_) | Kind::Url { .. }) {
                    used[i..j].fill(true);
                }
            }
            _ => {}
        }
    }
}

fn push_switch(values: &mut Values, lex: Lex, on: bool, word: &Word) {
    let said = Said::of(on, word);
    if lex == Lex::Tls {
        values.tls.push(said);
    } else {
        values.ingress.push(said);
    }
}

/// Sizes, replica counts, versions, revisions and the words that make an
/// amount relative or vague, in one clause.
pub fn read_amounts(words: &[Word], used: &mut [bool], clause: Range<usize>, values: &mut Values) {
    let end = clause.end;
    let next = |i: usize| (i + 1 < end).then(|| &words[i + 1]);
    for i in clause.clone() {
        if used[i] {
            continue;
        }
        let word = &words[i];
        match &word.kind {
            Kind::Size { number, unit } => {
                used[i] = true;
                // "4GB of RAM", "2 GB memory"
                let mut k = i + 1;
                if k < end && words[k].is(Lex::Prep(Prep::Of)) {
                    k += 1;
                }
                if k < end && words[k].is(Lex::ResourceWord) {
                    used[k] = true;
                    values.resources.push(Said::new((), words, i..k + 1));
                    continue;
                }
                if k < end && words[k].is(Lex::StorageWord) {
                    used[k] = true;
                    if k > i + 1 {
                        used[i + 1] = true;
                    }
                }
                // "storage=80GB", "storage 10 GiB"
                let mut b = i;
                while b > clause.start
                    && (matches!(words[b - 1].punct(), Some('=' | ':'))
                        || words[b - 1].is(Lex::StorageWord))
                {
                    b -= 1;
                    used[b] = true;
                }
                values.storage.push(Said::of(quantity(number, *unit), word));
            }
            Kind::Lex(Lex::Strategy) => {
                used[i] = true;
                values.strategies.push(Said::of((), word));
            }
            Kind::Percent(_) | Kind::Numbers(_) => {
                // Said outside a strategy or autoscaling: not a value of the intent.
            }
            Kind::Lex(Lex::Relative) => {
                used[i] = true;
                values.relative.push(Said::of((), word));
            }
            Kind::Lex(Lex::Vague) => {
                used[i] = true;
                values.vague.push(Said::of((), word));
            }
            // "enough storage for a year"
            Kind::Lex(Lex::Filler)
                if word.lower == "enough"
                    && next(i)
                        .is_some_and(|n| n.is(Lex::StorageWord) || n.is(Lex::ReplicaWord)) =>
            {
                used[i] = true;
                values.vague.push(Said::of((), word));
            }
            Kind::Lex(Lex::Latest) => {
                used[i] = true;
                values.latest = true;
            }
            Kind::Lex(Lex::Previous) => {
                used[i] = true;
                values.previous = true;
            }
            Kind::Lex(Lex::RevisionWord) => {
                if let Some(n) = next(i).filter(|n| n.is_number()) {
                    used[i] = true;
                    used[i + 1] = true;
                    if let Kind::Number(number) = n.kind {
                        values.revisions.push(Said::of(number, n));
                    }
                }
            }
            Kind::Lex(Lex::VersionWord)
                if i > clause.start
                    && matches!(words[i - 1].lower.as_str(), "that" | "this" | "same")
                    && !next(i).is_some_and(is_amount) =>
            {
                used[i - 1..=i].fill(true);
                values.that_version = Some(Said::new((), words, i - 1..i + 1));
            }
            // "to the good version", "the right version": which one?
            Kind::Lex(Lex::VersionWord)
                if !next(i).is_some_and(|n| is_amount(n) || n.is(Lex::Latest))
                    && i > clause.start
                    && matches!(
                        words[i - 1].lower.as_str(),
                        "good"
                            | "right"
                            | "correct"
                            | "proper"
                            | "best"
                            | "safe"
                            | "working"
                            | "fixed"
                            | "patched"
                            | "secure"
                            | "stable"
                            | "usual"
                    )
                    && !(i >= clause.start + 2 && words[i - 2].is(Lex::Negation)) =>
            {
                used[i - 1..=i].fill(true);
                values.vague.push(Said::new((), words, i - 1..i + 1));
            }
            Kind::Lex(Lex::VersionWord) => {
                // "version 11.2.0", "version=1.2", "tag: 7"
                let mut j = i + 1;
                while j < end && matches!(words[j].punct(), Some('=' | ':')) {
                    j += 1;
                }
                if j < end && !used[j] {
                    match &words[j].kind {
                        Kind::Version(_) | Kind::Number(_) => {
                            used[i..=j].fill(true);
                            values
                                .versions
                                .push(Said::of(words[j].text.clone(), &words[j]));
                        }
                        Kind::Lex(Lex::Latest) => {
                            used[i..=j].fill(true);
                            values.latest = true;
                        }
                        Kind::Unknown { .. } if j > i + 1 => {
                            // "version=banana": said as a version, so checked as one.
                            used[i..=j].fill(true);
                            values
                                .versions
                                .push(Said::of(words[j].text.clone(), &words[j]));
                        }
                        _ => {}
                    }
                }
            }
            Kind::Lex(Lex::ReplicaWord) => {
                // "replicas=3", "replicas: 3", "replicas to 3", "replica count of nginx to 6"
                let mut j = i + 1;
                while j < end
                    && (matches!(words[j].punct(), Some('=' | ':'))
                        || matches!(words[j].lex(), Some(Lex::ReleaseNoun | Lex::Prep(Prep::To)))
                        || (words[j].is(Lex::Prep(Prep::Of))
                            && j + 1 < end
                            && words[j + 1].app().is_some()))
                {
                    if words[j].is(Lex::Prep(Prep::Of)) {
                        j += 1; // the application stays for the application reader
                    }
                    j += 1;
                }
                // "replicas 3", "--replicas 2": directly, when the number counts nothing else
                let direct = j == i + 1
                    && !words.get(j + 1).is_some_and(|n| {
                        matches!(n.lex(), Some(Lex::ReplicaWord | Lex::CountNoun))
                    });
                if j < end && !used[j] && words[j].is_number() && (j > i + 1 || direct) {
                    for k in i..=j {
                        if words[k].app().is_none() {
                            used[k] = true;
                        }
                    }
                    if let Kind::Number(number) = words[j].kind {
                        values.replicas.push(Said::of(number, &words[j]));
                        values.counted_to |= words[j - 1].is(Lex::Prep(Prep::To));
                    }
                }
            }
            Kind::Number(number) => {
                let number = *number;
                let following = next(i);
                // "three more replicas", "2 extra pods"
                if let Some(f) = following.filter(|f| f.is(Lex::Relative)) {
                    used[i] = true;
                    used[i + 1] = true;
                    values.relative.push(Said::new((), words, i..i + 2));
                    let _ = f;
                    continue;
                }
                match following.and_then(Word::lex) {
                    Some(Lex::ReplicaWord) => {
                        used[i] = true;
                        used[i + 1] = true;
                        // "5 copies of gitea", "6 instances of nginx"
                        if words[i + 1].lower.starts_with("cop")
                            || (i + 3 < end
                                && words[i + 2].is(Lex::Prep(Prep::Of))
                                && words[i + 3].app().is_some())
                        {
                            values.copies = true;
                            if i + 2 < end && words[i + 2].is(Lex::Prep(Prep::Of)) {
                                used[i + 2] = true;
                            }
                        }
                        values.counted_to |=
                            i > clause.start && words[i - 1].is(Lex::Prep(Prep::To));
                        values.replicas.push(Said::of(number, word));
                        continue;
                    }
                    Some(Lex::Each) => {
                        used[i] = true;
                        used[i + 1] = true;
                        values
                            .pending
                            .push((Said::of(number, word), Pending::AfterTo));
                        continue;
                    }
                    Some(Lex::CountNoun | Lex::OwnerNoun | Lex::Time) => {
                        // "a team of 12 people", "in 5 minutes": not a value of the intent
                        used[i] = true;
                        used[i + 1] = true;
                        continue;
                    }
                    Some(Lex::ResourceWord) => {
                        used[i] = true;
                        used[i + 1] = true;
                        values.resources.push(Said::new((), words, i..i + 2));
                        continue;
                    }
                    _ => {}
                }
                // "by one" after a scale: relative
                if i > clause.start && words[i - 1].is(Lex::Prep(Prep::By)) {
                    used[i] = true;
                    used[i - 1] = true;
                    values.relative.push(Said::new((), words, i - 1..i + 1));
                    continue;
                }
                // "from 16 to 17", "7.4 -> 8": the one it is on now
                if is_current_before_target(words, used, i, &clause)
                    || is_current(words, used, i, &clause)
                {
                    continue;
                }
                // "one is enough", "3 should do": a count of replicas
                if i + 2 < end
                    && matches!(
                        words[i + 1].lower.as_str(),
                        "is" | "should" | "will" | "would"
                    )
                    && matches!(
                        words[i + 2].lower.as_str(),
                        "enough" | "fine" | "plenty" | "ok" | "okay" | "sufficient" | "do" | "be"
                    )
                {
                    used[i..=i + 2].fill(true);
                    values.replicas.push(Said::of(number, word));
                    continue;
                }
                if let Some(pending) = pending_kind(words, used, i, clause.start) {
                    used[i] = true;
                    values.pending.push((Said::of(number, word), pending));
                }
            }
            Kind::Version(_) => {
                // "from 1.24 to 1.25", "currently on 6.0.18": the one it is on now
                if is_current_before_target(words, used, i, &clause)
                    || is_current(words, used, i, &clause)
                {
                    continue;
                }
                used[i] = true;
                if i > clause.start && words[i - 1].is(Lex::Prep(Prep::To)) {
                    used[i - 1] = true;
                }
                values.versions.push(Said::of(word.text.clone(), word));
            }
            // "grafana 10 or 11", "3 or 4": alternatives said
            Kind::Lex(Lex::Or)
                if i > clause.start
                    && is_amount(&words[i - 1])
                    && next(i).is_some_and(is_amount) =>
            {
                values.alternatives.push(Said::new((), words, i - 1..i + 2));
            }
            _ => {}
        }
    }
}

/// "from 16 to 17", "7.4 -> 8": an amount followed by "to" and another is
/// the one it is on now; it is marked used and sets nothing.
fn is_current_before_target(
    words: &[Word],
    used: &mut [bool],
    i: usize,
    clause: &Range<usize>,
) -> bool {
    let target =
        i + 2 < clause.end && words[i + 1].is(Lex::Prep(Prep::To)) && is_amount(&words[i + 2]);
    if target {
        used[i] = true;
        if i > clause.start && words[i - 1].is(Lex::Prep(Prep::From)) {
            used[i - 1] = true;
        }
    }
    target
}

/// "currently on 6.0.18", "still at 10.4": the one it is on now, said as
/// context; marked used, it sets nothing.
fn is_current(words: &[Word], used: &mut [bool], i: usize, clause: &Range<usize>) -> bool {
    let current = i >= clause.start + 2
        && matches!(words[i - 1].lower.as_str(), "on" | "at")
        && matches!(
            words[i - 2].lower.as_str(),
            "currently" | "still" | "now" | "presently" | "we're" | "running" | "is" | "are"
        );
    if current {
        used[i - 2..=i].fill(true);
    }
    current
}

pub(super) fn is_amount(word: &Word) -> bool {
    matches!(
        word.kind,
        Kind::Number(_) | Kind::Version(_) | Kind::Size { .. }
    )
}

/// What a number left after the explicit forms is waiting for.
fn pending_kind(words: &[Word], used: &mut [bool], i: usize, start: usize) -> Option<Pending> {
    if i > start {
        let before = &words[i - 1];
        if before.is(Lex::Prep(Prep::To)) {
            used[i - 1] = true;
            return Some(Pending::AfterTo);
        }
        if let Some(app) = before.app() {
            return Some(Pending::AfterApp(app.to_string()));
        }
        if matches!(before.punct(), Some(':' | '@'))
            && i >= start + 2
            && let Some(app) = words[i - 2].app()
        {
            used[i - 1] = true;
            return Some(Pending::AfterApp(app.to_string()));
        }
    }
    Some(Pending::Bare)
}

/// A size as Kubernetes writes it, or why it is not one.
fn quantity(number: &str, unit: super::lexicon::Unit) -> Result<String, String> {
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{number}' is not a number"))?;
    if value <= 0.0 {
        return Err("a size must be more than zero".into());
    }
    if value * unit.bytes() > super::lexicon::Unit::Pi.bytes() {
        return Err("that is more than 1 PiB".into());
    }
    Ok(format!("{number}{}", unit.suffix()))
}

/// Removal scope: "and its dependencies", "with its data", "cascade".
pub fn read_removal_scope(
    words: &[Word],
    used: &mut [bool],
    clause: Range<usize>,
    values: &mut Values,
) {
    for i in clause.clone() {
        if used[i] {
            continue;
        }
        let lower = words[i].lower.as_str();
        let introduced = i > clause.start
            && matches!(
                words[i - 1].lower.as_str(),
                "its" | "their" | "and" | "with" | "including" | "plus" | "all"
            );
        if lower == "cascade"
            || (introduced && matches!(lower, "dependencies" | "deps" | "dependency"))
        {
            used[i] = true;
            used[i - usize::from(lower != "cascade")] = true;
            values.cascade = true;
        } else if introduced
            && matches!(
                lower,
                "data" | "volumes" | "volume" | "storage" | "pvcs" | "pvc" | "disks" | "disk"
            )
        {
            used[i] = true;
            used[i - 1] = true;
            values.delete_data = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::parse::classify::{Vocabulary, classify};
    use crate::intent::parse::namespace::read_namespace;
    use crate::intent::parse::tokens::tokenize;

    fn read(text: &str) -> Values {
        let mut vocabulary = Vocabulary::default();
        for name in ["grafana", "postgres", "redis"] {
            vocabulary.spellings.insert(name.into(), name.into());
        }
        let words = classify(&tokenize(text), &vocabulary, &[]);
        let mut used = vec![false; words.len()];
        let mut values = Values::default();
        read_namespace(&words, &mut used, 0..words.len(), &mut values);
        read_where(&words, &mut used, 0..words.len(), &mut values);
        read_amounts(&words, &mut used, 0..words.len(), &mut values);
        values
    }

    fn namespaces(text: &str) -> Vec<String> {
        read(text).namespaces.into_iter().map(|s| s.value).collect()
    }

    #[test]
    fn namespace_forms() {
        for (text, expected) in [
            ("install redis in ns redis", "redis"),
            ("deploy grafana ns=obs", "obs"),
            ("install postgres namespace: analytics", "analytics"),
            ("install grafana -n backups", "backups"),
            ("install grafana in the sso namespace with tls", "sso"),
            ("set up redis in data ns", "data"),
            ("delete the grafana release in qa", "qa"),
            ("install grafana in namespace Cache", "Cache"),
        ] {
            assert_eq!(namespaces(text), [expected], "{text}");
        }
        assert_eq!(
            namespaces("install grafana in the 'team metrics' namespace"),
            ["team metrics"]
        );
        assert!(namespaces("install grafana in the new customer portal").is_empty());
    }

    #[test]
    fn sizes_counts_and_versions() {
        let v = read("postgres 15 with 50 gigs of storage and 3 replicas");
        assert_eq!(v.storage[0].value, Ok("50Gi".to_string()));
        assert_eq!(v.replicas[0].value, Number::Integer(3));
        assert_eq!(v.pending[0].1, Pending::AfterApp("postgres".into()));
        let v = read("with -5GB storage and 4GB of RAM");
        assert!(v.storage[0].value.is_err());
        assert_eq!(v.resources.len(), 1);
        let v = read("from 16 to 17");
        assert_eq!(v.pending.len(), 1);
        assert_eq!(v.pending[0].0.value, Number::Integer(17));
        let v = read("with and without tls");
        assert_eq!(
            v.tls.iter().map(|s| s.value).collect::<Vec<_>>(),
            [true, false]
        );
        let v = read("grafana 10 or 11");
        assert_eq!(v.alternatives.len(), 1);
    }
}
