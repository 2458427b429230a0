//! The rule parser: a sentence becomes an [`Intent`] without any network.
//!
//! It works on words, in passes that each claim the words they understand:
//! the verb (with synonyms and typo forgiveness), the platform, the
//! namespace, the domain and TLS, the storage size, the replica count, the
//! applications (names, aliases, hyphenated names written as two words, and
//! typos close enough to one catalogue entry), and finally a version next to
//! an application or after `version`/`to`. Whatever is left is filler or,
//! when it stands where an application should, an unknown application with
//! the nearest catalogue names as suggestions. No input makes it panic.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::values::{Domain, Namespace, Replicas, Storage, ValueError, Version};
use super::{Action, Intent, Parameters, Platform, Source};
use crate::catalogue::{Catalogue, add_keyword_matches, did_you_mean, nearest};

/// Why a sentence did not become an intent, in the contract's error shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}")]
pub struct ParseFailure {
    pub error: String,
    pub suggestions: Vec<String>,
    /// The rules understood what was asked but a value is wrong or missing
    /// (an invalid namespace, a scale without a count): the person must fix
    /// it, and no language model may guess a replacement.
    #[serde(skip)]
    pub understood: bool,
}

impl ParseFailure {
    fn new(error: impl Into<String>) -> Self {
        Self::with_suggestions(error, Vec::new())
    }
    fn with_suggestions(error: impl Into<String>, suggestions: Vec<String>) -> Self {
        Self {
            error: error.into(),
            suggestions,
            understood: false,
        }
    }
    /// The request was understood; this failure is about one of its values.
    fn of_a_value(mut self) -> Self {
        self.understood = true;
        self
    }
}

impl From<ValueError> for ParseFailure {
    fn from(err: ValueError) -> Self {
        let suggestions = match &err {
            ValueError::Namespace(given) => {
                let fixed = sanitize_label(given);
                if fixed.is_empty() {
                    vec![]
                } else {
                    vec![fixed]
                }
            }
            _ => vec![],
        };
        Self::with_suggestions(err.to_string(), suggestions).of_a_value()
    }
}

/// The longest command the parser reads, in characters.
pub const MAX_COMMAND_CHARS: usize = 2_000;

/// Verb phrases, longest first within each position check.
const VERBS: &[(&[&str], Action)] = &[
    (&["get", "rid", "of"], Action::Remove),
    (&["what's", "running"], Action::Status),
    (&["whats", "running"], Action::Status),
    (&["what", "is", "running"], Action::Status),
    (&["what's", "deployed"], Action::Status),
    (&["what", "is", "deployed"], Action::Status),
    (&["what's", "installed"], Action::Status),
    (&["set", "up"], Action::Install),
    (&["spin", "up"], Action::Install),
    (&["bring", "up"], Action::Install),
    (&["get", "me"], Action::Install),
    (&["tear", "down"], Action::Remove),
    (&["take", "down"], Action::Remove),
    (&["roll", "back"], Action::Rollback),
    (&["how", "is"], Action::Status),
    (&["how's"], Action::Status),
    (&["install"], Action::Install),
    (&["deploy"], Action::Install),
    (&["setup"], Action::Install),
    (&["add"], Action::Install),
    (&["launch"], Action::Install),
    (&["start"], Action::Install),
    (&["run"], Action::Install),
    (&["create"], Action::Install),
    (&["provision"], Action::Install),
    (&["remove"], Action::Remove),
    (&["uninstall"], Action::Remove),
    (&["delete"], Action::Remove),
    (&["destroy"], Action::Remove),
    (&["teardown"], Action::Remove),
    (&["upgrade"], Action::Upgrade),
    (&["update"], Action::Upgrade),
    (&["scale"], Action::Scale),
    (&["resize"], Action::Scale),
    (&["increase"], Action::Scale),
    (&["decrease"], Action::Scale),
    (&["rollback"], Action::Rollback),
    (&["revert"], Action::Rollback),
    (&["undo"], Action::Rollback),
    (&["status"], Action::Status),
    (&["list"], Action::Status),
    (&["show"], Action::Status),
];

/// Single verbs that typos are matched against (short ones like "add" or
/// "run" are too close to ordinary words to guess at).
const FUZZY_VERBS: &[(&str, Action)] = &[
    ("install", Action::Install),
    ("deploy", Action::Install),
    ("launch", Action::Install),
    ("provision", Action::Install),
    ("remove", Action::Remove),
    ("uninstall", Action::Remove),
    ("delete", Action::Remove),
    ("destroy", Action::Remove),
    ("upgrade", Action::Upgrade),
    ("update", Action::Upgrade),
    ("scale", Action::Scale),
    ("resize", Action::Scale),
    ("rollback", Action::Rollback),
    ("revert", Action::Rollback),
    ("status", Action::Status),
];

