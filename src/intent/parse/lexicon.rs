//! The rule parser's vocabulary: what each known word or phrase means.
//!
//! Only tables live here; [`super::classify`] applies them. A phrase of
//! several words is matched before its words alone ("get rid of" before
//! "get"), longest first. A word that is in none of these tables and is not a
//! catalogue name is *unknown*: where an application is expected it is an
//! error that names it, elsewhere it is reported as not used.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::intent::Platform;

/// The verbs (and verb-like frames) a request can start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Install,
    /// "need", "want", "I'd like", "get me", "can I get": install, unless
    /// another verb says what to do ("we need it for the alerting").
    Need,
    /// "put": install, or where to put what another clause named.
    Place,
    /// "run": install, or a scale with "N copies of X".
    Run,
    Remove,
    /// "kill": remove, but "kill the pods" may mean a restart: ask.
    Kill,
    Upgrade,
    /// "bump": upgrade, or a scale with a replica count.
    Bump,
    /// "move", "take", "go to": upgrade to a version, scale to a count; a
    /// namespace or platform is a move deckhand cannot do: ask.
    Move,
    /// "set", "change": scale with a count, upgrade with a version.
    Set,
    Scale,
    Rollback,
    /// "downgrade": to a version (an upgrade to an older one) or back (ask).
    Downgrade,
    Status,
    /// "bring up": install, or upgrade "to" a version, or scale to a count.
    BringUp,
    /// "stop", "shut down": scale to zero or remove? Ask.
    Stop,
    /// "replace X with Y": install Y and remove X, two requests: ask.
    Replace,
    /// Something deckhand does not do (restart, back up, …).
    Unsupported(&'static str),
    /// "promote grafana": a canary waiting between stages goes on.
    Promote,
    /// "abort the canary": an upgrade in flight stops and rolls back.
    Abort,
}

/// Prepositions that carry a namespace, a platform, a domain or an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prep {
    In,
    Into,
    To,
    From,
    On,
    At,
    For,
    Of,
    With,
    Via,
    Behind,
    By,
    Off,
}

