//! The delivery side of a request, checked: a strategy only on an upgrade
//! (canary steps from 1 to 100 %, each above the one before; a rolling
//! batch of whole pods), autoscaling only on a scale (1 ≤ min ≤ max ≤ 100, a
//! CPU target of 1–100 %).

use super::Reading;
use super::checks::one;
use crate::intent::parse::classify::Number;
use crate::intent::parse::failure::ParseFailure;
use crate::intent::parse::values::{Said, Values};
use crate::intent::{Action, Autoscale, Replicas};

impl Reading<'_> {
    /// The delivery strategy said, with its settings; only on an upgrade.
    pub(super) fn strategy(
        &self,
        action: Action,
        values: &Values,
    ) -> Result<Option<crate::intent::Strategy>, ParseFailure> {
        use crate::intent::Strategy;
        use crate::intent::parse::lexicon::StrategyName;
        let Some(said) = one(&values.delivery, "strategy")? else {
            return Ok(None);
        };
        // "promote the grafana canary", "abort the canary": the upgrade it is about
        if matches!(action, Action::Promote | Action::Abort | Action::Pause) {
            return Ok(None);
        }
        if action != Action::Upgrade {
            return Err(ParseFailure::understood(format!(
                "a delivery strategy ('{}') is for an upgrade: say e.g. \"upgrade grafana to 13.1 as a canary\"",
                said.text
            ))
            .at(said.at));
        }
        let positive = |n: &Option<Said<Number>>| -> Result<Option<u32>, ParseFailure> {
            match n {
                None => Ok(None),
                Some(s) => match s.value {
                    Number::Integer(v) if (1..=i64::from(Replicas::MAX)).contains(&v) => {
                        Ok(Some(v as u32))
                    }
                    _ => Err(ParseFailure::understood(format!(
                        "invalid batch '{}': it must be a whole number of pods from 1 to {}",
                        s.text,
                        Replicas::MAX
                    ))
                    .at(s.at)),
                },
            }
        };
        // "canary nginx 1.27 but only 1 pod of the new version": the canary's
        // size is its steps, not a replica count of the application.
        if said.value == StrategyName::Canary
            && let Some(count) = values.replicas.first()
        {
            return Err(ParseFailure::understood(format!(
                "'{}' with a canary: the canary's size is a share of the replicas, set by its steps; say e.g. \"as a canary in steps of 10 50 100\", or scale first",
                count.text
            ))
            .at(count.at));
        }
        Ok(Some(match said.value {
            StrategyName::Canary => {
                let steps = match &values.canary_steps {
                    Some(s) => {
                        let ok = !s.value.is_empty()
                            && s.value.windows(2).all(|w| w[0] < w[1])
                            && s.value.iter().all(|p| (1..=100).contains(p));
                        if !ok {
                            return Err(ParseFailure::understood(format!(
                                "invalid canary steps '{}': percentages from 1 to 100, each above the one before",
                                s.text
                            ))
                            .at(s.at));
                        }
                        let mut steps = s.value.clone();
                        // "10% first", "start at 5%": one share said to be
                        // where the canary begins; the usual stages above it
                        // follow.
                        if let [first] = steps[..]
                            && values.canary_starts
                        {
                            steps.extend(
                                crate::intent::DEFAULT_CANARY_STEPS
                                    .iter()
                                    .filter(|&&p| p > first),
                            );
                        }
                        if steps.last() != Some(&100) {
                            steps.push(100);
                        }
                        Some(steps)
                    }
                    None => None,
                };
                Strategy::Canary { steps }
            }
            StrategyName::BlueGreen => Strategy::BlueGreen {},
            StrategyName::Rolling => Strategy::Rolling {
                batch: positive(&values.rolling_batch)?,
                max_unavailable: positive(&values.rolling_unavailable)?,
            },
            StrategyName::Recreate => Strategy::Recreate {},
        }))
    }
}

/// The autoscaling said, checked: a minimum and a maximum, 1 ≤ min ≤ max ≤
/// 100, a CPU target of 1–100 % when said; only on a scale.
pub(super) fn autoscale(
    action: Action,
    values: &Values,
) -> Result<Option<Autoscale>, ParseFailure> {
    let Some(said) = &values.autoscale else {
        return Ok(None);
    };
    if action != Action::Scale {
        return Err(ParseFailure::understood(format!(
            "autoscaling ('{}') is a scale: say \"autoscale grafana between 2 and 10\"",
            said.text
        ))
        .at(said.at));
    }
    let count = |n: &Option<Said<Number>>, what: &str| -> Result<u32, ParseFailure> {
        match n.as_ref().map(|s| (&s.value, s)) {
            Some((Number::Integer(v), _)) if (1..=i64::from(Replicas::MAX)).contains(v) => {
                Ok(*v as u32)
            }
            Some((_, s)) => Err(ParseFailure::understood(format!(
                "invalid {what} of replicas '{}': it must be between 1 and {}",
                s.text,
                Replicas::MAX
            ))
            .at(s.at)),
            None => Err(ParseFailure::understood(format!(
                "autoscaling needs a minimum and a maximum number of replicas ('{}' said neither)",
                said.text
            ))
            .at(said.at)
            .suggest(vec!["autoscale grafana between 2 and 10 at 70% cpu".into()])),
        }
    };
    let (min, max) = (
        count(&said.value.min, "minimum")?,
        count(&said.value.max, "maximum")?,
    );
    if min > max {
        return Err(ParseFailure::understood(format!(
            "the minimum ({min}) is above the maximum ({max}) of replicas"
        ))
        .at(said.at));
    }
    let cpu_percent = match &said.value.cpu_percent {
        Some(p) if (1..=100).contains(&p.value) => Some(p.value),
        Some(p) => {
            return Err(ParseFailure::understood(format!(
                "invalid CPU target '{}': it must be between 1 % and 100 %",
                p.text
            ))
            .at(p.at));
        }
        None => None,
    };
    Ok(Some(Autoscale {
        min,
        max,
        cpu_percent,
    }))
}
