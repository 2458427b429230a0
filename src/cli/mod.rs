//! The command-line front end: turns arguments into calls on the library and
//! results into text (or JSON) for people and scripts. Nothing here decides
//! anything the HTTP front end would decide differently; the commands that
//! use the store and the service live in [`service`].

mod parse;
mod service;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::catalogue::{Catalogue, CatalogueError, Diagnostic};
use crate::config::StoreArgs;
use crate::intent::{Domain, Namespace, Platform, Replicas};
use crate::plan::{Overrides, PlanError, Planner};
use crate::render::{EphemeralSecrets, RenderOptions};
use crate::store::tokens::Role;

/// Exit code for input deckhand could not accept (bad sentence, bad blueprint).
pub(crate) const EXIT_INPUT: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "deckhand",
    version,
    about = "Natural-language deployments: say what to install, see the plan, get wired manifests"
)]
pub struct Cli {
    /// Extra blueprint directory (repeatable); a blueprint there overrides a built-in one
    /// with the same name. `DECKHAND_BLUEPRINTS` (a path list) adds more.
    #[arg(long = "blueprints", global = true, value_name = "DIR")]
    blueprints: Vec<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse a sentence into an intent (the JSON contract); `-` reads one sentence per line from stdin.
    Parse {
        /// Print the intent as JSON (one object per line with `-`).
        #[arg(long)]
        json: bool,
        /// The rules only: never ask the language model, even when one is configured.
        #[arg(long)]
        no_llm: bool,
        /// The sentence, or `-` for stdin.
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Show what a sentence would do, and optionally write the manifests.
    Plan(PlanArgs),
    /// Browse and check the blueprint catalogue.
    #[command(subcommand, alias = "catalog")]
    Catalogue(CatalogueCommand),
    /// Draw the resolved dependency graph of a blueprint.
    Graph {
        application: String,
        #[arg(long, value_enum, default_value = "dot")]
        format: crate::graph::GraphFormat,
        /// Version to resolve for (dependencies can depend on it).
        #[arg(long)]
        version: Option<String>,
    },
    /// Run the HTTP service (API, chat, metrics).
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080; DECKHAND_BIND].
        #[arg(long)]
        bind: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Plan a sentence, ask for confirmation, then run it and show progress.
    Chat {
        /// What to do, e.g. "install redis".
        #[arg(required = true, num_args = 1..)]
        sentence: Vec<String>,
        /// Go ahead without asking.
        #[arg(long, short)]
        yes: bool,
        /// Keep a failed upgrade's state for debugging instead of rolling back.
        #[arg(long)]
        no_rollback: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Plan a sentence and run it at once, with live progress; exits non-zero when it fails.
    Apply {
        /// What to do, e.g. "install redis on docker".
        #[arg(required = true, num_args = 1..)]
        sentence: Vec<String>,
        /// Keep a failed upgrade's state for debugging instead of rolling back.
        #[arg(long)]
        no_rollback: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The revisions of a release: number, action, version, who and when.
    History {
        release: String,
        #[arg(long, default_value = "default")]
        namespace: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Recorded intents.
    #[command(subcommand)]
    Intents(IntentsCommand),
    /// API tokens (only their hashes are stored).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Generated secrets of a release (values are shown only here, on purpose).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Print the Kubernetes RBAC objects deckhand needs (for `kubectl apply -f -`).
    Rbac {
        /// Rights in this namespace only (a Role; deckhand then never creates
        /// namespaces) [default: every namespace, with ClusterRoles].
        #[arg(long)]
        namespace: Option<String>,
        /// The user deckhand authenticates as.
        #[arg(long, default_value = "deckhand", conflicts_with = "service_account")]
        user: String,
        /// Or a service account, as NAMESPACE/NAME.
        #[arg(long, value_name = "NAMESPACE/NAME")]
        service_account: Option<String>,
        /// Also allow deleting PersistentVolumeClaims ("remove ... and its data").
        #[arg(long)]
        data_removal: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Print a release's generated secrets.
    Show {
        release: String,
        #[arg(long, default_value = "default")]
        namespace: String,
        /// kubernetes or compose [default: the one the release was installed on].
        #[arg(long, value_enum)]
        platform: Option<Platform>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum IntentsCommand {
    /// Newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        application: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// One intent with its events.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Make a token and print it (once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: Role,
        #[command(flatten)]
        store: StoreArgs,
    },
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    Revoke {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Args)]
struct PlanArgs {
    /// What to do, e.g. "install authentik with TLS".
    #[arg(required = true, num_args = 1..)]
    sentence: Vec<String>,
    /// Platform when the sentence names none (default kubernetes).
    #[arg(long, value_enum)]
    platform: Option<Platform>,
    /// Namespace, overriding the sentence.
    #[arg(long)]
    namespace: Option<String>,
    /// Public host name, overriding the sentence.
    #[arg(long)]
    domain: Option<String>,
    /// Write the manifests here (Kubernetes YAML per release, or compose.yaml).
    #[arg(long, short, value_name = "DIR")]
    output: Option<PathBuf>,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
    /// The rules only: never ask the language model, even when one is configured.
    #[arg(long)]
    no_llm: bool,
    #[command(flatten)]
    render: RenderArgs,
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// Base domain for releases that get an Ingress without a domain.
    #[arg(long, env = "DECKHAND_BASE_DOMAIN", default_value = "example.com")]
    base_domain: String,
    /// cert-manager ClusterIssuer for TLS.
    #[arg(long, env = "DECKHAND_CLUSTER_ISSUER", default_value = "letsencrypt")]
    cluster_issuer: String,
    /// Ingress class name, when the cluster needs one.
    #[arg(long, env = "DECKHAND_INGRESS_CLASS")]
    ingress_class: Option<String>,
}

impl RenderArgs {
    fn options(&self) -> RenderOptions {
        RenderOptions {
            base_domain: self.base_domain.clone(),
            cluster_issuer: self.cluster_issuer.clone(),
            ingress_class: self.ingress_class.clone(),
            ..RenderOptions::default()
        }
    }
}

#[derive(Debug, Subcommand)]
enum CatalogueCommand {
    /// List blueprints.
    List {
        #[arg(long)]
        json: bool,
        /// Only this category.
        #[arg(long)]
        category: Option<String>,
        /// Only blueprints matching this text (name, alias, tag, description).
        #[arg(long)]
        search: Option<String>,
    },
    /// Show one blueprint.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Check a directory of blueprints the way loading does; prints every problem.
    Lint { dir: PathBuf },
    /// Write a commented starting blueprint `NAME.yaml` (into --dir, default here).
    New {
        name: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

/// Runs the CLI and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(if matches!(cli.command, Command::Serve { .. }) {
        crate::logging::LogTarget::Service
    } else {
        crate::logging::LogTarget::Command
    });
    match execute(cli) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "error: {message}");
            ExitCode::from(EXIT_INPUT)
        }
    }
}

pub(crate) fn load_catalogue(extra: &[PathBuf]) -> Result<Catalogue, String> {
    let mut dirs = Catalogue::dirs_from_env();
    dirs.extend(extra.iter().cloned());
    Catalogue::load(&dirs).map_err(|e| e.to_string())
}

fn execute(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Parse {
            json,
            no_llm,
            words,
        } => {
            let catalogue = load_catalogue(&cli.blueprints)?;
            parse::run(&catalogue, json, no_llm, &words)
        }
        Command::Plan(args) => {
            let catalogue = load_catalogue(&cli.blueprints)?;
            plan_command(&catalogue, args)
        }
        Command::Catalogue(command) => catalogue_command(&cli.blueprints, command),
        Command::Graph {
            application,
            format,
            version,
        } => {
            let catalogue = load_catalogue(&cli.blueprints)?;
            let graph =
                crate::graph::blueprint_graph(&catalogue, &application, version.as_deref())?;
            print!("{}", graph.render(format));
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { bind, store } => service::serve(&cli.blueprints, &store, bind),
        Command::Rbac {
            namespace,
            user,
            service_account,
            data_removal,
        } => {
            use crate::execute::kubernetes::rbac::{Grantee, to_yaml};
            let grantee = match service_account {
                Some(account) => match account.split_once('/') {
                    Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                        Grantee::ServiceAccount(ns.to_string(), name.to_string())
                    }
                    _ => {
                        eprintln!("--service-account takes NAMESPACE/NAME, not '{account}'");
                        return Ok(ExitCode::from(2));
                    }
                },
                None => Grantee::User(user),
            };
            print!("{}", to_yaml(namespace.as_deref(), &grantee, data_removal));
            Ok(ExitCode::SUCCESS)
        }
        Command::Chat {
            sentence,
            yes,
            no_rollback,
            store,
        } => service::chat(
            &cli.blueprints,
            &store,
            &sentence.join(" "),
            yes,
            !no_rollback,
        ),
        Command::Intents(IntentsCommand::List {
            status,
            application,
            limit,
            json,
            store,
        }) => service::list_intents(&store, status, application, limit, json),
        Command::Intents(IntentsCommand::Show { id, json, store }) => {
            service::show_intent(&store, &id, json)
        }
        Command::Token(TokenCommand::Create { name, role, store }) => {
            service::create_token(&store, &name, role)
        }
        Command::Token(TokenCommand::List { store }) => service::list_tokens(&store),
        Command::Token(TokenCommand::Revoke { name, store }) => {
            service::revoke_token(&store, &name)
        }
        Command::History {
            release,
            namespace,
            json,
            store,
        } => service::history(&store, &release, &namespace, json),
        Command::Apply {
            sentence,
            no_rollback,
            store,
        } => service::apply(&cli.blueprints, &store, &sentence.join(" "), !no_rollback),
        Command::Secrets(SecretsCommand::Show {
            release,
            namespace,
            platform,
            json,
            store,
        }) => service::show_secrets(&store, &release, &namespace, platform, json),
    }
}