/// A known word or phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lex {
    Verb(Verb),
    /// The first half of a phrasal verb said apart ("roll it back",
    /// "get vaultwarden running"): a verb only with its particle.
    Head(&'static str),
    /// The second half of a phrasal verb said apart ("roll it back").
    Particle(&'static str),
    Prep(Prep),
    /// "namespace", "ns", "-n", "--namespace".
    NsMarker,
    /// a, an, the, our, my, some…: skipped before an application.
    Det,
    /// Adjectives that may stand before an application ("old", "new").
    Adjective,
    /// "existing", "current": an application that is already there.
    Existing,
    /// it, them, that one.
    Pronoun,
    /// we, I, they, there's…: a clause about the world, not a request.
    Subject,
    /// is, was, broke, keeps, says…: a statement's verb.
    Finite,
    /// is, are, did, how, what, where, any…: a question.
    Question,
    /// can, could, would, will (with "you"): a polite request.
    Modal,
    /// you, someone, anybody.
    Addressee,
    And,
    Or,
    /// but, so, because, like (we did), as, while, unless…: a clause
    /// boundary; [`Lex::Subordinate`] ones start a clause that is context.
    But,
    Subordinate,
    Then,
    Also,
    /// without, no, not, disable.
    Negation,
    /// actually, wait, I meant, make it, rather.
    Correction,
    /// maybe, perhaps, possibly.
    Hedge,
    /// "never mind", "forget it": the request is taken back.
    Cancel,
    /// "logs", "tail": what deckhand does not show.
    Logs,
    /// keep, leave, don't touch, except.
    Protect,
    /// "instead of".
    InsteadOf,
    ReplicaWord,
    StorageWord,
    /// ram, memory, cpu: resources deckhand does not set from a sentence.
    ResourceWord,
    VersionWord,
    RevisionWord,
    /// "latest", "newest": the blueprint's default version.
    Latest,
    /// "the previous version", "the last upgrade": what a rollback undoes.
    Previous,
    /// host, domain, url.
    DomainWord,
    Tls,
    Ingress,
    Platform(Platform),
    /// "cluster": Kubernetes, when it is where things go.
    Cluster,
    /// zero … ninety, "single".
    NumberWord(i64),
    /// hundred, thousand, million, billion.
    Multiplier(i64),
    /// minus, negative.
    Minus,
    Unit(Unit),
    /// more, fewer, extra, another, double, half.
    Relative,
    /// a few, a couple, a lot, several, highly available.
    Vague,
    /// each, apiece.
    Each,
    /// Nouns an application name can qualify without being what is asked
    /// for ("the wordpress team", "the nextcloud backups").
    OwnerNoun,
    /// Nouns that name the release itself ("the n8n deployment", "the
    /// redis upgrade", "the minio pods").
    ReleaseNoun,
    /// "pods", "containers": what a kill or restart is about.
    PodNoun,
    /// A product suffix: "redis operator", "postgres exporter" name other products.
    ProductSuffix,
    /// Words of time ("tomorrow", "2pm", "last week").
    Time,
    /// Nouns counted by a number that is not a replica count ("12 people").
    CountNoun,
    /// A delivery strategy deckhand does not have ("A/B", "progressive").
    Strategy,
    /// canary, blue-green, rolling, recreate: how an upgrade rolls out.
    StrategyName(StrategyName),
    /// "autoscale", "autoscaling", "hpa": replicas between a minimum and a maximum.
    Autoscale,
    /// "at a time": the batch of a rolling upgrade ("two at a time").
    AtATime,
    /// "max surge", "max unavailable": a rolling upgrade's limits.
    RollingSetting(&'static str),
    /// "min", "max": autoscaling's bounds.
    Bound(&'static str),
    /// "everything", "all": every release (status) or too broad (others).
    Everything,
    /// "something", "stuff": no application named.
    Something,
    /// "running", "up", "down", "healthy", "ready": a state asked about.
    State,
    /// Politeness, greetings, discourse words.
    Filler,
}

/// The delivery strategies an upgrade may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrategyName {
    Canary,
    BlueGreen,
    Rolling,
    Recreate,
}

/// Storage units, as people say them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Ki,
    Mi,
    Gi,
    Ti,
    Pi,
    /// Kubernetes decimal suffixes, as written (`20G`).
    K,
    M,
    G,
    T,
}

impl Unit {
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Ki => "Ki",
            Unit::Mi => "Mi",
            Unit::Gi => "Gi",
            Unit::Ti => "Ti",
            Unit::Pi => "Pi",
            Unit::K => "k",
            Unit::M => "M",
            Unit::G => "G",
            Unit::T => "T",
        }
    }
    /// Bytes per unit, for the sanity bound.
    pub fn bytes(self) -> f64 {
        match self {
            Unit::Ki => 1024f64,
            Unit::Mi => 1024f64.powi(2),
            Unit::Gi => 1024f64.powi(3),
            Unit::Ti => 1024f64.powi(4),
            Unit::Pi => 1024f64.powi(5),
            Unit::K => 1e3,
            Unit::M => 1e6,
            Unit::G => 1e9,
            Unit::T => 1e12,
        }
    }
}

/// A unit word or suffix. People's "GB" means what Kubernetes calls `Gi`
/// (DESIGN.md: "50 gigs", "50GB", "50 GiB" → `50Gi`); the bare Kubernetes
/// suffixes `G`, `M`, `T` keep their decimal meaning.
pub fn unit(word: &str) -> Option<Unit> {
    Some(match word {
        "ki" | "kib" | "kb" | "kilobyte" | "kilobytes" => Unit::Ki,
        "mi" | "mib" | "mb" | "meg" | "megs" | "megabyte" | "megabytes" => Unit::Mi,
        "gi" | "gib" | "gb" | "gig" | "gigs" | "gigabyte" | "gigabytes" | "gbs" => Unit::Gi,
        "ti" | "tib" | "tb" | "tera" | "terabyte" | "terabytes" | "tbs" => Unit::Ti,
        "pi" | "pib" | "pb" | "petabyte" | "petabytes" => Unit::Pi,
        _ => return None,
    })
}

/// The unit of a size written as one word ("50GB", "20Gi", "20G").
pub fn unit_suffix(suffix: &str) -> Option<Unit> {
    match suffix {
        "k" => Some(Unit::K),
        "M" => Some(Unit::M),
        "G" => Some(Unit::G),
        "T" => Some(Unit::T),
        other => unit(&other.to_ascii_lowercase()),
    }
}

/// One word's meaning, if it has one (a hash lookup in [`super::words::WORDS`]).
pub fn word(word: &str) -> Option<Lex> {
    static INDEX: LazyLock<HashMap<&'static str, Lex>> = LazyLock::new(|| {
        let mut index = HashMap::new();
        for (words, lex) in super::words::WORDS
            .iter()
            .chain(super::more_words::MORE_WORDS)
        {
            for word in *words {
                let previous = index.insert(*word, *lex);
                debug_assert!(
                    previous.is_none(),
                    "'{word}' has two meanings in the lexicon"
                );
            }
        }
        index
    });
    INDEX.get(word).copied()
}

