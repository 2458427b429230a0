//! The `plan` and `catalogue` commands through the real binary, with
//! temporary directories for output and extra blueprints. No outside parts.

mod common;

use serde_json::Value;

const HELLO: &str = "name: hello\ndescription: a greeter\ncategory: web\nrequires: []\ncomponents:\n  - name: web\n    image: busybox\n    ports: [{name: http, port: 8080}]\n";

#[test]
fn plan_prints_the_plan_and_writes_kubernetes_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("manifests");
    let output = common::run(
        &[
            "plan",
            "install authentik with TLS",
            "--output",
            out_dir.to_str().unwrap(),
        ],
        None,
    );
    assert!(output.status.success(), "{}", common::stderr(&output));
    let text = common::stdout(&output);
    assert!(
        text.contains("Intent: install authentik with TLS"),
        "{text}"
    );
    assert!(
        text.contains("AUTHENTIK_POSTGRESQL__HOST → authentik-postgresql"),
        "{text}"
    );
    assert!(text.contains("Secrets to generate"), "{text}");
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            ".deckhand-secrets",
            "01-authentik-postgresql.yaml",
            "02-authentik.yaml"
        ]
    );
    let authentik = std::fs::read_to_string(out_dir.join("02-authentik.yaml")).unwrap();
    assert!(
        authentik.contains("cert-manager.io/cluster-issuer: letsencrypt"),
        "{authentik}"
    );
    assert!(authentik.contains("secretKeyRef"));
}

