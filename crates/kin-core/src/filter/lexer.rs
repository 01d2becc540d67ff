//! Splits a filter expression into tokens, one at a time, so that the parser reports the first
//! problem from the left.

use super::ast::CompareOp;
use super::error::FilterError;

/// A reserved word; `&&`, `||` and `!` lex as `And`, `Or` and `Not`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keyword {
    And,
    Or,
    Not,
    In,
    Like,
    Exists,
    True,
    False,
    Null,
}

impl Keyword {
    /// The keyword `word` spells: lowercase, or all uppercase as Milvus also accepts (`AND`,
    /// `LIKE`; `True` and `TRUE` too). `null` is kin's own and lowercase only.
    pub(super) fn from_word(word: &str) -> Option<Keyword> {
        Some(match word {
            "and" | "AND" => Keyword::And,
            "or" | "OR" => Keyword::Or,
            "not" | "NOT" => Keyword::Not,
            "in" | "IN" => Keyword::In,
            "like" | "LIKE" => Keyword::Like,
            "exists" | "EXISTS" => Keyword::Exists,
            "true" | "True" | "TRUE" => Keyword::True,
            "false" | "False" | "FALSE" => Keyword::False,
            "null" => Keyword::Null,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    /// A bare field name.
    Ident(String),
    /// A field name in backquotes, escapes resolved.
    Quoted(String),
    /// A string literal, escapes resolved.
    Str(String),
    Int(i64),
    Float(f64),
    Keyword(Keyword),
    Op(CompareOp),
    Dot,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Eof,
}

/// A token and the characters `[pos, end)` it was read from.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub(super) kind: TokenKind,
    pub(super) pos: usize,
    pub(super) end: usize,
}

pub(super) fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

pub(super) fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

pub(super) struct Lexer<'a> {
    source: &'a str,
    chars: Vec<char>,
    pos: usize,
    /// The next string is a `like` pattern: `\%` and `\_` are kept, backslash included, for the
    /// pattern to read as literal `%` and `_` (as Milvus does); elsewhere they are unknown escapes.
    like_pattern: bool,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(source: &'a str) -> Self {
        Lexer { source, chars: source.chars().collect(), pos: 0, like_pattern: false }
    }

    /// Whether the next token is read as a `like` pattern (see the `like_pattern` field).
    pub(super) fn set_like_pattern(&mut self, on: bool) {
        self.like_pattern = on;
    }

    /// A syntax error at character `position`, carrying the whole expression.
    pub(super) fn error(&self, position: usize, message: impl Into<String>) -> FilterError {
        FilterError::Syntax { position, message: message.into(), expression: self.source.to_string() }
    }

    /// The expression, for errors that are not plain syntax errors.
    pub(super) fn source(&self) -> &'a str {
        self.source
    }

    /// The source characters `[start, end)`, clamped to the input.
    pub(super) fn text(&self, start: usize, end: usize) -> String {
        let end = end.min(self.chars.len());
        self.chars[start.min(end)..end].iter().collect()
    }

