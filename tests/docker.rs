//! End to end on a real Docker Engine (started by
//! `shared/tools/container-sandbox.sh` in CI, with local PostgreSQL, Redis
//! and busybox images): the real `deckhand serve`, the compose executor, a
//! temporary SQLite database. Skipped with a message when no Docker Engine
//! answers; a failure under `DECKHAND_CI=1`.
//!
//! Each test uses releases of its own, so they can run side by side.

mod common;

use std::process::Command;
use std::time::Duration;

use common::docker::docker;
use common::server::{ADMIN_TOKEN, Server, start};
use serde_json::{Value, json};

/// Removes whatever an earlier, interrupted run left of these projects
/// (a volume initialised with an old password would break the next run).
fn clean(projects: &[&str]) {
    for project in projects {
        let filter = format!("label=com.docker.compose.project={project}");
        let containers = docker(&["ps", "-a", "-q", "--filter", &filter]);
        if !containers.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(containers.lines());
            docker(&args);
        }
        let volumes = docker(&["volume", "ls", "-q", "--filter", &filter]);
        if !volumes.is_empty() {
            let mut args = vec!["volume", "rm", "-f"];
            args.extend(volumes.lines());
            docker(&args);
        }
        docker(&["network", "rm", project]);
    }
}

fn server() -> Server {
    let blueprints = common::root().join("tests/blueprints");
    Server::start_with(
        tempfile::tempdir().unwrap(),
        &[
            ("DECKHAND_BLUEPRINTS", blueprints.to_str().unwrap()),
            ("DECKHAND_READY_TIMEOUT_SECONDS", "120"),
        ],
    )
}

/// The IP address of a compose project's (only) container.
fn container_ip(project: &str) -> String {
    let id = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]);
    assert!(!id.is_empty(), "no container for {project}");
    let ip = docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
        id.lines().next().unwrap(),
    ]);
    ip.split_whitespace()
        .next()
        .expect("an address")
        .to_string()
}

fn secret(server: &Server, release: &str, name: &str) -> String {
    secret_in(server, "default", release, name)
}

fn secret_in(server: &Server, namespace: &str, release: &str, name: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args([
            "secrets",
            "show",
            release,
            "--namespace",
            namespace,
            "--platform",
            "compose",
            "--json",
            "--db",
        ])
        .arg(server.db())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let secrets: Value = serde_json::from_slice(&output.stdout).unwrap();
    secrets[name].as_str().unwrap().to_string()
}

fn remove(server: &Server, command: &str) {
    let id = start(server, command, json!({"delete_data": true}));
    server.wait_for_within(&id, &["completed", "failed"], Duration::from_secs(60));
}

fn project_left(project: &str) -> (String, String, String) {
    let filter = format!("label=com.docker.compose.project={project}");
    (
        docker(&["ps", "-a", "-q", "--filter", &filter]),
        docker(&["volume", "ls", "-q", "--filter", &filter]),
        docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("name=^{project}$"),
        ]),
    )
}

#[test]
fn postgresql_and_redis_complete_only_when_they_answer() {
    if !common::docker::ready("the compose executor is not tested end to end") {
        return;
    }
    clean(&["postgresql", "redis"]);
    let server = server();
    let pg = start(&server, "install postgresql on docker", json!({}));
    let redis = start(&server, "install redis on docker", json!({}));
    let pg_done = server.wait_for_within(&pg, &["completed", "failed"], Duration::from_secs(150));
    let redis_done =
        server.wait_for_within(&redis, &["completed", "failed"], Duration::from_secs(150));
    assert_eq!(pg_done["status"], "completed", "{pg_done}");
    assert_eq!(redis_done["status"], "completed", "{redis_done}");
    assert_eq!(pg_done["executor"], "compose");

    // The servers really answer, with the passwords deckhand generated.
    let password = secret(&server, "postgresql", "password");
    let url = format!(
        "postgresql://app:{password}@{}:5432/app",
        container_ip("postgresql")
    );
    let psql = Command::new("psql")
        .args([url.as_str(), "-tAc", "select 40 + 2"])
        .output()
        .expect("psql (postgresql-client) is installed");
    assert_eq!(
        String::from_utf8_lossy(&psql.stdout).trim(),
        "42",
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    let wrong = Command::new("psql")
        .args([
            format!(
                "postgresql://app:wrong@{}:5432/app",
                container_ip("postgresql")
            )
            .as_str(),
            "-tAc",
            "select 1",
        ])
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "a wrong password must be refused");
    let redis_password = secret(&server, "redis", "password");
    assert_eq!(redis_ping("redis", &redis_password), "PONG");
    let anonymous = Command::new("redis-cli")
        .args(["-h", &container_ip("redis"), "ping"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&anonymous.stdout).contains("NOAUTH"),
        "redis must require its password: {}",
        String::from_utf8_lossy(&anonymous.stdout)
    );

    remove(&server, "remove postgresql on docker");
    remove(&server, "remove redis on docker");
    for project in ["postgresql", "redis"] {
        assert_eq!(
            project_left(project),
            (String::new(), String::new(), String::new()),
            "{project} left something behind"
        );
    }
}

