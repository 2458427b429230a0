//! The LLM fallback through the real `deckhand serve`: a local
//! OpenAI-compatible server (tests/common/recorder.rs) answers
//! `POST /v1/chat/completions` with scripted replies and records what
//! deckhand sends. Only sentences the rules cannot parse reach it; its
//! answers go through the same validation as the rules' output.

mod common;

use std::time::{Duration, Instant};

use common::recorder::{Answer, Recorder};
use common::server::{ADMIN_TOKEN, Server};
use serde_json::{Value, json};

const MODEL: &str = "test-model";
const VAGUE: &str = "we need somewhere to keep our git repositories";

fn completion(content: &Value) -> Answer {
    Answer::ok(
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content.to_string()}}]
        })
        .to_string(),
    )
}

fn answer(action: &str, apps: &[&str], namespace: Value) -> Value {
    json!({"action": action, "applications": apps, "platform": null, "namespace": namespace,
           "parameters": {"tls": true, "ingress": null, "domain": null, "replicas": null, "version": null, "storage": null},
           "unclear": null})
}

fn server_with(llm: &Recorder, timeout: &str) -> Server {
    let base = format!("{}/v1", llm.url);
    Server::start_with(
        tempfile::tempdir().unwrap(),
        &[
            ("DECKHAND_LLM_BASE_URL", base.as_str()),
            ("DECKHAND_LLM_MODEL", MODEL),
            ("DECKHAND_LLM_API_KEY", "sk-test"),
            ("DECKHAND_LLM_TIMEOUT_SECONDS", timeout),
        ],
    )
}

fn deploy(server: &Server, command: &str) -> (u16, Value) {
    server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": command}),
    )
}

fn completions(llm: &Recorder) -> usize {
    llm.requests()
        .iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .count()
}

#[test]
fn a_good_answer_waits_for_a_person_then_runs_and_the_request_carries_prompt_and_schema() {
    let llm = Recorder::start();
    let server = server_with(&llm, "5");
    llm.script([completion(&answer("install", &["gitea"], json!("dev")))]);

    // What a model understood is planned, then waits for a person.
    let (code, body) = deploy(&server, VAGUE);
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["status"], "awaiting_confirmation", "{body}");
    let id = body["id"].as_str().unwrap();
    let (_, waiting) = server.get(
        &format!("/api/orchestration/intents/{id}"),
        Some(ADMIN_TOKEN),
    );
    assert!(
        waiting["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["step"] == "confirm"
                && e["message"]
                    .as_str()
                    .unwrap()
                    .contains("so it waits for a person")),
        "{waiting}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        server
            .get(
                &format!("/api/orchestration/intents/{id}"),
                Some(ADMIN_TOKEN)
            )
            .1["status"],
        "awaiting_confirmation"
    );
    let (code, confirmed) = server.post(
        &format!("/api/orchestration/intents/{id}/confirm"),
        Some(ADMIN_TOKEN),
        json!({}),
    );
    assert_eq!(code, 202, "{confirmed}");
    let done = server.wait_for(id, &["completed", "failed"]);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["intent"]["source"], "llm");
    assert_eq!(done["intent"]["model"], MODEL);
    assert_eq!(done["intent"]["applications"], json!(["gitea"]));
    assert_eq!(done["intent"]["namespace"], "dev");
    assert_eq!(done["intent"]["parameters"], json!({"tls": true}));
    let events = done["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["status"] == "asking_llm"), "{done}");
    assert!(
        events.iter().any(|e| e["status"] == "parsed"
            && e["message"]
                .as_str()
                .unwrap()
                .contains("understood by the language model test-model")),
        "{done}"
    );

    // What deckhand sent.
    let sent = llm.requests();
    assert_eq!(sent.len(), 1);
    let request = &sent[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
    let body = request.json();
    assert_eq!(body["model"], MODEL);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().unwrap();
    for expected in [
        "- gitea (",
        "- authentik (identity), also called",
        "- postgresql (database)",
        "\"unclear\"",
    ] {
        assert!(
            system.contains(expected),
            "{expected} missing from the system prompt:\n{system}"
        );
    }
    assert_eq!(messages[1], json!({"role": "user", "content": VAGUE}));
    let format = &body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["name"], "deckhand_intent");
    assert_eq!(format["json_schema"]["strict"], true);
    let schema = &format["json_schema"]["schema"];
    assert_eq!(schema["additionalProperties"], false);
    let names = schema["properties"]["applications"]["items"]["enum"]
        .as_array()
        .unwrap();
    assert!(names.contains(&json!("gitea")) && names.contains(&json!("authentik")));
    assert_eq!(
        schema["properties"]["action"]["enum"],
        json!(["install", "upgrade", "scale", "status"])
    );

    // A sentence the rules understand never reaches the model.
    let (code, body) = deploy(&server, "install redis in namespace cache");
    assert_eq!(code, 202, "{body}");
    let done = server.wait_for(body["id"].as_str().unwrap(), &["completed", "failed"]);
    assert_eq!(done["intent"]["source"], "rules");
    assert!(done["intent"].get("model").is_none(), "{done}");
    assert_eq!(completions(&llm), 1, "the rules' sentence reached the LLM");

    // Nor does one the rules understood with a wrong value: the person fixes
    // it; no model guesses another namespace.
    let (code, body) = deploy(&server, "install redis in namespace Bad_NS");
    assert_eq!(code, 422, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("Bad_NS"),
        "{body}"
    );
    assert_eq!(completions(&llm), 1, "an invalid value reached the LLM");
}

