//! Values and lists of values: `"text"`, `-1.5`, `true`, `null`, `[1, "a",]`.

use super::Parser;
use crate::filter::ast::Literal;
use crate::filter::error::{FilterError, MAX_LIST_LEN};
use crate::filter::lexer::{Keyword, TokenKind};

impl Parser<'_> {
    /// `[v, ...]`, after `in` or in `array_contains_all(`/`array_contains_any(`.
    pub(super) fn parse_list(&mut self) -> Result<Vec<Literal>, FilterError> {
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
    pub(super) fn take_literal(&mut self) -> Result<Option<Literal>, FilterError> {
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
}