const PLATFORM_WORDS: &[(&[&str], Platform)] = &[
    (&["docker", "compose"], Platform::Compose),
    (&["docker-compose"], Platform::Compose),
    (&["compose"], Platform::Compose),
    (&["docker"], Platform::Compose),
    (&["kubernetes"], Platform::Kubernetes),
    (&["k8s"], Platform::Kubernetes),
    (&["kube"], Platform::Kubernetes),
];

const TLS_WORDS: &[&str] = &[
    "tls",
    "https",
    "ssl",
    "certificate",
    "certificates",
    "cert",
    "certs",
    "letsencrypt",
    "acme",
    "cert-manager",
];
const REPLICA_WORDS: &[&str] = &[
    "replica",
    "replicas",
    "instance",
    "instances",
    "copy",
    "copies",
    "pod",
    "pods",
    "node",
    "nodes",
];
const NAMESPACE_WORDS: &[&str] = &["namespace", "ns"];

/// Words that carry no meaning of their own here.
const FILLER: &[&str] = &[
    "please",
    "pls",
    "can",
    "could",
    "would",
    "will",
    "you",
    "i",
    "we",
    "want",
    "need",
    "like",
    "to",
    "the",
    "a",
    "an",
    "and",
    "with",
    "in",
    "on",
    "at",
    "for",
    "of",
    "from",
    "into",
    "onto",
    "using",
    "use",
    "via",
    "me",
    "my",
    "our",
    "us",
    "some",
    "new",
    "fresh",
    "instance",
    "instances",
    "app",
    "apps",
    "application",
    "applications",
    "service",
    "services",
    "it",
    "its",
    "up",
    "down",
    "by",
    "then",
    "also",
    "too",
    "now",
    "quickly",
    "enable",
    "enabled",
    "support",
    "called",
    "named",
    "running",
    "is",
    "are",
    "be",
    "what",
    "what's",
    "whats",
    "how",
    "all",
    "everything",
    "deployment",
    "deployments",
    "release",
    "releases",
    "there",
    "here",
    "that",
    "this",
    "these",
    "those",
    "kindly",
    "just",
    "go",
    "ahead",
    "let's",
    "lets",
    "version",
    "v",
    "domain",
    "hostname",
    "host",
    "storage",
    "disk",
    "volume",
    "volumes",
    "space",
    "size",
    "ingress",
    "dependencies",
    "deps",
    "data",
    "stack",
    "cluster",
    "server",
    "setup",
    "configured",
    "behind",
    "exposed",
    "expose",
    "public",
    "publicly",
    "secure",
    "secured",
    "certificate",
    "of",
    "as",
    "thanks",
    "thank",
    "both",
    "same",
    "currently",
    "again",
    "back",
    "previous",
    "revision",
    "state",
];

const NUMBER_WORDS: &[(&str, i64)] = &[
    ("zero", 0),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("fifteen", 15),
    ("twenty", 20),
    ("single", 1),
];

#[derive(Debug)]
struct Word {
    original: String,
    lower: String,
    used: bool,
}

/// The rule parser, with its vocabulary built from a catalogue once.
#[derive(Debug, Clone)]
pub struct RuleParser {
    /// name or alias (lower-case) → canonical blueprint name
    vocabulary: HashMap<String, String>,
    /// every spelling, for typo matching
    spellings: Vec<(String, String)>,
    names: Vec<String>,
    /// keyword → the names it may mean, for suggestions ([`Catalogue::keyword_index`]).
    keywords: BTreeMap<String, Vec<String>>,
}

