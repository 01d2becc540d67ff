//! kin's payload filters as Milvus boolean expressions over the `payload` JSON field.
//!
//! kin's semantics are kept where Milvus can express them: a comparison holds for any element of
//! an array (`json_contains`), and `!=`, `not in` and `not` are true for a missing field (every
//! atom is guarded by `exists`, so Milvus's three-valued logic never sees an unknown). What
//! Milvus cannot tell apart is translated to a wider expression and marked inexact: the backend
//! then checks each hit with kin's own filter. That is an explicit JSON `null` against a missing
//! field, a `like` on array elements (Milvus's `like` reads a JSON string only), and an empty
//! array against anything else (there is no "is an array" test).
//!
//! The expressions are the ones Milvus and Milvus Lite both read the same way, where the two
//! differ:
//!
//! * A path key that reads as an array index (`0`) is an array index and an object's key alike
//!   for kin and for Milvus (a JSON Pointer step); Milvus Lite reads `[0]` as the index only and
//!   `["0"]` as the key only, so such a key is written both ways, joined by `or`.
//! * Milvus Lite has no `array_length` of a JSON value: "at least n elements" is written
//!   `exists f[n-1]`, an array index on both.
//! * In a `like` pattern Milvus reads a backslash as an escape and Milvus Lite as itself: an
//!   escaped character is sent as `_`, which matches it on both.
//!
//! kin's `array_contains*` are sent as `json_contains*`, their names for a JSON field.

use kin_core::filter::{array_index, like_literal, CompareOp, Expr, FieldPath, Literal};

/// A Milvus expression, and whether it selects exactly what kin's filter selects (when not, it
/// selects more, never less, and hits must be checked).
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    pub expr: String,
    pub exact: bool,
}

impl Translated {
    fn exact(expr: String) -> Self {
        Translated { expr, exact: true }
    }

    fn wider(expr: &str) -> Self {
        Translated { expr: expr.to_string(), exact: false }
    }
}

pub fn translate(expr: &Expr) -> Translated {
    match expr {
        // Milvus has no JSON null literal: the complement of `is null` would miss explicit nulls.
        Expr::Compare { op: CompareOp::Ne, value: Literal::Null, .. } => Translated::wider("true"),
        Expr::Compare { path, op: CompareOp::Ne, value } => negate(at_path(path, |f| compare(f, CompareOp::Eq, value))),
        Expr::Compare { path, op, value } => at_path(path, |f| compare(f, *op, value)),
        Expr::In { path, values, negated } => {
            let any = at_path(path, |f| any_of(f, values));
            if *negated {
                negate(any)
            } else {
                any
            }
        }
        Expr::Exists { path } => at_path(path, |f| Translated::exact(format!("exists {f}"))),
        Expr::Like { path, pattern } => at_path(path, |f| like(f, pattern)),
        Expr::ArrayContains { path, value } => at_path(path, |f| contains(f, value)),
        Expr::ArrayContainsAll { path, values } => at_path(path, |f| contains_all(f, values)),
        Expr::ArrayContainsAny { path, values } => at_path(path, |f| contains_any(f, values)),
        Expr::ArrayLength { path, op: CompareOp::Ne, length } => {
            negate(at_path(path, |f| array_length(f, CompareOp::Eq, *length)))
        }
        Expr::ArrayLength { path, op, length } => at_path(path, |f| array_length(f, *op, *length)),
        Expr::And(parts) => join(parts, "and", "true"),
        Expr::Or(parts) => join(parts, "or", "false"),
        Expr::Not(inner) => negate(translate(inner)),
    }
}

fn join(parts: &[Expr], op: &str, empty: &str) -> Translated {
    if parts.is_empty() {
        return Translated::exact(empty.into());
    }
    let translated: Vec<Translated> = parts.iter().map(translate).collect();
    any_all(&translated, op)
}

/// `(a op b op …)`, exact when every part is.
fn any_all(parts: &[Translated], op: &str) -> Translated {
    Translated {
        expr: format!("({})", parts.iter().map(|t| t.expr.as_str()).collect::<Vec<_>>().join(&format!(" {op} "))),
        exact: parts.iter().all(|t| t.exact),
    }
}

/// The complement: exact for an exact operand; for a wider one, everything (checked later).
fn negate(t: Translated) -> Translated {
    if t.exact {
        Translated::exact(format!("not ({})", t.expr))
    } else {
        Translated::wider("true")
    }
}