/// What `redis-cli PING` with `password` answers from a project's container.
fn redis_ping(project: &str, password: &str) -> String {
    let ping = Command::new("redis-cli")
        .args([
            "-h",
            &container_ip(project),
            "-a",
            password,
            "--no-auth-warning",
            "ping",
        ])
        .output()
        .expect("redis-cli is installed");
    String::from_utf8_lossy(&ping.stdout).trim().to_string()
}

#[test]
fn the_same_application_in_two_namespaces_shares_nothing_on_one_docker_host() {
    if !common::docker::ready("the compose executor is not tested end to end") {
        return;
    }
    let (one, two) = ("dh-one_redis", "dh-two_redis");
    clean(&[one, two]);
    let server = server();
    let first = start(
        &server,
        "install redis on docker in namespace dh-one",
        json!({}),
    );
    let second = start(
        &server,
        "install redis on docker in namespace dh-two",
        json!({}),
    );
    for id in [&first, &second] {
        let done = server.wait_for_within(id, &["completed", "failed"], Duration::from_secs(120));
        assert_eq!(done["status"], "completed", "{}", done["error"]);
    }
    let password_one = secret_in(&server, "dh-one", "redis", "password");
    let password_two = secret_in(&server, "dh-two", "redis", "password");
    assert_ne!(
        password_one, password_two,
        "each release has its own secrets"
    );
    // Two projects, two containers, each with its own password.
    assert_ne!(container_ip(one), container_ip(two));
    assert_eq!(redis_ping(one, &password_one), "PONG");
    assert_eq!(redis_ping(two, &password_two), "PONG");
    let crossed = redis_ping(two, &password_one);
    assert_ne!(
        crossed, "PONG",
        "one namespace's password opens the other's redis"
    );

    // Removing one leaves the other running.
    remove(&server, "remove redis on docker in namespace dh-one");
    assert_eq!(
        project_left(one),
        (String::new(), String::new(), String::new()),
        "{one} left something behind"
    );
    assert_eq!(redis_ping(two, &password_two), "PONG");
    remove(&server, "remove redis on docker in namespace dh-two");
    assert_eq!(
        project_left(two),
        (String::new(), String::new(), String::new()),
        "{two} left something behind"
    );
}

#[test]
fn a_dependent_starts_after_both_dependencies_and_proves_the_wiring() {
    if !common::docker::ready("the compose executor is not tested end to end") {
        return;
    }
    clean(&["probe", "probe-postgresql", "probe-redis"]);
    let server = server();
    let id = start(&server, "install probe on docker", json!({}));
    let done = server.wait_for_within(&id, &["completed", "failed"], Duration::from_secs(180));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    let events = done["events"].as_array().unwrap();
    let at = |step: &str, status: &str| {
        events
            .iter()
            .find(|e| e["step"] == step && e["status"] == status)
            .unwrap_or_else(|| panic!("no {step} {status}"))["id"]
            .as_i64()
            .unwrap()
    };
    let probe_started = at("release probe", "started");
    assert!(at("release probe-postgresql", "ready") < probe_started);
    assert!(at("release probe-redis", "ready") < probe_started);
    // Both dependencies were started together, before either was ready.
    assert!(at("release probe-redis", "started") < at("release probe-postgresql", "ready"));
    assert!(at("release probe-postgresql", "started") < at("release probe-redis", "ready"));
    remove(&server, "remove probe and its dependencies on docker");
    for project in ["probe", "probe-postgresql", "probe-redis"] {
        assert_eq!(project_left(project).0, "", "{project} containers left");
    }
}

