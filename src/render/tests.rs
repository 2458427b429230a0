//! Rendering checks on the built-in catalogue.

use super::*;
use crate::resolve::{Request, resolve};

pub(crate) fn render_app(
    name: &str,
    version: Option<&str>,
    params: &[(&str, Json)],
) -> Vec<RenderedRelease> {
    let catalogue = Catalogue::builtin().unwrap();
    let request = Request {
        blueprint: name.into(),
        version: version.map(str::to_string),
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    };
    let graph = resolve(&catalogue, &[request]).unwrap();
    render_releases(
        &catalogue,
        &graph,
        &RenderOptions::default(),
        &mut EphemeralSecrets::new(),
    )
    .unwrap()
}

/// Renders `name` from the built-in catalogue plus one more blueprint file.
pub(crate) fn render_with(extra: &str, name: &str) -> Vec<RenderedRelease> {
    let mut sources = Catalogue::builtin_sources();
    sources.push(crate::catalogue::BlueprintSource {
        origin: "test/extra.yaml".into(),
        text: extra.into(),
    });
    let catalogue = Catalogue::from_sources(sources).unwrap_or_else(|e| panic!("{e}"));
    let request = Request {
        blueprint: name.into(),
        ..Default::default()
    };
    let graph = resolve(&catalogue, &[request]).unwrap();
    render_releases(
        &catalogue,
        &graph,
        &RenderOptions::default(),
        &mut EphemeralSecrets::new(),
    )
    .unwrap()
}

/// A blueprint with two init containers, one on another image.
pub(crate) const WITH_INIT: &str = "name: migrator\ndescription: runs migrations first\ncategory: test\nversion: \"1.36\"\ncomponents:\n  - name: app\n    image: busybox\n    args: [httpd, -f, -p, \"8080\"]\n    security: {user: 1000, group: 1000, fs_group: 1000}\n    ports: [{name: http, port: 8080}]\n    volumes: [{name: data, path: /data, size: 1Gi}]\n    init:\n      - {name: migrate, args: [sh, -c, \"echo migrated > /data/done\"]}\n      - {name: check, image: \"busybox:1.37\", command: [test, -f, /data/done]}\n";

#[test]
fn init_containers_take_the_component_image_unless_they_name_one() {
    let releases = render_with(WITH_INIT, "migrator");
    let init = &releases[0].components[0].init;
    assert_eq!(init[0].image, "busybox:1.36");
    assert_eq!(init[1].image, "busybox:1.37");
}

fn env<'a>(release: &'a RenderedRelease, component: &str, name: &str) -> Option<&'a EnvVar> {
    release
        .components
        .iter()
        .find(|c| c.name == component)?
        .env
        .iter()
        .find(|e| e.name == name)
}

#[test]
fn authentik_is_wired_to_its_own_postgresql() {
    let releases = render_app("authentik", None, &[]);
    let [pg, ak] = &releases[..] else {
        panic!("{releases:?}")
    };
    assert_eq!(pg.release, "authentik-postgresql");
    assert_eq!(
        env(ak, "server", "AUTHENTIK_POSTGRESQL__HOST")
            .unwrap()
            .value,
        "authentik-postgresql"
    );
    let password = env(ak, "server", "AUTHENTIK_POSTGRESQL__PASSWORD").unwrap();
    assert!(password.secret);
    assert_eq!(
        password.value,
        env(pg, "postgres", "POSTGRES_PASSWORD").unwrap().value
    );
    assert_eq!(
        env(pg, "postgres", "POSTGRES_DB").unwrap().value,
        "authentik"
    );
    assert!(
        env(ak, "server", "AUTHENTIK_REDIS__HOST").is_none(),
        "2026.x has no redis"
    );
    assert!(
        env(ak, "worker", "AUTHENTIK_BOOTSTRAP_PASSWORD")
            .unwrap()
            .secret
    );
    assert!(env(ak, "server", "AUTHENTIK_BOOTSTRAP_PASSWORD").is_none());
    assert!(
        ak.wiring
            .iter()
            .any(|w| w.variable == "AUTHENTIK_POSTGRESQL__PASSWORD" && w.shown == MASK)
    );
    assert_eq!(
        ak.components[0].image,
        "ghcr.io/goauthentik/server:2026.8.7"
    );
    assert_eq!(ak.components[0].volumes[0].path, "/data");
}