/// The blueprint names declared by the `*.yaml` files of `dir`.
fn sources_names(dir: &std::path::Path) -> Vec<String> {
    crate::catalogue::read_dir_sources(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|source| crate::catalogue::parse_blueprint(&source.text).ok())
        .map(|blueprint| blueprint.name().to_string())
        .collect()
}

/// `catalogue lint` renders each of `names` as an install with its default
/// parameters, TLS and an ingress, on Kubernetes and on Compose, under the
/// same template limits as the service ([`crate::template`]); every failure
/// is a problem, with the blueprint and platform.
fn render_samples(catalogue: &Catalogue, names: &[String]) -> Vec<String> {
    use crate::intent::{Action, Intent, Parameters, Source};
    let planner = crate::plan::Planner::new(catalogue, RenderOptions::default());
    let mut problems = Vec::new();
    for name in names {
        for platform in [Platform::Kubernetes, Platform::Compose] {
            let intent = Intent {
                action: Action::Install,
                applications: vec![name.clone()],
                platform: Some(platform),
                namespace: None,
                parameters: Parameters {
                    tls: Some(true),
                    ingress: Some(true),
                    ..Parameters::default()
                },
                source: Source::Rules,
                model: None,
                strategy: None,
                ignored: Vec::new(),
            };
            if let Err(err) = planner.plan_intent(intent, &mut EphemeralSecrets::new()) {
                problems.push(format!(
                    "{name} ({platform}): rendering with sample values failed: {err}"
                ));
            }
        }
    }
    problems
}

