//! `like` patterns, as Milvus reads them: `%` matches any run of characters (none included), `_`
//! exactly one character, a backslash makes the next character literal (`\%`, `\_`, `\\`), and
//! every other character matches itself, case-sensitively. The whole text must match.

/// One step of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `%`
    AnyRun,
    /// `_`
    AnyChar,
    /// A character that matches itself.
    Literal(char),
}

/// The step that starts at byte `at` of `pattern` and the byte where the next one starts; `None`
/// at the end. A backslash with nothing after it (which the parser rejects) stands for itself.
fn step_at(pattern: &str, at: usize) -> Option<(Step, usize)> {
    let mut chars = pattern.get(at..)?.chars();
    let c = chars.next()?;
    let after = at + c.len_utf8();
    Some(match c {
        '%' => (Step::AnyRun, after),
        '_' => (Step::AnyChar, after),
        '\\' => match chars.next() {
            Some(escaped) => (Step::Literal(escaped), after + escaped.len_utf8()),
            None => (Step::Literal('\\'), after),
        },
        c => (Step::Literal(c), after),
    })
}

/// Whether `pattern` ends with a backslash that escapes nothing (Milvus rejects such a pattern).
pub(super) fn has_dangling_escape(pattern: &str) -> bool {
    let mut at = 0;
    while let Some((_, next)) = step_at(pattern, at) {
        if next == pattern.len() && pattern[at..].starts_with('\\') && next - at == 1 {
            return true;
        }
        at = next;
    }
    false
}

/// The one text a `like` pattern matches when it has no unescaped `%` or `_` (escapes resolved);
/// `None` when it has a wildcard.
pub fn literal_text(pattern: &str) -> Option<String> {
    let mut text = String::new();
    let mut at = 0;
    while let Some((step, next)) = step_at(pattern, at) {
        match step {
            Step::Literal(c) => text.push(c),
            Step::AnyRun | Step::AnyChar => return None,
        }
        at = next;
    }
    Some(text)
}

/// Whether the whole of `text` matches `pattern`.
///
/// Greedy with backtracking to the last `%` only, which suffices for `%`/`_` patterns: time is at
/// most the product of the two lengths, and nothing is allocated.
pub(super) fn matches(pattern: &str, text: &str) -> bool {
    let (mut p, mut t) = (0, 0);
    // After the last `%` seen: where the pattern resumes, and where in the text it was tried.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        let current = text[t..].chars().next().map_or(1, char::len_utf8);
        match step_at(pattern, p) {
            Some((Step::AnyRun, next)) => {
                backtrack = Some((next, t));
                p = next;
                continue;
            }
            Some((Step::AnyChar, next)) => {
                p = next;
                t += current;
                continue;
            }
            Some((Step::Literal(c), next)) if text[t..].starts_with(c) => {
                p = next;
                t += current;
                continue;
            }
            _ => {}
        }
        // A mismatch: let the last `%` swallow one more character, or fail without one.
        let Some((resume, tried)) = backtrack else {
            return false;
        };
        let tried = tried + text[tried..].chars().next().map_or(1, char::len_utf8);
        backtrack = Some((resume, tried));
        p = resume;
        t = tried;
    }
    while let Some((Step::AnyRun, next)) = step_at(pattern, p) {
        p = next;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_matches_any_run_and_underscore_one_character() {
        let yes = [
            ("abc", "abc"),
            ("a%", "abc"),
            ("a%", "a"),
            ("%c", "abc"),
            ("%b%", "abc"),
            ("%", ""),
            ("%%", "x"),
            ("a_c", "abc"),
            ("___", "日本語"),
            ("_%_", "ab"),
            ("a%b%c", "a-b-b-c"),
            ("%aab", "aaab"),
            ("", ""),
        ];
        for (pattern, text) in yes {
            assert!(matches(pattern, text), "{pattern:?} should match {text:?}");
        }
        let no = [
            ("abc", "abcd"),
            ("abc", "ABC"),
            ("a%", "ba"),
            ("a_c", "ac"),
            ("a_c", "abbc"),
            ("_", ""),
            ("%b%", "ac"),
            ("a%b%c", "a-c-b"),
            ("", "x"),
        ];
        for (pattern, text) in no {
            assert!(!matches(pattern, text), "{pattern:?} should not match {text:?}");
        }
    }

    #[test]
    fn backslash_makes_the_next_character_literal() {
        assert!(matches(r"50\%", "50%"));
        assert!(!matches(r"50\%", "500"));
        assert!(matches(r"a\_b", "a_b"));
        assert!(!matches(r"a\_b", "axb"));
        assert!(matches(r"a\\%", r"a\bc"));
        assert!(matches(r"\a", "a"));
        assert!(matches(r"x\", r"x\"));
    }

    #[test]
    fn dangling_escapes_and_literal_patterns() {
        assert!(has_dangling_escape(r"abc\"));
        assert!(has_dangling_escape(r"\\\"));
        assert!(!has_dangling_escape(r"abc\\"));
        assert!(!has_dangling_escape(r"\%"));
        assert!(!has_dangling_escape(""));
        assert_eq!(literal_text(r"a\%b\\"), Some(r"a%b\".to_string()));
        assert_eq!(literal_text("a%"), None);
        assert_eq!(literal_text("a_"), None);
        assert_eq!(literal_text(""), Some(String::new()));
    }

    #[test]
    fn pathological_patterns_finish() {
        let text = "a".repeat(2000);
        assert!(!matches(&format!("{}b", "%a".repeat(50)), &text));
        assert!(matches(&"%a".repeat(50), &text));
    }
}