#[test]
fn a_health_check_that_never_passes_fails_within_its_timeout_and_the_other_branch_completes() {
    if !common::docker::ready("the compose executor is not tested end to end") {
        return;
    }
    clean(&["never-ready", "simple-service"]);
    let server = server();
    let started = std::time::Instant::now();
    let id = start(
        &server,
        "install never-ready and simple-service on docker",
        json!({}),
    );
    let done = server.wait_for_within(&id, &["completed", "failed"], Duration::from_secs(90));
    assert_eq!(done["status"], "failed");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    let error = done["error"].as_str().unwrap();
    assert!(error.contains("never-ready failed"), "{error}");
    assert!(
        error.contains("upstream database not reachable"),
        "the engine's health output is the reason: {error}"
    );
    assert!(error.contains("ready: simple-service"), "{error}");
    let events = done["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["step"] == "release simple-service" && e["status"] == "ready")
    );
    remove(&server, "remove never-ready and simple-service on docker");
    assert_eq!(
        project_left("never-ready"),
        (String::new(), String::new(), String::new())
    );
}

#[test]
fn cancel_during_a_long_wait_then_remove_leaves_nothing() {
    if !common::docker::ready("the compose executor is not tested end to end") {
        return;
    }
    clean(&["slow-start"]);
    let server = server();
    let id = start(&server, "install slow-start on docker", json!({}));
    // Wait until it is waiting for readiness.
    server.wait_for_event(&id, None, "waiting", Duration::from_secs(60));
    let began = std::time::Instant::now();
    let (code, cancelled) = server.delete(
        &format!("/api/orchestration/intents/{id}"),
        Some(ADMIN_TOKEN),
    );
    assert_eq!(code, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "cancelling took {:?}",
        began.elapsed()
    );
    let (_, intent) = server.get(
        &format!("/api/orchestration/intents/{id}"),
        Some(ADMIN_TOKEN),
    );
    let last = intent["events"].as_array().unwrap().last().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        last.contains("already applied, in full or in part: slow-start"),
        "{last}"
    );
    assert_ne!(
        project_left("slow-start").0,
        "",
        "the container was applied"
    );

    remove(&server, "remove slow-start on docker");
    assert_eq!(
        project_left("slow-start"),
        (String::new(), String::new(), String::new()),
        "something of slow-start is left"
    );
}

/// The CLI on the real engine: an upgrade or scale without "on docker"
/// goes where the release was installed, and one that changes nothing
/// records no revision; a long readiness wait prints what it waits for;
/// status looks at what runs even when nothing was recorded; and no run
/// panics at exit (it did, now and then, on a cancelled store call).
#[test]
fn the_cli_on_docker_remembers_the_platform_reports_waits_and_exits_cleanly() {
    if !common::docker::ready("the compose executor is not tested end to end") {
        return;
    }
    clean(&["hardening_redis", "hardening_never-ready"]);
    let dir = tempfile::tempdir().unwrap();
    let blueprints = common::root().join("tests/blueprints");
    let apply = |sentence: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .args(["apply", sentence, "--db"])
            .arg(dir.path().join("deckhand.db"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("DECKHAND_BLUEPRINTS", &blueprints)
            .env("DECKHAND_PROGRESS_SECONDS", "2")
            .env_remove("DECKHAND_EXECUTOR")
            .env_remove("DECKHAND_PLATFORM")
            .env_remove("DECKHAND_CONFIG")
            .output()
            .expect("deckhand runs");
        let (out, err) = (common::stdout(&output), common::stderr(&output));
        assert!(!err.contains("panicked"), "{sentence}: {err}");
        (output.status.code(), out, err)
    };
    let (code, out, err) = apply("install redis in namespace hardening on docker");
    assert_eq!(code, Some(0), "{out}{err}");

    let (code, out, err) = apply("scale redis to 1 in namespace hardening");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Executor: compose"), "{out}");
    assert!(out.contains("nothing to change"), "{out}");
    let store = deckhand::store::Store::open(&dir.path().join("deckhand.db")).unwrap();
    let key = deckhand::store::releases::ReleaseKey {
        platform: "compose".into(),
        namespace: "hardening".into(),
        name: "redis".into(),
    };
    assert_eq!(store.revisions(&key).unwrap().len(), 1);
    drop(store);

    let (code, out, _) = apply("install never-ready in namespace hardening on docker");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("still waiting for never-ready"), "{out}");

    let (code, out, err) = apply("status never-ready in namespace hardening on docker");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("never-ready: not installed"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("never-ready/") && l.contains("0/1 ready")),
        "{out}"
    );

    for _ in 0..10 {
        let (code, out, err) = apply("status redis in namespace hardening");
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(out.contains("redis/redis: 1/1 ready"), "{out}");
    }
    clean(&["hardening_redis", "hardening_never-ready"]);
}

