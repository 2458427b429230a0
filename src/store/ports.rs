//! Host ports published by Compose releases. Docker has one port space per
//! host, so two releases that both want 3000 cannot both have it: the first
//! plan takes the default, the next one gets the next free port, and the
//! choice is recorded here for the release's life (stable across upgrades,
//! shown in plans and status) until the release is removed.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, now};
use crate::render::Published;

/// How far past the wanted port a free one is looked for.
const SEARCH: u16 = 100;

/// One recorded host port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPortRecord {
    pub namespace: String,
    pub release: String,
    pub port_name: String,
    pub host_port: u16,
}

/// False when something on this machine listens on 127.0.0.1:`port` (the
/// address deckhand publishes on). A port deckhand may not bind itself (below
/// 1024 without root) counts as free: the Docker engine, as root, can.
pub fn port_is_free(port: u16) -> bool {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => true,
        Err(err) => err.kind() != std::io::ErrorKind::AddrInUse,
    }
}

impl Store {
    /// Every host port recorded on `platform`.
    pub fn host_ports(&self, platform: &str) -> Result<Vec<HostPortRecord>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT namespace, release, port_name, host_port FROM host_ports WHERE platform = ?1 ORDER BY host_port",
        )?;
        let rows = statement.query_map([platform], |r| {
            Ok(HostPortRecord {
                namespace: r.get(0)?,
                release: r.get(1)?,
                port_name: r.get(2)?,
                host_port: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The host port of `release`'s `port_name`: the recorded one, else
    /// `wanted` when no release has it and nothing listens on it, else the
    /// next such port (recorded at once). `Ok(Err(reason))` when every port
    /// of the search range is taken, naming who holds `wanted`.
    pub fn host_port(
        &self,
        platform: &str,
        namespace: &str,
        release: &str,
        port_name: &str,
        wanted: u16,
    ) -> Result<Result<Published, String>, StoreError> {
        let connection = self.connection();
        let recorded: Option<u16> = connection
            .query_row(
                "SELECT host_port FROM host_ports WHERE platform = ?1 AND namespace = ?2 AND release = ?3 AND port_name = ?4",
                params![platform, namespace, release, port_name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(port) = recorded {
            return Ok(Ok(Published {
                port_name: port_name.to_string(),
                container_port: wanted,
                host_port: port,
                taken_by: None,
            }));
        }
        drop(connection);
        let others = self.host_ports(platform)?;
        let holder = |port: u16| -> Option<String> {
            match others.iter().find(|r| r.host_port == port) {
                Some(r) => Some(format!(
                    "release {} in namespace {} (its {} port)",
                    r.release, r.namespace, r.port_name
                )),
                None if !port_is_free(port) => {
                    Some("a program on this machine that is not a deckhand release".to_string())
                }
                None => None,
            }
        };
        let taken_by = holder(wanted);
        let last = wanted.saturating_add(SEARCH);
        let Some(port) = (wanted..=last).find(|p| holder(*p).is_none()) else {
            return Ok(Err(format!(
                "host port {wanted} is taken by {} and so is every port up to {last}; remove a release that publishes one, or free one of them",
                taken_by.unwrap_or_else(|| "someone".into())
            )));
        };
        let connection = self.connection();
        connection.execute(
            "INSERT INTO host_ports (platform, namespace, release, port_name, host_port, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![platform, namespace, release, port_name, port, now()],
        )?;
        Ok(Ok(Published {
            port_name: port_name.to_string(),
            container_port: wanted,
            host_port: port,
            taken_by: (port != wanted).then_some(taken_by).flatten(),
        }))
    }

    /// Forgets the host ports of a removed release (they are free again).
    pub fn free_host_ports(
        &self,
        platform: &str,
        namespace: &str,
        release: &str,
    ) -> Result<(), StoreError> {
        self.connection().execute(
            "DELETE FROM host_ports WHERE platform = ?1 AND namespace = ?2 AND release = ?3",
            params![platform, namespace, release],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port nothing listens on, found by asking the kernel for one.
    fn free_port() -> u16 {
        std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn a_taken_port_moves_the_next_release_and_the_choice_is_kept() {
        let store = Store::in_memory().unwrap();
        let wanted = free_port();
        let first = store
            .host_port("compose", "default", "grafana", "http", wanted)
            .unwrap()
            .unwrap();
        assert_eq!((first.host_port, first.taken_by.clone()), (wanted, None));
        let second = store
            .host_port("compose", "default", "gitea", "http", wanted)
            .unwrap()
            .unwrap();
        assert_ne!(second.host_port, wanted);
        assert!(
            second
                .taken_by
                .as_deref()
                .is_some_and(|t| t.contains("release grafana in namespace default")),
            "{second:?}"
        );
        // Asking again (an upgrade) gives the recorded port, whatever is free now.
        let again = store
            .host_port("compose", "default", "gitea", "http", wanted)
            .unwrap()
            .unwrap();
        assert_eq!(again.host_port, second.host_port);
        // Removing grafana frees its port for the next release.
        store
            .free_host_ports("compose", "default", "grafana")
            .unwrap();
        let third = store
            .host_port("compose", "other", "grafana", "http", wanted)
            .unwrap()
            .unwrap();
        assert_eq!(third.host_port, wanted);
    }

    #[test]
    fn a_port_held_outside_deckhand_is_named_as_such() {
        let store = Store::in_memory().unwrap();
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let held = listener.local_addr().unwrap().port();
        let got = store
            .host_port("compose", "default", "n8n", "http", held)
            .unwrap()
            .unwrap();
        assert_ne!(got.host_port, held);
        assert!(
            got.taken_by.unwrap().contains("not a deckhand release"),
            "the holder is named"
        );
    }
}
