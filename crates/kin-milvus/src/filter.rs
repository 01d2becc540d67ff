//! kin's payload filters as Milvus boolean expressions over the `payload` JSON field.
//!
//! kin's semantics are kept where Milvus can express them: a comparison holds for any element of
//! an array (`json_contains`), and `!=`, `not in` and `not` are true for a missing field (every
//! atom is guarded by `exists`, so Milvus's three-valued logic never sees an unknown). What
//! Milvus cannot tell apart (an explicit JSON `null` from a missing field) is translated to a
//! wider expression and marked inexact: the backend then checks each hit with kin's own filter.

use kin_core::filter::{CompareOp, Expr, FieldPath, Literal};

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
        Expr::Compare { path, op, value } => compare(path, *op, value),
        Expr::In { path, values, negated } => {
            let any =
                values.iter().map(|v| compare(path, CompareOp::Eq, v)).fold(None, |acc: Option<Translated>, t| {
                    Some(match acc {
                        None => t,
                        Some(a) => Translated { expr: format!("{} or {}", a.expr, t.expr), exact: a.exact && t.exact },
                    })
                });
            let any = any.map_or_else(
                || Translated::exact("false".into()),
                |t| Translated { expr: format!("({})", t.expr), ..t },
            );
            if *negated {
                negate(any)
            } else {
                any
            }
        }
        Expr::Exists { path } => Translated::exact(format!("exists {}", field(path))),
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
    Translated {
        expr: format!("({})", translated.iter().map(|t| t.expr.as_str()).collect::<Vec<_>>().join(&format!(" {op} "))),
        exact: translated.iter().all(|t| t.exact),
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

fn compare(path: &FieldPath, op: CompareOp, value: &Literal) -> Translated {
    let f = field(path);
    match (op, value) {
        // Milvus has no JSON null literal: `is null` also holds for a missing field.
        (CompareOp::Eq, Literal::Null) => Translated::wider(&format!("{f} is null")),
        (CompareOp::Ne, Literal::Null) => Translated::wider("true"),
        (CompareOp::Eq, v) => {
            let v = literal(v);
            Translated::exact(format!("(exists {f} and ({f} == {v} or json_contains({f}, {v})))"))
        }
        (CompareOp::Ne, v) => negate(compare(path, CompareOp::Eq, v)),
        // Booleans and null are not ordered.
        (_, Literal::Bool(_) | Literal::Null) => Translated::exact("false".into()),
        (op, v) => Translated::exact(format!("(exists {f} and {f} {} {})", op.as_str(), literal(v))),
    }
}

/// `payload["a"]["b"]` for the path `a.b`.
fn field(path: &FieldPath) -> String {
    let mut out = String::from("payload");
    for key in path {
        out.push('[');
        out.push_str(&quote(key));
        out.push(']');
    }
    out
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
}