/// Where `plan --output DIR` keeps the generated secrets for its next run
/// (JSON, but no `.json` name: `kubectl apply -f DIR` must not read it).
const KEPT_SECRETS: &str = ".deckhand-secrets";

fn plan_command(catalogue: &Catalogue, args: PlanArgs) -> Result<ExitCode, String> {
    let overrides = Overrides {
        platform: None,
        namespace: args
            .namespace
            .as_deref()
            .map(Namespace::parse)
            .transpose()
            .map_err(|e| e.to_string())?,
        domain: args
            .domain
            .as_deref()
            .map(Domain::parse)
            .transpose()
            .map_err(|e| e.to_string())?,
        replicas: None::<Replicas>,
        tls: None,
        strategy: None,
    };
    let mut planner = Planner::new(catalogue, args.render.options());
    if let Some(platform) = args.platform {
        planner.default_platform = platform;
    }
    let sentence = args.sentence.join(" ");
    // Rendering again into the same directory keeps its passwords: they are
    // kept beside the manifests (which hold them already), mode 0600.
    let kept = args.output.as_ref().map(|dir| dir.join(KEPT_SECRETS));
    let mut secrets = match kept.as_ref().filter(|path| path.exists()) {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let values = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not deckhand's secrets file: {e}", path.display()))?;
            EphemeralSecrets::with_values(values)
        }
        None => EphemeralSecrets::new(),
    };
    let understanding = parse::Understanding::new(catalogue, args.no_llm)?;
    let intent = understanding
        .understand(&sentence)
        .map_err(|failure| parse::failure_text(&failure))?;
    let plan = match planner.plan_parsed(intent, &overrides, &mut secrets) {
        Ok(plan) => plan,
        Err(err) => return Err(with_suggestions(&err)),
    };
    let mut text = if args.json {
        serde_json::to_string_pretty(&plan).expect("plans serialize")
    } else {
        plan.to_text()
    };
    if let Some(dir) = &args.output {
        let written = plan.write_manifests(dir).map_err(|e| e.to_string())?;
        if let Some(path) = &kept {
            let text = serde_json::to_string_pretty(&secrets.values()).expect("strings serialize");
            crate::plan::write_file(path, &text, true)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        if !args.json {
            text.push_str(&format!(
                "\nWrote {} file(s) to {}:\n",
                written.len(),
                dir.display()
            ));
            for path in written {
                text.push_str(&format!("  {}\n", path.display()));
            }
            if let Some(path) = &kept {
                text.push_str(&format!(
                    "Generated secrets are kept in {} (0600): planning into {} again keeps them.\n",
                    path.display(),
                    dir.display()
                ));
            }
        }
    }
    print!("{text}");
    if args.json {
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

fn with_suggestions(err: &PlanError) -> String {
    let mut text = err.to_string();
    let suggestions = err.suggestions();
    if !suggestions.is_empty() && !text.contains("did you mean") {
        text.push_str(&format!("\n  try: {}", suggestions.join(" | ")));
    }
    text
}

fn catalogue_command(extra: &[PathBuf], command: CatalogueCommand) -> Result<ExitCode, String> {
    match command {
        CatalogueCommand::Lint { dir } => {
            let mut sources =
                crate::catalogue::read_dir_sources(&dir).map_err(|e| e.to_string())?;
            if sources.is_empty() {
                return Err(format!("no *.yaml blueprints in {}", dir.display()));
            }
            let count = sources.len();
            // Built-ins first, so requirements on them resolve; the directory overrides.
            let mut all = Catalogue::builtin_sources();
            all.append(&mut sources);
            let names: Vec<String> = sources_names(&dir);
            match Catalogue::from_sources(all) {
                Ok(catalogue) => {
                    let problems = render_samples(&catalogue, &names);
                    for problem in &problems {
                        println!("{problem}");
                    }
                    if !problems.is_empty() {
                        println!(
                            "{} problem(s) rendering the blueprints of {} with sample values",
                            problems.len(),
                            dir.display()
                        );
                        return Ok(ExitCode::from(EXIT_INPUT));
                    }
                    println!("{count} blueprint(s) in {}: no problems", dir.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(CatalogueError::Invalid(diagnostics)) => {
                    let mine: Vec<&Diagnostic> = diagnostics
                        .iter()
                        .filter(|d| !d.file.starts_with("builtin:"))
                        .collect();
                    for d in &mine {
                        println!("{d}");
                    }
                    for d in diagnostics
                        .iter()
                        .filter(|d| d.file.starts_with("builtin:"))
                    {
                        println!(
                            "{d} (a built-in blueprint, affected by an override in {})",
                            dir.display()
                        );
                    }
                    println!("{} problem(s)", diagnostics.len());
                    Ok(ExitCode::from(1))
                }
                Err(other) => Err(other.to_string()),
            }
        }
        CatalogueCommand::New { name, dir } => {
            if !crate::intent::values::is_dns_label(&name) {
                return Err(format!(
                    "'{name}' is not a valid blueprint name: use lower-case letters, digits and '-'"
                ));
            }
            let path = dir.join(format!("{name}.yaml"));
            if path.exists() {
                return Err(format!(
                    "{} already exists; not overwriting it",
                    path.display()
                ));
            }
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            crate::atomic::create_new(
                &path,
                crate::catalogue::starter_blueprint(&name).as_bytes(),
                0o644,
            )
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!(
                "wrote {}; check it with: deckhand catalogue lint {}",
                path.display(),
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        CatalogueCommand::List {
            json,
            category,
            search,
        } => {
            let catalogue = load_catalogue(extra)?;
            let hits = catalogue.search(search.as_deref(), category.as_deref());
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&hits).expect("summaries serialize")
                );
            } else {
                let width = hits.iter().map(|h| h.name.len()).max().unwrap_or(4);
                for hit in &hits {
                    let requires = if hit.requires.is_empty() {
                        String::new()
                    } else {
                        format!("  [needs {}]", hit.requires.join(", "))
                    };
                    println!(
                        "{:width$}  {:12}  {:10}  {}{requires}",
                        hit.name, hit.category, hit.version, hit.description
                    );
                }
                println!("{} blueprint(s)", hits.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        CatalogueCommand::Show { name, json } => {
            let catalogue = load_catalogue(extra)?;
            let entry = catalogue.get(&name).map_err(|e| e.to_string())?;
            let detail = catalogue.detail(entry);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&detail).expect("details serialize")
                );
                return Ok(ExitCode::SUCCESS);
            }
            let s = &detail.summary;
            println!("{} — {}", s.name, s.description);
            println!(
                "category: {}   default version: {}   known versions: {}",
                s.category,
                s.version,
                s.versions.join(", ")
            );
            if !s.aliases.is_empty() {
                println!("also called: {}", s.aliases.join(", "));
            }
            if !detail.requirements.is_empty() {
                println!("requires:");
                for r in &detail.requirements {
                    let when = r
                        .when
                        .as_ref()
                        .map_or(String::new(), |w| format!(" when {w}"));
                    println!("  {} as {}{when}", r.blueprint, r.alias());
                }
            }
            if !detail.parameters.is_empty() {
                println!("parameters:");
                for (name, p) in &detail.parameters {
                    let default = p
                        .default
                        .as_ref()
                        .map_or(String::new(), |d| format!(" = {d}"));
                    println!(
                        "  {name} ({:?}){default}  {}",
                        p.kind,
                        p.description.clone().unwrap_or_default()
                    );
                }
            }
            if let Some(stack) = &detail.stack {
                println!("a stack, deployed layer by layer, removed and upgraded as one:");
                for layer in &stack.layers {
                    println!("  layer {}:", layer.layer);
                    for m in &layer.members {
                        let version = m.version.as_deref().unwrap_or("(its default version)");
                        let front = if stack.front.as_deref() == Some(m.name.as_str()) {
                            " (front: a domain said for the stack is its)"
                        } else {
                            ""
                        };
                        println!("    {} — {} {version}{front}", m.name, m.blueprint);
                        if !m.uses.is_empty() {
                            println!("      after and wired to: {}", m.uses.join(", "));
                        }
                        if !m.env.is_empty() {
                            println!("      environment: {}", m.env.join(", "));
                        }
                        for f in &m.files {
                            println!("      file {f}");
                        }
                    }
                }
            }
            if !detail.components.is_empty() {
                println!("components:");
            }
            for c in &detail.components {
                let ports: Vec<String> = c
                    .ports
                    .iter()
                    .map(|p| format!("{}:{}", p.name, p.port))
                    .collect();
                println!(
                    "  {} — {}  ports [{}]{}",
                    c.name,
                    c.image,
                    ports.join(", "),
                    if c.scalable {
                        ""
                    } else {
                        "  (single instance)"
                    }
                );
                println!("    runs as {}", c.runs_as);
                for v in &c.volumes {
                    println!("    volume {v}");
                }
            }
            if !detail.provides.is_empty() {
                println!("provides to dependents: {}", detail.provides.join(", "));
            }
            if !detail.secrets.is_empty() {
                println!("generated secrets: {}", detail.secrets.join(", "));
            }
            println!("try: deckhand plan \"{}\"", detail.example);
            Ok(ExitCode::SUCCESS)
        }
    }
}