impl RuleParser {
    pub fn new(catalogue: &Catalogue) -> Self {
        let mut vocabulary = HashMap::new();
        let mut spellings = Vec::new();
        for (spelling, name) in catalogue.names_and_aliases() {
            vocabulary.insert(spelling.to_string(), name.to_string());
            spellings.push((spelling.to_string(), name.to_string()));
        }
        spellings.sort();
        let names = catalogue.names().map(str::to_string).collect();
        Self {
            vocabulary,
            spellings,
            names,
            keywords: catalogue.keyword_index(),
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
            return Err(ParseFailure::with_suggestions(
                "the command is empty: say what to do, e.g. \"install authentik with TLS\"",
                examples(),
            ));
        }
        if command.chars().count() > MAX_COMMAND_CHARS {
            return Err(ParseFailure::new(format!(
                "the command is longer than {MAX_COMMAND_CHARS} characters; say it in one sentence"
            )));
        }
        let mut words = tokenize(command);
        if words.is_empty() {
            return Err(ParseFailure::with_suggestions(
                "the command has no words I can read",
                examples(),
            ));
        }

        let action = self.take_action(&mut words)?;
        if action == Action::Status {
            // "show me the status", "list what is deployed"
            for word in words.iter_mut() {
                if matches!(
                    word.lower.as_str(),
                    "status" | "state" | "deployed" | "installed"
                ) {
                    word.used = true;
                }
            }
        }
        let platform = take_platform(&mut words);
        let namespace = take_namespace(&mut words)?;
        let mut parameters = Parameters::default();
        take_domain_and_tls(&mut words, &mut parameters)?;
        if action == Action::Remove {
            // "with its data" is a removal's scope; for others "with storage" is a size.
            take_removal_scope(&mut words, &mut parameters);
        }
        parameters.revision = take_revision(&mut words)?;
        parameters.storage = take_storage(&mut words)?;
        let explicit_version = take_keyword_version(&mut words, action)?;
        parameters.replicas = take_replicas(&mut words, action)?;
        let (applications, app_positions) = self.take_applications(&mut words, action, releases)?;
        parameters.version = match explicit_version {
            Some(v) => Some(v),
            None => take_version_after_app(&mut words, &app_positions)?,
        };

        if action == Action::Scale {
            // A bare number left over is the count ("scale grafana 3").
            if parameters.replicas.is_none()
                && let Some(count) = take_any_number(&mut words)
            {
                parameters.replicas = Some(Replicas::for_scale(count)?);
            }
            if parameters.replicas.is_none() {
                return Err(ParseFailure::new(format!(
                    "scale needs a count: how many replicas of {} should run? (e.g. \"scale {} to 3 replicas\")",
                    applications.join(", "),
                    applications.first().map_or("grafana", String::as_str)
                ))
                .of_a_value());
            }
        }

        Ok(Intent {
            action,
            applications,
            platform,
            namespace,
            parameters,
            source: Source::Rules,
            model: None,
        })
    }

    fn take_action(&self, words: &mut [Word]) -> Result<Action, ParseFailure> {
        for start in 0..words.len() {
            for (phrase, action) in VERBS {
                if matches_phrase(words, start, phrase) {
                    for word in &mut words[start..start + phrase.len()] {
                        word.used = true;
                    }
                    return Ok(*action);
                }
            }
        }
        // Typos: the first word that is close to exactly one verb and is not a
        // catalogue name.
        for word in words.iter_mut() {
            if word.lower.chars().count() < 4 || self.vocabulary.contains_key(&word.lower) {
                continue;
            }
            if let Some(action) = fuzzy_verb(&word.lower) {
                word.used = true;
                return Ok(action);
            }
        }
        Err(ParseFailure::with_suggestions(
            "I could not tell what to do: start with install, upgrade, scale, remove, rollback or status",
            examples(),
        ))
    }

    fn take_applications(
        &self,
        words: &mut [Word],
        action: Action,
        releases: &[String],
    ) -> Result<(Vec<String>, Vec<usize>), ParseFailure> {
        let mut found: Vec<(usize, String)> = Vec::new();
        // Recorded release names, exactly as written.
        for (i, word) in words.iter_mut().enumerate() {
            if !word.used
                && releases.contains(&word.lower)
                && !self.vocabulary.contains_key(&word.lower)
            {
                found.push((i, word.lower.clone()));
                word.used = true;
            }
        }
        // Hyphenated names written as two words ("uptime kuma").
        for i in 0..words.len().saturating_sub(1) {
            if words[i].used || words[i + 1].used {
                continue;
            }
            for joined in [
                format!("{}-{}", words[i].lower, words[i + 1].lower),
                format!("{}{}", words[i].lower, words[i + 1].lower),
            ] {
                if let Some(name) = self.vocabulary.get(&joined) {
                    found.push((i + 1, name.clone()));
                    words[i].used = true;
                    words[i + 1].used = true;
                    break;
                }
            }
        }
        for (i, word) in words.iter_mut().enumerate() {
            if word.used {
                continue;
            }
            let bare = word.lower.trim_end_matches("'s");
            if let Some(name) = self.vocabulary.get(bare) {
                found.push((i, name.clone()));
                word.used = true;
            }
        }
        // Typos and unknown words where an application is expected.
        let mut unknown: Vec<(usize, String)> = Vec::new();
        for (i, word) in words.iter_mut().enumerate() {
            if word.used
                || is_filler(&word.lower)
                || parse_number(&word.lower).is_some()
                || looks_like_version(&word.lower)
            {
                continue;
            }
            match self.fuzzy_application(&word.lower) {
                Some(name) => {
                    found.push((i, name));
                    word.used = true;
                }
                None => unknown.push((i, word.original.clone())),
            }
        }
        found.sort_by_key(|(i, _)| *i);
        let mut applications: Vec<String> = Vec::new();
        let mut positions = Vec::new();
        for (i, name) in found {
            positions.push(i);
            if !applications.contains(&name) {
                applications.push(name);
            }
        }

        // An unknown word is an error when nothing was understood, or when it
        // sits in a list of applications ("install grafana and foobar").
        let in_app_position = |index: usize| {
            let previous = words[..index]
                .iter()
                .rev()
                .find(|w| !matches!(w.lower.as_str(), "the" | "a" | "an"));
            previous.is_some_and(|p| {
                matches!(p.lower.as_str(), "and" | "&" | "plus")
                    || p.original.ends_with(',')
                    || positions.contains(&(index.wrapping_sub(1)))
            })
        };
        let offending = if applications.is_empty() {
            unknown.first().cloned()
        } else {
            unknown.iter().find(|(i, _)| in_app_position(*i)).cloned()
        };
        if let Some((_, word)) = offending {
            let cleaned = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '-');
            let lower = cleaned.to_ascii_lowercase();
            let mut suggestions = nearest(&lower, self.names.iter().map(String::as_str), 3);
            add_keyword_matches(&mut suggestions, &self.keywords, &lower, 3);
            return Err(ParseFailure::with_suggestions(
                format!(
                    "unknown application '{cleaned}': it is not in the catalogue{}",
                    did_you_mean(&suggestions)
                ),
                suggestions,
            ));
        }
        if applications.is_empty() && action != Action::Status {
            return Err(ParseFailure::with_suggestions(
                format!(
                    "which application should I {action}? Name one from the catalogue (deckhand catalogue list)"
                ),
                self.names.iter().take(5).cloned().collect(),
            ));
        }
        Ok((applications, positions))
    }

    /// The one catalogue name a misspelt word is clearly meant to be.
    fn fuzzy_application(&self, word: &str) -> Option<String> {
        let length = word.chars().count();
        if length < 4 {
            return None;
        }
        let allowed = if length <= 5 {
            1
        } else if length <= 8 {
            2
        } else {
            3
        };
        let mut best: Option<(usize, &str)> = None;
        let mut tie = false;
        for (spelling, name) in &self.spellings {
            let distance = strsim::damerau_levenshtein(word, spelling);
            if distance > allowed {
                continue;
            }
            match best {
                Some((d, n)) if distance == d && n != name => tie = true,
                Some((d, _)) if distance >= d => {}
                _ => {
                    best = Some((distance, name));
                    tie = false;
                }
            }
        }
        match best {
            Some((_, name)) if !tie => Some(name.to_string()),
            _ => None,
        }
    }
}