#[test]
fn invalid_answers_invented_applications_and_forbidden_actions_are_refused() {
    let llm = Recorder::start();
    let server = server_with(&llm, "5");
    let cases = [
        (answer("install", &["gitea"], json!("Bad_NS")), "Bad_NS"),
        (
            answer("install", &["frobnicator"], Value::Null),
            "frobnicator",
        ),
        (answer("remove", &["gitea"], Value::Null), "remove"),
        (
            json!({"action": "install", "applications": ["gitea"], "platform": null, "namespace": null,
                "parameters": {"replicas": 5000}, "unclear": null}),
            "5000",
        ),
        (
            json!({"action": "install", "applications": ["gitea"], "platform": null, "namespace": null,
                "parameters": {"delete_data": true}, "unclear": null}),
            "delete_data",
        ),
    ];
    for (given, named) in cases {
        llm.script([completion(&given)]);
        let (code, body) = deploy(&server, VAGUE);
        assert_eq!(code, 422, "{given}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{named} not named in: {detail}");
        assert!(
            detail.contains("ephrase") || detail.contains("say it plainly"),
            "{detail}"
        );
        let (_, intent) = server.get(
            &format!(
                "/api/orchestration/intents/{}",
                body["intent_id"].as_str().unwrap()
            ),
            Some(ADMIN_TOKEN),
        );
        assert_eq!(intent["status"], "failed");
        assert!(
            intent["plan"].is_null(),
            "a refused answer was planned: {intent}"
        );
    }
    // Refused answers are not tried again: one request each.
    assert_eq!(completions(&llm), 5);
    let (_, releases) = server.get("/api/orchestration/releases", Some(ADMIN_TOKEN));
    assert_eq!(
        releases.as_array().expect("a list of releases").len(),
        0,
        "{releases}"
    );

    // A question back from the model is passed on.
    let mut unclear = answer("install", &[], Value::Null);
    unclear["unclear"] = json!("Which git server do you want: gitea?");
    llm.script([completion(&unclear)]);
    let (code, body) = deploy(&server, VAGUE);
    assert_eq!(code, 422);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Which git server"),
        "{body}"
    );
}

