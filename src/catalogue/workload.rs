//! How a component runs, beyond its image: the user and volume owner
//! (`security`), init containers, shared memory, resource requests and
//! limits, and how its data format behaves across versions
//! (`data_compatibility`). These are the keys a blueprint needs so that an
//! application really starts on a fresh volume and passes the `restricted`
//! Pod Security Standard wherever it can; the renderers turn them into a pod
//! and container `securityContext`, `initContainers`, a memory-backed
//! `/dev/shm` and `resources` (Kubernetes), or `user`, `cap_drop`,
//! `security_opt`, one-shot services, `shm_size` and `deploy.resources`
//! (Compose).
//!
//! ```yaml
//! security:
//!   user: 65534            # runAsUser (the image's own user), runAsNonRoot
//!   group: 65534           # runAsGroup (default: the user)
//!   fs_group: 65534        # owner group of the volumes (fsGroup, OnRootMismatch)
//!   read_only_root: true   # readOnlyRootFilesystem ...
//!   writable: [/tmp]       # ... with these paths writable (emptyDir / tmpfs)
//!   capabilities: []       # kept after dropping ALL (non-root: NET_BIND_SERVICE at most)
//! # or, for an image that must start as root:
//! #  root: "why" (shown in the plan; the pod is then `baseline`, not `restricted`)
//! shm: 512Mi               # /dev/shm size
//! resources: {cpu: 100m, memory: 256Mi, memory_limit: 1Gi, cpu_limit: "2"}
//! init:
//!   - name: migrate
//!     args: [migrate]      # same image, env and volumes as the component by default
//! ```

use serde::{Deserialize, Serialize};

use super::blueprint::{Problem, problem};

/// Capabilities the `baseline` Pod Security Standard lets a container add
/// (the container runtime's default set).
pub const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// `security:` of a component: who it runs as and what it may do.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// The uid the container runs as (not 0: say `root` instead).
    #[serde(default)]
    pub user: Option<u32>,
    /// The gid it runs as (default: the same number as `user`).
    #[serde(default)]
    pub group: Option<u32>,
    /// The group that owns the volumes (Kubernetes `fsGroup` with
    /// `OnRootMismatch`; on Compose a one-shot service gives the volumes to
    /// `user:fs_group` before the component starts). Default: `group`.
    #[serde(default)]
    pub fs_group: Option<u32>,
    /// The root filesystem is read-only; `writable` paths get an empty
    /// directory of their own.
    #[serde(default)]
    pub read_only_root: bool,
    #[serde(default)]
    pub writable: Vec<String>,
    /// Capabilities kept after dropping all of them. Absent on a root
    /// component: the runtime's default set is kept.
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    /// Why the image must start as root (it then switches to its own user,
    /// binds a low port, …). A component with `root` is not `restricted`.
    #[serde(default)]
    pub root: Option<String>,
}

impl Security {
    /// The group that owns the volumes, when there is one.
    pub fn volume_group(&self) -> Option<u32> {
        self.fs_group.or(self.group).or(self.user)
    }

    /// The gid the process runs as.
    pub fn run_group(&self) -> Option<u32> {
        self.group.or(self.user)
    }

    /// True when the component runs as a user other than root.
    pub fn non_root(&self) -> bool {
        self.user.is_some_and(|u| u != 0) && self.root.is_none()
    }
}

/// `resources:` of a component: requests, and limits when the blueprint knows them.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU request (`100m`, `1`).
    #[serde(default)]
    pub cpu: Option<String>,
    /// Memory request (`256Mi`).
    #[serde(default)]
    pub memory: Option<String>,
    #[serde(default)]
    pub cpu_limit: Option<String>,
    #[serde(default)]
    pub memory_limit: Option<String>,
}

/// `init:` entry: a container that runs to completion before the component starts.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InitContainer {
    pub name: String,
    /// Default: the component's image and tag.
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
}

/// Whether the data a version leaves behind can be read by another version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compatibility {
    /// Any version reads any other's data (the default).
    #[default]
    Any,
    /// A different major version (the first number of the tag) does not.
    Major,
}

/// `data_compatibility:` either `major` or the long form with the texts a
/// person reads when an upgrade is refused.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum DataCompatibility {
    Short(Compatibility),
    Long(DataCompatibilityDetail),
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DataCompatibilityDetail {
    pub across: Compatibility,
    /// Why another major version cannot use the data.
    #[serde(default)]
    pub why: Option<String>,
    /// What the person does instead (dump and restore, …).
    #[serde(default)]
    pub instead: Option<String>,
    /// A migration path deckhand runs: the new version converts the data
    /// itself when it starts (so an upgrade is allowed; a downgrade never is).
    #[serde(default)]
    pub migration: Option<String>,
}

