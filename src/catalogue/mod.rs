//! The catalogue of blueprints: the ones embedded in the binary at build time
//! plus any extra directories (`--blueprints DIR`, `DECKHAND_BLUEPRINTS`),
//! where a blueprint with the same name overrides the built-in one.
//!
//! Loading checks everything (YAML syntax, unknown keys, values, templates,
//! requirements across files) and reports every problem as
//! `file:line: message`. The catalogue also answers lookups by name or alias,
//! fuzzy suggestions, and search.

pub mod blueprint;
mod detail;
pub use detail::{ComponentDetail, Detail};
pub mod health;
pub mod stack;
mod starter;
pub use starter::starter_blueprint;
pub mod workload;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use serde::Serialize;

pub use blueprint::{Blueprint, Component, Problem, Requirement};

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/blueprints");

/// One problem in one blueprint file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("the blueprint catalogue has {} problem(s):\n{}", .0.len(), .0.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
    #[error("cannot read blueprint directory '{path}': {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{name}' is not in the catalogue{}", did_you_mean(.suggestions))]
pub struct UnknownBlueprint {
    pub name: String,
    pub suggestions: Vec<String>,
}

/// " (did you mean 'a' or 'b'?)" or nothing.
pub fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!(" (did you mean '{one}'?)"),
        many => {
            let quoted: Vec<String> = many.iter().map(|s| format!("'{s}'")).collect();
            let (last, rest) = quoted.split_last().expect("non-empty");
            format!(" (did you mean {} or {last}?)", rest.join(", "))
        }
    }
}

/// A blueprint file's text and where it came from.
#[derive(Debug, Clone)]
pub struct BlueprintSource {
    pub origin: String,
    pub text: String,
}

/// A loaded blueprint with what the catalogue learned about it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub blueprint: Blueprint,
    /// File (or `builtin:NAME.yaml`) it was loaded from.
    pub origin: String,
    /// `provides` facts whose values come from secrets.
    pub secret_facts: BTreeSet<String>,
    /// Every parameter's default (declared and built-in).
    pub defaults: BTreeMap<String, serde_json::Value>,
}

/// What `catalogue list --json` and the API show of a blueprint.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub name: String,
    pub description: String,
    pub category: String,
    pub requires: Vec<String>,
    pub tags: Vec<String>,
    pub aliases: Vec<String>,
    pub version: String,
    pub versions: Vec<String>,
    pub origin: String,
}

/// The loaded, validated set of blueprints.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    entries: BTreeMap<String, Entry>,
    /// alias → canonical name
    aliases: HashMap<String, String>,
}

impl Catalogue {
    /// The built-in blueprints plus `extra_dirs`, in order (later wins).
    pub fn load(extra_dirs: &[PathBuf]) -> Result<Self, CatalogueError> {
        let mut sources = builtin_sources();
        for dir in extra_dirs {
            sources.extend(read_dir_sources(dir)?);
        }
        Self::from_sources(sources)
    }

    /// Only the blueprints compiled into the binary.
    pub fn builtin() -> Result<Self, CatalogueError> {
        Self::from_sources(builtin_sources())
    }

