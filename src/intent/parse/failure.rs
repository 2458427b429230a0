//! Why a sentence did not become an intent, in the contract's error shape
//! (DESIGN.md, "Intent (contract)"): what is wrong for a person, suggestions,
//! where the word to blame is (`at`, character offsets), and, where a careful
//! operator would ask back, a `question` with `choices` (each a full command
//! the person can pick; chat front ends show them as buttons).

use serde::Serialize;

use crate::intent::ValueError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}")]
pub struct ParseFailure {
    pub error: String,
    pub suggestions: Vec<String>,
    /// `[start, end]` character offsets of the word to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<[usize; 2]>,
    /// What to ask back, when there are readings to choose from (`question`
    /// and `choices` in the JSON).
    #[serde(flatten)]
    pub ask: Option<Box<Question>>,
    /// The rules understood what was asked but a value is wrong, missing or
    /// ambiguous: the person must say it, and no language model may guess.
    #[serde(skip)]
    pub understood: bool,
}

/// A question back to the person, with full commands to pick from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Question {
    pub question: String,
    /// Full commands the person can pick to answer the question.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

impl ParseFailure {
    /// A failure the rules did not understand (a language model may try).
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            suggestions: Vec::new(),
            at: None,
            ask: None,
            understood: false,
        }
    }
    /// A failure about something the rules understood.
    pub fn understood(error: impl Into<String>) -> Self {
        Self {
            understood: true,
            ..Self::new(error)
        }
    }
    pub fn suggest(mut self, suggestions: Vec<String>) -> Self {
        self.suggestions = suggestions;
        self
    }
    pub fn at(mut self, at: [usize; 2]) -> Self {
        self.at = Some(at);
        self
    }
    /// Asks back with choices; the choices are also the suggestions.
    pub fn ask(mut self, question: impl Into<String>, choices: Vec<String>) -> Self {
        if self.suggestions.is_empty() {
            self.suggestions = choices.clone();
        }
        self.ask = Some(Box::new(Question {
            question: question.into(),
            choices,
        }));
        self
    }
    /// The question back, if there is one.
    pub fn question(&self) -> Option<&str> {
        self.ask.as_deref().map(|q| q.question.as_str())
    }
    /// The commands offered as answers (empty without a question).
    pub fn choices(&self) -> &[String] {
        self.ask.as_deref().map_or(&[], |q| q.choices.as_slice())
    }
}

impl From<ValueError> for ParseFailure {
    fn from(err: ValueError) -> Self {
        let suggestions = match &err {
            ValueError::Namespace(given) => {
                let fixed = sanitize_label(given);
                if fixed.is_empty() || fixed == *given {
                    vec![]
                } else {
                    vec![fixed]
                }
            }
            _ => vec![],
        };
        Self::understood(err.to_string()).suggest(suggestions)
    }
}

/// Lower-cases and replaces what a DNS label cannot hold, for a suggestion.
pub fn sanitize_label(text: &str) -> String {
    let mapped: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let trimmed = mapped.trim_matches('-');
    trimmed
        .chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// Example commands offered when a sentence cannot be understood.
pub fn examples() -> Vec<String> {
    [
        "install authentik with TLS",
        "scale grafana to 3 replicas",
        "status of authentik",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
