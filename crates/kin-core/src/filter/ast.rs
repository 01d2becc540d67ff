//! The parsed form of a filter, public so that other backends (a vector database's own
//! expression language, for one) can translate it instead of re-parsing the text.

/// A field path: the keys to follow through nested JSON values, outermost first.
/// `meta.author.name` and `meta["author"]["name"]` are `["meta", "author", "name"]`.
///
/// A key that is an array index written in decimal (`"0"`, `"12"`, not `"012"`) selects that
/// element when the value it is applied to is an array, as in JSON Pointer (and Milvus): `tags[0]`
/// is `["tags", "0"]`.
pub type FieldPath = Vec<String>;

/// A filter expression.
///
/// Trees built by [`Filter::parse`](super::Filter::parse) have at least two operands in every
/// `And` and `Or`; a hand-built empty `And` matches everything and an empty `Or` matches nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `path op value`, e.g. `year >= 2020`.
    Compare { path: FieldPath, op: CompareOp, value: Literal },
    /// `path in [values]`, or `path not in [values]` when `negated`.
    In { path: FieldPath, values: Vec<Literal>, negated: bool },
    /// `exists(path)`: the path leads to a value (`null` included).
    Exists { path: FieldPath },
    /// `path like "pattern"`: `%` matches any run of characters, `_` one character, and a
    /// backslash makes the next character literal. `path not like "..."` parses as `Not(Like)`.
    Like { path: FieldPath, pattern: String },
    /// `array_contains(path, value)`: the path leads to an array with an element equal to `value`.
    ArrayContains { path: FieldPath, value: Literal },
    /// `array_contains_all(path, [values])`: the path leads to an array holding every value.
    ArrayContainsAll { path: FieldPath, values: Vec<Literal> },
    /// `array_contains_any(path, [values])`: the path leads to an array holding at least one value.
    ArrayContainsAny { path: FieldPath, values: Vec<Literal> },
    /// `array_length(path) op length`, e.g. `array_length(tags) >= 2`.
    ArrayLength { path: FieldPath, op: CompareOp, length: i64 },
    /// Every operand matches.
    And(Vec<Expr>),
    /// At least one operand matches.
    Or(Vec<Expr>),
    /// The operand does not match.
    Not(Box<Expr>),
}

impl Expr {
    /// `path op value`.
    pub fn compare(path: &[&str], op: CompareOp, value: impl Into<Literal>) -> Self {
        Expr::Compare { path: owned_path(path), op, value: value.into() }
    }

    /// `path in [values]`.
    pub fn is_in(path: &[&str], values: impl IntoIterator<Item = Literal>) -> Self {
        Expr::In { path: owned_path(path), values: values.into_iter().collect(), negated: false }
    }

    /// `path not in [values]`.
    pub fn not_in(path: &[&str], values: impl IntoIterator<Item = Literal>) -> Self {
        Expr::In { path: owned_path(path), values: values.into_iter().collect(), negated: true }
    }

    /// `exists(path)`.
    pub fn exists(path: &[&str]) -> Self {
        Expr::Exists { path: owned_path(path) }
    }

    /// `path like "pattern"`.
    pub fn like(path: &[&str], pattern: &str) -> Self {
        Expr::Like { path: owned_path(path), pattern: pattern.to_string() }
    }

    /// `array_contains(path, value)`.
    pub fn array_contains(path: &[&str], value: impl Into<Literal>) -> Self {
        Expr::ArrayContains { path: owned_path(path), value: value.into() }
    }

    /// `array_contains_all(path, [values])`.
    pub fn array_contains_all(path: &[&str], values: impl IntoIterator<Item = Literal>) -> Self {
        Expr::ArrayContainsAll { path: owned_path(path), values: values.into_iter().collect() }
    }

    /// `array_contains_any(path, [values])`.
    pub fn array_contains_any(path: &[&str], values: impl IntoIterator<Item = Literal>) -> Self {
        Expr::ArrayContainsAny { path: owned_path(path), values: values.into_iter().collect() }
    }

    /// `array_length(path) op length`.
    pub fn array_length(path: &[&str], op: CompareOp, length: i64) -> Self {
        Expr::ArrayLength { path: owned_path(path), op, length }
    }

    /// `not self`.
    pub fn negate(self) -> Self {
        Expr::Not(Box::new(self))
    }
}

fn owned_path(path: &[&str]) -> FieldPath {
    path.iter().map(|key| key.to_string()).collect()
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator as written in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// A constant written in a filter.
///
/// Parsed floats are always finite; a hand-built NaN or infinity displays as text that does not
/// parse back.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
}

impl From<bool> for Literal {
    fn from(value: bool) -> Self {
        Literal::Bool(value)
    }
}

impl From<i64> for Literal {
    fn from(value: i64) -> Self {
        Literal::Int(value)
    }
}

impl From<f64> for Literal {
    fn from(value: f64) -> Self {
        Literal::Float(value)
    }
}

impl From<&str> for Literal {
    fn from(value: &str) -> Self {
        Literal::String(value.to_string())
    }
}

impl From<String> for Literal {
    fn from(value: String) -> Self {
        Literal::String(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_make_the_expected_nodes() {
        assert_eq!(
            Expr::compare(&["meta", "year"], CompareOp::Ge, 2020_i64),
            Expr::Compare { path: vec!["meta".into(), "year".into()], op: CompareOp::Ge, value: Literal::Int(2020) }
        );
        assert_eq!(
            Expr::not_in(&["tag"], ["a".into(), Literal::Null]),
            Expr::In { path: vec!["tag".into()], values: vec![Literal::from("a"), Literal::Null], negated: true }
        );
        assert_eq!(Expr::exists(&["x"]).negate(), Expr::Not(Box::new(Expr::Exists { path: vec!["x".into()] })));
        assert_eq!(Expr::like(&["s"], "a%"), Expr::Like { path: vec!["s".into()], pattern: "a%".into() });
        assert_eq!(
            Expr::array_contains_any(&["t"], [1_i64.into()]),
            Expr::ArrayContainsAny { path: vec!["t".into()], values: vec![Literal::Int(1)] }
        );
        assert_eq!(
            Expr::array_length(&["t"], CompareOp::Lt, 3),
            Expr::ArrayLength { path: vec!["t".into()], op: CompareOp::Lt, length: 3 }
        );
    }

    #[test]
    fn operators_spell_as_written() {
        let all = [CompareOp::Eq, CompareOp::Ne, CompareOp::Lt, CompareOp::Le, CompareOp::Gt, CompareOp::Ge];
        let spelled: Vec<_> = all.iter().map(|op| op.as_str()).collect();
        assert_eq!(spelled, ["==", "!=", "<", "<=", ">", ">="]);
    }
}
