//! The rule parser: a sentence becomes an [`Intent`] without any network,
//! or a [`ParseFailure`] that says what is wrong, points at the word, or
//! asks back with choices.
//!
//! It runs in four stages, each in its own file:
//! 1. [`tokens`]: the sentence becomes tokens with character spans (chat
//!    mentions and emoji dropped, punctuation split off);
//! 2. [`classify`]: tokens become words of one kind each, using the word
//!    tables of [`lexicon`] and the catalogue (names, aliases, keywords,
//!    typos close to one entry), with numbers and sizes put together;
//! 3. [`clauses`]: the words are cut into clauses, each a request, a
//!    question, a continuation, context, a protection, a correction or a
//!    hedge;
//! 4. [`values`] and [`assemble`]: the request clauses give the action, the
//!    applications and every value, checked.
//!
//! Every word is accounted for: it is used, it is known filler, it is part
//! of a context clause (reported in the intent's `ignored`), or it is an
//! error that quotes it. No input makes it panic.

pub mod assemble;
pub mod classify;
pub mod clauses;
pub mod delivery;
pub mod failure;
pub mod lexicon;
pub mod more_words;
pub mod namespace;
pub mod phrases;
pub mod products;
pub mod tokens;
pub mod values;
pub mod words;

use std::collections::BTreeMap;

pub use failure::ParseFailure;

use crate::catalogue::Catalogue;
use crate::intent::Intent;

/// The longest command the parser reads, in characters.
pub const MAX_COMMAND_CHARS: usize = 2_000;

/// The rule parser, with its vocabulary built from a catalogue once.
#[derive(Debug, Clone)]
pub struct RuleParser {
    vocabulary: classify::Vocabulary,
    names: Vec<String>,
    keywords: BTreeMap<String, Vec<String>>,
}

impl RuleParser {
    pub fn new(catalogue: &Catalogue) -> Self {
        let mut vocabulary = classify::Vocabulary::default();
        for (spelling, name) in catalogue.names_and_aliases() {
            vocabulary
                .spellings
                .insert(spelling.to_string(), name.to_string());
            vocabulary
                .typo_targets
                .push((spelling.to_string(), name.to_string()));
        }
        vocabulary.typo_targets.sort();
        let keywords = catalogue.keyword_index();
        for (word, names) in &keywords {
            if !vocabulary.spellings.contains_key(word) {
                vocabulary.keywords.insert(word.clone(), names.clone());
            }
        }
        for (spelling, name) in catalogue.names_and_aliases() {
            if lexicon::word(spelling).is_some() {
                let others: Vec<String> = keywords
                    .get(spelling)
                    .into_iter()
                    .flatten()
                    .filter(|n| *n != name)
                    .cloned()
                    .collect();
                // Ambiguous only when other entries answer to the word too.
                if !others.is_empty() {
                    vocabulary.common_names.insert(spelling.to_string(), others);
                }
            }
        }
        Self {
            vocabulary,
            names: catalogue.names().map(str::to_string).collect(),
            keywords,
        }
    }

    /// Parses one sentence.
    pub fn parse(&self, command: &str) -> Result<Intent, ParseFailure> {
        self.parse_with_releases(command, &[])
    }

    /// Parses one sentence where recorded release names (`authentik-postgresql`)
    /// count as applications too: lifecycle actions may name a release.
    pub fn parse_with_releases(
        &self,
        command: &str,
        releases: &[String],
    ) -> Result<Intent, ParseFailure> {
        let command = command.trim();
        if command.is_empty() {
            return Err(ParseFailure::new(
                "the command is empty: say what to do, e.g. \"install authentik with TLS\"",
            )
            .suggest(failure::examples()));
        }
        if command.chars().count() > MAX_COMMAND_CHARS {
            return Err(ParseFailure::new(format!(
                "the command is longer than {MAX_COMMAND_CHARS} characters; say it in one sentence"
            )));
        }
        let tokens = tokens::tokenize(command);
        if tokens
            .iter()
            .all(|t| t.kind != tokens::TokenKind::Word && t.kind != tokens::TokenKind::Url)
        {
            return Err(ParseFailure::new("the command has no words I can read")
                .suggest(failure::examples()));
        }
        let mut words = classify::classify(&tokens, &self.vocabulary, releases);
        let clauses = clauses::clauses(&words);
        let view = assemble::CatalogueView {
            names: &self.names,
            keywords: &self.keywords,
        };
        assemble::assemble(&mut words, &clauses, &view)
    }
}

#[cfg(test)]
mod tests;
