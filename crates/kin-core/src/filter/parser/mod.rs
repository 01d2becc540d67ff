//! Recursive descent over the tokens, one level per precedence: `or` < `and` < `not` < atoms.
//! Paths are read in `path.rs`, `exists(...)` and the `array_*` functions in `calls.rs`.
//!
//! ```text
//! expr      := or
//! or        := and (("or" | "||") and)*
//! and       := unary (("and" | "&&") unary)*
//! unary     := ("not" | "!") unary | primary
//! primary   := "(" expr ")" | call | predicate
//! call      := "exists" "(" path ")"
//!            | ("array_contains" | "json_contains") "(" path "," value ")"
//!            | ("array_contains_all" | "array_contains_any" | "json_…") "(" path "," list ")"
//!            | "array_length" "(" path ")" cmp_op integer
//! predicate := path (cmp_op value | "not"? "in" list | "not"? "like" string)
//! path      := name ("." name | "[" (string | integer) "]")*    name := ident | `backquoted`
//! list      := "[" (value ("," value)* ","?)? "]"
//! value     := string | number | "true" | "false" | "null"
//! ```
//!
//! Keywords are lowercase or all uppercase (`AND`, `LIKE`), function names too (`ARRAY_LENGTH`).

mod calls;
mod path;
mod values;

use super::ast::{Expr, FieldPath};
use super::error::{FilterError, MAX_DEPTH, MAX_EXPRESSION_LEN};
use super::lexer::{Keyword, Lexer, Token, TokenKind};
use super::like;
use calls::Function;

/// Parses a whole expression; see the [module documentation](super) for the language.
pub(super) fn parse(source: &str) -> Result<Expr, FilterError> {
    if source.len() > MAX_EXPRESSION_LEN {
        return Err(FilterError::TooLong { len: source.len(), max: MAX_EXPRESSION_LEN });
    }
    let mut lexer = Lexer::new(source);
    let current = lexer.next_token()?;
    let mut parser = Parser { lexer, current, depth: 0 };
    if parser.current.kind == TokenKind::Eof {
        return Err(parser.lexer.error(0, "empty filter expression"));
    }
    let expr = parser.parse_or()?;
    if parser.current.kind != TokenKind::Eof {
        let message = format!("unexpected {}{}", parser.describe(&parser.current), parser.keyword_hint());
        return Err(parser.lexer.error(parser.current.pos, message));
    }
    Ok(expr)
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The next token, not yet consumed.
    current: Token,
    /// Open parentheses and `not`s around the current position.
    depth: usize,
}

