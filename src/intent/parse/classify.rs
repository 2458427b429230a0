//! Stage 2 of the rule parser: tokens become classified [`Word`]s.
//!
//! Each word (one token, or a phrase of several) gets one [`Kind`]: a known
//! word of the [`lexicon`](super::lexicon), a catalogue application (by name,
//! alias, a hyphenated name written as two words, a recorded release name),
//! a product that is not in the catalogue, a catalogue keyword ("sso",
//! "git"), a number, a size, a version, a host name, a URL, punctuation, or
//! unknown. Numbers said in words are put together here ("one million",
//! "minus one", "twenty five"), and so are sizes ("50 gigs"). Nothing is
//! decided about the request yet: that is [`super::clauses`] and
//! [`super::assemble`].

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::lexicon::{self, Lex, Unit};
use super::tokens::{Token, TokenKind};

/// One classified word of the sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub kind: Kind,
    /// As written (a phrase: its words joined by single spaces).
    pub text: String,
    pub lower: String,
    /// Character offsets in the sentence.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Lex(Lex),
    /// A catalogue entry (canonical name); `typo` when forgiven from a misspelling.
    App {
        name: String,
        typo: bool,
    },
    /// A product people ask for that is not in the catalogue.
    Product {
        name: &'static str,
        similar: &'static [&'static str],
    },
    /// A word that names a kind of application: the entries it may mean.
    Keyword(Vec<String>),
    Number(Number),
    /// A size: the number as written and its unit.
    Size {
        number: String,
        unit: Unit,
    },
    /// A version-like word: `1.22.4`, `v17`, `RELEASE.2025-…`, `2.0.0-beta.1`.
    Version(String),
    Domain(String),
    /// `70%`.
    Percent(u32),
    /// `10/25/50/100` or `2-10`: a list or a range of numbers said as one word.
    Numbers(Vec<u32>),
    /// `https://host/path`.
    Url {
        host: String,
        https: bool,
        path: String,
    },
    Punct(char),
    Unknown {
        /// The application a misspelling would be forgiven into, if any.
        typo_of: Option<String>,
        /// Its edit distance (1 or 2; 0 without a typo).
        distance: usize,
    },
}

/// A number, as said: digits or words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Integer(i64),
    /// Has a fractional part ("2.5").
    Fraction(f64),
    /// Too many digits for any count.
    TooLarge,
}

impl Word {
    pub fn lex(&self) -> Option<Lex> {
        match self.kind {
            Kind::Lex(lex) => Some(lex),
            _ => None,
        }
    }
    pub fn is(&self, lex: Lex) -> bool {
        self.lex() == Some(lex)
    }
    pub fn app(&self) -> Option<&str> {
        match &self.kind {
            Kind::App { name, .. } => Some(name),
            _ => None,
        }
    }
    pub fn is_punct(&self) -> bool {
        matches!(self.kind, Kind::Punct(_))
    }
    pub fn punct(&self) -> Option<char> {
        match self.kind {
            Kind::Punct(c) => Some(c),
            _ => None,
        }
    }
    pub fn integer(&self) -> Option<i64> {
        match self.kind {
            Kind::Number(Number::Integer(n)) => Some(n),
            _ => None,
        }
    }
    pub fn is_number(&self) -> bool {
        matches!(self.kind, Kind::Number(_))
    }
    /// A number, size, version, host name or URL: a value that must be used.
    pub fn is_value_token(&self) -> bool {
        matches!(
            self.kind,
            Kind::Number(_)
                | Kind::Size { .. }
                | Kind::Version(_)
                | Kind::Domain(_)
                | Kind::Url { .. }
        )
    }
}

/// What the classifier knows about the catalogue.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Name or alias (lower case) → canonical name.
    pub spellings: HashMap<String, String>,
    /// Every spelling, for typo matching, sorted.
    pub typo_targets: Vec<(String, String)>,
    /// Keyword → the entries it may mean.
    pub keywords: HashMap<String, Vec<String>>,
    /// Catalogue names that are ordinary words too ("database"): the name
    /// only with "blueprint" or "template" after it, else the entries the
    /// word may mean.
    pub common_names: HashMap<String, Vec<String>>,
}