/// Example commands offered when a sentence cannot be understood.
fn examples() -> Vec<String> {
    [
        "install authentik with TLS",
        "scale grafana to 3 replicas",
        "status of authentik",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn tokenize(command: &str) -> Vec<Word> {
    command
        .split(|c: char| c.is_whitespace())
        .filter_map(|raw| {
            let raw = raw.replace(['\u{2019}', '\u{2018}'], "'");
            let trimmed = raw
                .trim_start_matches(|c: char| "\"'`([{<".contains(c))
                .trim_end_matches(|c: char| "\"'`)]}>,;:!?.".contains(c));
            if trimmed.is_empty() {
                return None;
            }
            let comma = raw.ends_with(',');
            Some(Word {
                original: if comma {
                    format!("{trimmed},")
                } else {
                    trimmed.to_string()
                },
                lower: trimmed.to_lowercase(),
                used: false,
            })
        })
        .collect()
}

fn matches_phrase(words: &[Word], start: usize, phrase: &[&str]) -> bool {
    start + phrase.len() <= words.len()
        && phrase
            .iter()
            .enumerate()
            .all(|(k, p)| !words[start + k].used && words[start + k].lower == *p)
}

fn fuzzy_verb(word: &str) -> Option<Action> {
    let allowed = if word.chars().count() <= 6 { 1 } else { 2 };
    let mut best: Option<(usize, Action)> = None;
    let mut tie = false;
    for (verb, action) in FUZZY_VERBS {
        let distance = strsim::damerau_levenshtein(word, verb);
        if distance > allowed {
            continue;
        }
        match best {
            Some((d, a)) if distance == d && a != *action => tie = true,
            Some((d, _)) if distance >= d => {}
            _ => {
                best = Some((distance, *action));
                tie = false;
            }
        }
    }
    best.filter(|_| !tie).map(|(_, a)| a)
}

fn is_filler(word: &str) -> bool {
    FILLER.contains(&word) || REPLICA_WORDS.contains(&word) || NAMESPACE_WORDS.contains(&word)
}

/// "and its dependencies" (cascade) and "and its data" (delete volumes).
fn take_removal_scope(words: &mut [Word], parameters: &mut Parameters) {
    const CASCADE: &[&str] = &[
        "dependencies",
        "deps",
        "dependency",
        "cascade",
        "everything",
    ];
    const DATA: &[&str] = &["data", "volumes", "volume", "storage", "pvcs", "disks"];
    for i in 0..words.len() {
        if words[i].used {
            continue;
        }
        let lower = words[i].lower.as_str();
        // Only after "and"/"with"/"its"/"including", so "20Gi storage" stays a size.
        let introduced = i > 0
            && matches!(
                words[i - 1].lower.as_str(),
                "its" | "their" | "and" | "with" | "including" | "plus" | "all"
            );
        if CASCADE.contains(&lower) && (introduced || lower == "cascade") {
            parameters.cascade = Some(true);
            words[i].used = true;
        } else if DATA.contains(&lower) && introduced {
            parameters.delete_data = Some(true);
            words[i].used = true;
        } else if lower == "purge" {
            parameters.delete_data = Some(true);
        }
    }
}

/// "to revision 2", "revision 3".
fn take_revision(words: &mut [Word]) -> Result<Option<u32>, ParseFailure> {
    for i in 0..words.len() {
        if words[i].used || !matches!(words[i].lower.as_str(), "revision" | "rev") {
            continue;
        }
        let Some(number) = words
            .get(i + 1)
            .filter(|w| !w.used)
            .and_then(|w| parse_number(&w.lower))
        else {
            continue;
        };
        words[i].used = true;
        words[i + 1].used = true;
        return match u32::try_from(number) {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(ParseFailure::new(format!(
                "invalid revision {number}: revisions count from 1"
            ))
            .of_a_value()),
        };
    }
    Ok(None)
}

fn take_platform(words: &mut [Word]) -> Option<Platform> {
    for start in 0..words.len() {
        for (phrase, platform) in PLATFORM_WORDS {
            if matches_phrase(words, start, phrase) {
                for word in &mut words[start..start + phrase.len()] {
                    word.used = true;
                }
                return Some(*platform);
            }
        }
    }
    None
}

fn take_namespace(words: &mut [Word]) -> Result<Option<Namespace>, ParseFailure> {
    let Some(at) = words
        .iter()
        .position(|w| !w.used && NAMESPACE_WORDS.contains(&w.lower.as_str()))
    else {
        return Ok(None);
    };
    words[at].used = true;
    // "namespace auth", "namespace called auth"
    let mut next = at + 1;
    while next < words.len() && matches!(words[next].lower.as_str(), "called" | "named" | "=" | ":")
    {
        words[next].used = true;
        next += 1;
    }
    // The word after is the name unless it starts the next phrase ("the auth
    // namespace with tls"); "apps" or "web" are fine names even though they
    // are filler elsewhere.
    const PHRASE_STARTS: &[&str] = &[
        "with", "and", "on", "in", "for", "to", "using", "via", "at", "from", "please", "the", "a",
        "an",
    ];
    // A phrase-starting word that ends the sentence is the name itself
    // ("in namespace a").
    let last = next + 1 == words.len();
    let after = words
        .get(next)
        .filter(|w| !w.used && (last || !PHRASE_STARTS.contains(&w.lower.as_str())));
    let chosen = match after {
        Some(_) => Some(next),
        // "in the sso namespace"
        None => at
            .checked_sub(1)
            .filter(|&b| !words[b].used && !is_filler(&words[b].lower)),
    };
    let Some(index) = chosen else {
        return Err(
            ParseFailure::new("which namespace? Say e.g. \"in namespace auth\"").of_a_value(),
        );
    };
    words[index].used = true;
    let name = words[index].original.trim_end_matches(',');
    Ok(Some(Namespace::parse(name)?))
}

fn take_domain_and_tls(
    words: &mut [Word],
    parameters: &mut Parameters,
) -> Result<(), ParseFailure> {
    for i in 0..words.len() {
        if words[i].used {
            continue;
        }
        let lower = words[i].lower.clone();
        if TLS_WORDS.contains(&lower.as_str()) {
            // "with no tls", "without https", "not ssl"
            let negated = i > 0
                && matches!(
                    words[i - 1].lower.as_str(),
                    "no" | "without" | "not" | "disable" | "disabled"
                );
            parameters.tls = Some(!negated);
            words[i].used = true;
            if negated {
                words[i - 1].used = true;
            }
        } else if lower == "ingress" {
            parameters.ingress = Some(true);
            words[i].used = true;
        } else if let Some(rest) = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
        {
            if lower.starts_with("https://") {
                parameters.tls = Some(true);
            }
            let host = rest.split(['/', ':', '?']).next().unwrap_or_default();
            parameters.domain = Some(Domain::parse(host)?);
            words[i].used = true;
        } else if looks_like_domain(&lower) {
            parameters.domain = Some(Domain::parse(&lower)?);
            words[i].used = true;
        } else if lower == "domain" || lower == "hostname" {
            words[i].used = true;
            if let Some(next) = words
                .get_mut(i + 1)
                .filter(|w| !w.used && w.lower.contains('.'))
            {
                next.used = true;
                parameters.domain = Some(Domain::parse(&next.lower)?);
            }
        }
    }
    if words
        .iter()
        .enumerate()
        .any(|(i, w)| w.lower == "let's" && words.get(i + 1).is_some_and(|n| n.lower == "encrypt"))
    {
        parameters.tls = Some(true);
    }
    Ok(())
}

/// A host name: dotted, no '@', and the last label alphabetic (so `10.4.2` is not one).
fn looks_like_domain(word: &str) -> bool {
    if !word.contains('.') || word.contains('@') || word.starts_with('.') || word.ends_with('.') {
        return false;
    }
    let last = word.rsplit('.').next().unwrap_or_default();
    last.len() >= 2
        && last.chars().all(|c| c.is_ascii_alphabetic())
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

fn looks_like_version(word: &str) -> bool {
    let w = word.strip_prefix('v').unwrap_or(word);
    w.starts_with(|c: char| c.is_ascii_digit())
        && !looks_like_domain(word)
        && Version::parse(word).is_ok()
}

fn take_storage(words: &mut [Word]) -> Result<Option<Storage>, ParseFailure> {
    const UNITS: &[&str] = &[
        "ki", "mi", "gi", "ti", "kib", "mib", "gib", "tib", "kb", "mb", "gb", "tb", "g", "t", "m",
    ];
    for i in 0..words.len() {
        if words[i].used {
            continue;
        }
        let lower = &words[i].lower;
        let split = lower
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(lower.len());
        let (number, unit) = lower.split_at(split);
        let numeric = !number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '.');
        if numeric && UNITS.contains(&unit) {
            words[i].used = true;
            return Ok(Some(Storage::parse(&words[i].original)?));
        }
        // "with 20xyz storage", "storage -5Gi": a size was meant, and it is wrong.
        let storage_word = |w: Option<&Word>| {
            w.is_some_and(|w| matches!(w.lower.as_str(), "storage" | "disk" | "volume"))
        };
        let beside_storage = storage_word(words.get(i + 1))
            || i.checked_sub(1)
                .is_some_and(|before| storage_word(words.get(before)));
        if beside_storage && lower.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            return Err(ParseFailure::from(crate::intent::ValueError::Storage(
                words[i].original.clone(),
            )));
        }
        // "20 GB"
        if numeric
            && unit.is_empty()
            && let Some(next) = words
                .get(i + 1)
                .filter(|n| !n.used && UNITS.contains(&n.lower.as_str()) && n.lower.len() > 1)
        {
            let text = format!("{}{}", number, next.original);
            words[i].used = true;
            words[i + 1].used = true;
            return Ok(Some(Storage::parse(&text)?));
        }
    }
    Ok(None)
}

/// A count: digits (possibly negative) or a number word.
fn parse_number(word: &str) -> Option<i64> {
    let digits = word.strip_prefix('x').unwrap_or(word);
    if let Ok(n) = digits.parse::<i64>() {
        return Some(n);
    }
    if digits.len() > 1
        && digits.starts_with('-')
        && digits[1..].chars().all(|c| c.is_ascii_digit())
    {
        return Some(i64::MIN);
    }
    NUMBER_WORDS
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, n)| *n)
}