/// The verb of a past participle ("removed", "bumped", "scaled", "gone"):
/// what someone wants done to an application ("legal want nextcloud removed").
pub fn participle(word: &str) -> Option<Verb> {
    if word == "gone" {
        return Some(Verb::Remove);
    }
    let stem = word.strip_suffix("ed")?;
    let doubled = stem
        .len()
        .checked_sub(1)
        .filter(|&n| n > 0 && stem.as_bytes()[n] == stem.as_bytes()[n - 1])
        .map(|n| &stem[..n]);
    [Some(&word[..word.len() - 1]), Some(stem), doubled]
        .into_iter()
        .flatten()
        .find_map(|stem| match self::word(stem) {
            Some(Lex::Verb(verb)) if !matches!(verb, Verb::Need | Verb::Place) => Some(verb),
            _ => None,
        })
}

/// Verbs a misspelt word may be forgiven into (short ones like "add" or
/// "run" are too close to ordinary words to guess at).
pub const FUZZY_VERBS: &[(&str, Verb)] = &[
    ("install", Verb::Install),
    ("deploy", Verb::Install),
    ("launch", Verb::Install),
    ("provision", Verb::Install),
    ("remove", Verb::Remove),
    ("uninstall", Verb::Remove),
    ("delete", Verb::Remove),
    ("destroy", Verb::Remove),
    ("decommission", Verb::Remove),
    ("upgrade", Verb::Upgrade),
    ("update", Verb::Upgrade),
    ("scale", Verb::Scale),
    ("resize", Verb::Scale),
    ("rollback", Verb::Rollback),
    ("revert", Verb::Rollback),
    ("status", Verb::Status),
    ("promote", Verb::Promote),
    ("abort", Verb::Abort),
];

/// The one verb a misspelt word is clearly meant to be ("instll", "upgarde").
pub fn fuzzy_verb(word: &str) -> Option<Verb> {
    let length = word.chars().count();
    if length < 4 || !word.chars().all(char::is_alphabetic) {
        return None;
    }
    let allowed = if length <= 6 { 1 } else { 2 };
    let mut best: Option<(usize, Verb)> = None;
    let mut tie = false;
    for (verb, meaning) in FUZZY_VERBS {
        let distance = strsim::damerau_levenshtein(word, verb);
        if distance > allowed {
            continue;
        }
        match best {
            Some((d, m)) if distance == d && m != *meaning => tie = true,
            Some((d, _)) if distance >= d => {}
            _ => {
                best = Some((distance, *meaning));
                tie = false;
            }
        }
    }
    best.filter(|_| !tie).map(|(_, v)| v)
}

/// "autoscael", "autoscle": the word "autoscale" misspelt by one or two
/// letters where a verb stands.
pub fn is_fuzzy_autoscale(word: &str) -> bool {
    word.chars().count() >= 7
        && word.chars().all(char::is_alphabetic)
        && strsim::damerau_levenshtein(word, "autoscale") <= 2
}

/// Words that are ordinary English a typo must not be forgiven into an
/// application from ("granted" is not "grafana").
pub fn is_common_word(word: &str) -> bool {
    matches!(
        word,
        "please"
            | "thanks"
            | "there"
            | "where"
            | "these"
            | "those"
            | "about"
            | "after"
            | "again"
            | "before"
            | "being"
            | "could"
            | "would"
            | "should"
            | "other"
            | "which"
            | "while"
            | "their"
            | "think"
            | "today"
            | "under"
            | "until"
            | "using"
            | "doing"
            | "going"
            | "prefer"
            | "preferably"
            | "mongoose"
            | "engine"
            | "engines"
            | "nights"
            | "traffic"
            | "tragic"
            | "granted"
            | "minion"
            | "mango"
            | "mario"
            | "marie"
            | "reading"
            | "radish"
            | "morning"
            | "workers"
            | "worker"
            | "ingresses"
            | "redirect"
            | "posts"
            | "graph"
            | "graphs"
            | "promise"
            | "prompt"
            | "mariachi"
            | "minions"
            | "minimal"
            | "minimum"
            | "maximum"
            | "radius"
            | "rapids"
            | "nginxs"
    )
}