static DOTTED_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^v?[0-9]+(\.[0-9]+)+([-+][0-9a-z.\-]+)?$").expect("valid regex"));
static TAGGED_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^v?[0-9]+(\.[0-9]+)*-[0-9a-z][0-9a-z.\-]*$").expect("valid regex")
});
static V_NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^v[0-9]+$").expect("valid regex"));
static SIZE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(-?[0-9]+(?:\.[0-9]+)?)([A-Za-z]{1,9})$").expect("valid regex"));
static TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^([0-9]{1,2}(:[0-9]{2})?(am|pm)|[0-9]{1,2}:[0-9]{2}|[0-9]+(h|min|mins|s|d|m|w)|q[1-4])$",
    )
    .expect("valid regex")
});
static NUMBER_LIST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9]{1,3}([/-][0-9]{1,3})+%?$").expect("valid regex"));
static HOST_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([a-z0-9\-]*[a-z0-9])?$").expect("valid regex"));

/// Endings that make a dotted word a file, not a host.
const FILE_ENDINGS: &[&str] = &[
    "yaml", "yml", "json", "txt", "md", "sh", "conf", "env", "toml", "ini", "log", "sql", "tar",
    "gz", "zip", "py", "rs", "js", "go",
];

/// Phrases that name products not in the catalogue.
const PRODUCT_PHRASES: &[(&[&str], &str, &[&str])] = &[
    (
        &["nginx", "ingress", "controller"],
        "the NGINX ingress controller",
        &["traefik"],
    ),
    (
        &["nginx", "ingress"],
        "the NGINX ingress controller",
        &["traefik"],
    ),
    (
        &["ingress", "controller"],
        "an ingress controller",
        &["traefik"],
    ),
    (
        &["nginx", "proxy", "manager"],
        "nginx proxy manager",
        &["nginx", "traefik"],
    ),
    (
        &["kube", "prometheus", "stack"],
        "kube-prometheus-stack",
        &["prometheus", "grafana"],
    ),
    (&["node", "exporter"], "node-exporter", &["prometheus"]),
    (&["home", "assistant"], "home-assistant", &[]),
    (&["node", "red"], "node-red", &["n8n"]),
    (&["rocket", "chat"], "rocket.chat", &[]),
    (&["hashicorp", "vault"], "vault", &["vaultwarden"]),
];

/// Phrases that name a kind of application: the entries they may mean.
const KEYWORD_PHRASES: &[(&[&str], &[&str])] = &[
    (&["object", "storage"], &["minio"]),
    (&["password", "manager"], &["vaultwarden"]),
    (&["git", "server"], &["gitea"]),
    (&["git", "hosting"], &["gitea"]),
    (&["reverse", "proxy"], &["traefik", "nginx"]),
    (&["load", "balancer"], &["traefik", "nginx"]),
    (&["web", "server"], &["nginx"]),
    (&["status", "page"], &["uptime-kuma"]),
    (&["identity", "provider"], &["authentik", "keycloak"]),
    (&["single", "sign", "on"], &["authentik", "keycloak"]),
    (&["file", "sharing"], &["nextcloud"]),
];