fn take_replicas(words: &mut [Word], action: Action) -> Result<Option<Replicas>, ParseFailure> {
    let validate = |n: i64| {
        if action == Action::Scale {
            Replicas::for_scale(n)
        } else {
            Replicas::for_install(n)
        }
    };
    let said_negative = |word: &Word| word.lower.starts_with('-');
    for i in 0..words.len() {
        if words[i].used {
            continue;
        }
        // "3 replicas", "three instances"
        if let Some(n) = parse_number(&words[i].lower)
            && words
                .get(i + 1)
                .is_some_and(|w| REPLICA_WORDS.contains(&w.lower.as_str()))
        {
            words[i].used = true;
            words[i + 1].used = true;
            if said_negative(&words[i]) && n == i64::MIN {
                return Err(ParseFailure::new(format!(
                    "invalid replica count {}: it must be between 0 and 100",
                    words[i].original
                ))
                .of_a_value());
            }
            return Ok(Some(validate(n)?));
        }
        // "replicas 3", "replicas=3"
        let lower = words[i].lower.clone();
        if let Some(value) = lower
            .strip_prefix("replicas=")
            .or_else(|| lower.strip_prefix("replicas:"))
        {
            words[i].used = true;
            let n = parse_number(value).ok_or_else(|| {
                ParseFailure::new(format!("'{value}' is not a replica count")).of_a_value()
            })?;
            return Ok(Some(validate(n)?));
        }
        if lower == "replicas"
            && let Some(n) = words
                .get(i + 1)
                .filter(|w| !w.used)
                .and_then(|w| parse_number(&w.lower))
        {
            words[i].used = true;
            words[i + 1].used = true;
            return Ok(Some(validate(n)?));
        }
    }
    if action == Action::Scale {
        // "scale grafana to 5"
        for i in 0..words.len() {
            if words[i].used || words[i].lower != "to" {
                continue;
            }
            if let Some(n) = words
                .get(i + 1)
                .filter(|w| !w.used)
                .and_then(|w| parse_number(&w.lower))
            {
                words[i].used = true;
                words[i + 1].used = true;
                if n == i64::MIN {
                    return Err(ParseFailure::new(format!(
                        "invalid replica count {}: it must be between 0 and 100",
                        words[i + 1].original
                    ))
                    .of_a_value());
                }
                return Ok(Some(validate(n)?));
            }
        }
    }
    Ok(None)
}