#[test]
fn serialized_releases_mask_every_secret() {
    let releases = render_app("authentik", None, &[]);
    let json = serde_json::to_string(&releases).unwrap();
    for release in &releases {
        for (value, secret) in release.provides.values() {
            assert!(!*secret || !json.contains(value.as_str()));
        }
        for var in release
            .components
            .iter()
            .flat_map(|c| &c.env)
            .filter(|v| v.secret)
        {
            assert!(!json.contains(&var.value), "{} leaked", var.name);
        }
    }
}

#[test]
fn old_authentik_gets_redis_and_media() {
    let releases = render_app("authentik", Some("2025.2.4"), &[]);
    let ak = releases.last().unwrap();
    assert_eq!(
        env(ak, "server", "AUTHENTIK_REDIS__HOST").unwrap().value,
        "authentik-redis"
    );
    assert_eq!(ak.components[0].volumes[0].path, "/media");
}

#[test]
fn postgresql_data_directory_follows_the_version() {
    let new = render_app("postgresql", None, &[]);
    assert_eq!(new[0].components[0].volumes[0].path, "/var/lib/postgresql");
    assert!(env(&new[0], "postgres", "PGDATA").is_none());
    let old = render_app("postgresql", Some("16"), &[]);
    assert_eq!(
        old[0].components[0].volumes[0].path,
        "/var/lib/postgresql/data"
    );
    assert_eq!(
        env(&old[0], "postgres", "PGDATA").unwrap().value,
        "/var/lib/postgresql/data/pgdata"
    );
    assert_eq!(old[0].components[0].image, "postgres:16");
}

#[test]
fn tls_gives_an_ingress_with_a_default_host() {
    let releases = render_app("authentik", None, &[("tls", Json::Bool(true))]);
    let ingress = releases.last().unwrap().ingress.clone().unwrap();
    assert_eq!(
        (ingress.host.as_str(), ingress.tls, ingress.port),
        ("authentik.example.com", true, 9000)
    );
    assert!(releases[0].ingress.is_none());
}

#[test]
fn single_instance_components_refuse_replicas() {
    let catalogue = Catalogue::builtin().unwrap();
    let request = Request {
        blueprint: "postgresql".into(),
        version: None,
        parameters: [("replicas".to_string(), Json::from(3))].into(),
    };
    let graph = resolve(&catalogue, &[request]).unwrap();
    let err = render_releases(
        &catalogue,
        &graph,
        &RenderOptions::default(),
        &mut EphemeralSecrets::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("single instance"), "{err}");
}

#[test]
fn the_monitoring_stack_provisions_its_prometheus_in_grafana() {
    let releases = render_app("prometheus-grafana", None, &[]);
    let names: Vec<&str> = releases.iter().map(|r| r.release.as_str()).collect();
    assert_eq!(
        names.last(),
        Some(&"prometheus-grafana"),
        "the stack's own release comes last: {names:?}"
    );
    let stack = releases.last().unwrap();
    assert!(stack.is_stack() && stack.components.is_empty());
    let layers: Vec<(&str, usize)> = stack
        .stack_members
        .iter()
        .map(|m| (m.member.as_str(), m.layer))
        .collect();
    assert_eq!(layers, [("prometheus", 1), ("grafana", 2)]);
    let grafana = releases
        .iter()
        .find(|r| r.release == "prometheus-grafana-grafana")
        .unwrap();
    let prometheus = releases
        .iter()
        .find(|r| r.release == "prometheus-grafana-prometheus")
        .unwrap();
    assert!(grafana.wave > prometheus.wave, "prometheus first");
    assert!(
        grafana
            .dependencies
            .contains(&"prometheus-grafana-prometheus".to_string())
    );
    let file = &grafana.components[0].files[0];
    assert_eq!(
        file.path,
        "/etc/grafana/provisioning/datasources/deckhand-prometheus.yaml"
    );
    assert!(
        file.content
            .contains("url: http://prometheus-grafana-prometheus:9090"),
        "{}",
        file.content
    );
    assert!(file.content.contains("stack prometheus-grafana"));
    assert_eq!(
        grafana.member_of.as_ref().map(|m| m.layer),
        Some(2),
        "{:?}",
        grafana.member_of
    );
}

