//! Validated value types for everything a person can say in a command.
//!
//! Each newtype can only be built through `parse`, which checks the value and
//! returns a [`ValueError`] naming the offending input, so the rest of deckhand
//! never sees an invalid namespace, replica count, domain, version or size.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Why a value a person gave is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error(
        "invalid namespace '{0}': a namespace must be a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"
    )]
    Namespace(String),
    #[error("invalid domain '{0}': expected a host name such as app.example.com")]
    Domain(String),
    #[error("invalid replica count {given}: it must be between {min} and {max}")]
    Replicas { given: i64, min: u32, max: u32 },
    #[error("invalid version '{0}': expected an image tag such as 16, 2024.10.1 or v3.5.0")]
    Version(String),
    #[error("invalid storage size '{0}': expected a Kubernetes quantity such as 20Gi or 500Mi")]
    Storage(String),
    /// A delivery strategy where there is none (anything but an upgrade).
    #[error("{0}")]
    Strategy(String),
}

static DNS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$").expect("valid regex"));
static HOST_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
        .expect("valid regex")
});
/// An OCI tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`) that is plausibly a
/// version: it has a digit, or it is one of the moving tags.
static VERSION_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").expect("valid regex"));
const MOVING_TAGS: &[&str] = &["latest", "stable", "lts", "mainline", "edge", "alpine"];
static QUANTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$").expect("valid regex")
});

/// True when `text` is a DNS-1123 label (the rule for namespaces and most names).
pub fn is_dns_label(text: &str) -> bool {
    DNS_LABEL.is_match(text)
}

/// A Kubernetes namespace: a DNS-1123 label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Namespace(String);

impl Namespace {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if is_dns_label(text) {
            Ok(Self(text.to_string()))
        } else {
            Err(ValueError::Namespace(text.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A public host name for an Ingress (`auth.example.com`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain(String);

impl Domain {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let lower = text.trim_end_matches('.').to_ascii_lowercase();
        if lower.len() <= 253 && HOST_NAME.is_match(&lower) {
            Ok(Self(lower))
        } else {
            Err(ValueError::Domain(text.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A replica count. Scaling may go to zero; everything else needs at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Replicas(u32);

impl Replicas {
    /// The largest count deckhand accepts.
    pub const MAX: u32 = 100;

    /// Validates a count for an install or upgrade (1..=100).
    pub fn for_install(count: i64) -> Result<Self, ValueError> {
        Self::within(count, 1)
    }
    /// Validates a count for a scale (0..=100).
    pub fn for_scale(count: i64) -> Result<Self, ValueError> {
        Self::within(count, 0)
    }
    fn within(count: i64, min: u32) -> Result<Self, ValueError> {
        if count < i64::from(min) || count > i64::from(Self::MAX) {
            return Err(ValueError::Replicas {
                given: count,
                min,
                max: Self::MAX,
            });
        }
        Ok(Self(count as u32))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

/// An image tag or application version (`16`, `2024.10.1`, `v3.5.0`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version(String);

impl Version {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let plausible = text.chars().any(|c| c.is_ascii_digit())
            || MOVING_TAGS
                .iter()
                .any(|t| text == *t || text.starts_with(&format!("{t}-")));
        if plausible && VERSION_TAG.is_match(text) && !text.contains("..") {
            Ok(Self(text.to_string()))
        } else {
            Err(ValueError::Version(text.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Kubernetes quantity for a volume size (`20Gi`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Storage(String);

impl Storage {
    /// Accepts Kubernetes quantities, and the common `20GB` / `20 GiB` spellings
    /// (turned into `20G` / `20Gi`).
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let normalized = normalize_size_unit(&compact);
        if QUANTITY.is_match(&normalized)
            && normalized.chars().any(|c| c.is_ascii_digit() && c != '0')
        {
            Ok(Self(normalized))
        } else {
            Err(ValueError::Storage(text.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `20GB` → `20G`, `20gib` → `20Gi`, `512mb` → `512M`; anything else unchanged.
fn normalize_size_unit(text: &str) -> String {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = match unit.to_ascii_lowercase().as_str() {
        "" => String::new(),
        "ki" | "kib" => "Ki".into(),
        "mi" | "mib" => "Mi".into(),
        "gi" | "gib" => "Gi".into(),
        "ti" | "tib" => "Ti".into(),
        "k" | "kb" => "k".into(),
        "m" | "mb" => "M".into(),
        "g" | "gb" => "G".into(),
        "t" | "tb" => "T".into(),
        _ => unit.to_string(),
    };
    format!("{number}{unit}")
}

macro_rules! string_newtype_impls {
    ($($ty:ident),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = ValueError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.0
            }
        }
    )*};
}
string_newtype_impls!(Namespace, Domain, Version, Storage);

impl fmt::Display for Replicas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_follow_dns_1123() {
        assert!(Namespace::parse("auth").is_ok());
        assert!(Namespace::parse("team-a1").is_ok());
        for bad in ["Auth_Prod", "-auth", "auth-", "", "a.b", &"x".repeat(64)] {
            assert!(Namespace::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn domains_need_a_dot_and_an_alphabetic_tld() {
        assert_eq!(
            Domain::parse("Auth.Example.com").unwrap().as_str(),
            "auth.example.com"
        );
        assert!(Domain::parse("10.4.2").is_err());
        assert!(Domain::parse("localhost").is_err());
        assert!(Domain::parse("bad_host.example.com").is_err());
    }

    #[test]
    fn replicas_bounds_depend_on_the_action() {
        assert!(Replicas::for_scale(0).is_ok());
        assert!(Replicas::for_install(0).is_err());
        assert!(Replicas::for_install(100).is_ok());
        assert_eq!(
            Replicas::for_scale(101).unwrap_err(),
            ValueError::Replicas {
                given: 101,
                min: 0,
                max: 100
            }
        );
        assert!(Replicas::for_scale(-3).is_err());
    }

    #[test]
    fn versions_are_plausible_tags() {
        for good in [
            "16",
            "2024.10.1",
            "v3.5.0",
            "32-apache",
            "latest",
            "stable-alpine",
            "RELEASE.2025-09-07T16-13-09Z",
        ] {
            assert!(Version::parse(good).is_ok(), "{good} refused");
        }
        for bad in [
            "",
            "banana",
            "1 2",
            "../etc",
            "-1",
            "x".repeat(200).as_str(),
        ] {
            assert!(Version::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn storage_is_a_quantity() {
        assert_eq!(Storage::parse("20Gi").unwrap().as_str(), "20Gi");
        assert_eq!(Storage::parse("20GB").unwrap().as_str(), "20G");
        assert_eq!(Storage::parse("512 MiB").unwrap().as_str(), "512Mi");
        for bad in ["", "0", "lots", "20Xi", "-5Gi"] {
            assert!(Storage::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
