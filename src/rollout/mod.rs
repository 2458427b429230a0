//! Delivery strategies, as data: what an upgrade with a strategy will do
//! before anything runs. The request's settings ([`StrategyOptions`], the
//! `options.strategy` of the HTTP API) merged over what the sentence said
//! ([`crate::intent::Strategy`]) give a [`RolloutPlan`]: its stages, how
//! long each is validated and how often, and the text shown in the plan.
//!
//! The Kubernetes objects each stage applies are built in [`kubernetes`];
//! the orchestrator runs the stages (`src/orchestrator/strategy/`).
//!
//! Defaults are short on purpose (an upgrade a person waits for): each
//! stage is validated for 30 s, checked every 5 s; a blue-green upgrade
//! keeps blue for 300 s after the switch unless it is retired or switched
//! back sooner.

pub mod kubernetes;

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::intent::Strategy;

/// How long each stage is validated when the request does not say.
pub const DEFAULT_STAGE_SECONDS: u64 = 30;
/// How often a stage's validation looks, when the request does not say.
pub const DEFAULT_INTERVAL_SECONDS: u64 = 5;
/// How long blue is kept after a blue-green switch, when not said.
pub const DEFAULT_RETIRE_AFTER_SECONDS: u64 = 300;
/// The longest stage or retention deckhand accepts (a day).
const MAX_SECONDS: u64 = 86_400;

/// The strategy names of `options.strategy.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    Canary,
    BlueGreen,
    Rolling,
    Recreate,
}

/// `options.strategy` of a request: a strategy and its settings. Options
/// win over the sentence; settings without a `type` tune the strategy the
/// sentence said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyOptions {
    /// canary | blue_green | rolling | recreate (left out: the sentence's).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<StrategyKind>,
    /// Canary: the stages in percent, increasing, ending at 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<u32>>,
    /// Rolling: pods replaced at a time (maxSurge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    /// Rolling: pods that may be unavailable at a time (maxUnavailable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<u32>,
    /// Canary and blue-green: how long each stage is validated (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_seconds: Option<u64>,
    /// Canary and blue-green: how often the validation looks (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u64>,
    /// Canary: after each validated stage, wait for a promote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    /// Blue-green: seconds blue is kept after the switch (a promote retires
    /// it sooner, an abort switches back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_after_seconds: Option<u64>,
}

impl StrategyOptions {
    /// The strategy these options name, with its settings; `None` when they
    /// name none (they tune the sentence's). A setting that belongs to
    /// another strategy is an error naming it.
    pub fn strategy(&self) -> Result<Option<Strategy>, String> {
        let misplaced = |field: &str, owner: &str| {
            Err(format!(
                "options.strategy.{field} is a setting of {owner}, not of {}",
                self.kind.map_or("the strategy said", kind_name)
            ))
        };
        let canary = self.kind == Some(StrategyKind::Canary);
        let rolling = self.kind == Some(StrategyKind::Rolling);
        let timed = matches!(
            self.kind,
            Some(StrategyKind::Canary | StrategyKind::BlueGreen) | None
        );
        if self.steps.is_some() && !canary {
            return misplaced("steps", "a canary (and needs type: canary)");
        }
        if self.batch.is_some() && !rolling {
            return misplaced("batch", "rolling (and needs type: rolling)");
        }
        if self.max_unavailable.is_some() && !rolling {
            return misplaced("max_unavailable", "rolling (and needs type: rolling)");
        }
        if !timed {
            for (field, set) in [
                ("stage_seconds", self.stage_seconds.is_some()),
                ("interval_seconds", self.interval_seconds.is_some()),
                ("pause", self.pause.is_some()),
                ("retire_after_seconds", self.retire_after_seconds.is_some()),
            ] {
                if set {
                    return misplaced(field, "a canary or blue-green upgrade");
                }
            }
        }
        if self.pause.is_some() && self.kind == Some(StrategyKind::BlueGreen) {
            return misplaced("pause", "a canary");
        }
        if self.retire_after_seconds.is_some() && canary {
            return misplaced("retire_after_seconds", "blue-green");
        }
        Ok(self.kind.map(|kind| match kind {
            StrategyKind::Canary => Strategy::Canary {
                steps: self.steps.clone(),
            },
            StrategyKind::BlueGreen => Strategy::BlueGreen {},
            StrategyKind::Rolling => Strategy::Rolling {
                batch: self.batch,
                max_unavailable: self.max_unavailable,
            },
            StrategyKind::Recreate => Strategy::Recreate {},
        }))
    }
}

fn kind_name(kind: StrategyKind) -> &'static str {
    match kind {
        StrategyKind::Canary => "a canary",
        StrategyKind::BlueGreen => "blue-green",
        StrategyKind::Rolling => "rolling",
        StrategyKind::Recreate => "recreate",
    }
}

/// How long stages are validated, how often, whether they wait for a
/// person, and how long blue is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timing {
    pub stage_seconds: u64,
    pub interval_seconds: u64,
    pub pause: bool,
    pub retire_after_seconds: u64,
}