/// The user a project's (only running) container runs as, as the engine says.
fn container_user(project: &str) -> String {
    let id = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--filter",
        "label=io.deckhand.component=postgres",
    ]);
    docker(&[
        "inspect",
        "-f",
        "{{.Config.User}}",
        id.lines().next().unwrap(),
    ])
}

/// Issue 13: `upgrade postgresql to 18` on a release created with 17 is
/// refused at plan time, on the real engine, with the reason and what to do;
/// the data and the running container are untouched. (The sandbox's
/// postgres image is PostgreSQL 15 whatever its tag; the refusal comes from
/// the tags, before anything runs, which is the point.)
#[test]
fn an_upgrade_to_another_postgresql_major_is_refused_and_the_data_stays() {
    if !common::docker::ready("the compose executor is not tested end to end") {
        return;
    }
    let project = "dh-major_postgresql";
    clean(&[project]);
    let server = server();
    let install = start(
        &server,
        "install postgresql 17 on docker in namespace dh-major",
        json!({}),
    );
    let done = server.wait_for_within(&install, &["completed", "failed"], Duration::from_secs(150));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    // It runs as postgres (999), not root.
    assert_eq!(container_user(project), "999:999");
    let password = secret_in(&server, "dh-major", "postgresql", "password");
    let url = format!(
        "postgresql://app:{password}@{}:5432/app",
        container_ip(project)
    );
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .args([url.as_str(), "-tAc", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    psql("create table kept (v text); insert into kept values ('written by 17')");
    let container_before = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]);

    let upgrade = start(
        &server,
        "upgrade postgresql to 18 on docker in namespace dh-major",
        json!({}),
    );
    let refused =
        server.wait_for_within(&upgrade, &["completed", "failed"], Duration::from_secs(60));
    assert_eq!(refused["status"], "failed", "{refused}");
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("postgresql 17 to 18"), "{error}");
    assert!(error.contains("another major version"), "{error}");
    assert!(error.contains("pg_dumpall"), "what to do is said: {error}");
    assert!(
        !refused["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["step"] == "release postgresql"),
        "nothing was applied: {refused}"
    );
    // The same container, the same data, still revision 1.
    assert_eq!(
        docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={project}")
        ]),
        container_before
    );
    assert_eq!(psql("select v from kept"), "written by 17");
    let (_, releases) = server.get(
        "/api/orchestration/releases/dh-major/postgresql",
        Some(ADMIN_TOKEN),
    );
    assert_eq!(
        releases[0]["revisions"].as_array().map(Vec::len),
        Some(1),
        "a revision was recorded: {releases}"
    );

    remove(&server, "remove postgresql on docker in namespace dh-major");
    assert_eq!(project_left(project).0, "", "{project} containers left");
}

/// The host ports a project's containers publish, as the engine reports them.
fn published_ports(project: &str) -> Vec<u16> {
    let id = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--filter",
        "label=io.deckhand.component=web",
    ]);
    let ports = docker(&["port", id.lines().next().expect("a running container")]);
    ports
        .lines()
        .filter_map(|l| l.rsplit(':').next()?.trim().parse().ok())
        .collect()
}

/// What `GET /` on 127.0.0.1:`port` answers (the body), or the error.
fn http_get(port: u16) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("connect {port}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(answer)
}