#[test]
fn plan_for_compose_writes_compose_yaml_and_private_env_files() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::run(
        &[
            "plan",
            "install redis on docker",
            "--output",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(output.status.success(), "{}", common::stderr(&output));
    let compose = std::fs::read_to_string(dir.path().join("compose.yaml")).unwrap();
    assert!(compose.contains("image: redis:8"), "{compose}");
    let env = dir.path().join("redis.env");
    assert!(
        std::fs::read_to_string(&env)
            .unwrap()
            .starts_with("REDISCLI_AUTH=")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&env).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn plan_json_and_platform_flag() {
    let output = common::run(
        &[
            "plan",
            "install",
            "gitea",
            "--platform",
            "compose",
            "--json",
        ],
        None,
    );
    assert!(output.status.success(), "{}", common::stderr(&output));
    let plan: Value = serde_json::from_str(&common::stdout(&output)).unwrap();
    assert_eq!(plan["platform"], "compose");
    assert_eq!(
        plan["waves"],
        serde_json::json!([["gitea-postgresql"], ["gitea"]])
    );
    let text = common::stdout(&output);
    for release in plan["releases"].as_array().unwrap() {
        for component in release["components"].as_array().unwrap() {
            for var in component["env"].as_array().unwrap() {
                assert!(var["secret"].is_boolean());
            }
        }
    }
    assert!(text.contains("GITEA__database__PASSWD"));
}

#[test]
fn plan_errors_are_clear_and_exit_2() {
    let output = common::run(&["plan", "deploy postgresql with 3 replicas"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        common::stderr(&output).contains("single instance"),
        "{}",
        common::stderr(&output)
    );
    let output = common::run(
        &["plan", "install", "grafana", "--namespace", "Bad_NS"],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(common::stderr(&output).contains("Bad_NS"));
}

#[test]
fn catalogue_list_json_has_the_contract_fields() {
    let output = common::run(&["catalogue", "list", "--json"], None);
    assert!(output.status.success());
    let list: Value = serde_json::from_str(&common::stdout(&output)).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    for required in [
        "authentik",
        "postgresql",
        "redis",
        "mongodb",
        "nginx",
        "traefik",
        "webapp",
        "simple-service",
        "database",
        "grafana",
        "prometheus",
        "gitea",
        "keycloak",
        "wordpress",
        "mariadb",
        "nextcloud",
        "minio",
        "n8n",
        "uptime-kuma",
        "vaultwarden",
    ] {
        assert!(
            names.contains(&required),
            "{required} missing from {names:?}"
        );
    }
    for entry in list.as_array().unwrap() {
        for key in ["name", "description", "category", "requires"] {
            assert!(entry.get(key).is_some(), "{key} missing in {entry}");
        }
    }
}

#[test]
fn catalogue_show_and_unknown_names() {
    let output = common::run(&["catalogue", "show", "postgres", "--json"], None);
    assert!(output.status.success());
    let detail: Value = serde_json::from_str(&common::stdout(&output)).unwrap();
    assert_eq!(detail["name"], "postgresql");
    assert_eq!(detail["components"][0]["ports"][0]["port"], 5432);
    let output = common::run(&["catalogue", "show", "grafanna"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        common::stderr(&output).contains("did you mean 'grafana'"),
        "{}",
        common::stderr(&output)
    );
}

#[test]
fn extra_blueprint_directories_add_and_override() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.yaml"), HELLO).unwrap();
    let nginx = HELLO
        .replace("name: hello", "name: nginx")
        .replace("a greeter", "my own nginx");
    std::fs::write(dir.path().join("nginx.yaml"), nginx).unwrap();

    let output = common::run(
        &[
            "--blueprints",
            dir.path().to_str().unwrap(),
            "catalogue",
            "show",
            "nginx",
            "--json",
        ],
        None,
    );
    let detail: Value = serde_json::from_str(&common::stdout(&output)).unwrap();
    assert_eq!(detail["description"], "my own nginx");

    let output = common::deckhand()
        .env("DECKHAND_BLUEPRINTS", dir.path())
        .args(["plan", "install hello"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert!(
        common::stdout(&output).contains("hello — hello latest"),
        "{}",
        common::stdout(&output)
    );
}

/// Rendering into the same directory again keeps its passwords (a GitOps
/// repository re-rendered must not change a database's password).
#[test]
fn planning_into_the_same_directory_again_keeps_the_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let secret = || -> Value {
        let output = common::run(
            &["plan", "install redis", "--output", out.to_str().unwrap()],
            None,
        );
        assert!(output.status.success(), "{}", common::stderr(&output));
        let text = std::fs::read_to_string(out.join("01-redis.yaml")).unwrap();
        let documents: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        documents
            .into_iter()
            .find(|d| d["kind"] == "Secret")
            .unwrap()
    };
    let first = secret();
    assert_eq!(first, secret(), "the second render changed the secrets");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join(".deckhand-secrets"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A damaged secrets file is an error that names it, never new passwords.
    std::fs::write(out.join(".deckhand-secrets"), "not json").unwrap();
    let output = common::run(
        &["plan", "install redis", "--output", out.to_str().unwrap()],
        None,
    );
    assert!(!output.status.success());
    assert!(
        common::stderr(&output).contains(".deckhand-secrets is not deckhand's secrets file"),
        "{}",
        common::stderr(&output)
    );
}

#[test]
fn bad_blueprints_are_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let broken = HELLO.replace(
        "    image: busybox\n",
        "    image: busybox\n    replica: 3\n",
    ) + "env:\n  GREETING: \"{{ params.gretting }}\"\n";
    std::fs::write(dir.path().join("hello.yaml"), broken).unwrap();
    let output = common::run(&["catalogue", "lint", dir.path().to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(1));
    let text = common::stdout(&output);
    let file = dir.path().join("hello.yaml").display().to_string();
    assert!(
        text.contains(&format!("{file}:8: unknown field `replica`")),
        "{text}"
    );

    let fixed = HELLO.to_string() + "env:\n  GREETING: \"{{ params.gretting }}\"\n";
    std::fs::write(dir.path().join("hello.yaml"), fixed).unwrap();
    let output = common::run(&["catalogue", "lint", dir.path().to_str().unwrap()], None);
    let text = common::stdout(&output);
    assert!(
        text.contains(&format!(
            "{file}:10: env GREETING uses undefined variable 'params.gretting'"
        )),
        "{text}"
    );

    // Literal volume values are checked when loading, not when rendering.
    let odd = HELLO.replace(
        "    image: busybox\n",
        "    image: busybox\n    volumes: [{name: data, path: relative/path, size: 5Zi}]\n",
    );
    std::fs::write(
        dir.path().join("odd.yaml"),
        odd.replace("name: hello", "name: odd"),
    )
    .unwrap();
    let output = common::run(&["catalogue", "lint", dir.path().to_str().unwrap()], None);
    let text = common::stdout(&output);
    assert!(
        text.contains("must be absolute") && text.contains("'5Zi'") && text.contains("odd.yaml:"),
        "{text}"
    );
    std::fs::remove_file(dir.path().join("odd.yaml")).unwrap();

    // A second file with the same name does not hide the first one's problems.
    std::fs::write(dir.path().join("zz-hello.yaml"), HELLO).unwrap();
    let output = common::run(&["catalogue", "lint", dir.path().to_str().unwrap()], None);
    let text = common::stdout(&output);
    assert!(
        text.contains("is also defined in") && text.contains("params.gretting"),
        "{text}"
    );
    std::fs::remove_file(dir.path().join("zz-hello.yaml")).unwrap();

    // The same problems stop every other command, with the same report.
    let output = common::run(
        &[
            "--blueprints",
            dir.path().to_str().unwrap(),
            "catalogue",
            "list",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(common::stderr(&output).contains("params.gretting"));
}

/// `deckhand chat` and `deckhand intents` against a temporary SQLite database (real).
#[test]
fn chat_runs_an_intent_and_intents_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deckhand.db");
    let data = dir.path().join("data");
    let base = |args: &[&str]| {
        let mut command = common::deckhand();
        command
            .args(args)
            .arg("--db")
            .arg(&db)
            .arg("--data-dir")
            .arg(&data)
            .stdin(std::process::Stdio::null());
        // The render executor, writing Compose files: no Docker engine involved.
        command
            .env("DECKHAND_PLATFORM", "compose")
            .env_remove("DECKHAND_EXECUTOR");
        command.output().unwrap()
    };
    // Not a terminal and no --yes: nothing runs, and it says how to go ahead.
    let refused = base(&["chat", "install redis"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        common::stderr(&refused).contains("--yes"),
        "{}",
        common::stderr(&refused)
    );

    let ran = base(&["chat", "--yes", "install redis"]);
    assert!(
        ran.status.success(),
        "{}{}",
        common::stdout(&ran),
        common::stderr(&ran)
    );
    let text = common::stdout(&ran);
    assert!(text.contains("Releases to install"), "{text}");
    assert!(
        text.contains("release redis") && text.contains("applied"),
        "{text}"
    );
    assert!(text.contains(": completed"), "{text}");
    assert!(data.join("releases/default/redis/1/compose.yaml").exists());

    let list = base(&["intents", "list", "--json"]);
    let listed: Value = serde_json::from_str(&common::stdout(&list)).unwrap();
    assert_eq!(listed["total"], 2);
    let id = listed["intents"][0]["id"].as_str().unwrap().to_string();
    let show = base(&["intents", "show", &id]);
    assert!(
        common::stdout(&show).contains("completed"),
        "{}",
        common::stdout(&show)
    );

    // apply runs at once; a status needs no confirmation and reports the record.
    let applied = base(&["apply", "install nginx"]);
    assert!(
        applied.status.success(),
        "{}{}",
        common::stdout(&applied),
        common::stderr(&applied)
    );
    let status = base(&["apply", "status of redis"]);
    assert!(status.status.success(), "{}", common::stderr(&status));
    assert!(
        common::stdout(&status).contains("redis — redis 8: deployed, revision 1"),
        "{}",
        common::stdout(&status)
    );
    let history = base(&["history", "nginx"]);
    assert!(
        common::stdout(&history).contains("revision 1"),
        "{}",
        common::stdout(&history)
    );

    let bad = base(&["chat", "--yes", "install foobarbaz"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(common::stderr(&bad).contains("foobarbaz"));
}

#[test]
fn catalogue_new_writes_a_blueprint_that_lints_clean_and_plans() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::run(
        &[
            "catalogue",
            "new",
            "hello-web",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert!(dir.path().join("hello-web.yaml").exists());
    let again = common::run(
        &[
            "catalogue",
            "new",
            "hello-web",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(again.status.code(), Some(2), "never overwrites");
    let lint = common::run(&["catalogue", "lint", dir.path().to_str().unwrap()], None);
    assert!(lint.status.success(), "{}", common::stdout(&lint));
    assert!(common::stdout(&lint).contains("no problems"));
    let plan = common::run(
        &[
            "--blueprints",
            dir.path().to_str().unwrap(),
            "plan",
            "install hello-web with tls",
        ],
        None,
    );
    assert!(plan.status.success(), "{}", common::stderr(&plan));
    assert!(
        common::stdout(&plan).contains("hello-web-secrets"),
        "{}",
        common::stdout(&plan)
    );
}

/// `deckhand chat` asks back with numbered choices and reads the pick (here
/// from a pipe); the pick is planned and run like the person had typed it.
#[test]
fn chat_asks_back_and_runs_the_pick() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut command = common::deckhand();
        command
            .args(args)
            .arg("--db")
            .arg(dir.path().join("deckhand.db"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("DECKHAND_PLATFORM", "compose")
            .env_remove("DECKHAND_EXECUTOR")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let picked = run(&["chat", "--yes", "set up SSO in namespace auth"], "2\n");
    let text = common::stdout(&picked);
    assert!(picked.status.success(), "{text}{}", common::stderr(&picked));
    assert!(
        text.contains("1. set up authentik in namespace auth"),
        "{text}"
    );
    assert!(
        text.contains("2. set up keycloak in namespace auth"),
        "{text}"
    );
    assert!(
        text.contains("> set up keycloak in namespace auth"),
        "{text}"
    );
    assert!(text.contains(": completed"), "{text}");

    // Nothing picked: nothing runs, exit 2.
    let none = run(&["chat", "--yes", "install grafana or prometheus"], "\n");
    assert_eq!(none.status.code(), Some(2), "{}", common::stdout(&none));
    assert!(common::stdout(&none).contains("Nothing picked"));
}

/// Issue 13: lint checks the security, shared memory, resources, init
/// containers and data compatibility of a blueprint, with file and line.
#[test]
fn lint_checks_security_shm_resources_init_and_data_compatibility() {
    let dir = tempfile::tempdir().unwrap();
    let broken = HELLO.replace(
        "    image: busybox\n",
        "    image: busybox\n    security: {user: 0, capabilities: [SYS_ADMIN]}\n    shm: 512MB\n    resources: {cpu: lots, memory: 1Gi, memory_limit: 512Mi}\n    init: [{name: web}]\n",
    ) + "data_compatibility: major\nversion: latest\n";
    std::fs::write(dir.path().join("hello.yaml"), broken).unwrap();
    let output = common::run(&["catalogue", "lint", dir.path().to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(1));
    let text = common::stdout(&output);
    let file = dir.path().join("hello.yaml").display().to_string();
    for expected in [
        "security.user 0 is root",
        "capability 'SYS_ADMIN' is not one a pod may add",
        "shm '512MB' must be a binary memory quantity",
        "resources.cpu 'lots' is not a CPU quantity",
        "memory_limit is below the memory request",
        "init container 'web' is named twice (or like its component)",
        "init container 'web' runs nothing",
        "data_compatibility is major, but the default version 'latest' has no major number",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    assert!(text.contains(&format!("{file}:6:")), "{text}");
}
