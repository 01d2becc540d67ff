//! Tests across the whole filter: error positions through the public entry point, round trips
//! through `Display`, and random inputs that must never panic. How Milvus's forms evaluate is in
//! `milvus_forms.rs`.

mod milvus_forms;

use serde_json::json;

use super::*;

/// A small deterministic generator (xorshift64), so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

fn syntax_error(source: &str) -> (usize, String) {
    match Filter::parse(source) {
        Err(FilterError::Syntax { position, message, .. }) => (position, message),
        other => panic!("{source:?}: expected a syntax error, got {other:?}"),
    }
}

#[test]
fn malformed_inputs_report_where() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "empty filter expression"),
        ("   ", 0, "empty filter expression"),
        (r#"name == "abc"#, 8, "unterminated string"),
        (r#"name == "a\q""#, 10, "unknown escape '\\q'"),
        ("year >=", 7, "expected a value (string, number, true, false or null) after '>=', found end of input"),
        ("year >= 2020 and", 16, "expected a field name, 'not', 'exists(' or '(', found end of input"),
        ("a == 1 or or b == 2", 10, "found 'or'"),
        ("2020 <= year", 0, "expected a field name, 'not', 'exists(' or '(', found number 2020"),
        ("a == b", 5, "found field name 'b'"),
        ("year = 2020", 5, "unknown operator '='"),
        ("year <> 2020", 5, "unknown operator '<>'"),
        ("year 2020", 5, "expected a comparison (==, !=, <, <=, >, >=), 'in', 'not in', 'like' or 'not like' after"),
        ("a not 1", 6, "expected 'in' or 'like' after 'not', found number 1"),
        ("year >= 2020 )", 13, "unexpected ')'"),
        ("a == 1)(", 6, "unexpected ')'"),
        ("(year >= 2020", 13, "expected ')' to close the '(' at column 1, found end of input"),
        ("()", 1, "found ')'"),
        ("year >= 2020 extra", 13, "unexpected field name 'extra'"),
        ("year >= 2020 And x == 1", 13, "unexpected field name 'And'; did you mean 'and'?"),
        ("x Like 'a%'", 2, "found field name 'Like'; did you mean 'like'?"),
        ("x == NULL", 5, "found field name 'NULL'; did you mean 'null'?"),
        ("tags in [1, 2", 13, "expected ',' or ']' in the list opened at column 9, found end of input"),
        ("tags in [1 2]", 11, "expected ',' or ']'"),
        ("tags in [1, ,]", 12, "expected a value or ']', found ','"),
        ("tags in 1", 8, "expected '[' to start the list, found number 1"),
        ("exists year", 7, "expected '(' after 'exists'"),
        ("exists(year", 11, "expected ')' to close the 'exists(' at column 7"),
        ("a.", 2, "expected a field name after '.', found end of input"),
        ("not", 3, "found end of input"),
        ("x == 1e", 5, "invalid number '1e'"),
        ("x == 99999999999999999999", 5, "out of range"),
        ("é == \"x\" )", 9, "unexpected ')'"),
        // Brackets in paths.
        (r#"meta["a" == 1"#, 9, "expected ']' to close the '[' at column 5, found '=='"),
        ("meta[", 5, "expected a quoted key or an array index after '[', found end of input"),
        ("meta[] == 1", 5, "expected a quoted key or an array index after '[', found ']'"),
        ("meta[a] == 1", 5, "found field name 'a'"),
        ("tags[-1] == 1", 5, "an array index cannot be negative"),
        ("tags[1.5] == 1", 5, "found number 1.5"),
        ("tags[0 == 1", 7, "expected ']' to close the '[' at column 5"),
        (r#"["a"] == 1"#, 0, "expected a field name, 'not', 'exists(' or '(', found '['"),
        // like.
        ("x like 5", 7, "expected a pattern string after 'like', found number 5"),
        ("x LIKE", 6, "expected a pattern string after 'LIKE', found end of input"),
        ("x like name", 7, "found field name 'name'"),
        ("x not like", 10, "expected a pattern string after 'like'"),
        (r#"x like "ab\\""#, 7, r#"the pattern ends with a '\' that escapes nothing; "\\\\" matches a backslash"#),
        (r#"x like "a\q""#, 9, "unknown escape '\\q'"),
        (r#"x == "50\%""#, 8, "unknown escape '\\%'"),
        ("`x` like 'a' like 'b'", 13, "unexpected 'like'"),
        // Array functions.
        ("array_contains(tags)", 19, "expected ',' after the field name in 'array_contains('"),
        ("array_contains(tags, 1, 2)", 22, "expected ')' to close the 'array_contains(' at column 15, found ','"),
        ("array_contains_all(tags, 'x')", 25, "expected '[' to start the list, found string 'x'"),
        ("array_length(tags) == 1.0", 22, "expected an integer after '=='"),
        ("array_length(tags)", 18, "expected a comparison"),
        ("array_length(tags[0) > 1", 19, "expected ']' to close the '[' at column 18, found ')'"),
        ("Array_Contains(tags, 1)", 0, "unknown function 'Array_Contains'"),
    ];
    for &(source, position, message) in cases {
        let (got_position, got_message) = syntax_error(source);
        assert_eq!(got_position, position, "{source:?}: {got_message}");
        assert!(got_message.contains(message), "{source:?}: {got_message:?} lacks {message:?}");
    }
}

#[test]
fn errors_display_a_caret() {
    let err = Filter::parse("year >= 2020 )").unwrap_err();
    assert_eq!(err.to_string(), "unexpected ')' at column 14\n  year >= 2020 )\n               ^");
    let err = Filter::parse("(a == 1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected ')' to close the '(' at column 1, found end of input at column 8\n  (a == 1\n         ^"
    );
}

#[test]
fn canonical_text() {
    let cases = [
        ("a==1&&b!='x'||!c<2.0", r#"a == 1 and b != "x" or not c < 2.0"#),
        ("( a == 1 )", "a == 1"),
        ("x in ['a' , 1,]", r#"x in ["a", 1]"#),
        ("`weird key`.`ok` >= -1.5e3", "`weird key`.ok >= -1500.0"),
        ("meta.in == null", "meta.`in` == null"),
        ("not (a == 1 or exists(b))", "not (a == 1 or exists(b))"),
        ("(a == 1 or b == 2) or c == 3", "(a == 1 or b == 2) or c == 3"),
        ("s == 'tab\\there'", r#"s == "tab\there""#),
        ("x == 1e-7", "x == 1e-7"),
        ("a==1 AND b==2 OR NOT c==3", "a == 1 and b == 2 or not c == 3"),
        ("x IN [TRUE, False] and y NOT IN []", "x in [true, false] and y not in []"),
        (r#"meta["author"]['name'] LIKE 'Ada%'"#, r#"meta.author.name like "Ada%""#),
        (r#"m["weird key"][2].x == 1"#, "m.`weird key`[2].x == 1"),
        (r#"tags["0"] == 'x' or m.`12`[3] == 1"#, r#"tags[0] == "x" or m[12][3] == 1"#),
        (r#"n NOT LIKE "50\%""#, r#"not n like "50\\%""#),
        (r#"n like "a\\_""#, r#"n like "a\\_""#),
        ("ARRAY_CONTAINS(tags, 'x')", r#"array_contains(tags, "x")"#),
        ("json_contains_any(t, [1,'a',])", r#"array_contains_any(t, [1, "a"])"#),
        ("ARRAY_CONTAINS_ALL(m[0], [])", "array_contains_all(m[0], [])"),
        ("ARRAY_LENGTH(tags)>=2", "array_length(tags) >= 2"),
        ("`like` == 1 and array_length == 2", "`like` == 1 and array_length == 2"),
    ];
    for (source, canonical) in cases {
        let filter = Filter::parse(source).unwrap();
        assert_eq!(filter.to_string(), canonical, "{source:?}");
        assert_eq!(Filter::parse(canonical).unwrap(), filter, "{canonical:?}");
    }
}

#[test]
fn filters_evaluate_nested_json() {
    let doc = json!({
        "year": 2021,
        "meta": {"author": {"name": "Ada", "age": 36.5}, "weird key": {"x": true}},
        "tags": ["rust", "search"],
        "deleted_at": null
    });
    let cases = [
        ("year >= 2020 and meta.author.name == 'Ada'", true),
        ("meta.author.age > 36 and meta.author.age < 37", true),
        ("`meta`.`weird key`.x == true", true),
        ("tags == 'rust' and tags != 'java'", true),
        ("tags in ['go', 'search']", true),
        ("tags not in ['go', 'search']", false),
        ("exists(deleted_at) and deleted_at == null", true),
        ("exists(meta.author.email)", false),
        ("meta.author.email == 'x'", false),
        ("meta.author.email != 'x'", true),
        ("year == 2021.0 or missing > 1", true),
        ("not (year == 2021 or tags == 'rust')", false),
        ("year == '2021'", false),
        ("meta.author.name.first == 'A'", false),
    ];
    for (source, expected) in cases {
        assert_eq!(Filter::parse(source).unwrap().matches(&doc), expected, "{source}");
    }
}

#[test]
fn filters_serialize_as_text() {
    let filter: Filter = "a == 1 && b in [2]".parse().unwrap();
    assert_eq!(serde_json::to_string(&filter).unwrap(), r#""a == 1 and b in [2]""#);
    assert_eq!(serde_json::from_str::<Filter>(r#""a == 1 and b in [2]""#).unwrap(), filter);
    let err = serde_json::from_str::<Filter>(r#""a ==""#).unwrap_err();
    assert!(err.to_string().contains("at column 5"), "{err}");
    assert_eq!(Filter::from(filter.expr().clone()), filter);
}

fn random_literal(rng: &mut XorShift) -> Literal {
    match rng.below(6) {
        0 => Literal::Null,
        1 => Literal::Bool(rng.chance(2)),
        2 => Literal::Int(rng.next_u64() as i64 >> rng.below(64)),
        3 => {
            let x = f64::from_bits(rng.next_u64());
            Literal::Float(if x.is_finite() { x } else { rng.below(1000) as f64 / 8.0 })
        }
        _ => {
            let pieces = ["a", " ", "\"", "'", "\\", "`", "\n", "\u{1}", "é", "🦀", "\u{2028}", "and"];
            Literal::String((0..rng.below(5)).map(|_| *rng.pick(&pieces)).collect())
        }
    }
}

fn random_path(rng: &mut XorShift) -> FieldPath {
    let names = [
        "a",
        "b_c",
        "weird key",
        "in",
        "",
        "é",
        "x`y",
        "9lives",
        "AND",
        "null",
        "0",
        "12",
        "012",
        "like",
        "True",
        "array_length",
        "ARRAY_CONTAINS",
    ];
    (0..1 + rng.below(3)).map(|_| rng.pick(&names).to_string()).collect()
}

/// A `like` pattern with wildcards, escapes and quotes, never ending in a lone backslash.
fn random_pattern(rng: &mut XorShift) -> String {
    let pieces = ["a", "%", "_", "\\%", "\\_", "\\\\", "\\a", "é", "\"", "'", "\n"];
    (0..rng.below(6)).map(|_| *rng.pick(&pieces)).collect()
}

fn random_list(rng: &mut XorShift) -> Vec<Literal> {
    (0..rng.below(4)).map(|_| random_literal(rng)).collect()
}

/// A tree of the shape the parser builds: `and`/`or` with two or more operands, finite floats.
fn random_expr(rng: &mut XorShift, depth: usize) -> Expr {
    let leaf = depth == 0 || rng.chance(3);
    const LEAVES: usize = 8;
    match if leaf { rng.below(LEAVES) } else { LEAVES + rng.below(3) } {
        0 => {
            let ops = [CompareOp::Eq, CompareOp::Ne, CompareOp::Lt, CompareOp::Le, CompareOp::Gt, CompareOp::Ge];
            Expr::Compare { path: random_path(rng), op: *rng.pick(&ops), value: random_literal(rng) }
        }
        1 => Expr::In { path: random_path(rng), values: random_list(rng), negated: rng.chance(2) },
        2 => Expr::Exists { path: random_path(rng) },
        3 => Expr::Like { path: random_path(rng), pattern: random_pattern(rng) },
        4 => Expr::ArrayContains { path: random_path(rng), value: random_literal(rng) },
        5 => Expr::ArrayContainsAll { path: random_path(rng), values: random_list(rng) },
        6 => Expr::ArrayContainsAny { path: random_path(rng), values: random_list(rng) },
        7 => {
            let ops = [CompareOp::Eq, CompareOp::Ne, CompareOp::Lt, CompareOp::Le, CompareOp::Gt, CompareOp::Ge];
            Expr::ArrayLength {
                path: random_path(rng),
                op: *rng.pick(&ops),
                length: rng.next_u64() as i64 >> rng.below(64),
            }
        }
        8 => Expr::And((0..2 + rng.below(3)).map(|_| random_expr(rng, depth - 1)).collect()),
        9 => Expr::Or((0..2 + rng.below(3)).map(|_| random_expr(rng, depth - 1)).collect()),
        _ => random_expr(rng, depth - 1).negate(),
    }
}

#[test]
fn display_parses_back_to_the_same_tree() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2000 {
        let expr = random_expr(&mut rng, 4);
        let text = expr.to_string();
        match Filter::parse(&text) {
            Ok(parsed) => assert_eq!(parsed.expr(), &expr, "{text}"),
            Err(e) => panic!("canonical text did not parse:\n{e}"),
        }
    }
}

/// Parses `source` and checks what must hold for any input: no panic, an error position inside
/// the text, and a result that survives display, re-parsing and evaluation.
fn parse_anything(source: &str, payload: &serde_json::Value) {
    match Filter::parse(source) {
        Ok(filter) => {
            let text = filter.to_string();
            assert_eq!(Filter::parse(&text).as_ref(), Ok(&filter), "{source:?} -> {text:?}");
            let _ = filter.matches(payload);
        }
        Err(e) => {
            let position = e.position().unwrap_or(0);
            assert!(position <= source.chars().count(), "{source:?}: {e:?}");
            let _ = e.to_string();
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
    let payload = json!({"a": 1, "b_c": ["x", 2.5], "weird key": {"in": null}});
    let alphabet = b" ()[],.=!<>&|\"'`\\-+eE0123456789abnotiruxsd_\n\t%klLIKE";
    for _ in 0..4000 {
        let len = rng.below(48);
        let bytes: Vec<u8> = if rng.chance(2) {
            (0..len).map(|_| *rng.pick(alphabet)).collect()
        } else {
            (0..len).map(|_| rng.next_u64() as u8).collect()
        };
        parse_anything(&String::from_utf8_lossy(&bytes), &payload);
    }
}

#[test]
fn random_token_soups_never_panic() {
    let mut rng = XorShift(0x0123_4567_89AB_CDEF);
    let payload = json!({"a": [1, "s"], "b": {"c": true}, "x-y": -3});
    let tokens: Vec<&str> = concat!(
        r#"a b.c `x-y` meta.in == != < <= > >= = <> in not and or && || ! & | ( ) [ ] , . exists exists( "#,
        r#""s" 't\'' "\u00e9" "open ' ` \ 1 -2.5e3 1e999 - 0. true false null AND @ é "#,
        r#"like LIKE NOT OR True "a%" '5\%' "x\\" % _ [0] ["k"] a[1] b["c"] array_contains( ARRAY_LENGTH( "#,
        r#"array_contains_all( array_contains_any( json_contains( Array_Length( array_length"#
    )
    .split_whitespace()
    .collect();
    for _ in 0..4000 {
        let count = 1 + rng.below(24);
        let mut source = String::new();
        for _ in 0..count {
            source.push_str(tokens[rng.below(tokens.len())]);
            if !rng.chance(4) {
                source.push(' ');
            }
        }
        parse_anything(&source, &payload);
    }
}

/// Valid canonical text with a few random edits: near-misses reach deeper into the parser than
/// random tokens do.
#[test]
fn mutated_expressions_never_panic() {
    let mut rng = XorShift(0x5EED_F00D_F117_E125);
    let payload = json!({"a": [1, "s"], "b_c": {"in": true}, "weird key": -3});
    let inserts = [
        "(",
        ")",
        "[",
        "]",
        ",",
        ".",
        "not ",
        " and ",
        " or ",
        "==",
        "in",
        "\"",
        "'",
        "`",
        "\\",
        "-",
        "1",
        " like ",
        "%",
        "[0]",
        "array_length(",
    ];
    for _ in 0..3000 {
        let mut chars: Vec<char> = random_expr(&mut rng, 3).to_string().chars().collect();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(chars.len() + 1);
            match rng.below(3) {
                0 => {
                    let end = (at + 1 + rng.below(4)).min(chars.len());
                    chars.drain(at.min(end)..end);
                }
                1 => {
                    let insert = *rng.pick(&inserts);
                    chars.splice(at..at, insert.chars());
                }
                _ => chars.truncate(at),
            }
        }
        parse_anything(&chars.into_iter().collect::<String>(), &payload);
    }
}

#[test]
fn hostile_sizes_are_errors_not_crashes() {
    let payload = json!({});
    parse_anything(&"(".repeat(MAX_EXPRESSION_LEN), &payload);
    parse_anything(&"not ".repeat(MAX_EXPRESSION_LEN / 4), &payload);
    parse_anything(&format!("a in [{}]", "1,".repeat(30_000)), &payload);
    parse_anything(&"a == 1 or ".repeat(6_000), &payload);
    assert!(matches!(Filter::parse(&" ".repeat(MAX_EXPRESSION_LEN + 1)), Err(FilterError::TooLong { .. })));
}
