//! Unit tests of the intrinsic functions. Sections cited are those of AWS Step
//! Functions "Intrinsic functions for JSONPath states in Step Functions"; rows
//! marked "observed on AWS" come from the conformance corpus (executions recorded
//! against real AWS).

use super::*;
use crate::dataflow::{ContextObject, test_info};
use serde_json::{Map, json};

fn run(expression: &str, input: &Value) -> Result<Value, StatesError> {
    let info = test_info();
    let mut vars = Map::new();
    vars.insert("name".to_string(), json!("John"));
    vars.insert("n".to_string(), json!(4.3));
    vars.insert("list".to_string(), json!([1, 2, 3]));
    let ctx = ContextObject::new(&info, "State", jiff::Timestamp::UNIX_EPOCH, 0).with_variables(&vars);
    evaluate(expression, input, &ctx)
}

fn ok(expression: &str, input: &Value) -> Value {
    run(expression, input).unwrap_or_else(|e| panic!("{expression}: {} {}", e.error, e.cause))
}

/// (expression, input, expected value)
fn check_values(table: &[(&str, Value, Value)]) {
    for (expression, input, expected) in table {
        assert_eq!(ok(expression, input), *expected, "{expression} on {input}");
    }
}

/// (expression, input, expected error name, expected cause)
fn check_errors(table: &[(&str, Value, &str, &str)]) {
    for (expression, input, error, cause) in table {
        match run(expression, input) {
            Ok(v) => panic!("{expression} should fail, gave {v}"),
            Err(e) => {
                assert_eq!(e.error, *error, "{expression}: {}", e.cause);
                assert_eq!(e.cause, *cause, "{expression}");
            }
        }
    }
}

// "Intrinsics for generic operations" — States.Format; "Reserved characters in
// intrinsic functions" — `\'`, `\{`, `\}`, `\\`.
#[test]
fn format() {
    let input = json!({"s": "HelloWorld", "n": 1, "f": 1.1, "z": null, "b": true, "e": "",
        "j": "{\"Arg1\": 1, \"Arg2\": []}", "o": {"Id": "arn", "Name": "x"}, "l": [1, "a", {"k": [true]}],
        "t": "Hello, my name is {}."});
    check_values(&[
        ("States.Format('Formatting argument {}.', $.s)", input.clone(), json!("Formatting argument HelloWorld.")),
        // observed on AWS: numbers keep their JSON form, null prints as null
        ("States.Format('Formatting argument {}.', $.n)", input.clone(), json!("Formatting argument 1.")),
        ("States.Format('Formatting argument {}.', $.f)", input.clone(), json!("Formatting argument 1.1.")),
        ("States.Format('Formatting argument {}.', $.z)", input.clone(), json!("Formatting argument null.")),
        ("States.Format('Formatting argument {}.', $.e)", input.clone(), json!("Formatting argument .")),
        ("States.Format('{}', $.b)", input.clone(), json!("true")),
        (
            "States.Format('Formatting argument {}.', $.j)",
            input.clone(),
            json!("Formatting argument {\"Arg1\": 1, \"Arg2\": []}."),
        ),
        // observed on AWS: an object prints as Java's Map.toString
        (
            "States.Format('fst={} and snd={}.', $.s, $.o)",
            input.clone(),
            json!("fst=HelloWorld and snd={Id=arn, Name=x}."),
        ),
        ("States.Format('{}', $.l)", input.clone(), json!("[1, a, {k=[true]}]")),
        (
            "States.Format('Hello {}, welcome to {}!', $name, 'LocalStack')",
            input.clone(),
            json!("Hello John, welcome to LocalStack!"),
        ),
        ("States.Format('no placeholders')", input.clone(), json!("no placeholders")),
        ("States.Format('{}{}', 1, 2.5)", input.clone(), json!("12.5")),
        ("States.Format('{} {} {}', true, false, null)", input.clone(), json!("true false null")),
        // escapes: an escaped brace is not a placeholder
        ("States.Format('\\{} is {}', 'x')", input.clone(), json!("{} is x")),
        ("States.Format('{\\}{}', 'x')", input.clone(), json!("{}x")),
        ("States.Format('it\\'s {}', 'me')", input.clone(), json!("it's me")),
        ("States.Format('back\\\\slash {}', 'x')", input.clone(), json!("back\\slash x")),
        ("States.Format('{ } {}', 'x')", input.clone(), json!("{ } x")),
        // a template read from a path: every {} is a placeholder
        ("States.Format($.t, $.s)", input.clone(), json!("Hello, my name is HelloWorld.")),
        // nested calls
        ("States.Format('{}-{}', States.Format('{}', $.n), States.ArrayLength($.l))", input.clone(), json!("1-3")),
        // context object
        ("States.Format('{} in {}', $$.Execution.Name, $$.State.Name)", input.clone(), json!("run-1 in State")),
        // white space around arguments
        ("States.Format( '{}' ,   $.s )", input.clone(), json!("HelloWorld")),
    ]);
    check_errors(&[
        (
            "States.Format('{} {}', $.s)",
            input.clone(),
            "States.IntrinsicFailure",
            "The function 'States.Format('{} {}', $.s)' had the following error: The format string has 2 placeholder(s) but 1 argument(s) were given",
        ),
        (
            "States.Format($.n)",
            input.clone(),
            "States.IntrinsicFailure",
            "The function 'States.Format($.n)' had the following error: The first argument of States.Format must be a string, got a number",
        ),
    ]);
}

