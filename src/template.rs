//! The template language of blueprints: one `minijinja` environment with
//! strict undefined variables and the version helpers blueprints use in
//! `when:` conditions and templates (`version_below('2025.10')`,
//! `version_at_least('18')`).
//!
//! Both the catalogue (to check every template at load time) and the renderer
//! (to fill them in) go through here, so the two can never disagree on what a
//! template means.
//!
//! Blueprints come from directories anyone with write access may fill, so a
//! template is bounded: every render has [`TEMPLATE_FUEL`] (minijinja's
//! fuel: instructions and memory, about 64 bytes a unit), a recursion limit
//! of [`TEMPLATE_RECURSION`], and an output of at most [`MAX_OUTPUT`]
//! bytes. A blueprint template cannot read files: the environment has no
//! loader, and `include`, `import`, `from` and `extends` are refused when the
//! blueprint is loaded (a blueprint's templates are its own YAML strings,
//! nothing outside them).

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::LazyLock;

use minijinja::{Environment, ErrorKind, State, UndefinedBehavior, Value};

/// Names the environment defines itself; templates may call them freely.
pub const HELPER_FUNCTIONS: &[&str] = &["version_below", "version_at_least"];

/// Fuel of one render or condition: ample for any real blueprint (they use
/// a few hundred units), and a runaway loop stops within milliseconds.
pub const TEMPLATE_FUEL: u64 = 100_000;
/// Nesting depth of one render (loops, conditions, macros).
pub const TEMPLATE_RECURSION: usize = 64;
/// The largest text one template may produce.
pub const MAX_OUTPUT: usize = 1024 * 1024;

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(build_environment);

static FILE_STATEMENT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"\{%[-+]?\s*(include|import|from|extends)\b").expect("valid pattern")
});

/// Refuses statements that would read another template (a file).
fn refuse_file_statements(source: &str) -> Result<(), minijinja::Error> {
    match FILE_STATEMENT.captures(source) {
        Some(found) => Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "'{}' is not allowed in blueprint templates: a template cannot read other files",
                &found[1]
            ),
        )),
        None => Ok(()),
    }
}

fn build_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_recursion_limit(TEMPLATE_RECURSION);
    env.add_function("version_below", |state: &State, bound: String| {
        current_version(state).map(|v| compare_versions(&v, &bound) == Ordering::Less)
    });
    env.add_function("version_at_least", |state: &State, bound: String| {
        current_version(state).map(|v| compare_versions(&v, &bound) != Ordering::Less)
    });
    env
}

fn current_version(state: &State) -> Result<String, minijinja::Error> {
    state
        .lookup("version")
        .filter(|v| !v.is_undefined() && !v.is_none())
        .map(|v| v.to_string())
        .ok_or_else(|| {
            minijinja::Error::new(ErrorKind::UndefinedError, "no `version` to compare against")
        })
}

/// The shared environment.
pub fn environment() -> &'static Environment<'static> {
    &ENVIRONMENT
}

/// True when `text` contains template syntax at all (plain strings skip the engine).
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// Renders one template string against a context.
pub fn render(source: &str, context: &Value) -> Result<String, minijinja::Error> {
    if !is_template(source) {
        return Ok(source.to_string());
    }
    refuse_file_statements(source)?;
    let text = environment().render_str(source, context)?;
    if text.len() > MAX_OUTPUT {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "the template produced {} bytes, more than the {MAX_OUTPUT} allowed",
                text.len()
            ),
        ));
    }
    Ok(text)
}

/// Evaluates a `when:` expression to a boolean.
pub fn evaluate_condition(expression: &str, context: &Value) -> Result<bool, minijinja::Error> {
    let compiled = environment().compile_expression(expression)?;
    Ok(compiled.eval(context)?.is_true())
}

/// Checks a template's syntax and returns the variables it reads, as dotted
/// paths (`db.host`, `params.storage`), without the helper functions.
pub fn referenced_variables(source: &str) -> Result<BTreeSet<String>, minijinja::Error> {
    if !is_template(source) {
        return Ok(BTreeSet::new());
    }
    refuse_file_statements(source)?;
    let template = environment().template_from_str(source)?;
    Ok(without_helpers(template.undeclared_variables(true)))
}

