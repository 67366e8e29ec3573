//! Unit tests of paths. Sections cited: States Language "Paths" (Reference Paths,
//! Paths) and AWS Step Functions "Using JSONPath paths"; query semantics are
//! Jayway JsonPath's, which AWS runs (its error texts show it).

use super::*;
use serde_json::json;

fn p(text: &str) -> ReferencePath {
    ReferencePath::parse(text).unwrap()
}

fn q(text: &str) -> ReferencePath {
    ReferencePath::parse_query(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

// States Language: Paths — Reference Paths.
#[test]
fn resolves_reference_paths() {
    let doc = json!({"a": {"b": [10, {"c": "x"}]}, "weird key": 1, "q'": 2});
    assert_eq!(p("$").resolve(&doc), Some(&doc));
    assert_eq!(p("$.a.b[0]").resolve(&doc), Some(&json!(10)));
    assert_eq!(p("$.a.b[1].c").resolve(&doc), Some(&json!("x")));
    assert_eq!(p("$['weird key']").resolve(&doc), Some(&json!(1)));
    assert_eq!(p("$[\"a\"]['b'][0]").resolve(&doc), Some(&json!(10)));
    assert_eq!(p("$['q\\'']").resolve(&doc), Some(&json!(2)));
    // observed on AWS: a backslash before anything but the quote is part of the name
    let odd = json!({"Test\\\"\"Name\"": "v", "a\\b": 1});
    assert_eq!(p("$['Test\\\"\"Name\"']").resolve(&odd), Some(&json!("v")));
    assert_eq!(p("$['a\\b']").resolve(&odd), Some(&json!(1)));
    assert_eq!(p("$.missing").resolve(&doc), None);
    assert_eq!(p("$.a.b[7]").resolve(&doc), None);
    assert!(p("$$.Execution.Id").is_context());
    assert!(p("$").is_root());
}

// States Language: Paths — a path must begin with `$`; a Reference Path has no
// `*`, `..`, `?`, `:` or `,` (it names a single node).
#[test]
fn rejects_bad_reference_paths() {
    for bad in [
        "a.b",
        "",
        "$.",
        "$..a",
        "$.a[*]",
        "$.a[?(@.x)]",
        "$[",
        "$['x",
        "$a",
        "$.a[-1]",
        "$.a.*",
        "$.a[0,1]",
        "$.a[1:2]",
    ] {
        assert!(ReferencePath::parse(bad).is_err(), "{bad} should be rejected");
    }
    assert_eq!(ReferencePath::parse("x").unwrap_err(), "invalid path `x`: must start with `$`");
}

// Paths that are malformed even as queries.
#[test]
fn rejects_bad_queries() {
    for bad in [
        "a",
        "$.",
        "$..",
        "$[",
        "$['x",
        "$.a[?(@.x > )]",
        "$.a[?(@.x > 1]",
        "$.a[x]",
        "$.a[1:2:3:4]",
        "$.a[?(@.x ~ 1)]",
    ] {
        assert!(ReferencePath::parse_query(bad).is_err(), "{bad} should be rejected");
    }
}

// States Language: Input and Output Processing — ResultPath creates missing nodes.
#[test]
fn set_creates_objects_and_rejects_scalars() {
    let mut doc = json!({"a": 1});
    p("$.b.c").set(&mut doc, json!(true)).unwrap();
    assert_eq!(doc, json!({"a": 1, "b": {"c": true}}));
    p("$.a").set(&mut doc, json!(2)).unwrap();
    assert_eq!(doc["a"], json!(2));
    assert!(p("$.a.x").set(&mut doc, json!(0)).is_err());
    let mut arr = json!({"l": [1, 2]});
    p("$.l[1]").set(&mut arr, json!(9)).unwrap();
    assert_eq!(arr, json!({"l": [1, 9]}));
    assert!(p("$.l[5]").set(&mut arr, json!(9)).is_err());
    let mut whole = json!(1);
    p("$").set(&mut whole, json!({"r": 1})).unwrap();
    assert_eq!(whole, json!({"r": 1}));
    assert!(q("$.l[*]").set(&mut arr, json!(0)).is_err());
}

fn store() -> Value {
    json!({
        "store": {
            "book": [
                {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
                {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
                {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553", "price": 8.99},
                {"category": "fiction", "author": "J. R. R. Tolkien", "title": "LOTR", "isbn": "0-395", "price": 22.99}
            ],
            "bicycle": {"color": "red", "price": 19.95}
        },
        "expensive": 10,
        "nums": [0, 1, 2, 3, 4, 5],
        "mixed": [1, 1.0, "1", true, null, {"n": 2}, {"n": "2"}, {"m": 1}]
    })
}

// AWS Step Functions "Using JSONPath paths" (Paths): the query operators, with the
// result shapes Jayway gives — definite paths a node, indefinite paths a list.
#[test]
fn query_table() {
    let doc = store();
    let table: &[(&str, Option<Value>)] = &[
        // definite
        ("$", Some(doc.clone())),
        ("$.expensive", Some(json!(10))),
        ("$.store.book[0].author", Some(json!("Nigel Rees"))),
        ("$.store.book[-1].title", Some(json!("LOTR"))),
        ("$['store']['bicycle']['color']", Some(json!("red"))),
        ("$.nums[9]", None),
        ("$.nums[-7]", None),
        ("$.nope", None),
        ("$.nope.deeper", None),
        // wildcards
        ("$.store.book[*].author", Some(json!(["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]))),
        ("$.store.bicycle.*", Some(json!(["red", 19.95]))),
        ("$.nums.*", Some(json!([0, 1, 2, 3, 4, 5]))),
        ("$.expensive[*]", Some(json!([]))),
        ("$.nope[*]", Some(json!([]))),
        ("$.nope[*].x", Some(json!([]))),
        // recursive descent (pre-order: a node's match before its descendants')
        ("$..author", Some(json!(["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]))),
        // (objects iterate in serde_json's key order: sorted, "bicycle" before "book")
        // Document order, as Jayway gives it.
        ("$.store..price", Some(json!([8.95, 12.99, 8.99, 22.99, 19.95]))),
        ("$..isbn", Some(json!(["0-553", "0-395"]))),
        ("$..nothing", Some(json!([]))),
        ("$..book[2].title", Some(json!(["Moby Dick"]))),
        ("$..[0].title", Some(json!(["Sayings"]))),
        ("$.store.bicycle..*", Some(json!(["red", 19.95]))),
        // slices
        ("$.nums[1:3]", Some(json!([1, 2]))),
        ("$.nums[:2]", Some(json!([0, 1]))),
        ("$.nums[4:]", Some(json!([4, 5]))),
        ("$.nums[-2:]", Some(json!([4, 5]))),
        ("$.nums[:-4]", Some(json!([0, 1]))),
        ("$.nums[0:6:2]", Some(json!([0, 2, 4]))),
        ("$.nums[::-2]", Some(json!([5, 3, 1]))),
        ("$.nums[3:100]", Some(json!([3, 4, 5]))),
        ("$.nums[4:2]", Some(json!([]))),
        ("$.nums[1:3:0]", Some(json!([]))),
        ("$.store.book[0:2].price", Some(json!([8.95, 12.99]))),
        // unions
        ("$.nums[0,3]", Some(json!([0, 3]))),
        ("$.nums[5, 0, 9]", Some(json!([5, 0]))),
        ("$.nums[-1,0]", Some(json!([5, 0]))),
        ("$.store.bicycle['color','price']", Some(json!(["red", 19.95]))),
        ("$.store.book[0]['title','nope']", Some(json!(["Sayings"]))),
        // filters: comparisons
        ("$.store.book[?(@.price < 10)].title", Some(json!(["Sayings", "Moby Dick"]))),
        ("$.store.book[?(@.price <= 8.99)].title", Some(json!(["Sayings", "Moby Dick"]))),
        ("$.store.book[?(@.price > 20)].title", Some(json!(["LOTR"]))),
        ("$.store.book[?(@.price >= 22.99)].title", Some(json!(["LOTR"]))),
        ("$.store.book[?(@.category == 'reference')].author", Some(json!(["Nigel Rees"]))),
        ("$.store.book[?(@.category == \"reference\")].author", Some(json!(["Nigel Rees"]))),
        ("$.store.book[?(@.category != 'fiction')].title", Some(json!(["Sayings"]))),
        ("$.store.book[?(@.price > $.expensive)].title", Some(json!(["Sword", "LOTR"]))),
        ("$.store.book[?(@.author > 'I')].title", Some(json!(["Sayings", "LOTR"]))),
        // filters: existence, logic, parentheses
        ("$.store.book[?(@.isbn)].title", Some(json!(["Moby Dick", "LOTR"]))),
        ("$.store.book[?(!@.isbn)].title", Some(json!(["Sayings", "Sword"]))),
        ("$.store.book[?(@.isbn && @.price < 10)].title", Some(json!(["Moby Dick"]))),
        ("$.store.book[?(@.price < 9 || @.price > 20)].title", Some(json!(["Sayings", "Moby Dick", "LOTR"]))),
        (
            "$.store.book[?((@.price < 9 || @.price > 20) && @.category == 'fiction')].title",
            Some(json!(["Moby Dick", "LOTR"])),
        ),
        ("$.store.book[?(@['price']>22)].title", Some(json!(["LOTR"]))),
        // filters: type rules (numbers by value; no cross-type order; missing is != everything)
        ("$.mixed[?(@ == 1)]", Some(json!([1, 1.0]))),
        ("$.mixed[?(@ == '1')]", Some(json!(["1"]))),
        ("$.mixed[?(@ == true)]", Some(json!([true]))),
        ("$.mixed[?(@ == null)]", Some(json!([null]))),
        ("$.mixed[?(@.n >= 2)]", Some(json!([{"n": 2}]))),
        ("$.mixed[?(@.n != 2)]", Some(json!([1, 1.0, "1", true, null, {"n": "2"}, {"m": 1}]))),
        ("$.nums[?(@ > 3)]", Some(json!([4, 5]))),
        // a filter on an object tests the object itself
        ("$.store.bicycle[?(@.color == 'red')].price", Some(json!([19.95]))),
        ("$.store.bicycle[?(@.color == 'blue')]", Some(json!([]))),
        // context object paths take the same operators
        ("$$.nums[*]", Some(json!([0, 1, 2, 3, 4, 5]))),
    ];
    for (text, expected) in table {
        assert_eq!(q(text).query(&doc), *expected, "{text}");
    }
}

#[test]
fn definite_and_indefinite() {
    for (text, definite) in [
        ("$", true),
        ("$.a[0]['b']", true),
        ("$.a[-1]", true),
        ("$.a[*]", false),
        ("$..a", false),
        ("$.a[0:1]", false),
        ("$.a[0,1]", false),
        ("$.a[?(@.b)]", false),
    ] {
        assert_eq!(q(text).is_definite(), definite, "{text}");
    }
    assert!(q("$$.Map.Item.Value[*]").is_context());
}
