//! The verbs of a request: which words are orders (not nouns, not relative
//! clauses), phrasal verbs said apart ("roll it back"), and the one action
//! they and the values say ("bump to 4 replicas" scales, "bump to 11.3"
//! upgrades); two different actions, and verbs deckhand cannot do or must
//! ask about (stop, replace, kill the pods, move), are questions back.

use std::ops::Range;

use super::{Order, Reading};
use crate::intent::Action;
use crate::intent::parse::classify::{Kind, Number, Word};
use crate::intent::parse::clauses::{is_finite, noun_reading};
use crate::intent::parse::failure::ParseFailure;
use crate::intent::parse::lexicon::{self, Lex, Prep, StrategyName, Verb};
use crate::intent::parse::values::{Pending, Said, Values};

impl Reading<'_> {
    /// The verb word `i` orders, if it is said as an order: not a noun ("the
    /// gitea upgrade"), not in a relative clause ("the kuma we set up"), not
    /// after a finite verb ("came back up"), not a need of something else
    /// ("we need to know"). Phrasal verbs said apart ("roll it back") count
    /// at their first word.
    pub(super) fn would_order(&self, range: &Range<usize>, i: usize) -> Option<Verb> {
        let word = &self.words[i];
        match word.lex()? {
            // "keep 4 pods of authentik running"
            Lex::Protect
                if word.lower == "keep" && self.words.get(i + 1).is_some_and(Word::is_number) =>
            {
                Some(Verb::Scale)
            }
            Lex::Verb(verb) => {
                // "uptime-kuma status": its status
                if verb == Verb::Status
                    && word.lower == "status"
                    && i > range.start
                    && self.words[i - 1].app().is_some()
                {
                    return Some(verb);
                }
                if verb != Verb::Need {
                    // "an overview of", "the status of": still a status request
                    // "do the rollback of n8n", "make the upgrade": a light verb before it
                    let light = i >= 2
                        && self.words[i - 1].is(Lex::Det)
                        && matches!(
                            self.words[i - 2].lower.as_str(),
                            "do" | "make" | "perform" | "execute" | "run"
                        );
                    if noun_reading(self.words, i) && verb != Verb::Status && !light {
                        return None;
                    }
                    if i > range.start {
                        let before = &self.words[i - 1];
                        if before.is(Lex::Subject) || (is_finite(before) && !before.is(Lex::Modal))
                        {
                            return None;
                        }
                    }
                } else if !need_leads_to_a_verb(self.words, i) {
                    return None;
                }
                Some(verb)
            }
            Lex::Head(head) => {
                if noun_reading(self.words, i) {
                    return None;
                }
                self.particle_of_head(range, i, head)
                    .map(|(_, verb)| verb)
                    .or(match head {
                        "put" => Some(Verb::Place),
                        "wipe" | "rip" | "bin" => Some(Verb::Remove),
                        "take" | "switch" => Some(Verb::Move),
                        // "get traefik onto 3.3.2", "roll gitea to 1.23.7": to a version
                        "get" | "roll"
                            if self.words[i + 1..range.end].windows(2).any(|w| {
                                w[0].is(Lex::Prep(Prep::To))
                                    && matches!(w[1].kind, Kind::Version(_) | Kind::Number(_))
                            }) =>
                        {
                            Some(Verb::Move)
                        }
                        _ => None,
                    })
            }
            _ => None,
        }
    }

    pub(super) fn particle_of_head(
        &self,
        range: &Range<usize>,
        i: usize,
        head: &str,
    ) -> Option<(usize, Verb)> {
        (i + 1..range.end.min(i + 5)).find_map(|k| {
            let verb = phrasal(head, particle_of(&self.words[k]))?;
            Some((k, verb))
        })
    }

    /// A first word of a request clause that is close to one verb ("instll").
    pub(super) fn forgive_verbs(&mut self, primary: &[Range<usize>]) {
        for range in primary {
            let Some(first) = range.clone().find(|&i| {
                !matches!(
                    self.words[i].lex(),
                    Some(Lex::Filler | Lex::And | Lex::Also)
                )
            }) else {
                continue;
            };
            if let Kind::Unknown { .. } = self.words[first].kind {
                let word = &self.words[first].lower;
                if let Some(verb) = lexicon::fuzzy_verb(word) {
                    self.words[first].kind = Kind::Lex(Lex::Verb(verb));
                } else if lexicon::is_fuzzy_autoscale(word) {
                    self.words[first].kind = Kind::Lex(Lex::Autoscale);
                }
            }
        }
    }

    /// The verbs said as orders, with phrasal verbs said apart put together.
    pub(super) fn orders(&mut self, primary: &[Range<usize>]) -> Vec<Order> {
        let mut orders = Vec::new();
        for range in primary {
            for i in range.clone() {
                if self.used[i] {
                    continue;
                }
                let Some(verb) = self.would_order(range, i) else {
                    if matches!(self.words[i].lex(), Some(Lex::Head(_))) {
                        self.used[i] = true; // "get", "turn" alone carry nothing
                    }
                    continue;
                };
                self.used[i] = true;
                if let Some(Lex::Head(head)) = self.words[i].lex()
                    && let Some((k, _)) = self.particle_of_head(range, i, head)
                {
                    self.used[k] = true;
                }
                orders.push(Order { verb, at: i });
            }
        }
        if !orders.is_empty() && orders.iter().all(|o| o.verb == Verb::Need) {
            // "legal want nextcloud removed from ns docs", "Priya wants grafana
            // bumped to 12.0.1": what is wanted done is the participle's verb.
            for range in primary {
                for i in range.clone() {
                    let after_app = (range.start..i).any(|k| self.words[k].app().is_some());
                    if !self.used[i]
                        && after_app
                        && matches!(self.words[i].kind, Kind::Unknown { .. })
                        && let Some(verb) = lexicon::participle(&self.words[i].lower)
                    {
                        self.used[i] = true;
                        orders.push(Order { verb, at: i });
                    }
                }
            }
        }
        if orders.is_empty() {
            // "pg rollback -n billing", "nginx 1.29 upgrade web ns": with no
            // other verb, a verb said after the application is the order.
            for range in primary {
                for i in range.clone() {
                    let Some(Lex::Verb(verb)) = self.words[i].lex() else {
                        continue;
                    };
                    let after_app = (range.start..i)
                        .rev()
                        .take(2)
                        .any(|k| self.words[k].app().is_some())
                        && (range.start..i).all(|k| !self.words[k].is(Lex::Det));
                    if !self.used[i] && after_app && !matches!(verb, Verb::Need | Verb::Place) {
                        self.used[i] = true;
                        orders.push(Order { verb, at: i });
                    }
                }
            }
        }
        orders
    }

    /// The action the orders and values say.
    pub(super) fn action(
        &self,
        orders: &[Order],
        values: &Values,
        primary: &[Range<usize>],
    ) -> Result<Action, ParseFailure> {
        let counted = !values.replicas.is_empty();
        // "to 4 replicas" changes a count; "with 2 replicas" says one for an install.
        let counted_to = values.counted_to;
        let versioned = !values.versions.is_empty()
            || values.latest
            || values
                .pending
                .iter()
                .any(|(_, p)| matches!(p, Pending::AfterTo));
        if let Some(i) = primary
            .iter()
            .flat_map(|r| r.clone())
            .find(|&i| self.words[i].is(Lex::Logs))
        {
            return Err(self.unsupported(i, "show logs"));
        }
        // "make the upgrade", "set up": a light verb beside another order says nothing.
        let light = |o: &Order| {
            matches!(o.verb, Verb::Set | Verb::Move)
                && orders.iter().any(|other| {
                    !matches!(
                        other.verb,
                        Verb::Set | Verb::Move | Verb::Need | Verb::Place
                    )
                })
        };
        // "autoscale grafana between 2 and 10", "set up autoscaling for n8n":
        // replicas left to an autoscaler are a scale.
        if values.autoscale.is_some()
            && orders.iter().all(|o| {
                matches!(
                    o.verb,
                    Verb::Install | Verb::Need | Verb::Place | Verb::Set | Verb::Scale | Verb::Run
                )
            })
        {
            return Ok(Action::Scale);
        }
        // "turn off autoscaling for grafana", "no more HPA on n8n, just run
        // 4": the count is fixed again, a scale.
        if values.autoscale_off.is_some()
            && orders.iter().all(|o| {
                matches!(
                    o.verb,
                    Verb::Stop
                        | Verb::Remove
                        | Verb::Kill
                        | Verb::Need
                        | Verb::Place
                        | Verb::Set
                        | Verb::Scale
                        | Verb::Run
                )
            })
        {
            return Ok(Action::Scale);
        }
        let mut actions: Vec<(Action, usize)> = Vec::new();
        for order in orders.iter().filter(|o| !light(o)) {
            let at = order.at;
            let action = match order.verb {
                Verb::Install
                    if self.words[at].lower == "add"
                        && primary
                            .iter()
                            .flat_map(|r| r.clone())
                            .any(|i| self.words[i].is(Lex::ReplicaWord)) =>
                {
                    // "add a replica to keycloak": more of what runs
                    let said = Said {
                        value: (),
                        text: self.words[at].text.clone(),
                        at: [self.words[at].start, self.words[at].end],
                    };
                    return Err(self.relative_failure(
                        &said,
                        &self
                            .words
                            .iter()
                            .filter_map(Word::app)
                            .map(str::to_string)
                            .collect::<Vec<_>>(),
                        Action::Scale,
                    ));
                }
                Verb::Install => Action::Install,
                Verb::BringUp => {
                    if counted_to {
                        Action::Scale
                    } else if versioned {
                        Action::Upgrade
                    } else {
                        Action::Install
                    }
                }
                Verb::Need | Verb::Place => continue,
                Verb::Run => {
                    if values.copies {
                        Action::Scale
                    } else {
                        Action::Install
                    }
                }
                // "drop gitea to 2 replicas"
                Verb::Remove if counted_to && self.words[at].lower == "drop" => Action::Scale,
                // "retire the old grafana": the blue of a blue-green, or the application?
                Verb::Remove if self.retires_the_old(at) => return Err(self.ask_retire(at)),
                Verb::Remove => Action::Remove,
                // "kill the grafana canary", "stop the nextcloud rolling update"
                // "pause the grafana canary": wait after this stage for a promote
                Verb::Stop
                    if matches!(self.words[at].lower.as_str(), "pause" | "suspend" | "halt")
                        && self.about_rollout(primary, values) =>
                {
                    Action::Pause
                }
                Verb::Kill | Verb::Stop if self.about_rollout(primary, values) => Action::Abort,
                Verb::Kill => {
                    let pods = primary.iter().flat_map(|r| r.clone()).any(|i| {
                        self.words[i].is(Lex::PodNoun)
                            || matches!(self.words[i].lower.as_str(), "pods" | "pod")
                    });
                    if pods {
                        return Err(self.ask_kill(at));
                    }
                    Action::Remove
                }
                Verb::Upgrade => {
                    if values.previous && !versioned {
                        Action::Rollback
                    } else if counted_to && !versioned {
                        Action::Scale
                    } else {
                        Action::Upgrade
                    }
                }
                Verb::Move
                    if !counted
                        && !versioned
                        && (!values.namespaces.is_empty() || !values.platforms.is_empty()) =>
                {
                    return Err(self.ask_move(at, values));
                }
                // "take grafana down": scale to zero or remove?
                Verb::Move
                    if !counted
                        && !versioned
                        && self.words[at..].iter().take(5).any(|w| w.lower == "down") =>
                {
                    return Err(self.ask_stop(at));
                }
                // "go to 100% on the keycloak canary", "take it to 100%"
                Verb::Bump | Verb::Set | Verb::Move
                    if self.all_the_way(primary)
                        && (self.about_rollout(primary, values)
                            || self.words.iter().any(|w| {
                                matches!(w.lex(), Some(Lex::StrategyName(StrategyName::Canary)))
                            })) =>
                {
                    Action::Promote
                }
                Verb::Bump | Verb::Set | Verb::Move => {
                    // "bump traefik to 3": version 3, or 3 replicas?
                    let whole_number_only = values.versions.is_empty()
                        && !values.latest
                        && values.pending.iter().any(|(n, p)| {
                            matches!(p, Pending::AfterTo) && matches!(n.value, Number::Integer(_))
                        });
                    if counted {
                        Action::Scale
                    } else if whole_number_only && !values.previous {
                        return Err(self.ask_version_or_count(at, values));
                    } else if values.previous {
                        Action::Rollback
                    } else if versioned || order.verb == Verb::Bump {
                        Action::Upgrade
                    } else {
                        return Err(self.unclear_verb(at));
                    }
                }
                Verb::Scale => Action::Scale,
                Verb::Rollback => Action::Rollback,
                Verb::Downgrade => {
                    if versioned {
                        Action::Upgrade
                    } else {
                        return Err(self.unclear_verb(at));
                    }
                }
                Verb::Status => Action::Status,
                // "take grafana down to zero replicas"
                Verb::Stop if counted_to => Action::Scale,
                Verb::Stop => return Err(self.ask_stop(at)),
                // "restore the previous minio release"
                Verb::Unsupported("restore") if values.previous => Action::Rollback,
                Verb::Replace => return Err(self.ask_replace(at)),
                Verb::Unsupported(what) => return Err(self.unsupported(at, what)),
                Verb::Promote => Action::Promote,
                Verb::Abort => Action::Abort,
            };
            if !actions.iter().any(|(a, _)| *a == action) {
                actions.push((action, at));
            }
        }
        match actions.as_slice() {
            [] => {
                // "flip grafana back to blue": an unknown word before the
                // application, where a verb stands, is not read as an install.
                if let Some(i) = self.unknown_verb(primary, orders.is_empty()) {
                    return Err(self.unknown_verb_failure(i));
                }
                // Verbless, or only "need"/"put": an install, or a scale for "grafana to 4 replicas".
                let to_count = primary.iter().flat_map(|r| r.clone()).any(|i| {
                    self.words[i].is(Lex::Prep(Prep::To))
                        && self.words.get(i + 1).is_some_and(Word::is_number)
                        && self
                            .words
                            .get(i + 2)
                            .is_some_and(|w| w.is(Lex::ReplicaWord))
                });
                Ok(if to_count && counted {
                    Action::Scale
                } else {
                    Action::Install
                })
            }
            [(action, _)] => Ok(*action),
            several => {
                let said: Vec<String> = several
                    .iter()
                    .map(|(_, at)| format!("'{}'", self.words[*at].text))
                    .collect();
                let (first, second) = (several[0].1, several[1].1);
                Err(ParseFailure::understood(format!(
                    "that asks for {} at once: deckhand does one kind of change per request",
                    said.join(" and ")
                ))
                .at([self.words[second].start, self.words[second].end])
                .ask(
                    "Which one first? Send the other as its own request.",
                    vec![self.clause_text_from(first), self.clause_text_from(second)],
                ))
            }
        }
    }

    /// The words from an order to the end of its clause, as a command.
    pub(super) fn clause_text_from(&self, at: usize) -> String {
        let mut parts = Vec::new();
        for w in &self.words[at..] {
            if w.is_punct()
                || (parts.len() > 1
                    && matches!(w.lex(), Some(Lex::And | Lex::But | Lex::Subordinate)))
            {
                break;
            }
            if matches!(w.lex(), Some(Lex::And)) && parts.len() == 1 {
                // "install and remove grafana": the shared application comes later
                continue;
            }
            parts.push(w.text.clone());
        }
        // "install and remove grafana": add the application said after the verbs.
        if parts.len() == 1
            && let Some(app) = self.words[at..].iter().find_map(|w| w.app())
        {
            parts.push(app.to_string());
        }
        parts.join(" ")
    }

    pub(super) fn ask_move(&self, at: usize, values: &Values) -> ParseFailure {
        let app = self
            .words
            .iter()
            .find_map(Word::app)
            .unwrap_or("the application")
            .to_string();
        let (target, choice) = match (values.namespaces.first(), values.platforms.first()) {
            (Some(ns), _) => (
                format!("namespace {}", ns.value),
                format!("install {app} in namespace {}", ns.value),
            ),
            (None, Some(p)) => (
                match p.value {
                    crate::intent::Platform::Kubernetes => "Kubernetes".to_string(),
                    crate::intent::Platform::Compose => "Docker Compose".to_string(),
                },
                format!("install {app} on {}", p.value),
            ),
            (None, None) => (String::new(), format!("status of {app}")),
        };
        ParseFailure::understood(format!(
            "deckhand cannot move a release to {target}: it can install {app} there, and remove the old one once the new one runs"
        ))
        .at([self.words[at].start, self.words[at].end])
        .ask(
            format!("Install a new {app} in {target}? Its data does not move with it."),
            vec![
                if values.namespaces.is_empty() {
                    choice
                } else {
                    self.rewritten(&[(at, at + 1, "install")])
                },
                format!("status of {app}"),
            ],
        )
    }

    /// "bump traefik to 3": a version or a replica count, both choices kept
    /// in the sentence's words.
    fn ask_version_or_count(&self, at: usize, values: &Values) -> ParseFailure {
        let number = values
            .pending
            .iter()
            .find(|(_, p)| matches!(p, Pending::AfterTo))
            .map(|(n, _)| n.clone());
        let Some(number) = number else {
            return self.unclear_verb(at);
        };
        let n_at = self
            .words
            .iter()
            .position(|w| w.start == number.at[0])
            .unwrap_or(at);
        ParseFailure::understood(format!(
            "'{}' {} could be version {} or {} replicas",
            self.words[at].text, number.text, number.text, number.text
        ))
        .at(number.at)
        .ask(
            "A version or a replica count?",
            vec![
                self.rewritten(&[
                    (at, at + 1, "upgrade"),
                    (n_at, n_at + 1, &format!("version {}", number.text)),
                ]),
                self.rewritten(&[
                    (at, at + 1, "scale"),
                    (n_at, n_at + 1, &format!("{} replicas", number.text)),
                ]),
            ],
        )
    }

    pub(super) fn ask_kill(&self, at: usize) -> ParseFailure {
        let apps: Vec<&str> = self.words.iter().filter_map(Word::app).collect();
        let app = apps.first().copied().unwrap_or("the application");
        ParseFailure::understood(format!(
            "'kill the pods' could mean restarting them, which deckhand does not do, or removing {app}"
        ))
        .at([self.words[at].start, self.words[at].end])
        .ask(
            format!("Do you want {app} removed, or its status?"),
            vec![
                self.rewritten(&[(at, at + 1, "remove")]),
                self.rewritten(&[(at, at + 1, "status of")]),
            ],
        )
    }

    pub(super) fn ask_stop(&self, at: usize) -> ParseFailure {
        let app = self
            .words
            .iter()
            .find_map(Word::app)
            .unwrap_or("the application")
            .to_string();
        ParseFailure::understood(format!(
            "'{}' could mean scaling {app} to zero (its data kept) or removing it",
            self.words[at].text
        ))
        .at([self.words[at].start, self.words[at].end])
        .ask(
            format!("Should {app} be scaled to zero or removed?"),
            vec![
                format!("{} to 0", self.rewritten(&[(at, at + 1, "scale")])),
                self.rewritten(&[(at, at + 1, "remove")]),
            ],
        )
    }

    /// "retire the old grafana", "retire blue": said of a blue-green upgrade
    /// (promote it: the old version goes) as much as of the application.
    fn retires_the_old(&self, at: usize) -> bool {
        self.words[at].lower == "retire"
            && self.words[at + 1..]
                .iter()
                .take(3)
                .any(|w| matches!(w.lower.as_str(), "old" | "blue" | "previous"))
    }

    fn ask_retire(&self, at: usize) -> ParseFailure {
        let app = self
            .words
            .iter()
            .find_map(Word::app)
            .unwrap_or("the application")
            .to_string();
        let old = (at + 1..self.words.len())
            .take(3)
            .find(|&k| matches!(self.words[k].lower.as_str(), "old" | "blue" | "previous"));
        let promote = match old {
            Some(k) => self.rewritten(&[(at, at + 1, "promote"), (k, k + 1, "")]),
            None => self.rewritten(&[(at, at + 1, "promote")]),
        };
        ParseFailure::understood(format!(
            "'{}' could mean finishing {app}'s blue-green upgrade (the old version goes) or removing {app}",
            self.words[at].text
        ))
        .at([self.words[at].start, self.words[at].end])
        .ask(
            format!("Should {app}'s upgrade be promoted, or {app} removed?"),
            vec![promote, self.rewritten(&[(at, at + 1, "remove")])],
        )
    }

    pub(super) fn ask_replace(&self, at: usize) -> ParseFailure {
        let apps: Vec<&str> = self.words.iter().filter_map(Word::app).collect();
        let mut failure = ParseFailure::understood(format!(
            "'{}' is two changes: install the new one, then remove the old one; deckhand does one per request",
            self.words[at].text
        ))
        .at([self.words[at].start, self.words[at].end]);
        if let [old, new, ..] = apps.as_slice() {
            failure = failure.ask(
                format!("Install {new} first? Remove {old} once it runs."),
                vec![format!("install {new}"), format!("remove {old}")],
            );
        }
        failure
    }

    pub(super) fn unsupported(&self, at: usize, what: &str) -> ParseFailure {
        let app = self.words.iter().find_map(Word::app);
        let mut failure = ParseFailure::understood(format!(
            "deckhand cannot {what} ('{}'): it installs, upgrades, scales, removes, rolls back and reports status",
            self.words[at].text
        ))
        .at([self.words[at].start, self.words[at].end]);
        if let Some(app) = app {
            failure = failure.suggest(vec![format!("status of {app}"), format!("roll back {app}")]);
        }
        failure
    }

    /// The first word of a primary clause when it stands where a verb would
    /// and is a word deckhand does not know (not a typo of an application):
    /// right before the application ("flip grafana back", "stick with
    /// grafana"), or anywhere before it when nothing else in the request is a
    /// verb, not even "need" ("flip traffic to the new authentik").
    fn unknown_verb(&self, primary: &[Range<usize>], no_order: bool) -> Option<usize> {
        let skipped = |i: usize| self.words[i].is(Lex::Det) || self.words[i].is(Lex::Filler);
        primary.iter().find_map(|range| {
            let first = range.clone().find(|&i| !skipped(i))?;
            // "stick with grafana 12": a preposition may stand between.
            let object = range
                .clone()
                .skip_while(|&i| i <= first)
                .find(|&i| !skipped(i) && !matches!(self.words[i].kind, Kind::Lex(Lex::Prep(_))));
            let app_after = range
                .clone()
                .skip_while(|&i| i <= first)
                .any(|i| self.words[i].app().is_some());
            // "turn mongodb sideways": half a phrasal verb is no verb either
            let unknown = matches!(self.words[first].kind, Kind::Unknown { typo_of: None, .. })
                || (matches!(self.words[first].lex(), Some(Lex::Head(h)) if !matches!(h, "get" | "put" | "kick"))
                    && !self
                        .words
                        .get(first + 1)
                        .is_some_and(|w| matches!(w.lex(), Some(Lex::Particle(_)))));
            ((object.is_some_and(|i| self.words[i].app().is_some()) || (no_order && app_after))
                && unknown)
            .then_some(first)
        })
    }

    /// The request is about an upgrade under way: a strategy is named ("the
    /// grafana canary", "the blue/green") or an upgrade or rollout as a noun
    /// ("the prometheus rollout", "the gitea upgrade").
    fn about_rollout(&self, primary: &[Range<usize>], values: &Values) -> bool {
        !values.delivery.is_empty()
            || primary.iter().flat_map(|r| r.clone()).any(|i| {
                matches!(
                    self.words[i].lower.as_str(),
                    "rollout" | "rollouts" | "upgrade" | "update"
                ) && noun_reading(self.words, i)
            })
    }

    /// "100%": all of the traffic.
    fn all_the_way(&self, primary: &[Range<usize>]) -> bool {
        primary
            .iter()
            .flat_map(|r| r.clone())
            .any(|i| matches!(self.words[i].kind, Kind::Percent(100)))
    }

    fn unknown_verb_failure(&self, at: usize) -> ParseFailure {
        let app = self.words.iter().find_map(Word::app).unwrap_or("grafana");
        ParseFailure::understood(format!(
            "'{}' is not a verb deckhand knows: it installs, upgrades, scales, removes, rolls back and reports status",
            self.words[at].text
        ))
        .at([self.words[at].start, self.words[at].end])
        .suggest(vec![
            format!("roll back {app}"),
            format!("upgrade {app}"),
            format!("status of {app}"),
        ])
    }

    pub(super) fn unclear_verb(&self, at: usize) -> ParseFailure {
        let app = self.words.iter().find_map(Word::app).unwrap_or("grafana");
        ParseFailure::understood(format!(
            "'{}' needs a version or a replica count to say what should change",
            self.words[at].text
        ))
        .at([self.words[at].start, self.words[at].end])
        .suggest(vec![
            format!("upgrade {app} to VERSION"),
            format!("scale {app} to 3 replicas"),
        ])
    }
}