impl Parser<'_> {
    /// Consumes the current token and returns it.
    fn advance(&mut self) -> Result<Token, FilterError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.current, next))
    }

    fn at_keyword(&self, keyword: Keyword) -> bool {
        self.current.kind == TokenKind::Keyword(keyword)
    }

    fn error<T>(&self, position: usize, message: String) -> Result<T, FilterError> {
        Err(self.lexer.error(position, message))
    }

    /// An error at the current token: "expected {what}, found {current}".
    fn expected<T>(&self, what: &str) -> Result<T, FilterError> {
        self.error(self.current.pos, format!("expected {what}, found {}", self.describe(&self.current)))
    }

    fn enter(&mut self, position: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let expression = self.lexer.source().to_string();
            return Err(FilterError::TooDeep { position, max: MAX_DEPTH, expression });
        }
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Expr, FilterError> {
        let mut operands = vec![self.parse_and()?];
        while self.at_keyword(Keyword::Or) {
            self.advance()?;
            operands.push(self.parse_and()?);
        }
        Ok(collapse(operands, Expr::Or))
    }

    fn parse_and(&mut self) -> Result<Expr, FilterError> {
        let mut operands = vec![self.parse_unary()?];
        while self.at_keyword(Keyword::And) {
            self.advance()?;
            operands.push(self.parse_unary()?);
        }
        Ok(collapse(operands, Expr::And))
    }

    fn parse_unary(&mut self) -> Result<Expr, FilterError> {
        if !self.at_keyword(Keyword::Not) {
            return self.parse_primary();
        }
        let not = self.advance()?;
        self.enter(not.pos)?;
        let operand = self.parse_unary()?;
        self.depth -= 1;
        Ok(Expr::Not(Box::new(operand)))
    }

    fn parse_primary(&mut self) -> Result<Expr, FilterError> {
        match &self.current.kind {
            TokenKind::LParen => {
                let open = self.advance()?;
                self.enter(open.pos)?;
                let inner = self.parse_or()?;
                self.close(&open, "'('")?;
                self.depth -= 1;
                Ok(inner)
            }
            TokenKind::Keyword(Keyword::Exists) => self.parse_exists(),
            TokenKind::Ident(word) => {
                let start = self.current.pos;
                let Some(function) = Function::named(word) else {
                    let path = self.parse_path()?;
                    return self.parse_predicate(path, start);
                };
                // A function name is a field name too unless a '(' follows it.
                let name = self.advance()?;
                if self.current.kind == TokenKind::LParen {
                    return self.parse_call(function, &name);
                }
                let path = self.parse_path_steps(vec![self.lexer.text(name.pos, name.end)])?;
                self.parse_predicate(path, start)
            }
            TokenKind::Quoted(_) => {
                let start = self.current.pos;
                let path = self.parse_path()?;
                self.parse_predicate(path, start)
            }
            _ => self.expected("a field name, 'not', 'exists(' or '('"),
        }
    }

    /// Consumes the `)` matching `open`.
    fn close(&mut self, open: &Token, what: &str) -> Result<(), FilterError> {
        if self.current.kind != TokenKind::RParen {
            return self.expected(&format!("')' to close the {what} at column {}", open.pos + 1));
        }
        self.advance()?;
        Ok(())
    }

    /// What follows a field path that starts at character `start`.
    fn parse_predicate(&mut self, path: FieldPath, start: usize) -> Result<Expr, FilterError> {
        match self.current.kind {
            TokenKind::Op(op) => {
                let op_token = self.advance()?;
                let Some(value) = self.take_literal()? else {
                    let after = self.lexer.text(op_token.pos, op_token.end);
                    let message = format!(
                        "expected a value (string, number, true, false or null) after '{after}', found {}{}",
                        self.describe(&self.current),
                        self.keyword_hint()
                    );
                    return self.error(self.current.pos, message);
                };
                Ok(Expr::Compare { path, op, value })
            }
            TokenKind::Keyword(Keyword::In) => {
                self.advance()?;
                Ok(Expr::In { path, values: self.parse_list()?, negated: false })
            }
            TokenKind::Keyword(Keyword::Like) => self.parse_like(path),
            TokenKind::Keyword(Keyword::Not) => {
                self.advance()?;
                if self.at_keyword(Keyword::Like) {
                    return Ok(self.parse_like(path)?.negate());
                }
                if !self.at_keyword(Keyword::In) {
                    return self.expected("'in' or 'like' after 'not'");
                }
                self.advance()?;
                Ok(Expr::In { path, values: self.parse_list()?, negated: true })
            }
            TokenKind::LParen if path.len() == 1 => {
                let message = format!("unknown function '{}'; the functions are {}", path[0], Function::NAMES);
                self.error(start, message)
            }
            _ => {
                let message = format!(
                    "expected a comparison (==, !=, <, <=, >, >=), 'in', 'not in', 'like' or 'not like' after the \
                     field name, found {}{}",
                    self.describe(&self.current),
                    self.keyword_hint()
                );
                self.error(self.current.pos, message)
            }
        }
    }

    /// `like "pattern"`, at `like`; the pattern is read with `\%` and `\_` kept as escapes.
    fn parse_like(&mut self, path: FieldPath) -> Result<Expr, FilterError> {
        self.lexer.set_like_pattern(true);
        let like = self.advance();
        self.lexer.set_like_pattern(false);
        let like = like?;
        let pattern = match &mut self.current.kind {
            TokenKind::Str(pattern) => std::mem::take(pattern),
            _ => {
                let after = self.lexer.text(like.pos, like.end);
                return self.expected(&format!("a pattern string after '{after}'"));
            }
        };
        if like::has_dangling_escape(&pattern) {
            let message = r#"the pattern ends with a '\' that escapes nothing; "\\\\" matches a backslash"#;
            return self.error(self.current.pos, message.to_string());
        }
        self.advance()?;
        Ok(Expr::Like { path, pattern })
    }

    /// How a token reads in a message: `')'`, `string "abc"`, `number 12`, `end of input`.
    fn describe(&self, token: &Token) -> String {
        const SHOWN: usize = 40;
        let mut text = self.lexer.text(token.pos, token.end.min(token.pos + SHOWN));
        if token.end - token.pos > SHOWN {
            text.push('…');
        }
        match token.kind {
            TokenKind::Eof => "end of input".to_string(),
            TokenKind::Str(_) => format!("string {text}"),
            TokenKind::Int(_) | TokenKind::Float(_) => format!("number {text}"),
            TokenKind::Quoted(_) => format!("field name {text}"),
            TokenKind::Ident(_) => format!("field name '{text}'"),
            _ => format!("'{text}'"),
        }
    }

    /// "; did you mean 'and'?" when the current token is `And` or alike: keywords are lowercase or
    /// all uppercase.
    fn keyword_hint(&self) -> String {
        match &self.current.kind {
            TokenKind::Ident(word) => match Keyword::from_word(&word.to_lowercase()) {
                Some(_) => format!("; did you mean '{}'?", word.to_lowercase()),
                None => String::new(),
            },
            _ => String::new(),
        }
    }
}

