//! `deckhand parse` and the sentence side of `deckhand plan`: the rules,
//! then the language model when one is configured (`DECKHAND_LLM_*`) and
//! the rules did not understand, unless `--no-llm`. `parse --json -` reads
//! one command per line and prints one JSON object per line, in order; a
//! line that is empty, not UTF-8 or not understood is an error line, never
//! the end of the batch.

use std::io::{BufRead, Write};

use crate::catalogue::Catalogue;
use crate::intent::llm::LlmParser;
use crate::intent::{Intent, ParseFailure, RuleParser};

/// The rules, and the language model behind them when one is configured.
pub struct Understanding<'a> {
    catalogue: &'a Catalogue,
    rules: RuleParser,
    llm: Option<(LlmParser, tokio::runtime::Runtime)>,
}

impl<'a> Understanding<'a> {
    /// `no_llm`: the rules only, whatever is configured.
    pub fn new(catalogue: &'a Catalogue, no_llm: bool) -> Result<Self, String> {
        let llm = if no_llm {
            None
        } else {
            match crate::config::llm_settings_from_env().map_err(|e| e.to_string())? {
                Some(settings) => {
                    let parser = LlmParser::new(settings, catalogue).map_err(|e| e.to_string())?;
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| format!("cannot start the language model client: {e}"))?;
                    Some((parser, runtime))
                }
                None => None,
            }
        };
        Ok(Self {
            catalogue,
            rules: RuleParser::new(catalogue),
            llm,
        })
    }

    /// One sentence.
    pub fn understand(&self, sentence: &str) -> Result<Intent, ParseFailure> {
        match &self.llm {
            Some((llm, runtime)) => runtime.block_on(crate::intent::llm::understand(
                &self.rules,
                Some(llm),
                self.catalogue,
                sentence,
                &[],
            )),
            None => self.rules.parse(sentence),
        }
    }
}

/// A failure for people: the error, the question and its numbered choices.
pub fn failure_text(failure: &ParseFailure) -> String {
    let mut text = format!("error: {failure}");
    if let Some(question) = failure.question() {
        text.push_str(&format!("\n  {question}"));
        for (n, choice) in failure.choices().iter().enumerate() {
            text.push_str(&format!("\n  {}. {choice}", n + 1));
        }
    } else if !failure.suggestions.is_empty() && !failure.error.contains("did you mean") {
        text.push_str(&format!("\n  try: {}", failure.suggestions.join(" | ")));
    }
    text
}

/// `deckhand parse`: exit 0 with the intent, 2 when a single sentence fails;
/// with `-`, one line out per line in, exit 0.
pub fn run(
    catalogue: &Catalogue,
    json: bool,
    no_llm: bool,
    words: &[String],
) -> Result<std::process::ExitCode, String> {
    let understanding = Understanding::new(catalogue, no_llm)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let print =
        |out: &mut dyn Write, line: &str| writeln!(out, "{line}").map_err(|e| e.to_string());
    let render = |result: Result<Intent, ParseFailure>| match result {
        Ok(intent) if json => serde_json::to_string(&intent).expect("intents serialize"),
        Ok(intent) => intent.summary(),
        Err(failure) if json => serde_json::to_string(&failure).expect("failures serialize"),
        Err(failure) => failure_text(&failure),
    };
    if words.len() == 1 && words[0] == "-" {
        for line in std::io::stdin().lock().split(b'\n') {
            let mut bytes = line.map_err(|e| format!("cannot read stdin: {e}"))?;
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
            let result = match String::from_utf8(bytes) {
                Ok(text) => understanding.understand(&text),
                Err(e) => Err(ParseFailure::new(format!(
                    "this line is not valid UTF-8 text (bad byte at {}); send it as UTF-8",
                    e.utf8_error().valid_up_to()
                ))
                .suggest(crate::intent::parse::failure::examples())),
            };
            print(&mut out, &render(result))?;
        }
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let result = understanding.understand(&words.join(" "));
    let failed = result.is_err();
    let text = render(result);
    if failed && !json {
        let _ = writeln!(std::io::stderr(), "{text}");
    } else {
        print(&mut out, &text)?;
    }
    Ok(if failed {
        std::process::ExitCode::from(super::EXIT_INPUT)
    } else {
        std::process::ExitCode::SUCCESS
    })
}
