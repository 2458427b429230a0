//! The LLM fallback: a sentence the rules could not understand is sent to an
//! OpenAI-compatible chat completion API (OpenAI, Azure OpenAI, Ollama, vLLM,
//! llama.cpp's server) through `async-openai`, and the answer is an intent or
//! a refusal.
//!
//! What this module owns:
//! - [`LlmSettings`]: base URL, model, key, timeout and number of tries;
//! - the system prompt, `prompts/intent_system.md.j2` (embedded), rendered
//!   once with minijinja from the catalogue (names, aliases, categories,
//!   descriptions) and the answer's JSON schema;
//! - the call: a `json_schema` response format (structured output), one
//!   timeout per try, a bounded number of tries (transport errors, server
//!   errors, timeouts and unreadable answers are tried again; a readable
//!   answer that is refused is not);
//! - [`validate`]: the answer goes through the same checks as the rules'
//!   output — it is deserialized into [`Intent`], whose newtypes validate the
//!   namespace, domain, version and storage; replica counts are checked for
//!   the action; every application must be a catalogue name or alias; and the
//!   model may only produce the actions in [`LLM_ACTIONS`]. Anything else is
//!   refused with a message that tells the person what to rephrase, and is
//!   never planned or executed.
//!
//! The HTTP client is `async-openai`'s over a plain `reqwest` service without
//! the library's own retry layer, so the number of requests is exactly the
//! number of tries.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::middleware::ReqwestService;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
    ResponseFormat, ResponseFormatJsonSchema,
};
use minijinja::{Environment, UndefinedBehavior, context};
use serde_json::{Map, Value as Json, json};

use super::{Action, Intent, Replicas};
use crate::catalogue::Catalogue;

/// The system prompt template (minijinja).
pub const SYSTEM_PROMPT: &str = include_str!("../../prompts/intent_system.md.j2");

/// The actions the language model may produce. Removing and rolling back
/// must be said in words the rules understand.
pub const LLM_ACTIONS: &[Action] = &[
    Action::Install,
    Action::Upgrade,
    Action::Scale,
    Action::Status,
];

/// The name of the structured-output schema sent with every request.
pub const SCHEMA_NAME: &str = "deckhand_intent";

/// Where the language model is and how long to wait for it.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSettings {
    /// OpenAI-compatible API base, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// Per try.
    pub timeout: Duration,
    /// At least 1.
    pub tries: u32,
}

impl LlmSettings {
    /// OpenAI's API, when no base URL is given.
    pub const DEFAULT_BASE_URL: &'static str = "https://api.openai.com/v1";
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_TRIES: u32 = 2;
}

/// Why the language model produced no intent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("the language model at {url} did not answer within {seconds} s ({tries} tries)")]
    Timeout {
        url: String,
        seconds: f64,
        tries: u32,
    },
    #[error("the language model at {url} failed: {message}")]
    Unavailable { url: String, message: String },
    #[error("the language model's answer is not an intent ({message}): {answer}")]
    Malformed { message: String, answer: String },
    #[error("the language model asked: {0}")]
    Unclear(String),
    #[error("{0}")]
    Refused(String),
    #[error("cannot prepare the language model prompt: {0}")]
    Prompt(String),
}

impl LlmError {
    /// What the person should do next.
    pub fn rephrase(&self) -> &'static str {
        match self {
            LlmError::Timeout { .. } | LlmError::Unavailable { .. } => {
                "Say it the way the rules understand, e.g. \"install gitea in namespace dev with TLS\""
            }
            LlmError::Unclear(_) | LlmError::Malformed { .. } => {
                "Rephrase it with a verb and a catalogue name, e.g. \"install gitea in namespace dev\""
            }
            LlmError::Refused(_) => {
                "Rephrase it naming a catalogue application and valid values, e.g. \"install gitea in namespace dev\""
            }
            LlmError::Prompt(_) => "Say it the way the rules understand",
        }
    }

    /// Worth another try (the answer may differ or the server recover).
    fn retryable(&self) -> bool {
        matches!(
            self,
            LlmError::Timeout { .. } | LlmError::Unavailable { .. } | LlmError::Malformed { .. }
        )
    }
}

