//! The delivery side of a request: strategies ("as a canary in steps of 10
//! 50 100", "rolling, two at a time", "with blue-green", "recreate") and
//! autoscaling ("autoscale grafana between 2 and 10 at 70% cpu"), read
//! before the other amounts so their numbers are theirs.

use std::ops::Range;

use super::classify::{Kind, Number, Word};
use super::lexicon::{Lex, Prep, StrategyName};
use super::values::{AutoscaleSaid, Said, Values};

/// Delivery strategies and autoscaling in one clause, read before the
/// other amounts so their numbers are theirs: "as a canary in steps of 10 50
/// 100", "rolling, two at a time", "max unavailable 1", "autoscale between 2
/// and 10 at 70% cpu", "from 2 to 10", "2-10", "min 2 max 10", "cpu 70%".
pub fn read_delivery(words: &[Word], used: &mut [bool], clause: Range<usize>, values: &mut Values) {
    let end = clause.end;
    let number = |k: usize| (k < end).then(|| &words[k]).filter(|w| w.is_number());
    for i in clause.clone() {
        if used[i] {
            continue;
        }
        // "let traefik scale itself between 2 and 6": what scales itself is autoscaled.
        if matches!(words[i].lower.as_str(), "itself" | "themselves")
            && i > clause.start
            && words[i - 1].is(Lex::Verb(super::lexicon::Verb::Scale))
        {
            used[i] = true;
            values
                .autoscale
                .get_or_insert_with(|| Said::of(AutoscaleSaid::default(), &words[i]));
            continue;
        }
        match words[i].lex() {
            Some(Lex::StrategyName(name)) => {
                used[i] = true;
                values.delivery.push(Said::of(name, &words[i]));
                // "canary in steps of 10 25 50 100", "canary 10/50/100"
                if name == StrategyName::Canary {
                    let mut k = i + 1;
                    while k < end
                        && (matches!(words[k].lex(), Some(Lex::Prep(_) | Lex::Det))
                            || matches!(
                                words[k].lower.as_str(),
                                "steps" | "stages" | "step" | "stage"
                            ))
                    {
                        k += 1;
                    }
                    // "canary it, 10% first": a percentage after the pronoun
                    let mut j = k;
                    while j < end && (words[j].is(Lex::Pronoun) || words[j].punct() == Some(',')) {
                        j += 1;
                    }
                    if j > k
                        && j < end
                        && matches!(words[j].kind, Kind::Percent(_) | Kind::Numbers(_))
                    {
                        k = j;
                    }
                    let mut steps = Vec::new();
                    let first = k;
                    while k < end {
                        match &words[k].kind {
                            Kind::Numbers(list) => steps.extend(list),
                            Kind::Percent(p) => steps.push(*p),
                            Kind::Number(Number::Integer(n)) if (0..=100).contains(n) => {
                                steps.push(*n as u32)
                            }
                            Kind::Lex(Lex::And | Lex::Then) => {}
                            _ => break,
                        }
                        k += 1;
                    }
                    if !steps.is_empty() {
                        used[i + 1..k].fill(true);
                        values.canary_steps = Some(Said::new(steps, words, first..k));
                    }
                }
            }
            // "two at a time", "one pod at a time": a rolling batch
            Some(Lex::AtATime) => {
                let counted = i > clause.start
                    && matches!(words[i - 1].lex(), Some(Lex::ReplicaWord | Lex::CountNoun));
                let n = if counted { i.wrapping_sub(2) } else { i - 1 };
                if n >= clause.start && n < i && words[n].is_number() && !used[n] {
                    used[n..=i].fill(true);
                    values.rolling_batch = Some(said_number(words, n));
                    if values.delivery.is_empty() {
                        values
                            .delivery
                            .push(Said::new(StrategyName::Rolling, words, n..i + 1));
                    }
                }
            }
            // "max 1 unavailable", "max 2 surge"
            Some(Lex::Bound("max"))
                if number(i + 1).is_some()
                    && i + 2 < end
                    && matches!(words[i + 2].lower.as_str(), "unavailable" | "surge") =>
            {
                used[i..=i + 2].fill(true);
                let said = Some(said_number(words, i + 1));
                if words[i + 2].lower == "surge" {
                    values.rolling_batch = said;
                } else {
                    values.rolling_unavailable = said;
                }
            }
            Some(Lex::RollingSetting(which)) => {
                let mut k = i + 1;
                if k < end && matches!(words[k].punct(), Some('=' | ':')) {
                    k += 1;
                }
                if number(k).is_some() {
                    used[i..=k].fill(true);
                    let said = Some(said_number(words, k));
                    if which == "surge" {
                        values.rolling_batch = said;
                    } else {
                        values.rolling_unavailable = said;
                    }
                }
            }
            // "turn off autoscaling", "disable the HPA", "no more autoscaling",
            // "remove the autoscaler", "turn autoscaling off"
            Some(Lex::Autoscale) if turned_off(words, clause.clone(), i) => {
                used[i] = true;
                values.autoscale_off = Some(Said::of((), &words[i]));
            }
            Some(Lex::Autoscale) => {
                used[i] = true;
                values
                    .autoscale
                    .get_or_insert_with(|| Said::of(AutoscaleSaid::default(), &words[i]));
            }
            _ => {}
        }
    }
}