/// Issue 13: two releases that want the same host port both run on one
/// Docker host: the second is given the next free port at plan time, the
/// plan says so, status shows it, an upgrade keeps it, and removal frees it.
#[test]
fn two_releases_that_want_the_same_host_port_both_run() {
    if !common::docker::ready("the compose executor is not tested end to end") {
        return;
    }
    let (one, two) = ("dh-porta_published", "dh-portb_published");
    clean(&[one, two]);
    let server = server();
    let first = start(
        &server,
        "install published on docker in namespace dh-porta",
        json!({}),
    );
    let done = server.wait_for_within(&first, &["completed", "failed"], Duration::from_secs(90));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    let second = start(
        &server,
        "install published on docker in namespace dh-portb",
        json!({}),
    );
    let done = server.wait_for_within(&second, &["completed", "failed"], Duration::from_secs(90));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    let plan_text = done["plan_text"].as_str().unwrap_or_default().to_string();
    assert!(
        plan_text.contains("host port 18080 is taken by"),
        "the plan says why the port moved: {plan_text}"
    );

    let (port_one, port_two) = (published_ports(one), published_ports(two));
    assert_eq!(port_one.len(), 1, "{port_one:?}");
    assert_eq!(port_two.len(), 1, "{port_two:?}");
    assert_ne!(port_one, port_two, "both publish the same host port");
    for port in [port_one[0], port_two[0]] {
        let answer = http_get(port).unwrap();
        assert!(
            answer.contains("200 OK") && answer.ends_with("ok\n"),
            "{answer}"
        );
    }
    // The plan said where the second one is; status says it too.
    assert!(
        plan_text.contains(&format!("published on 127.0.0.1:{}", port_two[0])),
        "{plan_text}"
    );
    let status = start(
        &server,
        "status of published on docker in namespace dh-portb",
        json!({}),
    );
    let status = server.wait_for_within(&status, &["completed", "failed"], Duration::from_secs(30));
    let report = status["plan_text"].as_str().unwrap_or_default();
    assert!(
        report.contains(&format!("published on http://127.0.0.1:{}", port_two[0])),
        "{status}"
    );

    // An upgrade keeps the port (the first release's is still taken, and
    // the second's own is recorded).
    let upgrade = start(
        &server,
        "upgrade published to 1.35 on docker in namespace dh-portb",
        json!({}),
    );
    let done = server.wait_for_within(&upgrade, &["completed", "failed"], Duration::from_secs(90));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    assert_eq!(published_ports(two), port_two);

    remove(&server, "remove published on docker in namespace dh-porta");
    remove(&server, "remove published on docker in namespace dh-portb");
    for project in [one, two] {
        assert_eq!(project_left(project).0, "", "{project} containers left");
    }
}

/// Issue 13: a component that runs as a non-root user on a volume the engine
/// creates for root, with an init container: the one-shot owner change gives
/// the volume to 1000:1000 first, the init container runs as 1000 and
/// finishes, the component writes to its volume and becomes healthy, and
/// /dev/shm has the size the blueprint asked for.
#[test]
fn a_non_root_component_owns_its_fresh_volume_and_its_init_container_runs_first() {
    if !common::docker::ready("the compose executor is not tested end to end") {
        return;
    }
    clean(&["owned"]);
    let server = server();
    let id = start(&server, "install owned on docker", json!({}));
    let done = server.wait_for_within(&id, &["completed", "failed"], Duration::from_secs(90));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    let app = docker(&[
        "ps",
        "-q",
        "--filter",
        "label=com.docker.compose.project=owned",
        "--filter",
        "label=io.deckhand.component=app",
    ]);
    assert_eq!(
        docker(&["inspect", "-f", "{{.Config.User}}", &app]),
        "1000:1000"
    );
    assert_eq!(
        docker(&["exec", &app, "stat", "-c", "%u:%g", "/data"]),
        "1000:1000"
    );
    assert_eq!(docker(&["exec", &app, "cat", "/data/init-ran-as"]), "1000");
    assert_eq!(
        docker(&["inspect", "-f", "{{.HostConfig.ShmSize}}", &app]),
        (128u64 << 20).to_string()
    );
    // The one-shot services finished and are not counted as workloads.
    let one_shots = docker(&[
        "ps",
        "-a",
        "--filter",
        "label=com.docker.compose.project=owned",
        "--filter",
        "label=io.deckhand.init=true",
        "--format",
        "{{.Status}}",
    ]);
    assert_eq!(one_shots.lines().count(), 2, "{one_shots}");
    assert!(
        one_shots.lines().all(|s| s.starts_with("Exited (0)")),
        "{one_shots}"
    );
    remove(&server, "remove owned on docker");
    assert_eq!(project_left("owned").0, "", "owned containers left");
}