/// The JSON schema of the answer (strict structured output: every property
/// required, nullable where the contract allows null, nothing else).
pub fn answer_schema(catalogue: &Catalogue) -> Json {
    let names: Vec<&str> = catalogue.names().collect();
    let nullable =
        |kind: &str, description: &str| json!({"type": [kind, "null"], "description": description});
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["action", "applications", "platform", "namespace", "parameters", "strategy", "unclear"],
        "properties": {
            "action": {"type": "string", "enum": LLM_ACTIONS.iter().map(|a| a.as_str()).collect::<Vec<_>>()},
            "applications": {
                "type": "array",
                "items": {"type": "string", "enum": names},
                "description": "canonical catalogue names, in the order given"
            },
            "platform": {"type": ["string", "null"], "enum": ["kubernetes", "compose", null]},
            "namespace": nullable("string", "a DNS-1123 label, or null when not said"),
            "parameters": {
                "type": "object",
                "additionalProperties": false,
                "required": ["tls", "ingress", "domain", "replicas", "version", "storage", "autoscale"],
                "properties": {
                    "tls": nullable("boolean", "true when TLS, HTTPS, SSL or a certificate is asked for"),
                    "ingress": nullable("boolean", "true when an ingress is asked for"),
                    "domain": nullable("string", "a host name such as app.example.com"),
                    "replicas": {"type": ["integer", "null"], "minimum": 0, "maximum": Replicas::MAX},
                    "version": nullable("string", "an image tag such as 16 or 2024.10.1"),
                    "storage": nullable("string", "a Kubernetes quantity such as 20Gi"),
                    "autoscale": {
                        "type": ["object", "null"],
                        "description": "scale only: replicas left to an autoscaler between min and max",
                        "additionalProperties": false,
                        "required": ["min", "max", "cpu_percent"],
                        "properties": {
                            "min": {"type": "integer", "minimum": 1, "maximum": Replicas::MAX},
                            "max": {"type": "integer", "minimum": 1, "maximum": Replicas::MAX},
                            "cpu_percent": {"type": ["integer", "null"], "minimum": 1, "maximum": 100}
                        }
                    }
                }
            },
            "strategy": {
                "type": ["object", "null"],
                "description": "upgrade only: how the new version is rolled out, null when not said",
                "additionalProperties": false,
                "required": ["type", "steps", "batch", "max_unavailable"],
                "properties": {
                    "type": {"type": "string", "enum": ["canary", "blue_green", "rolling", "recreate"]},
                    "steps": {
                        "type": ["array", "null"],
                        "items": {"type": "integer", "minimum": 1, "maximum": 100},
                        "description": "canary: traffic percentages per stage, ending at 100"
                    },
                    "batch": {"type": ["integer", "null"], "minimum": 1, "maximum": Replicas::MAX, "description": "rolling: pods replaced at a time"},
                    "max_unavailable": {"type": ["integer", "null"], "minimum": 1, "maximum": Replicas::MAX}
                }
            },
            "unclear": nullable("string", "null when understood; else one short question for the person")
        }
    })
}

/// Renders the system prompt for a catalogue.
pub fn system_prompt(catalogue: &Catalogue) -> Result<String, LlmError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template("intent_system", SYSTEM_PROMPT)
        .map_err(|e| LlmError::Prompt(e.to_string()))?;
    let entries: Vec<Json> = catalogue
        .names()
        .filter_map(|name| catalogue.entry(name))
        .map(|entry| {
            let summary = catalogue.summary(entry);
            json!({
                "name": summary.name,
                "category": summary.category,
                "aliases": summary.aliases,
                "description": summary.description,
            })
        })
        .collect();
    let schema = serde_json::to_string_pretty(&answer_schema(catalogue))
        .map_err(|e| LlmError::Prompt(e.to_string()))?;
    let refused: Vec<&str> = [
        Action::Install,
        Action::Upgrade,
        Action::Scale,
        Action::Remove,
        Action::Rollback,
        Action::Status,
        Action::Promote,
        Action::Abort,
        Action::Pause,
    ]
    .into_iter()
    .filter(|a| !LLM_ACTIONS.contains(a))
    .map(Action::as_str)
    .collect();
    let actions: Vec<&str> = LLM_ACTIONS.iter().map(|a| a.as_str()).collect();
    env.get_template("intent_system")
        .and_then(|t| {
            t.render(context! {
                catalogue => minijinja::Value::from(minijinja::value::Serde(entries)),
                schema => schema,
                actions => actions,
                refused_actions => refused,
            })
        })
        .map_err(|e| LlmError::Prompt(e.to_string()))
}

