//! Why a filter expression was rejected, shown with a caret under the place.

/// The longest accepted filter expression, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 64 * 1024;
/// The deepest accepted nesting of parentheses and `not`.
pub const MAX_DEPTH: usize = 64;
/// The most values accepted in one `in [...]` list.
pub const MAX_LIST_LEN: usize = 10_000;

/// A filter expression that could not be parsed.
///
/// Positions are 0-based offsets in characters (not bytes) into `expression`; `Display` shows
/// them 1-based as a column, followed by the expression and a caret under that column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The text does not follow the grammar.
    #[error("{}", render(.message, .expression, .position))]
    Syntax { position: usize, message: String, expression: String },
    /// The text is longer than [`MAX_EXPRESSION_LEN`].
    #[error("filter expression is {len} bytes long; the limit is {max}")]
    TooLong { len: usize, max: usize },
    /// Parentheses and `not` nest deeper than [`MAX_DEPTH`].
    #[error("{}", render(&format!("nesting deeper than {max} levels"), .expression, .position))]
    TooDeep { position: usize, max: usize, expression: String },
    /// An `in [...]` list holds more than [`MAX_LIST_LEN`] values.
    #[error("{}", render(&format!("list longer than {max} values"), .expression, .position))]
    ListTooLong { position: usize, max: usize, expression: String },
}

impl FilterError {
    /// Where in the expression the problem is, as a 0-based character offset.
    pub fn position(&self) -> Option<usize> {
        match self {
            FilterError::Syntax { position, .. }
            | FilterError::TooDeep { position, .. }
            | FilterError::ListTooLong { position, .. } => Some(*position),
            FilterError::TooLong { .. } => None,
        }
    }
}

/// Characters of context shown before the caret when the expression is long.
const CONTEXT_BEFORE: usize = 40;
/// Characters shown in all when the expression is long.
const CONTEXT_WIDTH: usize = 80;

/// `message at column N`, then the expression (a window of it when long, control characters
/// blanked so the caret lines up) and a caret under the position.
fn render(message: &str, expression: &str, position: &usize) -> String {
    let position = *position;
    let chars: Vec<char> = expression.chars().collect();
    let start = if chars.len() > CONTEXT_WIDTH { position.saturating_sub(CONTEXT_BEFORE) } else { 0 };
    let end = (start + CONTEXT_WIDTH).min(chars.len());
    let start = start.min(end);

    let mut line = String::new();
    let mut caret = position - start.min(position);
    if start > 0 {
        line.push('…');
        caret += 1;
    }
    line.extend(chars[start..end].iter().map(|&c| if c.is_control() { ' ' } else { c }));
    if end < chars.len() {
        line.push('…');
    }
    format!("{message} at column {}\n  {line}\n  {}^", position + 1, " ".repeat(caret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(position: usize, message: &str, expression: &str) -> FilterError {
        FilterError::Syntax { position, message: message.into(), expression: expression.into() }
    }

    #[test]
    fn caret_sits_under_the_position() {
        let shown = syntax(13, "unexpected ')'", "year >= 2020 )").to_string();
        assert_eq!(shown, "unexpected ')' at column 14\n  year >= 2020 )\n               ^");
    }

    #[test]
    fn caret_may_sit_past_the_end() {
        let shown = syntax(7, "expected a value", "year >=").to_string();
        assert_eq!(shown, "expected a value at column 8\n  year >=\n         ^");
    }

    #[test]
    fn control_characters_are_blanked_and_wide_input_windowed() {
        let shown = syntax(3, "oops", "a\nb)").to_string();
        assert_eq!(shown, "oops at column 4\n  a b)\n     ^");

        let long = format!("{}){}", "x".repeat(100), "y".repeat(100));
        let shown = syntax(100, "unexpected ')'", &long).to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines[0], "unexpected ')' at column 101");
        let caret = lines[2].find('^').unwrap_or(0);
        assert_eq!(lines[1].chars().nth(caret), Some(')'));
        assert!(lines[1].starts_with("  …") && lines[1].ends_with('…'));
    }

    #[test]
    fn limits_name_themselves() {
        let deep = FilterError::TooDeep { position: 2, max: MAX_DEPTH, expression: "(((x".into() };
        assert!(deep.to_string().starts_with("nesting deeper than 64 levels at column 3"));
        assert_eq!(deep.position(), Some(2));
        let long = FilterError::TooLong { len: 70_000, max: MAX_EXPRESSION_LEN };
        assert_eq!(long.to_string(), "filter expression is 70000 bytes long; the limit is 65536");
        assert_eq!(long.position(), None);
    }
}