/// "we need to know", "we've decided to standardise": a need or decision
/// "to" something that is not one of deckhand's verbs is not an order.
pub(crate) fn need_leads_to_a_verb(words: &[Word], i: usize) -> bool {
    let verb_at = |k: usize| {
        words
            .get(k)
            .is_some_and(|w| matches!(w.lex(), Some(Lex::Verb(_) | Lex::Head(_))))
    };
    if words[i].lower.ends_with(" to") {
        verb_at(i + 1)
    } else if words.get(i + 1).is_some_and(|w| w.is(Lex::Prep(Prep::To))) {
        verb_at(i + 2)
    } else {
        true
    }
}

pub(super) fn particle_of(word: &Word) -> &'static str {
    match word.lex() {
        Some(Lex::Particle(p)) => p,
        Some(Lex::Prep(Prep::Off)) => "off",
        _ => "",
    }
}

/// A phrasal verb said apart: "roll it back", "get vaultwarden running".
pub(super) fn phrasal(head: &str, particle: &str) -> Option<Verb> {
    Some(match (head, particle) {
        ("roll", "back") => Verb::Rollback,
        ("roll", "out") => Verb::Install,
        ("bring", "up") => Verb::BringUp,
        ("put" | "bring" | "take" | "switch", "back") => Verb::Rollback,
        ("roll", "forward") => Verb::Upgrade,
        ("take" | "bin", "off") => Verb::Remove,
        ("take", "down") => Verb::Stop,
        ("clean", "up") => Verb::Remove,
        ("spin" | "fire" | "stand" | "boot" | "get", "up") => Verb::Install,
        ("get", "running") => Verb::Install,
        ("spin" | "shut" | "turn", "down") => Verb::Stop,
        ("shut" | "turn" | "switch", "off") => Verb::Stop,
        ("tear", "down") => Verb::Remove,
        ("rip" | "wipe", "out") => Verb::Remove,
        _ => return None,
    })
}