/// Checks a model's answer exactly as the rules' output is checked and
/// returns the intent (`source: llm`, with the model), or why it is refused.
pub fn validate(answer: &Json, model: &str, catalogue: &Catalogue) -> Result<Intent, LlmError> {
    let shown = answer.to_string();
    let Some(object) = answer.as_object() else {
        return Err(LlmError::Malformed {
            message: "expected a JSON object".into(),
            answer: shown,
        });
    };
    const FIELDS: &[&str] = &[
        "action",
        "applications",
        "platform",
        "namespace",
        "parameters",
        "strategy",
        "unclear",
    ];
    if let Some(extra) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(LlmError::Malformed {
            message: format!("unexpected field '{extra}'"),
            answer: shown,
        });
    }
    if let Some(question) = object
        .get("unclear")
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        return Err(LlmError::Unclear(question.to_string()));
    }
    let action: Action = match object.get("action") {
        Some(value) => serde_json::from_value(value.clone()).map_err(|_| LlmError::Malformed {
            message: format!("unknown action {value}"),
            answer: shown.clone(),
        })?,
        None => {
            return Err(LlmError::Malformed {
                message: "no action".into(),
                answer: shown,
            });
        }
    };
    if !LLM_ACTIONS.contains(&action) {
        return Err(LlmError::Refused(format!(
            "the language model read this as a {action}, which it may not do; say it plainly, e.g. \"{action} grafana\""
        )));
    }
    // Parameters: nulls are "not said"; anything outside the contract is refused.
    const PARAMETERS: &[&str] = &[
        "tls",
        "ingress",
        "domain",
        "replicas",
        "version",
        "storage",
        "autoscale",
    ];
    let mut parameters = Map::new();
    match object.get("parameters") {
        None | Some(Json::Null) => {}
        Some(Json::Object(given)) => {
            if let Some(extra) = given.keys().find(|k| !PARAMETERS.contains(&k.as_str())) {
                return Err(LlmError::Refused(format!(
                    "the language model asked for the parameter '{extra}', which it may not set"
                )));
            }
            for (key, value) in given {
                if !value.is_null() {
                    parameters.insert(key.clone(), without_nulls(value));
                }
            }
        }
        Some(other) => {
            return Err(LlmError::Malformed {
                message: format!("parameters must be an object, not {other}"),
                answer: shown,
            });
        }
    }
    let intent_json = json!({
        "action": action,
        "applications": object.get("applications").cloned().unwrap_or(json!([])),
        "platform": object.get("platform").cloned().unwrap_or(Json::Null),
        "namespace": object.get("namespace").cloned().unwrap_or(Json::Null),
        "parameters": parameters,
        "strategy": object.get("strategy").map(without_nulls).unwrap_or(Json::Null),
        "source": "llm",
        "model": model,
    });
    let mut intent: Intent = serde_json::from_value(intent_json)
        .map_err(|e| LlmError::Refused(format!("the language model's answer is invalid: {e}")))?;
    if let Some(replicas) = intent.parameters.replicas {
        let count = i64::from(replicas.get());
        let checked = if action == Action::Scale {
            Replicas::for_scale(count)
        } else {
            Replicas::for_install(count)
        };
        checked.map_err(|e| LlmError::Refused(e.to_string()))?;
    }
    let mut canonical: Vec<String> = Vec::new();
    for name in &intent.applications {
        let lower = name.trim().to_ascii_lowercase();
        match catalogue.canonical(&lower) {
            Some(found) => {
                if !canonical.iter().any(|c| c == found) {
                    canonical.push(found.to_string());
                }
            }
            None => {
                let nearest = catalogue.suggest(&lower, 3);
                let hint = if nearest.is_empty() {
                    String::new()
                } else {
                    format!(" (nearest: {})", nearest.join(", "))
                };
                return Err(LlmError::Refused(format!(
                    "the language model named '{name}', which is not in the catalogue{hint}"
                )));
            }
        }
    }
    intent.applications = canonical;
    if intent.applications.is_empty() && action != Action::Status {
        return Err(LlmError::Refused(format!(
            "the language model found no catalogue application to {action}"
        )));
    }
    if action == Action::Scale
        && intent.parameters.replicas.is_none()
        && intent.parameters.autoscale.is_none()
    {
        return Err(LlmError::Refused(
            "the language model read a scale without a count".into(),
        ));
    }
    if action == Action::Scale
        && intent.parameters.replicas.is_some()
        && intent.parameters.autoscale.is_some()
    {
        return Err(LlmError::Refused(
            "the language model read both a fixed count and autoscaling".into(),
        ));
    }
    intent
        .check_delivery()
        .map_err(|e| LlmError::Refused(format!("the language model's answer is invalid: {e}")))?;
    Ok(intent)
}

