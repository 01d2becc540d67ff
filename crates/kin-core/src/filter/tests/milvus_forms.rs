//! Milvus's forms (`like`, bracketed paths and indexes, the `array_*` functions, uppercase
//! keywords) evaluated on one payload, before and after a round trip through `Display`.

use serde_json::json;

use crate::filter::Filter;

#[test]
fn milvus_forms_evaluate() {
    let doc = json!({
        "name": "Product A", "code": "50%", "under": "a_b", "n": 5, "nothing": null,
        "tags": ["rust", "search", 3, null], "scores": [1, 2.0, 3], "empty": [], "nested": [["x"]],
        "meta": {"author": {"name": "Ada"}, "0": "zero key", "list": [{"k": "v"}, "w"]}
    });
    let cases = [
        // like: whole-string, case-sensitive; % any run, _ one character.
        ("name like 'Prod%'", true),
        ("name like 'prod%'", false),
        ("name like '%A'", true),
        ("name like '%duct%'", true),
        ("name like 'Product _'", true),
        ("name like 'Product __'", false),
        ("name like 'Product A'", true),
        ("name like 'Product'", false),
        ("name like ''", false),
        // Escaped wildcards are literal, written `\%` or `\\%` as in Milvus.
        (r"code like '50\%'", true),
        (r"code like '50\\%'", true),
        (r"code like '5_\%'", true),
        (r"name like '%\%'", false),
        (r"under like 'a\_b'", true),
        (r"name like '%\_%'", false),
        // Only strings match; arrays when an element does; missing fields never.
        ("n like '5'", false),
        ("nothing like '%'", false),
        ("missing like '%'", false),
        ("not missing like '%'", true),
        ("missing not like '%'", true),
        ("n not like '%'", true),
        ("tags like 'ru%'", true),
        ("tags not like 'ru%'", false),
        ("tags like '%x'", false),
        ("nested like 'x'", false),
        ("empty like '%'", false),
        // Brackets and indexes.
        (r#"meta["author"]["name"] == "Ada""#, true),
        (r#"meta["author"].name like "A%""#, true),
        (r#"meta.author["name"] != "Ada""#, false),
        ("tags[0] == 'rust'", true),
        ("tags[1] like 's%'", true),
        ("tags[2] == 3.0", true),
        ("tags[3] == null", true),
        ("exists(tags[4])", false),
        ("tags[4] != 'x'", true),
        ("meta[0] == 'zero key'", true),
        ("meta.list[0].k == 'v' and meta.list[1] == 'w'", true),
        ("exists(meta.list[1].k)", false),
        ("name[0] == 'P'", false),
        // array_contains*: arrays only, elements compare as == does.
        ("array_contains(tags, 'rust')", true),
        ("array_contains(tags, 'go')", false),
        ("array_contains(scores, 2)", true),
        ("array_contains(tags, null)", true),
        ("array_contains(scores, null)", false),
        ("array_contains(name, 'Product A')", false),
        ("array_contains(missing, 1)", false),
        ("not array_contains(missing, 1)", true),
        ("array_contains(nested, 'x')", false),
        ("array_contains_all(tags, ['rust', 3])", true),
        ("array_contains_all(tags, ['rust', 'go'])", false),
        ("array_contains_all(tags, [])", true),
        ("array_contains_all(empty, [])", true),
        ("array_contains_all(name, [])", false),
        ("array_contains_all(missing, [])", false),
        ("array_contains_any(tags, ['go', 'search'])", true),
        ("array_contains_any(tags, ['go'])", false),
        ("array_contains_any(tags, [])", false),
        ("array_contains_any(scores, [3.0])", true),
        // array_length: arrays only; != is the negation of ==.
        ("array_length(tags) == 4", true),
        ("array_length(tags) > 3 and array_length(tags) < 5", true),
        ("array_length(tags) >= 5", false),
        ("array_length(tags) != 4", false),
        ("array_length(empty) == 0 and array_length(empty) <= 0", true),
        ("array_length(meta.list) <= 2", true),
        ("array_length(name) == 0", false),
        ("array_length(missing) == 0", false),
        ("array_length(nothing) >= 0", false),
        ("array_length(missing) != 0", true),
        // Milvus's spellings together.
        ("name LIKE 'P%' AND NOT ARRAY_CONTAINS(tags, 'go') && !(n == 1 || n == 2)", true),
    ];
    for (source, expected) in cases {
        let filter = Filter::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(filter.matches(&doc), expected, "{source}");
        let again = Filter::parse(&filter.to_string()).unwrap_or_else(|e| panic!("{filter}: {e}"));
        assert_eq!(again.matches(&doc), expected, "{filter}");
    }
}