/// Past this many index keys in one path, its spellings are too many to send: everything is let
/// through for kin to check.
const MAX_INDEX_KEYS: usize = 3;

/// `atom` of the field at `path`, for every way of writing it (see the module documentation),
/// joined by `or`. Only positive atoms go through here: `or` of their complements would not be
/// the complement.
fn at_path(path: &FieldPath, atom: impl Fn(&str) -> Translated) -> Translated {
    if path.iter().filter(|key| array_index(key).is_some()).count() > MAX_INDEX_KEYS {
        return Translated::wider("true");
    }
    let mut spellings = vec![String::from("payload")];
    for key in path {
        let quoted = format!("[{}]", quote(key));
        spellings = if array_index(key).is_some() {
            spellings.into_iter().flat_map(|f| [format!("{f}[{key}]"), format!("{f}{quoted}")]).collect()
        } else {
            spellings.into_iter().map(|f| f + &quoted).collect()
        };
    }
    let atoms: Vec<Translated> = spellings.iter().map(|f| atom(f)).collect();
    match atoms.as_slice() {
        [one] => one.clone(),
        _ => any_all(&atoms, "or"),
    }
}

/// `f op value` for any op but `!=`.
fn compare(f: &str, op: CompareOp, value: &Literal) -> Translated {
    match (op, value) {
        // Milvus has no JSON null literal: `is null` also holds for a missing field.
        (CompareOp::Eq, Literal::Null) => Translated::wider(&format!("{f} is null")),
        (CompareOp::Eq | CompareOp::Ne, v) => {
            let v = literal(v);
            Translated::exact(format!("(exists {f} and ({f} == {v} or json_contains({f}, {v})))"))
        }
        // Booleans and null are not ordered.
        (_, Literal::Bool(_) | Literal::Null) => Translated::exact("false".into()),
        (op, v) => Translated::exact(format!("(exists {f} and {f} {} {})", op.as_str(), literal(v))),
    }
}

/// `f in [values]`: `f == v1 or f == v2 …`.
fn any_of(f: &str, values: &[Literal]) -> Translated {
    if values.is_empty() {
        return Translated::exact("false".into());
    }
    let each: Vec<Translated> = values.iter().map(|v| compare(f, CompareOp::Eq, v)).collect();
    any_all(&each, "or")
}

/// `f like "pattern"`. Without a wildcard it is a string equality, which translates exactly.
/// Otherwise Milvus's `like` sees a string value but not an array's elements: any non-empty array
/// is let through for kin to check.
fn like(f: &str, pattern: &str) -> Translated {
    if let Some(text) = like_literal(pattern) {
        return compare(f, CompareOp::Eq, &Literal::String(text));
    }
    let sent = quote(&without_escapes(pattern));
    Translated::wider(&format!("(exists {f} and ({f} like {sent} or exists {f}[0]))"))
}

/// `pattern` with each escaped character (`\%`, `\\`) as `_`, which matches it on Milvus and
/// Milvus Lite alike.
fn without_escapes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// `json_contains(f, value)`.
fn contains(f: &str, value: &Literal) -> Translated {
    if *value == Literal::Null {
        return non_empty_array(f);
    }
    Translated::exact(format!("(exists {f} and json_contains({f}, {}))", literal(value)))
}

/// `json_contains_all(f, [values])`; a `null` among them is left for kin to check.
fn contains_all(f: &str, values: &[Literal]) -> Translated {
    let known: Vec<&Literal> = values.iter().filter(|v| **v != Literal::Null).collect();
    if values.is_empty() {
        // Any array holds all of no values, and Milvus has no test for "an array".
        return Translated::wider(&format!("exists {f}"));
    }
    if known.is_empty() {
        return non_empty_array(f);
    }
    let expr = format!("(exists {f} and json_contains_all({f}, {}))", list(known.iter().copied()));
    Translated { expr, exact: values.len() == known.len() }
}

/// `json_contains_any(f, [values])`.
fn contains_any(f: &str, values: &[Literal]) -> Translated {
    if values.contains(&Literal::Null) {
        return non_empty_array(f);
    }
    if values.is_empty() {
        return Translated::exact("false".into());
    }
    Translated::exact(format!("(exists {f} and json_contains_any({f}, {}))", list(values)))
}

/// Any non-empty array at `f`: what Milvus can select for "an array holding a JSON `null`", having
/// no null literal.
fn non_empty_array(f: &str) -> Translated {
    Translated::wider(&format!("exists {f}[0]"))
}

