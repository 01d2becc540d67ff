//! Field paths: `meta.author.name`, `meta["author"]["name"]`, `tags[0]`, and any mix of them.

use super::Parser;
use crate::filter::ast::FieldPath;
use crate::filter::error::FilterError;
use crate::filter::lexer::{Token, TokenKind};

impl Parser<'_> {
    /// A whole path, from its first name.
    pub(super) fn parse_path(&mut self) -> Result<FieldPath, FilterError> {
        let first = self.parse_name(false)?;
        self.parse_path_steps(vec![first])
    }

    /// The `.name` and `[key]` steps that follow the keys already read.
    pub(super) fn parse_path_steps(&mut self, mut path: FieldPath) -> Result<FieldPath, FilterError> {
        loop {
            match self.current.kind {
                TokenKind::Dot => {
                    self.advance()?;
                    path.push(self.parse_name(true)?);
                }
                TokenKind::LBracket => {
                    let open = self.advance()?;
                    path.push(self.parse_bracket_key(&open)?);
                }
                _ => return Ok(path),
            }
        }
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

    /// After `[`: a quoted key or an array index, then `]`. `["0"]` and `[0]` are the same key,
    /// as in Milvus; which one it is depends on whether the value there is an object or an array.
    fn parse_bracket_key(&mut self, open: &Token) -> Result<String, FilterError> {
        if !matches!(self.current.kind, TokenKind::Str(_) | TokenKind::Int(_)) {
            return self.expected("a quoted key or an array index after '['");
        }
        let token = self.advance()?;
        let key = match token.kind {
            TokenKind::Str(key) => key,
            TokenKind::Int(index) if index >= 0 => index.to_string(),
            _ => return self.error(token.pos, "an array index cannot be negative".to_string()),
        };
        if self.current.kind != TokenKind::RBracket {
            return self.expected(&format!("']' to close the '[' at column {}", open.pos + 1));
        }
        self.advance()?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use crate::filter::ast::{CompareOp, Expr};
    use crate::filter::parser::parse;

    fn path(source: &str) -> Vec<String> {
        match parse(&format!("{source} == 1")) {
            Ok(Expr::Compare { path, .. }) => path,
            other => panic!("{source:?}: {other:?}"),
        }
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(path("meta.author.name"), ["meta", "author", "name"]);
        assert_eq!(path("`weird key`.x"), ["weird key", "x"]);
        assert_eq!(path("a . b"), ["a", "b"]);
        assert_eq!(path("meta.in.not.exists.like.AND"), ["meta", "in", "not", "exists", "like", "AND"]);
        assert_eq!(path(r"`a\`b`.``.`in`"), ["a`b", "", "in"]);
        assert_eq!(path("_x.é9.日本"), ["_x", "é9", "日本"]);
        assert_eq!(path("`AND`.And"), ["AND", "And"]);
    }

    #[test]
    fn brackets_are_the_same_path_as_dots() {
        assert_eq!(path(r#"meta["author"]["name"]"#), path("meta.author.name"));
        assert_eq!(path(r#"meta['a'].b"#), ["meta", "a", "b"]);
        assert_eq!(path(r#"meta.a["b"]"#), ["meta", "a", "b"]);
        assert_eq!(path(r#"m["weird key"][ "x\"y" ]"#), ["m", "weird key", "x\"y"]);
        assert_eq!(path(r#"m[""]"#), ["m", ""]);
    }

    #[test]
    fn integer_brackets_are_array_indexes() {
        assert_eq!(path("tags[0]"), ["tags", "0"]);
        assert_eq!(path("rows[12].name"), ["rows", "12", "name"]);
        assert_eq!(path("m[007]"), ["m", "7"]);
        assert_eq!(path(r#"m["0"]"#), path("m[0]"));
        assert_eq!(
            parse("array_length(m[1]) > 2"),
            Ok(Expr::ArrayLength { path: vec!["m".into(), "1".into()], op: CompareOp::Gt, length: 2 })
        );
    }
}
