//! The canonical text of a filter: single spaces, `and`/`or`/`not` spelled out, double-quoted
//! strings, parentheses only where the tree needs them. Parsing it gives back the same tree.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::{CompareOp, Expr, Literal};
use super::eval::array_index;
use super::lexer::{is_ident_continue, is_ident_start, Keyword};

impl Display for CompareOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => {
                // `{:?}` is the shortest text that reads back as the same f64; keep it a float.
                let text = format!("{x:?}");
                f.write_str(&text)?;
                if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                    f.write_str(".0")?;
                }
                Ok(())
            }
            Literal::String(s) => write_quoted(f, s, '"'),
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare { path, op, value } => write!(f, "{} {op} {value}", Path(path)),
            Expr::In { path, values, negated } => {
                write!(f, "{} {}{}", Path(path), if *negated { "not in " } else { "in " }, List(values))
            }
            Expr::Exists { path } => write!(f, "exists({})", Path(path)),
            Expr::Like { path, pattern } => {
                write!(f, "{} like ", Path(path))?;
                write_quoted(f, pattern, '"')
            }
            Expr::ArrayContains { path, value } => write!(f, "array_contains({}, {value})", Path(path)),
            Expr::ArrayContainsAll { path, values } => {
                write!(f, "array_contains_all({}, {})", Path(path), List(values))
            }
            Expr::ArrayContainsAny { path, values } => {
                write!(f, "array_contains_any({}, {})", Path(path), List(values))
            }
            Expr::ArrayLength { path, op, length } => write!(f, "array_length({}) {op} {length}", Path(path)),
            Expr::And(operands) => write_joined(f, operands, " and ", |e| matches!(e, Expr::And(_) | Expr::Or(_))),
            Expr::Or(operands) => write_joined(f, operands, " or ", |e| matches!(e, Expr::Or(_))),
            Expr::Not(operand) => {
                f.write_str("not ")?;
                write_operand(f, operand, matches!(**operand, Expr::And(_) | Expr::Or(_)))
            }
        }
    }
}

/// Operands of `and`/`or`; `needs_parens` picks those that would otherwise merge into this level
/// or bind differently.
fn write_joined(f: &mut Formatter<'_>, operands: &[Expr], sep: &str, needs_parens: fn(&Expr) -> bool) -> fmt::Result {
    for (i, operand) in operands.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write_operand(f, operand, needs_parens(operand))?;
    }
    Ok(())
}

fn write_operand(f: &mut Formatter<'_>, operand: &Expr, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
}

/// `[v1, v2]`.
struct List<'a>(&'a [Literal]);

impl Display for List<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        for (i, value) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{value}")?;
        }
        f.write_char(']')
    }
}

/// A field path: dotted bare names where they lex as names, `[n]` for a key that reads as an
/// array index, backquoted names otherwise.
struct Path<'a>(&'a [String]);

impl Display for Path<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 && array_index(name).is_some() {
                write!(f, "[{name}]")?;
                continue;
            }
            if i > 0 {
                f.write_char('.')?;
            }
            if is_bare_name(name) {
                f.write_str(name)?;
            } else {
                write_quoted(f, name, '`')?;
            }
        }
        Ok(())
    }
}

fn is_bare_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_ident_start) && chars.all(is_ident_continue) && Keyword::from_word(name).is_none()
}

/// `text` between `quote`s, with the quote, backslash and control characters escaped.
fn write_quoted(f: &mut Formatter<'_>, text: &str, quote: char) -> fmt::Result {
    f.write_char(quote)?;
    for c in text.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c == quote => write!(f, "\\{c}")?,
            c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char(quote)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(expr: Expr) -> String {
        expr.to_string()
    }

    #[test]
    fn literals() {
        assert_eq!(Literal::Null.to_string(), "null");
        assert_eq!(Literal::Bool(false).to_string(), "false");
        assert_eq!(Literal::Int(-42).to_string(), "-42");
        assert_eq!(Literal::Float(1.0).to_string(), "1.0");
        assert_eq!(Literal::Float(-0.0).to_string(), "-0.0");
        assert_eq!(Literal::Float(2.5e-9).to_string(), "2.5e-9");
        assert_eq!(Literal::Float(1e300).to_string(), "1e300");
        assert_eq!(Literal::from("say \"hi\"\\\n\u{1}").to_string(), r#""say \"hi\"\\\n\u0001""#);
        assert_eq!(Literal::from("it's").to_string(), r#""it's""#);
    }

    #[test]
    fn paths_quote_what_does_not_lex_as_a_name() {
        let path = |keys: &[&str]| Path(&keys.iter().map(|k| k.to_string()).collect::<Vec<_>>()).to_string();
        assert_eq!(path(&["meta", "author", "name"]), "meta.author.name");
        assert_eq!(path(&["weird key", "x"]), "`weird key`.x");
        assert_eq!(path(&["in", "9lives", "", "a`b", "é_1"]), r"`in`.`9lives`.``.`a\`b`.é_1");
        assert_eq!(path(&["0", "1", "012", "x", "10"]), "`0`[1].`012`.x[10]");
        assert_eq!(path(&["AND", "like", "True", "And"]), "`AND`.`like`.`True`.And");
    }

    #[test]
    fn milvus_forms() {
        let tags = ["tags"];
        assert_eq!(shown(Expr::like(&["s"], r"a\%_\\")), r#"s like "a\\%_\\\\""#);
        assert_eq!(shown(Expr::like(&["s"], "x%").negate()), r#"not s like "x%""#);
        assert_eq!(shown(Expr::array_contains(&tags, "x")), r#"array_contains(tags, "x")"#);
        assert_eq!(
            shown(Expr::array_contains_all(&tags, [1_i64.into(), Literal::Null])),
            "array_contains_all(tags, [1, null])"
        );
        assert_eq!(shown(Expr::array_contains_any(&tags, [])), "array_contains_any(tags, [])");
        assert_eq!(shown(Expr::array_length(&["m", "0"], CompareOp::Le, -2)), "array_length(m[0]) <= -2");
    }

    #[test]
    fn parentheses_only_where_needed() {
        let a = Expr::compare(&["a"], CompareOp::Eq, 1_i64);
        let b = Expr::exists(&["b"]);
        let c = Expr::is_in(&["c"], [Literal::from("x"), Literal::Null]);
        let and = Expr::And(vec![a.clone(), b.clone()]);
        let or = Expr::Or(vec![a.clone(), b.clone()]);

        assert_eq!(shown(Expr::Or(vec![and.clone(), c.clone()])), r#"a == 1 and exists(b) or c in ["x", null]"#);
        assert_eq!(shown(Expr::And(vec![or.clone(), c.clone()])), r#"(a == 1 or exists(b)) and c in ["x", null]"#);
        assert_eq!(shown(Expr::And(vec![c.clone(), and.clone()])), r#"c in ["x", null] and (a == 1 and exists(b))"#);
        assert_eq!(shown(Expr::Or(vec![or.clone(), c.clone()])), r#"(a == 1 or exists(b)) or c in ["x", null]"#);
        assert_eq!(shown(a.clone().negate()), "not a == 1");
        assert_eq!(shown(and.negate()), "not (a == 1 and exists(b))");
        assert_eq!(shown(b.negate().negate()), "not not exists(b)");
        assert_eq!(shown(Expr::not_in(&["t"], [])), "t not in []");
    }
}
