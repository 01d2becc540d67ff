//! `exists(path)` and Milvus's array functions: `array_contains(path, value)`,
//! `array_contains_all(path, [values])`, `array_contains_any(path, [values])` and
//! `array_length(path) op n`.

use super::Parser;
use crate::filter::ast::{Expr, FieldPath};
use crate::filter::error::FilterError;
use crate::filter::lexer::{Token, TokenKind};

/// A function of the language other than `exists` (a keyword).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Function {
    Contains,
    ContainsAll,
    ContainsAny,
    Length,
}

impl Function {
    /// The functions, for error messages.
    pub(super) const NAMES: &'static str =
        "exists, array_contains, array_contains_all, array_contains_any and array_length";

    /// The function `word` names: lowercase or all uppercase, as Milvus spells them. Milvus's
    /// `json_contains*` are the same functions on a JSON field, which every kin payload is.
    pub(super) fn named(word: &str) -> Option<Function> {
        Some(match word {
            "array_contains" | "ARRAY_CONTAINS" | "json_contains" | "JSON_CONTAINS" => Function::Contains,
            "array_contains_all" | "ARRAY_CONTAINS_ALL" | "json_contains_all" | "JSON_CONTAINS_ALL" => {
                Function::ContainsAll
            }
            "array_contains_any" | "ARRAY_CONTAINS_ANY" | "json_contains_any" | "JSON_CONTAINS_ANY" => {
                Function::ContainsAny
            }
            "array_length" | "ARRAY_LENGTH" => Function::Length,
            _ => return None,
        })
    }
}

impl Parser<'_> {
    /// `exists(path)`, at `exists`.
    pub(super) fn parse_exists(&mut self) -> Result<Expr, FilterError> {
        self.advance()?;
        if self.current.kind != TokenKind::LParen {
            return self.expected("'(' after 'exists'");
        }
        let open = self.advance()?;
        let path = self.parse_path()?;
        self.close(&open, "'exists('")?;
        Ok(Expr::Exists { path })
    }

    /// A call of `function`, whose `name` was just read; the current token is its `(`.
    pub(super) fn parse_call(&mut self, function: Function, name: &Token) -> Result<Expr, FilterError> {
        let name = self.lexer.text(name.pos, name.end);
        let what = format!("'{name}('");
        let open = self.advance()?;
        let path = self.parse_path()?;
        if function == Function::Length {
            self.close(&open, &what)?;
            return self.parse_length_comparison(path, &name);
        }
        if self.current.kind != TokenKind::Comma {
            let takes = if function == Function::Contains { "a value" } else { "a list" };
            return self.expected(&format!("',' after the field name in {what} (it takes a field name and {takes})"));
        }
        self.advance()?;
        let expr = match function {
            Function::Contains => {
                let Some(value) = self.take_literal()? else {
                    return self.expected(&format!("a value (string, number, true, false or null) in {what}"));
                };
                Expr::ArrayContains { path, value }
            }
            Function::ContainsAll => Expr::ArrayContainsAll { path, values: self.parse_list()? },
            _ => Expr::ArrayContainsAny { path, values: self.parse_list()? },
        };
        self.close(&open, &what)?;
        Ok(expr)
    }

    /// `op n` after `array_length(path)`, which was spelled `name`.
    fn parse_length_comparison(&mut self, path: FieldPath, name: &str) -> Result<Expr, FilterError> {
        let TokenKind::Op(op) = self.current.kind else {
            return self.expected(&format!("a comparison (==, !=, <, <=, >, >=) after '{name}(...)'"));
        };
        let op_token = self.advance()?;
        let TokenKind::Int(length) = self.current.kind else {
            let after = self.lexer.text(op_token.pos, op_token.end);
            return self.expected(&format!("an integer after '{after}'"));
        };
        self.advance()?;
        Ok(Expr::ArrayLength { path, op, length })
    }
}

#[cfg(test)]
mod tests {
    use crate::filter::ast::{CompareOp, Expr, Literal};
    use crate::filter::error::FilterError;
    use crate::filter::parser::parse;

