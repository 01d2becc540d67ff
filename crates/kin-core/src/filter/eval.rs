//! Evaluating a filter against a JSON payload; the rules are in the
//! [module documentation](super#semantics).

use std::cmp::Ordering;

use serde_json::{Number, Value as Json};

use super::ast::{CompareOp, Expr, Literal};
use super::like;

impl Expr {
    /// Whether `payload` satisfies this expression.
    pub fn matches(&self, payload: &Json) -> bool {
        match self {
            Expr::Compare { path, op, value } => compare(lookup(payload, path), *op, value),
            Expr::In { path, values, negated } => {
                let found = lookup(payload, path);
                values.iter().any(|value| compare(found, CompareOp::Eq, value)) != *negated
            }
            Expr::Exists { path } => lookup(payload, path).is_some(),
            Expr::Like { path, pattern } => match lookup(payload, path) {
                Some(Json::String(text)) => like::matches(pattern, text),
                Some(Json::Array(items)) => {
                    items.iter().any(|item| item.as_str().is_some_and(|text| like::matches(pattern, text)))
                }
                _ => false,
            },
            Expr::ArrayContains { path, value } => array_at(payload, path).is_some_and(|items| contains(items, value)),
            Expr::ArrayContainsAll { path, values } => {
                array_at(payload, path).is_some_and(|items| values.iter().all(|value| contains(items, value)))
            }
            Expr::ArrayContainsAny { path, values } => {
                array_at(payload, path).is_some_and(|items| values.iter().any(|value| contains(items, value)))
            }
            Expr::ArrayLength { path, op, length } => length_holds(array_at(payload, path), *op, *length),
            Expr::And(operands) => operands.iter().all(|e| e.matches(payload)),
            Expr::Or(operands) => operands.iter().any(|e| e.matches(payload)),
            Expr::Not(operand) => !operand.matches(payload),
        }
    }
}

/// Follows `path` through nested objects, and into arrays where a key is an index; `None` when a
/// key is missing, an index is out of range or a step is neither.
fn lookup<'a>(payload: &'a Json, path: &[String]) -> Option<&'a Json> {
    path.iter().try_fold(payload, |value, key| match value {
        Json::Object(fields) => fields.get(key),
        Json::Array(items) => items.get(array_index(key)?),
        _ => None,
    })
}

/// The array index a path key stands for, when the key is one in canonical decimal (`0`, `12`;
/// not `012`, `+1` or `-1`), as JSON Pointer reads it; see [`FieldPath`](super::FieldPath).
pub fn array_index(key: &str) -> Option<usize> {
    let canonical =
        key == "0" || (key.starts_with(|c: char| matches!(c, '1'..='9')) && key.bytes().all(|b| b.is_ascii_digit()));
    if canonical {
        key.parse().ok()
    } else {
        None
    }
}

/// The array `path` leads to; `None` when it leads to anything else or nowhere.
fn array_at<'a>(payload: &'a Json, path: &[String]) -> Option<&'a [Json]> {
    lookup(payload, path)?.as_array().map(Vec::as_slice)
}

/// `array_length(...) op length` for the array found, if any; like a comparison, `!=` is the
/// negation of `==`, so it holds where no array is found.
fn length_holds(items: Option<&[Json]>, op: CompareOp, length: i64) -> bool {
    match (op, items) {
        (CompareOp::Ne, _) => !length_holds(items, CompareOp::Eq, length),
        (_, None) => false,
        // A usize always fits an i128.
        (_, Some(items)) => holds(op, (items.len() as i128).cmp(&i128::from(length))),
    }
}

/// Whether an element of `items` equals `value` (elements are not searched recursively).
fn contains(items: &[Json], value: &Literal) -> bool {
    items.iter().any(|item| equals(item, value))
}

/// `found op value`; `!=` is exactly the negation of `==`, and an array matches when any
/// element does.
fn compare(found: Option<&Json>, op: CompareOp, value: &Literal) -> bool {
    match (op, found) {
        (CompareOp::Ne, _) => !compare(found, CompareOp::Eq, value),
        (_, None) => false,
        (_, Some(Json::Array(items))) => items.iter().any(|item| compare_scalar(item, op, value)),
        (_, Some(scalar)) => compare_scalar(scalar, op, value),
    }
}

fn compare_scalar(found: &Json, op: CompareOp, value: &Literal) -> bool {
    match op {
        CompareOp::Eq => equals(found, value),
        CompareOp::Ne => !equals(found, value),
        _ => order(found, value).is_some_and(|ordering| holds(op, ordering)),
    }
}

/// Whether `a op b` holds when `a` compares to `b` as `ordering`.
fn holds(op: CompareOp, ordering: Ordering) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
    }
}

fn equals(found: &Json, value: &Literal) -> bool {
    match (found, value) {
        (Json::Null, Literal::Null) => true,
        (Json::Bool(a), Literal::Bool(b)) => a == b,
        (Json::String(a), Literal::String(b)) => a == b,
        _ => order(found, value) == Some(Ordering::Equal),
    }
}