impl DataCompatibility {
    pub fn across(&self) -> Compatibility {
        match self {
            DataCompatibility::Short(c) => *c,
            DataCompatibility::Long(d) => d.across,
        }
    }
    fn detail(&self) -> Option<&DataCompatibilityDetail> {
        match self {
            DataCompatibility::Long(d) => Some(d),
            DataCompatibility::Short(_) => None,
        }
    }
    pub fn why(&self) -> Option<&str> {
        self.detail().and_then(|d| d.why.as_deref())
    }
    pub fn instead(&self) -> Option<&str> {
        self.detail().and_then(|d| d.instead.as_deref())
    }
    pub fn migration(&self) -> Option<&str> {
        self.detail().and_then(|d| d.migration.as_deref())
    }
}

/// The major version of a tag: its first number (`17` of `17.2-alpine`,
/// `2026` of `2026.2.2`), or None for a tag without one (`latest`).
pub fn major_version(tag: &str) -> Option<u64> {
    let tag = tag.trim_start_matches(['v', 'V']);
    let digits: String = tag.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Bytes of a memory quantity (`512Mi`, `1G`, `1073741824`), or None when it is not one.
pub fn memory_bytes(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = value * factor;
    (bytes >= 1.0 && bytes.fract() == 0.0).then_some(bytes as u64)
}

/// Millicores of a CPU quantity (`100m`, `0.5`, `2`), or None when it is not one.
pub fn cpu_millis(text: &str) -> Option<u64> {
    let (number, factor) = match text.strip_suffix('m') {
        Some(n) => (n, 1.0),
        None => (text, 1000.0),
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let millis = number.parse::<f64>().ok()? * factor;
    (millis >= 1.0 && millis.fract() == 0.0).then_some(millis as u64)
}

/// Docker's spelling of a byte count (`512m`, `1g`): Docker's units are binary.
pub fn docker_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")];
    for (size, unit) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

/// Docker's spelling of a CPU quantity (`0.5`, `2`).
pub fn docker_cpus(millis: u64) -> String {
    let whole = millis / 1000;
    let rest = millis % 1000;
    if rest == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{:03}", rest)
            .trim_end_matches('0')
            .to_string()
    }
}

/// The checks of a component's `security`, `shm`, `resources` and `init`,
/// at `line` (the component's).
pub fn problems(
    component: &str,
    line: u32,
    security: Option<&Security>,
    shm: Option<&str>,
    resources: Option<&Resources>,
    init: &[InitContainer],
    volume_paths: &[String],
) -> Vec<Problem> {
    let mut out = Vec::new();
    let at = |message: String| problem(line, message);
    if let Some(s) = security {
        match (s.user, &s.root) {
            (Some(0), _) => out.push(at(format!("component '{component}': security.user 0 is root; write `root: <why the image must start as root>` instead"))),
            (Some(user), Some(_)) => out.push(at(format!("component '{component}': security says both user {user} and root; choose one"))),
            (None, Some(reason)) if reason.trim().is_empty() => out.push(at(format!("component '{component}': security.root needs the reason the image must start as root"))),
            (None, None) => out.push(at(format!("component '{component}': security must say the user it runs as (`user: <uid>`) or why it starts as root (`root: <reason>`)"))),
            _ => {}
        }
        if s.group.is_some() && s.user.is_none() {
            out.push(at(format!(
                "component '{component}': security.group needs security.user"
            )));
        }
        if s.group == Some(0) || s.fs_group == Some(0) {
            out.push(at(format!("component '{component}': security group 0 (root's group) gives root's files away; use the image's own group")));
        }
        for path in &s.writable {
            if !path.starts_with('/') {
                out.push(at(format!(
                    "component '{component}': writable path '{path}' must be absolute"
                )));
            } else if volume_paths.contains(path) || path == "/dev/shm" {
                out.push(at(format!("component '{component}': writable path '{path}' is already a volume or /dev/shm")));
            }
        }
        if !s.writable.is_empty() && !s.read_only_root {
            out.push(at(format!(
                "component '{component}': writable paths only matter with read_only_root: true"
            )));
        }
        for capability in s.capabilities.iter().flatten() {
            if !BASELINE_CAPABILITIES.contains(&capability.as_str()) {
                out.push(at(format!(
                    "component '{component}': capability '{capability}' is not one a pod may add under the baseline Pod Security Standard ({})",
                    BASELINE_CAPABILITIES.join(", ")
                )));
            } else if s.non_root() && capability != "NET_BIND_SERVICE" {
                out.push(at(format!("component '{component}': a non-root component may keep only NET_BIND_SERVICE (restricted Pod Security Standard), not '{capability}'")));
            }
        }
    }
    if let Some(size) = shm {
        match memory_bytes(size) {
            Some(bytes) if bytes >= 1 << 20 && size.ends_with('i') => {}
            _ => out.push(at(format!(
                "component '{component}': shm '{size}' must be a binary memory quantity of at least 1Mi (e.g. 512Mi, 1Gi)"
            ))),
        }
    }
    if let Some(r) = resources {
        for (what, value) in [("cpu", &r.cpu), ("cpu_limit", &r.cpu_limit)] {
            if let Some(v) = value
                && cpu_millis(v).is_none()
            {
                out.push(at(format!(
                    "component '{component}': resources.{what} '{v}' is not a CPU quantity (e.g. 250m, 1)"
                )));
            }
        }
        for (what, value) in [("memory", &r.memory), ("memory_limit", &r.memory_limit)] {
            if let Some(v) = value
                && memory_bytes(v).is_none()
            {
                out.push(at(format!(
                    "component '{component}': resources.{what} '{v}' is not a memory quantity (e.g. 256Mi, 1Gi)"
                )));
            }
        }
        if let (Some(request), Some(limit)) = (
            r.memory.as_deref().and_then(memory_bytes),
            r.memory_limit.as_deref().and_then(memory_bytes),
        ) && limit < request
        {
            out.push(at(format!(
                "component '{component}': resources.memory_limit is below the memory request"
            )));
        }
        if let (Some(request), Some(limit)) = (
            r.cpu.as_deref().and_then(cpu_millis),
            r.cpu_limit.as_deref().and_then(cpu_millis),
        ) && limit < request
        {
            out.push(at(format!(
                "component '{component}': resources.cpu_limit is below the cpu request"
            )));
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for container in init {
        if !crate::intent::values::is_dns_label(&container.name) {
            out.push(at(format!(
                "component '{component}': init container name '{}' must be a DNS-1123 label",
                container.name
            )));
        }
        if container.name == component || !names.insert(container.name.clone()) {
            out.push(at(format!(
                "component '{component}': init container '{}' is named twice (or like its component)",
                container.name
            )));
        }
        if container
            .image
            .as_ref()
            .is_some_and(|i| i.trim().is_empty() || i.contains(char::is_whitespace))
        {
            out.push(at(format!(
                "component '{component}': init container '{}' has an invalid image",
                container.name
            )));
        }
        if container.command.is_empty() && container.args.is_empty() {
            out.push(at(format!(
                "component '{component}': init container '{}' runs nothing (give command or args)",
                container.name
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_convert_for_docker() {
        assert_eq!(memory_bytes("512Mi"), Some(512 << 20));
        assert_eq!(memory_bytes("1G"), Some(1_000_000_000));
        assert_eq!(memory_bytes("12x"), None);
        assert_eq!(docker_bytes(512 << 20), "512m");
        assert_eq!(docker_bytes(2 << 30), "2g");
        assert_eq!(docker_bytes(1_000_000_000), "1000000000");
        assert_eq!(cpu_millis("250m"), Some(250));
        assert_eq!(cpu_millis("1.5"), Some(1500));
        assert_eq!(cpu_millis("m"), None);
        assert_eq!(docker_cpus(1500), "1.5");
        assert_eq!(docker_cpus(250), "0.25");
        assert_eq!(docker_cpus(2000), "2");
    }

    #[test]
    fn majors_are_the_first_number() {
        assert_eq!(major_version("17"), Some(17));
        assert_eq!(major_version("17.2-alpine"), Some(17));
        assert_eq!(major_version("v3.5.0"), Some(3));
        assert_eq!(major_version("latest"), None);
    }

    #[test]
    fn security_must_name_a_user_or_a_reason_for_root() {
        let check = |s: Security| problems("app", 3, Some(&s), None, None, &[], &[]);
        assert!(
            check(Security {
                user: Some(1000),
                ..Default::default()
            })
            .is_empty()
        );
        assert!(
            check(Security::default())[0]
                .message
                .contains("must say the user")
        );
        assert!(
            check(Security {
                user: Some(0),
                ..Default::default()
            })[0]
                .message
                .contains("root")
        );
        let caps = check(Security {
            user: Some(1000),
            capabilities: Some(vec!["CHOWN".into()]),
            ..Default::default()
        });
        assert!(
            caps[0].message.contains("only NET_BIND_SERVICE"),
            "{caps:?}"
        );
        let sys_admin = check(Security {
            root: Some("entrypoint".into()),
            capabilities: Some(vec!["SYS_ADMIN".into()]),
            ..Default::default()
        });
        assert!(sys_admin[0].message.contains("baseline"), "{sys_admin:?}");
    }

    #[test]
    fn shm_resources_and_init_are_checked() {
        let bad = problems(
            "app",
            1,
            None,
            Some("512MB"),
            Some(&Resources {
                cpu: Some("lots".into()),
                memory: Some("1Gi".into()),
                memory_limit: Some("512Mi".into()),
                cpu_limit: None,
            }),
            &[InitContainer {
                name: "app".into(),
                image: None,
                command: vec![],
                args: vec![],
            }],
            &[],
        );
        let text: Vec<&str> = bad.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(bad.len(), 5, "{text:?}");
    }
}
