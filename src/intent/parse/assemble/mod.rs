//! Stage 4b of the rule parser: the clauses become one [`Intent`], or a
//! [`ParseFailure`] that says what is wrong, points at the word, or asks.
//!
//! The request clauses (and the value lists that continue them) are read;
//! a sentence with none is read as its question ("is grafana up?" is a
//! status). Then, in order:
//! 1. misspelt verbs and applications are forgiven where a verb or an
//!    application stands (never onto a product that is not in the catalogue);
//! 2. the namespace, then the verbs (a verb after "the" or "we" is not an
//!    order: "the gitea upgrade", "the kuma we set up"), then the applications
//!    (an application that qualifies a noun is not asked for: "the wordpress
//!    team"), then the values ([`super::values`]);
//! 3. the action from the verbs and values ("bump to 4 replicas" scales,
//!    "bump to 11.3" upgrades); two different actions are a question;
//! 4. numbers placed by the action, corrections applied ("no, 5"), pronouns
//!    resolved from the context ("the redis upgrade broke it, roll it back");
//! 5. checks: every value said once (two namespaces, "with and without TLS"
//!    are contradictions), in range, meaningful for the action, and every
//!    value-like word used; relative or vague amounts, "maybe", "or" and
//!    unknown products are questions back.

use std::collections::BTreeMap;
use std::ops::Range;

mod applications;
mod checks;
mod delivery;
mod orders;

use super::classify::{Kind, Word};
use super::clauses::{Clause, Role};
use super::failure::ParseFailure;
use super::lexicon::{Lex, Verb};
use super::values::{self, Values};
use crate::intent::{Action, Intent, Parameters, Source};

/// What the assembler needs from the catalogue.
pub struct CatalogueView<'a> {
    pub names: &'a [String],
    pub keywords: &'a BTreeMap<String, Vec<String>>,
}

/// A verb said as an order, with where it was said.
#[derive(Debug, Clone, Copy)]
struct Order {
    verb: Verb,
    at: usize,
}

/// The whole sentence being read.
struct Reading<'a> {
    words: &'a mut Vec<Word>,
    used: Vec<bool>,
    catalogue: &'a CatalogueView<'a>,
    /// What was said about the request that it does not act on ("for
    /// gitea": deckhand installs authentik, it does not wire it to gitea),
    /// reported with the ignored words.
    noted: Vec<String>,
}

pub fn assemble(
    words: &mut Vec<Word>,
    clauses: &[Clause],
    catalogue: &CatalogueView<'_>,
) -> Result<Intent, ParseFailure> {
    let used = vec![false; words.len()];
    let mut reading = Reading {
        words,
        used,
        catalogue,
        noted: Vec::new(),
    };
    reading.run(clauses)
}

/// The request clauses and the question clauses, each with the
/// continuations that follow it ("status of authentik, keycloak and redis?").
fn groups(clauses: &[Clause]) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
    let (mut requests, mut questions) = (Vec::new(), Vec::new());
    let mut last = Role::Request;
    for clause in clauses {
        match clause.role {
            Role::Request | Role::Question => {
                last = clause.role;
            }
            Role::Continuation => {}
            _ => continue,
        }
        if last == Role::Question {
            questions.push(clause.words.clone());
        } else {
            requests.push(clause.words.clone());
        }
    }
    (requests, questions)
}

