//! Recursive descent over the tokens, one level per precedence: `or` < `and` < `not` < atoms.
//!
//! ```text
//! expr      := or
//! or        := and (("or" | "||") and)*
//! and       := unary (("and" | "&&") unary)*
//! unary     := ("not" | "!") unary | primary
//! primary   := "(" expr ")" | "exists" "(" path ")" | predicate
//! predicate := path (cmp_op value | "in" list | "not" "in" list)
//! path      := name ("." name)*          name := ident | `backquoted`
//! list      := "[" (value ("," value)* ","?)? "]"
//! value     := string | number | "true" | "false" | "null"
//! ```

use super::ast::{Expr, FieldPath, Literal};
use super::error::{FilterError, MAX_DEPTH, MAX_EXPRESSION_LEN, MAX_LIST_LEN};
use super::lexer::{Keyword, Lexer, Token, TokenKind};

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
        match self.current.kind {
            TokenKind::LParen => {
                let open = self.advance()?;
                self.enter(open.pos)?;
                let inner = self.parse_or()?;
                self.close(&open, "'('")?;
                self.depth -= 1;
                Ok(inner)
            }
            TokenKind::Keyword(Keyword::Exists) => {
                self.advance()?;
                if self.current.kind != TokenKind::LParen {
                    return self.expected("'(' after 'exists'");
                }
                let open = self.advance()?;
                let path = self.parse_path()?;
                self.close(&open, "'exists('")?;
                Ok(Expr::Exists { path })
            }
            TokenKind::Ident(_) | TokenKind::Quoted(_) => self.parse_predicate(),
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

    fn parse_predicate(&mut self) -> Result<Expr, FilterError> {
        let path = self.parse_path()?;
        match self.current.kind {
            TokenKind::Op(op) => {
                let op_token = self.advance()?;
                let Some(value) = self.take_literal()? else {
                    let after = self.lexer.text(op_token.pos, op_token.end);
                    return self.expected(&format!("a value (string, number, true, false or null) after '{after}'"));
                };
                Ok(Expr::Compare { path, op, value })
            }
            TokenKind::Keyword(Keyword::In) => {
                self.advance()?;
                Ok(Expr::In { path, values: self.parse_list()?, negated: false })
            }
            TokenKind::Keyword(Keyword::Not) => {
                self.advance()?;
                if !self.at_keyword(Keyword::In) {
                    return self.expected("'in' after 'not'");
                }
                self.advance()?;
                Ok(Expr::In { path, values: self.parse_list()?, negated: true })
            }
            _ => {
                let message = format!(
                    "expected a comparison (==, !=, <, <=, >, >=), 'in' or 'not in' after the field name, found {}{}",
                    self.describe(&self.current),
                    self.keyword_hint()
                );
                self.error(self.current.pos, message)
            }
        }
    }

    fn parse_path(&mut self) -> Result<FieldPath, FilterError> {
        let mut path = vec![self.parse_name(false)?];
        while self.current.kind == TokenKind::Dot {
            self.advance()?;
            path.push(self.parse_name(true)?);
        }
        Ok(path)
    }

    /// One key of a path; after a dot, reserved words are keys too (`meta.in`).
    fn parse_name(&mut self, after_dot: bool) -> Result<String, FilterError> {
        let is_name = match self.current.kind {
            TokenKind::Ident(_) | TokenKind::Quoted(_) => true,
            TokenKind::Keyword(_) => after_dot,
            _ => false,
        };
        if !is_name {
            return self.expected(if after_dot { "a field name after '.'" } else { "a field name" });
        }
        let token = self.advance()?;
        Ok(match token.kind {
            TokenKind::Ident(name) | TokenKind::Quoted(name) => name,
            _ => self.lexer.text(token.pos, token.end),
        })
    }

    /// `[v, ...]`, after `in`.
    fn parse_list(&mut self) -> Result<Vec<Literal>, FilterError> {
        if self.current.kind != TokenKind::LBracket {
            return self.expected("'[' to start the list");
        }
        let open = self.advance()?;
        let mut values = Vec::new();
        loop {
            if self.current.kind == TokenKind::RBracket {
                self.advance()?;
                return Ok(values);
            }
            let position = self.current.pos;
            let Some(value) = self.take_literal()? else {
                return self.expected("a value or ']'");
            };
            if values.len() == MAX_LIST_LEN {
                let expression = self.lexer.source().to_string();
                return Err(FilterError::ListTooLong { position, max: MAX_LIST_LEN, expression });
            }
            values.push(value);
            match self.current.kind {
                TokenKind::Comma => {
                    self.advance()?;
                }
                TokenKind::RBracket => {}
                _ => return self.expected(&format!("',' or ']' in the list opened at column {}", open.pos + 1)),
            }
        }
    }

    /// Consumes the current token when it is a value.
    fn take_literal(&mut self) -> Result<Option<Literal>, FilterError> {
        let is_literal = matches!(
            self.current.kind,
            TokenKind::Str(_)
                | TokenKind::Int(_)
                | TokenKind::Float(_)
                | TokenKind::Keyword(Keyword::True | Keyword::False | Keyword::Null)
        );
        if !is_literal {
            return Ok(None);
        }
        Ok(match self.advance()?.kind {
            TokenKind::Str(s) => Some(Literal::String(s)),
            TokenKind::Int(i) => Some(Literal::Int(i)),
            TokenKind::Float(f) => Some(Literal::Float(f)),
            TokenKind::Keyword(Keyword::True) => Some(Literal::Bool(true)),
            TokenKind::Keyword(Keyword::False) => Some(Literal::Bool(false)),
            _ => Some(Literal::Null),
        })
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

    /// "; keywords are lowercase: did you mean 'and'?" when the current token is `AND` or alike.
    fn keyword_hint(&self) -> String {
        match &self.current.kind {
            TokenKind::Ident(word) => match Keyword::from_word(&word.to_lowercase()) {
                Some(_) => format!("; keywords are lowercase: did you mean '{}'?", word.to_lowercase()),
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
    use crate::filter::ast::CompareOp;

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
    fn paths() {
        let path = |source: &str| match ok(&format!("{source} == 1")) {
            Expr::Compare { path, .. } => path,
            other => panic!("{other:?}"),
        };
        assert_eq!(path("meta.author.name"), ["meta", "author", "name"]);
        assert_eq!(path("`weird key`.x"), ["weird key", "x"]);
        assert_eq!(path("a . b"), ["a", "b"]);
        assert_eq!(path("meta.in.not.exists"), ["meta", "in", "not", "exists"]);
        assert_eq!(path(r"`a\`b`.``.`in`"), ["a`b", "", "in"]);
        assert_eq!(path("_x.é9.日本"), ["_x", "é9", "日本"]);
        assert_eq!(path("AND"), ["AND"]);
    }

    #[test]
    fn membership_and_existence() {
        assert_eq!(
            ok("t in [1, 'a', null, 2.5]"),
            Expr::is_in(&["t"], [1_i64.into(), "a".into(), Literal::Null, 2.5.into()])
        );
        assert_eq!(ok("t not in []"), Expr::not_in(&["t"], []));
        assert_eq!(ok("t in [1,]"), Expr::is_in(&["t"], [1_i64.into()]));
        assert_eq!(ok("exists(a.b)"), Expr::exists(&["a", "b"]));
        assert_eq!(ok("exists ( `x y` )"), Expr::exists(&["x y"]));
        assert_eq!(ok("!exists(a)"), Expr::exists(&["a"]).negate());
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