/// Numbers order numerically and strings by code point; anything else is not ordered.
fn order(found: &Json, value: &Literal) -> Option<Ordering> {
    match (found, value) {
        (Json::Number(a), Literal::Int(b)) => Num::of(a)?.order_with(Num::Int(i128::from(*b))),
        (Json::Number(a), Literal::Float(b)) => Num::of(a)?.order_with(Num::Float(*b)),
        (Json::String(a), Literal::String(b)) => Some(a.as_str().cmp(b.as_str())),
        _ => None,
    }
}

/// A JSON number, with every integer (i64 or u64) held exactly.
#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(n: &Number) -> Option<Num> {
        if let Some(i) = n.as_i64() {
            Some(Num::Int(i.into()))
        } else if let Some(u) = n.as_u64() {
            Some(Num::Int(u.into()))
        } else {
            n.as_f64().map(Num::Float)
        }
    }

    fn order_with(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (Num::Int(a), Num::Float(b)) => cmp_int_float(a, b),
            (Num::Float(a), Num::Int(b)) => cmp_int_float(b, a).map(Ordering::reverse),
            (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b),
        }
    }
}

/// Compares an integer with a float exactly, without rounding the integer to a float.
fn cmp_int_float(int: i128, float: f64) -> Option<Ordering> {
    // 2^127: every i128 is below it, and every float at or above it is out of i128's range.
    const TWO_POW_127: f64 = (1_u128 << 127) as f64;
    if float.is_nan() {
        return None;
    }
    if float >= TWO_POW_127 {
        return Some(Ordering::Less);
    }
    if float < -TWO_POW_127 {
        return Some(Ordering::Greater);
    }
    let whole = float.trunc();
    // In range by the checks above, so the conversion is exact.
    let whole_int = whole as i128;
    Some(int.cmp(&whole_int).then_with(|| 0.0_f64.partial_cmp(&(float - whole)).unwrap_or(Ordering::Equal)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(expr: Expr, payload: &Json) -> bool {
        expr.matches(payload)
    }

    fn cmp(path: &[&str], op: CompareOp, value: impl Into<Literal>) -> Expr {
        Expr::compare(path, op, value)
    }

    #[test]
    fn integers_and_floats_compare_as_numbers() {
        let doc = json!({"n": 3, "f": 2.5, "big": u64::MAX, "neg": -7});
        assert!(check(cmp(&["n"], CompareOp::Eq, 3.0), &doc));
        assert!(check(cmp(&["f"], CompareOp::Gt, 2_i64), &doc));
        assert!(check(cmp(&["f"], CompareOp::Lt, 3_i64), &doc));
        assert!(!check(cmp(&["f"], CompareOp::Eq, 2_i64), &doc));
        assert!(check(cmp(&["n"], CompareOp::Le, 3.5), &doc));
        assert!(check(cmp(&["n"], CompareOp::Ge, 3_i64), &doc));
        assert!(check(cmp(&["big"], CompareOp::Gt, i64::MAX), &doc));
        assert!(check(cmp(&["neg"], CompareOp::Lt, -6.5), &doc));
        assert!(check(cmp(&["neg"], CompareOp::Gt, -7.5), &doc));
    }

    #[test]
    fn large_integers_are_not_rounded_through_floats() {
        let doc = json!({"id": 9_007_199_254_740_993_i64});
        assert!(!check(cmp(&["id"], CompareOp::Eq, 9_007_199_254_740_992.0), &doc));
        assert!(check(cmp(&["id"], CompareOp::Gt, 9_007_199_254_740_992.0), &doc));
        assert_eq!(cmp_int_float(0, -0.5), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(-1, -0.5), Some(Ordering::Less));
        assert_eq!(cmp_int_float(i128::MAX, 1e300), Some(Ordering::Less));
        assert_eq!(cmp_int_float(i128::MIN, -1e300), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(5, f64::NAN), None);
    }

    #[test]
    fn strings_compare_lexicographically_and_types_do_not_mix() {
        let doc = json!({"s": "banana", "n": 1, "b": true, "z": null});
        assert!(check(cmp(&["s"], CompareOp::Gt, "apple"), &doc));
        assert!(check(cmp(&["s"], CompareOp::Lt, "bananas"), &doc));
        assert!(!check(cmp(&["s"], CompareOp::Lt, "Banana"), &doc));
        assert!(!check(cmp(&["n"], CompareOp::Eq, "1"), &doc));
        assert!(!check(cmp(&["s"], CompareOp::Gt, 1_i64), &doc));
        assert!(!check(cmp(&["b"], CompareOp::Eq, 1_i64), &doc));
        assert!(check(cmp(&["b"], CompareOp::Eq, true), &doc));
        assert!(!check(cmp(&["b"], CompareOp::Gt, false), &doc));
        assert!(check(cmp(&["z"], CompareOp::Eq, Literal::Null), &doc));
        assert!(!check(cmp(&["z"], CompareOp::Le, Literal::Null), &doc));
        assert!(check(cmp(&["n"], CompareOp::Ne, "1"), &doc));
    }

    #[test]
    fn missing_fields_fail_every_comparison_but_not_equal() {
        let doc = json!({"meta": {"year": 2020}, "flat": 5});
        for op in [CompareOp::Eq, CompareOp::Lt, CompareOp::Le, CompareOp::Gt, CompareOp::Ge] {
            assert!(!check(cmp(&["meta", "month"], op, 1_i64), &doc), "{op}");
            assert!(!check(cmp(&["flat", "deeper"], op, 1_i64), &doc), "{op}");
        }
        assert!(check(cmp(&["meta", "month"], CompareOp::Ne, 1_i64), &doc));
        assert!(!check(cmp(&["meta", "month"], CompareOp::Eq, Literal::Null), &doc));
        assert!(!check(Expr::is_in(&["nope"], [Literal::Int(1)]), &doc));
        assert!(check(Expr::not_in(&["nope"], [Literal::Int(1)]), &doc));
    }

    #[test]
    fn nested_paths_and_existence() {
        let doc = json!({"meta": {"author": {"name": "Ada", "born": null}, "weird key": {"x": 1}}});
        assert!(check(cmp(&["meta", "author", "name"], CompareOp::Eq, "Ada"), &doc));
        assert!(check(cmp(&["meta", "weird key", "x"], CompareOp::Eq, 1_i64), &doc));
        assert!(check(Expr::exists(&["meta", "author", "born"]), &doc));
        assert!(check(Expr::exists(&["meta", "author"]), &doc));
        assert!(!check(Expr::exists(&["meta", "author", "died"]), &doc));
        assert!(!check(Expr::exists(&["meta", "author", "name", "first"]), &doc));
    }

    #[test]
    fn arrays_match_when_any_element_does() {
        let doc = json!({"tags": ["x", "y"], "scores": [1, 5, 9], "empty": [], "nested": [["x"]]});
        assert!(check(cmp(&["tags"], CompareOp::Eq, "x"), &doc));
        assert!(!check(cmp(&["tags"], CompareOp::Eq, "z"), &doc));
        assert!(!check(cmp(&["tags"], CompareOp::Ne, "x"), &doc));
        assert!(check(cmp(&["tags"], CompareOp::Ne, "z"), &doc));
        assert!(check(cmp(&["scores"], CompareOp::Gt, 8_i64), &doc));
        assert!(!check(cmp(&["scores"], CompareOp::Gt, 9_i64), &doc));
        assert!(check(Expr::is_in(&["tags"], ["q".into(), "y".into()]), &doc));
        assert!(!check(Expr::not_in(&["tags"], ["q".into(), "y".into()]), &doc));
        assert!(!check(cmp(&["empty"], CompareOp::Eq, "x"), &doc));
        assert!(check(cmp(&["empty"], CompareOp::Ne, "x"), &doc));
        assert!(!check(cmp(&["nested"], CompareOp::Eq, "x"), &doc));
    }

    #[test]
    fn decimal_keys_index_arrays_and_name_object_keys() {
        let doc = json!({"a": ["x", ["y", "z"]], "o": {"0": "key", "01": "other"}});
        assert!(check(cmp(&["a", "0"], CompareOp::Eq, "x"), &doc));
        assert!(check(cmp(&["a", "1", "1"], CompareOp::Eq, "z"), &doc));
        assert!(check(cmp(&["o", "0"], CompareOp::Eq, "key"), &doc));
        assert!(check(cmp(&["o", "01"], CompareOp::Eq, "other"), &doc));
        assert!(!check(Expr::exists(&["a", "2"]), &doc));
        assert!(!check(Expr::exists(&["a", "01"]), &doc));
        assert_eq!(["0", "7", "12"].map(array_index), [Some(0), Some(7), Some(12)]);
        assert_eq!(["", "01", "+1", "-1", "1a", "99999999999999999999999"].map(array_index), [None; 6]);
    }

    #[test]
    fn boolean_connectives() {
        let doc = json!({"a": 1, "b": 2});
        let yes = cmp(&["a"], CompareOp::Eq, 1_i64);
        let no = cmp(&["b"], CompareOp::Eq, 1_i64);
        assert!(check(Expr::Or(vec![no.clone(), yes.clone()]), &doc));
        assert!(!check(Expr::And(vec![no.clone(), yes.clone()]), &doc));
        assert!(check(Expr::And(vec![yes.clone(), no.clone().negate()]), &doc));
        assert!(check(Expr::And(vec![]), &doc));
        assert!(!check(Expr::Or(vec![]), &doc));
    }
}