#[test]
fn the_sso_stack_hands_one_client_secret_to_both_members() {
    let releases = render_app("sso-stack", None, &[("tls", Json::Bool(true))]);
    let authentik = releases
        .iter()
        .find(|r| r.release == "sso-stack-authentik")
        .unwrap();
    let grafana = releases
        .iter()
        .find(|r| r.release == "sso-stack-grafana")
        .unwrap();
    let given = env(authentik, "worker", "DECKHAND_SSO_CLIENT_SECRET").unwrap();
    let taken = env(grafana, "grafana", "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET").unwrap();
    assert!(given.secret && taken.secret);
    assert_eq!(given.value, taken.value);
    assert_eq!(given.value.len(), 48);
    assert_eq!(
        env(grafana, "grafana", "GF_AUTH_GENERIC_OAUTH_AUTH_URL")
            .unwrap()
            .value,
        "https://sso-stack-authentik.example.com/application/o/authorize/"
    );
    assert_eq!(
        env(grafana, "grafana", "GF_AUTH_GENERIC_OAUTH_TOKEN_URL")
            .unwrap()
            .value,
        "http://sso-stack-authentik:9000/application/o/token/"
    );
    // authentik's blueprint goes to its worker only, naming Grafana's
    // address before Grafana is deployed, and no secret value.
    let worker = authentik
        .components
        .iter()
        .find(|c| c.name == "worker")
        .unwrap();
    let server = authentik
        .components
        .iter()
        .find(|c| c.name == "server")
        .unwrap();
    assert!(server.files.is_empty());
    let blueprint = &worker.files[0].content;
    assert!(blueprint.contains("url: https://sso-stack-grafana.example.com/login/generic_oauth"));
    assert!(!blueprint.contains(&given.value));
    assert!(authentik.wave < grafana.wave, "authentik first");
    let stack = releases.last().unwrap();
    assert_eq!(stack.secrets, ["client_secret"], "the stack owns it");
}

#[test]
fn autoscaling_renders_an_hpa_and_leaves_replicas_to_it() {
    let autoscale = serde_json::json!({"min": 2, "max": 10, "cpu_percent": 70});
    let releases = render_app("grafana", None, &[("autoscale", autoscale.clone())]);
    let grafana = releases.last().unwrap();
    let objects = kubernetes::release_objects(grafana, &RenderOptions::default());
    let json: Vec<Json> = objects.iter().map(|o| o.to_json()).collect();
    let deployment = json.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert!(deployment["spec"].get("replicas").is_none(), "{deployment}");
    let hpa = json
        .iter()
        .find(|o| o["kind"] == "HorizontalPodAutoscaler")
        .unwrap();
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 10);
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        deployment["metadata"]["name"]
    );
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    // Its PostgreSQL (not requested, not scalable) has none.
    assert!(
        kubernetes::release_objects(&releases[0], &RenderOptions::default())
            .iter()
            .all(|o| o.kind() != "HorizontalPodAutoscaler")
    );
}

#[test]
fn a_single_instance_application_is_not_autoscaled() {
    let catalogue = Catalogue::builtin().unwrap();
    let request = Request {
        blueprint: "postgresql".into(),
        version: None,
        parameters: [(
            "autoscale".to_string(),
            serde_json::json!({"min": 2, "max": 4, "cpu_percent": 80}),
        )]
        .into(),
    };
    let graph = resolve(&catalogue, &[request]).unwrap();
    let err = render_releases(
        &catalogue,
        &graph,
        &RenderOptions::default(),
        &mut EphemeralSecrets::new(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cannot be autoscaled (between 2 and 4 at 80% CPU)")
            && text.contains("postgres runs as a single instance"),
        "{text}"
    );
}
