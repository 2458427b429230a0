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
    /// canary, blue-green, rolling, autoscale: delivery strategies.
    Strategy,
    /// "everything", "all": every release (status) or too broad (others).
    Everything,
    /// "something", "stuff": no application named.
    Something,
    /// "running", "up", "down", "healthy", "ready": a state asked about.
    State,
    /// Politeness, greetings, discourse words.
    Filler,
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

/// Every single word with a meaning here. Every word has one class; its
/// other readings come from where it stands (a verb after "the" is a noun:
/// "the gitea upgrade").
pub const WORDS: &[(&[&str], Lex)] = &[
    // install
    (
        &[
            "install",
            "deploy",
            "setup",
            "provision",
            "launch",
            "create",
            "add",
            "ship",
            "bootstrap",
            "start",
            "rollout",
            "instantiate",
        ],
        Lex::Verb(Verb::Install),
    ),
    (
        &["installing", "deploying", "provisioning"],
        Lex::Verb(Verb::Install),
    ),
    (
        &[
            "need",
            "want",
            "needs",
            "wants",
            "needing",
            "wanting",
            "request",
            "requesting",
        ],
        Lex::Verb(Verb::Need),
    ),
    (&["place", "expose"], Lex::Verb(Verb::Place)),
    (&["run"], Lex::Verb(Verb::Run)),
    // remove
    (
        &[
            "remove",
            "uninstall",
            "delete",
            "destroy",
            "teardown",
            "nuke",
            "decommission",
            "decom",
            "purge",
            "drop",
            "rm",
            "retire",
            "scrap",
            "trash",
            "erase",
            "eliminate",
            "deprovision",
            "undeploy",
        ],
        Lex::Verb(Verb::Remove),
    ),
    (
        &["removing", "uninstalling", "deleting"],
        Lex::Verb(Verb::Remove),
    ),
    (&["kill"], Lex::Verb(Verb::Kill)),
    // upgrade
    (
        &[
            "upgrade",
            "update",
            "patch",
            "upgrading",
            "updating",
            "refresh",
        ],
        Lex::Verb(Verb::Upgrade),
    ),
    (&["bump"], Lex::Verb(Verb::Bump)),
    (&["move", "switch"], Lex::Verb(Verb::Move)),
    (&["set", "change", "make"], Lex::Verb(Verb::Set)),
    (&["downgrade"], Lex::Verb(Verb::Downgrade)),
    // scale
    (
        &[
            "scale", "resize", "increase", "decrease", "reduce", "raise", "lower", "grow",
            "shrink", "expand",
        ],
        Lex::Verb(Verb::Scale),
    ),
    // rollback
    (
        &["rollback", "revert", "undo", "reverting"],
        Lex::Verb(Verb::Rollback),
    ),
    // status
    (
        &[
            "status", "show", "list", "check", "inspect", "describe", "statuses",
        ],
        Lex::Verb(Verb::Status),
    ),
    // ask back, or not something deckhand does
    (&["stop", "halt", "pause", "suspend"], Lex::Verb(Verb::Stop)),
    (&["replace", "swap"], Lex::Verb(Verb::Replace)),
    (
        &[
            "restart", "reboot", "bounce", "redeploy", "recycle", "reload",
        ],
        Lex::Verb(Verb::Unsupported("restart")),
    ),
    (
        &["backup", "snapshot"],
        Lex::Verb(Verb::Unsupported("back up")),
    ),
    (&["restore"], Lex::Verb(Verb::Unsupported("restore"))),
    (&["migrate"], Lex::Verb(Verb::Unsupported("migrate"))),
    (
        &["clone", "duplicate", "copy"],
        Lex::Verb(Verb::Unsupported("copy")),
    ),
    (&["reinstall"], Lex::Verb(Verb::Unsupported("reinstall"))),
    (
        &["rotate", "renew"],
        Lex::Verb(Verb::Unsupported("rotate or renew certificates")),
    ),
    (&["rename"], Lex::Verb(Verb::Unsupported("rename"))),
    (
        &["configure", "reconfigure", "tune"],
        Lex::Verb(Verb::Unsupported("configure")),
    ),
    (
        &["debug", "fix", "repair", "troubleshoot"],
        Lex::Verb(Verb::Unsupported("fix")),
    ),
    (
        &["resume", "unpause"],
        Lex::Verb(Verb::Unsupported("resume")),
    ),
    (&["logs", "log", "tail", "stdout", "stderr"], Lex::Logs),
    (
        &["exec", "ssh", "attach", "port-forward", "shell"],
        Lex::Verb(Verb::Unsupported("open a shell or a port")),
    ),
    // phrasal verbs said apart ("roll it back")
    // phrasal verbs said apart ("roll it back"): a verb only with its particle
    (&["roll"], Lex::Head("roll")),
    (&["spin"], Lex::Head("spin")),
    (&["tear"], Lex::Head("tear")),
    (&["fire"], Lex::Head("fire")),
    (&["stand"], Lex::Head("stand")),
    (&["bring"], Lex::Head("bring")),
    (&["rip"], Lex::Head("rip")),
    (&["shut"], Lex::Head("shut")),
    (&["wipe"], Lex::Head("wipe")),
    (&["boot"], Lex::Head("boot")),
    (&["kick"], Lex::Head("kick")),
    (&["get"], Lex::Head("get")),
    (&["turn"], Lex::Head("turn")),
    (&["put"], Lex::Head("put")),
    (&["take"], Lex::Head("take")),
    (&["clean"], Lex::Head("clean")),
    (&["bin"], Lex::Head("bin")),
    (&["back"], Lex::Particle("back")),
    (&["up"], Lex::Particle("up")),
    (&["down"], Lex::Particle("down")),
    (&["out"], Lex::Particle("out")),
    (&["forward"], Lex::Particle("forward")),
    (&["running"], Lex::Particle("running")),
    // prepositions
    (&["in", "inside", "within"], Lex::Prep(Prep::In)),
    (&["into"], Lex::Prep(Prep::Into)),
    (&["to", "onto", "towards"], Lex::Prep(Prep::To)),
    (&["from"], Lex::Prep(Prep::From)),
    (&["on"], Lex::Prep(Prep::On)),
    (&["at"], Lex::Prep(Prep::At)),
    (&["for"], Lex::Prep(Prep::For)),
    (&["of"], Lex::Prep(Prep::Of)),
    (&["with", "w/", "including", "plus"], Lex::Prep(Prep::With)),
    (&["via", "using", "through", "thru"], Lex::Prep(Prep::Via)),
    (&["behind", "over", "under"], Lex::Prep(Prep::Behind)),
    (&["by"], Lex::Prep(Prep::By)),
    (&["off"], Lex::Prep(Prep::Off)),
    (
        &["namespace", "ns", "-n", "--namespace", "namespaces"],
        Lex::NsMarker,
    ),
    // determiners and adjectives
    (
        &[
            "a", "an", "the", "our", "my", "your", "their", "his", "her", "its", "this", "these",
            "those", "that", "some",
        ],
        Lex::Det,
    ),
    (
        &[
            "new",
            "old",
            "fresh",
            "basic",
            "simple",
            "small",
            "little",
            "second",
            "dedicated",
            "separate",
            "shared",
            "own",
            "default",
            "standard",
            "whole",
            "entire",
            "legacy",
            "broken",
            "same",
            "other",
            "vanilla",
            "plain",
            "good",
            "last",
            "first",
        ],
        Lex::Adjective,
    ),
    (&["existing", "current"], Lex::Existing),
    (&["it", "them"], Lex::Pronoun),
    (
        &[
            "we", "we're", "we've", "we'll", "we'd", "i", "i'm", "i've", "i'll", "i'd", "they",
            "they're", "they've", "it's", "there's", "that's", "he", "she", "everyone", "nobody",
            "nothing", "im", "ive", "they'd", "they'll", "he'd", "she'd", "you'd",
        ],
        Lex::Subject,
    ),
    (
        &[
            "is", "are", "was", "were", "isn't", "aren't", "wasn't", "weren't", "isnt", "arent",
            "has", "have", "had", "hasn't", "haven't", "did", "didn't", "does", "doesn't", "do",
            "how", "how's", "hows", "what", "what's", "whats", "where", "where's", "which", "who",
            "why", "any", "anything", "when", "wats", "wat",
        ],
        Lex::Question,
    ),
    (
        &[
            "can",
            "could",
            "would",
            "will",
            "may",
            "might",
            "shall",
            "should",
            "must",
            "won't",
            "can't",
            "cannot",
            "couldn't",
            "wouldn't",
            "shouldn't",
        ],
        Lex::Modal,
    ),
    (
        &[
            "you", "someone", "somebody", "anyone", "anybody", "u", "ya", "y'all",
        ],
        Lex::Addressee,
    ),
    (
        &[
            "require",
            "requires",
            "required",
            "showed",
            "agreed",
            "decided",
            "confirmed",
            "reported",
            "noticed",
            "saw",
        ],
        Lex::Finite,
    ),
    (
        &[
            "keeps",
            "kept",
            "broke",
            "breaks",
            "crashed",
            "crashes",
            "crashing",
            "says",
            "said",
            "say",
            "feels",
            "seems",
            "looks",
            "starts",
            "started",
            "finished",
            "failed",
            "fails",
            "died",
            "went",
            "came",
            "migrated",
            "moved",
            "kicked",
            "exported",
            "uses",
            "used",
            "asked",
            "told",
            "works",
            "worked",
            "runs",
            "ran",
            "got",
            "gets",
            "goes",
            "took",
            "takes",
            "tried",
            "hit",
            "hits",
            "shows",
            "point",
            "points",
            "depends",
            "rely",
            "relies",
            "stopped",
            "belongs",
            "lives",
            "sits",
            "serves",
            "handles",
            "expects",
            "expecting",
            "retiring",
            "moving",
            "migrating",
            "planning",
            "done",
            "struggling",
        ],
        Lex::Finite,
    ),
    (&["and", "&", "n'"], Lex::And),
    (&["or", "either"], Lex::Or),
    (&["but", "although", "though", "however"], Lex::But),
    (
        &[
            "so", "because", "since", "while", "unless", "until", "if", "once", "after", "before",
            "whereas", "cause", "cos", "coz",
        ],
        Lex::Subordinate,
    ),
    (&["then", "afterwards", "next"], Lex::Then),
    (&["also", "too", "as", "well"], Lex::Also),
    (
        &[
            "without", "no", "not", "disable", "disabled", "never", "don't", "dont", "skip",
        ],
        Lex::Negation,
    ),
    (
        &[
            "actually",
            "wait",
            "sorry",
            "correction",
            "oops",
            "err",
            "erm",
            "rather",
            "instead",
            "nah",
            "nope",
            "whoops",
        ],
        Lex::Correction,
    ),
    (&["nevermind", "nvm"], Lex::Cancel),
    (
        &["maybe", "perhaps", "possibly", "optionally", "probably"],
        Lex::Hedge,
    ),
    (
        &["keep", "leave", "except", "excluding", "spare"],
        Lex::Protect,
    ),
    (
        &[
            "replica",
            "replicas",
            "instance",
            "instances",
            "copies",
            "pod",
            "pods",
            "replicaset",
            "replicacount",
        ],
        Lex::ReplicaWord,
    ),
    (
        &[
            "storage",
            "disk",
            "disks",
            "volume",
            "volumes",
            "space",
            "pvc",
            "pvcs",
            "persistence",
            "persistent",
            "capacity",
        ],
        Lex::StorageWord,
    ),
    (
        &[
            "ram",
            "memory",
            "mem",
            "cpu",
            "cpus",
            "core",
            "cores",
            "vcpu",
            "vcpus",
            "millicores",
            "heap",
        ],
        Lex::ResourceWord,
    ),
    (&["version", "ver", "tag", "v"], Lex::VersionWord),
    (&["revision", "rev"], Lex::RevisionWord),
    (&["latest", "newest"], Lex::Latest),
    (&["previous"], Lex::Previous),
    (
        &[
            "domain",
            "host",
            "hostname",
            "url",
            "fqdn",
            "subdomain",
            "address",
        ],
        Lex::DomainWord,
    ),
    (
        &[
            "tls",
            "https",
            "ssl",
            "certificate",
            "certificates",
            "cert",
            "certs",
            "letsencrypt",
            "cert-manager",
            "acme",
            "encrypted",
        ],
        Lex::Tls,
    ),
    (&["ingress", "ingresses"], Lex::Ingress),
    (
        &["docker", "compose", "docker-compose", "podman", "swarm"],
        Lex::Platform(Platform::Compose),
    ),
    (
        &[
            "kubernetes",
            "k8s",
            "kube",
            "k3s",
            "eks",
            "gke",
            "aks",
            "openshift",
            "minikube",
        ],
        Lex::Platform(Platform::Kubernetes),
    ),
    (&["cluster"], Lex::Cluster),
    (&["zero", "none"], Lex::NumberWord(0)),
    (&["one", "single"], Lex::NumberWord(1)),
    (&["two"], Lex::NumberWord(2)),
    (&["three"], Lex::NumberWord(3)),
    (&["four"], Lex::NumberWord(4)),
    (&["five"], Lex::NumberWord(5)),
    (&["six"], Lex::NumberWord(6)),
    (&["seven"], Lex::NumberWord(7)),
    (&["eight"], Lex::NumberWord(8)),
    (&["nine"], Lex::NumberWord(9)),
    (&["ten"], Lex::NumberWord(10)),
    (&["eleven"], Lex::NumberWord(11)),
    (&["twelve"], Lex::NumberWord(12)),
    (&["thirteen"], Lex::NumberWord(13)),
    (&["fourteen"], Lex::NumberWord(14)),
    (&["fifteen"], Lex::NumberWord(15)),
    (&["sixteen"], Lex::NumberWord(16)),
    (&["seventeen"], Lex::NumberWord(17)),
    (&["eighteen"], Lex::NumberWord(18)),
    (&["nineteen"], Lex::NumberWord(19)),
    (&["twenty"], Lex::NumberWord(20)),
    (&["thirty"], Lex::NumberWord(30)),
    (&["forty"], Lex::NumberWord(40)),
    (&["fifty"], Lex::NumberWord(50)),
    (&["sixty"], Lex::NumberWord(60)),
    (&["seventy"], Lex::NumberWord(70)),
    (&["eighty"], Lex::NumberWord(80)),
    (&["ninety"], Lex::NumberWord(90)),
    (&["hundred", "hundreds"], Lex::Multiplier(100)),
    (&["thousand", "thousands"], Lex::Multiplier(1_000)),
    (&["million", "millions"], Lex::Multiplier(1_000_000)),
    (
        &["billion", "billions", "gazillion", "zillion"],
        Lex::Multiplier(1_000_000_000),
    ),
    (&["minus", "negative"], Lex::Minus),
    (
        &[
            "more",
            "fewer",
            "less",
            "extra",
            "another",
            "additional",
            "double",
            "triple",
            "half",
            "halve",
            "twice",
            "increment",
            "decrement",
        ],
        Lex::Relative,
    ),
    (
        &[
            "couple",
            "few",
            "several",
            "bunch",
            "bit",
            "lot",
            "lots",
            "many",
            "bigger",
            "larger",
            "smaller",
            "ha",
            "redundant",
            "redundancy",
            "handful",
            "huge",
            "big",
            "large",
            "massive",
            "tons",
            "ton",
            "loads",
            "giant",
            "tiny",
            "generous",
        ],
        Lex::Vague,
    ),
    (&["each", "apiece", "per"], Lex::Each),
    (
        &[
            "team",
            "teams",
            "folks",
            "guys",
            "crew",
            "squad",
            "devs",
            "developers",
            "engineers",
            "users",
            "customers",
            "backups",
            "pilot",
            "project",
            "projects",
            "site",
            "website",
            "portal",
            "migration",
            "webhooks",
            "hackathon",
            "wiki",
            "docs",
            "workflows",
            "alerts",
            "alerting",
            "endpoints",
            "data",
            "dashboards",
            "metrics",
            "config",
            "settings",
            "credentials",
            "password",
            "passwords",
            "admin",
            "login",
            "account",
            "accounts",
            "bucket",
            "buckets",
            "schema",
            "tables",
            "queue",
            "queues",
            "jobs",
            "dependencies",
            "deps",
            "dependency",
        ],
        Lex::OwnerNoun,
    ),
    (
        &[
            "deployment",
            "deployments",
            "release",
            "releases",
            "installation",
            "image",
            "images",
            "service",
            "services",
            "server",
            "servers",
            "database",
            "databases",
            "db",
            "stack",
            "app",
            "apps",
            "application",
            "applications",
            "changes",
            "count",
            "chart",
            "helm",
            "blueprint",
            "blueprints",
            "thing",
            "box",
            "workload",
            "statefulset",
            "ui",
        ],
        Lex::ReleaseNoun,
    ),
    (&["containers", "container"], Lex::PodNoun),
    (
        &[
            "operator",
            "exporter",
            "controller",
            "agent",
            "sentinel",
            "operators",
            "exporters",
            "sidecar",
            "plugin",
            "plugins",
            "cli",
            "sdk",
            "driver",
        ],
        Lex::ProductSuffix,
    ),
    (
        &[
            "today",
            "tonight",
            "tomorrow",
            "yesterday",
            "yesterday's",
            "today's",
            "tomorrow's",
            "now",
            "later",
            "soon",
            "asap",
            "morning",
            "afternoon",
            "evening",
            "night",
            "week",
            "weekend",
            "month",
            "year",
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
            "eod",
            "yet",
            "anymore",
            "already",
            "again",
            "still",
            "currently",
            "recently",
            "earlier",
            "overnight",
            "immediately",
            "pm",
            "am",
            "rn",
            "atm",
            "january",
            "february",
            "march",
            "april",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        Lex::Time,
    ),
    (
        &[
            "people",
            "persons",
            "members",
            "seats",
            "days",
            "hours",
            "minutes",
            "mins",
            "seconds",
            "secs",
            "weeks",
            "months",
            "years",
            "times",
            "requests",
            "rps",
            "qps",
            "connections",
            "nodes",
            "node",
            "tenants",
            "percent",
        ],
        Lex::CountNoun,
    ),
    (
        &[
            "canary",
            "blue-green",
            "bluegreen",
            "blue/green",
            "rolling",
            "recreate",
            "autoscale",
            "autoscaling",
            "autoscaled",
            "hpa",
            "progressive",
        ],
        Lex::Strategy,
    ),
    (&["everything", "all", "every", "things"], Lex::Everything),
    (
        &[
            "something",
            "stuff",
            "whatever",
            "somewhere",
            "someplace",
            "anywhere",
        ],
        Lex::Something,
    ),
    (
        &[
            "healthy",
            "ready",
            "alive",
            "online",
            "offline",
            "available",
            "working",
            "deployed",
            "installed",
            "fine",
            "slow",
            "crashlooping",
            "unhealthy",
            "state",
            "health",
            "situation",
            "doing",
            "looking",
            "failing",
            "erroring",
            "errors",
            "issues",
            "problems",
            "pending",
            "stuck",
            "progress",
            "ok",
            "okay",
            "alright",
        ],
        Lex::State,
    ),
    (
        &[
            "please",
            "pls",
            "plz",
            "kindly",
            "thanks",
            "thank",
            "thx",
            "ty",
            "cheers",
            "hi",
            "hey",
            "hello",
            "yo",
            "hiya",
            "howdy",
            "greetings",
            "dear",
            "deckhand",
            "bot",
            "uh",
            "um",
            "uhh",
            "umm",
            "hmm",
            "lgtm",
            "fyi",
            "btw",
            "just",
            "real",
            "really",
            "quick",
            "quickly",
            "right",
            "away",
            "like",
            "oh",
            "ah",
            "yes",
            "yeah",
            "yep",
            "sure",
            "obviously",
            "pretty",
            "very",
            "much",
            "awesome",
            "great",
            "nice",
            "cool",
            "guess",
            "think",
            "only",
            "locally",
            "local",
            "here",
            "there",
            "mind",
            "anyway",
            "anyways",
            "basically",
            "simply",
            "go",
            "ahead",
            "let's",
            "lets",
            "let",
            "give",
            "be",
            "been",
            "being",
            "me",
            "us",
            "named",
            "called",
            "etc",
            "thnx",
            "tia",
            "kthx",
            "np",
            "whether",
            "enough",
            "enable",
            "enabled",
            "activate",
            "exposed",
            "lol",
            "lmao",
            "haha",
            "kubectl",
            "platform",
            "regards",
            "best",
            "kind",
            "together",
            "-d",
            "--detach",
            "reckon",
            "suppose",
            "wonder",
            "wondering",
        ],
        Lex::Filler,
    ),
];

/// One word's meaning, if it has one here (a hash lookup in [`WORDS`]).
pub fn word(word: &str) -> Option<Lex> {
    static INDEX: LazyLock<HashMap<&'static str, Lex>> = LazyLock::new(|| {
        let mut index = HashMap::new();
        for (words, lex) in WORDS {
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