/// Same as [`referenced_variables`] for a `when:` expression.
pub fn condition_variables(expression: &str) -> Result<BTreeSet<String>, minijinja::Error> {
    let compiled = environment().compile_expression(expression)?;
    Ok(without_helpers(compiled.undeclared_variables(true)))
}

fn without_helpers(names: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    names
        .into_iter()
        .filter(|n| !HELPER_FUNCTIONS.contains(&n.as_str()))
        .collect()
}

/// Orders two version tags by their leading numeric parts: `2025.8.4 <
/// 2025.10`, `v3.5 < 3.10`, `16-alpine == 16`. A tag without a number
/// (`latest`, `stable`) counts as newer than every numbered one.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (numeric_parts(a), numeric_parts(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let len = x.len().max(y.len());
            for i in 0..len {
                let (p, q) = (
                    x.get(i).copied().unwrap_or(0),
                    y.get(i).copied().unwrap_or(0),
                );
                match p.cmp(&q) {
                    Ordering::Equal => continue,
                    other => return other,
                }
            }
            Ordering::Equal
        }
    }
}

fn numeric_parts(tag: &str) -> Option<Vec<u64>> {
    let tag = tag.trim_start_matches(['v', 'V']);
    let mut parts = Vec::new();
    for piece in tag.split('.') {
        let digits: String = piece.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            break;
        }
        parts.push(digits.parse().unwrap_or(u64::MAX));
        if digits.len() != piece.len() {
            break;
        }
    }
    (!parts.is_empty()).then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("2025.8.4", "2025.10"), Ordering::Less);
        assert_eq!(compare_versions("2026.2.2", "2025.10"), Ordering::Greater);
        assert_eq!(compare_versions("v3.5", "3.10"), Ordering::Less);
        assert_eq!(compare_versions("16-alpine", "16"), Ordering::Equal);
        assert_eq!(compare_versions("latest", "18"), Ordering::Greater);
        assert_eq!(compare_versions("17", "18"), Ordering::Less);
    }

    #[test]
    fn helpers_read_the_version_from_the_context() {
        let ctx = Value::from(minijinja::value::Serde(
            serde_json::json!({"version": "2025.8.4"}),
        ));
        assert!(evaluate_condition("version_below('2025.10')", &ctx).unwrap());
        let ctx = context! { version => "18" };
        assert_eq!(
            render(
                "{% if version_at_least('18') %}new{% else %}old{% endif %}",
                &ctx
            )
            .unwrap(),
            "new"
        );
    }

    #[test]
    fn undefined_variables_are_errors() {
        let ctx = context! { params => context! { a => 1 } };
        assert!(render("{{ params.b }}", &ctx).is_err());
        assert_eq!(render("{{ params.a }}", &ctx).unwrap(), "1");
    }

    #[test]
    fn runaway_templates_stop_and_files_cannot_be_read() {
        let ctx = context! { params => context! { a => 1 } };
        let started = std::time::Instant::now();
        for source in [
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            "{{ 'x' * 100000000 }}",
            "{% for a in range(100000) %}{{ 'y' * 1000 }}{% endfor %}",
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        ] {
            assert!(render(source, &ctx).is_err(), "{source}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        for source in [
            "{% include '/etc/passwd' %}",
            "{%- import 'x.j2' as x %}",
            "{% from '/etc/passwd' import a %}",
            "{% extends '../base' %}",
        ] {
            let err = referenced_variables(source).unwrap_err().to_string();
            assert!(err.contains("cannot read other files"), "{source}: {err}");
            assert!(render(source, &ctx).is_err());
        }
        // Real templates stay well inside the limits.
        assert_eq!(
            render("{% for i in range(50) %}{{ params.a }}{% endfor %}", &ctx)
                .unwrap()
                .len(),
            50
        );
    }

    #[test]
    fn referenced_variables_are_dotted_paths() {
        let vars = referenced_variables(
            "{{ db.host }}:{{ db.port }} {% if version_below('1') %}{{ params.x }}{% endif %}",
        )
        .unwrap();
        let vars: Vec<_> = vars.into_iter().collect();
        assert_eq!(vars, ["db.host", "db.port", "params.x"]);
    }
}