/// The bounds and target of an autoscaling said anywhere in the request
/// ("autoscale grafana, min 2 max 8, cpu 60%"): "between 2 and 10", "from 2
/// to 10", "2-10", "min 2", "max 10", "at 70% cpu".
pub fn read_autoscale_bounds(
    words: &[Word],
    used: &mut [bool],
    clause: Range<usize>,
    values: &mut Values,
) {
    let Some(autoscale) = values.autoscale.as_mut() else {
        return;
    };
    let said = &mut autoscale.value;
    let end = clause.end;
    let number = |k: usize| (k < end).then(|| &words[k]).filter(|w| w.is_number());
    for k in clause.clone() {
        if used[k] {
            continue;
        }
        match &words[k].kind {
            // "2-10"
            Kind::Numbers(list) if list.len() == 2 && said.min.is_none() => {
                used[k] = true;
                said.min = Some(Said::of(Number::Integer(i64::from(list[0])), &words[k]));
                said.max = Some(Said::of(Number::Integer(i64::from(list[1])), &words[k]));
            }
            // "cpu 75", "--cpu 80": a CPU target without the sign
            Kind::Number(Number::Integer(p))
                if k > clause.start
                    && matches!(words[k - 1].lower.as_str(), "cpu" | "--cpu")
                    && (1..=100).contains(p) =>
            {
                used[k - 1..=k].fill(true);
                said.cpu_percent = Some(Said::new(*p as u32, words, k - 1..k + 1));
            }
            // "cpu 70 percent", "cpu sixty percent"
            Kind::Number(Number::Integer(p))
                if k + 1 < end
                    && matches!(words[k + 1].lower.as_str(), "percent" | "pct")
                    && (0..=i64::from(u32::MAX)).contains(p) =>
            {
                used[k..=k + 1].fill(true);
                for j in [k.wrapping_sub(2), k.wrapping_sub(1), k + 2] {
                    if j < end && j >= clause.start && words[j].is(Lex::ResourceWord) {
                        used[j] = true;
                    }
                }
                said.cpu_percent = Some(Said::new(*p as u32, words, k..k + 2));
            }
            // "at 70% cpu", "cpu 70%", "cpu: 70%"
            Kind::Percent(p) => {
                used[k] = true;
                for j in [k.wrapping_sub(2), k.wrapping_sub(1), k + 1] {
                    if j < end
                        && j >= clause.start
                        && (words[j].is(Lex::ResourceWord)
                            || matches!(words[j].punct(), Some(':' | '='))
                            || matches!(words[j].lower.as_str(), "at" | "target" | "targeting"))
                    {
                        used[j] = true;
                    }
                }
                said.cpu_percent = Some(Said::of(*p, &words[k]));
            }
            // "min 2", "max: 10"
            Kind::Lex(Lex::Bound(bound)) => {
                let mut n = k + 1;
                if n < end && matches!(words[n].punct(), Some(':' | '=')) {
                    n += 1;
                }
                if number(n).is_some() {
                    used[k..=n].fill(true);
                    if *bound == "min" {
                        said.min = Some(said_number(words, n));
                    } else {
                        said.max = Some(said_number(words, n));
                    }
                }
            }
            // "between 2 and 10", "from 2 to 10", "2 to 10"
            Kind::Number(_)
                if said.min.is_none()
                    && k + 2 < end
                    && (words[k + 1].is(Lex::And) || words[k + 1].is(Lex::Prep(Prep::To)))
                    && words[k + 2].is_number() =>
            {
                used[k..=k + 2].fill(true);
                if k > clause.start && matches!(words[k - 1].lower.as_str(), "between" | "from") {
                    used[k - 1] = true;
                }
                said.min = Some(said_number(words, k));
                said.max = Some(said_number(words, k + 2));
            }
            Kind::Lex(Lex::ReplicaWord) => used[k] = true,
            _ => {}
        }
    }
}

/// Whether the autoscaling word at `i` is said to stop: a negation or a
/// verb of stopping or removing just before it ("turn off", "disable the",
/// "no more", "stop", "remove the"), or "off" right after it.
fn turned_off(words: &[Word], clause: Range<usize>, i: usize) -> bool {
    // Within the words that lead to it: "remove redis and autoscale
    // grafana" does not turn anything off.
    let before = (clause.start..i)
        .rev()
        .take(3)
        .take_while(|&k| {
            let w = &words[k];
            !w.is(Lex::And) && !w.is_punct()
        })
        .any(|k| {
            let w = &words[k];
            w.is(Lex::Negation)
                || matches!(
                    w.lex(),
                    Some(Lex::Verb(
                        super::lexicon::Verb::Stop
                            | super::lexicon::Verb::Remove
                            | super::lexicon::Verb::Kill
                    ))
                )
                || matches!(
                    w.lower.as_str(),
                    "off" | "turn off" | "switch off" | "no more"
                )
        });
    let after = words
        .get(i + 1)
        .is_some_and(|w| i + 1 < clause.end && w.lower == "off");
    before || after
}

/// Word `k`, a number, with where it was said.
fn said_number(words: &[Word], k: usize) -> Said<Number> {
    match words[k].kind {
        Kind::Number(n) => Said::of(n, &words[k]),
        _ => Said::of(Number::TooLarge, &words[k]),
    }
}