impl Timing {
    /// The request's settings over the defaults; out-of-range values are
    /// errors that quote them.
    pub fn of(options: Option<&StrategyOptions>) -> Result<Self, String> {
        let o = options.cloned().unwrap_or_default();
        let timing = Self {
            stage_seconds: o.stage_seconds.unwrap_or(DEFAULT_STAGE_SECONDS),
            interval_seconds: o.interval_seconds.unwrap_or(DEFAULT_INTERVAL_SECONDS),
            pause: o.pause.unwrap_or(false),
            retire_after_seconds: o
                .retire_after_seconds
                .unwrap_or(DEFAULT_RETIRE_AFTER_SECONDS),
        };
        for (field, value) in [
            ("stage_seconds", timing.stage_seconds),
            ("retire_after_seconds", timing.retire_after_seconds),
        ] {
            if value > MAX_SECONDS {
                return Err(format!(
                    "options.strategy.{field} {value} is more than a day ({MAX_SECONDS} s)"
                ));
            }
        }
        if timing.interval_seconds == 0 || timing.interval_seconds > MAX_SECONDS {
            return Err(format!(
                "options.strategy.interval_seconds {} must be between 1 and {MAX_SECONDS}",
                timing.interval_seconds
            ));
        }
        Ok(timing)
    }

    pub fn stage(&self) -> Duration {
        Duration::from_secs(self.stage_seconds)
    }
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_seconds.min(self.stage_seconds.max(1)))
    }
    pub fn retire_after(&self) -> Duration {
        Duration::from_secs(self.retire_after_seconds)
    }
}

/// The canary's stages: increasing percentages from 1 to 100, ending at 100.
pub fn canary_steps(steps: Option<&[u32]>) -> Result<Vec<u32>, String> {
    let Some(steps) = steps else {
        return Ok(crate::intent::DEFAULT_CANARY_STEPS.to_vec());
    };
    if steps.is_empty() {
        return Err("a canary needs at least one stage".into());
    }
    for step in steps {
        if !(1..=100).contains(step) {
            return Err(format!(
                "canary stage {step}% is not a share of the replicas: each stage is between 1 and 100"
            ));
        }
    }
    for pair in steps.windows(2) {
        if pair[1] <= pair[0] {
            return Err(format!(
                "canary stages must grow: {}% comes after {}%",
                pair[1], pair[0]
            ));
        }
    }
    let mut steps = steps.to_vec();
    if steps.last() != Some(&100) {
        steps.push(100);
    }
    Ok(steps)
}

/// Replicas of the canary and of the stable version at `percent` of
/// `total`: at least one canary pod, and, before 100 %, at least one stable
/// pod (so a failure goes back at once). With few replicas the share is
/// coarser than asked; the stage says the share it runs.
pub fn canary_split(total: u32, percent: u32) -> (u32, u32) {
    let total = total.max(1);
    if percent >= 100 {
        return (total, 0);
    }
    let canary = (total * percent).div_ceil(100).max(1);
    let stable = total.saturating_sub(canary).max(1);
    (canary, stable)
}

/// One stage of a rollout, for people and for the plan's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Stage {
    /// "stage 2 of 4", "switch", …
    pub name: String,
    /// Canary: the share asked, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    pub description: String,
}

/// What an upgrade with a strategy will do, stage by stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutPlan {
    pub strategy: Strategy,
    pub timing: Timing,
    pub stages: Vec<Stage>,
    /// What the person should know (a coarse share, a StatefulSet's order).
    pub notes: Vec<String>,
}