// Observed on AWS (reported with its exact text): a path argument that selects
// nothing is a States.Runtime error naming the whole expression and the input.
#[test]
fn missing_path_argument() {
    check_errors(&[
        (
            "States.Format('{}', $.nope)",
            json!({"other": 1}),
            "States.Runtime",
            "The function 'States.Format('{}', $.nope)' had the following error: The JsonPath argument for the field '$.nope' could not be found in the input '{\"other\":1}'",
        ),
        (
            "States.Format('{}', States.Format('{}', $.nope))",
            json!({"other": 1}),
            "States.Runtime",
            "The function 'States.Format('{}', States.Format('{}', $.nope))' had the following error: The JsonPath argument for the field '$.nope' could not be found in the input '{\"other\":1}'",
        ),
        (
            "States.Format('{}', $.items[5])",
            json!({"items": [1, 2]}),
            "States.Runtime",
            "The function 'States.Format('{}', $.items[5])' had the following error: The JsonPath argument for the field '$.items[5]' could not be found in the input '{\"items\":[1,2]}'",
        ),
        (
            "States.Array($missing)",
            json!({}),
            "States.Runtime",
            "The function 'States.Array($missing)' had the following error: The JsonPath argument for the field '$missing' could not be found in the input '{}'",
        ),
    ]);
    // only absence fails: an explicit null formats as null
    assert_eq!(ok("States.Format('{}', $.nul)", &json!({"nul": null})), json!("null"));
}

// "Intrinsics for JSON data manipulation" — States.StringToJson, States.JsonToString.
#[test]
fn json_manipulation() {
    let s = |v: &str| json!({"v": v});
    check_values(&[
        // observed on AWS
        ("States.StringToJson($.v)", s(""), json!(null)),
        ("States.StringToJson($.v)", s(" "), json!(null)),
        ("States.StringToJson($.v)", s("null"), json!(null)),
        ("States.StringToJson($.v)", s("-0"), json!(0)),
        ("States.StringToJson($.v)", s("1"), json!(1)),
        ("States.StringToJson($.v)", s("1.1"), json!(1.1)),
        ("States.StringToJson($.v)", s("true"), json!(true)),
        ("States.StringToJson($.v)", s("\"HelloWorld\""), json!("HelloWorld")),
        ("States.StringToJson($.v)", s("[1, 2, \"HelloWorld\"]"), json!([1, 2, "HelloWorld"])),
        ("States.StringToJson($.v)", s("{\"Arg1\": 1, \"Arg2\": []}"), json!({"Arg1": 1, "Arg2": []})),
        (
            "States.StringToJson('{\"constant_in_literal\": \"false\"}')",
            json!({}),
            json!({"constant_in_literal": "false"}),
        ),
        ("States.JsonToString($.v)", json!({"v": null}), json!("null")),
        ("States.JsonToString($.v)", json!({"v": 0}), json!("0")),
        ("States.JsonToString($.v)", json!({"v": 1.1}), json!("1.1")),
        ("States.JsonToString($.v)", json!({"v": 1.0}), json!("1.0")),
        ("States.JsonToString($.v)", json!({"v": true}), json!("true")),
        ("States.JsonToString($.v)", json!({"v": "HelloWorld"}), json!("\"HelloWorld\"")),
        ("States.JsonToString($.v)", json!({"v": [1, 2, "HelloWorld"]}), json!("[1,2,\"HelloWorld\"]")),
        ("States.JsonToString($.v)", json!({"v": {"Arg1": 1, "Arg2": []}}), json!("{\"Arg1\":1,\"Arg2\":[]}")),
        ("States.JsonToString($)", json!({"a": "x\"y"}), json!("{\"a\":\"x\\\"y\"}")),
    ]);
    check_errors(&[
        (
            "States.StringToJson($.v)",
            s("{nope"),
            "States.IntrinsicFailure",
            "The function 'States.StringToJson($.v)' had the following error: The input '{nope' is not valid JSON: key must be a string at line 1 column 2",
        ),
        (
            "States.StringToJson($.v)",
            json!({"v": 1}),
            "States.IntrinsicFailure",
            "The function 'States.StringToJson($.v)' had the following error: The argument of States.StringToJson must be a string, got a number",
        ),
    ]);
}