/// `array_length(f) op n` for any op but `!=`, as a range of lengths: at least `low` elements
/// (`exists f[low-1]`) and not `high + 1` (`not exists f[high]`). Always wider: Milvus cannot
/// tell an array from another value, and its `f[k]` also reads an object's key `"k"`.
fn array_length(f: &str, op: CompareOp, n: i64) -> Translated {
    let never = Translated::exact("false".into());
    let (low, high) = match op {
        CompareOp::Lt if n <= 0 => return never,
        CompareOp::Lt => (0, Some(n - 1)),
        CompareOp::Le if n < 0 => return never,
        CompareOp::Le => (0, Some(n)),
        CompareOp::Gt if n == i64::MAX => return never,
        CompareOp::Gt => ((n + 1).max(0), None),
        CompareOp::Ge => (n.max(0), None),
        // `!=` is the complement of `==`, made by the caller.
        CompareOp::Eq | CompareOp::Ne if n < 0 => return never,
        CompareOp::Eq | CompareOp::Ne => (n, Some(n)),
    };
    let mut parts = Vec::new();
    if low == 0 {
        parts.push(format!("exists {f}"));
    } else {
        parts.push(format!("exists {f}[{}]", low - 1));
    }
    if let Some(high) = high {
        parts.push(format!("not exists {f}[{high}]"));
    }
    Translated::wider(&format!("({})", parts.join(" and ")))
}

fn literal(v: &Literal) -> String {
    match v {
        Literal::Null => "null".into(),
        Literal::Bool(b) => b.to_string(),
        Literal::Int(i) => i.to_string(),
        Literal::Float(x) if x.is_finite() => format!("{x:?}"),
        Literal::Float(_) => "0".into(),
        Literal::String(s) => quote(s),
    }
}

/// `[v1, v2]`.
fn list<'a>(values: impl IntoIterator<Item = &'a Literal>) -> String {
    format!("[{}]", values.into_iter().map(literal).collect::<Vec<_>>().join(", "))
}

/// A double-quoted string with backslash escapes.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

#[cfg(test)]
mod tests {
    use kin_core::filter::Filter;

    use super::*;

    fn t(text: &str) -> Translated {
        translate(Filter::parse(text).unwrap().expr())
    }