/// Classifies tokens. `releases` are recorded release names that count as
/// applications ("authentik-postgresql").
pub fn classify(tokens: &[Token], vocabulary: &Vocabulary, releases: &[String]) -> Vec<Word> {
    let mut words: Vec<Word> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        match token.kind {
            TokenKind::Punct(c) => {
                words.push(word_of(tokens, i, 1, Kind::Punct(c)));
                i += 1;
                continue;
            }
            TokenKind::Url => {
                words.push(word_of(tokens, i, 1, url(&token.lower)));
                i += 1;
                continue;
            }
            TokenKind::Word => {}
        }
        // A hyphenated catalogue name written as two words ("uptime kuma").
        if let Some(next) = tokens.get(i + 1).filter(|t| t.kind == TokenKind::Word) {
            let mut joined = String::with_capacity(token.lower.len() + next.lower.len() + 1);
            joined.push_str(&token.lower);
            joined.push('-');
            joined.push_str(&next.lower);
            let mut name = vocabulary.spellings.get(&joined);
            if name.is_none() {
                joined.remove(token.lower.len());
                name = vocabulary.spellings.get(&joined);
            }
            // "status grafana prometheus": two applications, not the stack
            // named after both ("the prometheus grafana stack" is the stack).
            let two_apps = vocabulary.spellings.contains_key(&token.lower)
                && vocabulary.spellings.contains_key(&next.lower)
                && !tokens
                    .get(i + 2)
                    .is_some_and(|t| matches!(t.lower.as_str(), "stack" | "stacks"));
            if let Some(name) = name.filter(|_| !two_apps) {
                words.push(word_of(
                    tokens,
                    i,
                    2,
                    Kind::App {
                        name: name.clone(),
                        typo: false,
                    },
                ));
                i += 2;
                continue;
            }
        }
        if let Some((len, name, similar)) = product_phrase(tokens, i) {
            words.push(word_of(tokens, i, len, Kind::Product { name, similar }));
            i += len;
            continue;
        }
        if let Some((phrase, names)) = KEYWORD_PHRASES
            .iter()
            .find(|(phrase, _)| phrase_matches(tokens, i, phrase))
        {
            let names = names.iter().map(|n| n.to_string()).collect();
            words.push(word_of(tokens, i, phrase.len(), Kind::Keyword(names)));
            i += phrase.len();
            continue;
        }
        if let Some((len, lex)) = lexicon_phrase(tokens, i) {
            words.push(word_of(tokens, i, len, Kind::Lex(lex)));
            i += len;
            continue;
        }
        let kind = single(&token.lower, vocabulary, releases, words.last());
        words.push(word_of(tokens, i, 1, kind));
        i += 1;
    }
    combine_numbers(&mut words);
    // "we need a database": a kind of application, unless "the database
    // blueprint" or "install database" (the name right after the verb, as
    // in a command line) names the template.
    for i in 0..words.len() {
        let Some(names) = vocabulary.common_names.get(&words[i].lower) else {
            continue;
        };
        let named = words
            .get(i + 1)
            .is_some_and(|n| matches!(n.lower.as_str(), "blueprint" | "template"))
            || (i > 0 && matches!(words[i - 1].lex(), Some(Lex::Verb(_))));
        if words[i].app().is_some() && !named {
            words[i].kind = Kind::Keyword(names.clone());
        }
    }
    // "docker compose up -d n8n", "compose down": the compose verbs.
    for i in 1..words.len() {
        if words[i - 1].is(Lex::Platform(crate::intent::Platform::Compose)) {
            match words[i].lex() {
                Some(Lex::Particle("up")) => {
                    words[i].kind = Kind::Lex(Lex::Verb(lexicon::Verb::Install))
                }
                Some(Lex::Particle("down")) => {
                    words[i].kind = Kind::Lex(Lex::Verb(lexicon::Verb::Remove))
                }
                _ => {}
            }
        }
    }
    // "a new one", "another one", "the old one": the application talked about.
    for i in 1..words.len() {
        let counted = words.get(i + 1).is_some_and(|n| {
            matches!(
                n.lex(),
                Some(Lex::ReplicaWord | Lex::CountNoun | Lex::OwnerNoun)
            )
        });
        if words[i].lower == "one"
            && !counted
            && (matches!(
                words[i - 1].lex(),
                Some(Lex::Det | Lex::Adjective | Lex::Relative)
            ) && words[i - 1].lower != "a")
        {
            words[i].kind = Kind::Lex(Lex::Pronoun);
        }
    }
    // "until 5 replicas", "till 3": a target, not a time.
    for i in 0..words.len().saturating_sub(1) {
        if matches!(words[i].lower.as_str(), "until" | "till") && words[i + 1].is_number() {
            words[i].kind = Kind::Lex(Lex::Prep(lexicon::Prep::To));
        }
    }
    words
}

fn word_of(tokens: &[Token], at: usize, len: usize, kind: Kind) -> Word {
    let span = &tokens[at..at + len];
    let text = span
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let lower = text.to_lowercase();
    Word {
        kind,
        text,
        lower,
        start: span[0].start,
        end: span[len - 1].end,
    }
}

fn phrase_matches(tokens: &[Token], at: usize, phrase: &[&str]) -> bool {
    at + phrase.len() <= tokens.len()
        && phrase
            .iter()
            .zip(&tokens[at..])
            .all(|(p, t)| t.kind == TokenKind::Word && t.lower == *p)
}

fn lexicon_phrase(tokens: &[Token], at: usize) -> Option<(usize, Lex)> {
    /// A phrase and what it means.
    type Phrase = (&'static [&'static str], Lex);
    /// The phrases by their first word.
    static BY_FIRST: LazyLock<HashMap<&'static str, Vec<Phrase>>> = LazyLock::new(|| {
        let mut index: HashMap<&str, Vec<_>> = HashMap::new();
        for (phrase, lex) in super::phrases::PHRASES {
            index.entry(phrase[0]).or_default().push((*phrase, *lex));
        }
        index
    });
    BY_FIRST
        .get(tokens[at].lower.as_str())?
        .iter()
        .filter(|(phrase, _)| phrase_matches(tokens, at, phrase))
        .max_by_key(|(phrase, _)| phrase.len())
        .map(|(phrase, lex)| (phrase.len(), *lex))
}

