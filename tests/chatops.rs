//! Slack and Mattermost through the real `deckhand serve`: requests signed
//! exactly as Slack signs them (and forged, stale and replayed ones),
//! Mattermost's token and button contexts, and a local HTTP server
//! (tests/common/recorder.rs) standing in for the `response_url`s, the
//! incoming webhook and, for the three-second rule, a slow language model.
//! Deploys run on the render executor, or on the in-test Kubernetes API
//! server when they must take longer than three seconds.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::fake_kube::FakeKube;
use common::recorder::{Answer, Recorded, Recorder};
use common::server::{ADMIN_TOKEN, Server};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "slack-signing-secret-for-tests";
const MM_TOKEN: &str = "mattermost-token-for-tests";
const USERS: &str = "UADMIN=admin,UDEP=deployer,slack:U0DAVE=deployer";

static TRIGGER: AtomicUsize = AtomicUsize::new(0);

fn start(extra: &[(&str, &str)], hooks: &Recorder) -> Server {
    let hook = format!("{}/hook", hooks.url);
    let mut env = vec![
        ("DECKHAND_SLACK_SIGNING_SECRET", SECRET),
        ("DECKHAND_MATTERMOST_TOKEN", MM_TOKEN),
        ("DECKHAND_CHAT_USERS", USERS),
        ("DECKHAND_PROTECTED_NAMESPACES", "production,payments"),
        ("DECKHAND_NOTIFY_WEBHOOKS", hook.as_str()),
    ];
    env.extend_from_slice(extra);
    Server::start_with(tempfile::tempdir().unwrap(), &env)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`, as Slack computes it.
fn sign(timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts a form as Slack does; returns status, JSON body and response time.
fn slack_raw(
    server: &Server,
    path: &str,
    body: &str,
    timestamp: i64,
    signature: &str,
) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = server
        .client
        .post(server.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature)
        .body(body.to_string())
        .send()
        .unwrap();
    let took = started.elapsed();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        took,
    )
}

fn command_body(user: &str, text: &str, response_url: &str) -> String {
    command_body_as(user, &user.to_lowercase(), text, response_url)
}

fn command_body_as(user: &str, name: &str, text: &str, response_url: &str) -> String {
    let trigger = TRIGGER.fetch_add(1, Ordering::SeqCst).to_string();
    serde_urlencoded::to_string([
        ("token", "legacy-verification-token"),
        ("team_id", "T0001"),
        ("team_domain", "example"),
        ("channel_id", "C2147483705"),
        ("channel_name", "deploys"),
        ("user_id", user),
        ("user_name", name),
        ("command", "/deckhand"),
        ("text", text),
        ("response_url", response_url),
        ("trigger_id", &trigger),
    ])
    .unwrap()
}

/// A signed slash command.
fn slack(server: &Server, user: &str, text: &str, response_url: &str) -> (u16, Value, Duration) {
    let body = command_body(user, text, response_url);
    let ts = now();
    slack_raw(server, "/slack/commands", &body, ts, &sign(ts, &body))
}

/// A signed slash command from a user with this user name.
fn slack_as(
    server: &Server,
    user: &str,
    name: &str,
    text: &str,
    response_url: &str,
) -> (u16, Value, Duration) {
    let body = command_body_as(user, name, text, response_url);
    let ts = now();
    slack_raw(server, "/slack/commands", &body, ts, &sign(ts, &body))
}

/// A signed button click (block_actions).
fn click(
    server: &Server,
    user: &str,
    action: &str,
    intent: &str,
    response_url: &str,
) -> (u16, Value, Duration) {
    let trigger = TRIGGER.fetch_add(1, Ordering::SeqCst);
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": "T0001"},
        "api_app_id": "A0001", "token": "legacy", "trigger_id": format!("t{trigger}"),
        "team": {"id": "T0001", "domain": "example"}, "channel": {"id": "C2147483705", "name": "deploys"},
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C2147483705", "is_ephemeral": true},
        "response_url": response_url,
        "actions": [{"action_id": format!("deckhand_{action}"), "block_id": "deckhand_intent",
                     "text": {"type": "plain_text", "text": action}, "value": intent,
                     "type": "button", "action_ts": "1.3"}]
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let ts = now();
    slack_raw(server, "/slack/interactions", &body, ts, &sign(ts, &body))
}

/// Every text of a Block Kit message, joined.
fn texts(message: &Value) -> String {
    let mut out = message["text"].as_str().unwrap_or_default().to_string();
    for block in message["blocks"].as_array().into_iter().flatten() {
        out.push('\n');
        out.push_str(block["text"]["text"].as_str().unwrap_or_default());
    }
    out
}

fn buttons(message: &Value) -> Vec<(String, String)> {
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .map(|e| {
            (
                e["action_id"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn posted_to<'a>(path: &'a str) -> impl Fn(&Recorded) -> bool + 'a {
    move |r| r.path == path
}

fn intent(server: &Server, id: &str) -> Value {
    server
        .get(
            &format!("/api/orchestration/intents/{id}"),
            Some(ADMIN_TOKEN),
        )
        .1
}

#[test]
fn slack_signatures_good_bad_stale_and_replayed() {
    let hooks = Recorder::start();
    let server = start(&[], &hooks);
    let body = command_body("UDEP", "help", &format!("{}/r", hooks.url));
    let ts = now();
    let good = sign(ts, &body);
    let (code, reply, _) = slack_raw(&server, "/slack/commands", &body, ts, &good);
    assert_eq!(code, 200, "{reply}");
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(texts(&reply).contains("catalogue"), "{reply}");

    // The very same request again: a replay.
    let (code, reply, _) = slack_raw(&server, "/slack/commands", &body, ts, &good);
    assert_eq!(code, 401, "{reply}");
    assert!(
        reply["detail"].as_str().unwrap().contains("replayed"),
        "{reply}"
    );

    // A wrong secret, a changed body, no signature.
    let other = command_body("UDEP", "help", "");
    let ts = now();
    let mut forged = <Hmac<Sha256> as KeyInit>::new_from_slice(b"not-the-secret").unwrap();
    forged.update(format!("v0:{ts}:{other}").as_bytes());
    let forged = format!("v0={}", hex::encode(forged.finalize().into_bytes()));
    let (code, reply, _) = slack_raw(&server, "/slack/commands", &other, ts, &forged);
    assert_eq!(code, 401, "{reply}");
    assert!(
        reply["detail"].as_str().unwrap().contains("does not match"),
        "{reply}"
    );
    let tampered = other.replace("help", "list");
    assert_eq!(
        slack_raw(&server, "/slack/commands", &tampered, ts, &sign(ts, &other)).0,
        401
    );
    let response = server
        .client
        .post(server.url("/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(other.clone())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);

    // Correctly signed, but six minutes old (or ahead).
    for skew in [-360, 360] {
        let ts = now() + skew;
        let (code, reply, _) = slack_raw(&server, "/slack/commands", &other, ts, &sign(ts, &other));
        assert_eq!(code, 401, "{reply}");
        assert!(
            reply["detail"].as_str().unwrap().contains("stale"),
            "{reply}"
        );
    }
    // Four minutes old is still fine.
    let ts = now() - 240;
    assert_eq!(
        slack_raw(&server, "/slack/commands", &other, ts, &sign(ts, &other)).0,
        200
    );
}

#[test]
fn slack_deploy_confirm_then_progress_and_result_reach_the_response_url() {
    let hooks = Recorder::start();
    let server = start(&[], &hooks);
    let command_url = format!("{}/command/1", hooks.url);
    let (code, reply, took) = slack(
        &server,
        "UDEP",
        "install gitea with TLS in namespace dev",
        &command_url,
    );
    assert_eq!(code, 200, "{reply}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(reply["response_type"], "ephemeral");
    let all = texts(&reply);
    assert!(
        all.contains("Understood: *install gitea with TLS in namespace dev*"),
        "{all}"
    );
    assert!(all.contains("gitea-postgresql"), "the plan is shown: {all}");
    let shown = buttons(&reply);
    let id = shown[0].1.clone();
    assert_eq!(
        shown,
        vec![
            ("deckhand_confirm".to_string(), id.clone()),
            ("deckhand_cancel".to_string(), id.clone())
        ]
    );
    assert_eq!(intent(&server, &id)["status"], "awaiting_confirmation");

    // Someone else may not confirm it; the owner may.
    let (code, refused, _) = click(
        &server,
        "UOTHER",
        "confirm",
        &id,
        &format!("{}/other", hooks.url),
    );
    assert_eq!(code, 200);
    assert_eq!(refused["replace_original"], false);
    assert!(texts(&refused).contains("Not started"), "{refused}");

    let action_url = format!("{}/action/1", hooks.url);
    let (code, ack, took) = click(&server, "UDEP", "confirm", &id, &action_url);
    assert_eq!(code, 200, "{ack}");
    assert!(took < Duration::from_secs(3));
    assert_eq!(ack["replace_original"], true);
    assert!(texts(&ack).contains("Confirmed by <@UDEP>"), "{ack}");

    let done = server.wait_for(&id, &["completed", "failed"]);
    assert_eq!(done["status"], "completed", "{done}");
    let last = hooks.wait_for(Duration::from_secs(10), |r| {
        r.path == "/action/1" && r.body.contains("completed")
    });
    let final_text = texts(&last.json());
    assert!(
        final_text.contains(&format!("Intent `{id}` completed")),
        "{final_text}"
    );
    assert!(
        final_text.contains("reach it at"),
        "endpoints: {final_text}"
    );
    assert!(
        final_text.contains("Created:") && final_text.contains("gitea Service/gitea"),
        "{final_text}"
    );
    assert!(
        final_text.contains("gitea-postgresql: ready"),
        "progress: {final_text}"
    );
    let posts: Vec<Recorded> = hooks
        .requests()
        .into_iter()
        .filter(posted_to("/action/1"))
        .collect();
    assert!(
        posts.len() >= 2 && posts.len() <= 5,
        "Slack allows 5 posts: {posts:#?}"
    );
    assert_eq!(
        posts[0].json()["replace_original"],
        true,
        "the first post replaces the buttons"
    );

    // The incoming webhook hears about it.
    let hook = hooks.wait_for(Duration::from_secs(10), posted_to("/hook"));
    let text = hook.json()["text"].as_str().unwrap().to_string();
    assert!(
        text.contains(&id) && text.contains("completed") && text.contains("slack:UDEP"),
        "{text}"
    );
}

#[test]
fn help_status_list_catalogue_and_strangers_are_viewers() {
    let hooks = Recorder::start();
    let server = start(&[], &hooks);
    let url = format!("{}/r", hooks.url);
    let help = texts(&slack(&server, "UNKNOWN", "", &url).1);
    assert!(
        help.contains("catalogue database") && help.contains("status"),
        "{help}"
    );
    let found = texts(&slack(&server, "UNKNOWN", "catalogue database", &url).1);
    for name in ["postgresql", "mariadb", "mongodb"] {
        assert!(found.contains(name), "{name}: {found}");
    }
    assert!(!found.contains("grafana"), "{found}");
    let everything = texts(&slack(&server, "UNKNOWN", "catalogue", &url).1);
    assert!(everything.contains("identity: authentik"), "{everything}");
    let nothing = texts(&slack(&server, "UNKNOWN", "catalogue postgress", &url).1);
    assert!(nothing.contains("Did you mean postgresql"), "{nothing}");
    assert!(texts(&slack(&server, "UNKNOWN", "status", &url).1).contains("No releases recorded"));

    // A stranger is a viewer: nothing is created.
    let refused = texts(&slack(&server, "UNKNOWN", "install redis", &url).1);
    assert!(
        refused.contains("viewer")
            && refused.contains("cannot deploy")
            && refused.contains("UNKNOWN"),
        "{refused}"
    );
    let (_, page) = server.get("/api/orchestration/intents", Some(ADMIN_TOKEN));
    assert_eq!(page["total"], 0, "{page}");

    // A user name is chosen by its user, so it maps to nothing: someone
    // calling themselves after the admin's id is a viewer.
    let spoofed = texts(&slack_as(&server, "UEVIL", "uadmin", "install redis", &url).1);
    assert!(spoofed.contains("viewer"), "{spoofed}");

    // Mapped by platform and id (slack:U0DAVE), a deployer; then list and status show it.
    let (_, reply, _) = slack_as(
        &server,
        "U0DAVE",
        "dave",
        "install redis in namespace cache",
        &url,
    );
    let id = buttons(&reply)[0].1.clone();
    click(
        &server,
        "U0DAVE",
        "confirm",
        &id,
        &format!("{}/a", hooks.url),
    );
    server.wait_for(&id, &["completed"]);
    let list = texts(&slack(&server, "UNKNOWN", "list", &url).1);
    assert!(
        list.contains(&id)
            && list.contains("install redis in namespace cache")
            && list.contains("slack:U0DAVE"),
        "{list}"
    );
    let status = texts(&slack(&server, "UNKNOWN", "status of redis", &url).1);
    assert!(
        status.contains("1 release(s) recorded matching `redis`") && status.contains("cache"),
        "{status}"
    );
    // A viewer may ask in plain words too, and gets the orchestrator's report.
    let asked = texts(
        &slack(
            &server,
            "UNKNOWN",
            "what's running in namespace cache",
            &url,
        )
        .1,
    );
    assert!(
        asked.contains("Status in namespace cache") && asked.contains("redis"),
        "{asked}"
    );

    // A sentence that is not understood gets the reason and suggestions.
    let unclear = texts(&slack(&server, "UDEP", "install postgress", &url).1);
    assert!(unclear.contains("postgresql"), "{unclear}");
}

#[test]
fn a_protected_namespace_needs_an_admins_approval_which_is_recorded() {
    let hooks = Recorder::start();
    let server = start(&[], &hooks);
    let url = format!("{}/r", hooks.url);
    let (_, reply, _) = slack(
        &server,
        "UDEP",
        "install redis in namespace production",
        &url,
    );
    assert_eq!(
        reply["response_type"], "in_channel",
        "admins must see it: {reply}"
    );
    assert!(texts(&reply).contains("protected"), "{reply}");
    let shown = buttons(&reply);
    let id = shown[0].1.clone();
    let names: Vec<&str> = shown.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(names, ["deckhand_approve", "deckhand_cancel"]);

    // The requester can neither confirm nor approve.
    let (_, refused, _) = click(&server, "UDEP", "confirm", &id, &format!("{}/x", hooks.url));
    assert!(texts(&refused).contains("admin's approval"), "{refused}");
    let (_, refused, _) = click(&server, "UDEP", "approve", &id, &format!("{}/x", hooks.url));
    assert!(
        texts(&refused).contains("Only an admin can approve"),
        "{refused}"
    );
    assert_eq!(refused["response_type"], "ephemeral");
    assert_eq!(refused["replace_original"], false);
    assert_eq!(intent(&server, &id)["status"], "awaiting_confirmation");

    let (code, approved, _) = click(
        &server,
        "UADMIN",
        "approve",
        &id,
        &format!("{}/approved", hooks.url),
    );
    assert_eq!(code, 200);
    assert!(
        texts(&approved).contains("Approved by <@UADMIN>"),
        "{approved}"
    );
    assert_eq!(approved["response_type"], "in_channel");
    let done = server.wait_for(&id, &["completed", "failed"]);
    assert_eq!(done["status"], "completed", "{done}");
    let events = done["events"].as_array().unwrap();
    let approval = events
        .iter()
        .find(|e| e["step"] == "approval" && e["status"] == "approved")
        .unwrap_or_else(|| panic!("no approval event: {done}"));
    let message = approval["message"].as_str().unwrap();
    assert!(
        message.starts_with("approved by slack:UADMIN (admin) at 20"),
        "{message}"
    );
    assert!(approval["at"].is_string());
    let approved_at = events.iter().position(|e| e["step"] == "approval").unwrap();
    let deploying = events
        .iter()
        .position(|e| e["status"] == "deploying")
        .unwrap();
    assert!(approved_at < deploying, "approved before it started");
    hooks.wait_for(Duration::from_secs(10), |r| {
        r.path == "/approved" && r.body.contains("completed")
    });
}

#[test]
fn mattermost_token_buttons_and_signed_contexts() {
    let hooks = Recorder::start();
    let server = start(&[], &hooks);
    let command = |token: &str, text: &str| {
        let body = serde_urlencoded::to_string([
            ("channel_id", "c1"),
            ("channel_name", "town-square"),
            ("command", "/deckhand"),
            ("response_url", &format!("{}/mm/1", hooks.url)),
            ("team_domain", "example"),
            ("team_id", "t1"),
            ("text", text),
            ("token", token),
            ("trigger_id", "tr"),
            ("user_id", "UDEP"),
            ("user_name", "dep"),
        ])
        .unwrap();
        let response = server
            .client
            .post(server.url("/mattermost/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().unwrap(),
        )
    };
    let (code, body) = command("wrong-token", "install redis");
    assert_eq!(code, 401, "{body}");
    let (code, body) = command(MM_TOKEN, "install redis in namespace mm");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["response_type"], "ephemeral");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("Understood: *install redis in namespace mm*"),
        "{body}"
    );
    let attachment = &body["attachments"][0];
    assert!(
        attachment["text"].as_str().unwrap().contains("redis"),
        "{body}"
    );
    let actions = attachment["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[0]["name"], "Confirm");
    let integration = &actions[0]["integration"];
    assert_eq!(
        integration["url"],
        format!("{}/mattermost/actions", server.base)
    );
    let context = integration["context"].clone();
    let id = context["intent_id"].as_str().unwrap().to_string();

    let press = |context: &Value, user: &str| {
        let response = server
            .client
            .post(server.url("/mattermost/actions"))
            .json(&json!({"user_id": user, "user_name": "dep", "channel_id": "c1", "team_id": "t1",
                          "post_id": "p1", "trigger_id": "tr", "type": "", "data_source": "", "context": context}))
            .send()
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().unwrap(),
        )
    };
    // A context deckhand did not sign is refused.
    let mut forged = context.clone();
    forged["intent_id"] = json!("someone-elses-intent");
    assert_eq!(press(&forged, "UDEP").0, 401);
    let (code, answer) = press(&context, "UDEP");
    assert_eq!(code, 200, "{answer}");
    assert!(
        answer["update"]["message"]
            .as_str()
            .unwrap()
            .contains("Confirmed by @dep"),
        "{answer}"
    );
    assert_eq!(
        server.wait_for(&id, &["completed", "failed"])["status"],
        "completed"
    );
    let last = hooks.wait_for(Duration::from_secs(10), |r| {
        r.path == "/mm/1" && r.body.contains("completed")
    });
    let last = last.json();
    assert_eq!(last["response_type"], "ephemeral");
    assert!(
        last["text"]
            .as_str()
            .unwrap()
            .contains(&format!("Intent `{id}` completed")),
        "{last}"
    );
    assert!(
        last["attachments"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Created:"),
        "{last}"
    );
}

#[test]
fn the_slash_command_answers_within_three_seconds_while_the_work_takes_longer() {
    // Understanding takes 4 s (a slow language model), deploying takes 4 s
    // more (the in-test Kubernetes API server makes redis ready after 4 s).
    let hooks = Recorder::start();
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_secs(4));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path());
    let base = format!("{}/v1", hooks.url);
    let server = start(
        &[
            ("DECKHAND_KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("DECKHAND_READY_TIMEOUT_SECONDS", "30"),
            ("DECKHAND_LLM_BASE_URL", base.as_str()),
            ("DECKHAND_LLM_MODEL", "slow-model"),
            ("DECKHAND_LLM_TIMEOUT_SECONDS", "10"),
        ],
        &hooks,
    );
    let answer = json!({"action": "install", "applications": ["redis"], "platform": "kubernetes", "namespace": "sessions",
                        "parameters": {"tls": null, "ingress": null, "domain": null, "replicas": null, "version": null, "storage": null},
                        "unclear": null});
    hooks.script([Answer::ok(
        json!({"id": "c", "object": "chat.completion", "created": 1, "model": "slow-model",
               "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": answer.to_string()}}]})
        .to_string(),
    )
    .after(Duration::from_secs(4))]);

    let asked = Instant::now();
    let (code, reply, took) = slack(
        &server,
        "UDEP",
        "we keep losing sessions, give us a fast cache",
        &format!("{}/slow", hooks.url),
    );
    assert_eq!(code, 200, "{reply}");
    assert!(
        took < Duration::from_secs(3),
        "the slash command took {took:?}"
    );
    assert!(texts(&reply).contains("Working on it"), "{reply}");

    // The plan arrives at the response_url once the model has answered.
    let late = hooks.wait_for(Duration::from_secs(15), |r| r.path == "/slow");
    let understanding = late.at.duration_since(asked);
    assert!(understanding >= Duration::from_secs(4), "{understanding:?}");
    let late = late.json();
    assert!(texts(&late).contains("Understood (by the language model slow-model): *install redis in namespace sessions on kubernetes*"), "{late}");
    let id = buttons(&late)[0].1.clone();

    let confirming = Instant::now();
    let (code, ack, confirm_took) = click(
        &server,
        "UDEP",
        "confirm",
        &id,
        &format!("{}/slow-action", hooks.url),
    );
    assert_eq!(code, 200, "{ack}");
    assert!(
        confirm_took < Duration::from_secs(3),
        "the confirmation took {confirm_took:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let now = intent(&server, &id);
        if now["status"] == "completed" || now["status"] == "failed" || Instant::now() > deadline {
            break now;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(done["status"], "completed", "{done:#}");
    let last = hooks.wait_for(Duration::from_secs(10), |r| {
        r.path == "/slow-action" && r.body.contains("completed")
    });
    let deploy = last.at.duration_since(confirming);
    assert!(
        deploy >= Duration::from_secs(3),
        "the deploy itself took only {deploy:?}"
    );
    eprintln!(
        "slash command answered in {took:?} (the plan followed after {understanding:?}); \
         the confirmation answered in {confirm_took:?} (the result followed after {deploy:?})"
    );
}

/// A question back carries its answers as buttons; pressing one sends its
/// command as the person's next one, and the plan comes with Confirm.
#[test]
fn slack_questions_come_with_answer_buttons_that_complete_the_request() {
    let hooks = Recorder::start();
    let server = start(&[], &hooks);
    let url = format!("{}/question", hooks.url);
    let (code, reply, _) = slack(&server, "UDEP", "set up SSO in namespace auth", &url);
    assert_eq!(code, 200, "{reply}");
    let choices: Vec<(String, String)> = buttons(&reply)
        .into_iter()
        .filter(|(action, _)| action.starts_with("deckhand_choice_"))
        .collect();
    assert_eq!(
        choices.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>(),
        [
            "set up authentik in namespace auth",
            "set up keycloak in namespace auth"
        ],
        "{reply}"
    );
    let (code, answer, _) = click(&server, "UDEP", "choice_0", &choices[0].1, &url);
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["replace_original"], true, "{answer}");
    assert!(texts(&answer).contains("authentik"), "{answer}");
    assert!(
        buttons(&answer)
            .iter()
            .any(|(action, _)| action == "deckhand_confirm"),
        "{answer}"
    );
}

/// Mattermost: a question back comes with an answer button per choice; its
/// context carries the command, signed; pressing it plans that command,
/// and a forged command is refused.
#[test]
fn mattermost_questions_come_with_signed_answer_buttons() {
    let hooks = Recorder::start();
    let server = start(&[], &hooks);
    let body = serde_urlencoded::to_string([
        ("channel_id", "c1"),
        ("command", "/deckhand"),
        ("response_url", &format!("{}/mm/q", hooks.url)),
        ("team_id", "t1"),
        ("text", "stop redis in namespace mmq"),
        ("token", MM_TOKEN),
        ("user_id", "UDEP"),
        ("user_name", "dep"),
    ])
    .unwrap();
    let reply: Value = server
        .client
        .post(server.url("/mattermost/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let actions = reply["attachments"][0]["actions"]
        .as_array()
        .unwrap()
        .clone();
    let commands: Vec<&str> = actions
        .iter()
        .map(|a| a["integration"]["context"]["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            "scale redis in namespace mmq to 0",
            "remove redis in namespace mmq"
        ],
        "{reply}"
    );
    let press = |context: &Value| {
        let response = server
            .client
            .post(server.url("/mattermost/actions"))
            .json(&json!({"user_id": "UDEP", "user_name": "dep", "context": context}))
            .send()
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().unwrap(),
        )
    };
    let mut forged = actions[1]["integration"]["context"].clone();
    forged["command"] = json!("remove redis in namespace production");
    assert_eq!(press(&forged).0, 401);
    // Nothing is installed there, so the removal says so: the pick was planned.
    let (code, answer) = press(&actions[1]["integration"]["context"]);
    assert_eq!(code, 200, "{answer}");
    assert!(
        answer["update"]["message"]
            .as_str()
            .unwrap()
            .contains("redis"),
        "{answer}"
    );
}