/// Where an application is expected, and how sure: after a verb or in a
/// list it surely is (an unknown word there is an unknown application); at
/// the start of a clause without a verb it may be (only a one-letter typo is
/// forgiven there: "traffic" is not "traefik").
#[derive(Debug, Clone, Copy)]
struct Slot {
    at: usize,
    sure: bool,
}
impl Reading<'_> {
    fn run(&mut self, clauses: &[Clause]) -> Result<Intent, ParseFailure> {
        let (mut primary, questions) = groups(clauses);
        self.forgive_verbs(&primary);
        let asking = primary.is_empty() || !self.has_anchor(&primary);
        if asking {
            if questions.is_empty() {
                return Err(self.not_understood(clauses));
            }
            primary = questions.clone();
        }
        let context: Vec<Range<usize>> = clauses
            .iter()
            .filter(|c| {
                matches!(c.role, Role::Statement | Role::Context | Role::Filler)
                    || (!asking && c.role == Role::Question)
            })
            .map(|c| c.words.clone())
            .collect();

        let mut values = Values::default();
        for clause in &primary {
            crate::intent::parse::namespace::read_namespace(
                self.words,
                &mut self.used,
                clause.clone(),
                &mut values,
            );
        }
        let orders = if asking {
            Vec::new()
        } else {
            self.orders(&primary)
        };
        self.forgive_applications(&primary, &orders)?;
        for clause in &primary {
            values::read_where(self.words, &mut self.used, clause.clone(), &mut values);
        }
        let (mut apps, excluded) = self.applications(&primary)?;
        // A question's numbers ("is grafana on 11.3 yet?") are about what
        // runs now: the status report answers them, they set nothing.
        if !asking {
            for clause in &primary {
                super::delivery::read_delivery(
                    self.words,
                    &mut self.used,
                    clause.clone(),
                    &mut values,
                );
            }
            for clause in &primary {
                super::delivery::read_autoscale_bounds(
                    self.words,
                    &mut self.used,
                    clause.clone(),
                    &mut values,
                );
            }
            for clause in &primary {
                values::read_amounts(self.words, &mut self.used, clause.clone(), &mut values);
            }
            self.read_canary_start(&primary, &mut values);
        }

        let action = if asking {
            Action::Status
        } else {
            self.action(&orders, &values, &primary)?
        };
        // "take it to 100%": the percentage said the promotion
        if action == Action::Promote {
            for i in primary.iter().flat_map(|r| r.clone()) {
                if matches!(self.words[i].kind, Kind::Percent(100)) {
                    self.used[i] = true;
                }
            }
        }
        // "canary grafana 12.3.1", "ship keycloak 26.1 as a canary", "rolling
        // update nextcloud": a strategy is how a running application is
        // upgraded; only words that create something new ("install", "set
        // up") make it a contradiction, refused by the strategy check.
        let action = if action == Action::Install
            && !values.delivery.is_empty()
            && !orders.iter().any(|o| self.creates_new(o))
        {
            Action::Upgrade
        } else {
            action
        };
        if action == Action::Remove {
            for clause in &primary {
                values::read_removal_scope(self.words, &mut self.used, clause.clone(), &mut values);
            }
        }
        if matches!(action, Action::Install | Action::Remove) {
            for clause in &primary {
                self.read_bare_to_namespace(clause.clone(), &mut values);
            }
        }

        // Pronouns: "roll it back" after "the redis upgrade broke everything".
        let mut inherited = Values::default();
        // A status is about what its own clause names: "how is it doing?"
        // needs a referent, "I need it for the audit" beside a status of
        // everything does not.
        let scope: Vec<Range<usize>> = if action == Action::Status && !asking {
            primary
                .iter()
                .filter(|r| {
                    orders
                        .iter()
                        .any(|o| r.contains(&o.at) && o.verb == Verb::Status)
                })
                .cloned()
                .collect()
        } else {
            primary.clone()
        };
        if apps.is_empty() {
            // "it", "them", or "that"/"this" ending a clause ("please undo that")
            let pronoun = scope.iter().find_map(|r| {
                r.clone().find(|&i| {
                    !self.used[i]
                        && (self.words[i].is(Lex::Pronoun)
                            || self.words[i].lower == "it's"
                            || (matches!(self.words[i].lower.as_str(), "that" | "this")
                                && (i + 1 == r.end || self.words[i + 1].is_punct())))
                })
            });
            if let Some(p) = pronoun {
                apps = self.referent(clauses, &excluded, p, &mut inherited)?;
                self.used[p] = true;
            } else if action == Action::Rollback
                && let Ok(found) = self.referent(
                    clauses,
                    &excluded,
                    r_start(&primary).min(self.words.len().saturating_sub(1)),
                    &mut inherited,
                )
            {
                // "uptime-kuma upgrade went sideways, roll back pls": the one
                // application the context talks about.
                apps = found;
            }
        }
        self.check_apps(&apps, action, &scope, &values)?;

        self.check_cancelled(clauses)?;
        let mut action = action;
        let mut parameters = Parameters::default();
        let mut intent_values = self.settle(action, &apps, &values, &mut parameters)?;
        if let Some(said) = &values.that_version
            && parameters.version.is_none()
        {
            parameters.version = Some(self.version_from_context(&context, said)?);
        }
        self.apply_corrections(
            clauses,
            &mut action,
            &mut apps,
            &mut intent_values,
            &mut parameters,
        )?;
        // A correction may have changed the action ("actually install"):
        // only a status goes without an application.
        if apps.is_empty() && action != Action::Status {
            return Err(ParseFailure::new(format!(
                "which application should I {action}? Name one from the catalogue (deckhand catalogue list)"
            ))
            .suggest(self.catalogue.names.iter().take(5).cloned().collect()));
        }
        self.check_fit(action, &apps, &parameters)?;
        self.check_protected(clauses, &apps)?;
        self.check_hedges(clauses, action, &apps)?;
        self.check_leftovers(&primary, action, asking)?;
        if intent_values.namespace.is_none() && inherited.namespaces.is_empty() {
            // "prometheus in the observability namespace keeps running out of
            // memory. Please scale prometheus": the namespace said of it.
            self.namespace_said_of(&context, &apps, &mut inherited);
        }

        let namespace = match intent_values.namespace.take() {
            Some(ns) => Some(ns),
            None => inherited.namespaces.first().map(|s| s.value.clone()),
        };
        let namespace = namespace
            .map(|text| self.namespace(&text, &values, &inherited))
            .transpose()?;
        let platform = intent_values
            .platform
            .or_else(|| inherited.platforms.first().map(|s| s.value));

        let mut ignored = std::mem::take(&mut self.noted);
        for range in &context {
            let text = self.text_of(range.clone());
            if !text.is_empty() && !self.only_filler(range.clone()) {
                ignored.push(text);
            }
        }
        for range in &primary {
            for i in range.clone() {
                let unplaced = matches!(
                    self.words[i].kind,
                    Kind::Unknown { .. } | Kind::Percent(_) | Kind::Numbers(_)
                ) || (asking
                    && super::clauses::is_value(&self.words[i])
                    && !self.words[i].is_punct());
                if !self.used[i] && unplaced {
                    // "upgrade postgresql 16-17", "remove redis 2-3": numbers
                    // that set nothing are never passed over in a change.
                    if let Kind::Numbers(_) = self.words[i].kind
                        && action != Action::Status
                    {
                        let word = &self.words[i];
                        return Err(ParseFailure::understood(format!(
                            "what is '{}' for? deckhand reads numbers written like that only as autoscaling bounds (\"autoscale grafana 2-10\") or canary steps (\"as a canary 10/50/100\")",
                            word.text
                        ))
                        .at([word.start, word.end]));
                    }
                    ignored.push(self.words[i].text.clone());
                }
            }
        }
        // "is keycloak reachable over https?": a status reports how it runs,
        // TLS and domain included; what the question names sets nothing.
        if action == Action::Status {
            for said in values.tls.iter().chain(&values.ingress) {
                ignored.push(said.text.clone());
            }
            for said in &values.domains {
                ignored.push(said.text.clone());
            }
            parameters.tls = None;
            parameters.ingress = None;
            parameters.domain = None;
        }
        let intent = Intent {
            action,
            applications: apps,
            platform,
            namespace,
            parameters,
            source: Source::Rules,
            model: None,
            strategy: intent_values.strategy,
            ignored,
        };
        // The same checks as for the language model and the API (the word-level
        // ones above name the word; this one guards what they may not cover).
        intent.check_delivery().map_err(ParseFailure::understood)?;
        if intent.action == Action::Upgrade && intent.parameters.version.is_none() && !values.latest
        {
            self.ask_version_from_context(&context, &intent)?;
        }
        Ok(intent)
    }

    /// "the dashboards team wants 12.1 — can you canary it?": an upgrade with
    /// no version of its own while the context names one (not the one it is
    /// on now: "still on 11.6") may mean that one or the latest; ask.
    fn ask_version_from_context(
        &self,
        context: &[Range<usize>],
        intent: &Intent,
    ) -> Result<(), ParseFailure> {
        let current = |i: usize| {
            i > 0
                && matches!(
                    self.words[i - 1].lower.as_str(),
                    "on" | "at" | "from" | "running" | "runs" | "currently"
                )
        };
        let mentioned: Vec<&Word> = context
            .iter()
            .flat_map(|r| r.clone())
            .filter(|&i| {
                matches!(
                    self.words[i].kind,
                    Kind::Version(_) | Kind::Number(super::classify::Number::Fraction(_))
                ) && !current(i)
            })
            .map(|i| &self.words[i])
            .collect();
        let Some(first) = mentioned.first() else {
            return Ok(());
        };
        let mut choices = Vec::new();
        for word in &mentioned {
            if let Ok(version) = crate::intent::Version::parse(&word.text) {
                let mut with = intent.clone();
                with.parameters.version = Some(version);
                let command = with.command();
                if !choices.contains(&command) {
                    choices.push(command);
                }
            }
        }
        let latest = intent.command().replacen(
            &intent.applications.join(" and "),
            &format!(
                "{} to the latest version",
                intent.applications.join(" and ")
            ),
            1,
        );
        choices.push(latest);
        Err(ParseFailure::understood(format!(
            "the upgrade says no version, and the message mentions '{}': which one should it go to?",
            first.text
        ))
        .at([first.start, first.end])
        .ask("Which version should it go to?", choices))
    }

    /// An order that makes something new ("install", "set up", "provision"),
    /// unlike "deploy", "ship" or "roll out", which also say an upgrade.
    fn creates_new(&self, order: &Order) -> bool {
        const NEW: &[&str] = &[
            "install",
            "installing",
            "setup",
            "set up",
            "provision",
            "provisioning",
            "create",
            "add",
            "bootstrap",
            "instantiate",
            "spin up",
            "stand up",
            "fire up",
            "boot up",
            "start up",
        ];
        order.verb == Verb::Install && NEW.contains(&self.words[order.at].lower.as_str())
    }

    fn text_of(&self, range: Range<usize>) -> String {
        self.words[range]
            .iter()
            .filter(|w| !w.is_punct())
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn only_filler(&self, range: Range<usize>) -> bool {
        self.words[range].iter().all(|w| {
            w.is_punct()
                || matches!(
                    w.lex(),
                    Some(
                        Lex::Filler
                            | Lex::Time
                            | Lex::And
                            | Lex::Also
                            | Lex::But
                            | Lex::Then
                            | Lex::Correction
                    )
                )
        })
    }

    /// The words that say the share in words `first..=last` is where a
    /// canary begins ("10% first", "5% at first", "start at 5%", "starting
    /// at 5%", "begin with 5%"), if any.
    fn canary_start_cues(&self, first: usize, last: usize) -> Option<Vec<usize>> {
        let lower = |i: usize| self.words.get(i).map_or("", |w| w.lower.as_str());
        let start_word =
            |i: usize| matches!(lower(i), "start" | "starting" | "begin" | "beginning");
        if lower(last + 1) == "first" {
            Some(vec![last + 1])
        } else if lower(last + 1) == "at" && lower(last + 2) == "first" {
            Some(vec![last + 1, last + 2])
        } else if first >= 1 && start_word(first - 1) {
            Some(vec![first - 1])
        } else if first >= 2 && matches!(lower(first - 1), "at" | "with") && start_word(first - 2) {
            Some(vec![first - 2, first - 1])
        } else {
            None
        }
    }

    /// "canary grafana 13, 10% first", "Start at 5%": the one share of a
    /// canary said as where it begins, with the stages or elsewhere in the
    /// request ([`Values::canary_starts`]; the words saying so are used).
    /// Any other percentage is left to be reported.
    fn read_canary_start(&mut self, primary: &[Range<usize>], values: &mut Values) {
        use crate::intent::parse::lexicon::StrategyName;
        if !values
            .delivery
            .iter()
            .any(|s| s.value == StrategyName::Canary)
        {
            return;
        }
        let start = match &values.canary_steps {
            Some(said) if said.value.len() == 1 => {
                let span: Vec<usize> = (0..self.words.len())
                    .filter(|&i| {
                        self.words[i].start >= said.at[0] && self.words[i].end <= said.at[1]
                    })
                    .collect();
                let (Some(&first), Some(&last)) = (span.first(), span.last()) else {
                    return;
                };
                self.canary_start_cues(first, last).map(|cues| (None, cues))
            }
            Some(_) => None,
            None => {
                let free: Vec<(usize, Vec<usize>)> = primary
                    .iter()
                    .flat_map(|r| r.clone())
                    .filter(|&i| {
                        !self.used[i] && matches!(self.words[i].kind, Kind::Percent(1..=99))
                    })
                    .filter_map(|i| Some((i, self.canary_start_cues(i, i)?)))
                    .collect();
                match free.as_slice() {
                    [(i, cues)] => Some((Some(*i), cues.clone())),
                    _ => None,
                }
            }
        };
        let Some((share, cues)) = start else { return };
        if let Some(i) = share
            && let Kind::Percent(p) = self.words[i].kind
        {
            self.used[i] = true;
            values.canary_steps = Some(values::Said::of(vec![p], &self.words[i]));
        }
        for cue in cues {
            self.used[cue] = true;
        }
        values.canary_starts = true;
    }

    /// A request clause set with something to act on.
    fn has_anchor(&self, primary: &[Range<usize>]) -> bool {
        primary.iter().any(|range| {
            range.clone().any(|i| {
                let w = &self.words[i];
                self.would_order(range, i).is_some()
                    || matches!(
                        w.kind,
                        Kind::App { .. }
                            | Kind::Product { .. }
                            | Kind::Keyword(_)
                            | Kind::Unknown {
                                typo_of: Some(_),
                                ..
                            }
                            | Kind::Lex(Lex::Pronoun | Lex::Everything | Lex::Something)
                    )
                    || (matches!(w.kind, Kind::Unknown { .. }) && i == r_start(primary))
            })
        })
    }

    fn not_understood(&self, clauses: &[Clause]) -> ParseFailure {
        // Name the first word nobody could place.
        let unknown = clauses
            .iter()
            .flat_map(|c| c.words.clone())
            .find(|&i| matches!(self.words[i].kind, Kind::Unknown { .. }));
        let mut failure = ParseFailure::new(
            "I could not tell what to do: say install, upgrade, scale, remove, roll back or status, and which application",
        )
        .suggest(super::failure::examples());
        if let Some(i) = unknown {
            let w = &self.words[i];
            failure.error = format!("I did not understand '{}': {}", w.text, failure.error);
            failure = failure.at([w.start, w.end]);
        }
        failure
    }
}

fn r_start(primary: &[Range<usize>]) -> usize {
    primary.first().map_or(usize::MAX, |r| r.start)
}

/// The verb to put in a choice for an action.
fn verb_word(action: Action) -> &'static str {
    match action {
        Action::Rollback => "roll back",
        Action::Status => "status of",
        other => other.as_str(),
    }
}
