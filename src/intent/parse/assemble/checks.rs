//! The values of a request checked and placed: one value per parameter
//! (two are a contradiction), numbers placed by the action, ranges,
//! parameters that mean nothing for the action refused, corrections ("no,
//! 5") applied, protected applications and hedges ("maybe X too") asked
//! about, and every value-like word used.

use std::ops::Range;

use super::{Reading, verb_word};
use crate::intent::parse::classify::{Kind, Number, Word};
use crate::intent::parse::clauses::{Clause, Role};
use crate::intent::parse::failure::ParseFailure;
use crate::intent::parse::lexicon::Lex;
use crate::intent::parse::values::{self, Pending, Said, Values};
use crate::intent::{Action, Domain, Namespace, Parameters, Platform, Replicas, Storage, Version};

impl Reading<'_> {
    /// The values, checked and placed into the intent's parameters.
    pub(super) fn settle(
        &mut self,
        action: Action,
        apps: &[String],
        values: &Values,
        parameters: &mut Parameters,
    ) -> Result<Settled, ParseFailure> {
        let mut settled = Settled::default();
        if let Some(said) = values.strategies.first() {
            return Err(ParseFailure::understood(format!(
                "'{}' is not a delivery strategy deckhand has: an upgrade can be a canary, blue-green, rolling or recreate",
                said.text
            ))
            .at(said.at)
            .suggest(apps.iter().map(|a| format!("upgrade {a}")).collect()));
        }
        settled.strategy = self.strategy(action, values)?;
        parameters.autoscale = super::delivery::autoscale(action, values)?;
        if let Some(said) = &values.autoscale_off {
            if action != Action::Scale {
                return Err(ParseFailure::understood(format!(
                    "turning autoscaling off ('{}') is a scale: say \"turn off autoscaling for grafana and keep 3 replicas\"",
                    said.text
                ))
                .at(said.at));
            }
            parameters.autoscale_off = Some(true);
        }
        if let Some(said) = values.resources.first() {
            return Err(ParseFailure::understood(format!(
                "memory and CPU ('{}') come from the blueprint; deckhand does not set them from a sentence",
                said.text
            ))
            .at(said.at));
        }
        if let Some(said) = values.url_paths.first() {
            return Err(ParseFailure::understood(format!(
                "a path in the address ('{}') is not supported: an application gets a host name of its own",
                said.text
            ))
            .at(said.at));
        }
        if let Some(said) = values.alternatives.first() {
            return Err(
                ParseFailure::understood(format!("'{}': which one?", said.text))
                    .at(said.at)
                    .ask("Which value should it be? Say just one.", Vec::new()),
            );
        }
        if let Some(said) = values.relative.first() {
            return Err(self.relative_failure(said, apps, action));
        }
        if let Some(said) = values.vague.first() {
            let what = if self.near_storage(said) {
                "storage"
            } else {
                "replicas"
            };
            return Err(ParseFailure::understood(format!(
                "'{}' is not an amount: say how many {what}",
                said.text
            ))
            .at(said.at)
            .suggest(vec![match what {
                "storage" => format!(
                    "{} {} with 20Gi storage",
                    verb_word(action),
                    apps.join(" and ")
                ),
                _ => format!("scale {} to 3 replicas", apps.join(" and ")),
            }]));
        }

        if let Some(said) = &values.nameless_namespace
            && values.namespaces.is_empty()
            && action != Action::Status
        {
            return Err(ParseFailure::understood(format!(
                "which namespace? '{}' is not followed by a name (e.g. \"in namespace auth\")",
                said.text
            ))
            .at(said.at));
        }
        settled.namespace = one(&values.namespaces, "namespace")?.map(|s| s.value.clone());
        settled.platform = one(&values.platforms, "platform")?.map(|s| s.value);
        parameters.tls = one(&values.tls, "TLS")?.map(|s| s.value);
        parameters.ingress = one(&values.ingress, "ingress")?.map(|s| s.value);
        if let Some(said) = one(&values.domains, "domain")? {
            parameters.domain =
                Some(Domain::parse(&said.value).map_err(|e| value_error(e, said.at))?);
        }
        if let Some(said) = one(&values.storage, "size")? {
            let quantity = said.value.as_ref().map_err(|why| {
                ParseFailure::understood(format!("invalid storage size '{}': {why}", said.text))
                    .at(said.at)
            })?;
            parameters.storage =
                Some(Storage::parse(quantity).map_err(|e| value_error(e, said.at))?);
        }
        if let Some(said) = one(&values.revisions, "revision")? {
            parameters.revision = Some(match said.value {
                Number::Integer(n) if n >= 1 && n <= i64::from(u32::MAX) => n as u32,
                _ => {
                    return Err(ParseFailure::understood(format!(
                        "invalid revision '{}': revisions count from 1",
                        said.text
                    ))
                    .at(said.at));
                }
            });
        }

        // Numbers placed by the action.
        let mut counts: Vec<Said<Number>> = values.replicas.clone();
        let mut versions: Vec<(Said<String>, Option<String>)> = values
            .versions
            .iter()
            .map(|v| (v.clone(), self.app_before(v.at[0])))
            .collect();
        for (said, pending) in &values.pending {
            match (action, pending) {
                (Action::Scale, _) => counts.push(said.clone()),
                (Action::Upgrade | Action::Install, Pending::AfterApp(app)) => versions.push((
                    Said {
                        value: said.text.clone(),
                        text: said.text.clone(),
                        at: said.at,
                    },
                    Some(app.clone()),
                )),
                // "roll back grafana to 11.2": a version, which check_fit asks about
                (Action::Upgrade | Action::Rollback, Pending::AfterTo) => versions.push((
                    Said {
                        value: said.text.clone(),
                        text: said.text.clone(),
                        at: said.at,
                    },
                    None,
                )),
                (Action::Status, _) => {}
                _ => {
                    return Err(ParseFailure::understood(format!(
                        "what is '{}' for? A {action} takes no number there",
                        said.text
                    ))
                    .at(said.at));
                }
            }
        }
        // A version said to a scale is not a count.
        if action == Action::Scale
            && let Some((said, _)) = versions.first()
        {
            let fraction = said.value.parse::<f64>().is_ok();
            return Err(ParseFailure::understood(if fraction {
                format!(
                    "invalid replica count '{}': a replica count is a whole number",
                    said.text
                )
            } else {
                format!(
                    "'{}' is a version; a scale takes a replica count",
                    said.text
                )
            })
            .at(said.at));
        }
        if let Some(said) = one(&counts, "replica count")? {
            parameters.replicas = Some(replicas(said, action)?);
        }
        // The same version said twice ("needs 2025.2.1 … upgrade to 2025.2.1") is one.
        let mut seen = Vec::new();
        versions.retain(|(v, _)| {
            let new = !seen.contains(&v.value);
            seen.push(v.value.clone());
            new
        });
        if !versions.is_empty() {
            let distinct_apps: Vec<&String> =
                versions.iter().filter_map(|(_, a)| a.as_ref()).collect();
            if versions.len() > 1 {
                let (a, b) = (&versions[0].0, &versions[1].0);
                let mut failure = ParseFailure::understood(format!(
                    "two versions were said ('{}' and '{}'): a request takes one version",
                    a.text, b.text
                ))
                .at(b.at);
                if distinct_apps.len() > 1 && distinct_apps[0] != distinct_apps[1] {
                    failure = failure.ask(
                        "One application at a time: which first?",
                        versions
                            .iter()
                            .filter_map(|(v, app)| {
                                app.as_ref()
                                    .map(|app| format!("{} {app} {}", verb_word(action), v.text))
                            })
                            .collect(),
                    );
                }
                return Err(failure);
            }
            let said = &versions[0].0;
            let text = said
                .value
                .strip_prefix(['v', 'V'])
                .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
                .unwrap_or(&said.value);
            parameters.version = Some(Version::parse(text).map_err(|e| value_error(e, said.at))?);
        }
        if values.cascade {
            parameters.cascade = Some(true);
        }
        if values.delete_data {
            parameters.delete_data = Some(true);
        }
        Ok(settled)
    }

    /// The application said just before a character offset, if any.
    pub(super) fn app_before(&self, at: usize) -> Option<String> {
        let i = self.words.iter().position(|w| w.start == at)?;
        let mut k = i;
        while k > 0 {
            k -= 1;
            if let Some(app) = self.words[k].app() {
                return Some(app.to_string());
            }
            if !matches!(self.words[k].punct(), Some(':' | '@'))
                && !self.words[k].is(Lex::VersionWord)
            {
                return None;
            }
        }
        None
    }

    pub(super) fn near_storage(&self, said: &Said<()>) -> bool {
        let i = self.words.iter().position(|w| w.start == said.at[0]);
        i.is_some_and(|i| {
            self.words[i..self.words.len().min(i + 4)]
                .iter()
                .any(|w| w.is(Lex::StorageWord))
        })
    }

    pub(super) fn relative_failure(
        &self,
        said: &Said<()>,
        apps: &[String],
        action: Action,
    ) -> ParseFailure {
        let app = apps.join(" and ");
        let _ = action;
        ParseFailure::understood(format!(
            "'{}' is relative to a count I would have to guess: say how many replicas {app} should run in total",
            said.text
        ))
        .at(said.at)
        .ask(
            format!("How many replicas should {app} run in total?"),
            vec![format!("status of {app}")],
        )
    }

    /// Parameters that mean nothing for the action are refused, not dropped.
    pub(super) fn check_fit(
        &self,
        action: Action,
        apps: &[String],
        parameters: &Parameters,
    ) -> Result<(), ParseFailure> {
        let app = apps.join(" and ");
        let refuse = |what: &str| {
            Err(ParseFailure::understood(format!(
                "a {action} takes no {what}; say it as its own request"
            )))
        };
        match action {
            Action::Scale => {
                if parameters.replicas.is_some() && parameters.autoscale.is_some() {
                    return Err(ParseFailure::understood(
                        "a replica count and autoscaling were both said: autoscaling sets the count between its minimum and maximum; say one",
                    ));
                }
                if parameters.replicas.is_none()
                    && parameters.autoscale.is_none()
                    && parameters.autoscale_off.is_none()
                {
                    let target = if app.is_empty() {
                        "it".to_string()
                    } else {
                        app.clone()
                    };
                    let example = apps.first().map_or("grafana", String::as_str);
                    return Err(ParseFailure::understood(format!(
                        "scale needs a count: how many replicas of {target} should run? (e.g. \"scale {example} to 3 replicas\")"
                    ))
                    .ask(
                        format!("How many replicas of {target} should run?"),
                        vec![format!("scale {target} to 2 replicas"), format!("scale {target} to 3 replicas")],
                    ));
                }
                if parameters.version.is_some() {
                    return refuse("version");
                }
                if parameters.storage.is_some() {
                    return refuse("storage size");
                }
            }
            Action::Remove | Action::Status => {
                if parameters.version.is_some() {
                    return refuse("version");
                }
                if parameters.replicas.is_some() {
                    return refuse("replica count");
                }
                if parameters.storage.is_some() {
                    return refuse("storage size");
                }
            }
            Action::Rollback => {
                if let Some(v) = &parameters.version {
                    return Err(ParseFailure::understood(format!(
                        "a rollback goes back to the previous revision, not to a version ('{v}')"
                    ))
                    .ask(
                        "Go back one revision, or change to that version?",
                        vec![
                            format!("roll back {app}"),
                            format!("upgrade {app} to version {v}"),
                        ],
                    ));
                }
                if parameters.replicas.is_some() {
                    return refuse("replica count");
                }
            }
            Action::Install | Action::Upgrade => {}
            Action::Promote | Action::Abort | Action::Pause => {
                if parameters != &Parameters::default() {
                    return refuse("value");
                }
            }
        }
        if parameters.revision.is_some() && action != Action::Rollback {
            return refuse("revision");
        }
        Ok(())
    }

    /// "no, 5", "actually make it 17", "sorry, I meant ns observability",
    /// "no sorry, I meant prometheus", "I mean roll it back": what a
    /// correction says replaces what was said before it; a correction that
    /// adds ("actually we'd also like it without TLS") must agree with it.
    pub(super) fn apply_corrections(
        &mut self,
        clauses: &[Clause],
        action: &mut Action,
        apps: &mut Vec<String>,
        settled: &mut Settled,
        parameters: &mut Parameters,
    ) -> Result<(), ParseFailure> {
        for clause in clauses.iter().filter(|c| c.role == Role::Correction) {
            let range = clause.words.clone();
            // "actually not sure we need tls": a doubt, not a correction
            if let Some(i) = range.clone().find(|&i| self.words[i].is(Lex::Hedge)) {
                let word = &self.words[i];
                return Err(ParseFailure::understood(format!(
                    "'{}' is not a decision: say what it should be",
                    self.text_of(range.clone())
                ))
                .at([word.start, word.end])
                .ask("Which should it be? Say it for sure.", Vec::new()));
            }
            let adds = range.clone().any(|i| {
                self.words[i].is(Lex::Also)
                    && matches!(self.words[i].lower.as_str(), "also" | "too")
            });
            let mut said = Values::default();
            crate::intent::parse::namespace::read_namespace(
                self.words,
                &mut self.used,
                range.clone(),
                &mut said,
            );
            let orders = self.orders(std::slice::from_ref(&range));
            values::read_where(self.words, &mut self.used, range.clone(), &mut said);
            let (named, _) = self.applications(std::slice::from_ref(&range))?;
            values::read_amounts(self.words, &mut self.used, range.clone(), &mut said);
            for i in range.clone() {
                if matches!(
                    self.words[i].lex(),
                    Some(Lex::Correction | Lex::Negation | Lex::Filler | Lex::Pronoun | Lex::Also)
                ) {
                    self.used[i] = true;
                }
            }
            // A new verb replaces the request: "I mean roll it back".
            if !orders.is_empty() {
                let corrected = self.action(&orders, &said, std::slice::from_ref(&range))?;
                if corrected != *action {
                    *action = corrected;
                    *parameters = Parameters::default();
                }
            }
            if !named.is_empty() {
                *apps = named;
            }
            // A bare number replaces the number said before it.
            let bare: Vec<_> = said
                .pending
                .iter()
                .filter(|(_, p)| !matches!(p, Pending::AfterApp(_)))
                .map(|(n, _)| n.clone())
                .collect();
            said.pending
                .retain(|(_, p)| matches!(p, Pending::AfterApp(_)));
            for number in bare {
                if parameters.replicas.is_some() || *action == Action::Scale {
                    said.replicas.push(number);
                } else {
                    said.versions.push(number.map(|_| String::new()));
                }
            }
            for v in &mut said.versions {
                if v.value.is_empty() {
                    v.value = v.text.clone();
                }
            }
            let mut corrected = Parameters::default();
            let where_said = self.settle(*action, apps, &said, &mut corrected)?;
            let at = [self.words[range.start].start, self.words[range.end - 1].end];
            merge_value(
                &mut settled.namespace,
                where_said.namespace,
                "namespace",
                adds,
                at,
            )?;
            merge_value(
                &mut settled.platform,
                where_said.platform,
                "platform",
                adds,
                at,
            )?;
            merge_value(&mut parameters.tls, corrected.tls, "TLS", adds, at)?;
            merge_value(
                &mut parameters.ingress,
                corrected.ingress,
                "ingress",
                adds,
                at,
            )?;
            merge_value(&mut parameters.domain, corrected.domain, "domain", adds, at)?;
            merge_value(&mut parameters.storage, corrected.storage, "size", adds, at)?;
            merge_value(
                &mut parameters.replicas,
                corrected.replicas,
                "replica count",
                adds,
                at,
            )?;
            merge_value(
                &mut parameters.version,
                corrected.version,
                "version",
                adds,
                at,
            )?;
            if said.latest && !adds {
                parameters.version = None;
            }
        }
        Ok(())
    }

    /// "that version": the one version said in the context ("the vendor
    /// confirmed that gitea 1.25.2 fixes it. Please upgrade to that version").
    pub(super) fn version_from_context(
        &self,
        context: &[Range<usize>],
        said: &Said<()>,
    ) -> Result<Version, ParseFailure> {
        let mentioned: Vec<&Word> = context
            .iter()
            .flat_map(|r| r.clone())
            .map(|i| &self.words[i])
            .filter(|w| matches!(w.kind, Kind::Version(_)))
            .collect();
        match mentioned.as_slice() {
            [one] => Version::parse(&one.text).map_err(|e| value_error(e, [one.start, one.end])),
            _ => Err(ParseFailure::understood(format!(
                "which version is '{}'? Say it, e.g. \"upgrade grafana to 12.2.0\"",
                said.text
            ))
            .at(said.at)),
        }
    }

    /// The namespace said of one of `apps` in the context, when only one was.
    pub(super) fn namespace_said_of(
        &mut self,
        context: &[Range<usize>],
        apps: &[String],
        inherited: &mut Values,
    ) {
        let mut found: Vec<Said<String>> = Vec::new();
        for range in context {
            let about = range.clone().any(|i| {
                self.words[i]
                    .app()
                    .is_some_and(|a| apps.iter().any(|x| x == a))
            });
            if !about {
                continue;
            }
            let mut used = vec![false; self.words.len()];
            let mut said = Values::default();
            crate::intent::parse::namespace::read_namespace(
                self.words,
                &mut used,
                range.clone(),
                &mut said,
            );
            for ns in said.namespaces {
                if !found.iter().any(|f| f.value == ns.value) {
                    found.push(ns);
                }
            }
        }
        if found.len() == 1 {
            inherited.namespaces.extend(found);
        }
    }

    /// A request taken back ("install redis, never mind") is not a request.
    pub(super) fn check_cancelled(&self, clauses: &[Clause]) -> Result<(), ParseFailure> {
        if let Some(clause) = clauses.iter().find(|c| c.role == Role::Cancel) {
            let range = clause.words.clone();
            return Err(ParseFailure::understood(format!(
                "'{}' takes the request back: nothing to do",
                self.text_of(range.clone())
            ))
            .at([self.words[range.start].start, self.words[range.end - 1].end]));
        }
        Ok(())
    }

    /// An application both asked for and protected ("remove X but keep X").
    pub(super) fn check_protected(
        &mut self,
        clauses: &[Clause],
        apps: &[String],
    ) -> Result<(), ParseFailure> {
        for clause in clauses.iter().filter(|c| c.role == Role::Protect) {
            for i in clause.words.clone() {
                if let Some(app) = self.words[i].app()
                    && apps.iter().any(|a| a == app)
                {
                    let word = &self.words[i];
                    return Err(ParseFailure::understood(format!(
                        "{app} is both asked for and to be left alone ('{}')",
                        self.text_of(clause.words.clone())
                    ))
                    .at([word.start, word.end]));
                }
            }
        }
        Ok(())
    }

    /// "install grafana, maybe prometheus too": ask.
    pub(super) fn check_hedges(
        &mut self,
        clauses: &[Clause],
        action: Action,
        apps: &[String],
    ) -> Result<(), ParseFailure> {
        if let Some(clause) = clauses.iter().find(|c| c.role == Role::Hedge) {
            let maybe: Vec<String> = clause
                .words
                .clone()
                .filter_map(|i| self.words[i].app().map(str::to_string))
                .collect();
            let range = clause.words.clone();
            let text = self.text_of(range.clone());
            let at = [self.words[range.start].start, self.words[range.end - 1].end];
            let _ = (action, apps);
            let mut failure =
                ParseFailure::understood(format!("'{text}' is not a decision")).at(at);
            // Without the doubtful part, and with it said for sure ("install
            // grafana, maybe prometheus too" → "install grafana, prometheus").
            let without = self.rewritten(&[(range.start, range.end, "")]);
            let sure: Vec<(usize, usize, &str)> = range
                .clone()
                .filter(|&i| {
                    matches!(self.words[i].lex(), Some(Lex::Hedge))
                        || matches!(self.words[i].lower.as_str(), "too" | "also" | "as well")
                })
                .map(|i| (i, i + 1, ""))
                .collect();
            let choices = if maybe.is_empty() {
                vec![without]
            } else {
                vec![without, self.rewritten(&sure)]
            };
            failure = failure.ask("Should I include it? Pick one.", choices);
            return Err(failure);
        }
        Ok(())
    }

    /// Every value-like word of the request was used.
    pub(super) fn check_leftovers(
        &self,
        primary: &[Range<usize>],
        action: Action,
        asking: bool,
    ) -> Result<(), ParseFailure> {
        for i in primary.iter().flat_map(|r| r.clone()) {
            if self.used[i] {
                continue;
            }
            let word = &self.words[i];
            if word.is_value_token() && !asking {
                return Err(ParseFailure::understood(format!(
                    "I did not understand what '{}' is for in this {action}",
                    word.text
                ))
                .at([word.start, word.end]));
            }
            if let Kind::Product { name, similar } = word.kind {
                return Err(self.product_failure(i, name, similar));
            }
        }
        Ok(())
    }

    /// The namespace, validated; an invalid one quotes where it was said.
    pub(super) fn namespace(
        &self,
        text: &str,
        values: &Values,
        inherited: &Values,
    ) -> Result<Namespace, ParseFailure> {
        Namespace::parse(text).map_err(|e| {
            let at = values
                .namespaces
                .iter()
                .chain(&inherited.namespaces)
                .find(|s| s.value == text)
                .map(|s| s.at);
            let failure = ParseFailure::from(e);
            match at {
                Some(at) => failure.at(at),
                None => failure,
            }
        })
    }
}