fn take_any_number(words: &mut [Word]) -> Option<i64> {
    let word = words
        .iter_mut()
        .find(|w| !w.used && parse_number(&w.lower).is_some())?;
    word.used = true;
    parse_number(&word.lower)
}

/// "version 10.4.2", "to version 2", "v3.5.0", and for upgrades "to 11.2".
fn take_keyword_version(
    words: &mut [Word],
    action: Action,
) -> Result<Option<Version>, ParseFailure> {
    for i in 0..words.len() {
        if words[i].used {
            continue;
        }
        let lower = words[i].lower.clone();
        if (lower == "version" || lower == "tag")
            && let Some(next) = words.get(i + 1).filter(|w| !w.used)
        {
            let text = next.original.clone();
            words[i].used = true;
            words[i + 1].used = true;
            return Ok(Some(Version::parse(&text)?));
        }
        if let Some(value) = lower
            .strip_prefix("version=")
            .or_else(|| lower.strip_prefix("version:"))
        {
            words[i].used = true;
            return Ok(Some(Version::parse(value)?));
        }
        if lower.starts_with('v')
            && lower.len() > 1
            && lower[1..].starts_with(|c: char| c.is_ascii_digit())
            && looks_like_version(&lower)
        {
            words[i].used = true;
            return Ok(Some(Version::parse(&words[i].original)?));
        }
        if action == Action::Upgrade
            && lower == "to"
            && let Some(next) = words
                .get(i + 1)
                .filter(|w| !w.used && looks_like_version(&w.lower))
        {
            let text = next.original.clone();
            words[i].used = true;
            words[i + 1].used = true;
            return Ok(Some(Version::parse(&text)?));
        }
    }
    Ok(None)
}