    fn ok(source: &str) -> Expr {
        parse(source).unwrap_or_else(|e| panic!("{source:?} did not parse:\n{e}"))
    }

    fn syntax_error(source: &str) -> (usize, String) {
        match parse(source) {
            Err(FilterError::Syntax { position, message, .. }) => (position, message),
            other => panic!("{source:?}: expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn array_functions() {
        assert_eq!(ok("array_contains(tags, 'x')"), Expr::array_contains(&["tags"], "x"));
        assert_eq!(ok("ARRAY_CONTAINS(m.t, -1.5)"), Expr::array_contains(&["m", "t"], -1.5));
        assert_eq!(ok("json_contains(t, null)"), Expr::array_contains(&["t"], Literal::Null));
        assert_eq!(
            ok("array_contains_all(tags, ['a', 1,])"),
            Expr::array_contains_all(&["tags"], ["a".into(), 1_i64.into()])
        );
        assert_eq!(ok("ARRAY_CONTAINS_ANY(m[\"t\"], [])"), Expr::array_contains_any(&["m", "t"], []));
        assert_eq!(ok("array_length(tags) >= 2"), Expr::array_length(&["tags"], CompareOp::Ge, 2));
        assert_eq!(ok("ARRAY_LENGTH(a.b) != -1"), Expr::array_length(&["a", "b"], CompareOp::Ne, -1));
        assert_eq!(ok("exists(a.b)"), Expr::exists(&["a", "b"]));
        assert_eq!(ok("EXISTS ( `x y` )"), Expr::exists(&["x y"]));
    }

    #[test]
    fn function_names_are_field_names_without_a_parenthesis() {
        assert_eq!(ok("array_length == 3"), Expr::compare(&["array_length"], CompareOp::Eq, 3_i64));
        assert_eq!(ok("array_contains.x in [1]"), Expr::is_in(&["array_contains", "x"], [1_i64.into()]));
        assert_eq!(ok("array_contains(array_contains, 1)"), Expr::array_contains(&["array_contains"], 1_i64));
        assert_eq!(ok("ARRAY_LENGTH[0] > 1"), Expr::compare(&["ARRAY_LENGTH", "0"], CompareOp::Gt, 1_i64));
    }

    #[test]
    fn malformed_calls_say_what_is_missing() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "array_contains(tags)",
                19,
                "expected ',' after the field name in 'array_contains(' (it takes a field name and a value), found ')'",
            ),
            ("array_contains(tags, 1, 2)", 22, "expected ')' to close the 'array_contains(' at column 15, found ','"),
            (
                "array_contains(tags, [1])",
                21,
                "expected a value (string, number, true, false or null) in 'array_contains(', found '['",
            ),
            ("array_contains(, 1)", 15, "expected a field name, found ','"),
            ("array_contains_all(tags, 1)", 25, "expected '[' to start the list, found number 1"),
            ("array_contains_any(tags)", 23, "(it takes a field name and a list)"),
            ("array_contains_any(tags, [1, 2)", 30, "expected ',' or ']' in the list opened at column 26"),
            (
                "array_length(tags)",
                18,
                "expected a comparison (==, !=, <, <=, >, >=) after 'array_length(...)', found end of input",
            ),
            ("array_length(tags) == 'x'", 22, "expected an integer after '==', found string 'x'"),
            ("array_length(tags) > 1.5", 21, "expected an integer after '>'"),
            ("array_length(tags, 1) > 1", 17, "expected ')' to close the 'array_length(' at column 13"),
            ("ARRAY_LENGTH(tags", 17, "expected ')' to close the 'ARRAY_LENGTH(' at column 13, found end of input"),
            ("Array_Length(tags) > 1", 0, "unknown function 'Array_Length'; the functions are exists, array_contains"),
            ("size(tags) > 1", 0, "unknown function 'size'"),
            ("exists year", 7, "expected '(' after 'exists'"),
        ];
        for &(source, position, message) in cases {
            let (got_position, got_message) = syntax_error(source);
            assert_eq!(got_position, position, "{source:?}: {got_message}");
            assert!(got_message.contains(message), "{source:?}: {got_message:?} lacks {message:?}");
        }
    }
}
