//! Stage 1 of the rule parser: a sentence becomes [`Token`]s, each with its
//! character span in the original text (for errors that point at a word).
//!
//! What is dropped here, because it never carries meaning for deckhand:
//! chat mentions (`@deckhand`, `<@U04DKHND01>`), emoji and `:shortcode:`s.
//! What is split off as punctuation: `, . ; : ! ? + & = ( ) [ ] { } " '` and
//! dashes, except where they belong to a word: the dots of a version or a
//! host name (`1.22.4`, `git.example.org`), the apostrophe of `we're`, the
//! colon of a time (`14:00`), the slash of `w/`. A `:` or `@` between a word
//! and a version (`redis:7.4`, `gitea@1.22.6`) is its own token, so the
//! next stage sees the name and the version. A URL (`https://…`) is one token.

/// One token of a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// As written.
    pub text: String,
    /// Lower case, with typographic apostrophes made plain.
    pub lower: String,
    /// Character offsets in the sentence, `start..end`.
    pub start: usize,
    pub end: usize,
    pub kind: TokenKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Word,
    /// `http://…` or `https://…`.
    Url,
    Punct(char),
}

impl Token {
    pub fn is_punct(&self, c: char) -> bool {
        self.kind == TokenKind::Punct(c)
    }
}

/// Characters that are always a token of their own.
const SEPARATORS: &[char] = &[
    ',', ';', '!', '?', '(', ')', '[', ']', '{', '}', '"', '+', '&', '=', '<', '>', '`', '|', '*',
    '\u{2014}', '\u{2013}', '\u{201c}', '\u{201d}',
];

/// Splits a sentence into tokens. Never fails; an input of only emoji or
/// mentions gives no tokens.
pub fn tokenize(sentence: &str) -> Vec<Token> {
    let chars: Vec<char> = sentence
        .chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' | '\u{02bc}' => '\'',
            other => other,
        })
        .collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        chunk(&chars, start, i, &mut tokens);
    }
    tokens
}

/// True for emoji and other pictographs (which people add to chat messages).
fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xFE00..=0xFE0F | 0x200D
        | 0x2300..=0x23FF | 0x2190..=0x21FF | 0x25A0..=0x25FF | 0xE0020..=0xE007F)
}

/// One whitespace-separated chunk `chars[start..end]` into tokens.
fn chunk(chars: &[char], start: usize, end: usize, out: &mut Vec<Token>) {
    let text: String = chars[start..end].iter().collect();
    // Mentions: "@deckhand", "<@U04DKHND01>", "<@U04DKHND01|deckhand>".
    if is_mention(&text) {
        return;
    }
    // Slack/Mattermost emoji shortcodes (":rocket:") and emoji alone end a
    // phrase the way a comma does ("went sideways :sob: roll back").
    if is_shortcode(&text) || (text.chars().all(is_emoji) && !text.is_empty()) {
        if out
            .last()
            .is_some_and(|t: &Token| t.kind != TokenKind::Punct(','))
        {
            out.push(Token {
                text: ",".into(),
                lower: ",".into(),
                start,
                end: start,
                kind: TokenKind::Punct(','),
            });
        }
        return;
    }
    let lower = text.to_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        // Trailing sentence punctuation is not part of the URL.
        let mut url_end = end;
        while url_end > start && ".,;:!?)]}\"'>".contains(chars[url_end - 1]) {
            url_end -= 1;
        }
        push(chars, start, url_end, TokenKind::Url, out);
        for at in url_end..end {
            push(chars, at, at + 1, TokenKind::Punct(chars[at]), out);
        }
        return;
    }
    let mut word_start: Option<usize> = None;
    let mut at = start;
    while at < end {
        let c = chars[at];
        // "7.4 -> 8", "16 → 17": an arrow is a word ("to").
        if ((c == '-' || c == '=') && at + 1 < end && chars[at + 1] == '>') || c == '\u{2192}' {
            flush(chars, &mut word_start, at, out);
            let len = if c == '\u{2192}' { 1 } else { 2 };
            push(chars, at, at + len, TokenKind::Word, out);
            at += len;
            continue;
        }
        // "2..20", "4–8": a range between two numbers stays one word, as
        // "2-8" does (the next stage reads it as the two numbers).
        let digits_so_far =
            word_start.is_some_and(|s| chars[s..at].iter().all(char::is_ascii_digit));
        let range_dash = match c {
            '.' if chars.get(at + 1) == Some(&'.') => 2,
            '\u{2013}' => 1,
            _ => 0,
        };
        if range_dash > 0
            && digits_so_far
            && at + range_dash < end
            && chars[at + range_dash].is_ascii_digit()
        {
            at += range_dash;
            continue;
        }
        let separator = if is_emoji(c) {
            // Dropped: ends the word before it.
            flush(chars, &mut word_start, at, out);
            at += 1;
            continue;
        } else if SEPARATORS.contains(&c) {
            true
        } else if c == '.' {
            // A dot belongs to a word when a word character follows it
            // ("1.22.4", "git.example.org"); else it ends a sentence.
            !(word_start.is_some() && at + 1 < end && chars[at + 1].is_alphanumeric())
        } else if c == '\'' {
            // An apostrophe inside a word ("we're", "let's", "yesterday's") stays.
            !(word_start.is_some() && at + 1 < end && chars[at + 1].is_alphabetic())
        } else if c == ':' {
            // "14:00" is a time; "redis:7.4", "namespace:", "ns:x" split.
            let in_time = word_start.is_some_and(|s| chars[s..at].iter().all(char::is_ascii_digit))
                && at + 1 < end
                && chars[at + 1].is_ascii_digit();
            !in_time
        } else if c == '@' {
            // "gitea@1.22.6": the name and the version apart; "shop@eu" stays whole.
            word_start.is_some()
                && at + 1 < end
                && (chars[at + 1].is_ascii_digit()
                    || (chars[at + 1] == 'v' && at + 2 < end && chars[at + 2].is_ascii_digit()))
        } else if c == '-' && word_start.is_none() {
            // A dash alone ("redis - now") is punctuation; "-n", "-5GB" are words.
            !(at + 1 < end && (chars[at + 1].is_alphanumeric() || chars[at + 1] == '-'))
        } else {
            false
        };
        if separator {
            flush(chars, &mut word_start, at, out);
            push(chars, at, at + 1, TokenKind::Punct(c), out);
        } else if word_start.is_none() {
            word_start = Some(at);
        }
        at += 1;
    }
    flush(chars, &mut word_start, end, out);
}

