//! The commented starting blueprint that `deckhand catalogue new NAME` writes:
//! it loads, lints clean and deploys as written, and explains every optional key.

/// A commented starting blueprint (`deckhand catalogue new NAME`): it loads
/// and deploys as written, and every optional key is explained.
pub fn starter_blueprint(name: &str) -> String {
    format!(
        r#"# {name}: a deckhand blueprint. Check it with `deckhand catalogue lint DIR`,
# use it with `deckhand --blueprints DIR plan "install {name}"`.
name: {name}
description: What {name} is, in one line
category: web                      # one word: database, cache, identity, monitoring, web, ...
tags: [example]
aliases: []                        # other names people type
version: "1.36"                    # the default image tag; "install {name} version X" overrides it

# Other blueprints this one needs, resolved recursively. Each gets a release of
# its own ({name}-postgresql) and hands its `provides` facts to the templates
# below under the alias (`db.host`, `db.password`, ...).
requires: []
#  - blueprint: postgresql
#    as: db
#    with: {{database: {name}, username: {name}}}
#    when: "version_at_least('2.0')"   # optional condition on the version or params

# Typed inputs with defaults (replicas, storage, domain and tls are built in).
parameters:
  greeting: {{type: string, default: hello, description: shown on the front page}}

# Generated once per release and reused by every upgrade; never shown.
secrets:
  api_key: {{length: 32}}

# Environment for every component. Templates may use release.*, version,
# params.*, secrets.* and the aliases of `requires`. Values derived from a
# secret go into a Kubernetes Secret (or a Compose env file) automatically.
env:
  GREETING: "{{{{ params.greeting }}}}"
  API_KEY: "{{{{ secrets.api_key }}}}"

components:
  - name: web
    image: busybox                  # without a tag: the version is the tag
    args: [httpd, -f, -p, "8080", -h, /tmp]
    security:                       # who it runs as: the image's own user, not root
      user: 65534                   # runAsUser (pod `restricted` under the Pod Security Standards)
      read_only_root: true          # the root filesystem is read-only ...
      writable: [/tmp]              # ... but for these paths (an empty directory each)
    # or, for an image that must start as root: security: {{root: "why"}}
    # resources: {{cpu: 50m, memory: 64Mi, memory_limit: 256Mi}}
    # shm: 256Mi                    # /dev/shm, when 64 MB is too small
    # init: [{{name: migrate, args: [migrate]}}]   # runs to completion first
    ports: [{{name: http, port: 8080}}]
    expose: http                    # gets the Ingress when a domain or TLS is asked
    health:
      tcp: {{port: 8080}}           # or http: {{path: /healthz, port: 8080}}, or exec: {{command: [...]}}
    # volumes: [{{name: data, path: /data, size: "{{{{ params.storage }}}}"}}]
    # scalable: false               # for things that cannot run more than one replica
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{BlueprintSource, Catalogue};

    #[test]
    fn the_starter_blueprint_loads_with_the_builtins() {
        let mut sources = Catalogue::builtin_sources();
        sources.push(BlueprintSource {
            origin: "new/hello.yaml".into(),
            text: starter_blueprint("hello"),
        });
        let catalogue = Catalogue::from_sources(sources).unwrap_or_else(|e| panic!("{e}"));
        assert!(catalogue.entry("hello").is_some());
    }
}
