//! The major-version guard: an installed release whose blueprint declares
//! `data_compatibility: major` (PostgreSQL, MariaDB, MongoDB) may not move to
//! another major version, because the new server cannot read the old data
//! directory and would start on an empty one. The planner asks [`check`] for
//! every installed release of a plan (upgrade, install over it, rollback):
//! the same major passes; a blueprint that declares a migration the new
//! version runs itself passes forward only, with a note for the plan; anything
//! else is refused with the reason and what to do, before anything is
//! rendered or applied.

use crate::catalogue::Catalogue;
use crate::catalogue::workload::{Compatibility, major_version};
use crate::plan::PlanError;
use crate::resolve;

/// Why a release may not move to another major version, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refused: {release} would go from {blueprint} {from} to {to}, another major version, and {why}; it would start on an empty data directory (or not at all) while the old data stays unread. Nothing was changed. Instead: {instead}"
)]
pub struct DataFormatRefusal {
    pub release: String,
    pub blueprint: String,
    pub from: String,
    pub to: String,
    pub why: String,
    pub instead: String,
}

/// Checks a release that would go from `installed` to `node.version`
/// against its blueprint's `data_compatibility`: the same major, or a
/// blueprint that migrates its data forward, passes (the latter with a note
/// for the plan); anything else is [`PlanError::DataFormat`].
pub(crate) fn check(
    catalogue: &Catalogue,
    node: &resolve::ReleaseNode,
    installed: &str,
) -> Result<Option<String>, PlanError> {
    let Some(entry) = catalogue.entry(&node.blueprint) else {
        return Ok(None);
    };
    let Some(data) = entry
        .blueprint
        .data_compatibility
        .as_ref()
        .map(|d| &d.value)
    else {
        return Ok(None);
    };
    if data.across() != Compatibility::Major {
        return Ok(None);
    }
    let (from, to) = (major_version(installed), major_version(&node.version));
    if from == to {
        return Ok(None);
    }
    let forward = matches!((from, to), (Some(a), Some(b)) if b > a);
    if let (true, Some(migration)) = (forward, data.migration()) {
        return Ok(Some(format!(
            "{}: {} {installed} → {} crosses a major version; the data is migrated: {migration}. There is no way back to {installed} afterwards",
            node.release, node.blueprint, node.version
        )));
    }
    let why = match (from, to) {
        (Some(_), Some(_)) if !forward => format!(
            "a data directory is never readable by an older major version ({})",
            data.why().unwrap_or("the data format changes between major versions")
        ),
        (Some(_), Some(_)) => data
            .why()
            .unwrap_or("the data format changes between major versions")
            .to_string(),
        _ => "one of the two versions has no major number, so deckhand cannot tell whether the data format changes".to_string(),
    };
    let instead = data.instead().map(str::to_string).unwrap_or_else(|| {
        format!(
            "dump the data of {} with the application's own tool, install {} {} as a new release, and restore the dump into it",
            node.release, node.blueprint, node.version
        )
    });
    Err(PlanError::DataFormat(Box::new(DataFormatRefusal {
        release: node.release.clone(),
        blueprint: node.blueprint.clone(),
        from: installed.to_string(),
        to: node.version.clone(),
        why,
        instead: format!(
            "{instead}; or keep {installed} (say \"upgrade {} to {installed}\")",
            node.release
        ),
    })))
}

#[cfg(test)]
mod tests {
    use crate::catalogue::Catalogue;
    use crate::plan::{Overrides, PlanError, Planner, Recorded};
    use crate::render::{EphemeralSecrets, RenderOptions};

    fn planner_with<'a>(catalogue: &'a Catalogue, installed: &[(&str, &str, &str)]) -> Planner<'a> {
        let mut planner = Planner::new(catalogue, RenderOptions::default());
        for (release, blueprint, version) in installed {
            let entry = catalogue.entry(blueprint).unwrap();
            planner.recorded.insert(
                release.to_string(),
                Recorded {
                    blueprint: blueprint.to_string(),
                    version: version.to_string(),
                    parameters: entry.defaults.clone(),
                    revision: 1,
                },
            );
        }
        planner
    }

    #[test]
    fn an_upgrade_across_a_data_format_is_refused_with_what_to_do() {
        let catalogue = Catalogue::builtin().unwrap();
        let planner = planner_with(&catalogue, &[("postgresql", "postgresql", "17")]);
        let plan =
            |text: &str| planner.plan(text, &Overrides::default(), &mut EphemeralSecrets::new());
        let err = plan("upgrade postgresql to 18").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, PlanError::DataFormat(_)), "{text}");
        assert!(text.contains("postgresql 17 to 18"), "{text}");
        assert!(text.contains("pg_dumpall"), "{text}");
        assert!(text.contains("Nothing was changed"), "{text}");
        // Within a major, and without a version (the default 18 is another
        // major, so that is refused too).
        assert!(plan("upgrade postgresql to 17.6").is_ok());
        assert!(plan("upgrade postgresql").is_err());
        // A downgrade is refused the same way.
        let newer = planner_with(&catalogue, &[("postgresql", "postgresql", "18")]);
        let err = newer
            .plan(
                "upgrade postgresql to 16",
                &Overrides::default(),
                &mut EphemeralSecrets::new(),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("older major version"), "{err}");
        // Installing over an installed release is held to the same rule.
        assert!(plan("install postgresql").is_err());
    }

    #[test]
    fn a_declared_migration_lets_the_upgrade_through_forward_only() {
        let catalogue = Catalogue::builtin().unwrap();
        let planner = planner_with(&catalogue, &[("mariadb", "mariadb", "11.8")]);
        let plan = planner
            .plan(
                "upgrade mariadb to 12.3",
                &Overrides::default(),
                &mut EphemeralSecrets::new(),
            )
            .unwrap();
        assert!(
            plan.notes.iter().any(|n| n.contains("mariadb-upgrade")),
            "{:?}",
            plan.notes
        );
        let newer = planner_with(&catalogue, &[("mariadb", "mariadb", "12.3")]);
        assert!(matches!(
            newer.plan(
                "upgrade mariadb to 11.8",
                &Overrides::default(),
                &mut EphemeralSecrets::new()
            ),
            Err(PlanError::DataFormat(_))
        ));
        // Applications without a data format rule move freely.
        let grafana = planner_with(&catalogue, &[("grafana", "grafana", "13.3.2")]);
        assert!(
            grafana
                .plan(
                    "upgrade grafana to 11.2",
                    &Overrides::default(),
                    &mut EphemeralSecrets::new()
                )
                .is_ok()
        );
    }
}