    /// Directories named by `DECKHAND_BLUEPRINTS` (a path list, like `PATH`).
    pub fn dirs_from_env() -> Vec<PathBuf> {
        std::env::var_os("DECKHAND_BLUEPRINTS")
            .map(|v| {
                std::env::split_paths(&v)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Parses and checks `sources`; a later source with the same name replaces an earlier one.
    pub fn from_sources(sources: Vec<BlueprintSource>) -> Result<Self, CatalogueError> {
        let mut diagnostics = Vec::new();
        let mut parsed: BTreeMap<String, (Blueprint, String)> = BTreeMap::new();
        // Blueprints a later one with the same name replaced: still checked,
        // so a duplicate name never hides the replaced file's own problems.
        let mut replaced: Vec<(Blueprint, String)> = Vec::new();
        let mut seen_in_dir: HashMap<(String, String), String> = HashMap::new();
        for source in sources {
            match parse_blueprint(&source.text) {
                Ok(blueprint) => {
                    let name = blueprint.name().to_string();
                    let dir = Path::new(&source.origin)
                        .parent()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    if let Some(previous) =
                        seen_in_dir.insert((dir, name.clone()), source.origin.clone())
                    {
                        diagnostics.push(Diagnostic {
                            file: source.origin.clone(),
                            line: blueprint.name.referenced.line() as u32,
                            message: format!("blueprint '{name}' is also defined in {previous}"),
                        });
                    }
                    if let Some(earlier) = parsed.insert(name, (blueprint, source.origin)) {
                        replaced.push(earlier);
                    }
                }
                Err(problem) => diagnostics.push(Diagnostic {
                    file: source.origin,
                    line: problem.line,
                    message: problem.message,
                }),
            }
        }

        let secret_facts: BTreeMap<String, BTreeSet<String>> = parsed
            .iter()
            .map(|(name, (bp, _))| (name.clone(), bp.secret_facts()))
            .collect();
        let provided: BTreeMap<&str, BTreeSet<String>> = parsed
            .iter()
            .map(|(name, (bp, _))| (name.as_str(), bp.provides.keys().cloned().collect()))
            .collect();
        let names: Vec<String> = parsed.keys().cloned().collect();

        let mut aliases: HashMap<String, String> = HashMap::new();
        for (name, (bp, origin)) in &parsed {
            for alias in &bp.aliases {
                let at = |message: String| Diagnostic {
                    file: origin.clone(),
                    line: alias.referenced.line() as u32,
                    message,
                };
                if parsed.contains_key(&alias.value) {
                    diagnostics.push(at(format!(
                        "alias '{}' is the name of another blueprint",
                        alias.value
                    )));
                } else if let Some(other) = aliases.insert(alias.value.clone(), name.clone())
                    && &other != name
                {
                    diagnostics.push(at(format!(
                        "alias '{}' is also an alias of '{other}'",
                        alias.value
                    )));
                }
            }
        }

        for (bp, origin) in parsed.values().chain(replaced.iter()) {
            let mut dependency_facts = BTreeMap::new();
            for requirement in &bp.requires {
                let req = &requirement.value;
                let line = requirement.referenced.line() as u32;
                match parsed.get(&req.blueprint) {
                    Some((dependency, _)) if dependency.is_stack() => {
                        diagnostics.push(Diagnostic {
                            file: origin.clone(),
                            line,
                            message: format!(
                                "blueprint '{}' requires '{}', which is a stack: require the applications it is made of instead",
                                bp.name(),
                                req.blueprint
                            ),
                        });
                        dependency_facts.insert(req.alias(), BTreeSet::new());
                    }
                    Some((dependency, _)) => {
                        dependency_facts
                            .insert(req.alias(), provided[req.blueprint.as_str()].clone());
                        if let Some(version) = &req.version
                            && !dependency.versions.is_empty()
                            && !dependency.versions.contains(version)
                        {
                            diagnostics.push(Diagnostic {
                                file: origin.clone(),
                                line,
                                message: format!(
                                    "version '{version}' of '{}' is not one it lists (versions: {})",
                                    req.blueprint,
                                    dependency.versions.join(", ")
                                ),
                            });
                        }
                        for (param, value) in &req.with_parameters {
                            match dependency.parameters.get(param) {
                                Some(spec) => {
                                    if let Err(why) = spec.value.check(value) {
                                        diagnostics.push(Diagnostic {
                                            file: origin.clone(),
                                            line,
                                            message: format!(
                                                "parameter '{param}' for '{}' is invalid: {why}",
                                                req.blueprint
                                            ),
                                        });
                                    }
                                }
                                None if blueprint::BUILTIN_PARAMETERS.contains(&param.as_str()) => {
                                }
                                None => diagnostics.push(Diagnostic {
                                    file: origin.clone(),
                                    line,
                                    message: format!(
                                        "'{}' has no parameter '{param}' (it has: {})",
                                        req.blueprint,
                                        dependency
                                            .parameters
                                            .keys()
                                            .cloned()
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    ),
                                }),
                            }
                        }
                    }
                    None => {
                        let suggestions =
                            nearest(&req.blueprint, names.iter().map(String::as_str), 3);
                        diagnostics.push(Diagnostic {
                            file: origin.clone(),
                            line,
                            message: format!(
                                "blueprint '{}' requires '{}', which is not in the catalogue{}",
                                bp.name(),
                                req.blueprint,
                                did_you_mean(&suggestions)
                            ),
                        });
                        dependency_facts.insert(req.alias(), BTreeSet::new());
                    }
                }
            }
            if bp.is_stack() {
                let known = |name: &str| {
                    parsed.get(name).map(|(blueprint, _)| stack::Known {
                        blueprint,
                        provides: &provided[name],
                        secret_facts: &secret_facts[name],
                    })
                };
                let suggest = |name: &str| nearest(name, names.iter().map(String::as_str), 3);
                for problem in stack::catalogue_problems(bp, &known, &suggest) {
                    diagnostics.push(Diagnostic {
                        file: origin.clone(),
                        line: problem.line,
                        message: problem.message,
                    });
                }
            }
            for problem in bp.problems(&dependency_facts) {
                diagnostics.push(Diagnostic {
                    file: origin.clone(),
                    line: problem.line,
                    message: problem.message,
                });
            }
        }

        if !diagnostics.is_empty() {
            diagnostics.sort_by(|a, b| (a.file.as_str(), a.line).cmp(&(b.file.as_str(), b.line)));
            return Err(CatalogueError::Invalid(diagnostics));
        }
        let entries = parsed
            .into_iter()
            .map(|(name, (blueprint, origin))| {
                let facts = secret_facts[&name].clone();
                let defaults = blueprint.default_parameters();
                (
                    name,
                    Entry {
                        blueprint,
                        origin,
                        secret_facts: facts,
                        defaults,
                    },
                )
            })
            .collect();
        Ok(Self { entries, aliases })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// All names and aliases, for the parser's vocabulary.
    pub fn names_and_aliases(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .keys()
            .map(|n| (n.as_str(), n.as_str()))
            .chain(self.aliases.iter().map(|(a, n)| (a.as_str(), n.as_str())))
    }

    /// The canonical name for a name or alias, exactly as written (lower-case).
    pub fn canonical(&self, word: &str) -> Option<&str> {
        if let Some((name, _)) = self.entries.get_key_value(word) {
            return Some(name.as_str());
        }
        self.aliases.get(word).map(String::as_str)
    }

    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.canonical(name).and_then(|n| self.entries.get(n))
    }

    /// The blueprint for a name or alias, or an error with the nearest names.
    pub fn get(&self, name: &str) -> Result<&Entry, UnknownBlueprint> {
        self.entry(&name.to_ascii_lowercase())
            .ok_or_else(|| UnknownBlueprint {
                name: name.to_string(),
                suggestions: self.suggest(name, 3),
            })
    }

    /// Every keyword a person might use for an entry, with the entries it
    /// names: the parts of its name, its tags (and their parts) and its
    /// category ("kuma" → uptime-kuma, "sso" → authentik and keycloak,
    /// "mysql" → mariadb).
    pub fn keyword_index(&self) -> BTreeMap<String, Vec<String>> {
        let mut index: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in self.entries.values() {
            let bp = &entry.blueprint;
            let name = bp.name().to_string();
            // A stack answers to its own name only: "sso" or "monitoring"
            // alone still mean the applications ("set up SSO" asks between
            // authentik and keycloak, as before there were stacks).
            if bp.is_stack() {
                index.entry(name.clone()).or_default().push(name);
                continue;
            }
            let mut keys: Vec<String> = vec![bp.category.value.to_ascii_lowercase()];
            for word in std::iter::once(name.as_str()).chain(bp.tags.iter().map(String::as_str)) {
                let word = word.to_ascii_lowercase();
                keys.extend(word.split('-').map(str::to_string));
                keys.push(word);
            }
            for key in keys {
                let names = index.entry(key).or_default();
                if !names.contains(&name) {
                    names.push(name.clone());
                }
            }
        }
        index
    }

    /// The `limit` names (or aliases, as their canonical names) closest to
    /// `word`, then those it is a keyword of ([`Catalogue::keyword_index`]).
    pub fn suggest(&self, word: &str, limit: usize) -> Vec<String> {
        let word = word.to_ascii_lowercase();
        let mut scored: Vec<(f64, &str)> = self
            .names_and_aliases()
            .map(|(spelling, name)| (similarity(&word, spelling), name))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let mut out: Vec<String> = Vec::new();
        for (score, name) in scored {
            if score < 0.55 || out.len() == limit {
                break;
            }
            if !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
        add_keyword_matches(&mut out, &self.keyword_index(), &word, limit);
        out
    }

    pub fn summary(&self, entry: &Entry) -> Summary {
        let bp = &entry.blueprint;
        Summary {
            name: bp.name().to_string(),
            description: bp.description.clone(),
            category: bp.category.value.clone(),
            requires: bp
                .requires
                .iter()
                .map(|r| r.value.blueprint.clone())
                .collect(),
            tags: bp.tags.clone(),
            aliases: bp.aliases.iter().map(|a| a.value.clone()).collect(),
            version: bp.default_version().to_string(),
            versions: bp.versions.clone(),
            origin: entry.origin.clone(),
        }
    }

    /// Blueprints matching a category and a free-text query (name, alias,
    /// tag, description), best matches first.
    pub fn search(&self, query: Option<&str>, category: Option<&str>) -> Vec<Summary> {
        let query = query
            .map(|q| q.trim().to_ascii_lowercase())
            .filter(|q| !q.is_empty());
        let mut hits: Vec<(u8, Summary)> = self
            .entries
            .values()
            .filter(|e| category.is_none_or(|c| e.blueprint.category.value.eq_ignore_ascii_case(c)))
            .filter_map(|e| {
                let summary = self.summary(e);
                let Some(q) = &query else {
                    return Some((0, summary));
                };
                let rank = if summary.name == *q || summary.aliases.iter().any(|a| a == q) {
                    0
                } else if summary.name.contains(q.as_str())
                    || summary.aliases.iter().any(|a| a.contains(q.as_str()))
                {
                    1
                } else if summary.category == *q || summary.tags.iter().any(|t| t == q) {
                    2
                } else if summary
                    .description
                    .to_ascii_lowercase()
                    .contains(q.as_str())
                {
                    3
                } else {
                    return None;
                };
                Some((rank, summary))
            })
            .collect();
        hits.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.name.cmp(&b.1.name)));
        hits.into_iter().map(|(_, s)| s).collect()
    }

    /// Every category with its number of blueprints.
    pub fn categories(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for e in self.entries.values() {
            *out.entry(e.blueprint.category.value.clone()).or_insert(0) += 1;
        }
        out
    }
}

/// Similarity in 0..=1 used for typo forgiveness and suggestions.
pub fn similarity(a: &str, b: &str) -> f64 {
    let edit = strsim::normalized_damerau_levenshtein(a, b);
    let jw = strsim::jaro_winkler(a, b);
    edit.max(jw * 0.9)
}

/// The `limit` candidates nearest to `word`.
pub fn nearest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
    limit: usize,
) -> Vec<String> {
    let mut scored: Vec<(f64, &str)> = candidates
        .map(|c| (similarity(word, c), c))
        .filter(|(s, _)| *s >= 0.55)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(limit)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Adds to `suggestions`, up to `limit`, the names `word` is a keyword of
/// (an index from [`Catalogue::keyword_index`]).
pub fn add_keyword_matches(
    suggestions: &mut Vec<String>,
    keywords: &BTreeMap<String, Vec<String>>,
    word: &str,
    limit: usize,
) {
    for name in keywords.get(word).into_iter().flatten() {
        if suggestions.len() < limit && !suggestions.contains(name) {
            suggestions.push(name.clone());
        }
    }
}

/// Parses one blueprint file; a YAML or shape error becomes a [`Problem`] with its line.
pub fn parse_blueprint(text: &str) -> Result<Blueprint, Problem> {
    serde_saphyr::from_str::<Blueprint>(text).map_err(|err| Problem {
        line: err.location().map_or(0, |l| l.line() as u32),
        message: yaml_error_message(&err),
    })
}

fn yaml_error_message(err: &serde_saphyr::Error) -> String {
    let rendered = err.to_string();
    // The crate appends a source snippet after the first line; the file and
    // line are reported separately, so keep the message itself.
    let first = rendered.lines().next().unwrap_or("invalid YAML").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match first.find(" at line ") {
        Some(cut) => &first[..cut],
        None => first,
    };
    // "line 19 column 96: unknown field …" → "unknown field …" (the line is reported apart).
    match first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((position, message)) if position.contains("column") => message.to_string(),
        _ => first.to_string(),
    }
}

impl Catalogue {
    /// The sources of the blueprints compiled into the binary.
    pub fn builtin_sources() -> Vec<BlueprintSource> {
        builtin_sources()
    }
}

fn builtin_sources() -> Vec<BlueprintSource> {
    let mut files: Vec<_> = BUILTIN
        .files()
        .filter(|f| {
            f.path()
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml")
        })
        .collect();
    files.sort_by_key(|f| f.path());
    files
        .into_iter()
        .map(|f| BlueprintSource {
            origin: format!("builtin:{}", f.path().display()),
            text: String::from_utf8_lossy(f.contents()).into_owned(),
        })
        .collect()
}

/// Reads every `*.yaml` / `*.yml` file of a directory (not recursive), sorted by name.
pub fn read_dir_sources(dir: &Path) -> Result<Vec<BlueprintSource>, CatalogueError> {
    let io = |source| CatalogueError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|source| CatalogueError::Io {
                path: path.clone(),
                source,
            })?;
            Ok(BlueprintSource {
                origin: path.display().to_string(),
                text,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(origin: &str, text: &str) -> BlueprintSource {
        BlueprintSource {
            origin: origin.into(),
            text: text.into(),
        }
    }

    #[test]
    fn suggestions_add_the_entries_a_word_is_a_keyword_of() {
        let catalogue = Catalogue::builtin().unwrap();
        assert_eq!(catalogue.suggest("grafanna", 3)[0], "grafana");
        assert!(
            catalogue
                .suggest("kuma", 3)
                .contains(&"uptime-kuma".to_string())
        );
        assert!(catalogue.suggest("s3", 3).contains(&"minio".to_string()));
    }

    const MINIMAL: &str = "name: hello\ndescription: a greeter\ncategory: web\nrequires: []\ncomponents:\n  - name: web\n    image: busybox\n    ports: [{name: http, port: 8080}]\n";

    #[test]
    fn the_builtin_catalogue_loads() {
        let catalogue = Catalogue::builtin().unwrap_or_else(|e| panic!("{e}"));
        for name in ["authentik", "postgresql", "redis"] {
            assert!(catalogue.entry(name).is_some(), "{name} missing");
        }
        assert_eq!(catalogue.canonical("postgres"), Some("postgresql"));
    }

    #[test]
    fn a_blueprint_with_only_the_fixed_keys_loads() {
        let catalogue = Catalogue::from_sources(vec![source("x/hello.yaml", MINIMAL)]).unwrap();
        assert_eq!(
            catalogue.get("hello").unwrap().blueprint.default_version(),
            "latest"
        );
    }

    #[test]
    fn unknown_keys_are_reported_with_file_and_line() {
        let text = MINIMAL.replace(
            "    image: busybox\n",
            "    image: busybox\n    imagee: typo\n",
        );
        let err = Catalogue::from_sources(vec![source("x/hello.yaml", &text)]).unwrap_err();
        let CatalogueError::Invalid(diags) = err else {
            panic!()
        };
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].file, "x/hello.yaml");
        assert_eq!(diags[0].line, 8, "{}", diags[0]);
        assert!(diags[0].message.contains("imagee"), "{}", diags[0]);
    }

