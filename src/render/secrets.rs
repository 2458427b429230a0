//! Generated secrets. A [`SecretSource`] hands out the value of a release's
//! secret, creating it the first time; the store keeps them for good (so a
//! database password never changes on upgrade), while planning without a
//! store uses [`EphemeralSecrets`], fresh random values held in memory.

use std::collections::{BTreeMap, HashMap};

use rand::RngExt;
use rand::distr::Alphanumeric;

use crate::catalogue::blueprint::{Charset, SecretSpec};

/// Where secret values come from.
pub trait SecretSource {
    /// The value of `name` for `release`, generated from `spec` if new.
    fn secret(&mut self, release: &str, name: &str, spec: &SecretSpec) -> String;

    /// The host port `release` publishes its `port_name` port on (Compose):
    /// here simply `wanted`; the store's source records one per release and
    /// moves a release whose port is taken. `Err` says who holds it.
    fn host_port(
        &mut self,
        _release: &str,
        port_name: &str,
        wanted: u16,
    ) -> Result<super::Published, String> {
        Ok(super::Published {
            port_name: port_name.to_string(),
            container_port: wanted,
            host_port: wanted,
            taken_by: None,
        })
    }
}

/// Random values that live as long as this value does.
#[derive(Debug, Default, Clone)]
pub struct EphemeralSecrets {
    values: HashMap<(String, String), String>,
}

impl EphemeralSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Values kept from an earlier run, by release and name.
    pub fn with_values(values: BTreeMap<String, BTreeMap<String, String>>) -> Self {
        let values = values
            .into_iter()
            .flat_map(|(release, secrets)| {
                secrets
                    .into_iter()
                    .map(move |(name, value)| ((release.clone(), name), value))
            })
            .collect();
        Self { values }
    }

    /// Every value handed out or kept, by release and name.
    pub fn values(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for ((release, name), value) in &self.values {
            out.entry(release.clone())
                .or_default()
                .insert(name.clone(), value.clone());
        }
        out
    }
}

impl SecretSource for EphemeralSecrets {
    fn secret(&mut self, release: &str, name: &str, spec: &SecretSpec) -> String {
        self.values
            .entry((release.to_string(), name.to_string()))
            .or_insert_with(|| generate(spec))
            .clone()
    }
}

/// A strong random value: alphanumeric (about 5.95 bits a character) or hex.
pub fn generate(spec: &SecretSpec) -> String {
    let mut rng = rand::rng();
    match spec.charset {
        Charset::Alphanumeric => (0..spec.length)
            .map(|_| rng.sample(Alphanumeric) as char)
            .collect(),
        Charset::Hex => (0..spec.length)
            .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stable_per_release_and_distinct_between() {
        let spec = SecretSpec {
            length: 32,
            charset: Charset::Alphanumeric,
        };
        let mut secrets = EphemeralSecrets::new();
        let a = secrets.secret("pg", "password", &spec);
        assert_eq!(a.len(), 32);
        assert_eq!(a, secrets.secret("pg", "password", &spec));
        assert_ne!(a, secrets.secret("other", "password", &spec));
        let hex = generate(&SecretSpec {
            length: 64,
            charset: Charset::Hex,
        });
        assert!(hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