/// One operand stands for itself; several are joined by `make`.
fn collapse(mut operands: Vec<Expr>, make: fn(Vec<Expr>) -> Expr) -> Expr {
    if operands.len() == 1 {
        if let Some(only) = operands.pop() {
            return only;
        }
    }
    make(operands)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::ast::{CompareOp, Literal};
    use crate::filter::error::MAX_LIST_LEN;

    fn ok(source: &str) -> Expr {
        match parse(source) {
            Ok(expr) => expr,
            Err(e) => panic!("{source:?} did not parse:\n{e}"),
        }
    }

    fn cmp(name: &str, op: CompareOp, value: impl Into<Literal>) -> Expr {
        Expr::compare(&[name], op, value)
    }

    fn eq(name: &str, value: i64) -> Expr {
        cmp(name, CompareOp::Eq, value)
    }

    #[test]
    fn comparisons() {
        assert_eq!(ok("year >= 2020"), cmp("year", CompareOp::Ge, 2020_i64));
        assert_eq!(ok("a==1"), eq("a", 1));
        assert_eq!(ok("a != 'x'"), cmp("a", CompareOp::Ne, "x"));
        assert_eq!(ok("a<1.5"), cmp("a", CompareOp::Lt, 1.5));
        assert_eq!(ok("a <= -2"), cmp("a", CompareOp::Le, -2_i64));
        assert_eq!(ok("a > true"), cmp("a", CompareOp::Gt, true));
        assert_eq!(ok("a == null"), cmp("a", CompareOp::Eq, Literal::Null));
        assert_eq!(ok("  a\n==\tfalse  "), cmp("a", CompareOp::Eq, false));
    }

    #[test]
    fn numbers() {
        let value = |source: &str| match ok(&format!("x == {source}")) {
            Expr::Compare { value, .. } => value,
            other => panic!("{other:?}"),
        };
        assert_eq!(value("0"), Literal::Int(0));
        assert_eq!(value("-0"), Literal::Int(0));
        assert_eq!(value("007"), Literal::Int(7));
        assert_eq!(value("-9223372036854775808"), Literal::Int(i64::MIN));
        assert_eq!(value("0.25"), Literal::Float(0.25));
        assert_eq!(value("-1.5e3"), Literal::Float(-1500.0));
        assert_eq!(value("1E-2"), Literal::Float(0.01));
        assert_eq!(value("2e+2"), Literal::Float(200.0));
        assert_eq!(value("1e-400"), Literal::Float(0.0));
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(ok(r#"s == "a \"q\" \\ \n""#), cmp("s", CompareOp::Eq, "a \"q\" \\ \n"));
        assert_eq!(ok(r"s == 'don\'t'"), cmp("s", CompareOp::Eq, "don't"));
        assert_eq!(ok(r#"s == 'say "hi"'"#), cmp("s", CompareOp::Eq, "say \"hi\""));
        assert_eq!(ok(r#"s == "\u00e9t\u00e9 \ud83e\udd80""#), cmp("s", CompareOp::Eq, "été 🦀"));
        assert_eq!(ok(r#"s == """#), cmp("s", CompareOp::Eq, ""));
    }

    #[test]
    fn membership_and_existence() {
        assert_eq!(
            ok("t in [1, 'a', null, 2.5]"),
            Expr::is_in(&["t"], [1_i64.into(), "a".into(), Literal::Null, 2.5.into()])
        );
        assert_eq!(ok("t not in []"), Expr::not_in(&["t"], []));
        assert_eq!(ok("t in [1,]"), Expr::is_in(&["t"], [1_i64.into()]));
        assert_eq!(ok("!exists(a)"), Expr::exists(&["a"]).negate());
    }

    #[test]
    fn like_and_not_like() {
        assert_eq!(ok("name like 'Prod%'"), Expr::like(&["name"], "Prod%"));
        assert_eq!(ok(r#"m["n"] LIKE "_a\%""#), Expr::like(&["m", "n"], r"_a\%"));
        assert_eq!(ok(r#"n like "50\%" and n like "50\\%""#), ok(r#"n like "50\%" and n like "50\%""#));
        assert_eq!(ok("n not like 'a%'"), Expr::like(&["n"], "a%").negate());
        assert_eq!(ok("n NOT LIKE 'a%'"), ok("not (n like 'a%')"));
    }

    #[test]
    fn uppercase_keywords() {
        assert_eq!(ok("a == 1 AND b == 2 OR NOT c == 3"), ok("a == 1 and b == 2 or not c == 3"));
        assert_eq!(ok("t IN [1] && u NOT IN [TRUE, False]"), ok("t in [1] and u not in [true, false]"));
    }

    #[test]
    fn precedence_not_and_or() {
        let (a, b, c, d) = (eq("a", 1), eq("b", 2), eq("c", 3), eq("d", 4));
        assert_eq!(
            ok("a == 1 or b == 2 and not c == 3"),
            Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone().negate()])])
        );
        assert_eq!(
            ok("a == 1 and b == 2 or c == 3 and d == 4"),
            Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), Expr::And(vec![c.clone(), d.clone()])])
        );
        assert_eq!(ok("a == 1 && b == 2 || c == 3"), ok("a == 1 and b == 2 or c == 3"));
        assert_eq!(ok("a == 1 and b == 2 and c == 3"), Expr::And(vec![a.clone(), b.clone(), c.clone()]));
        assert_eq!(ok("a == 1 or b == 2 or c == 3"), Expr::Or(vec![a.clone(), b.clone(), c.clone()]));
        assert_eq!(ok("not not a == 1"), a.clone().negate().negate());
        assert_eq!(ok("!!a == 1"), a.clone().negate().negate());
        assert_eq!(ok("not a == 1 and b == 2"), Expr::And(vec![a.clone().negate(), b.clone()]));
    }

    #[test]
    fn parentheses_group_and_nest() {
        let (a, b, c) = (eq("a", 1), eq("b", 2), eq("c", 3));
        assert_eq!(
            ok("(a == 1 or b == 2) and c == 3"),
            Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(ok("not (a == 1 or b == 2)"), Expr::Or(vec![a.clone(), b.clone()]).negate());
        assert_eq!(ok("((((a == 1))))"), a.clone());
        assert_eq!(
            ok("a == 1 and (b == 2 and c == 3)"),
            Expr::And(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
        );
        assert_eq!(ok("(a == 1 or (b == 2 and (not c == 3)))"), Expr::Or(vec![a, Expr::And(vec![b, c.negate()])]));
    }

    #[test]
    fn depth_and_list_limits() {
        let nested = |n: usize| format!("{}a == 1{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        assert!(matches!(parse(&nested(MAX_DEPTH + 1)), Err(FilterError::TooDeep { position: 64, .. })));
        assert!(parse(&format!("{}a == 1", "not ".repeat(MAX_DEPTH))).is_ok());
        assert!(matches!(parse(&"!".repeat(5000)), Err(FilterError::TooDeep { position: 64, .. })));

        let list = |n: usize| format!("a in [{}]", vec!["1"; n].join(","));
        assert!(parse(&list(MAX_LIST_LEN)).is_ok());
        let err = parse(&list(MAX_LIST_LEN + 1));
        assert!(matches!(err, Err(FilterError::ListTooLong { position, .. }) if position == 6 + 2 * MAX_LIST_LEN));

        let long = format!("a == \"{}\"", "x".repeat(MAX_EXPRESSION_LEN));
        assert!(matches!(parse(&long), Err(FilterError::TooLong { .. })));
    }

    #[test]
    fn long_flat_chains_do_not_nest() {
        let chain = vec!["a == 1"; 5000].join(" and ");
        match ok(&chain) {
            Expr::And(operands) => assert_eq!(operands.len(), 5000),
            other => panic!("{other:?}"),
        }
    }
}