/// An object with its null fields left out (strict structured output sends
/// every field; the intent's types leave out what was not said).
fn without_nulls(value: &Json) -> Json {
    match value {
        Json::Object(map) => Json::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The language model client with its rendered prompt.
pub struct LlmParser {
    settings: LlmSettings,
    client: Client<OpenAIConfig>,
    system_prompt: String,
    schema: Json,
}

impl std::fmt::Debug for LlmParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmParser")
            .field("base_url", &self.settings.base_url)
            .field("model", &self.settings.model)
            .finish()
    }
}

impl LlmParser {
    pub fn new(settings: LlmSettings, catalogue: &Catalogue) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| LlmError::Unavailable {
                url: settings.base_url.clone(),
                message: e.to_string(),
            })?;
        let config = OpenAIConfig::new()
            .with_api_base(settings.base_url.trim_end_matches('/'))
            .with_api_key(settings.api_key.clone().unwrap_or_default());
        let client = Client::with_config(config).with_http_service(ReqwestService::new(http));
        Ok(Self {
            system_prompt: system_prompt(catalogue)?,
            schema: answer_schema(catalogue),
            settings,
            client,
        })
    }

    pub fn model(&self) -> &str {
        &self.settings.model
    }

    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    /// The request sent for `command`.
    pub fn request(&self, command: &str) -> Result<CreateChatCompletionRequest, LlmError> {
        let messages: Vec<ChatCompletionRequestMessage> = vec![
            ChatCompletionRequestSystemMessage::from(self.system_prompt.as_str()).into(),
            ChatCompletionRequestUserMessage::from(command).into(),
        ];
        CreateChatCompletionRequestArgs::default()
            .model(self.settings.model.clone())
            .messages(messages)
            .temperature(0.0)
            .response_format(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: Some("one deckhand intent".into()),
                    name: SCHEMA_NAME.into(),
                    schema: self.schema.clone(),
                    strict: Some(true),
                },
            })
            .build()
            .map_err(|e| LlmError::Prompt(e.to_string()))
    }

    /// Asks the model (at most `tries` times) and validates its answer.
    pub async fn parse(&self, command: &str, catalogue: &Catalogue) -> Result<Intent, LlmError> {
        let request = self.request(command)?;
        let tries = self.settings.tries.max(1);
        let mut last = None;
        for _ in 0..tries {
            match self.once(request.clone(), catalogue).await {
                Ok(intent) => return Ok(intent),
                Err(err) if err.retryable() => last = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(match last {
            Some(LlmError::Timeout { url, seconds, .. }) => LlmError::Timeout {
                url,
                seconds,
                tries,
            },
            Some(other) => other,
            None => LlmError::Unavailable {
                url: self.settings.base_url.clone(),
                message: "no try was made".into(),
            },
        })
    }

    async fn once(
        &self,
        request: CreateChatCompletionRequest,
        catalogue: &Catalogue,
    ) -> Result<Intent, LlmError> {
        let url = self.settings.base_url.clone();
        let timeout = LlmError::Timeout {
            url: url.clone(),
            seconds: self.settings.timeout.as_secs_f64(),
            tries: 1,
        };
        let response =
            match tokio::time::timeout(self.settings.timeout, self.client.chat().create(request))
                .await
            {
                Err(_) => return Err(timeout),
                Ok(Err(async_openai::error::OpenAIError::Reqwest(e))) if e.is_timeout() => {
                    return Err(timeout);
                }
                Ok(Err(err)) => {
                    return Err(LlmError::Unavailable {
                        url,
                        message: err.to_string(),
                    });
                }
                Ok(Ok(response)) => response,
            };
        let Some(choice) = response.choices.first() else {
            return Err(LlmError::Malformed {
                message: "no choices".into(),
                answer: String::new(),
            });
        };
        if let Some(refusal) = choice.message.refusal.as_deref().filter(|r| !r.is_empty()) {
            return Err(LlmError::Unclear(refusal.to_string()));
        }
        let content = choice.message.content.clone().unwrap_or_default();
        let answer: Json =
            serde_json::from_str(strip_fences(&content)).map_err(|e| LlmError::Malformed {
                message: e.to_string(),
                answer: content.clone(),
            })?;
        validate(&answer, &self.settings.model, catalogue)
    }
}

/// The JSON inside a Markdown code fence, for servers that add one.
fn strip_fences(content: &str) -> &str {
    let trimmed = content.trim();
    let Some(inner) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    inner.strip_suffix("```").unwrap_or(inner).trim()
}

/// The rules first; the language model only for a sentence the rules did
/// not understand (never to replace a value the rules refused), and only
/// when one is configured. Every front end that parses goes through this
/// (the orchestrator adds its event records around the same steps).
pub async fn understand(
    rules: &crate::intent::RuleParser,
    llm: Option<&LlmParser>,
    catalogue: &Catalogue,
    command: &str,
    releases: &[String],
) -> Result<Intent, crate::intent::ParseFailure> {
    let failure = match rules.parse_with_releases(command, releases) {
        Ok(intent) => return Ok(intent),
        Err(failure) => failure,
    };
    match llm {
        Some(llm) if may_ask(&failure, command) => llm
            .parse(command, catalogue)
            .await
            .map_err(|err| refused_after_rules(failure, &err)),
        _ => Err(failure),
    }
}

/// Whether a rules failure may go to the language model: the rules did not
/// understand it, and it is not too long for them either.
pub fn may_ask(failure: &crate::intent::ParseFailure, command: &str) -> bool {
    !failure.understood && command.chars().count() <= crate::intent::parse::MAX_COMMAND_CHARS
}

/// The rules' failure with the model's reason added.
pub fn refused_after_rules(
    failure: crate::intent::ParseFailure,
    err: &LlmError,
) -> crate::intent::ParseFailure {
    crate::intent::ParseFailure {
        error: format!(
            "{}; the language model could not help either: {err}. {}",
            failure.error,
            err.rephrase()
        ),
        ..failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::builtin().expect("built-in catalogue")
    }

    fn answer(action: &str, apps: &[&str], namespace: Json) -> Json {
        json!({"action": action, "applications": apps, "platform": null, "namespace": namespace,
               "parameters": {"tls": true, "ingress": null, "domain": null, "replicas": null, "version": null, "storage": null, "autoscale": null},
               "strategy": null, "unclear": null})
    }

    #[test]
    fn strategies_and_autoscaling_from_the_model_are_checked_like_the_rules() {
        let c = catalogue();
        let mut canary = answer("upgrade", &["grafana"], Json::Null);
        canary["parameters"]["version"] = json!("13.4");
        canary["strategy"] = json!({"type": "canary", "steps": [10, 50, 100], "batch": null, "max_unavailable": null});
        let intent = validate(&canary, "m", &c).unwrap();
        assert_eq!(
            intent.strategy,
            Some(crate::intent::Strategy::Canary {
                steps: Some(vec![10, 50, 100])
            })
        );
        // Steps that go down, or a strategy on an install, are refused with the value.
        canary["strategy"]["steps"] = json!([50, 10, 100]);
        let err = validate(&canary, "m", &c).unwrap_err();
        assert!(err.to_string().contains("[50, 10, 100]"), "{err}");
        let mut install = answer("install", &["grafana"], Json::Null);
        install["strategy"] =
            json!({"type": "blue_green", "steps": null, "batch": null, "max_unavailable": null});
        let err = validate(&install, "m", &c).unwrap_err();
        assert!(err.to_string().contains("blue-green"), "{err}");

        let mut scale = answer("scale", &["grafana"], Json::Null);
        scale["parameters"]["autoscale"] = json!({"min": 2, "max": 10, "cpu_percent": null});
        let intent = validate(&scale, "m", &c).unwrap();
        assert_eq!(
            intent.parameters.autoscale,
            Some(crate::intent::Autoscale {
                min: 2,
                max: 10,
                cpu_percent: None
            })
        );
        scale["parameters"]["autoscale"] = json!({"min": 10, "max": 2, "cpu_percent": 70});
        let err = validate(&scale, "m", &c).unwrap_err();
        assert!(err.to_string().contains("minimum (10)"), "{err}");
        // The model may not promote or abort: those are said in plain words.
        let err = validate(&answer("promote", &["grafana"], Json::Null), "m", &c).unwrap_err();
        assert!(matches!(err, LlmError::Refused(_)), "{err}");
        assert!(
            system_prompt(&c)
                .unwrap()
                .contains("Never answer `promote`")
        );
    }

    #[test]
    fn a_good_answer_becomes_an_llm_intent_with_canonical_names() {
        let intent = validate(
            &answer("install", &["authentic"], json!("auth")),
            "m1",
            &catalogue(),
        )
        .unwrap();
        assert_eq!(intent.applications, vec!["authentik"]);
        assert_eq!(intent.model.as_deref(), Some("m1"));
        let json = serde_json::to_value(&intent).unwrap();
        assert_eq!(json["source"], "llm");
        assert_eq!(json["parameters"], json!({"tls": true}));
    }

    #[test]
    fn invalid_answers_are_refused_naming_the_input() {
        let c = catalogue();
        let err = validate(&answer("install", &["frobnicator"], Json::Null), "m", &c).unwrap_err();
        assert!(err.to_string().contains("frobnicator"), "{err}");
        let err = validate(&answer("install", &["redis"], json!("Bad_NS")), "m", &c).unwrap_err();
        assert!(err.to_string().contains("Bad_NS"), "{err}");
        let err = validate(&answer("remove", &["redis"], Json::Null), "m", &c).unwrap_err();
        assert!(matches!(err, LlmError::Refused(_)), "{err}");
        let mut many = answer("install", &["redis"], Json::Null);
        many["parameters"]["replicas"] = json!(1000);
        assert!(validate(&many, "m", &c).is_err());
        let mut extra = answer("install", &["redis"], Json::Null);
        extra["shell"] = json!("rm -rf /");
        assert!(matches!(
            validate(&extra, "m", &c),
            Err(LlmError::Malformed { .. })
        ));
        let mut unclear = answer("install", &[], Json::Null);
        unclear["unclear"] = json!("Which database?");
        assert_eq!(
            validate(&unclear, "m", &c),
            Err(LlmError::Unclear("Which database?".into()))
        );
    }

    #[test]
    fn the_prompt_names_the_catalogue_and_the_schema() {
        let prompt = system_prompt(&catalogue()).unwrap();
        assert!(
            prompt.contains("- authentik (identity), also called"),
            "{prompt}"
        );
        assert!(prompt.contains("\"unclear\""));
        assert!(prompt.contains("Never answer `remove`"));
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
    }
}