// "Intrinsics for JSON data manipulation" — States.JsonMerge (shallow only).
#[test]
fn json_merge() {
    check_values(&[
        // observed on AWS: the second object's keys win, nested objects are not merged
        (
            "States.JsonMerge($.a, $.b, false)",
            json!({"a": {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3}, "b": {"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4}}),
            json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3, "d": 4}),
        ),
        (
            "States.JsonMerge(States.StringToJson('{\"x\": 1}'), $$.Execution.Input, false)",
            json!({}),
            json!({"x": 1, "orig": true}),
        ),
    ]);
    check_errors(&[
        (
            "States.JsonMerge($.a, $.a, true)",
            json!({"a": {}}),
            "States.IntrinsicFailure",
            "The function 'States.JsonMerge($.a, $.a, true)' had the following error: States.JsonMerge supports only shallow merging: its third argument must be false",
        ),
        (
            "States.JsonMerge($.a, $.b, false)",
            json!({"a": {}, "b": [1]}),
            "States.IntrinsicFailure",
            "The function 'States.JsonMerge($.a, $.b, false)' had the following error: States.JsonMerge merges two JSON objects, but got an array",
        ),
        (
            "States.JsonMerge($.a, $.a, 'false')",
            json!({"a": {}}),
            "States.IntrinsicFailure",
            "The function 'States.JsonMerge($.a, $.a, 'false')' had the following error: The third argument of States.JsonMerge must be the boolean false, got a string",
        ),
    ]);
}

// "Intrinsics for arrays".
#[test]
fn arrays() {
    let input = json!({"a": [1, 2, 3, 4, 5, 6], "dup": [null, null, true, true, 1, 1, 1.0, "x", "x", [], [], {"k": 1}, {"k": 1}],
        "fst": "", "snd": null, "r": {"fst": 0, "snd": 10, "trd": 3}});
    check_values(&[
        ("States.Array()", input.clone(), json!([])),
        ("States.Array($.fst, $.snd)", input.clone(), json!(["", null])),
        ("States.Array('a', 'b', 'c')", input.clone(), json!(["a", "b", "c"])),
        ("States.Array(1, 1.5, true, null, $.a[0], States.Array())", input.clone(), json!([1, 1.5, true, null, 1, []])),
        ("States.ArrayPartition($.a, 4)", input.clone(), json!([[1, 2, 3, 4], [5, 6]])),
        ("States.ArrayPartition($.a, 2)", input.clone(), json!([[1, 2], [3, 4], [5, 6]])),
        ("States.ArrayPartition($.a, 10)", input.clone(), json!([[1, 2, 3, 4, 5, 6]])),
        ("States.ArrayPartition(States.Array(), 2)", input.clone(), json!([])),
        ("States.ArrayContains($.a, 5)", input.clone(), json!(true)),
        ("States.ArrayContains($.a, 7)", input.clone(), json!(false)),
        ("States.ArrayContains($.dup, States.StringToJson('{\"k\":1}'))", input.clone(), json!(true)),
        // observed on AWS
        ("States.ArrayRange(0, 9, 3)", input.clone(), json!([0, 3, 6, 9])),
        ("States.ArrayRange($.r.fst, $.r.snd, $.r.trd)", input.clone(), json!([0, 3, 6, 9])),
        ("States.ArrayRange(1, 9, 9)", input.clone(), json!([1])),
        ("States.ArrayRange(1, 9, 2)", input.clone(), json!([1, 3, 5, 7, 9])),
        ("States.ArrayRange(5, 1, -2)", input.clone(), json!([5, 3, 1])),
        ("States.ArrayRange(5, 1, 2)", input.clone(), json!([])),
        ("States.ArrayRange(1, 1000, 1)", input.clone(), Value::Array((1..=1000).map(Value::from).collect())),
        ("States.ArrayGetItem($.a, 5)", input.clone(), json!(6)),
        ("States.ArrayGetItem($.a, 0)", input.clone(), json!(1)),
        ("States.ArrayLength($.a)", input.clone(), json!(6)),
        ("States.ArrayLength(States.Array())", input.clone(), json!(0)),
        ("States.ArrayLength($.dup)", input.clone(), json!(13)),
        ("States.ArrayLength($list)", input.clone(), json!(3)),
        // 1 and 1.0 are distinct JSON values (AWS keeps ints and floats apart)
        ("States.ArrayUnique($.dup)", input.clone(), json!([null, true, 1, 1.0, "x", [], {"k": 1}])),
        ("States.ArrayUnique(States.Array(1, 2, 2, 3, 3, 4))", input.clone(), json!([1, 2, 3, 4])),
    ]);
    let e = |expr: &'static str, why: &str| {
        (
            expr,
            input.clone(),
            "States.IntrinsicFailure",
            format!("The function '{expr}' had the following error: {why}"),
        )
    };
    let rows = [
        e("States.ArrayPartition($.a, 0)", "The chunk size of States.ArrayPartition must be a positive integer, got 0"),
        e("States.ArrayPartition($.a, 1.5)", "The chunk size of States.ArrayPartition must be an integer, got 1.5"),
        e(
            "States.ArrayPartition($.fst, 2)",
            "The first argument of States.ArrayPartition must be an array, got a string",
        ),
        e("States.ArrayRange(1, 1001, 1)", "States.ArrayRange would return 1001 items; the limit is 1000"),
        e("States.ArrayRange(1, 5, 0)", "The step of States.ArrayRange must not be 0"),
        e("States.ArrayRange('1', 5, 1)", "The start of States.ArrayRange must be an integer, got \"1\""),
        e("States.ArrayGetItem($.a, 6)", "The index 6 is out of bounds for an array of 6 item(s)"),
        e("States.ArrayGetItem($.a, -1)", "The index -1 is out of bounds for an array of 6 item(s)"),
        e("States.ArrayLength($.fst)", "The argument of States.ArrayLength must be an array, got a string"),
        e("States.ArrayUnique($.snd)", "The argument of States.ArrayUnique must be an array, got null"),
        e(
            "States.ArrayContains($.fst, 1)",
            "The first argument of States.ArrayContains must be an array, got a string",
        ),
    ];
    let rows: Vec<(&str, Value, &str, &str)> =
        rows.iter().map(|(a, b, c, d)| (*a, b.clone(), *c, d.as_str())).collect();
    check_errors(&rows);
}