    #[test]
    fn undefined_template_variables_are_reported() {
        let text = format!("{MINIMAL}env:\n  A: \"{{{{ params.storag }}}}\"\n");
        let err = Catalogue::from_sources(vec![source("x/hello.yaml", &text)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("x/hello.yaml:10:"), "{err}");
        assert!(err.contains("undefined variable 'params.storag'"), "{err}");
        assert!(err.contains("did you mean 'params.storage'"), "{err}");
    }

    #[test]
    fn missing_requirements_name_the_requirer_and_suggest() {
        let text = MINIMAL.replace("requires: []", "requires: [{blueprint: helo}]");
        let other = MINIMAL.replace("name: hello", "name: hallo");
        let err = Catalogue::from_sources(vec![
            source("x/hello.yaml", &text),
            source("x/hallo.yaml", &other),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(
                "blueprint 'hello' requires 'helo', which is not in the catalogue (did you mean"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_later_directory_overrides_a_builtin() {
        let mut sources = builtin_sources();
        sources.push(source(
            "mine/redis.yaml",
            &MINIMAL
                .replace("name: hello", "name: redis")
                .replace("a greeter", "my redis"),
        ));
        let err = Catalogue::from_sources(sources);
        // authentik reads cache.password etc.; an override without provides breaks it, and says so.
        let text = err.unwrap_err().to_string();
        assert!(text.contains("undefined variable 'cache.host'"), "{text}");
    }

    /// Issue 13: every built-in component says which user it runs as, or
    /// why it starts as root.
    #[test]
    fn every_builtin_component_says_which_user_it_runs_as() {
        let catalogue = Catalogue::builtin().unwrap();
        for name in catalogue.names() {
            let bp = &catalogue.entry(name).unwrap().blueprint;
            for c in &bp.components {
                let security = c.value.security.as_ref();
                assert!(
                    security.is_some_and(|s| s.non_root() || s.root.is_some()),
                    "{name}/{} does not say which user it runs as",
                    c.value.name
                );
            }
        }
    }

    #[test]
    fn requirement_versions_must_be_ones_the_dependency_lists() {
        let mut sources = builtin_sources();
        sources.push(source(
            "x/hello.yaml",
            &MINIMAL.replace(
                "requires: []",
                "requires: [{blueprint: postgresql, version: \"9\"}]",
            ),
        ));
        let err = Catalogue::from_sources(sources).unwrap_err().to_string();
        assert!(
            err.contains("version '9' of 'postgresql' is not one it lists"),
            "{err}"
        );
    }

    #[test]
    fn search_ranks_names_before_descriptions() {
        let catalogue = Catalogue::builtin().unwrap();
        let hits = catalogue.search(Some("redis"), None);
        assert_eq!(hits[0].name, "redis");
        assert!(
            catalogue
                .search(None, Some("database"))
                .iter()
                .all(|s| s.category == "database")
        );
    }

    #[test]
    fn suggestions_find_near_names() {
        let catalogue = Catalogue::builtin().unwrap();
        assert_eq!(
            catalogue.suggest("autentik", 1),
            vec!["authentik".to_string()]
        );
        assert_eq!(catalogue.get("redi").unwrap_err().suggestions[0], "redis");
    }
}