fn product_phrase(
    tokens: &[Token],
    at: usize,
) -> Option<(usize, &'static str, &'static [&'static str])> {
    PRODUCT_PHRASES
        .iter()
        .find(|(phrase, _, _)| phrase_matches(tokens, at, phrase))
        .map(|(phrase, name, similar)| (phrase.len(), *name, *similar))
}

/// One token's kind.
fn single(
    word: &str,
    vocabulary: &Vocabulary,
    releases: &[String],
    previous: Option<&Word>,
) -> Kind {
    // Command-line flags read as their words: "--tls", "--replicas", "--namespace".
    if let Some(flag) = word.strip_prefix("--")
        && !flag.is_empty()
        && word != "--namespace"
    {
        let kind = single(flag, vocabulary, releases, previous);
        if !matches!(kind, Kind::Unknown { .. }) {
            return kind;
        }
    }
    if matches!(word, "->" | "=>" | "\u{2192}") {
        return Kind::Lex(Lex::Prep(lexicon::Prep::To));
    }
    // "deploy/nginx", "sts/redis": a Kubernetes object of an application.
    if let Some((_, name)) = word.rsplit_once('/')
        && let Some(app) = vocabulary.spellings.get(name)
    {
        return Kind::App {
            name: app.clone(),
            typo: false,
        };
    }
    let bare = word.strip_suffix("'s").unwrap_or(word);
    // "last night's", "yesterday's": time
    if bare != word && matches!(lexicon::word(bare), Some(Lex::Time)) {
        return Kind::Lex(Lex::Time);
    }
    // "the postgres database": a noun after an application, not the template.
    let after_app = previous.is_some_and(|p| p.app().is_some());
    if let Some(name) = vocabulary.spellings.get(bare)
        && !(after_app && matches!(lexicon::word(bare), Some(Lex::ReleaseNoun)))
    {
        return Kind::App {
            name: name.clone(),
            typo: false,
        };
    }
    if releases.iter().any(|r| r == word) {
        return Kind::App {
            name: word.to_string(),
            typo: false,
        };
    }
    if let Some((name, similar)) = super::products::product_not_in_catalogue(bare) {
        return Kind::Product { name, similar };
    }
    if let Some(lex) = lexicon::word(word) {
        return Kind::Lex(lex);
    }
    if let Some(number) = number(word) {
        return Kind::Number(number);
    }
    if TIME.is_match(word) {
        return Kind::Lex(Lex::Time);
    }
    if let Some(percent) = word.strip_suffix('%').and_then(|n| n.parse::<u32>().ok()) {
        return Kind::Percent(percent);
    }
    // "2..20": a range said the way code writes it
    if let Some((low, high)) = word
        .split_once("..")
        .or_else(|| word.split_once('\u{2013}'))
        && let (Ok(low), Ok(high)) = (low.parse::<u32>(), high.parse::<u32>())
    {
        return Kind::Numbers(vec![low, high]);
    }
    if NUMBER_LIST.is_match(word) {
        let numbers = word
            .trim_end_matches('%')
            .split(['/', '-'])
            .filter_map(|n| n.parse().ok())
            .collect();
        return Kind::Numbers(numbers);
    }
    if DOTTED_VERSION.is_match(word)
        || TAGGED_VERSION.is_match(word)
        || V_NUMBER.is_match(word)
        || word.starts_with("release.")
    {
        return Kind::Version(word.to_string());
    }
    if let Some(caps) = SIZE.captures(word)
        && let Some(unit) = lexicon::unit_suffix(&caps[2]).or_else(|| small_unit(&caps[2]))
    {
        return Kind::Size {
            number: caps[1].to_string(),
            unit,
        };
    }
    if let Some(host) = host_name(word) {
        return Kind::Domain(host);
    }
    if let Some(names) = vocabulary.keywords.get(bare) {
        return Kind::Keyword(names.clone());
    }
    match typo_of(bare, vocabulary) {
        Some((name, distance)) => Kind::Unknown {
            typo_of: Some(name),
            distance,
        },
        None => Kind::Unknown {
            typo_of: None,
            distance: 0,
        },
    }
}

/// "g" and "t" said in lower case mean what people mean by GB and TB.
fn small_unit(suffix: &str) -> Option<Unit> {
    match suffix {
        "g" => Some(Unit::Gi),
        "t" => Some(Unit::Ti),
        _ => None,
    }
}

/// A count in digits, possibly negative or with a fraction.
fn number(word: &str) -> Option<Number> {
    let digits = word.strip_prefix('-').unwrap_or(word);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if !digits.starts_with(|c: char| c.is_ascii_digit()) || digits.matches('.').count() > 1 {
        return None;
    }
    let negative = word.starts_with('-');
    if digits.contains('.') {
        let value: f64 = digits.parse().ok()?;
        return Some(Number::Fraction(if negative { -value } else { value }));
    }
    Some(match digits.parse::<i64>() {
        Ok(n) if negative => Number::Integer(-n),
        Ok(n) => Number::Integer(n),
        Err(_) => Number::TooLarge,
    })
}

/// A host name with an alphabetic top-level label ("git.example.org").
fn host_name(word: &str) -> Option<String> {
    let host = word.trim_end_matches('.');
    let labels: Vec<&str> = host.split('.').collect();
    let last = labels.last()?;
    if labels.len() < 2
        || last.len() < 2
        || !last.chars().all(|c| c.is_ascii_alphabetic())
        || FILE_ENDINGS.contains(last)
        || !labels.iter().all(|l| HOST_LABEL.is_match(l))
    {
        return None;
    }
    Some(host.to_string())
}

fn url(lower: &str) -> Kind {
    let https = lower.starts_with("https://");
    let rest = lower.split_once("://").map_or(lower, |(_, r)| r);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .split(':')
        .next()
        .unwrap_or_default()
        .to_string();
    Kind::Url {
        host,
        https,
        path: path.trim_end_matches('/').to_string(),
    }
}

/// The one catalogue entry a misspelt word is clearly meant to be: within a
/// small edit distance of exactly one entry, and not an ordinary word.
fn typo_of(word: &str, vocabulary: &Vocabulary) -> Option<(String, usize)> {
    let length = word.chars().count();
    if length < 5
        || lexicon::is_common_word(word)
        || !word.chars().all(|c| c.is_alphanumeric() || c == '-')
    {
        return None;
    }
    let allowed = if length <= 6 { 1 } else { 2 };
    let mut best: Option<(usize, &str)> = None;
    let mut tie = false;
    for (spelling, name) in &vocabulary.typo_targets {
        // An edit distance is at least the difference in length.
        if spelling.len().abs_diff(word.len()) > allowed {
            continue;
        }
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
        Some((distance, name)) if !tie => Some((name.to_string(), distance)),
        _ => None,
    }
}

/// Puts numbers said in words together: "one million" → 1000000, "twenty
/// five" → 25, "minus one" → -1, "-" "2" stays as written.
fn combine_numbers(words: &mut Vec<Word>) {
    let mut i = 0;
    while i < words.len() {
        let Some(Lex::NumberWord(n)) = words[i].lex() else {
            i += 1;
            continue;
        };
        let mut value = n;
        let mut end = i + 1;
        // "twenty five"
        if (20..=90).contains(&n)
            && n % 10 == 0
            && let Some(Lex::NumberWord(units)) = words.get(end).and_then(Word::lex)
            && (1..=9).contains(&units)
        {
            value += units;
            end += 1;
        }
        // "two hundred", "one million"
        while let Some(Lex::Multiplier(m)) = words.get(end).and_then(Word::lex) {
            value = value.saturating_mul(m);
            end += 1;
        }
        let mut start = i;
        // "minus one"
        if i > 0 && words[i - 1].is(Lex::Minus) {
            value = -value;
            start = i - 1;
        }
        if end - start > 1 || value != n {
            let merged = Word {
                kind: Kind::Number(Number::Integer(value)),
                text: words[start..end]
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                lower: String::new(),
                start: words[start].start,
                end: words[end - 1].end,
            };
            let lower = merged.text.to_lowercase();
            words.splice(start..end, [Word { lower, ..merged }]);
            i = start + 1;
        } else {
            words[i].kind = Kind::Number(Number::Integer(n));
            i += 1;
        }
    }
    // Digits with a multiplier ("3 million"), and sizes said in two words ("50 gigs").
    let mut i = 0;
    while i + 1 < words.len() {
        let next_lex = words[i + 1].lex();
        match (&words[i].kind, next_lex) {
            (Kind::Number(Number::Integer(n)), Some(Lex::Multiplier(m))) => {
                let value = n.saturating_mul(m);
                merge_pair(words, i, Kind::Number(Number::Integer(value)));
            }
            (Kind::Number(_), _) => {
                if let Some(unit) = lexicon::unit(&words[i + 1].lower) {
                    // "one terabyte": a number said in words is written in digits.
                    let number = match &words[i].kind {
                        Kind::Number(Number::Integer(n))
                            if !words[i].text.chars().all(|c| c.is_ascii_digit()) =>
                        {
                            n.to_string()
                        }
                        _ => words[i].text.clone(),
                    };
                    merge_pair(words, i, Kind::Size { number, unit });
                }
            }
            _ => {}
        }
        i += 1;
    }
}

fn merge_pair(words: &mut Vec<Word>, i: usize, kind: Kind) {
    let text = format!("{} {}", words[i].text, words[i + 1].text);
    let merged = Word {
        kind,
        lower: text.to_lowercase(),
        text,
        start: words[i].start,
        end: words[i + 1].end,
    };
    words.splice(i..i + 2, [merged]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::parse::tokens::tokenize;

    fn vocabulary() -> Vocabulary {
        let mut v = Vocabulary::default();
        for (spelling, name) in [
            ("grafana", "grafana"),
            ("uptime-kuma", "uptime-kuma"),
            ("postgres", "postgresql"),
            ("postgresql", "postgresql"),
            ("database", "database"),
        ] {
            v.spellings.insert(spelling.into(), name.into());
            v.typo_targets.push((spelling.into(), name.into()));
        }
        v.keywords.insert("sso".into(), vec!["authentik".into()]);
        v
    }

    fn kinds(text: &str) -> Vec<Kind> {
        classify(&tokenize(text), &vocabulary(), &[])
            .into_iter()
            .map(|w| w.kind)
            .collect()
    }

    #[test]
    fn numbers_sizes_versions_and_hosts() {
        assert_eq!(
            kinds(
                "one million -2 2.5 50 gigs 20Gi v1.2 RELEASE.2025-09-07T16-13-09Z git.example.org"
            ),
            vec![
                Kind::Number(Number::Integer(1_000_000)),
                Kind::Number(Number::Integer(-2)),
                Kind::Number(Number::Fraction(2.5)),
                Kind::Size {
                    number: "50".into(),
                    unit: Unit::Gi
                },
                Kind::Size {
                    number: "20".into(),
                    unit: Unit::Gi
                },
                Kind::Version("v1.2".into()),
                Kind::Version("release.2025-09-07t16-13-09z".into()),
                Kind::Domain("git.example.org".into()),
            ]
        );
        assert_eq!(
            kinds("minus one twenty five 9999999999999999999999999"),
            vec![
                Kind::Number(Number::Integer(-1)),
                Kind::Number(Number::Integer(25)),
                Kind::Number(Number::TooLarge),
            ]
        );
    }

    #[test]
    fn applications_products_keywords_and_typos() {
        assert_eq!(
            kinds("uptime kuma grafna loki sso values.yaml"),
            vec![
                Kind::App {
                    name: "uptime-kuma".into(),
                    typo: false
                },
                Kind::Unknown {
                    typo_of: Some("grafana".into()),
                    distance: 1
                },
                Kind::Product {
                    name: "loki",
                    similar: &["grafana", "prometheus"]
                },
                Kind::Keyword(vec!["authentik".into()]),
                Kind::Unknown {
                    typo_of: None,
                    distance: 0
                },
            ]
        );
        // "the postgres database" is a noun after an application.
        assert_eq!(kinds("postgres database")[1], Kind::Lex(Lex::ReleaseNoun));
        assert_eq!(
            kinds("grafana-operator")[0],
            Kind::Unknown {
                typo_of: None,
                distance: 0
            }
        );
    }

    #[test]
    fn phrases_win_over_their_words() {
        assert_eq!(
            kinds("get rid of")[0],
            Kind::Lex(Lex::Verb(lexicon::Verb::Remove))
        );
        assert_eq!(kinds("let's encrypt")[0], Kind::Lex(Lex::Tls));
    }
}