/// Where-values settled before corrections.
#[derive(Debug, Default)]
pub(super) struct Settled {
    pub(super) namespace: Option<String>,
    pub(super) platform: Option<Platform>,
    pub(super) strategy: Option<crate::intent::Strategy>,
}

/// The single value said for a parameter; two different ones are a contradiction.
pub(super) fn one<'s, T: PartialEq>(
    said: &'s [Said<T>],
    what: &str,
) -> Result<Option<&'s Said<T>>, ParseFailure> {
    let Some(first) = said.first() else {
        return Ok(None);
    };
    if let Some(other) = said.iter().find(|s| s.value != first.value) {
        return Err(ParseFailure::understood(format!(
            "two different {what}s were said ('{}' and '{}'): which one?",
            first.text, other.text
        ))
        .at(other.at)
        .ask(
            format!("Which {what} should it be? Say just one."),
            Vec::new(),
        ));
    }
    Ok(Some(first))
}

pub(super) fn value_error(err: crate::intent::ValueError, at: [usize; 2]) -> ParseFailure {
    ParseFailure::from(err).at(at)
}

/// A replica count for the action, or why it cannot be one.
pub(super) fn replicas(said: &Said<Number>, action: Action) -> Result<Replicas, ParseFailure> {
    let n = match said.value {
        Number::Integer(n) => n,
        Number::Fraction(_) => {
            return Err(ParseFailure::understood(format!(
                "invalid replica count '{}': a replica count is a whole number",
                said.text
            ))
            .at(said.at));
        }
        Number::TooLarge => {
            return Err(ParseFailure::understood(format!(
                "invalid replica count '{}': it must be between 0 and {}",
                said.text,
                Replicas::MAX
            ))
            .at(said.at));
        }
    };
    let result = if action == Action::Scale {
        Replicas::for_scale(n)
    } else {
        Replicas::for_install(n)
    };
    result.map_err(|e| {
        let mut failure = value_error(e, said.at);
        if said.text.parse::<i64>().is_err() {
            failure.error = format!("{} ('{}')", failure.error, said.text);
        }
        failure
    })
}

/// A corrected value replaces the one said before; an added one must agree with it.
fn merge_value<T: PartialEq + std::fmt::Debug>(
    old: &mut Option<T>,
    new: Option<T>,
    what: &str,
    adds: bool,
    at: [usize; 2],
) -> Result<(), ParseFailure> {
    let Some(new) = new else {
        return Ok(());
    };
    if adds && old.as_ref().is_some_and(|o| *o != new) {
        return Err(ParseFailure::understood(format!(
            "two different {what}s were asked for: a request takes one"
        ))
        .at(at)
        .ask(
            format!("Which {what} should it be? Say just one."),
            Vec::new(),
        ));
    }
    *old = Some(new);
    Ok(())
}