impl RolloutPlan {
    /// The stages of `strategy` for a release whose workloads run `replicas`
    /// pods (the largest Deployment's count decides a canary's shares).
    pub fn new(strategy: &Strategy, timing: Timing, replicas: u32) -> Result<Self, String> {
        let validate = format!(
            "validated for {} s, checked every {} s: the new pods Ready (their readiness checks passing) with no restarts",
            timing.stage_seconds,
            timing.interval().as_secs()
        );
        let mut notes = Vec::new();
        let stages = match strategy {
            Strategy::Canary { steps } => {
                let steps = canary_steps(steps.as_deref())?;
                let count = steps.len();
                steps
                    .iter()
                    .enumerate()
                    .map(|(i, &percent)| {
                        let description = if percent == 100 {
                            "promote: the stable Deployments take the new version at full size, the canary is removed, the revision is recorded".to_string()
                        } else {
                            let (canary, stable) = canary_split(replicas, percent);
                            let share = canary * 100 / (canary + stable);
                            if share != percent {
                                notes.push(format!(
                                    "{percent}% of {replicas} replica(s) runs as {canary} canary and {stable} stable pod(s) ({share}%): replicas are the unit of weight"
                                ));
                            }
                            format!(
                                "{canary} canary pod(s) beside {stable} stable behind the same Service; {validate}{}",
                                if timing.pause {
                                    "; then waits for promote"
                                } else {
                                    ""
                                }
                            )
                        };
                        Stage {
                            name: format!("stage {} of {count}", i + 1),
                            percent: Some(percent),
                            description,
                        }
                    })
                    .collect()
            }
            Strategy::BlueGreen {} => vec![
                Stage {
                    name: "pin".into(),
                    percent: None,
                    description: "the Services select blue (the running version) only".into(),
                },
                Stage {
                    name: "green".into(),
                    percent: None,
                    description: format!(
                        "green (the new version) starts beside blue at full size; {validate}"
                    ),
                },
                Stage {
                    name: "switch".into(),
                    percent: None,
                    description: "the Services' selectors move to green; blue keeps running".into(),
                },
                Stage {
                    name: "retire".into(),
                    percent: None,
                    description: format!(
                        "blue is kept for an instant switch back (abort) for {} s or until promote, then retired and the revision recorded",
                        timing.retire_after_seconds
                    ),
                },
            ],
            Strategy::Rolling {
                batch,
                max_unavailable,
            } => {
                let surge = batch.map_or("25%".to_string(), |b| b.to_string());
                let unavailable = match (max_unavailable, batch) {
                    (Some(u), _) => u.to_string(),
                    (None, Some(_)) => "0".into(),
                    (None, None) => "25%".into(),
                };
                vec![Stage {
                    name: "rolling".into(),
                    percent: None,
                    description: format!(
                        "Deployments replace pods with maxSurge {surge} and maxUnavailable {unavailable}; StatefulSets replace one pod at a time, highest ordinal first"
                    ),
                }]
            }
            Strategy::Recreate {} => vec![Stage {
                name: "recreate".into(),
                percent: None,
                description:
                    "every old pod stops before a new one starts (a short outage; no two versions at once)"
                        .into(),
            }],
        };
        Ok(Self {
            strategy: strategy.clone(),
            timing,
            stages,
            notes,
        })
    }

    /// The plan's "Strategy" section.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\nStrategy: {}", self.strategy.name());
        for stage in &self.stages {
            let percent = stage.percent.map_or(String::new(), |p| format!(" ({p}%)"));
            let _ = writeln!(out, "  {}{percent}: {}", stage.name, stage.description);
        }
        for note in &self.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_grow_to_100_and_default_to_5_25_50_100() {
        assert_eq!(canary_steps(None).unwrap(), vec![5, 25, 50, 100]);
        assert_eq!(canary_steps(Some(&[10, 50])).unwrap(), vec![10, 50, 100]);
        assert!(canary_steps(Some(&[50, 25])).unwrap_err().contains("25%"));
        assert!(canary_steps(Some(&[0, 100])).is_err());
        assert!(canary_steps(Some(&[101])).is_err());
    }

    #[test]
    fn a_canary_always_has_one_pod_and_keeps_one_stable_before_100() {
        assert_eq!(canary_split(1, 5), (1, 1));
        assert_eq!(canary_split(4, 25), (1, 3));
        assert_eq!(canary_split(4, 50), (2, 2));
        assert_eq!(canary_split(20, 5), (1, 19));
        assert_eq!(canary_split(3, 100), (3, 0));
    }

    #[test]
    fn options_refuse_settings_of_another_strategy() {
        let rolling_steps = StrategyOptions {
            kind: Some(StrategyKind::Rolling),
            steps: Some(vec![10]),
            ..Default::default()
        };
        assert!(rolling_steps.strategy().unwrap_err().contains("steps"));
        let timed_recreate = StrategyOptions {
            kind: Some(StrategyKind::Recreate),
            stage_seconds: Some(3),
            ..Default::default()
        };
        assert!(
            timed_recreate
                .strategy()
                .unwrap_err()
                .contains("stage_seconds")
        );
        let canary = StrategyOptions {
            kind: Some(StrategyKind::Canary),
            steps: Some(vec![20, 100]),
            stage_seconds: Some(2),
            ..Default::default()
        };
        assert_eq!(
            canary.strategy().unwrap(),
            Some(Strategy::Canary {
                steps: Some(vec![20, 100])
            })
        );
        assert!(Timing::of(Some(&canary)).unwrap().stage_seconds == 2);
    }

    #[test]
    fn the_plan_text_lists_every_stage() {
        let plan = RolloutPlan::new(
            &Strategy::Canary { steps: None },
            Timing::of(None).unwrap(),
            1,
        )
        .unwrap();
        let text = plan.to_text();
        for stage in [
            "stage 1 of 4 (5%)",
            "stage 2 of 4 (25%)",
            "stage 4 of 4 (100%)",
        ] {
            assert!(text.contains(stage), "{text}");
        }
        assert!(text.contains("replicas are the unit of weight"), "{text}");
        let blue_green =
            RolloutPlan::new(&Strategy::BlueGreen {}, Timing::of(None).unwrap(), 1).unwrap();
        let names: Vec<&str> = blue_green.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["pin", "green", "switch", "retire"]);
    }
}
