//! The applications of a request: where one is expected (after a verb, in a
//! list), misspellings forgiven there, unknown names and products that are
//! not in the catalogue refused with the nearest entries, names that only
//! qualify a noun ("the wordpress team") or say whom it is for ("for gitea to
//! use") left out, and pronouns resolved from the context.

use std::ops::Range;

use super::{Order, Reading, Slot, verb_word};
use crate::catalogue::{add_keyword_matches, did_you_mean, nearest};
use crate::intent::Action;
use crate::intent::parse::classify::Kind;
use crate::intent::parse::clauses::{Clause, Role};
use crate::intent::parse::failure::ParseFailure;
use crate::intent::parse::lexicon::{Lex, Prep, Verb};
use crate::intent::parse::values::{self, Said, Values};

impl Reading<'_> {
    /// Places where an application is expected: after a verb (and its
    /// articles), first in a clause without a verb, after "and"/","/"or" that
    /// follow an application. An unknown word there is an unknown application.
    pub(super) fn app_slots(&self, primary: &[Range<usize>], orders: &[Order]) -> Vec<Slot> {
        let mut slots = Vec::new();
        let skip = |i: usize, status: bool| {
            let mut j = i;
            while j < self.words.len()
                && (matches!(
                    self.words[j].lex(),
                    Some(
                        Lex::Det
                            | Lex::Adjective
                            | Lex::Addressee
                            | Lex::Filler
                            | Lex::Prep(Prep::To)
                    )
                ) || (status
                    && matches!(self.words[j].lex(), Some(Lex::Prep(Prep::Of | Prep::On))))
                    // "scale itself between 2 and 6": read with the autoscaling words
                    || (j > i && matches!(self.words[j - 1].lower.as_str(), "itself" | "themselves")
                        && self.words[j].lower == "between")
                    || matches!(self.words[j].lower.as_str(), "itself" | "themselves"))
            {
                j += 1;
            }
            j
        };
        for order in orders {
            let j = skip(order.at + 1, order.verb == Verb::Status);
            if primary.iter().any(|r| r.contains(&j)) {
                slots.push(Slot { at: j, sure: true });
            }
        }
        for (n, range) in primary.iter().enumerate() {
            let first = range.clone().find(|&i| {
                !matches!(
                    self.words[i].lex(),
                    Some(
                        Lex::Filler
                            | Lex::And
                            | Lex::Also
                            | Lex::Then
                            | Lex::Det
                            | Lex::Adjective
                            | Lex::Time
                    )
                )
            });
            let Some(first) = first else { continue };
            // "promethues status?": the word before a status that ends its
            // clause may be the application (a one-letter typo forgiven).
            if orders
                .iter()
                .any(|o| o.verb == Verb::Status && o.at == first + 1)
            {
                slots.push(Slot {
                    at: first,
                    sure: false,
                });
                continue;
            }
            if has_order_before(orders, range, first) || orders.iter().any(|o| o.at == first) {
                continue;
            }
            // A clause after one that ended with an application continues its
            // list ("gitea, redis and postgres"); others start with anything.
            let listing = n > 0
                && primary[n - 1]
                    .clone()
                    .rev()
                    .find(|&i| !self.words[i].is_punct())
                    .is_some_and(|i| self.words[i].app().is_some());
            let verbless = !orders.iter().any(|o| range.contains(&o.at));
            if listing {
                slots.push(Slot {
                    at: first,
                    sure: true,
                });
            } else if verbless && (n == 0 || !orders.iter().any(|o| o.at < range.start)) {
                slots.push(Slot {
                    at: first,
                    sure: false,
                });
            }
        }
        slots
    }

    /// Forgives misspelt applications where one is expected, and refuses
    /// unknown words there.
    pub(super) fn forgive_applications(
        &mut self,
        primary: &[Range<usize>],
        orders: &[Order],
    ) -> Result<(), ParseFailure> {
        let mut slots = self.app_slots(primary, orders);
        let mut k = 0;
        while k < slots.len() {
            let Slot { at: i, sure } = slots[k];
            k += 1;
            if self.used[i] {
                continue;
            }
            match self.words[i].kind.clone() {
                Kind::Unknown {
                    typo_of: Some(name),
                    distance,
                } if sure || distance <= 1 => {
                    self.words[i].kind = Kind::App { name, typo: true };
                }
                Kind::Unknown { .. } => {
                    let word = &self.words[i];
                    if !word.text.chars().any(char::is_alphabetic) || !sure {
                        continue;
                    }
                    return Err(self.unknown_application(i));
                }
                _ => {}
            }
            // The word after "and", "&", "+", "or" that follows an application.
            if self.words[i].app().is_some() {
                let mut j = i + 1;
                while j < self.words.len()
                    && matches!(self.words[j].kind, Kind::Version(_) | Kind::Number(_))
                {
                    j += 1;
                }
                if j + 1 < self.words.len()
                    && (matches!(self.words[j].lex(), Some(Lex::And | Lex::Or))
                        || matches!(self.words[j].punct(), Some('+' | '&')))
                    && primary.iter().any(|r| r.contains(&(j + 1)))
                {
                    let mut next = j + 1;
                    while next < self.words.len()
                        && matches!(self.words[next].lex(), Some(Lex::Det | Lex::Adjective))
                    {
                        next += 1;
                    }
                    slots.push(Slot {
                        at: next,
                        sure: true,
                    });
                }
            }
        }
        Ok(())
    }

    pub(super) fn unknown_application(&self, i: usize) -> ParseFailure {
        let word = &self.words[i];
        let cleaned = word
            .lower
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '-');
        let mut suggestions = nearest(cleaned, self.catalogue.names.iter().map(String::as_str), 3);
        add_keyword_matches(&mut suggestions, self.catalogue.keywords, cleaned, 3);
        // Not understood: a language model may still know what was meant
        // ("a fast cache"); without one, the person picks from the choices.
        let mut failure = ParseFailure::new(format!(
            "unknown application '{}': it is not in the catalogue{}",
            word.text,
            did_you_mean(&suggestions)
        ))
        .at([word.start, word.end]);
        if !suggestions.is_empty() {
            let choices = suggestions.iter().map(|s| self.retarget(i, s)).collect();
            failure = failure.ask(
                format!(
                    "'{}' is not in the catalogue. Did you mean one of these?",
                    word.text
                ),
                choices,
            );
            failure.suggestions = suggestions;
        }
        failure
    }

    /// The sentence with word `i` replaced by `name` (for a choice).
    pub(super) fn retarget(&self, i: usize, name: &str) -> String {
        self.rewritten(&[(i, i + 1, name)])
    }

    /// The sentence with word ranges `from..to` replaced by text (empty:
    /// dropped), for a choice that keeps everything else said (the
    /// namespace, the platform, the values).
    pub(super) fn rewritten(&self, edits: &[(usize, usize, &str)]) -> String {
        let mut parts: Vec<&str> = Vec::new();
        let mut k = 0;
        while k < self.words.len() {
            if let Some(&(_, to, text)) = edits.iter().find(|(from, _, _)| *from == k) {
                if !text.is_empty() {
                    parts.push(text);
                }
                k = to.max(k + 1);
                continue;
            }
            let w = &self.words[k];
            if !w.is_punct() || w.punct() == Some(',') {
                parts.push(w.text.as_str());
            }
            k += 1;
        }
        let text = parts.join(" ").replace(" ,", ",");
        text.trim_matches(|c: char| c == ',' || c.is_whitespace())
            .replace(",,", ",")
    }

    /// The applications asked for, and those kept out ("instead of X").
    pub(super) fn applications(
        &mut self,
        primary: &[Range<usize>],
    ) -> Result<(Vec<String>, Vec<String>), ParseFailure> {
        let mut apps: Vec<String> = Vec::new();
        let mut excluded = Vec::new();
        // "install postgres for gitea to use": the application it is for is
        // asked for only when no other one is ("set replicas to 3 for keycloak").
        let mut beneficiaries: Vec<String> = Vec::new();
        for range in primary {
            let mut kept_out = false;
            // "in front of gitea", "next to nginx": a relation deckhand does
            // not wire, noted; "instead of" only contrasts.
            let mut relation: Option<String> = None;
            let mut for_list = false;
            let mut here = 0;
            for i in range.clone() {
                if self.words[i].is(Lex::InsteadOf) {
                    self.used[i] = true;
                    kept_out = true;
                    relation =
                        (self.words[i].lower != "instead of").then(|| self.words[i].lower.clone());
                    continue;
                }
                if self.used[i] {
                    continue;
                }
                let next = self.words.get(i + 1).filter(|_| range.contains(&(i + 1)));
                match self.words[i].kind.clone() {
                    Kind::App { name, .. } => {
                        self.used[i] = true;
                        if kept_out {
                            if let Some(relation) = &relation {
                                let note = format!("{relation} {name}");
                                if !self.noted.contains(&note) {
                                    self.noted.push(note);
                                }
                            }
                            excluded.push(name);
                            continue;
                        }
                        // "the wordpress team", "the nextcloud backups"
                        if next.is_some_and(|n| n.is(Lex::OwnerNoun)) {
                            self.used[i + 1] = true;
                            continue;
                        }
                        // "redis operator", "a redis cluster"
                        if let Some(n) =
                            next.filter(|n| n.is(Lex::ProductSuffix) || n.is(Lex::Cluster))
                        {
                            let what = format!("{} {}", self.words[i].text, n.text);
                            return Err(ParseFailure::understood(format!(
                                "'{what}' is not in the catalogue: the {name} blueprint deploys {name} itself"
                            ))
                            .at([self.words[i].start, n.end])
                            .ask(
                                format!("'{what}' is not something deckhand deploys. Did you mean {name} itself?"),
                                vec![self.retarget_range(i, i + 2, &name)],
                            ));
                        }
                        // "the existing postgres": deckhand cannot wire to it
                        if i > range.start && self.words[i - 1].is(Lex::Existing) {
                            return Err(ParseFailure::understood(format!(
                                "deckhand cannot use an existing {name}: each release gets its own dependencies ('{} {}')",
                                self.words[i - 1].text, self.words[i].text
                            ))
                            .at([self.words[i - 1].start, self.words[i].end]));
                        }
                        let mut b = i;
                        while b > range.start
                            && matches!(self.words[b - 1].lex(), Some(Lex::Det | Lex::Adjective))
                        {
                            b -= 1;
                        }
                        if for_list
                            || (here > 0
                                && b > range.start
                                && self.words[b - 1].is(Lex::Prep(Prep::For)))
                        {
                            for_list = true;
                            beneficiaries.push(name);
                            continue;
                        }
                        here += 1;
                        if !apps.contains(&name) {
                            apps.push(name);
                        }
                    }
                    Kind::Product { name, similar } => {
                        if kept_out {
                            self.used[i] = true;
                            continue;
                        }
                        return Err(self.product_failure(i, name, similar));
                    }
                    _ => {}
                }
            }
        }
        if apps.is_empty() {
            apps = beneficiaries;
        } else {
            for name in &beneficiaries {
                let note = format!("for {name}");
                if !self.noted.contains(&note) {
                    self.noted.push(note);
                }
            }
            excluded.extend(beneficiaries);
        }
        Ok((apps, excluded))
    }

    pub(super) fn retarget_range(&self, from: usize, to: usize, name: &str) -> String {
        let mut parts = Vec::new();
        for (k, w) in self.words.iter().enumerate() {
            if k == from {
                parts.push(name.to_string());
            } else if (from..to).contains(&k) || w.is_punct() {
                continue;
            } else {
                parts.push(w.text.clone());
            }
        }
        parts.join(" ")
    }

    pub(super) fn product_failure(&self, i: usize, name: &str, similar: &[&str]) -> ParseFailure {
        let word = &self.words[i];
        let similar: Vec<String> = similar
            .iter()
            .filter(|s| self.catalogue.names.iter().any(|n| n == *s))
            .map(|s| s.to_string())
            .collect();
        let alternatives = if similar.is_empty() {
            String::new()
        } else {
            format!(
                "; the catalogue has {} for a similar job",
                similar.join(" and ")
            )
        };
        let failure = ParseFailure::understood(format!(
            "'{}' is not in the catalogue ({name} is a different product, and deckhand will not swap it for another){alternatives}",
            word.text
        ))
        .at([word.start, word.end]);
        if similar.is_empty() {
            return failure;
        }
        let choices = similar.iter().map(|s| self.retarget(i, s)).collect();
        let mut failure = failure.ask(
            format!("{name} is not in the catalogue. Would one of these do?"),
            choices,
        );
        failure.suggestions = similar;
        failure
    }

    /// The applications a pronoun stands for, from the context clauses:
    /// the one application named before the pronoun when there is exactly
    /// one ("grafana's been slow, is it healthy? prometheus seems fine"),
    /// otherwise every application the sentence names.
    pub(super) fn referent(
        &mut self,
        clauses: &[Clause],
        excluded: &[String],
        pronoun: usize,
        inherited: &mut Values,
    ) -> Result<Vec<String>, ParseFailure> {
        let mut before_values = Values::default();
        let before = self.mentioned(clauses, excluded, Some(pronoun), &mut before_values);
        let found = if before.len() == 1 {
            inherited.namespaces.extend(before_values.namespaces);
            inherited.platforms.extend(before_values.platforms);
            before
        } else {
            self.mentioned(clauses, excluded, None, inherited)
        };
        self.one_referent(found, pronoun)
    }

    /// The applications named in the sentence's clauses (only words before
    /// `until` when given), with the namespace and platform said beside them.
    fn mentioned(
        &mut self,
        clauses: &[Clause],
        excluded: &[String],
        until: Option<usize>,
        inherited: &mut Values,
    ) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        for clause in clauses.iter().filter(|c| {
            matches!(
                c.role,
                Role::Statement
                    | Role::Context
                    | Role::Question
                    | Role::Request
                    | Role::Continuation
            )
        }) {
            let mut here = Vec::new();
            for i in clause.words.clone() {
                if until.is_some_and(|u| i >= u) {
                    break;
                }
                if let Some(app) = self.words[i].app()
                    && !excluded.iter().any(|e| e == app)
                    && !self.words.get(i + 1).is_some_and(|n| n.is(Lex::OwnerNoun))
                    && !here.iter().any(|h| h == app)
                {
                    here.push(app.to_string());
                }
            }
            if !here.is_empty() && clause.role != Role::Request && clause.role != Role::Continuation
            {
                let mut used = vec![false; self.words.len()];
                let mut said = Values::default();
                crate::intent::parse::namespace::read_namespace(
                    self.words,
                    &mut used,
                    clause.words.clone(),
                    &mut said,
                );
                values::read_where(self.words, &mut used, clause.words.clone(), &mut said);
                inherited.namespaces.extend(said.namespaces);
                inherited.platforms.extend(said.platforms);
            }
            for app in here {
                if !found.contains(&app) {
                    found.push(app);
                }
            }
        }
        found
    }

    /// One application for the pronoun, or a question when there are several.
    fn one_referent(
        &self,
        found: Vec<String>,
        pronoun: usize,
    ) -> Result<Vec<String>, ParseFailure> {
        let word = &self.words[pronoun];
        match found.len() {
            0 => Err(ParseFailure::understood(format!(
                "which application is '{}'? Name it, e.g. \"roll back grafana\"",
                word.text
            ))
            .at([word.start, word.end])
            .suggest(vec![format!("{} grafana", "status of")])),
            1 => Ok(found),
            _ => Err(ParseFailure::understood(format!(
                "'{}' could be {}",
                word.text,
                found.join(" or ")
            ))
            .at([word.start, word.end])
            .ask(
                format!("Which one do you mean by '{}'?", word.text),
                found.clone(),
            )),
        }
    }

    /// The applications fit the action: none only for a status, no
    /// "everything" for a change, keywords become a question.
    pub(super) fn check_apps(
        &mut self,
        apps: &[String],
        action: Action,
        primary: &[Range<usize>],
        values: &Values,
    ) -> Result<(), ParseFailure> {
        let words: Vec<usize> = primary.iter().flat_map(|r| r.clone()).collect();
        let keyword = words.iter().find_map(|&i| match &self.words[i].kind {
            Kind::Keyword(names) if !self.used[i] => Some((i, names.clone())),
            _ => None,
        });
        if apps.is_empty() {
            if let Some((i, names)) = keyword {
                let word = &self.words[i];
                let choices = names.iter().map(|n| self.retarget(i, n)).collect();
                return Err(ParseFailure::understood(format!(
                    "'{}' could mean {}",
                    word.text,
                    names.join(" or ")
                ))
                .at([word.start, word.end])
                .ask(
                    format!("Which one should I {}?", verb_word(action)),
                    choices,
                ));
            }
            if action != Action::Status {
                let everything = words
                    .iter()
                    .find(|&&i| matches!(self.words[i].lex(), Some(Lex::Everything)));
                let detail = match everything {
                    Some(&i) => format!(
                        "I will not {action} '{}' at once: name the applications",
                        self.words[i].text
                    ),
                    None => format!(
                        "which application should I {}? Name one from the catalogue (deckhand catalogue list)",
                        verb_word(action)
                    ),
                };
                let mut failure = match everything {
                    Some(&i) => ParseFailure::understood(detail)
                        .at([self.words[i].start, self.words[i].end]),
                    // No application named: a language model may find one.
                    None => ParseFailure::new(detail),
                }
                .suggest(self.catalogue.names.iter().take(5).cloned().collect());
                if everything.is_none() {
                    failure.understood = false;
                }
                return Err(failure);
            }
            // A status of everything: no other words may be left unknown.
            if let Some(&i) = words
                .iter()
                .find(|&&i| !self.used[i] && matches!(self.words[i].kind, Kind::Unknown { .. }))
            {
                let word = &self.words[i];
                return Err(ParseFailure::new(format!(
                    "I did not understand '{}': name an application or ask \"what's running\"",
                    word.text
                ))
                .at([word.start, word.end])
                .suggest(crate::intent::parse::failure::examples()));
            }
        }
        // "install grafana or prometheus"
        for &i in &words {
            if self.words[i].is(Lex::Or)
                && i > 0
                && self.words[i - 1].app().is_some()
                && self.words.get(i + 1).is_some_and(|w| w.app().is_some())
            {
                return Err(ParseFailure::understood(format!(
                    "'{} or {}': which one?",
                    self.words[i - 1].text,
                    self.words[i + 1].text
                ))
                .at([self.words[i - 1].start, self.words[i + 1].end])
                .ask(
                    "Which one should it be?",
                    vec![
                        self.rewritten(&[(i, i + 2, "")]),
                        self.rewritten(&[(i - 1, i + 1, "")]),
                    ],
                ));
            }
        }
        let _ = values;
        Ok(())
    }

    /// "deploy grafana to staging": a namespace after "to" for an install or removal.
    pub(super) fn read_bare_to_namespace(&mut self, clause: Range<usize>, values: &mut Values) {
        for i in clause.clone() {
            if self.used[i] || !self.words[i].is(Lex::Prep(Prep::To)) {
                continue;
            }
            let mut j = i + 1;
            while j < clause.end && self.words[j].lower == "the" {
                j += 1;
            }
            if j >= clause.end || self.used[j] {
                continue;
            }
            let candidate = matches!(
                self.words[j].kind,
                Kind::Unknown { typo_of: None, .. } | Kind::Keyword(_)
            );
            let ends = j + 1 >= clause.end
                || matches!(
                    self.words[j + 1].lex(),
                    Some(Lex::Prep(_) | Lex::And | Lex::Filler)
                );
            if candidate && ends {
                self.used[i..=j].fill(true);
                values.namespaces.push(Said {
                    value: self.words[j].text.clone(),
                    text: self.words[j].text.clone(),
                    at: [self.words[j].start, self.words[j].end],
                });
            }
        }
    }
}

pub(super) fn has_order_before(orders: &[Order], range: &Range<usize>, at: usize) -> bool {
    orders.iter().any(|o| range.contains(&o.at) && o.at < at)
}