// "Intrinsics for data encoding and decoding" and "Intrinsic for hash calculation".
#[test]
fn encoding_and_hash() {
    check_values(&[
        // observed on AWS
        ("States.Base64Encode($.v)", json!({"v": ""}), json!("")),
        ("States.Base64Encode($.v)", json!({"v": "Data to encode"}), json!("RGF0YSB0byBlbmNvZGU=")),
        ("States.Base64Encode('Hello World')", json!({}), json!("SGVsbG8gV29ybGQ=")),
        ("States.Base64Encode('ab')", json!({}), json!("YWI=")),
        ("States.Base64Encode('é')", json!({}), json!("w6k=")),
        ("States.Base64Decode($.v)", json!({"v": ""}), json!("")),
        ("States.Base64Decode($.v)", json!({"v": "RGF0YSB0byBlbmNvZGU="}), json!("Data to encode")),
        ("States.Base64Decode('YWI=')", json!({}), json!("ab")),
        ("States.Base64Decode('YWI')", json!({}), json!("ab")),
        ("States.Base64Decode(States.Base64Encode('round trip'))", json!({}), json!("round trip")),
        // observed on AWS
        (
            "States.Hash('Hash this string', 'SHA-256')",
            json!({}),
            json!("1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e"),
        ),
        ("States.Hash('', 'MD5')", json!({}), json!("d41d8cd98f00b204e9800998ecf8427e")),
        ("States.Hash('abc', 'SHA-1')", json!({}), json!("a9993e364706816aba3e25717850c26c9cd0d89d")),
        (
            "States.Hash('abc', 'SHA-384')",
            json!({}),
            json!("cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
        ),
        (
            "States.Hash('abc', 'SHA-512')",
            json!({}),
            json!(
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
            ),
        ),
    ]);
    let long = json!({"v": "a".repeat(10_001), "ok": "a".repeat(10_000)});
    assert!(run("States.Base64Encode($.ok)", &long).is_ok());
    assert!(run("States.Hash($.ok, 'MD5')", &long).is_ok());
    check_errors(&[
        (
            "States.Base64Encode($.v)",
            long.clone(),
            "States.IntrinsicFailure",
            "The function 'States.Base64Encode($.v)' had the following error: The input of States.Base64Encode must be at most 10000 characters",
        ),
        (
            "States.Base64Decode($.v)",
            long.clone(),
            "States.IntrinsicFailure",
            "The function 'States.Base64Decode($.v)' had the following error: The input of States.Base64Decode must be at most 10000 characters",
        ),
        (
            "States.Hash($.v, 'MD5')",
            long.clone(),
            "States.IntrinsicFailure",
            "The function 'States.Hash($.v, 'MD5')' had the following error: The input of States.Hash must be at most 10000 characters",
        ),
        (
            "States.Base64Decode('%%%')",
            json!({}),
            "States.IntrinsicFailure",
            "The function 'States.Base64Decode('%%%')' had the following error: The input '%%%' is not valid Base64",
        ),
        (
            "States.Hash('x', 'SHA-999')",
            json!({}),
            "States.IntrinsicFailure",
            "The function 'States.Hash('x', 'SHA-999')' had the following error: The hashing algorithm 'SHA-999' is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512",
        ),
        (
            "States.Base64Encode(1)",
            json!({}),
            "States.IntrinsicFailure",
            "The function 'States.Base64Encode(1)' had the following error: The input of States.Base64Encode must be a string, got a number",
        ),
    ]);
}

// "Intrinsics for Math operations" — States.MathAdd, States.MathRandom.
#[test]
fn math() {
    let add = |a: Value, b: Value| json!({"a": a, "b": b});
    check_values(&[
        // observed on AWS: each operand is rounded half up (Java Math.round), the sum is an integer
        ("States.MathAdd($.a, $.b)", add(json!(-9), json!(3)), json!(-6)),
        ("States.MathAdd($.a, $.b)", add(json!(1.49), json!(1.5)), json!(3)),
        ("States.MathAdd($.a, $.b)", add(json!(1.5), json!(1.51)), json!(4)),
        ("States.MathAdd($.a, $.b)", add(json!(-1.49), json!(-1.5)), json!(-2)),
        ("States.MathAdd($.a, $.b)", add(json!(-1.5), json!(-1.51)), json!(-3)),
        ("States.MathAdd($.a, $.b)", add(json!(1.49), json!(-1.49)), json!(0)),
        ("States.MathAdd($.a, $.b)", add(json!(0.5), json!(0)), json!(1)),
        ("States.MathAdd($.a, $.b)", add(json!(2.5), json!(0)), json!(3)),
        ("States.MathAdd($.a, $.b)", add(json!(-0.5), json!(0.5)), json!(1)),
        ("States.MathAdd($.a, $.b)", add(json!(-0.5), json!(0)), json!(0)),
        ("States.MathAdd($.a, $.b)", add(json!(-2.5), json!(0)), json!(-2)),
        ("States.MathAdd($.a, $.b)", add(json!(-3.5), json!(0)), json!(-3)),
        ("States.MathAdd($.a, -1)", add(json!(2), json!(0)), json!(1)),
        // observed on AWS: nested calls and variables
        ("States.MathAdd(States.MathAdd($.a, $.b), $n)", add(json!(9), json!(44)), json!(57)),
        ("States.MathAdd(2147483647, 0)", json!({}), json!(2147483647)),
    ]);
    check_errors(&[
        (
            "States.MathAdd($.a, $.b)",
            add(json!("1"), json!(2)),
            "States.IntrinsicFailure",
            "The function 'States.MathAdd($.a, $.b)' had the following error: The arguments of States.MathAdd must be numbers, got a string",
        ),
        (
            "States.MathAdd(2147483648, 0)",
            json!({}),
            "States.IntrinsicFailure",
            "The function 'States.MathAdd(2147483648, 0)' had the following error: The arguments of States.MathAdd must be between -2147483648 and 2147483647, got 2147483648",
        ),
        (
            "States.MathRandom(5, 5)",
            json!({}),
            "States.IntrinsicFailure",
            "The function 'States.MathRandom(5, 5)' had the following error: The end of States.MathRandom (5) must be greater than its start (5)",
        ),
        (
            "States.MathRandom(1.5, 5)",
            json!({}),
            "States.IntrinsicFailure",
            "The function 'States.MathRandom(1.5, 5)' had the following error: The start of States.MathRandom must be an integer, got 1.5",
        ),
    ]);
    for _ in 0..200 {
        let n = ok("States.MathRandom(1, 4)", &json!({})).as_i64().unwrap_or(-1);
        assert!((1..4).contains(&n), "{n}");
    }
    // with a seed: the same number every time (java.util.Random's sequence)
    let seeded = ok("States.MathRandom(1, 999, 1234)", &json!({}));
    assert_eq!(ok("States.MathRandom(1, 999, 1234)", &json!({})), seeded);
    // Java reference: new Random(42).nextInt() == -1170105035, so next(31) == 1562431130 and
    // nextInt(10) == 0, nextInt(100) == 30; nextInt(8) (a power of two) == (8 * 1562431130) >> 31 == 5.
    assert_eq!(functions::apply("MathRandom", vec![json!(0), json!(10), json!(42)], None), Ok(json!(0)));
    assert_eq!(functions::apply("MathRandom", vec![json!(0), json!(100), json!(42)], None), Ok(json!(30)));
    assert_eq!(functions::apply("MathRandom", vec![json!(10), json!(18), json!(42)], None), Ok(json!(15)));
}

// "Intrinsic for String operation" — States.StringSplit.
#[test]
fn string_split() {
    let s = |a: &str, b: &str| json!({"a": a, "b": b});
    check_values(&[
        // observed on AWS: every delimiter character splits, empty pieces are dropped
        ("States.StringSplit($.a, $.b)", s(" ", ","), json!([" "])),
        ("States.StringSplit($.a, $.b)", s(" , ", ","), json!([" ", " "])),
        ("States.StringSplit($.a, $.b)", s(", , ,", ","), json!([" ", " "])),
        ("States.StringSplit($.a, $.b)", s(",,,,", ","), json!([])),
        ("States.StringSplit($.a, $.b)", s("1,2,3,4,5", ","), json!(["1", "2", "3", "4", "5"])),
        (
            "States.StringSplit($.a, $.b)",
            s("This.is+a,test=string", ".+,="),
            json!(["This", "is", "a", "test", "string"]),
        ),
        (
            "States.StringSplit($.a, $.b)",
            s("split on T and \nnew line", "T\n"),
            json!(["split on ", " and ", "new line"]),
        ),
        ("States.StringSplit('Hello\nWorld', '\n')", json!({}), json!(["Hello", "World"])),
        ("States.StringSplit($name, 'h')", json!({}), json!(["Jo", "n"])),
    ]);
    check_errors(&[(
        "States.StringSplit($.a, 1)",
        s("x", ","),
        "States.IntrinsicFailure",
        "The function 'States.StringSplit($.a, 1)' had the following error: The delimiter of States.StringSplit must be a string, got a number",
    )]);
}

// "Intrinsic for unique identifier generation" — States.UUID (version 4).
#[test]
fn uuid() {
    let a = ok("States.UUID()", &json!({}));
    let b = ok("States.UUID()", &json!({}));
    assert_ne!(a, b);
    let text = a.as_str().unwrap_or("");
    assert_eq!(text.len(), 36);
    let parts: Vec<&str> = text.split('-').collect();
    assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![8, 4, 4, 4, 12]);
    assert!(parts[2].starts_with('4'), "{text}");
    assert!(matches!(parts[3].chars().next(), Some('8' | '9' | 'a' | 'b')), "{text}");
    assert!(text.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(functions::uuid_v4([0xFF; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
}

// States Language: Intrinsic Functions — the invocation syntax; arity and names.
#[test]
fn syntax_errors() {
    for (expression, why) in [
        ("States.Nope()", "Unknown intrinsic function 'States.Nope'"),
        ("States.UUID(1)", "States.UUID takes 0 argument(s), but 1 were given"),
        ("States.MathAdd(1)", "States.MathAdd takes 2 argument(s), but 1 were given"),
        ("States.MathRandom(1, 2, 3, 4)", "States.MathRandom takes 2 to 3 argument(s), but 4 were given"),
        ("States.Format()", "States.Format takes at least 1 argument(s), but 0 were given"),
        ("States.Format('x'", "missing `)` to close `States.Format(`"),
        ("States.Format('x) ", "unterminated string literal"),
        (
            "States.Format('\\n')",
            "invalid escape `\\n` in a string literal: only `\\'`, `\\{`, `\\}` and `\\\\` are allowed",
        ),
        ("States.Format('x') extra", "unexpected text after the closing parenthesis: `extra`"),
        ("States.Array(bogus)", "invalid argument `bogus`"),
        ("States.Array(1 2)", "unexpected `2` in the arguments of `States.Array`"),
        ("States.Array(1,)", "invalid argument ``"),
        ("States.(1)", "missing function name after `States.`"),
        ("States.Array", "expected `(` after `States.Array`"),
    ] {
        let full = format!("The function '{expression}' had the following error: {why}");
        match run(expression, &json!({})) {
            Ok(v) => panic!("{expression} gave {v}"),
            Err(e) => {
                assert_eq!(e.error, "States.IntrinsicFailure", "{expression}");
                assert_eq!(e.cause, full, "{expression}");
            }
        }
        assert_eq!(check(expression), Err(why.to_string()), "{expression}");
    }
    // nesting limit: 10 nested functions are fine, 11 are not
    let nested = |n: usize| format!("{}1{}", "States.Array(".repeat(n), ")".repeat(n));
    assert!(check(&nested(10)).is_ok());
    assert_eq!(check(&nested(11)), Err("more than 10 nested intrinsic functions".to_string()));
    assert!(
        check("States.Format('{}.{}', States.ArrayGetItem(States.StringSplit($.a, '/'), 2), $$.Map.Item.Value)")
            .is_ok()
    );
    assert!(is_intrinsic("States.Format('{}', $.a)"));
    assert!(!is_intrinsic("$.States"));
}

// Path arguments take every Path form: wildcards and filters give lists.
#[test]
fn query_path_arguments() {
    let input = json!({"items": [{"id": 1, "ok": true}, {"id": 2, "ok": false}, {"id": 3, "ok": true}], "s": "a,b"});
    check_values(&[
        ("States.ArrayLength($.items[?(@.ok == true)])", input.clone(), json!(2)),
        ("States.JsonToString($.items[*].id)", input.clone(), json!("[1,2,3]")),
        ("States.Array($..id)", input.clone(), json!([[1, 2, 3]])),
        ("States.ArrayGetItem($.items[0:2], 1)", input.clone(), json!({"id": 2, "ok": false})),
        ("States.Format('{}', $['s'])", input.clone(), json!("a,b")),
        ("States.ArrayContains($.items[*].id, 3)", input.clone(), json!(true)),
    ]);
}