#[test]
fn timeouts_and_server_errors_are_refused_after_two_tries() {
    let llm = Recorder::start();
    let server = server_with(&llm, "0.5");
    llm.set_default(
        completion(&answer("install", &["gitea"], Value::Null)).after(Duration::from_secs(2)),
    );
    let started = Instant::now();
    let (code, body) = deploy(&server, VAGUE);
    let took = started.elapsed();
    assert_eq!(code, 422, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("did not answer within 0.5 s (2 tries)"),
        "{detail}"
    );
    assert!(
        detail.contains("Say it the way the rules understand"),
        "{detail}"
    );
    assert_eq!(completions(&llm), 2);
    assert!(
        took < Duration::from_secs(3),
        "two 0.5 s tries took {took:?}"
    );

    llm.set_default(Answer::status(500, r#"{"error": {"message": "model crashed", "type": "server_error", "param": null, "code": null}}"#));
    let (code, body) = deploy(&server, VAGUE);
    assert_eq!(code, 422, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("failed") && detail.contains("model crashed"),
        "{detail}"
    );
    assert_eq!(completions(&llm), 4);
}

#[test]
fn llm_off_keeps_the_rules_alone() {
    let llm = Recorder::start();
    let base = format!("{}/v1", llm.url);
    let server = Server::start_with(
        tempfile::tempdir().unwrap(),
        &[
            ("DECKHAND_LLM_BASE_URL", base.as_str()),
            ("DECKHAND_LLM_MODEL", MODEL),
            ("DECKHAND_LLM", "off"),
        ],
    );
    let (code, body) = deploy(&server, VAGUE);
    assert_eq!(code, 422, "{body}");
    // The rules' own refusal, with nothing from a model.
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("which application"), "{detail}");
    assert!(!detail.contains("language model"), "{detail}");
    assert_eq!(completions(&llm), 0);
}

/// `deckhand parse` and `deckhand plan` use the language model when one is
/// configured and the rules did not understand; `--no-llm` keeps to the
/// rules; a sentence the rules understand never reaches the model.
#[test]
fn parse_and_plan_ask_the_language_model_unless_told_not_to() {
    let llm = Recorder::start();
    llm.script([
        completion(&answer("install", &["gitea"], json!("dev"))),
        completion(&answer("install", &["gitea"], json!("dev"))),
    ]);
    let base = format!("{}/v1", llm.url);
    let env = [
        ("DECKHAND_LLM_BASE_URL", base.as_str()),
        ("DECKHAND_LLM_MODEL", MODEL),
        ("DECKHAND_LLM_API_KEY", "sk-test"),
        ("DECKHAND_LLM_TIMEOUT_SECONDS", "5"),
    ];
    let out = common::run_with_env(&["parse", "--json", VAGUE], None, &env);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let intent: Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert_eq!(intent["source"], "llm", "{intent}");
    assert_eq!(intent["applications"], json!(["gitea"]), "{intent}");
    assert_eq!(completions(&llm), 1);

    // --no-llm: the rules' own refusal, and the model is not asked.
    let out = common::run_with_env(&["parse", "--json", "--no-llm", VAGUE], None, &env);
    assert_eq!(out.status.code(), Some(2), "{}", common::stdout(&out));
    let failure: Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert!(failure["error"].is_string(), "{failure}");
    assert_eq!(completions(&llm), 1);

    // Understood by the rules: the model is not asked.
    let out = common::run_with_env(&["parse", "--json", "install redis"], None, &env);
    let intent: Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert_eq!(intent["source"], "rules", "{intent}");
    assert_eq!(completions(&llm), 1);

    // plan: what the model understood is planned and says where it came from.
    let out = common::run_with_env(&["plan", "--json", VAGUE], None, &env);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let plan: Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert_eq!(plan["intent"]["source"], "llm", "{plan}");
    assert_eq!(plan["namespace"], "dev", "{plan}");
    assert_eq!(completions(&llm), 2);
}

/// `POST /api/orchestration/plan` asks the model too, and shows what it
/// understood; a question the rules ask back is answered as a question.
#[test]
fn the_plan_api_asks_the_language_model_too() {
    let llm = Recorder::start();
    let server = server_with(&llm, "5");
    llm.script([completion(&answer("install", &["gitea"], json!("dev")))]);
    let (code, body) = server.post(
        "/api/orchestration/plan",
        Some(ADMIN_TOKEN),
        json!({"command": VAGUE}),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["plan"]["intent"]["source"], "llm", "{body}");
    assert_eq!(completions(&llm), 1);

    // "set up SSO": the rules understood it is a choice; the model is not asked.
    let (code, body) = server.post(
        "/api/orchestration/plan",
        Some(ADMIN_TOKEN),
        json!({"command": "set up SSO"}),
    );
    assert_eq!(code, 422, "{body}");
    assert!(body["question"].is_string(), "{body}");
    assert_eq!(
        body["choices"],
        json!(["set up authentik", "set up keycloak"])
    );
    assert_eq!(completions(&llm), 1);
}