    pub(super) fn next_token(&mut self) -> Result<Token, FilterError> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Token { kind: TokenKind::Eof, pos: start, end: start });
        };
        let kind = match c {
            '(' | ')' | '[' | ']' | ',' | '.' => {
                self.pos += 1;
                match c {
                    '(' => TokenKind::LParen,
                    ')' => TokenKind::RParen,
                    '[' => TokenKind::LBracket,
                    ']' => TokenKind::RBracket,
                    ',' => TokenKind::Comma,
                    _ => TokenKind::Dot,
                }
            }
            '=' | '!' | '<' | '>' | '&' | '|' => self.lex_operator(c)?,
            '"' | '\'' => TokenKind::Str(self.lex_quoted(c)?),
            '`' => TokenKind::Quoted(self.lex_quoted(c)?),
            '-' | '0'..='9' => self.lex_number()?,
            c if is_ident_start(c) => self.lex_word(),
            other => return Err(self.error(start, format!("unexpected character {other:?}"))),
        };
        Ok(Token { kind, pos: start, end: self.pos })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn lex_operator(&mut self, first: char) -> Result<TokenKind, FilterError> {
        let start = self.pos;
        let second = self.peek_at(1);
        let (kind, len) = match (first, second) {
            ('=', Some('=')) => (TokenKind::Op(CompareOp::Eq), 2),
            ('!', Some('=')) => (TokenKind::Op(CompareOp::Ne), 2),
            ('<', Some('=')) => (TokenKind::Op(CompareOp::Le), 2),
            ('>', Some('=')) => (TokenKind::Op(CompareOp::Ge), 2),
            ('&', Some('&')) => (TokenKind::Keyword(Keyword::And), 2),
            ('|', Some('|')) => (TokenKind::Keyword(Keyword::Or), 2),
            ('!', _) => (TokenKind::Keyword(Keyword::Not), 1),
            ('<', Some('>')) => return Err(self.error(start, "unknown operator '<>'; use '!='")),
            ('<', _) => (TokenKind::Op(CompareOp::Lt), 1),
            ('>', _) => (TokenKind::Op(CompareOp::Gt), 1),
            ('=', _) => return Err(self.error(start, "unknown operator '='; use '==' to test equality")),
            ('&', _) => return Err(self.error(start, "unknown operator '&'; use '&&' or 'and'")),
            _ => return Err(self.error(start, "unknown operator '|'; use '||' or 'or'")),
        };
        self.pos += len;
        Ok(kind)
    }

    fn lex_word(&mut self) -> TokenKind {
        let start = self.pos;
        while self.peek().is_some_and(is_ident_continue) {
            self.pos += 1;
        }
        let word = self.text(start, self.pos);
        match Keyword::from_word(&word) {
            Some(keyword) => TokenKind::Keyword(keyword),
            None => TokenKind::Ident(word),
        }
    }

    /// `-?digits(.digits)?([eE][+-]?digits)?`, not followed by a letter, digit, `_` or `.`.
    fn lex_number(&mut self) -> Result<TokenKind, FilterError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        let mut well_formed = self.eat_digits();
        let mut is_float = false;
        if well_formed && self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            self.eat_digits();
            is_float = true;
        }
        if well_formed && matches!(self.peek(), Some('e' | 'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            well_formed = self.eat_digits();
            is_float = true;
        }
        if !well_formed || self.peek().is_some_and(|c| is_ident_continue(c) || c == '.') {
            while self.peek().is_some_and(|c| is_ident_continue(c) || c == '.') {
                self.pos += 1;
            }
            return Err(self.error(start, format!("invalid number '{}'", self.text(start, self.pos))));
        }

        let text = self.text(start, self.pos);
        if is_float {
            match text.parse::<f64>() {
                Ok(value) if value.is_finite() => Ok(TokenKind::Float(value)),
                _ => Err(self.error(start, format!("number {text} is out of range"))),
            }
        } else {
            text.parse::<i64>()
                .map(TokenKind::Int)
                .map_err(|_| self.error(start, format!("integer {text} is out of range for a 64-bit signed integer")))
        }
    }

    /// Consumes ASCII digits; true when there was at least one.
    fn eat_digits(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// A string or backquoted name starting at the opening `quote`; returns its unescaped content.
    fn lex_quoted(&mut self, quote: char) -> Result<String, FilterError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                let what = if quote == '`' { "quoted field name" } else { "string" };
                return Err(self.error(start, format!("unterminated {what}")));
            };
            self.pos += 1;
            if c == quote {
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let escape = self.pos - 1;
            let resolved = match self.peek() {
                Some('n') => '\n',
                Some('t') => '\t',
                Some('r') => '\r',
                Some('0') => '\0',
                Some('b') => '\u{8}',
                Some('f') => '\u{c}',
                Some(c @ ('\\' | '/' | '"' | '\'' | '`')) => c,
                Some(c @ ('%' | '_')) if self.like_pattern && quote != '`' => {
                    out.push('\\');
                    c
                }
                Some('u') => {
                    self.pos += 1;
                    out.push(self.lex_unicode_escape(escape)?);
                    continue;
                }
                Some(other) => return Err(self.error(escape, format!("unknown escape '\\{other}'"))),
                None => continue,
            };
            self.pos += 1;
            out.push(resolved);
        }
    }

    /// After `\u`: four hex digits, or a surrogate pair written as two `\uXXXX`.
    fn lex_unicode_escape(&mut self, escape: usize) -> Result<char, FilterError> {
        let high = self.hex4(escape)?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if self.peek() != Some('\\') || self.peek_at(1) != Some('u') {
                return Err(self.error(escape, "unpaired surrogate in unicode escape"));
            }
            self.pos += 2;
            let low = self.hex4(escape)?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.error(escape, "unpaired surrogate in unicode escape"));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.error(escape, "unpaired surrogate in unicode escape"))
    }

    fn hex4(&mut self, escape: usize) -> Result<u32, FilterError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|c| c.to_digit(16));
            let Some(digit) = digit else {
                return Err(self.error(escape, "invalid unicode escape: expected four hex digits after '\\u'"));
            };
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        let mut lexer = Lexer::new(source);
        let mut out = Vec::new();
        loop {
            match lexer.next_token() {
                Ok(Token { kind: TokenKind::Eof, .. }) => return out,
                Ok(token) => out.push(token.kind),
                Err(e) => panic!("{source:?}: {e}"),
            }
        }
    }

    fn error_at(source: &str) -> (usize, String) {
        let mut lexer = Lexer::new(source);
        loop {
            match lexer.next_token() {
                Ok(Token { kind: TokenKind::Eof, .. }) => panic!("{source:?} lexed cleanly"),
                Ok(_) => {}
                Err(FilterError::Syntax { position, message, .. }) => return (position, message),
                Err(other) => panic!("{source:?}: {other}"),
            }
        }
    }

    #[test]
    fn operators_and_punctuation() {
        use TokenKind::*;
        assert_eq!(
            kinds("== != < <= > >= && || ! ( ) [ ] , ."),
            vec![
                Op(CompareOp::Eq),
                Op(CompareOp::Ne),
                Op(CompareOp::Lt),
                Op(CompareOp::Le),
                Op(CompareOp::Gt),
                Op(CompareOp::Ge),
                Keyword(super::Keyword::And),
                Keyword(super::Keyword::Or),
                Keyword(super::Keyword::Not),
                LParen,
                RParen,
                LBracket,
                RBracket,
                Comma,
                Dot
            ]
        );
        assert_eq!(kinds("a<=1"), vec![Ident("a".into()), Op(CompareOp::Le), Int(1)]);
    }

    #[test]
    fn words_keywords_and_quoted_names() {
        use TokenKind::*;
        assert_eq!(
            kinds("not_a and AND And _x9 `weird key`.é"),
            vec![
                Ident("not_a".into()),
                Keyword(super::Keyword::And),
                Keyword(super::Keyword::And),
                Ident("And".into()),
                Ident("_x9".into()),
                Quoted("weird key".into()),
                Dot,
                Ident("é".into())
            ]
        );
    }

    #[test]
    fn numbers() {
        use TokenKind::*;
        assert_eq!(
            kinds("0 -7 3.25 -0.5 1e3 2E-2 -1.5e+2 9223372036854775807"),
            vec![Int(0), Int(-7), Float(3.25), Float(-0.5), Float(1000.0), Float(0.02), Float(-150.0), Int(i64::MAX)]
        );
        assert_eq!(kinds("-9223372036854775808"), vec![Int(i64::MIN)]);
    }

    #[test]
    fn string_escapes() {
        use TokenKind::*;
        assert_eq!(kinds(r#""a\"b\\c\n\t""#), vec![Str("a\"b\\c\n\t".into())]);
        assert_eq!(kinds(r#"'it\'s' "it's""#), vec![Str("it's".into()), Str("it's".into())]);
        assert_eq!(kinds(r#""\u00e9\ud83d\ude00\/""#), vec![Str("é😀/".into())]);
        assert_eq!(kinds(r"`a\`b`"), vec![Quoted("a`b".into())]);
        assert_eq!(kinds("\"multi\nline ✓\""), vec![Str("multi\nline ✓".into())]);
    }

    #[test]
    fn uppercase_keywords_as_milvus_spells_them() {
        use super::Keyword as K;
        let words = "OR NOT IN LIKE like EXISTS True TRUE False FALSE";
        let expected = [K::Or, K::Not, K::In, K::Like, K::Like, K::Exists, K::True, K::True, K::False, K::False];
        assert_eq!(kinds(words), expected.map(TokenKind::Keyword).to_vec());
        assert_eq!(kinds("NULL Null tRUE"), ["NULL", "Null", "tRUE"].map(|w| TokenKind::Ident(w.into())).to_vec());
    }

    #[test]
    fn like_patterns_keep_escaped_wildcards() {
        let mut lexer = Lexer::new(r#""50\%" "50\%""#);
        let mut read = |like: bool| {
            lexer.set_like_pattern(like);
            lexer.next_token().map(|token| token.kind)
        };
        assert_eq!(read(true), Ok(TokenKind::Str(r"50\%".into())));
        assert!(read(false).is_err());
        assert_eq!(error_at(r#"x == "a\_""#), (7, "unknown escape '\\_'".into()));
    }

    #[test]
    fn malformed_tokens_point_at_their_start() {
        assert_eq!(error_at("x == \"abc"), (5, "unterminated string".into()));
        assert_eq!(error_at("`abc"), (0, "unterminated quoted field name".into()));
        assert_eq!(error_at(r#"x == "a\qb""#), (7, "unknown escape '\\q'".into()));
        assert_eq!(error_at(r#""\u12""#).0, 1);
        assert_eq!(error_at(r#""\ud800x""#).0, 1);
        assert_eq!(error_at("x = 1"), (2, "unknown operator '='; use '==' to test equality".into()));
        assert_eq!(error_at("x <> 1").0, 2);
        assert_eq!(error_at("x & y").0, 2);
        assert_eq!(error_at("x | y").0, 2);
        assert_eq!(error_at("x @ 1"), (2, "unexpected character '@'".into()));
        assert_eq!(error_at("1e"), (0, "invalid number '1e'".into()));
        assert_eq!(error_at("12abc"), (0, "invalid number '12abc'".into()));
        assert_eq!(error_at("1.2.3"), (0, "invalid number '1.2.3'".into()));
        assert_eq!(error_at("- 1"), (0, "invalid number '-'".into()));
        assert_eq!(error_at("5."), (0, "invalid number '5.'".into()));
        assert_eq!(error_at("1e999").1, "number 1e999 is out of range");
        assert_eq!(error_at("99999999999999999999").0, 0);
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let mut lexer = Lexer::new("é == @");
        let mut last = lexer.next_token();
        while let Ok(token) = &last {
            if token.kind == TokenKind::Eof {
                break;
            }
            last = lexer.next_token();
        }
        assert_eq!(last.err().and_then(|e| e.position()), Some(5));
    }
}