/// "install postgresql 16", "redis:7", "redis@7".
fn take_version_after_app(
    words: &mut [Word],
    app_positions: &[usize],
) -> Result<Option<Version>, ParseFailure> {
    for &at in app_positions {
        if let Some(next) = words
            .get_mut(at + 1)
            .filter(|w| !w.used && looks_like_version(&w.lower))
        {
            next.used = true;
            return Ok(Some(Version::parse(&next.original)?));
        }
    }
    Ok(None)
}

/// Lower-cases and replaces what a DNS label cannot hold, for a suggestion.
fn sanitize_label(text: &str) -> String {
    let mapped: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let trimmed = mapped.trim_matches('-');
    trimmed
        .chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> RuleParser {
        RuleParser::new(&Catalogue::builtin().expect("builtin catalogue"))
    }

    fn ok(text: &str) -> Intent {
        parser()
            .parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn negations_sizes_and_short_names_are_read_as_meant() {
        assert_eq!(
            ok("install grafana with no tls").parameters.tls,
            Some(false)
        );
        assert_eq!(
            ok("install grafana without https").parameters.tls,
            Some(false)
        );
        let sized = ok("install grafana with storage 20Gi");
        assert_eq!(sized.parameters.delete_data, None, "a size, not a removal");
        assert_eq!(sized.parameters.storage.unwrap().as_str(), "20Gi");
        for wrong in [
            "install grafana with 20xyz storage",
            "install grafana with -5Gi storage",
        ] {
            let failure = parser().parse(wrong).unwrap_err();
            assert!(
                failure.error.contains("invalid storage size"),
                "{wrong}: {}",
                failure.error
            );
            assert!(failure.understood);
        }
        assert_eq!(
            ok("install minio in namespace a")
                .namespace
                .unwrap()
                .to_string(),
            "a"
        );
        assert_eq!(ok("show me the status").action, Action::Status);
        assert_eq!(
            ok("remove grafana with its storage").parameters.delete_data,
            Some(true)
        );
    }

    #[test]
    fn unknown_applications_get_the_entries_they_are_a_keyword_of() {
        for (word, expected) in [
            ("ldap", vec!["authentik"]),
            ("mysql", vec!["mariadb"]),
            ("sso", vec!["authentik", "keycloak"]),
            ("s3", vec!["minio"]),
        ] {
            let failure = parser().parse(&format!("install {word}")).unwrap_err();
            assert_eq!(failure.suggestions, expected, "{word}: {}", failure.error);
            assert!(failure.error.contains("did you mean"), "{}", failure.error);
        }
        assert!(
            parser()
                .parse("install foobarbaz")
                .unwrap_err()
                .suggestions
                .is_empty()
        );
    }

    #[test]
    fn verbs_and_synonyms() {
        assert_eq!(ok("get rid of redis").action, Action::Remove);
        assert_eq!(ok("roll back authentik").action, Action::Rollback);
        assert_eq!(ok("get me a redis").action, Action::Install);
        assert_eq!(ok("how is authentik").action, Action::Status);
        assert_eq!(ok("list").action, Action::Status);
        assert_eq!(ok("undo postgres").action, Action::Rollback);
        assert_eq!(
            ok("decrease authentik to 2 replicas")
                .parameters
                .replicas
                .unwrap()
                .get(),
            2
        );
    }

    #[test]
    fn typos_are_forgiven_when_clear() {
        let intent = ok("instal autentik");
        assert_eq!(
            (intent.action, intent.applications),
            (Action::Install, vec!["authentik".to_string()])
        );
        assert_eq!(ok("deploy postgress").applications, ["postgresql"]);
        assert_eq!(ok("upgrdae redis").action, Action::Upgrade);
    }

    #[test]
    fn unknown_apps_get_suggestions() {
        assert_eq!(
            ok("install redsi and postgrs").applications,
            ["redis", "postgresql"]
        );
        let err = parser().parse("install grafana and zzzqqq").unwrap_err();
        assert!(err.error.contains("'zzzqqq'"), "{err:?}");
        let err = parser().parse("install foobarbaz").unwrap_err();
        assert!(err.error.contains("'foobarbaz'"), "{err:?}");
    }

    #[test]
    fn replica_counts_are_bounded() {
        assert!(parser().parse("scale grafana to -3").is_err());
        assert!(parser().parse("scale grafana to -3 replicas").is_err());
        assert!(parser().parse("scale redis to 1000 replicas").is_err());
        assert!(parser().parse("install redis with 0 replicas").is_err());
        assert_eq!(ok("scale redis to 0").parameters.replicas.unwrap().get(), 0);
        assert_eq!(
            ok("scale redis to five").parameters.replicas.unwrap().get(),
            5
        );
    }

    #[test]
    fn platform_namespace_and_versions() {
        let intent = ok("install redis:7 on k8s in namespace cache");
        assert_eq!(intent.platform, Some(Platform::Kubernetes));
        assert_eq!(intent.namespace.unwrap().as_str(), "cache");
        let intent = ok("upgrade grafana to 11.2");
        assert_eq!(intent.parameters.version.unwrap().as_str(), "11.2");
        let intent = ok("install authentik version 2025.8.4 with docker compose");
        assert_eq!(intent.parameters.version.unwrap().as_str(), "2025.8.4");
        assert_eq!(intent.platform, Some(Platform::Compose));
        assert_eq!(ok("install uptime kuma").applications, ["uptime-kuma"]);
        assert_eq!(ok("install kuma").applications, ["uptime-kuma"]);
    }

    #[test]
    fn namespace_errors_suggest_a_valid_label() {
        let err = parser()
            .parse("install authentik in namespace Auth_Prod")
            .unwrap_err();
        assert!(err.error.contains("Auth_Prod"), "{err:?}");
        assert_eq!(err.suggestions, ["auth-prod"]);
    }

    #[test]
    fn urls_give_domain_and_tls() {
        let intent = ok("install grafana at https://grafana.example.org/");
        assert_eq!(
            intent.parameters.domain.unwrap().as_str(),
            "grafana.example.org"
        );
        assert_eq!(intent.parameters.tls, Some(true));
    }

    #[test]
    fn removal_scope_and_revisions() {
        let intent = ok("remove authentik and its dependencies");
        assert_eq!(
            (intent.action, intent.parameters.cascade),
            (Action::Remove, Some(true))
        );
        let intent = ok("remove redis and its data");
        assert_eq!(intent.parameters.delete_data, Some(true));
        assert_eq!(intent.parameters.cascade, None);
        let intent = ok("roll back grafana to revision 2");
        assert_eq!(
            (intent.action, intent.parameters.revision),
            (Action::Rollback, Some(2))
        );
        assert!(parser().parse("rollback grafana to revision 0").is_err());
        assert_eq!(
            ok("deploy wordpress with 20Gi storage")
                .parameters
                .delete_data,
            None
        );
        let intent = parser()
            .parse_with_releases(
                "remove authentik-postgresql",
                &["authentik-postgresql".into()],
            )
            .unwrap();
        assert_eq!(intent.applications, ["authentik-postgresql"]);
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "-",
            "- -",
            "scale",
            "namespace",
            "install in namespace",
            "é ñ 漢字 😀",
            "to to to",
            "version",
            "install redis version",
            "replicas=",
            "-9999999999999999999999 replicas",
            "https://",
            "domain .",
            "x".repeat(3000).as_str(),
        ] {
            let _ = parser().parse(text);
        }
    }
}