    #[test]
    fn filters_become_guarded_milvus_expressions() {
        assert_eq!(t("year >= 2020").expr, r#"(exists payload["year"] and payload["year"] >= 2020)"#);
        assert_eq!(
            t("tags == 'x'").expr,
            r#"(exists payload["tags"] and (payload["tags"] == "x" or json_contains(payload["tags"], "x")))"#
        );
        assert_eq!(
            t("a != 1").expr,
            r#"not ((exists payload["a"] and (payload["a"] == 1 or json_contains(payload["a"], 1))))"#
        );
        assert_eq!(t("m.`we\"ird` == 2.5").expr.matches("payload[\"m\"][\"we\\\"ird\"]").count(), 3);
        assert_eq!(t("lang in []").expr, "false");
        assert!(t("lang in ['en', 'fr'] and not exists(d)").exact);
        assert_eq!(
            t("x == true or y < true").expr,
            r#"((exists payload["x"] and (payload["x"] == true or json_contains(payload["x"], true))) or false)"#
        );
        let null = t("x == null");
        assert!(!null.exact && null.expr == r#"payload["x"] is null"#);
        assert_eq!(t("not (x == null)"), Translated { expr: "true".into(), exact: false });
        assert!(!t("a == 1 and b != null").exact);
    }

    #[test]
    fn brackets_are_paths_and_index_keys_are_spelled_both_ways() {
        assert_eq!(t(r#"meta["author"].name == 'Ada'"#), t("meta.author.name == 'Ada'"));
        let first = r#"payload["tags"][0]"#;
        let key = r#"payload["tags"]["0"]"#;
        assert_eq!(
            t("tags[0] >= 'b'"),
            Translated::exact(format!(r#"((exists {first} and {first} >= "b") or (exists {key} and {key} >= "b"))"#))
        );
        // A negation is taken of the whole `or`, never of each spelling.
        assert_eq!(t("tags[0] != 1").expr, format!("not ({})", t("tags[0] == 1").expr));
        assert_eq!(t("m.`012` < 1").expr, r#"(exists payload["m"]["012"] and payload["m"]["012"] < 1)"#);
        assert_eq!(t("a[1][2].b[3] == 1").expr.matches(" or ").count(), 7 + 8);
        assert_eq!(t("a[1][2][3][4] == 1"), Translated { expr: "true".into(), exact: false });
    }

    #[test]
    fn like_is_exact_without_wildcards_and_wider_with_them() {
        let f = r#"payload["name"]"#;
        assert_eq!(
            t("name like 'Prod%'"),
            Translated { expr: format!(r#"(exists {f} and ({f} like "Prod%" or exists {f}[0]))"#), exact: false }
        );
        // Escaped characters go as `_`: Milvus Lite reads no escapes in a pattern.
        // `\\\\` in kin's text is `\\` in the pattern, an escaped backslash.
        assert!(t(r"code like '50\%_\\\\%'").expr.contains(r#"like "50___%""#));
        assert_eq!(t(r"code like '50\%'"), t("code == '50%'"));
        assert_eq!(t(r"code like 'a\\\\b'"), t(r"code == 'a\\b'"));
        assert_eq!(t(r"code like 'a\\b'"), t("code == 'ab'"));
        assert_eq!(t("name like 'x'"), t("name == 'x'"));
        assert_eq!(t("name not like 'a%'"), Translated { expr: "true".into(), exact: false });
        assert_eq!(t("name not like 'a'"), t("name != 'a'"));
    }

    #[test]
    fn array_contains_becomes_json_contains() {
        let f = r#"payload["tags"]"#;
        let exact = |text: &str, expr: String| assert_eq!(t(text), Translated::exact(expr), "{text}");
        exact("array_contains(tags, 'x')", format!(r#"(exists {f} and json_contains({f}, "x"))"#));
        exact("ARRAY_CONTAINS(tags, 2.5)", format!("(exists {f} and json_contains({f}, 2.5))"));
        exact("array_contains_all(tags, ['x', 1])", format!(r#"(exists {f} and json_contains_all({f}, ["x", 1]))"#));
        exact("array_contains_any(tags, [true])", format!("(exists {f} and json_contains_any({f}, [true]))"));
        exact("array_contains_any(tags, [])", "false".into());
        exact("not array_contains(tags, 'x')", format!(r#"not ((exists {f} and json_contains({f}, "x")))"#));
    }

    /// `text` translates to the wider `expr`, which kin's own filter finishes.
    fn wider(text: &str, expr: String) {
        assert_eq!(t(text), Translated { expr, exact: false }, "{text}");
    }

    #[test]
    fn array_length_becomes_a_range_of_indexes() {
        let f = r#"payload["tags"]"#;
        wider("array_length(tags) == 2", format!("(exists {f}[1] and not exists {f}[2])"));
        wider("array_length(tags) == 0", format!("(exists {f} and not exists {f}[0])"));
        wider("array_length(tags) > 2", format!("(exists {f}[2])"));
        wider("array_length(tags) >= 1", format!("(exists {f}[0])"));
        wider("array_length(tags) >= -5", format!("(exists {f})"));
        wider("array_length(tags) < 3", format!("(exists {f} and not exists {f}[2])"));
        wider("array_length(tags) <= 3", format!("(exists {f} and not exists {f}[3])"));
        wider("array_length(tags) != 2", "true".into());
        let never = Translated::exact("false".into());
        for text in ["array_length(t) < 0", "array_length(t) <= -1", "array_length(t) == -1"] {
            assert_eq!(t(text), never, "{text}");
        }
        assert_eq!(t(&format!("array_length(t) > {}", i64::MAX)), never);
        assert_eq!(t("array_length(t) != -1"), Translated::exact("not (false)".into()));
    }

    #[test]
    fn what_milvus_cannot_tell_apart_is_widened() {
        let f = r#"payload["tags"]"#;
        // An empty array against no array at all.
        wider("array_contains_all(tags, [])", format!("exists {f}"));
        // Milvus has no JSON null literal: any non-empty array may hold one.
        wider("array_contains(tags, null)", format!("exists {f}[0]"));
        wider("array_contains_any(tags, ['x', null])", format!("exists {f}[0]"));
        wider("array_contains_all(tags, ['x', null])", format!(r#"(exists {f} and json_contains_all({f}, ["x"]))"#));
        wider("array_contains_all(tags, [null])", format!("exists {f}[0]"));
    }
}
