//! Payload filters: one small language for the CLI's `--filter`, the HTTP API and every storage
//! backend.
//!
//! # Syntax
//!
//! ```text
//! year >= 2020
//! meta.author.name == "Ada Lovelace"
//! meta["author"]["name"] like "Ada%" AND tags[0] == "rust"
//! lang in ["en", "fr"] and not draft == true
//! (score > 0.5 || pinned == true) && !exists(deleted_at)
//! tags not in ['spam', 'nsfw']
//! array_contains_any(tags, ["db", "search"]) and array_length(tags) >= 2
//! `weird key`.x != -1.5e3
//! ```
//!
//! The forms follow Milvus's boolean expressions, so filters written for pymilvus work unchanged.
//!
//! * **Comparisons**: `field == value`, `!=`, `<`, `<=`, `>`, `>=`.
//! * **Membership**: `field in [v1, v2, …]` and `field not in [...]`; the list may be empty and
//!   may end with a comma.
//! * **Patterns**: `field like "pattern"` and `field not like "pattern"`: `%` matches any run of
//!   characters (none included), `_` exactly one character, anything else itself
//!   (case-sensitively); `\%`, `\_` and `\\\\` match `%`, `_` and a backslash (a backslash in the
//!   pattern makes the next character literal, and `"\\%"` is read as `"\%"`, as Milvus does).
//! * **Existence**: `exists(field)`.
//! * **Arrays**: `array_contains(field, value)`, `array_contains_all(field, [values])`,
//!   `array_contains_any(field, [values])` and `array_length(field) op n` (`op` a comparison,
//!   `n` an integer). `json_contains`, `json_contains_all` and `json_contains_any` are the same
//!   functions. A function name followed by anything but `(` is a plain field name.
//! * **Boolean logic**: `and`, `or`, `not` (also `&&`, `||`, `!`) and parentheses. `not` binds
//!   tightest, then `and`, then `or`: `a == 1 or b == 2 and not c == 3` is
//!   `a == 1 or (b == 2 and (not c == 3))`. Keywords and function names are lowercase or all
//!   uppercase (`AND`, `NOT IN`, `LIKE`, `ARRAY_LENGTH`; `True`, `TRUE`), not mixed.
//! * **Fields** are paths into nested JSON: `meta.author.name`, or `meta["author"]["name"]`, or a
//!   mix (`meta["author"].name`). A key that is not a plain name (letters, digits, `_`, not
//!   starting with a digit) or that is a keyword goes in backquotes (`` `weird key`.x ``,
//!   `` `in` ``) or brackets (`meta["weird key"]`). After a dot, keywords are plain keys
//!   (`meta.in`). `tags[0]` is the first element of an array: a key written as a decimal index
//!   (`[0]`, `["0"]` or `` .`0` ``, all one path) selects an element when the value is an array
//!   and a key when it is an object, as in Milvus and JSON Pointer.
//! * **Values**: strings in double or single quotes with the escapes `\\`, `\"`, `\'`, `` \` ``,
//!   `\/`, `\n`, `\r`, `\t`, `\b`, `\f`, `\0` and `\uXXXX` (a surrogate pair as two `\uXXXX`);
//!   integers (64-bit signed); floats with a fraction, an exponent or both (`-0.5`, `1e-3`,
//!   `2.5E+10`); `true`, `false`, `null`.
//!   Backquoted keys take the same escapes.
//!
//! Limits: an expression is at most [`MAX_EXPRESSION_LEN`] bytes, parentheses and `not` nest at
//! most [`MAX_DEPTH`] deep, and a list holds at most [`MAX_LIST_LEN`] values.
//!
//! # Semantics
//!
//! [`Filter::matches`] evaluates a filter against a JSON payload:
//!
//! * A path that does not lead to a value (a key is missing, an index is past the end, or a step
//!   is a scalar) makes
//!   `==`, `<`, `<=`, `>`, `>=` and `in` false. `!=` is always the negation of `==`, and
//!   `not in` the negation of `in`, so both are true for a missing field. To tell "missing"
//!   from "different", add `exists(field)`.
//! * Numbers compare numerically whether written as integers or floats (`1 == 1.0`), exactly,
//!   without rounding large integers. Strings compare lexicographically by code point. Values of
//!   different types are never equal and never ordered; `true`/`false`/`null` support only `==`
//!   and `!=`. `field == null` matches an explicit JSON `null`, not a missing field.
//! * When the field holds an array, a comparison holds if it holds for any element:
//!   `tags == "x"` means "tags contains x", `scores > 8` means "some score exceeds 8", and
//!   `tags != "x"` means "tags does not contain x". Arrays are not searched recursively.
//! * `exists(field)` is true when the path leads to any value, `null` included.
//! * `like` holds for a string that matches, or an array with a string element that matches;
//!   never for other values or a missing field. `not like` is its negation.
//! * `array_contains*` and `array_length` hold only where the path leads to an array (a scalar is
//!   not a one-element array). Elements compare as `==` does (`1` equals `1.0`);
//!   `array_contains_all(f, [])` holds for any array and `array_contains_any(f, [])` for none.
//!   `array_length(f) != n` is the negation of `== n`, so it holds where `f` is no array.
//!
//! The parsed tree is public ([`Expr`]) so backends can translate it; its `Display` is a
//! canonical text that parses back to the same tree.
//!
//! ```
//! use kin_core::filter::Filter;
//! use serde_json::json;
//!
//! let filter = Filter::parse("meta.year >= 2020 && tags == 'rust'").unwrap();
//! assert!(filter.matches(&json!({"meta": {"year": 2021}, "tags": ["rust", "db"]})));
//! assert_eq!(filter.to_string(), r#"meta.year >= 2020 and tags == "rust""#);
//!
//! let err = Filter::parse("year >= 2020 )").unwrap_err();
//! assert_eq!(err.to_string(), "unexpected ')' at column 14\n  year >= 2020 )\n               ^");
//! ```

mod ast;
mod display;
mod error;
mod eval;
mod lexer;
mod like;
mod parser;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use ast::{CompareOp, Expr, FieldPath, Literal};
pub use error::{FilterError, MAX_DEPTH, MAX_EXPRESSION_LEN, MAX_LIST_LEN};
pub use eval::array_index;
pub use like::literal_text as like_literal;

/// A parsed payload filter. Serializes as its canonical text.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    expr: Expr,
}

impl Filter {
    /// Parses `expression`; see the [module documentation](self) for the language.
    pub fn parse(expression: &str) -> Result<Filter, FilterError> {
        parser::parse(expression).map(|expr| Filter { expr })
    }

    /// Whether `payload` satisfies the filter; see [Semantics](self#semantics).
    pub fn matches(&self, payload: &serde_json::Value) -> bool {
        self.expr.matches(payload)
    }

    /// The parsed tree, for backends that translate it.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    pub fn into_expr(self) -> Expr {
        self.expr
    }
}

impl From<Expr> for Filter {
    fn from(expr: Expr) -> Self {
        Filter { expr }
    }
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.expr, f)
    }
}

impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Filter::parse(&text).map_err(serde::de::Error::custom)
    }
}