fn flush(chars: &[char], word_start: &mut Option<usize>, end: usize, out: &mut Vec<Token>) {
    if let Some(start) = word_start.take()
        && start < end
    {
        push(chars, start, end, TokenKind::Word, out);
    }
}

fn push(chars: &[char], start: usize, end: usize, kind: TokenKind, out: &mut Vec<Token>) {
    let text: String = chars[start..end].iter().collect();
    let lower = text.to_lowercase();
    out.push(Token {
        text,
        lower,
        start,
        end,
        kind,
    });
}

fn is_mention(text: &str) -> bool {
    let bare = text.trim_end_matches([',', ':', '.', '!', '?']);
    if let Some(rest) = bare.strip_prefix("<@").or_else(|| bare.strip_prefix("<!")) {
        return rest.ends_with('>');
    }
    match bare.strip_prefix('@') {
        Some(rest) => {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_alphanumeric() || "._-".contains(c))
        }
        None => false,
    }
}

fn is_shortcode(text: &str) -> bool {
    let bare = text.trim_end_matches([',', '.', '!', '?']);
    bare.len() > 2
        && bare.starts_with(':')
        && bare.ends_with(':')
        && bare[1..bare.len() - 1]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn punctuation_splits_but_versions_hosts_and_contractions_stay_whole() {
        assert_eq!(
            words("install redis:7.4, gitea@1.22.6 on git.example.org."),
            [
                "install",
                "redis",
                ":",
                "7.4",
                ",",
                "gitea",
                "@",
                "1.22.6",
                "on",
                "git.example.org",
                "."
            ]
        );
        assert_eq!(
            words("we're done, let's go"),
            ["we're", "done", ",", "let's", "go"]
        );
        assert_eq!(words("ns=obs"), ["ns", "=", "obs"]);
        assert_eq!(
            words("namespace: analytics"),
            ["namespace", ":", "analytics"]
        );
        assert_eq!(words("at 14:00"), ["at", "14:00"]);
        assert_eq!(words("-n x -5GB"), ["-n", "x", "-5GB"]);
        assert_eq!(words("a + b & c"), ["a", "+", "b", "&", "c"]);
        // A range between numbers is one word; a version's dots are not a range.
        assert_eq!(words("2..20 4\u{2013}8"), ["2..20", "4\u{2013}8"]);
        assert_eq!(words("1.2..3"), ["1.2", ".", ".", "3"]);
        assert_eq!(words("redis \u{2013} now"), ["redis", "\u{2013}", "now"]);
        assert_eq!(words("7.4 -> 8"), ["7.4", "->", "8"]);
    }

    #[test]
    fn mentions_emoji_and_shortcodes_are_dropped() {
        assert_eq!(
            words("<@U04DKHND01> @deckhand, scale redis 🙏 :rocket: ✅"),
            ["scale", "redis", ","]
        );
        assert_eq!(words("mail me at a@b"), ["mail", "me", "at", "a@b"]);
        assert!(tokenize("🍕🍕🍕").is_empty());
    }

    #[test]
    fn spans_are_character_offsets() {
        let tokens = tokenize("é install sonarqube");
        let sonar = &tokens[2];
        assert_eq!((sonar.start, sonar.end), (10, 19));
        assert_eq!(sonar.text, "sonarqube");
    }

    #[test]
    fn urls_are_one_token_without_trailing_punctuation() {
        let tokens = tokenize("at https://status.acme.io/.");
        assert_eq!(tokens[1].kind, TokenKind::Url);
        assert_eq!(tokens[1].text, "https://status.acme.io/");
        assert!(tokens[2].is_punct('.'));
    }
}
